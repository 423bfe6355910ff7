package scan

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
	"github.com/google/go-cmp/cmp"
)

func detectFake(t *testing.T, h scantest.Host, o Options) []Suspect {
	t.Helper()
	o.Root = writeHost(t, h)
	o.Now = func() time.Time { return fakeNow }
	sus, err := Detect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return sus
}

func tcpSock(local, remote string, state uint8) scantest.Sock {
	return scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
		Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), State: state}}
}

// portScanReport is a port-scan report naming src as the scanning address
// and a sample of two targets on port 22.
func portScanReport(src string) *abuse.Report {
	a := netip.MustParseAddr(src)
	return &abuse.Report{Kind: abuse.KindPortScan,
		Resources: abuse.Resources{IPs: []netip.Addr{a}},
		Evidence: []abuse.Evidence{{SrcIP: a, DstIP: netip.MustParseAddr("203.0.113.7"), DstPort: 22, Proto: "tcp"},
			{SrcIP: a, DstIP: netip.MustParseAddr("203.0.113.8"), DstPort: 22, Proto: "tcp"}}}
}

// TestReportFlowWeighsMost is the audit's case: a process sending SYNs to
// the reported port from the reported address, but to targets the report
// does not list (it lists a sample), must outrank an unrelated miner with
// a known name and high CPU.
func TestReportFlowWeighsMost(t *testing.T) {
	for _, w := range []int{weightFanoutMassive, weightRateHigh, weightKnownName, weightKnownName + weightCPUHigh, weightExeHiddenInTmp + weightExeDeleted} {
		if weightReportFlow <= w || weightReportDst <= w {
			t.Errorf("report weights %d (flow), %d (destination) do not outweigh %d", weightReportFlow, weightReportDst, w)
		}
	}
	h := benignHost()
	scanner := scantest.Proc{PID: 820, PPID: 1, Comm: "helper", Exe: "/usr/bin/helper", StartTime: 500}
	for i := range 3 {
		scanner.Sockets = append(scanner.Sockets, tcpSock(fmt.Sprintf("172.31.5.9:%d", 41000+i), fmt.Sprintf("198.51.100.%d:22", 50+i), procfs.TCPSynSent))
	}
	h.Procs = append(h.Procs, scanner,
		scantest.Proc{PID: 801, PPID: 1, Comm: "xmrig", Exe: "/usr/bin/xmrig", StartTime: 990000, UTime: 9900})
	sus := detectFake(t, h, Options{Report: portScanReport("172.31.5.9")})
	if got := pids(sus); !slices.Equal(got, []int{820, 801}) {
		t.Fatalf("order %v, want [820 801]", got)
	}
	if sus[0].Score <= sus[1].Score {
		t.Errorf("scores %d vs %d", sus[0].Score, sus[1].Score)
	}
	want := []string{"+70 3 outbound socket(s) from the reported source address to ports in the report's evidence (e.g. 172.31.5.9:41000 -> 198.51.100.50:22)"}
	if diff := cmp.Diff(want, reasonStrings(sus[0])); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func reasonStrings(s Suspect) []string {
	var out []string
	for _, r := range s.Reasons {
		out = append(out, r.String())
	}
	return out
}

// TestReportSourceStates: the reported source matches any connection the
// host opened (SYN_SENT, established, closing), not connections it
// accepted; on EC2 the report names the public address and the sockets
// show the private one, given in Options.InstanceAddrs.
func TestReportSourceStates(t *testing.T) {
	h := benignHost()
	h.Procs = append(h.Procs,
		scantest.Proc{PID: 830, PPID: 1, Comm: "est", Exe: "/usr/bin/est", StartTime: 500, Sockets: []scantest.Sock{
			tcpSock("172.31.5.9:41000", "198.51.100.60:22", procfs.TCPEstablished)}},
		scantest.Proc{PID: 831, PPID: 1, Comm: "closing", Exe: "/usr/bin/closing", StartTime: 500, Sockets: []scantest.Sock{
			tcpSock("172.31.5.9:41001", "198.51.100.61:22", 4 /* FIN_WAIT1 */)}},
		// An sshd-like server: connections accepted on its port 22 from
		// peers whose source port happens to be 22 are not outbound.
		scantest.Proc{PID: 832, PPID: 1, Comm: "srv", Exe: "/usr/sbin/srv", StartTime: 500, Sockets: []scantest.Sock{
			tcpSock("0.0.0.0:22", "0.0.0.0:0", procfs.TCPListen),
			tcpSock("172.31.5.9:22", "198.51.100.62:22", procfs.TCPEstablished)}},
	)
	sus := detectFake(t, h, Options{Report: portScanReport("172.31.5.9"), MinScore: -1})
	for _, pid := range []int{830, 831} {
		if s := find(sus, pid); s == nil || s.Score != weightReportFlow {
			t.Errorf("pid %d: %+v, want scored %d for the flow", pid, s, weightReportFlow)
		}
	}
	if s := find(sus, 832); s != nil && hasSignal(*s, SignalReport) {
		t.Errorf("accepted connection matched the report: %v", s.Reasons)
	}

	// EC2: the report names the public address.
	pub := portScanReport("54.1.2.3")
	sus = detectFake(t, h, Options{Report: pub, MinScore: -1})
	if s := find(sus, 830); s == nil || s.Score != weightReportPort {
		t.Errorf("public address only: pid 830 %+v, want the port alone (%d)", s, weightReportPort)
	}
	sus = detectFake(t, h, Options{Report: pub, MinScore: -1, InstanceAddrs: []netip.Addr{netip.MustParseAddr("172.31.5.9")}})
	if s := find(sus, 830); s == nil || s.Score != weightReportFlow {
		t.Errorf("with the private address: pid 830 %+v, want the flow (%d)", s, weightReportFlow)
	}
}

// TestPacketSocketsOfNetworkDaemons: with a port-scan report, the DHCP
// clients' packet sockets (dhclient: every protocol, with UDP port 68;
// systemd-networkd: SOCK_DGRAM bound to IP, and ARP for IPv4LL) list
// neither daemon, while a sender with a packet socket taking every
// protocol, or a raw TCP socket, is weighed.
func TestPacketSocketsOfNetworkDaemons(t *testing.T) {
	h := benignHost()
	h.Procs = append(h.Procs,
		scantest.Proc{PID: 840, PPID: 1, Comm: "dhclient", Exe: "/usr/sbin/dhclient", StartTime: 500,
			Cmdline: []string{"/sbin/dhclient", "-4", "-v", "-pf", "/run/dhclient.eth0.pid", "eth0"}, Sockets: []scantest.Sock{
				{Table: "packet", Packet: procfs.PacketSocket{Type: 3, Proto: ethPAll, Iface: 2}},
				{Table: "udp", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort("0.0.0.0:68"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
		scantest.Proc{PID: 841, PPID: 1, Comm: "systemd-network", Exe: "/usr/lib/systemd/systemd-networkd", StartTime: 500, UID: 100, Sockets: []scantest.Sock{
			{Table: "packet", Packet: procfs.PacketSocket{Type: 2, Proto: 0x0800, Iface: 2}},
			{Table: "packet", Packet: procfs.PacketSocket{Type: 2, Proto: 0x0806, Iface: 2}}}}, // before a lease: no UDP socket yet
		// Not exempt: a "dhclient" running from /tmp.
		scantest.Proc{PID: 842, PPID: 1, Comm: "dhclient", Exe: "/tmp/dhclient", StartTime: 500, Sockets: []scantest.Sock{
			{Table: "packet", Packet: procfs.PacketSocket{Type: 3, Proto: ethPAll, Iface: 2}},
			{Table: "udp", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort("0.0.0.0:68"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
		scantest.Proc{PID: 843, PPID: 1, Comm: "synner", Exe: "/usr/bin/synner", StartTime: 500, Sockets: []scantest.Sock{
			{Table: "raw", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort("0.0.0.0:255"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
		scantest.Proc{PID: 844, PPID: 1, Comm: "pinger", Exe: "/usr/bin/pinger", StartTime: 500, Sockets: []scantest.Sock{
			{Table: "raw", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort("0.0.0.0:1"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
	)
	rep := portScanReport("172.31.5.9")
	sus := detectFake(t, h, Options{Report: rep})
	for _, pid := range []int{840, 841} {
		if s := find(sus, pid); s != nil {
			t.Errorf("network daemon %d (%s) listed: %v", pid, s.Comm, s.Reasons)
		}
	}
	all := detectFake(t, h, Options{Report: rep, MinScore: -1})
	for _, pid := range []int{840, 841} {
		if s := find(all, pid); s != nil {
			t.Errorf("network daemon %d (%s) has signals: %v", pid, s.Comm, s.Reasons)
		}
	}
	for pid, want := range map[int][]Signal{
		842: {SignalExeLocation, SignalPacketSocket, SignalReport},
		843: {SignalRawSocket, SignalReport},
		844: {SignalRawSocket},
	} {
		s := find(all, pid)
		if s == nil {
			t.Errorf("pid %d not listed", pid)
			continue
		}
		if diff := cmp.Diff(want, signals(*s)); diff != "" {
			t.Errorf("pid %d signals (-want +got):\n%s", pid, diff)
		}
	}
}

// TestConnectRateServerOnHighPort: a server listening on a port of the
// ephemeral range accepts 20 connections within the window; they are not
// new outbound connections. A dialer opening as many is.
func TestConnectRateServerOnHighPort(t *testing.T) {
	root := t.TempDir()
	build := func(n int) scantest.Host {
		h := benignHost()
		srv := scantest.Proc{PID: 850, PPID: 1, Comm: "app", Exe: "/usr/bin/app", StartTime: 500,
			Sockets: []scantest.Sock{tcpSock("0.0.0.0:40000", "0.0.0.0:0", procfs.TCPListen)}}
		dialer := scantest.Proc{PID: 851, PPID: 1, Comm: "dialer", Exe: "/usr/bin/dialer", StartTime: 500}
		for i := range n {
			s := tcpSock("10.0.0.5:40000", fmt.Sprintf("198.51.100.%d:%d", 10+i, 50000+i), procfs.TCPEstablished)
			s.IP.Inode = uint64(700000 + i)
			srv.Sockets = append(srv.Sockets, s)
			d := tcpSock(fmt.Sprintf("10.0.0.5:%d", 45000+i), "198.51.100.9:443", procfs.TCPEstablished)
			d.IP.Inode = uint64(800000 + i)
			dialer.Sockets = append(dialer.Sockets, d)
		}
		h.Procs = append(h.Procs, srv, dialer)
		return h
	}
	if err := scantest.Write(root, build(1)); err != nil {
		t.Fatal(err)
	}
	now := fakeNow
	opts := Options{Root: root, MinScore: -1, Window: 50 * time.Millisecond, Interval: time.Hour, Now: func() time.Time { return now }}
	opts.afterSample = func(n int) {
		if n != 0 {
			return
		}
		now = now.Add(time.Second)
		dir := t.TempDir()
		if err := scantest.Write(dir, build(21)); err != nil {
			t.Fatal(err)
		}
		replaceDir(t, root, dir)
	}
	sus, err := Detect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := find(sus, 850); s != nil {
		t.Errorf("server on port 40000 listed: %v", s.Reasons)
	}
	if d := find(sus, 851); d == nil || !hasSignal(*d, SignalConnectRate) {
		t.Errorf("dialer: %+v", d)
	}
}

// TestDetectSignalsMore adds the cases TestDetectSignals lacks: a plain
// scratch-directory executable, SYN_SENT to one host on many ports.
func TestDetectSignalsMore(t *testing.T) {
	oneHost := func(ports int) []scantest.Sock {
		var out []scantest.Sock
		for i := range ports {
			out = append(out, tcpSock(fmt.Sprintf("172.31.5.9:%d", 50000+i), fmt.Sprintf("198.51.100.9:%d", 1+i), procfs.TCPSynSent))
		}
		return out
	}
	h := benignHost()
	cases := map[int]struct {
		proc scantest.Proc
		want []Signal
	}{
		4300: {scantest.Proc{Comm: "a", Exe: "/tmp/a"}, []Signal{SignalExeLocation}},
		4301: {scantest.Proc{Comm: "a", Exe: "/var/tmp/a"}, []Signal{SignalExeLocation}},
		4302: {scantest.Proc{Comm: "agent", Exe: "/usr/local/bin/agent", Sockets: oneHost(40)}, []Signal{SignalSynFanout}},
		4303: {scantest.Proc{Comm: "agent", Exe: "/usr/local/bin/agent", Sockets: oneHost(4)}, nil},
		4304: {scantest.Proc{Comm: "a", Exe: "/tmpfoo/a"}, nil}, // not /tmp
	}
	for pid, c := range cases {
		c.proc.PID, c.proc.PPID, c.proc.StartTime = pid, 1, 500
		h.Procs = append(h.Procs, c.proc)
	}
	sus := detectFake(t, h, Options{MinScore: -1})
	for pid, c := range cases {
		var got []Signal
		if s := find(sus, pid); s != nil {
			got = signals(*s)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("pid %d (%s): signals (-want +got):\n%s", pid, c.proc.Exe, diff)
		}
	}
	if s := find(sus, 4302); s == nil || !strings.Contains(s.Reasons[0].Text, "40 SYN_SENT sockets to 1 distinct hosts and 40 distinct ports") {
		t.Errorf("one host × 40 ports: %+v", s)
	}
}

// TestKnownNamesEach lists every name the issue names and every entry of
// KnownNames as a process of its own: each raises the known-name signal
// and nothing else.
func TestKnownNamesEach(t *testing.T) {
	names := []string{"work32", "kinsing", "kdevtmpfsi", "xmrig", "masscan", "zmap"}
	for _, k := range KnownNames {
		if p, ok := strings.CutSuffix(k, "*"); ok {
			k = p + "-6.2"
		}
		names = append(names, k)
	}
	h := benignHost()
	for i, n := range names {
		comm := n
		if len(comm) > 15 {
			comm = comm[:15]
		}
		h.Procs = append(h.Procs, scantest.Proc{PID: 5000 + i, PPID: 1, Comm: comm, Exe: "/usr/bin/" + n, StartTime: 500})
	}
	sus := detectFake(t, h, Options{MinScore: -1})
	for i, n := range names {
		s := find(sus, 5000+i)
		want := []Signal{SignalKnownName}
		if impostorName(n, nil) != "" { // "kdevtmpfs" is a kernel thread's name too
			want = append(want, SignalImpostor)
		}
		if s == nil || !slices.Equal(signals(*s), want) {
			t.Errorf("%s: %+v", n, s)
		}
	}
	if knownName("bash") != "" || knownName("sshd") != "" || knownName("xm") != "" {
		t.Error("benign names matched")
	}
}
