//go:build !linux

package checkpoint

// adviseHugePages does nothing outside Linux.
func adviseHugePages([]float32) {}
