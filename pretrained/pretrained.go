// Package pretrained embeds the small CLIP this project pretrained itself
// (model.safetensors, its BPE merges bpe.txt.gz) in every binary that
// imports it, so that the model needs no file at run time. Package shipped
// opens them; the files' provenance is in the model's safetensors metadata
// and in pretrain.log beside them.
package pretrained

import _ "embed" // for go:embed

//go:embed model.safetensors
var model string

//go:embed bpe.txt.gz
var bpe string

// Model returns the bytes of model.safetensors (shared and immutable; read
// them with strings.NewReader, which implements io.ReaderAt).
func Model() string { return model }

// BPE returns the bytes of bpe.txt.gz, the gzip-compressed BPE merges of
// the model's tokenizer (shared and immutable).
func BPE() string { return bpe }
