package experiment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/softcpt"
)

// RunConfig is every setting that changes a cell's results besides the
// model, the benchmark's data, the shots and the seed: the tasks, and the
// method's configuration and training settings (learned methods), the
// extra templates (zero-shot) or the probe's settings (linear probe). Its
// Name names the configuration's folder; it is stored in the folder
// (run.json) and in every results.json ("run", and its name as "run" at the
// top level), so the folder name can be recomputed from what is stored.
// Where the run goes (output root), the device and progress output are not
// part of it.
type RunConfig struct {
	// Tasks are the benchmark's tasks, in order.
	Tasks []string `json:"tasks"`
	// Method and Train are a learned method's configuration and training
	// settings; BaseToNew says it was trained on the base classes.
	Method    *softcpt.Config `json:"method,omitempty"`
	Train     *TrainConfig    `json:"train,omitempty"`
	BaseToNew bool            `json:"base_to_new,omitempty"`
	// Templates are zero-shot's extra templates.
	Templates []string `json:"templates,omitempty"`
	// Probe are the linear probe's settings.
	Probe *softcpt.ProbeOptions `json:"probe,omitempty"`
	// Precision is the number format of the frozen towers that computed
	// the results (features, training's frozen parts, evaluation): empty
	// for fp32, so that fp32 runs keep the names they had before the
	// setting existed, else "bf16".
	Precision string `json:"precision,omitempty"`
}

// TrainConfig are the training settings that change a learned cell's
// results (softcpt.TrainOptions without the seed, the checkpoint folder
// and the callbacks; the batch size or, without one, the number of
// batches per epoch).
type TrainConfig struct {
	Epochs        int     `json:"epochs"`
	BatchSize     int     `json:"batch_size,omitempty"`
	StepsPerEpoch int     `json:"steps_per_epoch,omitempty"`
	LR            float64 `json:"lr"`
	Momentum      float64 `json:"momentum"`
	WeightDecay   float64 `json:"weight_decay"`
	WarmupEpochs  int     `json:"warmup_epochs"`
	WarmupLR      float64 `json:"warmup_lr"`
	RepeatSteps   int     `json:"repeat_steps,omitempty"`
	Augment       bool    `json:"augment,omitempty"`
}

// trainConfig returns the result-changing settings of the grid's training
// options.
func (g Grid) trainConfig() *TrainConfig {
	o := g.Train
	t := &TrainConfig{Epochs: o.Epochs, BatchSize: o.BatchSize, LR: o.LR, Momentum: o.Momentum, WeightDecay: o.WeightDecay,
		WarmupEpochs: o.WarmupEpochs, WarmupLR: o.WarmupLR, Augment: o.Augment}
	if o.RepeatSteps > 1 {
		t.RepeatSteps = o.RepeatSteps
	}
	if o.BatchSize <= 0 {
		t.BatchSize, t.StepsPerEpoch = 0, g.StepsPerEpoch
	}
	return t
}

// Hash returns the configuration's 8-hex-digit hash: SHA-256 of its JSON
// with every zero value (0, false, "", empty lists, absent parts) dropped
// and the keys sorted, so that a setting added later with a zero default
// does not change the hashes of earlier runs.
func (c RunConfig) Hash() string {
	b, err := json.Marshal(c)
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err = d.Decode(&v); err == nil {
			b, err = json.Marshal(pruneZero(v))
		}
	}
	if err != nil {
		// A NaN or infinite setting, which writing the run's files
		// reports before any work.
		b = []byte(err.Error())
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:4])
}

// pruneZero drops the zero values of a decoded JSON value (nil when it is
// zero itself).
func pruneZero(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if x[k] = pruneZero(e); x[k] == nil {
				delete(x, k)
			}
		}
		if len(x) == 0 {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
	case json.Number:
		if f, err := x.Float64(); err == nil && f == 0 {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

// Name returns the name of the configuration's folder: a short readable
// part and the hash, e.g. "nctx4_ep10_bs32_lr0.002-1a2b3c4d" (learned
// methods: N_CTX, epochs, batch size or "steps" per epoch, learning
// rate), "iter1000-…" (linear probe: L-BFGS iterations) or
// "templates1-…" (zero-shot: number of templates per task), followed by
// the precision where it is not fp32 ("…_bf16-…"). Settings
// outside the readable part (class and task contexts, CSC, position,
// CTX_INIT, optimiser, schedule, augmentation, tasks, ...) are in the hash
// only.
func (c RunConfig) Name() string {
	var parts []string
	switch {
	case c.Method != nil:
		parts = append(parts, fmt.Sprintf("nctx%d", c.Method.NCtx))
		if t := c.Train; t != nil {
			parts = append(parts, fmt.Sprintf("ep%d", t.Epochs))
			if t.BatchSize > 0 {
				parts = append(parts, fmt.Sprintf("bs%d", t.BatchSize))
			} else if t.StepsPerEpoch > 0 {
				parts = append(parts, fmt.Sprintf("steps%d", t.StepsPerEpoch))
			}
			parts = append(parts, "lr"+strconv.FormatFloat(t.LR, 'g', -1, 64))
		}
	case c.Probe != nil:
		it := c.Probe.LBFGS.MaxIter
		if it <= 0 {
			it = 1000 // softcpt.LBFGSOptions' default
		}
		parts = append(parts, fmt.Sprintf("iter%d", it))
	default:
		parts = append(parts, fmt.Sprintf("templates%d", 1+len(c.Templates)))
	}
	if c.Precision != "" {
		parts = append(parts, c.Precision)
	}
	return strings.Join(parts, "_") + "-" + c.Hash()
}

// RunDir is the folder of one cell under an output root:
// OUT/BENCHMARK/METHOD/CONFIG/shots_K/seed_S (shots_all for AllShots), where CONFIG is the run
// configuration's name (RunConfig.Name: a short readable part and a hash
// of every setting that changes results), as CoOp's
// ".../nctx16_cscFalse_ctpend/seed1". Zero-shot cells are shots_0/seed_0.
func RunDir(out, benchmark, method, config string, shots, seed int) string {
	return filepath.Join(out, benchmark, method, config, "shots_"+shotsName(shots), fmt.Sprintf("seed_%d", seed))
}

// RunFile is the file, in a configuration's folder
// (OUT/BENCHMARK/METHOD/CONFIG), that records the configuration.
const RunFile = "run.json"

// savedRun is the content of a RunFile.
type savedRun struct {
	Name   string    `json:"name"`
	Config RunConfig `json:"config"`
}

// writeRunFile records c in its folder under out (once; an existing record
// must be the same configuration).
func writeRunFile(out, benchmark, method string, c RunConfig) error {
	dir := filepath.Join(out, benchmark, method, c.Name())
	path := filepath.Join(dir, RunFile)
	if _, err := os.Stat(path); err == nil {
		_, err := readRunFile(path)
		return err
	}
	b, err := json.MarshalIndent(savedRun{Name: c.Name(), Config: c}, "", "  ")
	if err != nil {
		return errors.Wrap(err, "encoding the run configuration")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// readRunFile reads a RunFile and checks that the configuration it
// records has the name of its folder.
func readRunFile(path string) (savedRun, error) {
	var s savedRun
	b, err := os.ReadFile(path)
	if err != nil {
		return s, errors.Wrap(err, "reading the run configuration")
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, errors.Wrapf(err, "run configuration %s", path)
	}
	folder := filepath.Base(filepath.Dir(path))
	if got := s.Config.Name(); got != s.Name || got != folder {
		return s, errors.Errorf("run configuration %s hashes to %s, not its folder's name %s (edited by hand?)", path, got, folder)
	}
	return s, nil
}

// finished reports whether dir holds the complete result of a cell of run
// (results.json of the method, shots and seed, with the configuration's
// tasks). A result that cannot be read or belongs to another cell is an
// error: it is never replaced without Grid.Force.
func finished(dir, method string, k, seed int, run RunConfig) (bool, error) {
	path := filepath.Join(dir, report.ResultFile)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return false, nil
	}
	r, err := report.ReadResult(path)
	if err != nil {
		return false, errors.Wrap(err, "use --force to replace it")
	}
	var tasks []string
	for _, t := range r.Tasks {
		tasks = append(tasks, t.Name)
	}
	if r.Run != run.Name() || r.Method != method || r.Shots != k || r.Seed != seed || !slices.Equal(tasks, run.Tasks) {
		return false, errors.Errorf("%s is not a result of %s %d shots seed %d with configuration %s (run %q); use --force to replace it",
			path, method, k, seed, run.Name(), r.Run)
	}
	return true, nil
}

// skip reports whether a cell is finished and, if so, says it is skipped;
// with force nothing is skipped.
func (g Grid) skip(dir, method string, k, seed int, run RunConfig) (bool, error) {
	if g.Force {
		return false, nil
	}
	done, err := finished(dir, method, k, seed, run)
	if done {
		runLog("skipping %s shots %d seed %d: finished in %s (use --force to rerun)", method, k, seed, dir)
	}
	return done, err
}

// runLog prints the run folders' log lines (skipped, resumed, settings
// taken from a saved run); tests capture it.
var runLog = Logf

// runSetting is a result-changing setting as the driver's flag names it.
type runSetting struct {
	flag string
	get  func(RunConfig) string
}

// methodSetting and trainSetting read a field of the method configuration
// or the training settings ("" when the configuration has none).
func methodSetting(flag string, f func(*softcpt.Config) any) runSetting {
	return runSetting{flag, func(c RunConfig) string {
		if c.Method == nil {
			return ""
		}
		return fmt.Sprint(f(c.Method))
	}}
}

func trainSetting(flag string, f func(*TrainConfig) any) runSetting {
	return runSetting{flag, func(c RunConfig) string {
		if c.Train == nil {
			return ""
		}
		return fmt.Sprint(f(c.Train))
	}}
}

// settings are the settings that a flag given explicitly to 'softcpt
// train --resume' or 'softcpt eval' is checked against.
var settings = []runSetting{
	methodSetting("n-ctx", func(c *softcpt.Config) any { return c.NCtx }),
	methodSetting("ctx-init", func(c *softcpt.Config) any { return strconv.Quote(c.CtxInit) }),
	methodSetting("class-token-position", func(c *softcpt.Config) any { return c.Position.String() }),
	methodSetting("csc", func(c *softcpt.Config) any { return c.CSC }),
	methodSetting("class-n-ctx", func(c *softcpt.Config) any { return c.ClassNCtx }),
	methodSetting("class-csc", func(c *softcpt.Config) any { return c.ClassCSC }),
	methodSetting("task-n-ctx", func(c *softcpt.Config) any { return c.TaskNCtx }),
	methodSetting("task-csc", func(c *softcpt.Config) any { return c.TaskCSC }),
	methodSetting("task-ctx-init", func(c *softcpt.Config) any { return strconv.Quote(c.TaskCtxInit) }),
	methodSetting("pg-type", func(c *softcpt.Config) any { return c.PGType }),
	methodSetting("cls-sample-rate", func(c *softcpt.Config) any { return c.ClassSample }),
	trainSetting("epochs", func(t *TrainConfig) any { return t.Epochs }),
	trainSetting("batch-size", func(t *TrainConfig) any { return t.BatchSize }),
	trainSetting("steps-per-epoch", func(t *TrainConfig) any { return t.StepsPerEpoch }),
	trainSetting("lr", func(t *TrainConfig) any { return t.LR }),
	trainSetting("momentum", func(t *TrainConfig) any { return t.Momentum }),
	trainSetting("weight-decay", func(t *TrainConfig) any { return t.WeightDecay }),
	trainSetting("warmup-epochs", func(t *TrainConfig) any { return t.WarmupEpochs }),
	trainSetting("warmup-lr", func(t *TrainConfig) any { return t.WarmupLR }),
	trainSetting("repeat-steps", func(t *TrainConfig) any { return t.RepeatSteps }),
	trainSetting("augment", func(t *TrainConfig) any { return t.Augment }),
	{"tasks", func(c RunConfig) string { return strings.Join(c.Tasks, ",") }},
	{"base2new", func(c RunConfig) string { return fmt.Sprint(c.BaseToNew) }},
}

// contradictions lists, one line each, the settings given explicitly
// (flag names) whose value in want differs from saved's:
// "--n-ctx 16 given, the checkpoint was trained with 4".
func contradictions(want, saved RunConfig, given []string) []string {
	var out []string
	for _, s := range settings {
		if !slices.Contains(given, s.flag) {
			continue
		}
		if w, v := s.get(want), s.get(saved); w != v {
			out = append(out, fmt.Sprintf("--%s %s given, the checkpoint was trained with %s", s.flag, w, v))
		}
	}
	return out
}

// savedConfig returns the configuration of the trained run of a learned
// cell under root (the folders OUT/BENCHMARK/METHOD/*/shots_K/seed_S that
// hold a checkpoint): want's own folder when it has one, otherwise the
// one saved run that the settings given explicitly (flag names) do not
// contradict. It returns nil when no run of the cell has a checkpoint. A
// contradiction is an error naming the setting in one line; so is a
// choice between several saved runs that the given settings do not
// settle. Nothing but the configurations' files is read.
func savedConfig(root, benchmark, method string, k, seed int, want RunConfig, given []string) (*RunConfig, error) {
	paths, err := filepath.Glob(filepath.Join(root, benchmark, method, "*", RunFile))
	if err != nil {
		return nil, errors.Wrap(err, "looking for trained runs")
	}
	var saved []RunConfig
	for _, p := range paths {
		cell := RunDir(root, benchmark, method, filepath.Base(filepath.Dir(p)), k, seed)
		if _, err := os.Stat(filepath.Join(cell, checkpointFile)); err != nil {
			continue
		}
		s, err := readRunFile(p)
		if err != nil {
			return nil, err
		}
		if s.Name == want.Name() {
			return &s.Config, nil
		}
		saved = append(saved, s.Config)
	}
	where := fmt.Sprintf("%s %d shots seed %d", method, k, seed)
	switch len(saved) {
	case 0:
		return nil, nil
	case 1:
		if c := contradictions(want, saved[0], given); len(c) > 0 {
			return nil, errors.Errorf("%s (%s)", strings.Join(c, "; "), RunDir(root, benchmark, method, saved[0].Name(), k, seed))
		}
		return &saved[0], nil
	}
	var fit []RunConfig
	var why []string
	for _, s := range saved {
		if c := contradictions(want, s, given); len(c) > 0 {
			why = append(why, fmt.Sprintf("  %s: %s", s.Name(), strings.Join(c, "; ")))
		} else {
			fit = append(fit, s)
		}
	}
	switch len(fit) {
	case 0:
		return nil, errors.Errorf("no trained run of %s under %s agrees with the flags given:\n%s", where, filepath.Join(root, benchmark, method), strings.Join(why, "\n"))
	case 1:
		return &fit[0], nil
	}
	names := make([]string, len(fit))
	for i, s := range fit {
		names[i] = s.Name()
	}
	return nil, errors.Errorf("%d trained runs of %s under %s: %s; give the settings that tell them apart (e.g. --n-ctx, --epochs, --lr)",
		len(fit), where, filepath.Join(root, benchmark, method), strings.Join(names, ", "))
}

// checkpointFile is the JSON half of a training checkpoint
// (softcpt.SaveTrainCheckpoint).
const checkpointFile = "checkpoint.json"

// checkpointInfo is what experiment reads of a checkpoint.json.
type checkpointInfo struct {
	Method string          `json:"method"`
	Epoch  int             `json:"epoch"`
	Config *softcpt.Config `json:"config"`
}

// readCheckpointInfo reads dir's checkpoint.json (nil when there is none).
func readCheckpointInfo(dir string) (*checkpointInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrap(err, "reading the checkpoint")
	}
	var c checkpointInfo
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errors.Wrapf(err, "checkpoint %s", filepath.Join(dir, checkpointFile))
	}
	return &c, nil
}

// checkCheckpoint checks, before any tensor is loaded, that the checkpoint
// in dir was trained with cfg.
func checkCheckpoint(dir string, cfg softcpt.Config) (*checkpointInfo, error) {
	ck, err := readCheckpointInfo(dir)
	if err != nil || ck == nil {
		return ck, err
	}
	if ck.Method != cfg.Name || ck.Config != nil && *ck.Config != cfg {
		return nil, errors.Errorf("the checkpoint in %s is not of configuration %s: it records %s", dir, filepath.Base(filepath.Dir(filepath.Dir(dir))), ck.Config)
	}
	return ck, nil
}

// replaceDir moves the folder tmp to dir, replacing dir: dir is renamed
// away, tmp renamed in, and the old folder removed.
func replaceDir(tmp, dir string) error {
	old := dir + ".replaced"
	if err := os.RemoveAll(old); err != nil {
		return errors.Wrapf(err, "replacing %s", dir)
	}
	if err := os.Rename(dir, old); err != nil && !os.IsNotExist(err) {
		return errors.Wrapf(err, "replacing %s", dir)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return errors.Wrapf(err, "replacing %s", dir)
	}
	return errors.Wrapf(os.RemoveAll(old), "replacing %s", dir)
}
