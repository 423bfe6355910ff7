package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/internal/taskfiles"
	"github.com/google/go-cmp/cmp"
)

// heldBy is the sockets of a table that any of pids holds.
func heldBy(all []Socket, pids ...int) []Socket {
	var out []Socket
	for _, s := range all {
		if slices.ContainsFunc(s.PIDs, func(p int) bool { return slices.Contains(pids, p) }) {
			out = append(out, s)
		}
	}
	return out
}

// withIter makes take use the BPF pass on any host and counts its runs
// through read (nil: taskfiles.Read).
func withIter(t *testing.T, read func([]taskfiles.File) ([]taskfiles.File, error)) *int {
	t.Helper()
	savedMin, savedRead := iterMinProcs, readFiles
	t.Cleanup(func() { iterMinProcs, readFiles = savedMin, savedRead })
	if read == nil {
		read = taskfiles.Read
	}
	n := new(int)
	iterMinProcs = 0
	readFiles = func(dst []taskfiles.File) ([]taskfiles.File, error) {
		*n++
		return read(dst)
	}
	return n
}

func bpfOrSkip(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program")
	}
	if fs, err := procfs.NewFS("/proc"); err != nil || !fs.IsLive() {
		t.Skip("no live /proc")
	}
	if _, err := taskfiles.Read(nil); errors.Is(err, taskfiles.ErrUnsupported) {
		t.Skipf("no BPF task_file iterator: %v", err)
	}
}

// helpersHolding starts n helpers holding conns loopback connections each
// (2×conns+1 sockets) and returns their pids.
func helpersHolding(t *testing.T, n, conns int) []int {
	var pids []int
	for range n {
		pids = append(pids, startHelper(t, fmt.Sprintf("hold:%d", conns)).Process.Pid)
	}
	return pids
}

var addrPortEq = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

// TestSocketsBPFMatchesProc compares the table built from the BPF pass with
// the one built from /proc/PID/fd, on real processes holding sockets, both
// with the netlink dump and with /proc/net files.
func TestSocketsBPFMatchesProc(t *testing.T) {
	bpfOrSkip(t)
	const conns = 20
	pids := helpersHolding(t, 3, conns)
	runs := withIter(t, nil)
	for _, noNetlink := range []bool{false, true} {
		viaProc, err := Sockets(context.Background(), Options{NoBPF: true, NoNetlink: noNetlink})
		if err != nil {
			t.Fatal(err)
		}
		before := *runs
		viaBPF, err := Sockets(context.Background(), Options{NoNetlink: noNetlink})
		if err != nil {
			t.Fatal(err)
		}
		if *runs != before+1 {
			t.Fatalf("the BPF pass ran %d times, want once", *runs-before)
		}
		want := heldBy(viaProc, pids...)
		if len(want) != len(pids)*(2*conns+1) {
			t.Fatalf("netlink %v: /proc pass: %d sockets of the helpers, want %d", !noNetlink, len(want), len(pids)*(2*conns+1))
		}
		for _, s := range want {
			if len(s.PIDs) != 1 {
				t.Errorf("%v: holders %v, want one helper", s, s.PIDs)
			}
		}
		if diff := cmp.Diff(want, heldBy(viaBPF, pids...), addrPortEq); diff != "" {
			t.Errorf("netlink %v: /proc pass vs BPF pass (-proc +bpf):\n%s", !noNetlink, diff)
		}
	}
}

// TestSocketsBPFFallback: where the BPF pass fails, or leaves a process
// out (as the kernel may hide some from it), the process is read through
// /proc and the table is the same.
func TestSocketsBPFFallback(t *testing.T) {
	bpfOrSkip(t)
	pids := helpersHolding(t, 2, 10)
	want, err := Sockets(context.Background(), Options{NoBPF: true})
	if err != nil {
		t.Fatal(err)
	}
	want = heldBy(want, pids...)
	for _, tc := range []struct {
		name string
		read func([]taskfiles.File) ([]taskfiles.File, error)
	}{
		{"unsupported", func(dst []taskfiles.File) ([]taskfiles.File, error) {
			return dst, fmt.Errorf("%w: test", taskfiles.ErrUnsupported)
		}},
		{"one process hidden", func(dst []taskfiles.File) ([]taskfiles.File, error) {
			files, err := taskfiles.Read(dst)
			return slices.DeleteFunc(files, func(f taskfiles.File) bool { return int(f.PID) == pids[0] }), err
		}},
	} {
		runs := withIter(t, tc.read)
		for _, full := range []bool{false, true} {
			var got []Socket
			if full {
				// Detect's pass (stat, exe and descriptors of each process)
				// gives the same holders.
				sus, err := Detect(context.Background(), Options{MinScore: -1, MaxSockets: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				got = suspectsSockets(sus, pids)
			} else {
				all, err := Sockets(context.Background(), Options{})
				if err != nil {
					t.Fatal(err)
				}
				got = heldBy(all, pids...)
			}
			if *runs == 0 {
				t.Fatalf("%s: the BPF pass did not run", tc.name)
			}
			if diff := cmp.Diff(want, got, addrPortEq); diff != "" {
				t.Errorf("%s (Detect %v): (-/proc pass +fallback):\n%s", tc.name, full, diff)
			}
		}
	}
}

// suspectsSockets is the sockets Detect lists for pids, in Sockets' order.
func suspectsSockets(sus []Suspect, pids []int) []Socket {
	var out []Socket
	for _, s := range sus {
		if slices.Contains(pids, s.PID) {
			out = append(out, s.Sockets...)
		}
	}
	slices.SortFunc(out, func(a, b Socket) int { return int(a.Inode) - int(b.Inode) })
	return out
}

// TestSocketsWorkers: the worker pool gives the table one worker gives.
func TestSocketsWorkers(t *testing.T) {
	if fs, err := procfs.NewFS("/proc"); err != nil || !fs.IsLive() {
		t.Skip("no live /proc")
	}
	pids := helpersHolding(t, 4, 10)
	one, err := Sockets(context.Background(), Options{NoBPF: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, err := Sockets(context.Background(), Options{NoBPF: true, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := heldBy(one, pids...)
	if len(want) != 4*21 {
		t.Fatalf("one worker: %d sockets of the helpers, want %d", len(want), 4*21)
	}
	if diff := cmp.Diff(want, heldBy(many, pids...), addrPortEq); diff != "" {
		t.Errorf("(-1 worker +8 workers):\n%s", diff)
	}
}

// TestIterThreshold: the BPF pass runs on a host with many processes or
// many open files, not on a small one.
func TestIterThreshold(t *testing.T) {
	bpfOrSkip(t)
	runs := withIter(t, nil)
	savedPre, savedFiles := prefetchMin, iterMinFiles
	defer func() { prefetchMin, iterMinFiles = savedPre, savedFiles }()
	prefetchMin = 1 << 30
	for _, tc := range []struct {
		name         string
		procs, files int
		want         int
	}{
		{"small host", 1 << 30, 1 << 30, 0},
		{"many processes", 0, 1 << 30, 1},
		{"many files", 1 << 30, 0, 1},
	} {
		iterMinProcs, iterMinFiles = tc.procs, tc.files
		before := *runs
		if _, err := Sockets(context.Background(), Options{}); err != nil {
			t.Fatal(err)
		}
		if got := *runs - before; got != tc.want {
			t.Errorf("%s: the BPF pass ran %d times, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSocketsHoldersOnce: a process is listed once as a socket's holder
// however many descriptors or descriptor tables of it hold the socket
// (dup, threads sharing a table, a thread with a copy of its own), and
// a socket shared with another process lists both; with the BPF pass and
// with /proc.
func TestSocketsHoldersOnce(t *testing.T) {
	bpfOrSkip(t)
	own := startHelper(t, "own-table").Process.Pid
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.(*net.UDPConn).File() // a second descriptor of the socket
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	child := exec.Command("/bin/sleep", "30")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	port := c.LocalAddr().(*net.UDPAddr).Port
	self, kid := os.Getpid(), child.Process.Pid
	runs := withIter(t, nil)
	for _, noBPF := range []bool{true, false} {
		all, err := Sockets(context.Background(), Options{NoBPF: noBPF})
		if err != nil {
			t.Fatal(err)
		}
		ownSocks := heldBy(all, own)
		if len(ownSocks) != 1 || !slices.Equal(ownSocks[0].PIDs, []int{own}) {
			t.Errorf("NoBPF %v: sockets of the process with two tables: %v, want one held by [%d]", noBPF, ownSocks, own)
		}
		var shared []Socket
		for _, s := range all {
			if s.Proto == ProtoUDP && int(s.Local.Port()) == port {
				shared = append(shared, s)
			}
		}
		want := []int{min(self, kid), max(self, kid)}
		if len(shared) != 1 || !slices.Equal(shared[0].PIDs, want) {
			t.Errorf("NoBPF %v: the socket held twice and shared with a child: %v, want one held by %v", noBPF, shared, want)
		}
	}
	if *runs != 1 {
		t.Errorf("the BPF pass ran %d times, want once", *runs)
	}
	// The case is there: the iterator lists the helper's socket twice
	// (its two tables).
	files, err := taskfiles.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Sockets(context.Background(), Options{NoBPF: true})
	if ownSocks := heldBy(all, own); len(ownSocks) == 1 {
		n := 0
		for _, f := range files {
			if int(f.PID) == own && uint64(f.Inode) == ownSocks[0].Inode {
				n++
			}
		}
		if n < 2 {
			t.Errorf("the iterator lists the socket of the process with two tables %d times, want 2", n)
		}
	}
}
