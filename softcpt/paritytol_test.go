//go:build !purego

package softcpt

// parityTol is the largest accepted max|a−b|/max|b| against the PyTorch
// reference with the assembly kernels (the 1e-5).
const parityTol = 1e-5
