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

// TestUnheldSockets: a UDP socket passed in flight over a Unix socket pair
// (SCM_RIGHTS) and closed by its sender is held by no process, though the
// kernel lists it: Detect reports it as a finding of its own (PID 0, with
// the socket), whatever MinScore says. A socket the test holds is not in it.
// Before, it was silently left out.
func TestUnheldSockets(t *testing.T) {
	needLiveRoot(t)
	held, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(held)
	if err := unix.Bind(held, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	inflight, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(inflight, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(inflight)
	port := sa.(*unix.SockaddrInet4).Port
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	if err := unix.Sendmsg(pair[0], []byte{0}, unix.UnixRights(inflight), nil, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(inflight)
	sa, _ = unix.Getsockname(held)
	heldPort := sa.(*unix.SockaddrInet4).Port

	// Where some process's descriptors cannot be read (PID 1 of some
	// sandboxes, even for root), the finding is weaker and names them;
	// MinScore -1 lists it either way.
	sus, err := Detect(context.Background(), Options{MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == 0 })
	if i < 0 {
		t.Fatalf("no finding for the unheld socket: %+v", sus)
	}
	s := sus[i]
	if len(s.Reasons) != 1 || s.Reasons[0].Signal != SignalUnheld {
		t.Fatalf("reasons %v", s.Reasons)
	}
	unsure := strings.Contains(s.Reasons[0].Text, "could not be read")
	if (unsure && s.Score != weightUnheldUnsure) || (!unsure && s.Score != weightHidden) {
		t.Errorf("score %d for %q", s.Score, s.Reasons[0].Text)
	}
	t.Logf("finding: %s", s.Reasons[0])
	if !slices.ContainsFunc(s.Sockets, func(sk Socket) bool { return sk.Proto == ProtoUDP && int(sk.Local.Port()) == port }) {
		t.Errorf("the in-flight socket 127.0.0.1:%d is not listed: %v", port, s.Sockets)
	}
	if slices.ContainsFunc(s.Sockets, func(sk Socket) bool { return int(sk.Local.Port()) == heldPort }) {
		t.Errorf("the socket this test holds (port %d) is listed as unheld", heldPort)
	}
	if _, err := PlanStop(context.Background(), s.PID, StopOptions{}); !errors.Is(err, ErrProcessGone) {
		t.Errorf("PlanStop of the finding: %v, want a refusal", err)
	}
}

// TestUnheldWeight: sockets without a holder are critical when every
// process's descriptors were read, and weak (below DefaultMinScore, with
// the unreadable PIDs named) when some were not.
func TestUnheldWeight(t *testing.T) {
	socks := []*Socket{{Proto: ProtoTCP, Family: 4, Inode: 9, State: "SYN_SENT"}, {Proto: ProtoTCP, Family: 4, Inode: 7, State: "SYN_SENT"}}
	s := unheldSuspect(socks, nil, 64)
	if s.Score != weightHidden || s.SocketCount != 2 || s.Sockets[0].Inode != 7 || s.PID != 0 {
		t.Errorf("all read: %+v", s)
	}
	s = unheldSuspect(socks, []int{1}, 1)
	if s.Score != weightUnheldUnsure || s.Score >= DefaultMinScore || !strings.Contains(s.Reasons[0].Text, "[1]") || len(s.Sockets) != 1 {
		t.Errorf("pid 1 unreadable: %+v", s)
	}
}

// TestUnlistedProcess: a process the /proc listing leaves out (here the
// listing is filtered, standing for a kernel rootkit's getdents hook; the
// BPF task iterator is the real one) is found through the iterator, read
// by name, listed as hidden whatever MinScore says, with its sockets.
// Before, the iterator's files of an unlisted process were dropped as
// "started after the listing".
func TestUnlistedProcess(t *testing.T) {
	needLiveRoot(t)
	bpfOrSkip(t)
	withIter(t, nil)
	cmd := startHelper(t, "hold:20")
	pid := cmd.Process.Pid
	saved := listPIDs
	t.Cleanup(func() { listPIDs = saved })
	listPIDs = func(fs procfs.FS) ([]int, error) {
		pids, err := fs.PIDs()
		return slices.DeleteFunc(pids, func(p int) bool { return p == pid }), err
	}
	sus, err := Detect(context.Background(), Options{MinScore: 1000})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == pid })
	if i < 0 {
		t.Fatalf("unlisted pid %d not found: %+v", pid, sus)
	}
	s := sus[i]
	if !slices.ContainsFunc(s.Reasons, func(r Reason) bool {
		return r.Signal == SignalHidden && strings.Contains(r.Text, "missing from the /proc listing")
	}) || s.SocketCount != 41 || s.Comm == "" {
		t.Errorf("suspect %s sockets %d reasons %v", s.Comm, s.SocketCount, s.Reasons)
	}
	// A process listed normally is not flagged.
	for _, o := range sus {
		if o.PID != pid && slices.ContainsFunc(o.Reasons, func(r Reason) bool { return strings.Contains(r.Text, "missing from the /proc listing") }) {
			t.Errorf("pid %d (%s) flagged as unlisted", o.PID, o.Comm)
		}
	}
}

// TestStopTreeHiddenChildren: a parent runs two children of one program;
// one is hidden by a mount over its /proc/PID, the other is left out of
// the /proc listing (standing for a rootkit's getdents hook). The plan to
// stop the parent's tree lists both (the kernel's children lists name
// them), the plan to stop a child with its supervisor takes the parent
// and both children, and Stop kills all three. Before, the unlisted child
// was missing from the tree and left running.
func TestStopTreeHiddenChildren(t *testing.T) {
	needLiveRoot(t)
	parent := startHelper(t, "spawn:2").Process.Pid
	kids := kernelChildren(procfs.NewDefaultFS(), parent)
	if len(kids) != 2 {
		t.Fatalf("children of %d: %v", parent, kids)
	}
	mounted, unlisted := kids[0], kids[1]
	hide(t, mounted)
	saved := listPIDs
	t.Cleanup(func() { listPIDs = saved })
	listPIDs = func(fs procfs.FS) ([]int, error) {
		pids, err := fs.PIDs()
		return slices.DeleteFunc(pids, func(p int) bool { return p == unlisted }), err
	}
	treeOf := func(p StopPlan) []int {
		out := treePIDs(p)
		slices.Sort(out)
		return out
	}
	all := []int{parent, mounted, unlisted}
	slices.Sort(all)

	ctx := context.Background()
	plan, err := PlanStop(ctx, parent, StopOptions{EvidenceDir: filepath.Join(t.TempDir(), "ev"), MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := treeOf(plan); !slices.Equal(got, all) || plan.Hidden[mounted] == nil {
		t.Errorf("tree %v (hidden %v), want %v with %d hidden", got, plan.Hidden, all, mounted)
	}
	sup, err := PlanStop(ctx, unlisted, StopOptions{Supervisor: true, EvidenceDir: filepath.Join(t.TempDir(), "ev2"), MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	if sup.Target.PID != parent || !slices.Equal(treeOf(sup), all) {
		t.Errorf("with its supervisor: target %d tree %v, want %d %v", sup.Target.PID, treeOf(sup), parent, all)
	}
	res, err := Stop(ctx, plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	killed := slices.Clone(res.Killed)
	slices.Sort(killed)
	if !slices.Equal(killed, all) {
		t.Errorf("killed %v, want %v (warnings %v)", killed, all, res.Warnings)
	}
}
