package scan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/internal/testenv"
)

// The tests in this file run real raw-packet scanners (masscan, hping3)
// and a real capturer (tcpdump) under Watch and Detect, with the rules of
// scanners_test.go: only in the scanner namespace (one veth to the victim,
// no default route), the adapter named, bounded in count and time, under
// timeout -s KILL.

// childOf waits for the process that `ip netns exec … timeout` runs (the
// child of timeout, which ip became) and returns its PID.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	fs := procfs.NewDefaultFS()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if kids := kernelChildren(fs, pid); len(kids) == 1 {
			return kids[0]
		}
	}
	t.Fatalf("pid %d started nothing", pid)
	return 0
}

// watchRaw watches until each of pids has been reported (and want says
// enough was seen) or 8 s pass, and returns the raw packets of each.
func watchRaw(t *testing.T, pids []int, want func(map[int]ConnRate) bool) map[int]ConnRate {
	t.Helper()
	return watchPIDs(t, pids, want)
}

func needRealScanners(t *testing.T) {
	t.Helper()
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
}

// TestWatchMasscanRenamedVsTcpdump: masscan and tcpdump, copied into one
// directory under harmless names: the masscan copy sends SYNs from its
// AF_PACKET socket at 2,000 a second, the tcpdump copy captures them on
// the same veth from an AF_PACKET socket of its own. Watch counts the
// masscan copy's packets and none of tcpdump's; Detect over a window ranks
// it above tcpdump on what it transmits (SignalRawSend) alone: the rest of
// their scores is the same (without the raw-send signal they tie).
func TestWatchMasscanRenamedVsTcpdump(t *testing.T) {
	needRealScanners(t)
	masscan := testenv.LookPath(t, "masscan", "masscan")
	tcpdump := testenv.LookPath(t, "tcpdump", "tcpdump")
	tn := newTestNet(t)
	// Both copied into one directory under names no list knows: where
	// they run from and what they are called weigh the same.
	dir := t.TempDir()
	copyBin := func(src, name string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	masscan, tcpdump = copyBin(masscan, "dbus-session"), copyBin(tcpdump, "netmon")
	capt := childOf(t, tn.runIn(t, 20, tcpdump, "-i", tn.scanIf, "-n", "-p", "-Z", "root", "-w", "/dev/null").Process.Pid)
	scan := childOf(t, tn.runIn(t, 20, masscan, tn.victimIP.String(), "-p1-30000", "--rate", "2000", "--adapter", tn.scanIf,
		"--adapter-ip", tn.scanIP.String(), "--router-mac", tn.victimMAC, "--wait", "0").Process.Pid)
	got := watchRaw(t, []int{scan, capt}, func(m map[int]ConnRate) bool { return m[scan].RawPackets >= 1000 })
	if got[scan].RawPackets < 1000 || got[capt].RawPackets != 0 {
		t.Errorf("masscan copy %d packets, tcpdump %d; want >= 1000 and 0", got[scan].RawPackets, got[capt].RawPackets)
	}
	sus, err := Detect(context.Background(), Options{Window: time.Second, MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	si := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == scan })
	ci := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == capt })
	if si < 0 || ci < 0 || sus[si].Score <= sus[ci].Score {
		t.Fatalf("masscan copy at %d, tcpdump at %d: %v", si, ci, top(sus))
	}
	if !slices.Contains(signals(sus[si]), SignalRawSend) || slices.Contains(signals(sus[ci]), SignalRawSend) {
		t.Errorf("masscan copy %v; tcpdump %v", sus[si].Reasons, sus[ci].Reasons)
	}
	t.Logf("masscan copy %d (%s) score %d; tcpdump score %d", scan, sus[si].Comm, sus[si].Score, sus[ci].Score)
}

// TestWatchHping3VsStuckPool: hping3 sends SYNs from a raw IP socket to
// port after port of the victim, 1,000 a second; a connection pool stuck
// on a dead database tries one host and port again and again, unanswered.
// Watch counts hping3's packets and the pool's attempts (all unanswered,
// one port); Detect over a window ranks hping3 first, with SignalRawSend
// for its packets, and does not score the pool's retries to one service
// as a scan. (hping3 also holds a raw IP and an AF_PACKET socket, which
// alone outweigh this pool's executable under /tmp.)
func TestWatchHping3VsStuckPool(t *testing.T) {
	needRealScanners(t)
	hping := testenv.LookPath(t, "hping3", "hping3")
	tn := newTestNet(t)
	pool := startHelper(t, "pool:"+tn.scanNS+":"+tn.victimIP.String()).Process.Pid
	h := childOf(t, tn.runIn(t, 20, hping, "-I", tn.scanIf, "-S", "-p", "++1", "-i", "u1000", "-c", "15000", "-q", tn.victimIP.String()).Process.Pid)
	got := watchRaw(t, []int{h, pool}, func(m map[int]ConnRate) bool {
		return m[h].RawPackets >= 500 && m[pool].Unanswered >= 10
	})
	if got[h].RawPackets < 500 || got[pool].Attempts < 10 || got[pool].Unanswered < 10 || got[pool].Refused != 0 || got[pool].Answered != 0 {
		t.Errorf("hping3 %+v; pool %+v", got[h], got[pool])
	}
	sus, err := Detect(context.Background(), Options{Window: time.Second, MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	hi := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == h })
	pi := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == pool })
	if hi < 0 || (pi >= 0 && sus[hi].Score <= sus[pi].Score) {
		t.Fatalf("hping3 at %d, pool at %d: %v", hi, pi, top(sus))
	}
	if !slices.Contains(signals(sus[hi]), SignalRawSend) {
		t.Errorf("hping3 %v", sus[hi].Reasons)
	}
	if pi >= 0 && (slices.Contains(signals(sus[pi]), SignalConnectRate) || slices.Contains(signals(sus[pi]), SignalConnectFail)) {
		t.Errorf("the pool's retries to one service scored as a scan: %v", sus[pi].Reasons)
	}
	t.Logf("hping3 %v; pool %v", sus[hi].Reasons, func() any {
		if pi < 0 {
			return "not listed"
		}
		return sus[pi].Reasons
	}())
}
