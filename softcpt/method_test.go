package softcpt

import (
	"errors"
	"testing"

	"github.com/softcpt/softcpt-go/internal/setting"
)

// TestMethodSettingsRoundTrip: a method's own knobs resolve to its
// configuration, and a changed knob is applied and checked, with errors
// that name the setting.
func TestMethodSettingsRoundTrip(t *testing.T) {
	for _, m := range Methods() {
		want, err := MethodConfig(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := want.Settings().Config(m)
		if err != nil || got != want {
			t.Errorf("%s: %v (%v), want %v", m, got, err, want)
		}
	}
	s, _ := MethodConfig("cata")
	ms := s.Settings()
	ms.NCtx, ms.Position, ms.PGType, ms.ClassSample = 7, "front", "lincls", 0.5
	c, err := ms.Config("SoftCPT-CATA")
	if err != nil || c.NCtx != 7 || c.Position != Front || c.PGType != "lincls" || c.ClassSample != 0.5 || c.Name != "SoftCPT-CATA" {
		t.Errorf("changed knobs: %v (%v)", c, err)
	}
	for _, tc := range []struct {
		method string
		edit   func(*MethodSettings)
		name   string
	}{
		{"fancy", func(*MethodSettings) {}, "Method"},
		{"nata", func(s *MethodSettings) { s.Position = "diagonal" }, "Config.Position"},
		{"nata", func(s *MethodSettings) { s.NCtx = -1 }, "Config.NCtx"},
		{"nata", func(s *MethodSettings) { s.PGType = "lincls" }, "Config.PGType"},
	} {
		ms := MethodSettings{Position: "end", PGType: "lin", NCtx: 4}
		tc.edit(&ms)
		_, err := ms.Config(tc.method)
		var se *setting.Error
		if !errors.As(err, &se) || se.Name != tc.name {
			t.Errorf("%s %+v: error %v, want a setting error named %s", tc.method, ms, err, tc.name)
		}
	}
	for _, p := range []Position{End, Middle, Front} {
		if q, err := ParsePosition(p.String()); err != nil || q != p {
			t.Errorf("position %d: %q parses to %d (%v)", p, p.String(), q, err)
		}
	}
}
