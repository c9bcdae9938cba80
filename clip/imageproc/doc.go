// Package imageproc decodes images and applies CLIP's and CoOp/SoftCPT's
// preprocessing with pixel parity to Pillow 9.4 / torchvision.
package imageproc
