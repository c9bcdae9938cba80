package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSacct(t *testing.T) {
	out := "100|COMPLETED|None\n101_0|COMPLETED|None\n101_1|CANCELLED by 0|None\n101_[2-4%2]|PENDING|Dependency\n101_7|TIMEOUT|None\n"
	m, err := parseSacct(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]jobInfo{"100": {"COMPLETED", ""}, "101_0": {"COMPLETED", ""}, "101_1": {"CANCELLED", ""},
		"101_2": {"PENDING", "Dependency"}, "101_3": {"PENDING", "Dependency"}, "101_4": {"PENDING", "Dependency"}, "101_7": {"TIMEOUT", ""}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseSacct = %v, want %v", m, want)
	}
	if _, err := parseSacct("garbage\n"); err == nil {
		t.Error("a line without fields parsed")
	}
	if _, err := parseSacct("5_[3-x]|PENDING|None\n"); err == nil || !strings.Contains(err.Error(), `"5_[3-x]"`) {
		t.Errorf("bad range: %v", err)
	}
}

func TestParseScontrol(t *testing.T) {
	out := `JobId=14 ArrayJobId=13 ArrayTaskId=1 JobName=softcpt-small UserId=root(0) JobState=CANCELLED Reason=None Dependency=(null) ExitCode=0:15
JobId=13 ArrayJobId=13 ArrayTaskId=3-5 ArrayTaskThrottle=2 JobName=softcpt-small JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null)
JobId=12 JobName=softcpt-small-cache JobState=COMPLETED Reason=None Dependency=(null)
`
	m := map[string]jobInfo{}
	parseScontrol(out, m)
	want := map[string]jobInfo{"13_1": {"CANCELLED", ""}, "13_3": {"PENDING", "JobArrayTaskLimit"}, "13_4": {"PENDING", "JobArrayTaskLimit"},
		"13_5": {"PENDING", "JobArrayTaskLimit"}, "12": {"COMPLETED", ""}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseScontrol = %v, want %v", m, want)
	}
}

// slurmFakes writes fake sbatch (job ids from 100 up, arguments logged),
// a sacct without accounting storage, and squeue and scontrol that print
// the files squeue.<job> and scontrol.<job> of dir (or fail as for a
// purged job).
func slurmFakes(t *testing.T) (SlurmTools, string) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "next"), []byte("100"), 0o644)
	return SlurmTools{
		Sbatch: fakeTool(t, dir, "sbatch", `echo "$@" >> `+dir+`/sbatch.log
id=$(cat `+dir+`/next); echo $((id+1)) > `+dir+`/next; echo "$id;local"
`),
		Sacct: fakeTool(t, dir, "sacct", `echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1
`),
		Squeue: fakeTool(t, dir, "squeue", `for a in "$@"; do case $a in --jobs=*) j=${a#--jobs=};; esac; done
f=`+dir+`/squeue.$j; if [ -f $f ]; then cat $f; else echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
`),
		Scancel: fakeTool(t, dir, "scancel", `echo "$@" >> `+dir+`/scancel.log
`),
		Scontrol: fakeTool(t, dir, "scontrol", `f=`+dir+`/scontrol.$4; if [ -f $f ]; then cat $f; else echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
`),
	}, dir
}

func TestSubmitStatusResubmit(t *testing.T) {
	ctx := context.Background()
	s := smallSweep(t)
	tools, fake := slurmFakes(t)
	jobs, err := s.Submit(ctx, SlurmOptions{Command: []string{"/bin/softcpt"}, Throttle: 3, Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Kind != "cache" || jobs[0].ID != "100" || jobs[1].ID != "101" || jobs[1].After != "100" || len(jobs[1].Indices) != 8 {
		t.Fatalf("submitted %+v", jobs)
	}
	log, _ := os.ReadFile(filepath.Join(fake, "sbatch.log"))
	wantLog := "--parsable " + s.path(slurmDir, "cache.sbatch") + "\n--parsable --dependency=afterok:100 " + s.path(slurmDir, "array.sbatch") + "\n"
	if string(log) != wantLog {
		t.Errorf("sbatch calls:\n%s\nwant\n%s", log, wantLog)
	}
	if recorded, _ := s.Jobs(); !reflect.DeepEqual(recorded, jobs) {
		t.Errorf("jobs.json %+v, want %+v", recorded, jobs)
	}
	if _, err := s.Submit(ctx, SlurmOptions{Command: []string{"/bin/softcpt"}, Tools: tools}); err == nil || !strings.Contains(err.Error(), "submitted already") {
		t.Errorf("second submit: %v", err)
	}

	// The cache job is gone from squeue: scontrol knows it completed; the
	// array's tasks are in squeue, except 6 and 7.
	s.mark(cacheID, markDone, marker{})
	os.WriteFile(filepath.Join(fake, "scontrol.100"), []byte("JobId=100 JobName=c JobState=COMPLETED Reason=None\n"), 0o644)
	os.WriteFile(filepath.Join(fake, "squeue.101"), []byte("101_0|COMPLETED|None\n101_1|RUNNING|None\n101_2|CANCELLED|None\n101_[3-5%3]|PENDING|JobArrayTaskLimit\n"), 0o644)
	s.mark(s.Cells[0].ID, markDone, marker{})
	s.mark(s.Cells[7].ID, markFailed, marker{Error: "CUDA out of memory"})
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{Done, Running, Failed, Pending, Pending, Pending, Missing, Failed}
	for i, c := range st.Cells {
		if c.State != want[i] {
			t.Errorf("cell %d: %+v, want %s", i, c, want[i])
		}
	}
	if st.Cache.State != Done || st.Source != "squeue+scontrol" || st.Cells[2].Slurm != "CANCELLED" || st.Cells[7].Detail != "CUDA out of memory" || st.Cells[3].Detail != "JobArrayTaskLimit" {
		t.Errorf("status %+v", st)
	}
	var b bytes.Buffer
	st.Write(&b)
	if !strings.Contains(b.String(), "8 cells: 1 done, 1 running, 3 pending, 2 failed, 1 missing") {
		t.Errorf("status table:\n%s", b.String())
	}

	// Resubmitting: one array of cells 2, 6, 7, with no dependency (the
	// cache is done).
	jobs, err = s.ResubmitFailed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].ID != "102" || !reflect.DeepEqual(jobs[0].Indices, []int{2, 6, 7}) || jobs[0].After != "" {
		t.Fatalf("resubmitted %+v", jobs)
	}
	script, _ := os.ReadFile(s.path(slurmDir, "resubmit-1.sbatch"))
	if !strings.Contains(string(script), "#SBATCH --array=2,6-7%3\n") {
		t.Errorf("resubmit script:\n%s", script)
	}
	log, _ = os.ReadFile(filepath.Join(fake, "sbatch.log"))
	if !strings.HasSuffix(string(log), "--parsable "+s.path(slurmDir, "resubmit-1.sbatch")+"\n") {
		t.Errorf("sbatch calls:\n%s", log)
	}
	// The resubmitted cells follow their new tasks.
	os.WriteFile(filepath.Join(fake, "squeue.102"), []byte("102_2|RUNNING|None\n102_[6-7]|PENDING|None\n"), 0o644)
	st, _ = s.Status(ctx)
	if st.Cells[2].State != Running || st.Cells[2].Job != "102_2" || st.Cells[6].State != Pending || st.Cells[7].State != Pending {
		t.Errorf("after resubmission: %+v", st.Cells)
	}
	if jobs, err := s.ResubmitFailed(ctx); err != nil || len(jobs) != 0 {
		t.Errorf("nothing failed: resubmitted %+v, %v", jobs, err)
	}
}

// When the cache is not done, a resubmission waits for a cache job still
// in the queue, or submits the cache again.
func TestResubmitCache(t *testing.T) {
	ctx := context.Background()
	s := smallSweep(t)
	tools, fake := slurmFakes(t)
	if _, err := s.Submit(ctx, SlurmOptions{Command: []string{"/bin/softcpt"}, Tools: tools}); err != nil {
		t.Fatal(err)
	}
	// The cache job failed: its tasks wait for ever.
	os.WriteFile(filepath.Join(fake, "squeue.100"), []byte("100|FAILED|NonZeroExitCode\n"), 0o644)
	os.WriteFile(filepath.Join(fake, "squeue.101"), []byte("101_[0-7]|PENDING|DependencyNeverSatisfied\n"), 0o644)
	st, _ := s.Status(ctx)
	if st.Cache.State != Failed || st.Count()[Failed] != 8 {
		t.Fatalf("status %+v", st)
	}
	jobs, err := s.ResubmitFailed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Kind != "cache" || jobs[0].ID != "102" || jobs[1].After != "102" {
		t.Errorf("resubmitted %+v, want a new cache job and an array after it", jobs)
	}
	b, _ := os.ReadFile(filepath.Join(fake, "scancel.log"))
	if string(b) != "101_0 101_1 101_2 101_3 101_4 101_5 101_6 101_7\n" {
		t.Errorf("scancel calls %q, want the 8 stuck tasks", b)
	}
}

func TestStatusWithoutSlurm(t *testing.T) {
	s := smallSweep(t)
	s.mark(s.Cells[1].ID, markRunning, marker{}) // a process that died
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != "" || st.Cache.State != Missing || st.Cells[0].State != Missing || st.Cells[1].State != Failed {
		t.Errorf("status %+v", st)
	}
	if _, err := s.ResubmitFailed(context.Background()); err == nil || !strings.Contains(err.Error(), "--slurm") {
		t.Errorf("resubmitting a sweep never submitted: %v", err)
	}
}

// With accounting storage, sacct alone gives the states.
func TestStatusFromSacct(t *testing.T) {
	ctx := context.Background()
	s := smallSweep(t)
	tools, fake := slurmFakes(t)
	tools.Sacct = fakeTool(t, fake, "sacct-ok", `echo "100|COMPLETED|None"
echo "101_0|RUNNING|None"
echo "101_1|CANCELLED by 0|None"
echo "101_[2-7%2]|PENDING|JobArrayTaskLimit"
`)
	if _, err := s.Submit(ctx, SlurmOptions{Command: []string{"/bin/softcpt"}, Tools: tools}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := st.Count()
	if st.Source != "sacct" || n[Running] != 1 || n[Failed] != 1 || n[Pending] != 6 || st.Cells[1].Slurm != "CANCELLED" {
		t.Errorf("status from sacct: %v, %+v", n, st)
	}
	// The cache job completed without writing its done marker: failed.
	if st.Cache.State != Failed || !strings.Contains(st.Cache.Detail, "without a done marker") {
		t.Errorf("cache %+v", st.Cache)
	}
}
