// Package tensor holds dense float32 n-dimensional tensors.
package tensor
