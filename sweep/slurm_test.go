package sweep

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slurmTestEnv enables the real-Slurm test.
const slurmTestEnv = "SOFTCPT_SLURM_TEST"

// TestSlurm runs sweeps on a real one-node Slurm started for the test
// (Debian's slurmctld, slurmd and munge, installed with apt-get when
// missing). "softcpt" builds the softcpt binary and runs a 2 methods × 2
// shots × 2 seeds sweep on the shipped data through it (slurmSoftcpt).
// The other subtests use the test binary as a fake softcpt whose cells
// sleep a few seconds: one cancels a running array task, checks that its
// status is failed, resubmits the failed cells and checks that every cell
// ends done, each run to completion exactly once, all after the one
// feature-cache job; one checks the requeue after the time-limit signal.
func TestSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real-Slurm test")
	}
	if os.Getenv(slurmTestEnv) == "" {
		t.Skipf("set %s=1 to run the real-Slurm test (needs root; installs Debian's Slurm and munge with apt-get when missing)", slurmTestEnv)
	}
	c := startSlurm(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("softcpt", func(t *testing.T) { slurmSoftcpt(t, c) })
	t.Run("cancel and resubmit", func(t *testing.T) { slurmCancelResubmit(t, c, exe) })
	t.Run("time-limit requeue", func(t *testing.T) { slurmTimeLimit(t, c, exe) })
}

func slurmCancelResubmit(t *testing.T, c *slurmCluster, exe string) {
	ctx := context.Background()
	s := smallSweep(t)
	o := SlurmOptions{Command: []string{"env", "SWEEP_FAKE_RUNNER=1", "SWEEP_FAKE_CACHE_SECS=2", "SWEEP_FAKE_CELL_SECS=4", exe},
		Throttle: 2, Time: "10", CPUsPerTask: 1}
	jobs, err := s.Submit(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted %+v", jobs)
	array := jobs[1].ID

	// Cancel the first cell seen running.
	victim := -1
	c.waitFor(t, 90*time.Second, "an array task running", func() bool {
		st := status(t, s)
		for _, cs := range st.Cells {
			if cs.State == Running && len(fakeLog(t, s, cs.ID)) > 0 {
				victim = cs.Index
				return true
			}
		}
		return false
	})
	t.Logf("cancelling cell %d (%s_%d)", victim, array, victim)
	c.run(t, "scancel", fmt.Sprintf("%s_%d", array, victim))

	c.waitCancelled(t, s, victim, 120*time.Second)
	if m, ok := s.marked(s.Cells[victim].ID, markInterrupted); !ok || m.Requeued {
		t.Errorf("cancelled cell's marker %+v (%v): want interrupted, not requeued", m, ok)
	}

	again, err := s.ResubmitFailed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || !reflect.DeepEqual(again[0].Indices, []int{victim}) || again[0].After != "" {
		t.Fatalf("resubmitted %+v, want one array of cell %d without a cache job", again, victim)
	}
	c.waitFor(t, 90*time.Second, "every cell done", func() bool { return status(t, s).Count()[Done] == len(s.Cells) })

	// The cache ran once, before every cell; every cell ran to the end
	// once, the cancelled one after one interrupted attempt.
	cache := fakeLog(t, s, cacheID)
	if len(cache) != 2 || cache[0].what != "start" || cache[1].what != "end" {
		t.Fatalf("cache log %v, want one start and one end", cache)
	}
	for _, cell := range s.Cells {
		l := fakeLog(t, s, cell.ID)
		var whats []string
		for _, e := range l {
			whats = append(whats, e.what)
			if e.what == "start" && e.time < cache[1].time {
				t.Errorf("cell %d started before the cache job ended (%v)", cell.Index, l)
			}
		}
		want := "start end"
		if cell.Index == victim {
			want = "start interrupted start end"
		}
		if got := strings.Join(whats, " "); got != want {
			t.Errorf("cell %d attempts %q, want %q", cell.Index, got, want)
		}
	}
}

// slurmTimeLimit runs one cell whose first attempt outlasts its 2-minute
// time limit: the time-limit signal (USR1, 90 s before the limit; Slurm
// checks limits every 30 s, so it comes 30–60 s after the start) makes
// it save its checkpoint and requeue itself; the requeued task finishes.
func slurmTimeLimit(t *testing.T, c *slurmCluster, exe string) {
	ctx := context.Background()
	s, err := Create(filepath.Join(t.TempDir(), "limit"), &Spec{Benchmark: "general10", Model: "/m.pt", Output: "/out",
		Methods: []string{"nata"}, Shots: []int{1}, Seeds: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	o := SlurmOptions{Command: []string{"env", "SWEEP_FAKE_RUNNER=1", "SWEEP_FAKE_CACHE_SECS=1", "SWEEP_FAKE_FIRST_SECS=300", "SWEEP_FAKE_CELL_SECS=2", exe},
		Time: "2", Signal: "USR1@90"}
	jobs, err := s.Submit(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.waitFor(t, 5*time.Minute, "the cell to end", func() bool {
		n := status(t, s).Count()
		return n[Pending] == 0 && n[Running] == 0 && len(fakeLog(t, s, cacheID)) == 2
	})
	st := status(t, s)
	t.Logf("ended %v after submission:\n%s", time.Since(start).Round(time.Second), statusTable(st))
	if st.Cells[0].State != Done {
		t.Errorf("cell %+v, want done", st.Cells[0])
	}
	id := s.Cells[0].ID
	var whats []string
	for _, e := range fakeLog(t, s, id) {
		t.Logf("%s at %v", e.what, time.Unix(0, e.time).Sub(start).Round(time.Second))
		whats = append(whats, e.what)
		if e.job != jobs[1].ID+"_0" {
			t.Errorf("attempt %v ran in job %s, want %s_0 (the requeued task)", e, e.job, jobs[1].ID)
		}
	}
	if got := strings.Join(whats, " "); got != "start interrupted start end" {
		t.Errorf("attempts %q, want one interrupted by the time-limit signal, then one to the end", got)
	}
	h, err := s.history(id)
	var states []string
	for _, m := range h {
		states = append(states, m.State)
	}
	if err != nil || strings.Join(states, " ") != "running interrupted running done" || !h[1].Requeued || h[1].Signal != "USR1" {
		t.Errorf("history %+v (%v), want running, interrupted (requeued after SIGUSR1), running, done", h, err)
	}
}

// waitCancelled waits for the first array of s to finish and checks that
// every cell is done but victim, which failed, cancelled.
func (c *slurmCluster) waitCancelled(t *testing.T, s *Sweep, victim int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	c.waitFor(t, limit, "the first array to finish", func() bool {
		n := status(t, s).Count()
		return n[Pending] == 0 && n[Running] == 0
	})
	st := status(t, s)
	t.Logf("status %v later (from %s):\n%s", time.Since(start).Round(time.Second), st.Source, statusTable(st))
	for _, cs := range st.Cells {
		want := Done
		if cs.Index == victim {
			want = Failed
		}
		if cs.State != want {
			t.Errorf("cell %d: %+v, want %s", cs.Index, cs, want)
		}
	}
	if cs := st.Cells[victim]; cs.Slurm != "CANCELLED" {
		t.Errorf("cancelled cell %+v: want Slurm state CANCELLED", cs)
	}
}

// fakeEvent is one line of fileRunner's log.
type fakeEvent struct {
	what string
	time int64
	job  string
}

func fakeLog(t *testing.T, s *Sweep, id string) []fakeEvent {
	f, err := os.Open(s.path("fake", id+".log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []fakeEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e fakeEvent
		fmt.Sscan(sc.Text(), &e.what, &e.time, &e.job)
		out = append(out, e)
	}
	return out
}

func status(t *testing.T, s *Sweep) *Status {
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func statusTable(st *Status) string {
	var b strings.Builder
	st.Write(&b)
	return b.String()
}

// slurmCluster is a one-node Slurm started by a test.
type slurmCluster struct {
	dir, conf string
}

// startSlurm installs Slurm and munge when missing, writes a one-node
// slurm.conf into a temporary folder (SLURM_CONF), starts munged,
// slurmctld and slurmd in the foreground on free ports, waits for the
// node to be idle, and stops them by process id when the test ends.
func startSlurm(t *testing.T) *slurmCluster {
	if os.Geteuid() != 0 {
		t.Skip("the real-Slurm test needs root (it installs and starts Slurm's daemons)")
	}
	need := []string{"slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "munged"}
	missing := false
	for _, n := range need {
		if _, err := exec.LookPath(n); err != nil {
			missing = true
		}
	}
	if missing {
		t.Log("installing slurmctld slurmd slurm-client munge with apt-get")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "slurmctld", "slurmd", "slurm-client", "munge")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot install Slurm with apt-get (%v): %s", err, tail(string(out), 800))
		}
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	c := &slurmCluster{dir: t.TempDir()}
	for _, d := range []string{"state", "spool"} {
		if err := os.Mkdir(filepath.Join(c.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(c.dir, "munge.socket")
	conf := fmt.Sprintf(`ClusterName=sweeptest
SlurmctldHost=%[1]s
SlurmctldPort=%[3]d
SlurmdPort=%[4]d
AuthInfo=socket=%[5]s,cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%[2]s/state
SlurmdSpoolDir=%[2]s/spool
SlurmctldPidFile=%[2]s/slurmctld.pid
SlurmdPidFile=%[2]s/slurmd.pid
SlurmctldLogFile=%[2]s/slurmctld.log
SlurmdLogFile=%[2]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
ReturnToService=2
MpiDefault=none
MinJobAge=3600
KillWait=5
NodeName=%[1]s CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, host, c.dir, freePort(t), freePort(t), sock)
	c.conf = filepath.Join(c.dir, "slurm.conf")
	if err := os.WriteFile(c.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", c.conf)

	c.daemon(t, "munged", "--foreground", "--force", "--socket="+sock, "--pid-file="+filepath.Join(c.dir, "munged.pid"),
		"--log-file="+filepath.Join(c.dir, "munged.log"), "--seed-file="+filepath.Join(c.dir, "munged.seed"))
	c.waitFor(t, 20*time.Second, "munged's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	c.daemon(t, "slurmctld", "-D", "-c")
	c.daemon(t, "slurmd", "-D")
	c.waitFor(t, 60*time.Second, "the node to be idle", func() bool {
		out, err := exec.Command("sinfo", "--noheader", "--format=%t").Output()
		return err == nil && strings.TrimSpace(string(out)) == "idle"
	})
	t.Cleanup(func() { // before the daemons stop (cleanups run last first)
		exec.Command("scancel", "--user=root").Run()
		c.waitFor(t, 30*time.Second, "the queue to empty", func() bool {
			out, err := exec.Command("squeue", "--noheader").Output()
			return err == nil && strings.TrimSpace(string(out)) == ""
		})
	})
	return c
}

// daemon starts a daemon in the foreground and stops it by its process
// id at the end of the test.
func (c *slurmCluster) daemon(t *testing.T, name string, args ...string) {
	cmd := exec.Command(name, args...)
	out, err := os.Create(filepath.Join(c.dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-exited:
		b, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
		t.Fatalf("%s exited at once: %s\n%s", name, b, tail(string(log), 1500))
	case <-time.After(300 * time.Millisecond):
	}
}

// run runs a Slurm command and fails the test when it fails.
func (c *slurmCluster) run(t *testing.T, name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond every 250 ms until it holds or the time is up; then
// it fails the test with the tails of the daemons' logs.
func (c *slurmCluster) waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if cond() {
			return
		}
	}
	var logs []string
	for _, n := range []string{"slurmctld.log", "slurmd.log", "munged.log"} {
		b, _ := os.ReadFile(filepath.Join(c.dir, n))
		logs = append(logs, n+":\n"+tail(string(b), 1500))
	}
	squeue, _ := exec.Command("squeue", "--array", "--states=all").CombinedOutput()
	t.Fatalf("waited %v for %s\nsqueue:\n%s\n%s", limit, what, squeue, strings.Join(logs, "\n"))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
