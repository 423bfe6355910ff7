package scan

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/testenv"
)

// The tests in this file run real scanners, each bounded in count and
// time, only against a victim namespace they create: a veth pair between
// a scanner namespace (10.200.N.1, no other link, no default route) and a
// victim namespace (10.200.N.2) where a blackhole route to the scanner
// makes every SYN go unanswered, so connect() scanners sit in SYN_SENT.

var netnsSeq atomic.Int32

type testNet struct {
	scanNS, victimNS string
	scanIf           string
	scanIP, victimIP netip.Addr
	victimMAC        string
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	testenv.NeedRoot(t, "network namespaces")
	testenv.LookPath(t, "ip", "iproute2")
	n := int(netnsSeq.Add(1))
	id := fmt.Sprintf("%d-%d", os.Getpid(), n)
	sub := (os.Getpid()+n)%250 + 1
	tn := &testNet{
		scanNS: "abk-scan-" + id, victimNS: "abk-victim-" + id,
		scanIf:   fmt.Sprintf("abks%d", (os.Getpid()*8+n)%1000000),
		scanIP:   netip.AddrFrom4([4]byte{10, 200, byte(sub), 1}),
		victimIP: netip.AddrFrom4([4]byte{10, 200, byte(sub), 2}),
	}
	victimIf := strings.Replace(tn.scanIf, "abks", "abkv", 1)
	ipCmd(t, "netns", "add", tn.scanNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", tn.scanNS).Run() })
	ipCmd(t, "netns", "add", tn.victimNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", tn.victimNS).Run() })
	ipCmd(t, "link", "add", tn.scanIf, "netns", tn.scanNS, "type", "veth", "peer", "name", victimIf, "netns", tn.victimNS)
	ipCmd(t, "-n", tn.scanNS, "addr", "add", tn.scanIP.String()+"/24", "dev", tn.scanIf)
	ipCmd(t, "-n", tn.scanNS, "link", "set", tn.scanIf, "up")
	ipCmd(t, "-n", tn.scanNS, "link", "set", "lo", "up")
	ipCmd(t, "-n", tn.victimNS, "addr", "add", tn.victimIP.String()+"/24", "dev", victimIf)
	ipCmd(t, "-n", tn.victimNS, "link", "set", victimIf, "up")
	ipCmd(t, "-n", tn.victimNS, "link", "set", "lo", "up")
	ipCmd(t, "-n", tn.victimNS, "route", "add", "blackhole", tn.scanIP.String()+"/32")
	out := ipCmd(t, "-n", tn.victimNS, "-o", "link", "show", victimIf)
	if i := strings.Index(out, "link/ether "); i >= 0 {
		tn.victimMAC = strings.Fields(out[i:])[1]
	}
	// The scanner namespace must have no default route.
	if r := ipCmd(t, "-n", tn.scanNS, "route", "show", "default"); strings.TrimSpace(r) != "" {
		t.Fatalf("scanner namespace has a default route: %s", r)
	}
	return tn
}

// runIn starts a bounded command in the scanner namespace; it is killed
// (by PID) and reaped at cleanup.
func (tn *testNet) runIn(t *testing.T, seconds int, args ...string) *exec.Cmd {
	t.Helper()
	full := append([]string{"netns", "exec", tn.scanNS, "timeout", "-s", "KILL", fmt.Sprint(seconds)}, args...)
	cmd := exec.Command("ip", full...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group (ip execs timeout, which keeps it and runs the
	// scanner in it), so that cleanup kills exactly what this test started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], out.String())
		}
	})
	return cmd
}

// report is the abuse report the victim would send: the scanner's address
// probing the victim on a few ports.
func (tn *testNet) report(ports ...uint16) *abuse.Report {
	r := &abuse.Report{Kind: abuse.KindPortScan, Resources: abuse.Resources{IPs: []netip.Addr{tn.scanIP}}}
	for _, p := range ports {
		r.Evidence = append(r.Evidence, abuse.Evidence{SrcIP: tn.scanIP, DstIP: tn.victimIP, DstPort: p, Proto: "tcp"})
	}
	return r
}

// netnsIno is the inode of a named network namespace: what Suspect.NetNS
// holds for a process in it.
func (tn *testNet) netnsIno(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+tn.scanNS, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// waitTop runs Detect until the top suspect is the process named comm,
// or fails after a while with what Detect saw. The ranking is among the
// processes of the scanner namespace ns and the rest of the host but
// other tests' scanners: on a shared machine the suspects of tests running
// at the same time (a deleted ".work32" of the respond demo, other
// packages' scanners in namespaces of their own) may score as high.
func waitTop(t *testing.T, opts Options, comm string, benign int, ns uint64) Suspect {
	t.Helper()
	deadline := time.Now().Add(12 * time.Second)
	var last []Suspect
	for time.Now().Before(deadline) {
		sus, err := Detect(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if benign > 0 {
			if b := find(sus, benign); b != nil {
				t.Fatalf("benign busy server listed: %v", b.Reasons)
			}
		}
		sus = slices.DeleteFunc(sus, func(s Suspect) bool { return otherTests(s, ns) })
		last = sus
		if len(sus) > 0 && sus[0].Comm == comm {
			return sus[0]
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, s := range last[:min(len(last), 5)] {
		t.Logf("suspect pid %d %s score %d %v", s.PID, s.Comm, s.Score, s.Reasons)
	}
	t.Fatalf("%s never came out as the top suspect", comm)
	return Suspect{}
}

// waitListed runs Detect until a process named comm is listed.
func waitListed(t *testing.T, opts Options, comm string, benign int) Suspect {
	t.Helper()
	deadline := time.Now().Add(12 * time.Second)
	for time.Now().Before(deadline) {
		sus, err := Detect(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if b := find(sus, benign); b != nil {
			t.Fatalf("benign busy server listed: %v", b.Reasons)
		}
		for _, s := range sus {
			if s.Comm == comm {
				return s
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never listed", comm)
	return Suspect{}
}

// otherTests reports whether a suspect is, by all signs, another test's
// process on a shared machine: one in a network namespace other than this
// test's (the host's) and ns, or one whose executable lies in a test's
// temporary directory (Go's go-build, t.TempDir and the respond demo's
// names), unless it is in ns.
func otherTests(s Suspect, ns uint64) bool {
	if s.NetNS == ns {
		return false
	}
	var host syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &host) == nil && s.NetNS != 0 && s.NetNS != host.Ino {
		return true
	}
	return strings.HasPrefix(s.Exe, "/tmp/") && (strings.Contains(s.Exe, "/go-build") || strings.Contains(s.Exe, "/Test") || strings.Contains(s.Exe, "-demo-"))
}

func hasSignal(s Suspect, sig Signal) bool {
	for _, r := range s.Reasons {
		if r.Signal == sig {
			return true
		}
	}
	return false
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func TestScannerConnect(t *testing.T) {
	tn := newTestNet(t)
	bin := filepath.Join(t.TempDir(), "connscan")
	if out, err := exec.Command(goTool(), "build", "-o", bin, "./testdata/connscan").CombinedOutput(); err != nil {
		t.Fatalf("build connscan: %v\n%s", err, out)
	}
	srv := startHelper(t, "busy")
	// 120 ports, one every 25 ms: about 40 connects a second for 3 s.
	tn.runIn(t, 20, bin, "-host", tn.victimIP.String(), "-from", "20", "-to", "139", "-hold", "15s", "-delay", "25ms")
	// Without the report it is listed for its fan-out and location (on a
	// shared machine, other test binaries running from /tmp with CPU may
	// rank near it); with the report it is the top suspect.
	top := waitListed(t, Options{Window: time.Second}, "connscan", srv.Process.Pid)
	for _, sig := range []Signal{SignalSynFanout, SignalExeLocation, SignalConnectRate} {
		if !hasSignal(top, sig) {
			t.Errorf("connscan lacks %s: %v", sig, top.Reasons)
		}
	}
	// With the report, its sockets match the evidence.
	top = waitTop(t, Options{Report: tn.report(22, 23, 25)}, "connscan", srv.Process.Pid, tn.netnsIno(t))
	if !hasSignal(top, SignalReport) {
		t.Errorf("connscan not matched to the report: %v", top.Reasons)
	}
	if len(top.Sockets) == 0 || top.Sockets[0].Remote.Addr() != tn.victimIP || top.Sockets[0].State != "SYN_SENT" {
		t.Errorf("connscan sockets: %v", top.Sockets)
	}
}

func TestScannerNmapConnect(t *testing.T) {
	testenv.LookPath(t, "nmap", "nmap")
	tn := newTestNet(t)
	srv := startHelper(t, "busy")
	tn.runIn(t, 20, "nmap", "-sT", "-Pn", "-n", "-p", "1-200", "--max-retries", "0", "--host-timeout", "15s", tn.victimIP.String())
	top := waitTop(t, Options{Window: time.Second, Report: tn.report(22)}, "nmap", srv.Process.Pid, tn.netnsIno(t))
	for _, sig := range []Signal{SignalKnownName, SignalSynFanout, SignalReport} {
		if !hasSignal(top, sig) {
			t.Errorf("nmap lacks %s: %v", sig, top.Reasons)
		}
	}
}

func TestScannerMasscan(t *testing.T) {
	testenv.LookPath(t, "masscan", "masscan")
	tn := newTestNet(t)
	srv := startHelper(t, "busy")
	// Raw packets only out of the veth, to the victim, slowly, bounded.
	tn.runIn(t, 20, "masscan", tn.victimIP.String(), "-p1-1000", "--rate", "100", "--adapter", tn.scanIf,
		"--adapter-ip", tn.scanIP.String(), "--router-mac", tn.victimMAC, "--wait", "0")
	top := waitTop(t, Options{Report: tn.report(22)}, "masscan", srv.Process.Pid, tn.netnsIno(t))
	for _, sig := range []Signal{SignalKnownName, SignalPacketSocket, SignalReport} {
		if !hasSignal(top, sig) {
			t.Errorf("masscan lacks %s: %v", sig, top.Reasons)
		}
	}
	if top.NetNS == 0 || len(top.Sockets) == 0 || top.Sockets[0].Proto != ProtoPacket {
		t.Errorf("masscan sockets: %+v", top.Sockets)
	}
}
