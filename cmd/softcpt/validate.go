package main

import (
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/setting"
)

// flagNames maps the library's setting names (setting.Error.Name) to the
// driver's flags; flagOverrides holds the commands whose flag for a
// setting differs.
var flagNames = map[string]string{
	"Grid.Shots": "shots", "Grid.Seeds": "seed", "Grid.Methods": "method", "Method": "method",
	"Grid.StepsPerEpoch":  "steps-per-epoch",
	"TrainOptions.Epochs": "epochs", "TrainOptions.BatchSize": "batch-size", "TrainOptions.LR": "lr",
	"TrainOptions.Momentum": "momentum", "TrainOptions.WeightDecay": "weight-decay",
	"TrainOptions.WarmupEpochs": "warmup-epochs", "TrainOptions.WarmupLR": "warmup-lr", "TrainOptions.RepeatSteps": "repeat-steps",
	"Config.NCtx": "n-ctx", "Config.TaskNCtx": "task-n-ctx", "Config.ClassNCtx": "class-n-ctx",
	"Config.Position": "class-token-position", "Config.PGType": "pg-type", "Config.ClassSample": "cls-sample-rate",
	"LBFGSOptions.MaxIter": "max-iter",
	"Options.Out":          "out", "Options.Tasks": "tasks", "Options.VisionHeads": "vision-heads", "Options.TextHeads": "text-heads",
	"ShippedOptions.Out": "out", "ShippedOptions.Groups": "groups",
	"EncodeOptions.Model": "model", "EncodeOptions.BPE": "bpe", "EncodeOptions.Images": "image",
	"EncodeOptions.Out": "out", "EncodeOptions.VisionHeads": "vision-heads", "EncodeOptions.TextHeads": "text-heads",
	"PretrainOptions.Out": "out", "PretrainOptions.Steps": "steps", "PretrainOptions.Batch": "batch",
	"PretrainOptions.LR": "lr", "PretrainOptions.MinLR": "min-lr", "PretrainOptions.Warmup": "warmup", "PretrainOptions.WD": "wd",
	"PretrainOptions.Vocab": "vocab", "PretrainOptions.CropMin": "crop-min", "PretrainOptions.EvalMax": "eval-max-images",
	"PretrainOptions.EvalEvery": "eval-every", "PretrainOptions.CheckpointEvery": "checkpoint-every",
	"PretrainOptions.Workers": "workers", "PretrainOptions.LogEvery": "log-every",
}

var flagOverrides = map[string]map[string]string{
	"demo": {"Grid.Methods": "methods", "Method": "methods", "LBFGSOptions.MaxIter": "probe-max-iter"},
}

// inFlagTerms names the setting of a *setting.Error in err by the flag
// of the command that sets it ("TrainOptions.Epochs" → "--epochs").
func inFlagTerms(command string, err error) error {
	names := make(map[string]string, len(flagNames))
	for k, v := range flagNames {
		names[k] = "--" + v
	}
	for k, v := range flagOverrides[command] {
		names[k] = "--" + v
	}
	return setting.Rename(err, names)
}

// shotList is the --shots flag: comma-separated shot counts, "all" for
// all the training data (experiment.AllShots).
type shotList struct{ intList }

func (l *shotList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(l.intList))
	for i, k := range l.intList {
		s[i] = strconv.Itoa(k)
		if k == experiment.AllShots {
			s[i] = "all"
		}
	}
	return strings.Join(s, ",")
}

func (l *shotList) Set(v string) error {
	l.intList = nil
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			l.intList = append(l.intList, experiment.AllShots)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return errors.Errorf("%q is not a comma-separated list of shot counts (or \"all\")", v)
		}
		if n == experiment.AllShots { // the code of "all", not a count
			return errors.Errorf("%d is not a number of shots per class: want a positive count (or \"all\")", n)
		}
		l.intList = append(l.intList, n)
	}
	return nil
}
