package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
)

// On the live host Sockets reads TCP and UDP through netlink sock_diag;
// with NoNetlink, or on a fake root, it never calls it; and when the dump
// fails it falls back to /proc/PID/net and still lists every socket.
func TestNetlinkUseAndFallback(t *testing.T) {
	if !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "needs the live /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	listed := func(o Options) bool {
		t.Helper()
		socks, err := Sockets(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			if s.Proto == ProtoTCP && s.Local.Port() == port && s.State == "LISTEN" && slices.Contains(s.PIDs, os.Getpid()) {
				return true
			}
		}
		return false
	}
	orig := dumpSockDiag
	t.Cleanup(func() { dumpSockDiag = orig })
	var calls atomic.Int32
	dumpSockDiag = func(fs procfs.FS, rep int, ns uint64, socks map[uint64]*Socket, counts *procfs.SocketCounts) error {
		calls.Add(1)
		return orig(fs, rep, ns, socks, counts)
	}

	if !listed(Options{}) {
		t.Error("the test's listener is not listed")
	}
	if calls.Load() == 0 {
		t.Error("netlink sock_diag was not used on the live host")
	}
	calls.Store(0)
	if !listed(Options{NoNetlink: true}) {
		t.Error("NoNetlink: the test's listener is not listed")
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("NoNetlink: sock_diag called %d times", n)
	}

	dumpSockDiag = func(procfs.FS, int, uint64, map[uint64]*Socket, *procfs.SocketCounts) error {
		calls.Add(1)
		return errors.New("sock_diag: injected failure")
	}
	calls.Store(0)
	if !listed(Options{}) {
		t.Error("netlink failing: no fallback to /proc, the test's listener is not listed")
	}
	if calls.Load() == 0 {
		t.Error("the failing dump was never tried")
	}

	dir := t.TempDir()
	err = scantest.Write(dir, scantest.Host{Procs: []scantest.Proc{{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd",
		Sockets: []scantest.Sock{{Table: "tcp", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort("0.0.0.0:22"), State: procfs.TCPListen}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	socks, err := Sockets(context.Background(), Options{Root: dir})
	if err != nil || len(socks) != 1 {
		t.Errorf("fake root: %v, %v", socks, err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("fake root: sock_diag called %d times", n)
	}
}
