// Package nn builds models out of autograd ops: layers with PyTorch's
// parameter names and default initialisation, a parameter registry that
// loads and saves PyTorch-style state dicts, optimisers (SGD, AdamW) with
// PyTorch's exact update rules, and closed-form learning-rate schedules.
//
// A layer is a struct whose weights are exported *autograd.Var fields. It
// implements Module: Register adds its parameters and buffers to a
// Registry under a dotted prefix ("visual.layer1.0.conv1" + ".weight"), so
// the registry's names are the keys of the corresponding PyTorch state
// dict, and Train switches training behaviour (BatchNorm statistics,
// Dropout) for the layer and its children.
//
// Optimisers work on a plain []*autograd.Var (typically
// Registry.Trainable()); parameters whose Grad is nil are skipped, as in
// PyTorch. Schedules map an epoch (or step) index to a learning rate with
// no hidden state, so resuming from a checkpoint only needs the index.
package nn
