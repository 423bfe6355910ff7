package procfs

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseNetIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []NetIPSocket
		wantErr bool
	}{
		{name: "empty", in: ""},
		{name: "header only", in: NetIPHeader},
		{
			name: "tcp listen and time-wait",
			in: NetIPHeader +
				"   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1593 1 0000000030e0a462 100 0 0 10 0\n" +
				"   1: 020200C0:B7A0 507100CB:01BB 06 00000001:00000002 03:00000250 00000000  1000        0 0 3 0000000043578f3d\n",
			want: []NetIPSocket{
				{Local: ap("0.0.0.0:2024"), Remote: ap("0.0.0.0:0"), State: TCPListen, Inode: 1593},
				{Local: ap("192.0.2.2:47008"), Remote: ap("203.0.113.80:443"), State: TCPTimeWait, TxQueue: 1, RxQueue: 2, UID: 1000},
			},
		},
		{
			name: "tcp6 and v4-mapped",
			in:   string(readTestdata(t, "net_tcp6")),
			want: []NetIPSocket{
				{Local: ap("[::1]:22"), Remote: ap("[::]:0"), State: TCPListen, Inode: 12345},
				{Local: ap("[::ffff:127.0.0.1]:41394"), Remote: ap("[::ffff:127.0.0.1]:8080"), State: TCPEstablished, UID: 1000, Inode: 12346},
			},
		},
		{name: "short line", in: NetIPHeader + "   0: 00000000:07E8 00000000:0000 0A\n", wantErr: true},
		{name: "bad address", in: NetIPHeader + "   0: 0000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: true},
		{name: "bad port", in: NetIPHeader + "   0: 00000000:107E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: true},
		{name: "bad state", in: NetIPHeader + "   0: 00000000:07E8 00000000:0000 1FF 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: true},
		{name: "bad inode", in: NetIPHeader + "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNetIP([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrFileParse) {
					t.Errorf("err %v does not wrap ErrFileParse", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatNetIPLineRoundTrip(t *testing.T) {
	in := []NetIPSocket{
		{Local: ap("10.200.1.1:40000"), Remote: ap("10.200.1.2:22"), State: TCPSynSent, UID: 0, Inode: 99},
		{Local: ap("[2001:db8::1]:443"), Remote: ap("[2001:db8::2]:50000"), State: TCPEstablished, UID: 33, Inode: 100, TxQueue: 7},
	}
	text := NetIPHeader
	for i, s := range in {
		text += FormatNetIPLine(i, s)
	}
	got, err := parseNetIP([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseNetPacket(t *testing.T) {
	got, err := parseNetPacket(readTestdata(t, "net_packet"))
	if err != nil {
		t.Fatal(err)
	}
	want := []PacketSocket{
		{Type: 3, Proto: 0x0003, Iface: 2, Inode: 23456},
		{Type: 2, Proto: 0x0800, UID: 1000, Inode: 23457},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	round := NetPacketHeader + FormatNetPacketLine(want[0]) + FormatNetPacketLine(want[1])
	if got2, err := parseNetPacket([]byte(round)); err != nil || !cmp.Equal(want, got2) {
		t.Errorf("round trip: %v %v", got2, err)
	}
	if _, err := parseNetPacket([]byte(NetPacketHeader + "ffff 3 3 zz 2 1 0 0 1\n")); !errors.Is(err, ErrFileParse) {
		t.Errorf("bad proto: err = %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    ProcStat
		wantErr bool
	}{
		{
			name: "kthreadd",
			in:   "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 3 4 0 0 20 0 1 0 25 0 0 18446744073709551615 0 0\n",
			want: ProcStat{PID: 2, Comm: "kthreadd", State: 'S', Flags: 2129984, UTime: 3, STime: 4, NumThreads: 1, StartTime: 25},
		},
		{
			name: "name with spaces and parens",
			in:   "4242 (a) b (c)) R 1 4242 4242 0 -1 4194304 114 0 0 0 250 50 0 0 20 0 3 0 47902 3133440 393",
			want: ProcStat{PID: 4242, Comm: "a) b (c)", State: 'R', PPID: 1, Flags: 4194304, UTime: 250, STime: 50, NumThreads: 3, StartTime: 47902},
		},
		{name: "no name", in: "12 S 1 2 3", wantErr: true},
		{name: "truncated", in: "12 (x) S 1 2 3", wantErr: true},
		{name: "bad pid", in: "-1 (x) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", wantErr: true},
		{name: "bad start", in: "1 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
	got, err := parseProcStat([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 25"))
	if err != nil || !got.IsKernelThread() {
		t.Errorf("kthreadd not a kernel thread: %+v %v", got, err)
	}
	if _, err := parseProcStat(readTestdata(t, "proc_stat")); err != nil {
		t.Errorf("testdata: %v", err)
	}
}

func TestParseProcStatus(t *testing.T) {
	got, err := parseProcStatus([]byte("Name:\twork32\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t77\nPid:\t77\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nVmRSS:\t  4000 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStatus{Name: "work32", Tgid: 77, PPid: 1, UIDs: [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{100, 100, 100, 100}, VmRSS: 4000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"Name:\tx\n", "Uid:\t1 2 3\nGid:\t1 1 1 1\n", "Uid:\t1 2 3 x\nGid:\t1 1 1 1\n", "PPid:\tx\nUid:\t1 1 1 1\nGid:\t1 1 1 1\n"} {
		if _, err := parseProcStatus([]byte(bad)); !errors.Is(err, ErrFileParse) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if _, err := parseProcStatus(readTestdata(t, "proc_status")); err != nil {
		t.Errorf("testdata: %v", err)
	}
}

func TestParseCmdline(t *testing.T) {
	for in, want := range map[string][]string{
		"":                         nil,
		"\x00":                     nil,
		"/tmp/.x/work32\x00-c\x00": {"/tmp/.x/work32", "-c"},
		"[kworker/0:1] rewritten":  {"[kworker/0:1] rewritten"},
		"a\x00\x00b":               {"a", "", "b"},
	} {
		if diff := cmp.Diff(want, parseCmdline([]byte(in))); diff != "" {
			t.Errorf("%q: (-want +got):\n%s", in, diff)
		}
	}
}

func TestParseMaps(t *testing.T) {
	got, err := parseMaps([]byte("00400000-00452000 r-xp 00000000 08:02 173521      /tmp/x y (deleted)\n7ffd-7ffe rw-p 00000000 00:00 0                          [stack]\n7fff-8000 r--p 00000000 00:00 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []MapRegion{
		{Start: 0x400000, End: 0x452000, Perms: "r-xp", Dev: "08:02", Inode: 173521, Path: "/tmp/x y (deleted)"},
		{Start: 0x7ffd, End: 0x7ffe, Perms: "rw-p", Dev: "00:00", Path: "[stack]"},
		{Start: 0x7fff, End: 0x8000, Perms: "r--p", Dev: "00:00"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"zz-1 r-xp 0 0 0\n", "2-1 r-xp 0 00:00 0\n", "1-2 r-x 0 00:00 0\n", "1-2 r-xp 0\n"} {
		if _, err := parseMaps([]byte(bad)); !errors.Is(err, ErrFileParse) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if _, err := parseMaps(readTestdata(t, "proc_maps")); err != nil {
		t.Errorf("testdata: %v", err)
	}
}

func TestParseKernelStat(t *testing.T) {
	got, err := parseKernelStat(readTestdata(t, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1795592109, 0).UTC(); !got.Equal(want) {
		t.Errorf("btime = %v, want %v", got, want)
	}
	if _, err := parseKernelStat([]byte("cpu 1 2 3\n")); !errors.Is(err, ErrFileParse) {
		t.Errorf("no btime: err = %v", err)
	}
}

func TestParseLinks(t *testing.T) {
	if ino, ok := parseSocketLink([]byte("socket:[4026]")); !ok || ino != 4026 {
		t.Errorf("socket link = %d %v", ino, ok)
	}
	for _, bad := range []string{"socket:[]", "pipe:[12]", "socket:[12", "socket:[-1]", "/tmp/socket:[1]"} {
		if _, ok := parseSocketLink([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if ino, err := parseNSLink("net:[4026531840]", "net"); err != nil || ino != 4026531840 {
		t.Errorf("ns link = %d %v", ino, err)
	}
	if _, err := parseNSLink("mnt:[1]", "net"); !errors.Is(err, ErrFileParse) {
		t.Errorf("wrong kind: %v", err)
	}
}

// TestLive checks the readers against this process on the live /proc: a
// listener it opens must show in /proc/net/tcp and among its socket inodes.
func TestLive(t *testing.T) {
	fs, err := NewFS("/proc")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if !fs.IsLive() {
		t.Skip("/proc is not this process's procfs")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	socks, err := fs.NetIP(os.Getpid(), "tcp")
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	for _, s := range socks {
		if s.Local.Port() == uint16(port) && s.State == TCPListen && s.Local.Addr() == netip.MustParseAddr("127.0.0.1") {
			ino = s.Inode
		}
	}
	if ino == 0 {
		t.Fatalf("listener on port %d not in /proc/PID/net/tcp", port)
	}
	inodes, nfd, err := fs.SocketInodes(os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if nfd < 3 || !slices.Contains(inodes, ino) {
		t.Errorf("SocketInodes = %v (%d fds), want it to hold %d", inodes, nfd, ino)
	}
	st, err := fs.Stat(os.Getpid())
	if err != nil || st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("Stat = %+v %v", st, err)
	}
	pids, err := fs.PIDs()
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Errorf("PIDs lacks self: %v", err)
	}
	ns, err := fs.NetNS(os.Getpid())
	if err != nil || ns == 0 {
		t.Errorf("NetNS = %d %v", ns, err)
	}
	if _, _, err := fs.SocketInodes(1<<30, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing pid: err = %v", err)
	}
	if _, err := fs.BootTime(); err != nil {
		t.Error(err)
	}
}

// TestFakeTree runs the readers on a tree written into a temp dir.
func TestFakeTree(t *testing.T) {
	root := t.TempDir()
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if fs.IsLive() {
		t.Error("temp dir reported live")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "77", "fd"), 0o755))
	must(os.Symlink("socket:[555]", filepath.Join(root, "77", "fd", "3")))
	must(os.Symlink("/dev/null", filepath.Join(root, "77", "fd", "0")))
	must(os.Symlink("socket:[556]", filepath.Join(root, "77", "fd", "10")))
	must(os.MkdirAll(filepath.Join(root, "self"), 0o755))
	inodes, nfd, err := fs.SocketInodes(77, nil)
	must(err)
	slices.Sort(inodes)
	if nfd != 3 || !slices.Equal(inodes, []uint64{555, 556}) {
		t.Errorf("SocketInodes = %v, %d", inodes, nfd)
	}
	fds, err := fs.FDs(77)
	must(err)
	want := []FD{{0, "/dev/null"}, {3, "socket:[555]"}, {10, "socket:[556]"}}
	if diff := cmp.Diff(want, fds); diff != "" {
		t.Errorf("FDs (-want +got):\n%s", diff)
	}
	pids, err := fs.PIDs()
	must(err)
	if !slices.Equal(pids, []int{77}) {
		t.Errorf("PIDs = %v", pids)
	}
	if _, err := NewFS(filepath.Join(root, "nope")); err == nil {
		t.Error("NewFS on a missing dir succeeded")
	}
}

// TestSocketInodesMany holds more sockets than one getdents buffer lists,
// so that the reader must page through the fd directory.
func TestSocketInodesMany(t *testing.T) {
	fs := NewDefaultFS()
	if !fs.IsLive() {
		t.Skip("/proc is not this process's procfs")
	}
	before, _, err := fs.SocketInodes(os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000 // ~24 bytes per dirent: more than the 32 KiB buffer
	for i := 0; i < n; i++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Skipf("after %d sockets: %v", i, err)
		}
		defer c.Close()
	}
	after, nfd, err := fs.SocketInodes(os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(after)-len(before) < n || nfd < n {
		t.Errorf("SocketInodes found %d sockets (%d before), %d fds; want %d more", len(after), len(before), nfd, n)
	}
}

// TestSocketInodesSignals lists a large fd directory while another
// goroutine keeps signalling the listing thread: procfs cuts a getdents
// short when a signal is pending, which must not end the listing.
func TestSocketInodesSignals(t *testing.T) {
	fs := NewDefaultFS()
	if !fs.IsLive() {
		t.Skip("/proc is not this process's procfs")
	}
	const n = 1500
	for i := 0; i < n; i++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Skipf("after %d sockets: %v", i, err)
		}
		defer c.Close()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid, pid := unix.Gettid(), os.Getpid()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				unix.Tgkill(pid, tid, unix.SIGURG) // the Go runtime ignores a stray SIGURG
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 3 {
		got, _, err := fs.SocketInodes(pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < n {
			t.Fatalf("listing %d: %d sockets, want at least %d", i, len(got), n)
		}
	}
}
