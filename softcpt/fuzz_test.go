package softcpt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/optim"
)

// FuzzReadCheckpoint reads arbitrary bytes as a training checkpoint's
// checkpoint.json (beside a valid checkpoint.safetensors), checked
// against the run as a resume would: errors must name the folder or a
// file in it, never panic.
func FuzzReadCheckpoint(f *testing.F) {
	cfg, err := MethodConfig("nata")
	if err != nil {
		f.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx = 4, 2
	l, train, feats := fixtureRun(f, cfg, 4)
	dir := f.TempDir()
	opt := Defaults()
	opt.Epochs, opt.BatchSize, opt.CheckpointDir = 1, 2, dir
	if _, err := TrainFeatures(context.Background(), l, feats, train, opt); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, ckptState))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(strings.Replace(string(good), `"epoch": 1`, `"epoch": 2`, 1)))
	f.Add([]byte(strings.Replace(string(good), `"seed": 1`, `"seed": 18446744073709551615`, 1)))
	f.Add([]byte(`{"method": "SoftCPT-NATA", "epoch": -1, "history": null}`))
	f.Add([]byte(`{"epoch": 1e999}`))
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, ckptState), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sgd := &optim.SGD{Params: l.Parameters()}
		accept := func(st *trainState) error { return st.check(dir, l, len(train), opt) }
		ok, st, err := readCheckpoint(dir, l, sgd, accept)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the checkpoint folder: %v", err)
			}
			return
		}
		if ok && st.Epoch != 1 {
			t.Fatalf("loaded the tensors of epoch 1 for a state of epoch %d", st.Epoch)
		}
	})
}
