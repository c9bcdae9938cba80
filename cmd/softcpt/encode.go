package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/experiment"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdEncode(args []string) error {
	fs := flag.NewFlagSet("encode", flag.ContinueOnError)
	model := fs.String("model", "", "CLIP checkpoint: OpenAI TorchScript archive (RN50.pt, ViT-B-32.pt, ...), torch.save state dict or safetensors (required)")
	bpe := fs.String("bpe", "", "BPE merges file (bpe_simple_vocab_16e6.txt.gz); required with --text")
	out := fs.String("out", "", "output JSON file (default: standard output)")
	normalize := fs.Bool("normalize", false, "L2-normalise the features in the output")
	visionHeads := fs.Int("vision-heads", 0, "override the inferred number of vision attention heads (models narrower than 64 per head)")
	textHeads := fs.Int("text-heads", 0, "override the inferred number of text attention heads")
	var device deviceFlag
	device.register(fs)
	var images, texts stringList
	fs.Var(&images, "image", "image file (JPEG or PNG); repeatable")
	fs.Var(&texts, "text", "text to encode; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt encode --model FILE [--bpe FILE] [--image FILE ...] [--text STRING ...] [--out FILE] [--normalize] [--device cpu|cuda]

Encodes images (CLIP's preprocessing: bicubic resize of the short side,
centre crop, normalisation) and texts with a CLIP model and writes
{"image_features", "text_features", "similarity"} as JSON; similarity is
the cosine similarity, images × texts.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		fs.Usage()
		return errors.New("encode: --model is required")
	}
	if len(images) == 0 && len(texts) == 0 {
		return errors.New("encode: nothing to encode: give --image and/or --text")
	}
	if *out != "" { // before the model is read: the output file's folder must be writable
		if err := experiment.CheckOutDir("EncodeOptions.Out", filepath.Dir(*out)); err != nil {
			return err
		}
	}
	res, err := experiment.Encode(experiment.EncodeOptions{Model: *model, VisionHeads: *visionHeads, TextHeads: *textHeads, BPE: *bpe,
		Device: string(device), Images: images, Texts: texts, Normalize: *normalize})
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return errors.Wrapf(err, "encode: creating %s", *out)
		}
		defer f.Close()
		w = f
	}
	if err := json.NewEncoder(w).Encode(res); err != nil {
		return errors.Wrap(err, "encode: writing JSON")
	}
	return nil
}
