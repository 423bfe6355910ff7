package scan

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/internal/testenv"
)

// startBeat starts a heartbeat: a shell that rewrites a file every 20 ms
// while it runs (waitBeat tells a running one from a frozen one).
func startBeat(t *testing.T, beat string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.02; done`, beat)
	startCmd(t, cmd)
	waitBeat(t, beat, "")
	return cmd
}

// takePID starts a heartbeat whose PID is pid, which must be free (its
// process reaped): ns_last_pid is set to pid-1 right before each fork.
// Other processes of the host fork too, so it tries again until the PID
// comes out right. This is a real PID reuse, not a simulated one.
func takePID(t *testing.T, pid int, beat string) *exec.Cmd {
	t.Helper()
	for range 500 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(itoa(pid-1)), 0); err != nil {
			testenv.Skipf(t, "cannot choose the next PID: %v", err)
		}
		cmd := exec.Command("/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.02; done`, beat)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			return cmd
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Fatalf("PID %d never came back after 500 forks", pid)
	return nil
}

// removeCgroupLater removes a freezer cgroup a failed test left, once the
// test's processes are killed (cleanups run last first).
func removeCgroupLater(t *testing.T) *string {
	dir := new(string)
	t.Cleanup(func() {
		if *dir != "" {
			os.Remove(*dir)
		}
	})
	return dir
}

func setAfterFreeze(t *testing.T, f func()) {
	t.Helper()
	afterFreeze = f
	t.Cleanup(func() { afterFreeze = nil })
}

func setBeforeMove(t *testing.T, f func(pid int)) {
	t.Helper()
	beforeMove = f
	t.Cleanup(func() { beforeMove = nil })
}

// frozenIn reports whether pid is in the freezer cgroup dir.
func inCgroup(fs procfs.FS, pid int, dir string) bool {
	return cgroupPath(fs, pid) == "/"+filepath.Base(dir)
}

// TestStopThawsSurvivors: a process in the freezer cgroup that Stop does
// not kill (one born there between the move and the freeze, which the test
// stands for by moving a process of its own in once the cgroup is frozen)
// is thawed and moved back to the target's cgroup after a successful stop,
// and the freezer cgroup is removed. Before the fix it stayed frozen for
// good in a cgroup that could not be removed.
func TestStopThawsSurvivors(t *testing.T) {
	needLiveRoot(t)
	cgdir := removeCgroupLater(t)
	fs := procfs.NewDefaultFS()
	if cgroup2Mount(fs) == "" {
		testenv.Skipf(t, "no cgroup v2 hierarchy mounted")
	}
	dir := t.TempDir()
	target := exec.Command("/bin/sleep", "600")
	startCmd(t, target)
	beat := filepath.Join(dir, "beat")
	other := startBeat(t, beat)
	before := cgroupPath(fs, target.Process.Pid)
	plan, err := PlanStop(context.Background(), target.Process.Pid, StopOptions{EvidenceDir: filepath.Join(dir, "ev"), Freezer: FreezeCgroup, NoTree: true})
	if err != nil {
		t.Fatal(err)
	}
	*cgdir = plan.CgroupDir
	setAfterFreeze(t, func() {
		if err := os.WriteFile(filepath.Join(plan.CgroupDir, "cgroup.procs"), []byte(itoa(other.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
	})
	var frozenBeat string
	setBeforeKill(t, func([]pidfd) {
		b, _ := os.ReadFile(beat)
		frozenBeat = string(b)
	})
	res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Killed, []int{target.Process.Pid}) {
		t.Errorf("killed %v, want only %d", res.Killed, target.Process.Pid)
	}
	if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
		t.Errorf("freezer cgroup %s left behind: %v", plan.CgroupDir, err)
	}
	if got := cgroupPath(fs, other.Process.Pid); got != before {
		t.Errorf("survivor in cgroup %q after Stop, want %q", got, before)
	}
	waitBeat(t, beat, frozenBeat)
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, itoa(other.Process.Pid)) }) {
		t.Errorf("no warning names the survivor %d: %v", other.Process.Pid, res.Warnings)
	}
}

// TestStopCgroupPIDReuse: the PID of a tree member is reused between the
// pidfd check and the write to cgroup.procs (a real reuse, through
// ns_last_pid). The process now behind the PID is never left in the
// freezer, never captured as the member, and runs on; the target is still
// frozen, captured and killed. Before the fix the newcomer was moved into
// the frozen cgroup by number, captured, and left there frozen for good.
func TestStopCgroupPIDReuse(t *testing.T) {
	needLiveRoot(t)
	cgdir := removeCgroupLater(t)
	fs := procfs.NewDefaultFS()
	if cgroup2Mount(fs) == "" {
		testenv.Skipf(t, "no cgroup v2 hierarchy mounted")
	}
	dir := t.TempDir()
	target := exec.Command("/bin/sleep", "600")
	startCmd(t, target)
	member := exec.Command("/bin/sleep", "600")
	startCmd(t, member)
	mpid := member.Process.Pid
	before := cgroupPath(fs, mpid)
	ev := filepath.Join(dir, "ev")
	plan, err := PlanStop(context.Background(), target.Process.Pid, StopOptions{EvidenceDir: ev, Freezer: FreezeCgroup, NoTree: true})
	if err != nil {
		t.Fatal(err)
	}
	*cgdir = plan.CgroupDir
	mid, _, err := identify(fs, mpid)
	if err != nil {
		t.Fatal(err)
	}
	plan.Tree = []Identity{mid}
	beat := filepath.Join(dir, "beat")
	var newcomer *exec.Cmd
	setBeforeMove(t, func(pid int) {
		if pid != mpid || newcomer != nil {
			return
		}
		member.Process.Kill()
		member.Wait()
		newcomer = takePID(t, mpid, beat)
		waitBeat(t, beat, "")
	})
	var inFreezer bool
	setBeforeKill(t, func(members []pidfd) {
		inFreezer = inCgroup(fs, mpid, plan.CgroupDir)
	})
	res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if newcomer == nil {
		t.Fatal("the member was never moved")
	}
	if inFreezer {
		t.Error("the process that reused the member's PID was in the freezer during the capture")
	}
	if !slices.Equal(res.Killed, []int{target.Process.Pid}) || !slices.Equal(res.Frozen, []int{target.Process.Pid}) {
		t.Errorf("frozen %v killed %v, want only the target %d", res.Frozen, res.Killed, target.Process.Pid)
	}
	if _, err := os.Stat(filepath.Join(ev, "pid-"+itoa(mpid))); !os.IsNotExist(err) {
		t.Errorf("the newcomer was captured as the member: %v", err)
	}
	if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
		t.Errorf("freezer cgroup %s left behind: %v", plan.CgroupDir, err)
	}
	if got := cgroupPath(fs, mpid); got != before {
		t.Errorf("newcomer in cgroup %q, want %q", got, before)
	}
	b, _ := os.ReadFile(beat)
	waitBeat(t, beat, string(b))
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, itoa(mpid)) }) {
		t.Errorf("no warning names the member %d: %v", mpid, res.Warnings)
	}
}

// TestStopCancelledThaws: a Stop cancelled while it captures kills nothing,
// thaws the tree and removes the freezer cgroup.
func TestStopCancelledThaws(t *testing.T) {
	needLiveRoot(t)
	for _, freezer := range []string{FreezeSignal, FreezeCgroup} {
		t.Run(freezer, func(t *testing.T) {
			cgdir := removeCgroupLater(t)
			fs := procfs.NewDefaultFS()
			if freezer == FreezeCgroup && cgroup2Mount(fs) == "" {
				t.Skip("no cgroup v2 hierarchy mounted")
			}
			dir := t.TempDir()
			beat := filepath.Join(dir, "beat")
			cmd := startBeat(t, beat)
			before := cgroupPath(fs, cmd.Process.Pid)
			plan, err := PlanStop(context.Background(), cmd.Process.Pid, StopOptions{EvidenceDir: filepath.Join(dir, "ev"), Freezer: freezer, NoTree: true})
			if err != nil {
				t.Fatal(err)
			}
			*cgdir = plan.CgroupDir
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var frozenBeat string
			setAfterFreeze(t, func() {
				b, _ := os.ReadFile(beat)
				frozenBeat = string(b)
				cancel()
			})
			res, err := Stop(ctx, plan, ApplyOptions{Apply: true})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if len(res.Killed) != 0 {
				t.Errorf("killed %v after cancellation", res.Killed)
			}
			if plan.CgroupDir != "" {
				if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
					t.Errorf("freezer cgroup left behind: %v", err)
				}
				if got := cgroupPath(fs, cmd.Process.Pid); got != before {
					t.Errorf("cgroup %q after Stop, want %q", got, before)
				}
			}
			waitBeat(t, beat, frozenBeat)
		})
	}
}
