package report

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlotShots(t *testing.T) {
	gs, _, err := Aggregate(tableFixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pngPath, svgPath := filepath.Join(dir, "shots.png"), filepath.Join(dir, "shots.svg")
	for _, p := range []string{pngPath, svgPath} {
		if err := PlotShots(gs, "general10", p); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", pngPath, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("PNG is %v", b)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(bytes.TrimSpace(svg))
	if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") {
		t.Errorf("SVG starts with %q", s[:min(40, len(s))])
	}
	// The SVG carries the title, the x ticks and one legend entry per
	// method, zero-shot included.
	for _, want := range []string{"general10: accuracy vs shots", ">16<", "CoOp-MT", "SoftCPT-NATA", "ZS-CLIP (0-shot, 58.29)"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// A single few-shot point (plant6) still plots.
	if err := PlotShots(gs, "plant6", filepath.Join(dir, "p.png")); err != nil {
		t.Errorf("single point: %v", err)
	}
}

func TestPlotShotsErrors(t *testing.T) {
	gs, _, err := Aggregate(tableFixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "shots.xyz"), filepath.Join(dir, "shots")} {
		if err := PlotShots(gs, "general10", p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", p, err)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written despite the error", p)
		}
	}
	if err := PlotShots(gs, "absent", filepath.Join(dir, "a.png")); err == nil {
		t.Error("absent benchmark: no error")
	}
	if err := PlotShots(gs, "general10", filepath.Join(dir, "no", "such", "dir.png")); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestWriteSummaryFiles(t *testing.T) {
	gs, warns, err := Aggregate(tableFixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out", "general10")
	md, err := WriteSummaryFiles(dir, gs, warns, "general10", 16, TableFormat{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"summary.json", "summary.md", "shots.png", "shots.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if string(b) != md || !strings.HasPrefix(md, wantGeneral10Table) {
		t.Errorf("summary.md:\n%s", b)
	}
	var s Summary
	b, _ = os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Benchmark != "general10" || s.Spread != SpreadStd || len(s.Groups) != 8 || len(s.Warnings) != 1 {
		t.Errorf("summary: benchmark %q spread %q, %d groups, warnings %q", s.Benchmark, s.Spread, len(s.Groups), s.Warnings)
	}
	if avg, ok := s.Avg["CoOp-MT"]; !ok || !near(avg, (59+61+63+66.5+(68.75+69+68.75)/3)/5) || len(s.Avg) != 1 {
		t.Errorf("summary avg = %v", s.Avg)
	}
	for _, g := range s.Groups {
		if g.Method == "CoOp-MT" && g.Shots == 1 {
			checkStat(t, "summary CoOp-MT 1-shot", g.Overall, 59, 0.816496580927726, 3)
		}
	}
}

func TestPercentTicks(t *testing.T) {
	var labels []string
	minor := 0
	for _, tk := range (percentTicks{}).Ticks(55.3, 75.2) {
		if tk.Label == "" {
			minor++
		} else {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "56 58 60 62 64 66 68 70 72 74" || minor != 10 {
		t.Errorf("labels %q, %d minor ticks", got, minor)
	}
	labels = labels[:0]
	for _, tk := range (percentTicks{}).Ticks(6.9, 100) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "10 20 30 40 50 60 70 80 90 100" {
		t.Errorf("labels %q", got)
	}
}
