package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/cliflag"
)

// TestBadFlagsRejectedFirst runs every command with one bad flag each and
// checks that the error names the flag, its value and the accepted range,
// and that it comes before any work: the model, pairs and benchmark files
// do not exist (reading them would fail with another error), the output
// folder is not created, and the answer comes at once.
func TestBadFlagsRejectedFirst(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	learnedArgs := []string{"--benchmark", missing + ".json", "--model", missing + ".pt", "--bpe", missing + ".gz"}
	shipped := []string{"--benchmark-file", missing + ".bin", "--model", missing + ".pt", "--bpe", missing + ".gz"}
	pretrainArgs := []string{"--pairs", missing + ".bin"}
	cases := []struct {
		cmd  string
		args []string
		want string
	}{
		{"train", []string{"--shots", "-4"}, `--shots -4: must be a positive number of shots per class (or "all")`},
		{"train", []string{"--shots", "0"}, `--shots 0: must be a positive number of shots per class`},
		{"train", []string{"--shots", "2,2"}, `--shots 2: is listed twice`},
		{"train", []string{"--seed", "-1"}, `--seed -1: must be a seed >= 0`},
		{"train", []string{"--epochs", "-1"}, `--epochs -1: must be at least 1`},
		{"train", []string{"--epochs", "0"}, `--epochs 0: must be at least 1`},
		{"train", []string{"--batch-size", "0"}, `--batch-size 0: must be at least 1`},
		{"train", []string{"--lr", "0"}, `--lr 0: must be a positive finite number`},
		{"train", []string{"--lr", "NaN"}, `--lr NaN: must be a positive finite number`},
		{"train", []string{"--momentum", "1"}, `--momentum 1: must be in [0, 1)`},
		{"train", []string{"--weight-decay", "-0.1"}, `--weight-decay -0.1: must be a finite number >= 0`},
		{"train", []string{"--warmup-epochs", "-1"}, `--warmup-epochs -1: must be at least 0`},
		{"train", []string{"--warmup-epochs", "51"}, `--warmup-epochs 51: must be at most the 50 training epochs`},
		{"train", []string{"--warmup-lr", "-1"}, `--warmup-lr -1: must be a finite number >= 0`},
		{"train", []string{"--repeat-steps", "-3"}, `--repeat-steps -3: must be at least 0`},
		{"train", []string{"--n-ctx", "-1"}, `--n-ctx -1: must be a context length >= 0`},
		{"train", []string{"--class-n-ctx", "-2", "--method", "cata"}, `--class-n-ctx -2: must be a context length >= 0`},
		{"train", []string{"--task-n-ctx", "-5"}, `--task-n-ctx -5: must be a context length >= 0`},
		{"train", []string{"--class-token-position", "diagonal"}, `--class-token-position "diagonal": must be end, middle or front`},
		{"train", []string{"--method", "fancy"}, `--method "fancy": unknown method`},
		{"train", []string{"--pg-type", "mlp"}, `--pg-type "mlp": must be lin, linmean or lincls`},
		{"train", []string{"--pg-type", "lincls"}, `--pg-type "lincls": needs class features`},
		{"train", []string{"--cls-sample-rate", "2", "--method", "cata"}, `--cls-sample-rate 2: must be a class sampling rate in [0, 1]`},
		{"train", []string{"--csc", "maybe"}, `--csc: "maybe" is not true or false`},
		{"train", []string{"--device", "tpu"}, `--device "tpu": want cpu, cuda or cuda:N`},
		{"train", []string{"--vision-heads", "-1"}, `--vision-heads -1: must be at least 0`},
		{"train", []string{"--method", "coop-ca", "--task-ctx-init", "a photo"}, `--task-ctx-init "a photo": needs a SoftCPT method`},
		{"train", []string{"--tasks", "a,,b"}, `--tasks "a,,b": must be a comma-separated list of task names`},
		{"train", []string{"--out", filepath.Join(file, "out")}, `--out "` + filepath.Join(file, "out") + `": must be a writable folder`},
		{"eval", []string{"--shots", "-1"}, `invalid value "-1" for flag -shots`},
		{"linprobe", []string{"--max-iter", "-1"}, `--max-iter -1: must be at least 0`},
		{"linprobe", []string{"--seed", "1,1"}, `--seed 1: is listed twice`},
		{"zeroshot", []string{"--device", "cuda:x"}, `--device "cuda:x": want cuda:N`},
		{"demo", []string{"--epochs", "-1"}, `--epochs -1: must be at least 1`},
		{"demo", []string{"--shots", "-4"}, `--shots -4: must be a positive number of shots per class (or "all")`},
		{"demo", []string{"--methods", "zeroshot,fancy"}, `--methods "fancy": unknown method`},
		{"demo", []string{"--probe-max-iter", "-5"}, `--probe-max-iter -5: must be at least 0`},
		{"demo", []string{"--steps-per-epoch", "-1"}, `--steps-per-epoch -1: must be at least 0`},
		{"demo", []string{"--n-ctx", "-4"}, `--n-ctx -4: must be a context length >= 0`},
		{"demo", []string{"--lr", "-0.01"}, `--lr -0.01: must be a positive finite number`},
		{"demo", []string{"--groups", ""}, `--groups "": must name at least one task group`},
		{"demo", []string{"--device", "tpu"}, `--device "tpu"`},
		{"demo", []string{"--out", filepath.Join(file, "out")}, `must be a writable folder`},
		{"pretrain", []string{"--steps", "0"}, `--steps 0: must be at least 1`},
		{"pretrain", []string{"--batch", "1"}, `--batch 1: must be at least 2`},
		{"pretrain", []string{"--lr", "0"}, `--lr 0: must be a positive finite number`},
		{"pretrain", []string{"--min-lr", "0.1"}, `--min-lr 0.1: must be in [0, 0.0005]`},
		{"pretrain", []string{"--warmup", "-1"}, `--warmup -1: must be at least 0`},
		{"pretrain", []string{"--wd", "-1"}, `--wd -1: must be a finite number >= 0`},
		{"pretrain", []string{"--vocab", "100"}, `--vocab 100: must be at least 515`},
		{"pretrain", []string{"--crop-min", "0"}, `--crop-min 0: must be an area fraction in (0, 1]`},
		{"pretrain", []string{"--eval-every", "-1"}, `--eval-every -1: must be at least 0`},
		{"pretrain", []string{"--checkpoint-every", "-1"}, `--checkpoint-every -1: must be at least 0`},
		{"pretrain", []string{"--workers", "-1"}, `--workers -1: must be at least 0`},
		{"pretrain", []string{"--image-size", "30"}, `--image-size 30 is not a positive multiple of 32`},
		{"pretrain", []string{"--out", filepath.Join(file, "out")}, `must be a writable folder`},
		{"encode", []string{"--model", missing + ".pt", "--text", "a", "--bpe", missing, "--vision-heads", "-2"}, `--vision-heads -2: must be at least 0`},
		{"encode", []string{"--model", missing + ".pt", "--text", "a", "--bpe", missing, "--device", "tpu"}, `--device "tpu"`},
		{"encode", []string{"--model", missing + ".pt", "--text", "a", "--bpe", missing, "--out", filepath.Join(file, "f.json")}, `--out "` + file + `": must be a writable folder`},
		{"report", []string{"--shots-table", "-2", tmp}, `--shots-table -2: want a shot setting >= 0, or -1`},
		{"report", []string{"--digits", "9", tmp}, `--digits 9: want 1..6`},
	}
	for _, tc := range cases {
		t.Run(tc.cmd+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"--out", out}
			switch tc.cmd {
			case "train", "eval", "linprobe", "zeroshot":
				args = append(args, learnedArgs...)
			case "demo":
				args = append(args, shipped...)
			case "pretrain":
				args = append(args, pretrainArgs...)
			case "encode", "report":
				args = nil // --out is a file (encode) or optional (report)
			}
			start := time.Now()
			err := cliflag.Rename(tc.cmd, commands[tc.cmd].run(context.Background(), append(args, tc.args...)))
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), missing) {
				t.Errorf("error %q mentions an input file: work started before the flag was checked", err)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("the output folder %s was created before the flag was checked", out)
			}
			if took > time.Second {
				t.Errorf("rejected after %v", took)
			}
		})
	}
}

// TestReadOnlyOutFailsFast: an output folder that cannot be written is
// found before the model is read (here the model file does not exist),
// by a probe file written into it.
func TestReadOnlyOutFailsFast(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root can write into a read-only folder; TestBadFlagsRejectedFirst covers an --out that cannot be created")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := cliflag.Rename("train", cmdTrain(context.Background(), []string{"--benchmark", "x.json", "--model", "missing.pt", "--bpe", "missing.gz", "--out", ro}))
	if err == nil || !strings.Contains(err.Error(), `--out "`+ro+`": must be a writable folder`) {
		t.Fatalf("error %v, want a not-writable --out", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("took %v", d)
	}
}
