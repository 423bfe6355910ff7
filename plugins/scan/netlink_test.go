package scan

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestNetlinkMatchesProc checks that the netlink dump and the /proc tables
// give the same sockets for this process.
func TestNetlinkMatchesProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("no live /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln6, err := net.Listen("tcp6", "[::1]:0")
	if err == nil {
		defer ln6.Close()
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ports := map[uint16]bool{
		uint16(ln.Addr().(*net.TCPAddr).Port):     true,
		uint16(c.LocalAddr().(*net.TCPAddr).Port): true,
		uint16(u.LocalAddr().(*net.UDPAddr).Port): true,
	}
	if ln6 != nil {
		ports[uint16(ln6.Addr().(*net.TCPAddr).Port)] = true
	}
	mine := func(nonl bool) []Socket {
		socks, err := Sockets(context.Background(), Options{NoNetlink: nonl})
		if err != nil {
			t.Fatal(err)
		}
		var out []Socket
		for _, s := range socks {
			for _, p := range s.PIDs {
				if p == os.Getpid() && ports[s.Local.Port()] {
					out = append(out, s)
				}
			}
		}
		return out
	}
	viaNetlink, viaProc := mine(false), mine(true)
	if len(viaNetlink) < 4 {
		t.Fatalf("only %d sockets of this process: %v", len(viaNetlink), viaNetlink)
	}
	if diff := cmp.Diff(viaProc, viaNetlink, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("/proc and netlink differ (-proc +netlink):\n%s", diff)
	}
}

func diagMsg(family uint8, state uint8, src, dst netip.AddrPort, uid, ino uint32) []byte {
	b := make([]byte, 72)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], src.Port())
	binary.BigEndian.PutUint16(b[6:], dst.Port())
	if family == unix.AF_INET {
		a, d := src.Addr().As4(), dst.Addr().As4()
		copy(b[8:], a[:])
		copy(b[24:], d[:])
	} else {
		a, d := src.Addr().As16(), dst.Addr().As16()
		copy(b[8:], a[:])
		copy(b[24:], d[:])
	}
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], ino)
	return b
}

func TestParseDiagMsg(t *testing.T) {
	src, dst := netip.MustParseAddrPort("10.200.1.1:40000"), netip.MustParseAddrPort("10.200.1.2:22")
	s, ok := parseDiagMsg(diagMsg(unix.AF_INET, 2, src, dst, 1000, 4242))
	if !ok || s.Local != src || s.Remote != dst || s.state != 2 || s.UID != 1000 || s.Inode != 4242 {
		t.Errorf("v4: %+v %v", s, ok)
	}
	src6 := netip.MustParseAddrPort("[::ffff:127.0.0.1]:80")
	s, ok = parseDiagMsg(diagMsg(unix.AF_INET6, 10, src6, netip.MustParseAddrPort("[::]:0"), 0, 7))
	if !ok || s.Local != netip.MustParseAddrPort("127.0.0.1:80") || s.Inode != 7 {
		t.Errorf("v4-mapped v6 not unmapped: %+v", s)
	}
	if _, ok := parseDiagMsg(make([]byte, 71)); ok {
		t.Error("short message accepted")
	}
}

func FuzzParseDiagMsg(f *testing.F) {
	f.Add(diagMsg(unix.AF_INET, 2, netip.MustParseAddrPort("10.200.1.1:40000"), netip.MustParseAddrPort("10.200.1.2:22"), 0, 1))
	f.Add(diagMsg(unix.AF_INET6, 1, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2"), 0, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseDiagMsg(b)
		if ok != (len(b) >= 72) {
			t.Fatalf("ok = %v for %d bytes", ok, len(b))
		}
		if ok && (!s.Local.IsValid() || !s.Remote.IsValid()) {
			t.Fatalf("invalid addresses from %x", b)
		}
	})
}

// TestNetlinkSkipsUncounted checks that a family and protocol sockstat
// counts none of is not dumped, and that what it counts is.
func TestNetlinkSkipsUncounted(t *testing.T) {
	fs, err := procfs.NewFS("/proc")
	if err != nil || !fs.IsLive() {
		t.Skip("no live /proc")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	self, err := fs.NetNS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	has := func(counts *procfs.SocketCounts) bool {
		t.Helper()
		socks := map[uint64]*Socket{}
		if err := netlinkSockets(fs, os.Getpid(), self, socks, counts); err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			if s.Proto == ProtoTCP && s.Local.Port() == port && s.State == "LISTEN" {
				return true
			}
		}
		return false
	}
	if !has(nil) {
		t.Error("no counts: listener not dumped")
	}
	if has(&procfs.SocketCounts{UDP: 1, TCP6: 1, UDP6: 1}) {
		t.Error("TCP counted zero: dumped anyway")
	}
	if !has(&procfs.SocketCounts{TCP: 1}) {
		t.Error("TCP counted: listener not dumped")
	}
	c, err := fs.SocketCounts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if c.TCP < 1 || !has(&c) {
		t.Errorf("sockstat counts %+v: listener not dumped", c)
	}
}

// TestSocketsPrefetch checks that dumping the own namespace during the
// process pass (done for large tables) gives the sockets and holders the
// dump after the pass gives.
func TestSocketsPrefetch(t *testing.T) {
	fs, err := procfs.NewFS("/proc")
	if err != nil || !fs.IsLive() {
		t.Skip("no live /proc")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := ln.Accept() // an unaccepted connection has no inode
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ours := func(min int) []Socket {
		t.Helper()
		saved := prefetchMin
		prefetchMin = min
		defer func() { prefetchMin = saved }()
		all, err := Sockets(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []Socket
		for _, s := range all {
			if s.Proto == ProtoTCP && (s.Local.Port() == port || s.Remote.Port() == port) {
				out = append(out, s)
			}
		}
		return out
	}
	after, during := ours(1<<30), ours(0)
	if len(during) != 3 { // listener and both ends of the connection
		t.Fatalf("with the dump during the pass: %d sockets, want 3: %v", len(during), during)
	}
	for _, s := range during {
		if len(s.PIDs) != 1 || s.PIDs[0] != os.Getpid() {
			t.Errorf("%v: holders %v, want [%d]", s, s.PIDs, os.Getpid())
		}
	}
	if diff := cmp.Diff(after, during, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("dump after the pass vs during (-after +during):\n%s", diff)
	}
}
