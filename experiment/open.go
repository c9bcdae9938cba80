package experiment

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/internal/setting"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/realdata/assets"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Options are an experiment on the data of a benchmark definition
// ('softcpt train', 'eval', 'zeroshot' and 'linprobe').
type Options struct {
	// Benchmark is a shipped definition's name or a definition file;
	// Tasks, when set, is the subset of its tasks to run.
	Benchmark string
	Tasks     []string
	// DataRoot holds the datasets; CacheDir the generated splits and
	// few-shot samples (default DATA-ROOT/.softcpt-cache).
	DataRoot, CacheDir string
	// Model is the CLIP checkpoint (VisionHeads, TextHeads: overrides of
	// its inferred attention heads) and BPE its tokenizer's merges.
	Model, BPE             string
	VisionHeads, TextHeads int
	// Device is a --device value (ParseDevice).
	Device string
	// Precision is a --precision value: "fp32" (or "") or "bf16", the
	// number format of the frozen towers (clip.Model.SetPrecision).
	Precision string
	// Out is the output root.
	Out string
	// FullPrompts disables the shared-prefix text encoding.
	FullPrompts bool
}

// Run loads the model, tokenizer and benchmark definition of o, opens its
// device and runs the grid; each cell loads the benchmark's data and
// draws its shots. The model's default N_CTX (Grid.NCtxFromModel) is
// shipped.Model.DefaultNCtx's: its file's metadata, or 16.
func Run(ctx context.Context, o Options, g Grid) error {
	if err := setting.First(o.Validate(), g.Validate()); err != nil {
		return err
	}
	if err := CheckOutDir("Options.Out", o.Out); err != nil {
		return err
	}
	def, err := data.LoadDefinition(o.Benchmark)
	if err != nil {
		return err
	}
	sd, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	m, err := clip.FromCheckpoint(sd, o.Model, clip.Options{VisionHeads: o.VisionHeads, TransformerHeads: o.TextHeads})
	if err != nil {
		return err
	}
	nCtx, nCtxRule, err := (&shipped.Model{CLIP: m, Metadata: sd.Metadata, ModelSource: o.Model}).DefaultNCtx()
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(o.BPE)
	if err != nil {
		return err
	}
	if _, err := setPrecision(o.Precision, m, o.Device); err != nil {
		return err
	}
	dev, err := Open(o.Device, m)
	if err != nil {
		return err
	}
	defer dev.Close()
	e := &Experiment{Model: m, Tok: tok, Backend: dev, Out: o.Out, FullPrompts: o.FullPrompts, ModelNCtx: nCtx, ModelNCtxRule: nCtxRule,
		Benchmark: func(k, seed int) (*data.Benchmark, error) {
			b, err := data.LoadBenchmark(def, data.Options{Root: o.DataRoot, CacheDir: o.CacheDir, Only: o.Tasks})
			if err != nil || k <= 0 {
				return b, err
			}
			cache := o.CacheDir
			if cache == "" {
				cache = data.DefaultCacheDir(o.DataRoot)
			}
			return b.FewShot(k, uint64(seed), cache)
		}}
	return e.Run(ctx, g)
}

// Shipped assets, relative to the repository root (embedded in the
// binary: package shipped).
const (
	ShippedBenchmark = shipped.BenchmarkFile
	ShippedModel     = shipped.ModelFile
	ShippedBPE       = shipped.BPEFile
)

// regenerateHint says how to rebuild the shipped assets.
const regenerateHint = "regenerate the benchmark with 'go run ./cmd/builddata -out realdata/assets' and the model with 'softcpt pretrain' (see README.md, 'Shipped model and data')"

// OpenShipped opens a packed benchmark, a CLIP model and its tokenizer
// with shipped.OpenBenchmark and shipped.OpenModel: an empty path selects
// the copy embedded in the binary. It logs where each was read from; the
// errors of a given file say how to regenerate it.
func OpenShipped(benchPath, modelPath, bpePath string) (*realdata.Benchmark, *clip.Model, *tokenizer.Tokenizer, error) {
	b, bsrc, err := shipped.OpenBenchmark(benchPath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped benchmark (%s)", regenerateHint)
	}
	m, err := shipped.OpenModel(modelPath, bpePath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped model or tokenizer (%s)", regenerateHint)
	}
	Logf("model %s, tokenizer %s, benchmark %s", m.ModelSource, m.BPESource, bsrc)
	return b, m.CLIP, m.Tokenizer, nil
}

// ShippedOptions are an experiment on a packed real-image benchmark
// ('softcpt demo').
type ShippedOptions struct {
	// Benchmark, Model and BPE are the packed benchmark, the CLIP
	// checkpoint and its tokenizer's merges; empty, the shipped ones
	// embedded in the binary (package shipped; BPE: the one the model's
	// metadata names, or the embedded one with the embedded model).
	Benchmark, Model, BPE string
	// Groups are the task groups to run, each an experiment of its own
	// (benchmark "real-GROUP"); "all" is every group.
	Groups []string
	// Device is a --device value (ParseDevice).
	Device string
	// Precision is a --precision value (Options.Precision).
	Precision string
	// Out is the output root.
	Out string
}

// RunShipped opens the packed benchmark, model and tokenizer of o and its
// device, and runs the grid on every task group: each cell draws its
// shots from the group's training pools (realdata.Benchmark.FewShot,
// with softcpt.ProbeValShots validation shots for the linear probe).
func RunShipped(ctx context.Context, o ShippedOptions, g Grid) error {
	if err := setting.First(o.Validate(), g.Validate()); err != nil {
		return err
	}
	if err := CheckOutDir("ShippedOptions.Out", o.Out); err != nil {
		return err
	}
	rb, m, tok, err := OpenShipped(o.Benchmark, o.Model, o.BPE)
	if err != nil {
		return err
	}
	if _, err := setPrecision(o.Precision, m, o.Device); err != nil {
		return err
	}
	dev, err := Open(o.Device, m)
	if err != nil {
		return err
	}
	defer dev.Close()
	key, err := benchmarkKey(o.Benchmark)
	if err != nil {
		return err
	}
	groups := o.Groups
	if len(groups) == 1 && groups[0] == "all" {
		groups = rb.Groups
	}
	for _, group := range groups {
		if len(rb.TasksIn(group)) == 0 {
			return errors.Errorf("benchmark %s has no task group %q (groups: %s)", cmp.Or(o.Benchmark, "embedded "+ShippedBenchmark), group, strings.Join(rb.Groups, ", "))
		}
		// One experiment, so one feature cache, per group: its images
		// are encoded once.
		e := &Experiment{Model: m, Tok: tok, Backend: dev, Out: o.Out, DataKey: key, Benchmark: func(k, seed int) (*data.Benchmark, error) {
			return rb.FewShot(group, k, softcpt.ProbeValShots(k), uint64(seed)), nil
		}}
		if err := e.Run(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// benchmarkKey returns a short hash of a benchmark pack's content: the
// file at path, or the embedded one when path is empty.
func benchmarkKey(path string) (string, error) {
	h := sha256.New()
	if path == "" {
		io.WriteString(h, assets.Benchmark())
		return hex.EncodeToString(h.Sum(nil))[:16], nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", errors.Wrap(err, "hashing the benchmark")
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", errors.Wrapf(err, "hashing the benchmark %s", path)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
