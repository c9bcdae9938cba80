package setting

import (
	"strings"
	"testing"

	"github.com/pkg/errors"
)

// TestErrorAndRename: the message is "NAME VALUE: WANT" (strings quoted);
// Rename changes the name inside wrapping errors and leaves other errors.
func TestErrorAndRename(t *testing.T) {
	err := errors.Wrap(AtLeast("TrainOptions.Epochs", -1, 1, "epochs"), "train")
	if got, want := err.Error(), "train: TrainOptions.Epochs -1: must be at least 1 (epochs)"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	err = Rename(err, map[string]string{"TrainOptions.Epochs": "--epochs"})
	if got, want := err.Error(), "train: --epochs -1: must be at least 1 (epochs)"; got != want {
		t.Errorf("renamed %q, want %q", got, want)
	}
	if got := Errorf("Config.Position", "up", "must be end").Error(); got != `Config.Position "up": must be end` {
		t.Errorf("string value: %q", got)
	}
	plain := errors.New("other")
	if Rename(plain, map[string]string{"other": "x"}) != plain || Rename(nil, nil) != nil {
		t.Error("Rename changed an error that is not a setting error")
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{Positive("a", 0, "x"), "positive"}, {Positive("a", 1, "x"), ""},
		{NonNegative("a", -1, "x"), ">= 0"}, {NonNegative("a", 0, "x"), ""},
		{First(nil, AtLeast("b", 0, 1, "x"), AtLeast("c", 0, 1, "x")), "b 0"},
	} {
		if (c.err == nil) != (c.want == "") || (c.err != nil && !strings.Contains(c.err.Error(), c.want)) {
			t.Errorf("err %v, want %q", c.err, c.want)
		}
	}
}
