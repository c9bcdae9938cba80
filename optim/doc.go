// Package optim holds the optimisers and learning-rate schedules that
// train autograd parameters: SGD (momentum, dampening, weight decay,
// Nesterov) and AdamW with PyTorch's exact update rules, and closed-form
// schedules (cosine annealing, Dassl's constant and linear warm-up,
// repeated steps); and LBFGS, a float64 limited-memory BFGS minimiser of
// any smooth function given as value and gradient (the linear probe's
// solver).
//
// Optimisers work on a plain []*autograd.Var; parameters whose Grad is nil
// are skipped, as in PyTorch. Their State and LoadState use the names of
// PyTorch's optimizer state dict (momentum_buffer.N, exp_avg.N, ...), so a
// checkpoint resumes bit for bit. Schedules map an epoch (or step) index to
// a learning rate with no hidden state, so resuming from a checkpoint only
// needs the index.
package optim
