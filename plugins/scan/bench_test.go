package scan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	gnet "github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/unix"
)

// The benchmarks compare the socket → process table with gopsutil v4 and
// `ss -tanp` on the same host, loaded with ~30,000 loopback TCP sockets
// held by 75 helper processes (and, for the ".../procs=2000" variants,
// 2,000 more idle processes). bench/scan.sh runs them side by side and
// prints the ratios. Timings are reported, never asserted.
//
// Nothing is kept between calls: each Sockets or Detect call reads the
// kernel's BTF and loads its BPF program anew, so a call in a loop costs
// what a one-shot call in a fresh process costs (less the process start).

const (
	benchHolders  = 75
	benchPerProc  = 200 // connections per holder: 2×200+1 sockets each
	benchIdleProc = 2000
)

var (
	loadOnce sync.Once
	loadCmds []*exec.Cmd
	idleCmds []*exec.Cmd
	loadMu   sync.Mutex
)

// stopLoad kills (by PID) and reaps the helpers the benchmarks started.
func stopLoad() {
	loadMu.Lock()
	defer loadMu.Unlock()
	for _, c := range append(loadCmds, idleCmds...) {
		c.Process.Kill()
		c.Wait()
	}
	loadCmds, idleCmds = nil, nil
}

func socketLoad(b *testing.B) {
	loadOnce.Do(func() {
		for range benchHolders {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=hold:%d", helperEnv, benchPerProc))
			stdin, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			_ = stdin // held open: closing it ends the helper
			buf := make([]byte, 6)
			if _, err := out.Read(buf); err != nil {
				b.Fatalf("holder: %v", err)
			}
			loadMu.Lock()
			loadCmds = append(loadCmds, cmd)
			loadMu.Unlock()
		}
	})
}

// idleLoad starts the 2,000 idle processes, unless they run already.
func idleLoad(b *testing.B) {
	loadMu.Lock()
	defer loadMu.Unlock()
	for len(idleCmds) < benchIdleProc {
		cmd := exec.Command("/bin/sleep", "3600")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		idleCmds = append(idleCmds, cmd)
	}
}

// stopIdle kills (by PID) and reaps the idle processes, so that the next
// ".../procs=75" run sees the host without them.
func stopIdle() {
	loadMu.Lock()
	defer loadMu.Unlock()
	for _, c := range idleCmds {
		c.Process.Kill()
	}
	for _, c := range idleCmds {
		c.Wait()
	}
	idleCmds = nil
}

// cpuTime is the CPU time used so far by this process and, with children,
// by its reaped children.
func cpuTime(children bool) time.Duration {
	who := syscall.RUSAGE_SELF
	if children {
		who = syscall.RUSAGE_CHILDREN
	}
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric: on a shared machine wall time
// includes waiting for a CPU, CPU time does not.
func reportCPU(b *testing.B, children bool, start time.Duration) {
	b.ReportMetric(float64(cpuTime(children)-start)/1e6/float64(b.N), "cpu-ms/op")
}

func benchSizes(b *testing.B, fn func(b *testing.B)) {
	if testing.Short() {
		b.Skip("starts 75 (and 2,000) helper processes")
	}
	socketLoad(b)
	stopIdle() // a benchmark before this one left them running
	b.Run("procs=75", fn)
	idleLoad(b)
	b.Run("procs=2000", fn)
}

func BenchmarkSockets(b *testing.B) {
	benchSizes(b, func(b *testing.B) {
		n := 0
		defer reportCPU(b, false, cpuTime(false))
		for b.Loop() {
			s, err := Sockets(context.Background(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			n = len(s)
		}
		b.ReportMetric(float64(n), "sockets")
	})
}

// BenchmarkSocketsNoBPF maps inodes to processes through /proc/PID/fd (a
// readlink per descriptor), as where the BPF iterator cannot run.
func BenchmarkSocketsNoBPF(b *testing.B) {
	benchSizes(b, func(b *testing.B) {
		n := 0
		defer reportCPU(b, false, cpuTime(false))
		for b.Loop() {
			s, err := Sockets(context.Background(), Options{NoBPF: true})
			if err != nil {
				b.Fatal(err)
			}
			n = len(s)
		}
		b.ReportMetric(float64(n), "sockets")
	})
}

func BenchmarkSocketsProcNet(b *testing.B) {
	benchSizes(b, func(b *testing.B) {
		n := 0
		defer reportCPU(b, false, cpuTime(false))
		for b.Loop() {
			s, err := Sockets(context.Background(), Options{NoNetlink: true})
			if err != nil {
				b.Fatal(err)
			}
			n = len(s)
		}
		b.ReportMetric(float64(n), "sockets")
	})
}

func BenchmarkGopsutil(b *testing.B) {
	benchSizes(b, func(b *testing.B) {
		n := 0
		defer reportCPU(b, false, cpuTime(false))
		for b.Loop() {
			c, err := gnet.ConnectionsWithContext(context.Background(), "all")
			if err != nil {
				b.Fatal(err)
			}
			n = len(c)
		}
		b.ReportMetric(float64(n), "sockets")
	})
}

func BenchmarkSS(b *testing.B) {
	if _, err := exec.LookPath("ss"); err != nil {
		b.Skip("no ss")
	}
	benchSizes(b, func(b *testing.B) {
		defer reportCPU(b, true, cpuTime(true))
		for b.Loop() {
			if err := exec.Command("ss", "-tanp").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	benchSizes(b, func(b *testing.B) {
		defer reportCPU(b, false, cpuTime(false))
		for b.Loop() {
			if _, err := Detect(context.Background(), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDetectProcs is one-shot Detect on the host as it is, then with
// 2,000 idle processes added, without the socket load (bench/scan.sh runs
// it in a process of its own).
func BenchmarkDetectProcs(b *testing.B) {
	if testing.Short() {
		b.Skip("starts 2,000 processes")
	}
	run := func(b *testing.B) {
		defer reportCPU(b, false, cpuTime(false))
		n := 0
		for b.Loop() {
			if _, err := Detect(context.Background(), Options{}); err != nil {
				b.Fatal(err)
			}
		}
		pids, _ := os.ReadDir("/proc")
		for _, p := range pids {
			if p.Name()[0] >= '0' && p.Name()[0] <= '9' {
				n++
			}
		}
		b.ReportMetric(float64(n), "procs")
	}
	// The same in a fresh process each time (this test binary, started
	// to run Detect once and exit): what a one-shot command costs, with
	// the process start and nothing warm in it.
	fresh := func(b *testing.B) {
		defer reportCPU(b, true, cpuTime(true))
		for b.Loop() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=detect-once")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	}
	stopIdle()
	b.Run("host", run)
	b.Run("host/fresh-process", fresh)
	idleLoad(b)
	b.Run("host+2000", run)
	b.Run("host+2000/fresh-process", fresh)
}

// synthSockets is n sockets as a netlink dump leaves them: allocated in
// blocks, in hash order, in a map by inode; a few in a second namespace.
func synthSockets(n int) map[uint64]*Socket {
	socks := make(map[uint64]*Socket, n)
	var slab []Socket
	for i := range n {
		if len(slab) == cap(slab) {
			slab = make([]Socket, 0, 1024)
		}
		ino := uint64(1000000 + (i*7919)%n) // not in inode order
		s := Socket{Proto: protoOrder[2+i%2], Family: 4, Inode: ino, NetNS: 4026531840, State: "ESTABLISHED", PIDs: []int{i % 75}}
		if i%100 == 0 {
			s.NetNS = 4026532000
		}
		slab = append(slab, s)
		socks[ino] = &slab[len(slab)-1]
	}
	return socks
}

// BenchmarkSortedSockets is the ordering Sockets does after the pass.
func BenchmarkSortedSockets(b *testing.B) {
	socks := synthSockets(30000)
	defer reportCPU(b, false, cpuTime(false))
	for b.Loop() {
		sortedSockets(socks)
	}
}

// BenchmarkWatchTimeToTop: how long after Watch starts a connect scanner
// at up to 25,000 attempts/s (targets refusing at once) is the process
// with the most attempts in a report (100 ms reports), against the
// sampling path: Detect over a 1 s window without BPF, which reports
// whether it listed the scanner first at all (1 or 0).
func BenchmarkWatchTimeToTop(b *testing.B) {
	if err := WatchSupported(); err != nil {
		b.Skip(err)
	}
	cmd := startHelper(b, "connscan")
	pid := cmd.Process.Pid
	var toTop, rate float64
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err := Watch(ctx, WatchOptions{Interval: 100 * time.Millisecond}, func(rs []ConnRate) {
			if len(rs) > 0 && rs[0].PID == pid && ctx.Err() == nil {
				toTop += time.Since(start).Seconds()
				rate += rs[0].PerSecond
				cancel()
			}
		})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(toTop/float64(b.N)*1000, "ms-to-top")
	b.ReportMetric(rate/float64(b.N), "attempts/s")
	sus, err := Detect(context.Background(), Options{Window: time.Second, NoBPF: true})
	if err != nil {
		b.Fatal(err)
	}
	found := 0.0
	if len(sus) > 0 && sus[0].PID == pid {
		found = 1
	}
	b.ReportMetric(found, "sampling-top")
}

// BenchmarkWatchCPU: the CPU this process spends watching (ring buffer
// reads, per-process counting, reading the kernel's counters, waking up to
// do so) while a scanner makes 10,000 attempts/s, as a percentage of one
// CPU, with reports every 1 s (the default) and every 250 ms: "%cpu" from
// the first report to the end of each 4 s watch (steady state),
// "%cpu-with-load" from the start (the kernel BTF parse, map creation and
// program load included). The programs themselves run in the kernel, in
// the scanner's connect calls and in softirq, charged to whoever runs:
// "%cpu-bpf" is their run time over the watch (kernel BPF statistics,
// enabled for the benchmark), "ns/attempt" their run time per attempt.
func BenchmarkWatchCPU(b *testing.B) {
	if err := WatchSupported(); err != nil {
		b.Skip(err)
	}
	if st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
		defer st.Close()
	}
	startHelper(b, "connscan:10000")
	for _, interval := range []time.Duration{time.Second, 250 * time.Millisecond} {
		b.Run("interval="+interval.String(), func(b *testing.B) { benchWatchCPU(b, interval) })
	}
}

func benchWatchCPU(b *testing.B, interval time.Duration) {
	var pct, pctLoad, pctBPF, seen, bpfNs, attempts float64
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		n := 0
		before := cpuTime(false)
		start := time.Now()
		var firstCPU time.Duration
		var first time.Time
		var runtime time.Duration
		closing := func(w *watcher) {
			for _, p := range w.progs {
				if st, err := p.Stats(); err == nil {
					runtime += st.Runtime
				}
			}
		}
		total := 0
		if err := Watch(ctx, WatchOptions{Interval: interval, closing: closing}, func(rs []ConnRate) {
			for _, r := range rs {
				total += r.Attempts
			}
			if first.IsZero() {
				first, firstCPU = time.Now(), cpuTime(false)
				return
			}
			for _, r := range rs {
				n += r.Attempts
			}
		}); err != nil {
			b.Fatal(err)
		}
		cancel()
		end, endCPU := time.Now(), cpuTime(false)
		pctLoad += (endCPU - before).Seconds() / end.Sub(start).Seconds() * 100
		pct += (endCPU - firstCPU).Seconds() / end.Sub(first).Seconds() * 100
		pctBPF += runtime.Seconds() / end.Sub(start).Seconds() * 100
		bpfNs += float64(runtime.Nanoseconds())
		attempts += float64(total)
		seen += float64(n) / end.Sub(first).Seconds()
	}
	b.ReportMetric(pct/float64(b.N), "%cpu")
	b.ReportMetric(pctLoad/float64(b.N), "%cpu-with-load")
	b.ReportMetric(pctBPF/float64(b.N), "%cpu-bpf")
	if attempts > 0 {
		b.ReportMetric(bpfNs/attempts, "ns/attempt")
	}
	b.ReportMetric(seen/float64(b.N), "attempts/s")
}
