package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteReadResultRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "seed1")
	r := mk("general10", "SoftCPT-NATA", 16, 1, 93.1, 55.3)
	r.Config = json.RawMessage(`{"lr":0.002,"epochs":50}`)
	r.Version = "v0.1.0"
	if err := WriteResult(dir, r); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ResultFile {
		t.Fatalf("directory holds %v, want only %s (temporary file left behind?)", entries, ResultFile)
	}
	got, err := ReadResult(filepath.Join(dir, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != filepath.Join(dir, ResultFile) {
		t.Errorf("Path = %q", got.Path)
	}
	if got.Created.IsZero() || time.Since(got.Created) > time.Hour {
		t.Errorf("Created = %v, want about now", got.Created)
	}
	if got.Benchmark != r.Benchmark || got.Method != r.Method || got.Shots != 16 || got.Seed != 1 ||
		!near(got.Overall, 74.2) || len(got.Tasks) != 2 || got.Tasks[1] != r.Tasks[1] || got.Version != "v0.1.0" {
		t.Errorf("read back %+v, wrote %+v", got, r)
	}
	var cfg map[string]float64
	if err := json.Unmarshal(got.Config, &cfg); err != nil || cfg["epochs"] != 50 {
		t.Errorf("config = %s (%v)", got.Config, err)
	}
	// The file carries the documented keys.
	b, _ := os.ReadFile(filepath.Join(dir, ResultFile))
	for _, k := range []string{`"benchmark"`, `"method"`, `"shots"`, `"seed"`, `"overall"`, `"tasks"`, `"metric"`, `"value"`, `"config"`, `"created"`, `"version"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("results.json lacks %s:\n%s", k, b)
		}
	}
	// Overwriting replaces the file.
	r.Seed = 2
	if err := WriteResult(dir, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadResult(filepath.Join(dir, ResultFile)); got.Seed != 2 {
		t.Errorf("after overwrite seed = %d, want 2", got.Seed)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]func(r *Result){
		"no benchmark":    func(r *Result) { r.Benchmark = " " },
		"no method":       func(r *Result) { r.Method = "" },
		"negative shots":  func(r *Result) { r.Shots = -2 }, // -1 is AllShots,
		"fraction":        func(r *Result) { r.Overall = 0.742 },
		"negative":        func(r *Result) { r.Overall = -1; r.Tasks = nil },
		"NaN":             func(r *Result) { r.Overall = math.NaN(); r.Tasks = nil },
		"over 100":        func(r *Result) { r.Tasks[0].Value = 120; r.Overall = (120 + 55.3) / 2 },
		"overall != mean": func(r *Result) { r.Overall += 0.5 },
		"duplicate task":  func(r *Result) { r.Tasks[1].Name = r.Tasks[0].Name },
		"empty task name": func(r *Result) { r.Tasks[0].Name = "" },
	}
	for name, mut := range cases {
		r := mk("b", "m", 4, 1, 93.1, 55.3)
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, r)
		}
		dir := t.TempDir()
		if err := WriteResult(dir, r); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: WriteResult error %v does not name %s", name, err, dir)
		}
		if _, err := os.Stat(filepath.Join(dir, ResultFile)); err == nil {
			t.Errorf("%s: invalid result was written", name)
		}
	}
	// Rounded task and overall values pass.
	r := Result{Benchmark: "b", Method: "m", Shots: 1, Seed: 1, Overall: 50.01,
		Tasks: []TaskResult{{Name: "a", Value: 33.33}, {Name: "b", Value: 66.67}, {Name: "c", Value: 50.02}}}
	if err := r.Validate(); err != nil {
		t.Errorf("rounded values rejected: %v", err)
	}
}

func TestReadResultErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"syntax":      `{"benchmark": "b", `,
		"missing key": `{"benchmark": "b", "method": "m", "shots": 1, "overall": 50}`,
		"null key":    `{"benchmark": "b", "method": "m", "shots": 1, "seed": null, "overall": 50}`,
		"wrong type":  `{"benchmark": "b", "method": "m", "shots": "16", "seed": 1, "overall": 50}`,
		"not object":  `[1, 2]`,
		"invalid":     `{"benchmark": "b", "method": "m", "shots": 1, "seed": 1, "overall": 50, "tasks": [{"name": "x", "value": 10}]}`,
	}
	for name, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadResult(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name %s", name, err, p)
		}
	}
	if _, err := ReadResult(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("missing file: error %v", err)
	}
}

func TestScan(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for seed := 1; seed <= 2; seed++ {
		if err := WriteResult(filepath.Join(root, "nata", "16shot", "seed"+string(rune('0'+seed))), mk("g", "SoftCPT-NATA", 16, seed, 70+float64(seed))); err != nil {
			t.Fatal(err)
		}
	}
	cfg := write("nata/16shot/seed1/config.json", `{"lr": 0.002}`)
	feat := write("features/x.json", `[1,2,3]`)
	write("nata/16shot/seed1/notes.txt", `not json`)
	copied := write("collected/zs.json", `{"benchmark":"g","method":"ZS-CLIP","shots":0,"seed":1,"overall":58.29}`)

	var warns []string
	rs, err := ScanWarn(root, func(m string) { warns = append(warns, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("Scan found %d results, want 3: %+v", len(rs), rs)
	}
	// Lexical path order: collected/zs.json, then the two seeds.
	if rs[0].Path != copied || rs[0].Method != "ZS-CLIP" || rs[1].Seed != 1 || rs[2].Seed != 2 {
		t.Errorf("results in wrong order or wrong: %+v", rs)
	}
	if len(warns) != 2 || !strings.Contains(strings.Join(warns, "\n"), cfg) || !strings.Contains(strings.Join(warns, "\n"), feat) {
		t.Errorf("warnings = %q, want one each for %s and %s", warns, cfg, feat)
	}

	// A single file as root.
	one, err := ScanWarn(copied, nil)
	if err != nil || len(one) != 1 {
		t.Errorf("Scan(file) = %v, %v", one, err)
	}

	// A malformed results.json stops the scan and is named.
	bad := write("broken/seed3/results.json", `{"benchmark": "g", "method": "m", "shots": 16, "seed": 3, "overall": 170}`)
	if _, err := ScanWarn(root, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed results.json: error %v does not name %s", err, bad)
	}
	os.Remove(bad)
	// So does a non-result JSON named results.json.
	bad = write("broken/seed3/results.json", `{"hello": 1}`)
	if _, err := ScanWarn(root, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("non-result results.json: error %v does not name %s", err, bad)
	}
	if _, err := ScanWarn(filepath.Join(root, "absent"), nil); err == nil {
		t.Error("missing root: no error")
	}
}
