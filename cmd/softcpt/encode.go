package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/cliflag"
)

func cmdEncode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("encode", flag.ContinueOnError)
	model := fs.String("model", "", "CLIP checkpoint: OpenAI TorchScript archive (RN50.pt, ViT-B-32.pt, ...), torch.save state dict or safetensors (default: the shipped small CLIP, embedded in the binary)")
	bpe := fs.String("bpe", "", "BPE merges file (bpe_simple_vocab_16e6.txt.gz); required with texts and --model (default with the embedded model: its embedded tokenizer)")
	out := fs.String("out", "", "output file: .npy (float32 [N, E] of the one kind encoded, row names in FILE.rows.json), .safetensors (image_features, text_features, similarity; row names in the metadata) or JSON (any other name); default: JSON on standard output")
	normalize := fs.Bool("normalize", false, "L2-normalise the features in the output")
	batch := fs.Int("batch-size", 64, "images or texts encoded at once")
	truncate := fs.Bool("truncate", false, "cut texts too long for the model's context (clip.tokenize(truncate=True)) instead of failing")
	visionHeads := fs.Int("vision-heads", 0, "override the inferred number of vision attention heads (models narrower than 64 per head)")
	textHeads := fs.Int("text-heads", 0, "override the inferred number of text attention heads")
	var device cliflag.Device
	device.Register(fs)
	var precision cliflag.Precision
	precision.Register(fs)
	var images, texts, imageSets, textFiles cliflag.StringList
	fs.Var(&images, "image", "image file (PNG, JPEG or GIF); repeatable")
	fs.Var(&texts, "text", "text to encode; repeatable")
	fs.Var(&imageSets, "images", "a folder of PNG, JPEG and GIF files (searched recursively, in sorted order), or a file listing image paths one a line (relative to its folder); repeatable")
	fs.Var(&textFiles, "texts", "a file of texts (- for standard input): one a line, JSON lines {\"text\": ...}, or a JSON array of strings; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt encode [--model FILE --bpe FILE] [--image FILE ...] [--images DIR|LIST] [--text STRING ...] [--texts FILE|-] [--out FILE] [--normalize] [--device cpu|cuda]

Encodes images (CLIP's preprocessing: bicubic resize of the short side,
centre crop, normalisation) and texts with a CLIP model (default: the
shipped small CLIP), in batches with a progress bar, and writes
{"images", "texts", "image_features", "text_features", "similarity",
"model"} as JSON, or the features as .npy or .safetensors (--out);
similarity is the cosine similarity, images × texts. Rows come in the
order given: --image then --images, --text then --texts.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Errorf("encode: unexpected argument %q (texts go in --text or --texts, images in --image or --images)", fs.Arg(0))
	}
	images, texts, err := experiment.Inputs(images, imageSets, texts, textFiles, os.Stdin)
	if err != nil {
		return err
	}
	if len(images) == 0 && len(texts) == 0 {
		return errors.New("encode: nothing to encode: give --image/--images and/or --text/--texts")
	}
	if *out != "" { // before the model is read: the output file's folder must be writable
		if err := experiment.CheckOutDir("EncodeOptions.Out", filepath.Dir(*out)); err != nil {
			return err
		}
	}
	res, err := experiment.Encode(ctx, experiment.EncodeOptions{Model: *model, VisionHeads: *visionHeads, TextHeads: *textHeads, BPE: *bpe,
		Device: string(device), Precision: string(precision), Images: images, Texts: texts, BatchSize: *batch, Truncate: *truncate, Normalize: *normalize})
	if err != nil {
		return err
	}
	if *out == "" {
		return res.WriteJSON(os.Stdout)
	}
	if err := res.WriteFile(*out); err != nil {
		return err
	}
	experiment.Logf("encode: wrote %d image and %d text features to %s", len(res.ImageFeatures), len(res.TextFeatures), *out)
	return nil
}
