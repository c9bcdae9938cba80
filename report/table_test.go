package report

import (
	"strings"
	"testing"
)

const wantGeneral10Table = `### general10: overall score (%), mean±std (population, ddof=0) over seeds

3 seeds per cell (cells marked (n=K) differ). Avg. is the mean of the 1/2/4/8/16-shot means, shown when all are present. Column 0 is zero-shot.

| Method | 0 | 1 | 2 | 4 | 8 | 16 | Avg. |
|---|---:|---:|---:|---:|---:|---:|---:|
| ZS-CLIP | 58.29 | – | – | – | – | – | – |
| CoOp-MT | – | 59.00±0.82 | 61.00±0.41 | 63.00±0.00 | 66.50±0.50 (n=2) | 68.83±0.12 | 63.67 |
| SoftCPT-NATA | – | 59.50±0.82 | – | – | – | 74.25±0.00 | – |
`

const wantPlant6Table = `### plant6: overall score (%), mean±std (population, ddof=0) over seeds

1 seed per cell (cells marked (n=K) differ). Avg. is the mean of the 1/2/4/8/16-shot means, shown when all are present.

| Method | 1 | 2 | 4 | 8 | 16 | Avg. |
|---|---:|---:|---:|---:|---:|---:|
| CoOp-MT | – | – | – | – | 75.00 | – |
`

const wantTaskTable = `### general10: per-task scores (%), 16 shots, mean±std (population, ddof=0) over seeds

3 seeds per cell (cells marked (n=K) differ).

| Task | Metric | CoOp-MT | SoftCPT-NATA | ZS-CLIP (0-shot) |
|---|---|---:|---:|---:|
| t1 | mean_per_class | 68.83±0.24 | 75.00±0.41 | 60.00 |
| t2 | accuracy | 68.83±0.24 | 73.50±0.41 | 56.58 |
| Overall | mean of tasks | 68.83±0.12 | 74.25±0.00 | 58.29 |
`

// The expected cells were computed by hand: e.g. CoOp-MT 1-shot overall
// scores 58, 59, 60 give 59.00±0.82 (population std √(2/3)); its Avg. is
// (59 + 61 + 63 + 66.5 + 68.8333)/5 = 63.67; SoftCPT-NATA lacks 2, 4 and 8
// shots, so it has no Avg.
func TestTableGolden(t *testing.T) {
	gs, _, err := Aggregate(tableFixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Table(gs, TableFormat{}), wantGeneral10Table+"\n"+wantPlant6Table; got != want {
		t.Errorf("Table:\n%s\nwant:\n%s", got, want)
	}
	got, err := TaskTable(gs, "general10", 16, TableFormat{})
	if err != nil {
		t.Fatal(err)
	}
	if got != wantTaskTable {
		t.Errorf("TaskTable:\n%s\nwant:\n%s", got, wantTaskTable)
	}
	if _, err := TaskTable(gs, "general10", 4, TableFormat{}); err != nil {
		t.Errorf("4-shot task table: %v", err)
	}
	if _, err := TaskTable(gs, "general10", 32, TableFormat{}); err == nil || !strings.Contains(err.Error(), "no 32-shot results") {
		t.Errorf("absent setting: error %v", err)
	}
}

func TestTableCI95AndDigits(t *testing.T) {
	gs, _, err := Aggregate(tableFixture(), Options{CI95: true})
	if err != nil {
		t.Fatal(err)
	}
	got := BenchmarkTable(gs, "general10", TableFormat{Digits: 3})
	// CoOp-MT 1 shot: 1.96·√(2/3)/√3 = 0.9239.
	for _, want := range []string{"mean±95% CI (1.96·std/√n)", "| 59.000±0.924 |", "| 63.667 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestTableAvgRuleAndExtraShots(t *testing.T) {
	var rs []Result
	// Method A: all five settings plus 32 shots; B: four of five.
	for i, s := range []int{1, 2, 4, 8, 16, 32} {
		rs = append(rs, mk("b", "A|x", s, 1, float64(10*(i+1))))
		if s != 4 {
			rs = append(rs, mk("b", "B", s, 1, 50))
		}
	}
	gs, _, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := BenchmarkTable(gs, "b", TableFormat{})
	// Avg. of A is (10+20+30+40+50)/5 = 30, ignoring the 32-shot 60.
	for _, want := range []string{
		"| Method | 1 | 2 | 4 | 8 | 16 | 32 | Avg. |",
		`| A\|x | 10.00 | 20.00 | 30.00 | 40.00 | 50.00 | 60.00 | 30.00 |`,
		"| B | 50.00 | 50.00 | – | 50.00 | 50.00 | 50.00 | – |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "| 0 |") {
		t.Errorf("zero-shot column without zero-shot results:\n%s", got)
	}
}

func TestMarkdownReport(t *testing.T) {
	gs, warns, err := Aggregate(tableFixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := MarkdownReport(gs, warns, "general10", 16, TableFormat{})
	if !strings.HasPrefix(got, wantGeneral10Table+"\n"+wantTaskTable) {
		t.Errorf("report does not start with the two tables:\n%s", got)
	}
	if !strings.Contains(got, "Warnings:\n\n- benchmark general10: groups have different seed counts (2 seed(s): CoOp-MT 8-shot; 3 seed(s): CoOp-MT 1/2/4/16-shot, SoftCPT-NATA 1/16-shot)\n") {
		t.Errorf("report lacks the seed-count warning:\n%s", got)
	}
	if strings.Contains(got, "ZS-CLIP 0-shot") {
		t.Errorf("single-seed zero-shot group flagged:\n%s", got)
	}
	if got := MarkdownReport(gs, warns, "general10", -1, TableFormat{}); strings.Contains(got, "per-task") {
		t.Errorf("taskShots -1 still renders a per-task table:\n%s", got)
	}
	if got := MarkdownReport(gs, warns, "plant6", 4, TableFormat{}); !strings.Contains(got, "no 4-shot results for benchmark plant6") {
		t.Errorf("missing per-task setting not noted:\n%s", got)
	}
}
