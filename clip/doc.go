// Package clip is OpenAI's CLIP in pure Go: the ModifiedResNet and
// VisionTransformer image towers, the causal text transformer and the logit
// scale, loaded from OpenAI's released checkpoints and run on the engine's
// own kernels, with features equal to PyTorch's up to float rounding.
//
// # Loading
//
// Load reads OpenAI's TorchScript archives (RN50.pt, ViT-B-32.pt, ...),
// torch.save state dicts and safetensors files, detecting the format from
// the content (package checkpoint), and infers the architecture from the
// key shapes as OpenAI's build_model does (InferConfig). FromCheckpoint
// builds a model from a checkpoint already read, for example from memory;
// package shipped opens the project's own small CLIP embedded in the binary
// that way. A loaded model is frozen and computes in float32 (fp16 and bf16
// weights are widened).
//
// # Encoding
//
// EncodeImage takes images preprocessed by imageproc.CLIPTransform (resize
// of the short side, centre crop, normalisation, bit-identical to Pillow's)
// as a tensor [N, 3, R, R] and returns the image features [N, EmbedDim].
// EncodeText takes token ids [B, T] as clip.tokenize returns them, flattened
// row-major: tokenizer.Batch.IDs is already of that type, so
//
//	b, _ := tok.Tokenize(texts, m.Config.ContextLength, false)
//	txt := m.EncodeText(b.IDs, b.Rows, b.ContextLength)
//
// Both return unnormalised features; CLIP's logits are LogitScale() times
// the cosine similarities. ImageFeatures, TextFeatures and the
// embedding-level entry points (TextFeaturesFromEmbeddings,
// TextFeaturesShared) record an autograd graph for prompt tuning and
// pretraining.
//
// # From OpenAI's Python package
//
//	clip.load("RN50")           shipped.OpenModel("RN50.pt", "bpe_simple_vocab_16e6.txt.gz"), or clip.Load
//	clip.tokenize(texts)        (*tokenizer.Tokenizer).Tokenize(texts, m.Config.ContextLength, false)
//	preprocess(image)           imageproc.CLIPTransform(img, m.Config.ImageResolution)
//	model.encode_image(x)       m.EncodeImage(x)
//	model.encode_text(ids)      m.EncodeText(b.IDs, b.Rows, b.ContextLength)
//	model.logit_scale.exp()     m.LogitScale()
package clip
