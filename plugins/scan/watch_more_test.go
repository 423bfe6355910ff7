package scan

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/cilium/ebpf"
)

// needStratum skips (fails under ABUSEKIT_REQUIRE_ROOT=1) where the
// stratum program cannot run.
func needStratum(t *testing.T) {
	t.Helper()
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	w, err := loadWatch()
	if err != nil {
		testenv.Skipf(t, "%v", err)
	}
	defer w.close()
	if w.stratumErr != nil {
		testenv.Skipf(t, "stratum first bytes: %v", w.stratumErr)
	}
}

// watchPIDs runs Watch until done says so (or 10 s pass) and returns what
// it reported for each of pids, summed.
func watchPIDs(t *testing.T, pids []int, done func(map[int]ConnRate) bool) map[int]ConnRate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	sum := map[int]ConnRate{}
	err := Watch(ctx, WatchOptions{Interval: 250 * time.Millisecond}, func(rs []ConnRate) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			if !slices.Contains(pids, r.PID) {
				continue
			}
			s := sum[r.PID]
			s.PID, s.Comm = r.PID, r.Comm
			s.Attempts += r.Attempts
			s.Unrecorded += r.Unrecorded
			s.Answered += r.Answered
			s.Refused += r.Refused
			s.RawPackets += r.RawPackets
			s.ICMPPackets += r.ICMPPackets
			s.Unanswered += r.Unanswered
			s.UDPDatagrams += r.UDPDatagrams
			s.UDPDestinations += r.UDPDestinations
			s.UDPExample = cmpOr(s.UDPExample, r.UDPExample)
			if s.Stratum == "" {
				s.Stratum, s.StratumPeer = r.Stratum, r.StratumPeer
			}
			sum[r.PID] = s
		}
		if done(sum) {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return sum
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestWatchStratum: a process under a harmless name (the test binary's)
// with one connection to a loopback pool on a port that is no pool port,
// using no CPU to speak of, that speaks stratum (an xmrig login, then a
// keepalived every 100 ms): Watch reports the stratum method and the
// pool; Detect over a window, started while the connection is long
// established, lists it at the default MinScore on that alone. The pool
// (this process), whose replies are JSON too, is not flagged. Before, the
// miner scored nothing and was not listed.
func TestWatchStratum(t *testing.T) {
	needStratum(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go servePool(ln)
	pool := ln.Addr().String()
	miner := startHelper(t, "stratum:"+pool).Process.Pid

	got := watchPIDs(t, []int{miner, os.Getpid()}, func(m map[int]ConnRate) bool { return m[miner].Stratum != "" })
	if r := got[miner]; (r.Stratum != "keepalived" && r.Stratum != "login") || r.StratumPeer != pool {
		t.Errorf("miner: %+v", r)
	}
	if r := got[os.Getpid()]; r.Stratum != "" {
		t.Errorf("the pool flagged as a miner: %+v", r)
	}

	sus, err := Detect(context.Background(), Options{Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := find(sus, miner)
	if s == nil {
		t.Fatalf("miner %d not listed: %v", miner, top(sus))
	}
	if !slices.ContainsFunc(s.Reasons, func(r Reason) bool {
		return r.Signal == SignalStratum && r.Weight == weightStratum && strings.Contains(r.Text, pool) && strings.Contains(r.Text, `"keepalived"`)
	}) {
		t.Errorf("reasons %v", s.Reasons)
	}
	if slices.Contains(signals(*s), SignalPoolPort) || slices.Contains(signals(*s), SignalKnownName) {
		t.Errorf("the miner was meant to show no other miner signal: %v", s.Reasons)
	}
	if p := find(sus, os.Getpid()); p != nil && slices.Contains(signals(*p), SignalStratum) {
		t.Errorf("the pool: %v", p.Reasons)
	}
}

func TestStratumMethod(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4Ad`, "login"},
		{`{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.10.0"]}`, "mining.subscribe"},
		{`{"params": ["w.1", "x"], "id": 2, "method" :  "mining.authorize"}`, "mining.authorize"},
		{`{"id":4,"jsonrpc":"2.0","method":"eth_submitLogin","params":["0x`, "eth_submitLogin"},
		{`{"id":9,"jsonrpc":"2.0","method":"keepalived","params":{"id":"x"}}`, "keepalived"},
		{`{"id":1,"method":"getblocktemplate"}`, ""},              // bitcoind RPC, not stratum
		{`{"jsonrpc":"2.0","method":"mining.`, ""},                // cut off
		{`{"id":1,"jsonrpc":"2.0","result":{"status":"OK"}}`, ""}, // a reply
		{`{"method":"mining."}`, ""},
		{`{"method":"mining.sub scribe"}`, ""},
		{`GET / HTTP/1.1`, ""},
		{`{"method":1}`, ""},
		{``, ""},
	} {
		got, ok := stratumMethod([]byte(c.in))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("stratumMethod(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func FuzzStratumMethod(f *testing.F) {
	f.Add([]byte(`{"id":1,"jsonrpc":"2.0","method":"login","params":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := stratumMethod(b)
		if ok != (m != "") || (ok && !strings.Contains(string(b), `"`+m+`"`)) {
			t.Fatalf("stratumMethod(%q) = %q, %v", b, m, ok)
		}
	})
}

// TestWatchUDP: a UDP scanner (2,000 datagrams a second, each to a new
// port) is reported with as many new destinations as datagrams, more or
// less; a chatty client of one service with the same number of datagrams
// has one destination. Detect over a window gives the scanner the UDP
// fan-out signal and not the client.
func TestWatchUDP(t *testing.T) {
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	scanner := startHelper(t, "udpscan").Process.Pid
	client := startHelper(t, "udpone").Process.Pid
	got := watchPIDs(t, []int{scanner, client}, func(m map[int]ConnRate) bool {
		return m[scanner].UDPDestinations >= 500 && m[client].UDPDatagrams >= 500
	})
	s, c := got[scanner], got[client]
	if s.UDPDestinations < 500 || s.UDPDatagrams < s.UDPDestinations || !strings.HasPrefix(s.UDPExample, "127.0.0.1:") {
		t.Errorf("scanner: %+v", s)
	}
	if c.UDPDestinations != 1 || c.UDPDatagrams < 500 || c.UDPExample != "127.0.0.1:5353" {
		t.Errorf("client: %+v", c)
	}
	// Nothing listens on their ports: the kernel answers each datagram
	// with an ICMP port unreachable from its own raw socket, in their
	// context. That is no packet of theirs.
	if s.RawPackets != 0 || c.RawPackets != 0 {
		t.Errorf("raw packets: scanner %d, client %d; want 0 (the kernel's ICMP errors)", s.RawPackets, c.RawPackets)
	}
	sus, err := Detect(context.Background(), Options{Window: time.Second, MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p := find(sus, scanner); p == nil || !slices.Contains(signals(*p), SignalUDPFanout) {
		t.Errorf("scanner: %+v", p)
	}
	if p := find(sus, client); p != nil && slices.Contains(signals(*p), SignalUDPFanout) {
		t.Errorf("client: %v", p.Reasons)
	}
}

// TestWatchOutcomes: from a namespace whose victim black-holes its
// replies, each round of a process's attempts has one answered (its own
// loopback listener), two refused (closed loopback ports: RST) and two
// unanswered (SYNs to the victim, given up 200 ms later): Watch counts
// each outcome for the process, though the RSTs arrive in softirq.
// Detect says so in the connect rate's reason.
func TestWatchOutcomes(t *testing.T) {
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	tn := newTestNet(t)
	pid := startHelper(t, "outcomes:"+tn.scanNS+":"+tn.victimIP.String()).Process.Pid
	got := watchPIDs(t, []int{pid}, func(m map[int]ConnRate) bool {
		r := m[pid]
		return r.Answered >= 40 && r.Refused >= 80 && r.Unanswered >= 80
	})
	r := got[pid]
	if r.Answered < 40 || r.Refused < 80 || r.Unanswered < 80 || r.Answered+r.Refused+r.Unanswered > r.Attempts {
		t.Errorf("outcomes %+v", r)
	}
	// The RSTs of the refused attempts and the SYN-ACKs of the answered
	// ones are sent in its context, by the kernel: not its packets.
	if r.RawPackets != 0 {
		t.Errorf("%d raw packets counted for a process that sends none", r.RawPackets)
	}
	// Each round makes them 1:2:2; the interval's edges cut a few rounds.
	if r.Refused < r.Answered || r.Refused > 3*r.Answered {
		t.Errorf("refused %d for %d answered, want about twice", r.Refused, r.Answered)
	}
	t.Logf("attempts %d: answered %d, refused %d, unanswered %d; raw packets %d", r.Attempts, r.Answered, r.Refused, r.Unanswered, r.RawPackets)
}

// TestDetectWindowSlowLoad: the programs take 1.5 s to load (as on a host
// whose CPUs are busy: the load parses the kernel's BTF), longer than the
// 1 s window; the window starts once they run, and the connect scanner is
// listed on its live attempts. Before, the window ran out before the
// programs were attached and the scanner, whose sockets last
// microseconds, was not listed (as TestDetectWindowWatch and
// TestWatchStratum found now and then on the shared machine).
func TestDetectWindowSlowLoad(t *testing.T) {
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	pid := startHelper(t, "connscan").Process.Pid
	beforeLoad = func() { time.Sleep(1500 * time.Millisecond) }
	t.Cleanup(func() { beforeLoad = nil })
	det, err := DetectAll(context.Background(), Options{Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := find(det.Suspects, pid)
	if s == nil || !slices.Contains(signals(*s), SignalConnectRate) {
		t.Fatalf("scanner %d: %+v (top %v)", pid, s, top(det.Suspects))
	}
	// Watched for the whole window, not the moment after a late load.
	for _, r := range s.Reasons {
		var n int
		var secs float64
		if r.Signal == SignalConnectRate {
			if _, err := fmt.Sscanf(r.Text, "%d outbound connection attempts in %f s", &n, &secs); err != nil || secs < 0.9 {
				t.Errorf("watched %.1f s of a 1 s window: %q", secs, r.Text)
			}
		}
	}
}

// TestWatchICMPMonitor: a pinger sending 2,000 echo requests a second from
// a raw ICMP socket (fping, a monitoring agent) is counted apart from raw
// packets, and Detect does not take it for a raw scanner; a raw TCP SYN
// sender next to it still is one. Before, its echo requests were raw
// packets and it got SignalRawSend (+40).
func TestWatchICMPMonitor(t *testing.T) {
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	pinger := startHelper(t, "icmpsend").Process.Pid
	sender := startHelper(t, "rawsend").Process.Pid
	got := watchPIDs(t, []int{pinger, sender}, func(m map[int]ConnRate) bool {
		return m[pinger].ICMPPackets >= 500 && m[sender].RawPackets >= 500
	})
	if p := got[pinger]; p.ICMPPackets < 500 || p.RawPackets != 0 {
		t.Errorf("pinger: %+v", p)
	}
	if s := got[sender]; s.RawPackets < 500 || s.ICMPPackets != 0 {
		t.Errorf("sender: %+v", s)
	}
	sus, err := Detect(context.Background(), Options{Window: time.Second, MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p := find(sus, pinger); p != nil && slices.Contains(signals(*p), SignalRawSend) {
		t.Errorf("pinger: %v", p.Reasons)
	}
	if s := find(sus, sender); s == nil || !slices.Contains(signals(*s), SignalRawSend) {
		t.Errorf("sender: %+v", s)
	}
}

// TestAddCountsForgets: the totals kept to turn the kernel's counters into
// per-interval counts forget a thread group the kernel's map no longer
// holds (evicted, or its entry deleted), so they are never larger than
// the map; a thread group still there keeps its totals and is counted
// by difference. Before, every thread group ever seen was kept.
func TestAddCountsForgets(t *testing.T) {
	needLiveRoot(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.LRUHash, KeySize: 4, ValueSize: 8 * numCounters, MaxEntries: 16})
	if err != nil {
		testenv.Skipf(t, "BPF map: %v", err)
	}
	defer m.Close()
	for _, noBatch := range []bool{false, true} {
		w := &watcher{counts: m, noBatch: noBatch}
		m.Put(uint32(1), [numCounters]uint64{cntRefused: 5})
		m.Put(uint32(2), [numCounters]uint64{cntUDP: 7})
		prev := map[uint32]counted{}
		aggs := map[uint32]*connAgg{}
		get := func(tgid uint32) *connAgg {
			if aggs[tgid] == nil {
				aggs[tgid] = &connAgg{}
			}
			return aggs[tgid]
		}
		w.addCounts(prev, get)
		if len(prev) != 2 || aggs[1].refused != 5 || aggs[2].udp != 7 {
			t.Fatalf("first read: prev %v, refused %d, udp %d", prev, aggs[1].refused, aggs[2].udp)
		}
		m.Delete(uint32(1))
		m.Put(uint32(2), [numCounters]uint64{cntUDP: 10})
		clear(aggs)
		w.addCounts(prev, get)
		if _, ok := prev[1]; ok || len(prev) != 1 || aggs[2].udp != 3 || aggs[1] != nil {
			t.Errorf("noBatch %v: prev %v, aggs %v", noBatch, prev, aggs)
		}
		m.Delete(uint32(2))
	}
}

// TestWatchRingFull: with a ring buffer of one page (about a hundred
// records) and a connect scanner at 25,000 attempts a second, most
// attempts find no room between two reads; they are still counted (in the
// kernel, as Unrecorded), so its attempts match its refused outcomes.
// Before, an attempt with no room was lost, and the scanner's rate was
// what the ring could hold.
func TestWatchRingFull(t *testing.T) {
	needLiveRoot(t)
	if err := WatchSupported(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	ringSize = 4096
	t.Cleanup(func() { ringSize = ringBytes })
	pid := startHelper(t, "connscan").Process.Pid
	got := watchPIDs(t, []int{pid}, func(m map[int]ConnRate) bool { return m[pid].Refused >= 5000 })
	r := got[pid]
	if r.Refused < 5000 || r.Unrecorded == 0 || r.Attempts < r.Refused*9/10 {
		t.Errorf("attempts %d (unrecorded %d), refused %d", r.Attempts, r.Unrecorded, r.Refused)
	}
	t.Logf("attempts %d (unrecorded %d), refused %d", r.Attempts, r.Unrecorded, r.Refused)
}
