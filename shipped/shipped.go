// Package shipped opens the project's shipped small CLIP (pretrained/) and
// real-image benchmark (realdata/assets/benchmark.bin), which are embedded
// in every binary that imports this package, so that a binary built with
// `go install` works from any folder with no other file. An explicitly given
// path always wins over the embedded copy, and any CLIP checkpoint that
// package clip reads (OpenAI's RN50.pt, ViT-B-32.pt, safetensors) can be
// opened the same way.
//
// It also says what a model's file records about the model
// (MetaPretrainedOn, MetaNCtx) and derives the model-dependent default of
// the prompt context length from it (Model.DefaultNCtx).
package shipped

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/pretrained"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/realdata/assets"
)

// The shipped files, relative to the repository root; a source reads
// "embedded " + one of them when the embedded copy was used.
const (
	ModelFile     = "pretrained/model.safetensors"
	BPEFile       = "pretrained/bpe.txt.gz"
	BenchmarkFile = "realdata/assets/benchmark.bin"
)

// Safetensors metadata keys that describe a model for prompt tuning. The
// shipped model has all four; `softcpt pretrain` should write them.
const (
	// MetaPretrainedOn says what the model was pretrained on.
	MetaPretrainedOn = "softcpt_pretrained_on"
	// MetaNCtx is the recommended number of learned context tokens of a
	// class prompt (N_CTX), a positive integer.
	MetaNCtx = "softcpt_n_ctx"
	// MetaNCtxReason says why MetaNCtx has its value.
	MetaNCtxReason = "softcpt_n_ctx_reason"
	// MetaBPE names the model's BPE merges file, relative to the model
	// file's folder.
	MetaBPE = "bpe"
)

// OpenAINCtx is the default context length for a model whose file does not
// record MetaNCtx: 16, CoOp's and SoftCPT's N_CTX for OpenAI's CLIP
// (77-token context, pretrained on 400M web image-text pairs).
const OpenAINCtx = 16

// embedded prefixes the name of a shipped file to say its embedded copy was
// used.
const embedded = "embedded "

// Model is a frozen CLIP model with its tokenizer and what its file says
// about it.
type Model struct {
	CLIP      *clip.Model
	Tokenizer *tokenizer.Tokenizer
	// Metadata is the model file's safetensors metadata (nil for other
	// formats, such as OpenAI's TorchScript archives).
	Metadata map[string]string
	// ModelSource and BPESource say where the model and the tokenizer were
	// read from: a path, or "embedded " + ModelFile / BPEFile.
	ModelSource, BPESource string
}

// OpenModel opens a CLIP model and its BPE tokenizer. A non-empty modelPath
// is read from disk; "" selects the embedded shipped model. The tokenizer is
// read from bpePath when it is non-empty, otherwise from the file the
// model's metadata names (MetaBPE, beside the model file), otherwise, for
// the embedded model, from the embedded BPEFile. The tokenizer's vocabulary
// must match the model's; every error names the file.
func OpenModel(modelPath, bpePath string) (*Model, error) {
	out := &Model{ModelSource: modelPath}
	var sd *checkpoint.StateDict
	var err error
	if modelPath == "" {
		out.ModelSource = embedded + ModelFile
		data := pretrained.Model()
		sd, err = checkpoint.Read(strings.NewReader(data), int64(len(data)), out.ModelSource)
	} else {
		sd, err = checkpoint.Load(modelPath)
	}
	if err != nil {
		return nil, errors.Wrap(err, "shipped: opening the model")
	}
	if out.CLIP, err = clip.FromCheckpoint(sd, out.ModelSource, clip.Options{}); err != nil {
		return nil, err
	}
	out.Metadata = sd.Metadata
	switch {
	case bpePath != "":
		out.BPESource = bpePath
	case modelPath != "" && out.Metadata[MetaBPE] != "":
		out.BPESource = filepath.Join(filepath.Dir(modelPath), out.Metadata[MetaBPE])
	case modelPath == "":
		out.BPESource = embedded + BPEFile
	default:
		return nil, errors.Errorf("shipped: model %s names no BPE file (metadata %q); give one, e.g. OpenAI's bpe_simple_vocab_16e6.txt.gz", modelPath, MetaBPE)
	}
	if out.BPESource == embedded+BPEFile {
		out.Tokenizer, err = tokenizer.LoadReader(strings.NewReader(pretrained.BPE()))
	} else {
		out.Tokenizer, err = tokenizer.Load(out.BPESource)
	}
	if err != nil {
		return nil, errors.Wrapf(err, "shipped: tokenizer %s of model %s", out.BPESource, out.ModelSource)
	}
	if got, want := out.Tokenizer.VocabSize(), out.CLIP.Config.VocabSize; got != want {
		return nil, errors.Errorf("shipped: tokenizer %s has %d tokens but model %s expects %d (they do not belong together)", out.BPESource, got, out.ModelSource, want)
	}
	return out, nil
}

// DefaultNCtx returns the number of learned context tokens (N_CTX) to use
// with this model when none is given, and the rule that chose it:
//
//   - the model file's MetaNCtx entry when it has one (4 for the shipped
//     model, which was pretrained on captions of a few words in a 32-token
//     context);
//   - otherwise OpenAINCtx (16), CoOp's and SoftCPT's value for OpenAI's
//     checkpoints, which carry no such entry.
//
// A MetaNCtx entry that is not an integer in [1, ContextLength-3] (a prompt
// also needs the start token, one name token and the end token) is an error.
func (m *Model) DefaultNCtx() (int, string, error) {
	s, ok := m.Metadata[MetaNCtx]
	if !ok {
		return OpenAINCtx, "16, CoOp's and SoftCPT's value for OpenAI's CLIP: model " + m.ModelSource + " records no " + MetaNCtx, nil
	}
	n, err := strconv.Atoi(s)
	if limit := m.CLIP.Config.ContextLength - 3; err != nil || n < 1 || n > limit {
		return 0, "", errors.Errorf("shipped: model %s: metadata %s = %q is not an integer in [1, %d]", m.ModelSource, MetaNCtx, s, limit)
	}
	rule := "recorded in model " + m.ModelSource + " (" + MetaNCtx + ")"
	if why := m.Metadata[MetaNCtxReason]; why != "" {
		rule += ": " + why
	}
	return n, rule, nil
}

// OpenBenchmark opens a benchmark pack: path when it is non-empty,
// otherwise the embedded BenchmarkFile. It returns where it was read from.
func OpenBenchmark(path string) (*realdata.Benchmark, string, error) {
	if path != "" {
		b, err := realdata.OpenBenchmark(path)
		return b, path, err
	}
	src := embedded + BenchmarkFile
	b, err := realdata.ReadBenchmark(strings.NewReader(assets.Benchmark()), src)
	return b, src, err
}
