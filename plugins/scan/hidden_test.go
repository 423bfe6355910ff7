package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// hide hides a process the test started as malware does: an empty
// directory bind-mounted over /proc/PID. The mount goes at cleanup.
func hide(t *testing.T, pid int) {
	t.Helper()
	dir := "/proc/" + itoa(pid)
	if err := unix.Mount(t.TempDir(), dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount over %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if _, err := procfs.NewDefaultFS().Stat(pid); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid %d still readable through /proc after the mount: %v", pid, err)
	}
}

// TestHiddenProcess: a process holding 41 loopback sockets, hidden by
// `mount --bind <empty> /proc/PID`, is listed by Detect as hidden (even
// with a MinScore nothing else reaches) with its sockets and identity;
// Sockets attributes its sockets to it; PlanStop and Stop stop it, and the
// evidence records the mount. Before, it was missing from Detect, its
// sockets had no holder, and PlanStop said it did not exist.
func TestHiddenProcess(t *testing.T) {
	needLiveRoot(t)
	ctx := context.Background()
	cmd := startHelper(t, "hold:20")
	pid := cmd.Process.Pid
	want, _, err := identify(procfs.NewDefaultFS(), pid)
	if err != nil {
		t.Fatal(err)
	}
	hide(t, pid)

	sus, err := Detect(ctx, Options{MinScore: 1000})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == pid })
	if i < 0 {
		t.Fatalf("hidden pid %d not listed: %+v", pid, sus)
	}
	s := sus[i]
	if !slices.ContainsFunc(s.Reasons, func(r Reason) bool {
		return r.Signal == SignalHidden && r.Weight == weightHidden && strings.Contains(r.Text, "/proc/"+itoa(pid))
	}) {
		t.Errorf("reasons %v lack the hidden signal", s.Reasons)
	}
	if s.Comm != want.Comm || s.StartTicks != want.StartTime || s.ExeIno != want.ExeIno || s.SocketCount != 41 {
		t.Errorf("suspect %s start %d exe ino %d sockets %d, want %s %d %d 41", s.Comm, s.StartTicks, s.ExeIno, s.SocketCount, want.Comm, want.StartTime, want.ExeIno)
	}

	socks, err := Sockets(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, sk := range socks {
		if slices.Contains(sk.PIDs, pid) {
			held++
		}
	}
	if held != 41 {
		t.Errorf("Sockets attributes %d sockets to the hidden pid, want 41", held)
	}

	ev := filepath.Join(t.TempDir(), "ev")
	plan, err := PlanStop(ctx, pid, StopOptions{EvidenceDir: ev})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Target.StartTime != want.StartTime || len(plan.Hidden[pid]) != 1 || !strings.Contains(plan.Steps[0], "fresh procfs") {
		t.Errorf("plan target %+v hidden %v steps %q", plan.Target, plan.Hidden, plan.Steps)
	}
	res, err := Stop(ctx, plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Killed, []int{pid}) {
		t.Errorf("killed %v, want [%d] (warnings %v)", res.Killed, pid, res.Warnings)
	}
	var mounts map[int][]procfs.Mount
	readJSON(t, filepath.Join(ev, "hidden-mounts.json"), &mounts)
	if len(mounts[pid]) != 1 || mounts[pid][0].MountPoint != "/proc/"+itoa(pid) {
		t.Errorf("hidden-mounts.json = %v", mounts)
	}
	if b, err := os.ReadFile(filepath.Join(ev, "pid-"+itoa(pid), "cmdline")); err != nil || !strings.Contains(string(b), "-test.run") {
		t.Errorf("cmdline of the hidden process: %q %v", b, err)
	}
	var fds []procfs.FD
	readJSON(t, filepath.Join(ev, "pid-"+itoa(pid), "fds.json"), &fds)
	if n := len(slices.DeleteFunc(fds, func(f procfs.FD) bool { return !strings.HasPrefix(f.Target, "socket:[") })); n != 41 {
		t.Errorf("fds.json lists %d sockets, want 41", n)
	}
}
