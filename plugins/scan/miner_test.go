package scan

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
)

func estab(local, remote string) scantest.Sock {
	return scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), State: procfs.TCPEstablished}}
}

// TestMinerHarmlessName: a miner under a harmless name, at 98 % CPU with
// one connection to a pool port, is listed at the default MinScore (pool
// port and miner shape); the same process on port 443 still shows the
// miner's shape; a busy server with a listener and many connections does
// not. Before, the first scored only its CPU (20) and was not listed.
func TestMinerHarmlessName(t *testing.T) {
	h := benignHost()
	h.Procs = append(h.Procs,
		scantest.Proc{PID: 800, PPID: 1, Comm: "syslogd", Exe: "/usr/sbin/syslogd", Cmdline: []string{"/usr/sbin/syslogd"},
			StartTime: 990000, UTime: 9800, Sockets: []scantest.Sock{estab("172.31.5.9:41000", "198.51.100.7:3333")}},
		scantest.Proc{PID: 801, PPID: 1, Comm: "agent", Exe: "/usr/bin/agent", Cmdline: []string{"/usr/bin/agent"},
			StartTime: 990000, UTime: 9800, Sockets: []scantest.Sock{estab("172.31.5.9:41001", "198.51.100.8:443")}},
	)
	sus, err := Detect(context.Background(), Options{Root: writeHost(t, h), Now: func() time.Time { return fakeNow }})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == 800 })
	if i < 0 {
		t.Fatalf("the miner on a pool port is not listed: %+v", sus)
	}
	if got := signals(sus[i]); !slices.Contains(got, SignalPoolPort) || !slices.Contains(got, SignalMinerShape) {
		t.Errorf("signals %v", got)
	}
	j := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == 801 })
	if j < 0 || !slices.Contains(signals(sus[j]), SignalMinerShape) || slices.Contains(signals(sus[j]), SignalPoolPort) {
		t.Errorf("the miner on port 443: %+v", sus)
	}
	for _, s := range sus {
		if s.PID != 800 && s.PID != 801 && slices.Contains(signals(s), SignalMinerShape) {
			t.Errorf("pid %d (%s) has the miner's shape: %v", s.PID, s.Comm, s.Reasons)
		}
	}
}

func TestImpostorName(t *testing.T) {
	for _, tc := range []struct {
		comm    string
		cmdline []string
		want    string
	}{
		{"sleep", []string{"[kworker/0:1-events]"}, "[kworker/0:1-events]"},
		{"kworker/0:2", []string{"/tmp/.x/k"}, "kworker/0:2"},
		{"x", []string{"kthreadd"}, "kthreadd"},
		{"bash", []string{"bash", "-c", "[x]"}, ""},
		{"sshd", []string{"sshd: root [priv]"}, ""},
		{"python3", []string{"[]"}, ""},
		{"kdevtmpfsi", []string{"/tmp/kdevtmpfsi"}, ""},
		{"kswapd0", []string{"kswapd0"}, "kswapd0"},
	} {
		if got := impostorName(tc.comm, tc.cmdline); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.comm, tc.cmdline, got, tc.want)
		}
	}
}

// TestImpostorReal: a real process whose argv[0] is "[kworker/0:1-events]"
// (bash exec -a, as droppers do) is listed with the impostor signal; real
// kernel threads are never listed.
func TestImpostorReal(t *testing.T) {
	needLiveRoot(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command("bash", "-c", `exec -a "[kworker/0:1-events]" /bin/sleep 600`)
	startCmd(t, cmd)
	pid := cmd.Process.Pid
	fs := procfs.NewDefaultFS()
	for i := 0; i < 200; i++ {
		if c, _ := fs.Cmdline(pid); len(c) > 0 && strings.HasPrefix(c[0], "[kworker") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sus, err := Detect(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == pid })
	if i < 0 {
		t.Fatalf("impostor %d not listed at the default MinScore: %+v", pid, sus)
	}
	if !slices.Contains(signals(sus[i]), SignalImpostor) {
		t.Errorf("signals %v", sus[i].Reasons)
	}
	for _, s := range sus {
		if st, err := fs.Stat(s.PID); err == nil && st.IsKernelThread() {
			t.Errorf("kernel thread %d (%s) listed", s.PID, s.Comm)
		}
	}
}
