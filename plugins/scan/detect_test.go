package scan

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
	"github.com/google/go-cmp/cmp"
)

var (
	fakeBoot = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// fakeNow is 10,000 s after boot.
	fakeNow = fakeBoot.Add(10000 * time.Second)
)

// benignHost is a host with nothing wrong: init, sshd, cron, and a busy web
// server holding hundreds of loopback connections and some CPU.
func benignHost() scantest.Host {
	web := scantest.Proc{PID: 500, PPID: 1, Comm: "nginx", Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: worker process"}, UID: 33,
		StartTime: 100000, UTime: 30000, STime: 10000} // 400 s of CPU over 9,000 s: 4 %
	web.Sockets = append(web.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
		Local: netip.MustParseAddrPort("0.0.0.0:80"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: procfs.TCPListen}})
	for i := range 300 {
		web.Sockets = append(web.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.MustParseAddrPort("127.0.0.1:80"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+i)), State: procfs.TCPEstablished}})
	}
	return scantest.Host{BootTime: fakeBoot, Procs: []scantest.Proc{
		{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Cmdline: []string{"/sbin/init"}},
		{PID: 2, Comm: "kthreadd", KernelThr: true},
		{PID: 3, PPID: 2, Comm: "kworker/0:1", KernelThr: true, UTime: 900000},
		{PID: 200, PPID: 1, Comm: "sshd", Exe: "/usr/sbin/sshd", Cmdline: []string{"sshd: /usr/sbin/sshd -D"}, StartTime: 500},
		{PID: 210, PPID: 1, Comm: "cron", Exe: "/usr/sbin/cron", Cmdline: []string{"/usr/sbin/cron", "-f"}, StartTime: 500},
		{PID: 220, PPID: 210, Comm: "logrotate", Exe: "/usr/sbin/logrotate", StartTime: 900000}, // a cron job: one weak signal
		{PID: 230, PPID: 1, Comm: "myscript.sh", Exe: "/usr/bin/bash", StartTime: 500},          // interpreter: no mismatch
		web,
	}}
}

func writeHost(t *testing.T, h scantest.Host) string {
	t.Helper()
	dir := t.TempDir()
	if err := scantest.Write(dir, h); err != nil {
		t.Fatal(err)
	}
	return dir
}

func synSent(n, ports int) []scantest.Sock {
	var out []scantest.Sock
	for i := range n {
		out = append(out, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("172.31.5.9"), uint16(50000+i)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 250)}), uint16(22+i%ports)),
			State:  procfs.TCPSynSent}})
	}
	return out
}

func signals(s Suspect) []Signal {
	var out []Signal
	for _, r := range s.Reasons {
		out = append(out, r.Signal)
	}
	slices.Sort(out)
	return out
}

func find(sus []Suspect, pid int) *Suspect {
	for i := range sus {
		if sus[i].PID == pid {
			return &sus[i]
		}
	}
	return nil
}

// TestDetectSignals adds one process per case to the benign host and checks
// exactly which signals it raises.
func TestDetectSignals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		proc scantest.Proc
		want []Signal
	}{
		{
			name: "syn fan-out",
			proc: scantest.Proc{Comm: "agent", Exe: "/usr/local/bin/agent", Sockets: synSent(40, 3)},
			want: []Signal{SignalSynFanout},
		},
		{
			name: "few SYN_SENT is no fan-out",
			proc: scantest.Proc{Comm: "curl", Exe: "/usr/bin/curl", Sockets: synSent(3, 3)},
		},
		{
			name: "raw socket",
			proc: scantest.Proc{Comm: "tool", Exe: "/usr/bin/tool", Sockets: []scantest.Sock{{Table: "raw", IP: procfs.NetIPSocket{
				Local: netip.MustParseAddrPort("0.0.0.0:6"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 7}}}},
			want: []Signal{SignalRawSocket},
		},
		{
			name: "packet socket",
			proc: scantest.Proc{Comm: "tool", Exe: "/usr/bin/tool", Sockets: []scantest.Sock{{Table: "packet", Packet: procfs.PacketSocket{Type: 3, Proto: 3, Iface: 2}}}},
			want: []Signal{SignalPacketSocket},
		},
		{
			name: "deleted executable",
			proc: scantest.Proc{Comm: "updater", Exe: "/usr/lib/updater (deleted)"},
			want: []Signal{SignalExeDeleted},
		},
		{
			name: "fileless: executing from a memfd",
			proc: scantest.Proc{Comm: "memfd:x", Exe: "/memfd:x (deleted)"},
			want: []Signal{SignalExeDeleted},
		},
		{
			name: "executable under /dev/shm",
			proc: scantest.Proc{Comm: "a", Exe: "/dev/shm/a"},
			want: []Signal{SignalExeLocation},
		},
		{
			name: "hidden directory",
			proc: scantest.Proc{Comm: "b", Exe: "/root/.cache/.x/b"},
			want: []Signal{SignalExeLocation},
		},
		{
			name: "hidden directory under /var/tmp, deleted",
			proc: scantest.Proc{Comm: "c", Exe: "/var/tmp/.ICE-unix/c (deleted)"},
			want: []Signal{SignalExeDeleted, SignalExeLocation},
		},
		{
			name: "comm disagrees with exe",
			proc: scantest.Proc{Comm: "[kworker/0:2]", Exe: "/usr/bin/payload"},
			want: []Signal{SignalCommMismatch, SignalImpostor},
		},
		{
			name: "long exe name truncated in comm is no mismatch",
			proc: scantest.Proc{Comm: "containerd-shim", Exe: "/usr/bin/containerd-shim-runc-v2"},
		},
		{
			name: "known name",
			proc: scantest.Proc{Comm: "kdevtmpfsi", Exe: "/usr/bin/kdevtmpfsi"},
			want: []Signal{SignalKnownName},
		},
		{
			name: "known executable behind another comm",
			proc: scantest.Proc{Comm: "xmrig-6.2", Exe: "/opt/xmrig-6.21.0/xmrig-6.21.0"},
			want: []Signal{SignalKnownName},
		},
		{
			name: "high cpu over its life",
			// started 100 s before now, 95 s of CPU
			proc: scantest.Proc{Comm: "burn", Exe: "/usr/bin/burn", StartTime: 990000, UTime: 9000, STime: 500},
			want: []Signal{SignalCPU},
		},
		{
			name: "started by cron",
			proc: scantest.Proc{PPID: 210, Comm: "job", Exe: "/usr/bin/job"},
			want: []Signal{SignalCron},
		},
		{
			name: "cron cgroup after daemonizing",
			proc: scantest.Proc{PPID: 1, Comm: "job", Exe: "/usr/bin/job", Cgroup: "0::/system.slice/cron.service\n"},
			want: []Signal{SignalCron},
		},
		{
			name: "the seed's work32",
			proc: scantest.Proc{PPID: 210, Comm: "work32", Exe: "/tmp/.x/work32 (deleted)", StartTime: 990000, UTime: 9800,
				Sockets: synSent(200, 200)},
			want: []Signal{SignalCPU, SignalCron, SignalExeDeleted, SignalExeLocation, SignalKnownName, SignalSynFanout},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := benignHost()
			tc.proc.PID = 4242
			if tc.proc.PPID == 0 {
				tc.proc.PPID = 1
			}
			if tc.proc.StartTime == 0 {
				tc.proc.StartTime = 500
			}
			h.Procs = append(h.Procs, tc.proc)
			sus, err := Detect(ctx, Options{Root: writeHost(t, h), MinScore: -1, Now: func() time.Time { return fakeNow }})
			if err != nil {
				t.Fatal(err)
			}
			var got []Signal
			if s := find(sus, 4242); s != nil {
				got = signals(*s)
				sum := 0
				for _, r := range s.Reasons {
					sum += r.Weight
					if r.Text == "" || r.Weight <= 0 {
						t.Errorf("reason %+v lacks text or weight", r)
					}
				}
				if sum != s.Score {
					t.Errorf("score %d is not the sum of its reasons' weights %d", s.Score, sum)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
			// Nothing of the benign host raises anything but the cron job's
			// one weak signal.
			for _, s := range sus {
				if s.PID != 4242 && s.PID != 220 {
					t.Errorf("benign pid %d (%s) listed: %v", s.PID, s.Comm, s.Reasons)
				}
			}
		})
	}
}

// TestDetectDefaultThreshold checks what the default MinScore lists: the
// scanner, not the busy server, the cron job or the weak-signal processes.
func TestDetectDefaultThreshold(t *testing.T) {
	h := benignHost()
	h.Procs = append(h.Procs,
		scantest.Proc{PID: 700, PPID: 1, Comm: "work32", Exe: "/tmp/.x/work32 (deleted)", Cmdline: []string{"/tmp/.x/work32", "-q"}, UID: 1000,
			StartTime: 990000, UTime: 9800, Sockets: synSent(100, 100)},
		scantest.Proc{PID: 701, PPID: 1, Comm: "a", Exe: "/tmp/a"}, // one weak signal
	)
	sus, err := Detect(context.Background(), Options{Root: writeHost(t, h), Now: func() time.Time { return fakeNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(sus) != 1 || sus[0].PID != 700 {
		t.Fatalf("suspects = %+v, want only pid 700", sus)
	}
	s := sus[0]
	want := Suspect{PID: 700, PPID: 1, UID: 1000, User: s.User, Comm: "work32", Exe: "/tmp/.x/work32", ExeDeleted: true,
		Cmdline: []string{"/tmp/.x/work32", "-q"}, StartTime: fakeBoot.Add(9900 * time.Second), StartTicks: 990000, CPUPercent: 98,
		Parents: []Parent{{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Kind: KindInit}}, NetNS: scantest.DefaultNetNS,
		SocketCount: 100}
	got := s
	got.Reasons, got.Score, got.Sockets = nil, 0, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("suspect (-want +got):\n%s", diff)
	}
	if len(s.Sockets) != 64 || s.Sockets[0].State != "SYN_SENT" || !slices.Equal(s.Sockets[0].PIDs, []int{700}) {
		t.Errorf("sockets: %d listed, first %+v", len(s.Sockets), s.Sockets[0])
	}
}

// TestDetectReport checks that sockets matching the report's evidence
// outweigh everything else: a quiet process talking to the reported hosts
// outranks a loud miner.
func TestDetectReport(t *testing.T) {
	h := benignHost()
	quiet := scantest.Proc{PID: 800, PPID: 1, Comm: "helper", Exe: "/usr/bin/helper", StartTime: 500}
	for i := range 3 {
		quiet.Sockets = append(quiet.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("172.31.5.9"), uint16(41000+i)),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), 22), State: procfs.TCPSynSent}})
	}
	h.Procs = append(h.Procs, quiet,
		scantest.Proc{PID: 801, PPID: 1, Comm: "xmrig", Exe: "/usr/bin/xmrig", StartTime: 990000, UTime: 9900})
	rep := &abuse.Report{Kind: abuse.KindPortScan,
		Resources: abuse.Resources{IPs: []netip.Addr{netip.MustParseAddr("172.31.5.9")}},
		Evidence: []abuse.Evidence{{SrcIP: netip.MustParseAddr("54.1.2.3"), DstIP: netip.MustParseAddr("203.0.113.7"), DstPort: 22, Proto: "tcp"},
			{SrcIP: netip.MustParseAddr("54.1.2.3"), DstIP: netip.MustParseAddr("203.0.113.8"), DstPort: 22, Proto: "tcp"}}}
	root := writeHost(t, h)
	sus, err := Detect(context.Background(), Options{Root: root, Report: rep, Now: func() time.Time { return fakeNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(sus) != 2 || sus[0].PID != 800 || sus[1].PID != 801 {
		t.Fatalf("order = %v, want 800 then 801", pids(sus))
	}
	var rs []string
	for _, r := range sus[0].Reasons {
		rs = append(rs, r.String())
	}
	want := []string{
		"+80 3 socket(s) to addresses in the report's evidence (e.g. 203.0.113.7:22)",
		"+70 3 outbound socket(s) from the reported source address to ports in the report's evidence (e.g. 172.31.5.9:41000 -> 203.0.113.7:22)",
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	// Without the report the quiet process is not a suspect at all.
	sus, err = Detect(context.Background(), Options{Root: root, Now: func() time.Time { return fakeNow }})
	if err != nil {
		t.Fatal(err)
	}
	if find(sus, 800) != nil {
		t.Errorf("without a report pid 800 listed: %v", pids(sus))
	}
}

func pids(sus []Suspect) []int {
	var out []int
	for _, s := range sus {
		out = append(out, s.PID)
	}
	return out
}

// TestDetectWindow rewrites the fake tree between samples: a process that
// opens 20 new outbound connections within the window has a connect rate;
// one that opens as many loopback connections does not; and CPU comes from
// the window, not the process's life.
func TestDetectWindow(t *testing.T) {
	root := t.TempDir()
	conns := func(n int, remote string) []scantest.Sock {
		var out []scantest.Sock
		for i := range n {
			out = append(out, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
				Inode:  uint64(900000 + i*2 + len(remote)%2),
				Local:  netip.AddrPortFrom(netip.MustParseAddr("10.0.0.5"), uint16(45000+i)),
				Remote: netip.AddrPortFrom(netip.MustParseAddr(remote), 443), State: procfs.TCPEstablished}})
		}
		return out
	}
	build := func(n int, cpu uint64) scantest.Host {
		h := benignHost()
		h.Procs = append(h.Procs,
			scantest.Proc{PID: 900, PPID: 1, Comm: "dialer", Exe: "/usr/bin/dialer", StartTime: 500, UTime: cpu, Sockets: conns(n, "198.51.100.9")},
			scantest.Proc{PID: 901, PPID: 1, Comm: "local", Exe: "/usr/bin/local", StartTime: 500, Sockets: conns(n, "127.0.0.1")},
		)
		if n == 1 {
			// A burst scanner that is gone by the second sample.
			h.Procs = append(h.Procs, scantest.Proc{PID: 902, PPID: 1, Comm: "burst", Exe: "/dev/shm/burst", StartTime: 500, Sockets: synSent(10, 10)})
		}
		return h
	}
	if err := scantest.Write(root, build(1, 0)); err != nil {
		t.Fatal(err)
	}
	now := fakeNow
	opts := Options{Root: root, MinScore: -1, Window: 50 * time.Millisecond, Interval: time.Hour,
		Now: func() time.Time { return now }}
	opts.afterSample = func(n int) {
		if n != 0 {
			return
		}
		// One second later by the fake clock: 20 new connections, 1 s of CPU.
		now = now.Add(time.Second)
		h := build(21, 100)
		dir := t.TempDir()
		if err := scantest.Write(dir, h); err != nil {
			t.Fatal(err)
		}
		replaceDir(t, root, dir)
	}
	sus, err := Detect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	d := find(sus, 900)
	if d == nil {
		t.Fatalf("dialer not listed: %v", pids(sus))
	}
	if diff := cmp.Diff([]Signal{SignalConnectRate, SignalCPU}, signals(*d)); diff != "" {
		t.Errorf("dialer signals (-want +got):\n%s\n%v", diff, d.Reasons)
	}
	if d.CPUPercent != 100 {
		t.Errorf("dialer CPU = %v, want 100 (1 s over 1 s)", d.CPUPercent)
	}
	if l := find(sus, 901); l != nil {
		t.Errorf("loopback dialer listed: %v", l.Reasons)
	}
	if b := find(sus, 902); b == nil || !b.Exited || b.SocketCount != 10 || !hasSignal(*b, SignalSynFanout) {
		t.Errorf("exited burst scanner: %+v", b)
	}
	if d.Exited || d.SocketCount != 21 {
		t.Errorf("dialer exited=%v sockets=%d, want running with 21", d.Exited, d.SocketCount)
	}
	if fmt.Sprint(d.Reasons[0]) != "+25 20.0 new outbound connections/s over 1s" {
		t.Errorf("reason = %q", d.Reasons[0])
	}
}

// TestDetectReportPacket: a raw-packet scanner has no TCP socket to match,
// but a packet socket weighs more when the report is about port scanning.
func TestDetectReportPacket(t *testing.T) {
	h := benignHost()
	h.Procs = append(h.Procs, scantest.Proc{PID: 810, PPID: 1, Comm: "sender", Exe: "/usr/bin/sender", StartTime: 500,
		Sockets: []scantest.Sock{{Table: "packet", Packet: procfs.PacketSocket{Type: 3, Proto: 3, Iface: 2}}}})
	root := writeHost(t, h)
	for _, tc := range []struct {
		kind abuse.Kind
		want []Signal
	}{
		{abuse.KindPortScan, []Signal{SignalPacketSocket, SignalReport}},
		{abuse.KindSpam, []Signal{SignalPacketSocket}},
	} {
		sus, err := Detect(context.Background(), Options{Root: root, MinScore: -1, Report: &abuse.Report{Kind: tc.kind},
			Now: func() time.Time { return fakeNow }})
		if err != nil {
			t.Fatal(err)
		}
		s := find(sus, 810)
		if s == nil {
			t.Fatalf("%s: pid 810 not listed", tc.kind)
		}
		if diff := cmp.Diff(tc.want, signals(*s)); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.kind, diff)
		}
	}
}
