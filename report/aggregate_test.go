package report

import (
	"math"
	"strings"
	"testing"
)

// Expected values come from numpy (np.mean, np.std with its default
// ddof=0, 1.96*np.std(a)/np.sqrt(len(a))):
//
//	[70, 72, 74]       mean 72.0  std 1.632993161855452  ci95 1.8479057215008443
//	[93.1, 92.5, 94.0] mean 93.2  std 0.6164414002968979 ci95 0.697569112466046
//	[46.9, 51.5, 54.0] mean 50.8  std 2.9405214956987935 ci95 3.327513319115176
//	[59.0, 60.0]       mean 59.5  std 0.5                ci95 0.6929646455628166
func threeSeeds() []Result {
	return []Result{
		mk("g", "SoftCPT-NATA", 16, 2, 92.5, 51.5), // overall 72
		mk("g", "SoftCPT-NATA", 16, 1, 93.1, 46.9), // overall 70
		mk("g", "SoftCPT-NATA", 16, 3, 94.0, 54.0), // overall 74
	}
}

func TestMeanStd(t *testing.T) {
	m, s := MeanStd([]float64{70, 72, 74})
	if !near(m, 72) || !near(s, 1.632993161855452) {
		t.Errorf("MeanStd = %v, %v", m, s)
	}
	if m, s := MeanStd([]float64{5}); m != 5 || s != 0 {
		t.Errorf("one value: %v, %v", m, s)
	}
	if m, s := MeanStd(nil); !math.IsNaN(m) || !math.IsNaN(s) {
		t.Errorf("empty: %v, %v", m, s)
	}
}

func TestAggregateStd(t *testing.T) {
	gs, warns, err := Aggregate(threeSeeds(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("unexpected warnings %v", warns)
	}
	if len(gs) != 1 {
		t.Fatalf("%d groups, want 1", len(gs))
	}
	g := gs[0]
	if g.Benchmark != "g" || g.Method != "SoftCPT-NATA" || g.Shots != 16 || g.Spread != SpreadStd {
		t.Errorf("group %+v", g)
	}
	if len(g.Seeds) != 3 || g.Seeds[0] != 1 || g.Seeds[1] != 2 || g.Seeds[2] != 3 {
		t.Errorf("seeds %v, want [1 2 3]", g.Seeds)
	}
	checkStat(t, "overall", g.Overall, 72, 1.632993161855452, 3)
	if len(g.Tasks) != 2 || g.Tasks[0].Name != "t1" || g.Tasks[0].Metric != "mean_per_class" || g.Tasks[1].Metric != "accuracy" {
		t.Fatalf("tasks %+v", g.Tasks)
	}
	checkStat(t, "t1", g.Tasks[0].Stat, 93.2, 0.6164414002968979, 3)
	checkStat(t, "t2", g.Tasks[1].Stat, 50.8, 2.9405214956987935, 3)
}

func TestAggregateCI95(t *testing.T) {
	gs, _, err := Aggregate(threeSeeds(), Options{CI95: true})
	if err != nil {
		t.Fatal(err)
	}
	g := gs[0]
	if g.Spread != SpreadCI95 {
		t.Errorf("spread kind %q", g.Spread)
	}
	checkStat(t, "overall", g.Overall, 72, 1.8479057215008443, 3)
	checkStat(t, "t1", g.Tasks[0].Stat, 93.2, 0.697569112466046, 3)
	checkStat(t, "t2", g.Tasks[1].Stat, 50.8, 3.327513319115176, 3)
}

func TestAggregateGroupingAndOrder(t *testing.T) {
	rs := append(threeSeeds(),
		mk("g", "CoOp-MT", 16, 1, 60, 58), mk("g", "CoOp-MT", 16, 2, 61, 59), // overall 59, 60
		mk("g", "CoOp-MT", 1, 1, 40, 30),
		mk("g", "ZS-CLIP", 0, 1, 70, 46.58),
		mk("g", "MyMethod", 16, 1, 50, 50),
		mk("a", "SoftCPT-NATA", 16, 1, 10, 20),
	)
	gs, _, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range gs {
		got = append(got, groupName(g))
	}
	want := "a/SoftCPT-NATA/16-shot g/ZS-CLIP/0-shot g/CoOp-MT/1-shot g/CoOp-MT/16-shot g/SoftCPT-NATA/16-shot g/MyMethod/16-shot"
	if strings.Join(got, " ") != want {
		t.Errorf("groups %s\nwant   %s", strings.Join(got, " "), want)
	}
	checkStat(t, "CoOp-MT 16", gs[3].Overall, 59.5, 0.5, 2)
}

func TestAggregateDuplicateSeed(t *testing.T) {
	rs := threeSeeds()
	dup := rs[0]
	rs[0].Path, dup.Path = "/runs/a/results.json", "/runs/b/results.json"
	_, _, err := Aggregate(append(rs, dup), Options{})
	if err == nil || !strings.Contains(err.Error(), "/runs/a/results.json") || !strings.Contains(err.Error(), "/runs/b/results.json") {
		t.Errorf("duplicate seed: error %v does not name both files", err)
	}
}

func TestAggregateWarnings(t *testing.T) {
	rs := threeSeeds()
	// Fewer seeds at 8 shots, and seed 2 at 8 shots lacks task t2 (its
	// overall is then its one task's value).
	rs = append(rs, mk("g", "SoftCPT-NATA", 8, 1, 90, 50), mk("g", "SoftCPT-NATA", 8, 2, 91))
	gs, warns, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, w := range warns {
		if w.Benchmark != "g" {
			t.Errorf("warning for benchmark %q: %s", w.Benchmark, w.Message)
		}
		all += w.Message + "\n"
	}
	for _, want := range []string{"seed 2", "lacks tasks t2", "different seed counts", "different seed counts (2 seed(s): SoftCPT-NATA 8-shot; 3 seed(s): SoftCPT-NATA 16-shot)"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	// Per-task statistics use the seeds that report the task.
	g8 := gs[0]
	checkStat(t, "8-shot t1", g8.Tasks[0].Stat, 90.5, 0.5, 2)
	checkStat(t, "8-shot t2", g8.Tasks[1].Stat, 50, 0, 1)
	checkStat(t, "8-shot overall", g8.Overall, 80.5, 10.5, 2)

	// Different task sets across methods of a benchmark, and a metric
	// that changes between seeds.
	other := mk("g", "CoOp-MT", 16, 1, 60, 58)
	other.Tasks[1].Name = "t9"
	m1, m2 := mk("g", "PLOT", 16, 1, 60, 58), mk("g", "PLOT", 16, 2, 60, 58)
	m2.Tasks[0].Metric = "accuracy"
	_, warns, err = Aggregate(append(threeSeeds(), other, m1, m2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	all = ""
	for _, w := range warns {
		all += w.Message + "\n"
	}
	for _, want := range []string{"different task sets", "different task sets ([t1,t2]: PLOT 16-shot, SoftCPT-NATA 16-shot; [t1,t9]: CoOp-MT 16-shot)", `task t1 has metric "accuracy"`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

func TestShotAverage(t *testing.T) {
	// The paper's NATA row on General-10: (59.47+63.18+67.65+71.15+74.17)/5 = 67.124.
	var rs []Result
	for i, v := range []float64{59.47, 63.18, 67.65, 71.15, 74.17} {
		rs = append(rs, mk("general10", "SoftCPT-NATA", StandardShots[i], 1, v))
	}
	rs = append(rs, mk("general10", "SoftCPT-NATA", 32, 1, 99)) // not one of the five
	rs = append(rs, mk("general10", "CoOp-MT", 1, 1, 50), mk("general10", "CoOp-MT", 16, 1, 60))
	gs, _, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ShotAverage(gs, "general10", "SoftCPT-NATA"); !ok || !near(v, 67.124) {
		t.Errorf("NATA avg = %v, %v; want 67.124", v, ok)
	}
	if _, ok := ShotAverage(gs, "general10", "CoOp-MT"); ok {
		t.Error("CoOp-MT has only 1 and 16 shots but got an average")
	}
	if _, ok := ShotAverage(gs, "other", "SoftCPT-NATA"); ok {
		t.Error("average for an absent benchmark")
	}
}

func TestMethodLess(t *testing.T) {
	ms := []string{"Zeta", "SoftCPT-NATA", "LinearProbe", "CoOp-MT", "SoftCPT-CATA", "ZeroShot", "ProtoNet", "Alpha", "softcpt*"}
	sortMethods := func(xs []string) {
		for i := 1; i < len(xs); i++ {
			for j := i; j > 0 && MethodLess(xs[j], xs[j-1]); j-- {
				xs[j], xs[j-1] = xs[j-1], xs[j]
			}
		}
	}
	sortMethods(ms)
	want := "ZeroShot ProtoNet LinearProbe CoOp-MT softcpt* SoftCPT-NATA Alpha SoftCPT-CATA Zeta"
	if got := strings.Join(ms, " "); got != want {
		t.Errorf("order %s\nwant  %s", got, want)
	}
}

// TestAggregateByConfiguration checks that results of one method with
// several configurations (Result.Run) are aggregated apart, each named
// "METHOD [RUN]" and ranked as the method, that a method with one
// configuration keeps its plain name, and that the same seed in two
// configurations is not a duplicate.
func TestAggregateByConfiguration(t *testing.T) {
	var rs []Result
	for i, r := range threeSeeds() {
		r.Run = "nctx4-aaaaaaaa"
		rs = append(rs, r)
		r.Run, r.Overall, r.Tasks = "nctx16-bbbbbbbb", 50, []TaskResult{{Name: "a", Value: 50 + float64(i)}, {Name: "b", Value: 50 - float64(i)}}
		rs = append(rs, r)
	}
	zs := mk("g", "ZeroShot", 0, 0, 60, 40)
	zs.Run = "templates1-cccccccc"
	gs, _, err := Aggregate(append(rs, zs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Method)
	}
	want := "ZeroShot,SoftCPT-NATA [nctx16-bbbbbbbb],SoftCPT-NATA [nctx4-aaaaaaaa]"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("groups %s, want %s", got, want)
	}
	if g := gs[2]; !near(g.Overall.Mean, 72) || g.Run != "nctx4-aaaaaaaa" || g.Overall.N != 3 {
		t.Errorf("nctx4 group %+v", g)
	}
	if g := gs[1]; !near(g.Overall.Mean, 50) || g.Overall.N != 3 {
		t.Errorf("nctx16 group %+v", g)
	}
}
