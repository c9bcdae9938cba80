// Package pretrain trains a small CLIP from random initialisation on
// image–caption pairs with the engine's own autograd: CLIP's symmetric
// InfoNCE loss with a learnable temperature, a ModifiedResNet image tower
// whose BatchNorm layers use batch statistics, a causal text transformer
// over a BPE vocabulary learned from the captions (tokenizer.Learn),
// AdamW with decoupled weight decay on weight matrices only, linear
// warm-up then cosine decay per step, shuffled batches with random
// resized crops and flips, periodic atomic checkpoints with exact resume,
// and an optional zero-shot evaluation hook.
//
// The data source is the Pairs interface (FromRealdata adapts the
// project's packed pretraining set); Train runs the loop and returns the
// trained model, which Save writes as model.safetensors with the head
// counts in its metadata so that clip.LoadWith reads it back.
//
// Everything random (batch order, caption choice, augmentation) is
// derived from the seed and the step number, so a run resumed from a
// checkpoint follows the same trajectory as an uninterrupted one.
package pretrain
