package cliflag

import "github.com/softcpt/softcpt-go/internal/setting"

// flagNames maps the library's setting names (setting.Error.Name) to the
// flags of the driver's commands; commandFlags holds the commands whose
// flag for a setting differs.
var flagNames = map[string]string{
	"Grid.Shots": "shots", "Grid.Seeds": "seed", "Grid.Methods": "method", "Method": "method",
	"Grid.StepsPerEpoch":  "steps-per-epoch",
	"TrainOptions.Epochs": "epochs", "TrainOptions.BatchSize": "batch-size", "TrainOptions.LR": "lr",
	"TrainOptions.Momentum": "momentum", "TrainOptions.WeightDecay": "weight-decay",
	"TrainOptions.WarmupEpochs": "warmup-epochs", "TrainOptions.WarmupLR": "warmup-lr", "TrainOptions.RepeatSteps": "repeat-steps",
	"Config.NCtx": "n-ctx", "Config.TaskNCtx": "task-n-ctx", "Config.ClassNCtx": "class-n-ctx",
	"Config.Position": "class-token-position", "Config.PGType": "pg-type", "Config.ClassSample": "cls-sample-rate",
	"Config.TaskCtxInit":   "task-ctx-init",
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

var commandFlags = map[string]map[string]string{
	"demo": {"Grid.Methods": "methods", "Method": "methods", "LBFGSOptions.MaxIter": "probe-max-iter"},
}

// Rename names the setting of a *setting.Error in err by the flag of the
// command that sets it ("TrainOptions.Epochs" → "--epochs"); other errors
// are returned as they are.
func Rename(command string, err error) error {
	names := make(map[string]string, len(flagNames))
	for k, v := range flagNames {
		names[k] = "--" + v
	}
	for k, v := range commandFlags[command] {
		names[k] = "--" + v
	}
	return setting.Rename(err, names)
}
