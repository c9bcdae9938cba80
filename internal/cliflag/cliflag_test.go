package cliflag

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/softcpt"
)

// TestShotList: "all" is experiment.AllShots (all the training data, run
// folder shots_all), and its code -1 is not accepted as a count.
func TestShotList(t *testing.T) {
	var l ShotList
	if err := l.Set("1, all,16"); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "1,all,16" || l[1] != experiment.AllShots {
		t.Errorf("parsed %v (%s)", l, got)
	}
	if err := l.Set("-1"); err == nil {
		t.Error("--shots -1 accepted: all the training data is spelt \"all\"")
	}
	if d := experiment.RunDir("out", "b", "m", "c", experiment.AllShots, 1); d != filepath.Join("out", "b", "m", "c", "shots_all", "seed_1") {
		t.Errorf("run folder %s", d)
	}
}

// TestSettingsConfig: the method settings given on the command line go
// over the method's own (booleans and --pg-type only when not empty,
// counts only when given); Given lists the cell settings given, as the
// flags print them.
func TestSettingsConfig(t *testing.T) {
	var s Settings
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Bool("force", false, "not a cell setting")
	s.Register(fs, Training|Method, false)
	if err := fs.Parse([]string{"--force", "--class-n-ctx", "0", "--task-csc", "true", "--lr", "0.5", "--class-token-position", "front"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config("cata", fs)
	if err != nil || cfg.ClassNCtx != 0 || !cfg.TaskCSC || !cfg.CSC || cfg.NCtx != 16 || cfg.Position != softcpt.Front || cfg.PGType != "lin" {
		t.Errorf("cata with flags: %v (%v)", cfg, err)
	}
	if o := s.TrainOptions(); o.LR != 0.5 || o.Epochs != softcpt.Defaults().Epochs {
		t.Errorf("training options %+v", o)
	}
	if g := s.Given(fs); len(g) != 4 || g["lr"] != "0.5" || g["class-n-ctx"] != "0" || g["force"] != "" {
		t.Errorf("given %v", g)
	}
	s.CSC = "maybe"
	if _, err := s.Config("cata", fs); err == nil || !strings.Contains(err.Error(), `--csc: "maybe" is not true or false`) {
		t.Errorf("--csc maybe: %v", err)
	}
}
