package scan

import (
	"cmp"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSocketsFakeTree checks the table on a fake tree: a socket shared by
// a parent and its child, raw and packet sockets, a second network
// namespace whose tables only its processes see, and a socket nobody holds.
func TestSocketsFakeTree(t *testing.T) {
	shared := scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{Inode: 501,
		Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: procfs.TCPListen}}
	h := scantest.Host{Procs: []scantest.Proc{
		{PID: 1, Comm: "init", Exe: "/sbin/init"},
		{PID: 10, PPID: 1, Comm: "srv", Exe: "/usr/bin/srv", Sockets: []scantest.Sock{shared}},
		{PID: 11, PPID: 10, Comm: "srv", Exe: "/usr/bin/srv", Sockets: []scantest.Sock{shared,
			{Table: "udp6", IP: procfs.NetIPSocket{Inode: 502, Local: netip.MustParseAddrPort("[::]:53"), Remote: netip.MustParseAddrPort("[::]:0"), State: 7}}}},
		{PID: 20, PPID: 1, Comm: "ping", Exe: "/usr/bin/ping", Sockets: []scantest.Sock{
			{Table: "raw", IP: procfs.NetIPSocket{Inode: 503, Local: netip.MustParseAddrPort("0.0.0.0:1"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
		{PID: 30, PPID: 1, Comm: "masscan", Exe: "/usr/bin/masscan", NetNS: 4026532999, Sockets: []scantest.Sock{
			{Table: "packet", Packet: procfs.PacketSocket{Inode: 504, Type: 3, Proto: 3, Iface: 2}},
			{Table: "tcp", IP: procfs.NetIPSocket{Inode: 505, Local: netip.MustParseAddrPort("10.200.1.1:40000"), Remote: netip.MustParseAddrPort("10.200.1.2:22"), State: procfs.TCPSynSent}}}},
	}}
	root := writeHost(t, h)
	got, err := Sockets(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	def, other := uint64(scantest.DefaultNetNS), uint64(4026532999)
	want := []Socket{
		{Proto: "raw", Family: 4, Local: netip.MustParseAddrPort("0.0.0.0:1"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 503, NetNS: def, PIDs: []int{20}},
		{Proto: "tcp", Family: 4, Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: "LISTEN", Inode: 501, NetNS: def, PIDs: []int{10, 11}},
		{Proto: "udp", Family: 6, Local: netip.MustParseAddrPort("[::]:53"), Remote: netip.MustParseAddrPort("[::]:0"), State: "UNCONN", Inode: 502, NetNS: def, PIDs: []int{11}},
		{Proto: "packet", Inode: 504, NetNS: other, PIDs: []int{30}, Iface: 2, EtherType: 3},
		{Proto: "tcp", Family: 4, Local: netip.MustParseAddrPort("10.200.1.1:40000"), Remote: netip.MustParseAddrPort("10.200.1.2:22"), State: "SYN_SENT", Inode: 505, NetNS: other, PIDs: []int{30}},
	}
	if diff := gocmp.Diff(want, got, addrPortEq); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestSortedSockets checks the packed-key order against a plain sort by
// namespace, protocol and inode, also where the keys do not pack (an
// inode above 32 bits, a protocol outside protoOrder).
func TestSortedSockets(t *testing.T) {
	ref := func(socks map[uint64]*Socket) []Socket {
		var out []Socket
		for _, s := range socks {
			out = append(out, *s)
		}
		slices.SortFunc(out, func(a, b Socket) int {
			return cmp.Or(cmp.Compare(a.NetNS, b.NetNS), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Inode, b.Inode))
		})
		return out
	}
	big := synthSockets(5000)
	wide := synthSockets(300)
	wide[1<<33] = &Socket{Proto: ProtoTCP, Inode: 1 << 33, NetNS: 4026531840}
	odd := synthSockets(300)
	odd[7] = &Socket{Proto: "sctp", Inode: 7, NetNS: 4026531840}
	many := synthSockets(3000)
	i := 0
	for _, s := range many {
		s.NetNS = uint64(4026532000 + i%1500) // more namespaces than pack
		i++
	}
	for name, socks := range map[string]map[uint64]*Socket{"packed": big, "wide inode": wide, "odd protocol": odd,
		"many namespaces": many, "empty": {}} {
		if diff := gocmp.Diff(ref(socks), sortedSockets(socks), cmpopts.EquateEmpty(), addrPortEq); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", name, diff)
		}
	}
}

// TestSocketsRepresentativeGone: the tables of a network namespace are
// read through one of its processes; when the first one has none any
// more (it exited after the process pass: here its net/ directory is
// gone), they are read through the next one, and every socket of the
// namespace is listed. Before, the namespace's TCP and UDP sockets were
// silently missing (TestNetlinkMatchesProc found it now and then on a
// busy machine, on the /proc path).
func TestSocketsRepresentativeGone(t *testing.T) {
	sock := func(ino uint64, port uint16) scantest.Sock {
		return scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{Inode: ino,
			Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.5"), port), Remote: netip.MustParseAddrPort("10.0.0.9:443"), State: procfs.TCPEstablished}}
	}
	h := scantest.Host{Procs: []scantest.Proc{
		{PID: 1, Comm: "init", Exe: "/sbin/init"},
		{PID: 100, PPID: 1, Comm: "gone", Exe: "/usr/bin/gone", Sockets: []scantest.Sock{sock(601, 40001)}},
		{PID: 200, PPID: 1, Comm: "here", Exe: "/usr/bin/here", Sockets: []scantest.Sock{sock(602, 40002)}},
	}}
	root := writeHost(t, h)
	if err := os.RemoveAll(filepath.Join(root, "100", "net")); err != nil {
		t.Fatal(err)
	}
	got, err := Sockets(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var inodes []uint64
	for _, s := range got {
		inodes = append(inodes, s.Inode)
	}
	if !slices.Equal(inodes, []uint64{601, 602}) {
		t.Errorf("sockets %v, want inodes 601 and 602", got)
	}
}
