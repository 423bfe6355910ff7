package playbook_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/playbook"
)

// BenchmarkStepOutOfProcess measures one step through an out-of-process
// plugin, journal included (the step's start appended and fdatasync'd, its
// end appended and fdatasync'd). b.N steps run as playbooks of at most
// benchSteps steps (a playbook has at most 1,000) on one host, and a step's
// time is from the previous step's end (or the run's start) to its own end,
// so that both journal syncs count. It reports the median and p90 step.
func BenchmarkStepOutOfProcess(b *testing.B) {
	const benchSteps = 500
	for _, mode := range []string{"journal-fsync", "no-journal"} {
		b.Run(mode, func(b *testing.B) {
			h := playbook.NewHost(playbook.HostOptions{})
			defer h.Close()
			if err := h.Start(b.Context(), playbook.Builtin("util")); err != nil {
				b.Fatal(err)
			}
			journal := ""
			if mode == "journal-fsync" {
				journal = b.TempDir()
			}
			durs := make([]time.Duration, 0, b.N)
			before := make([]time.Duration, 0, b.N) // previous step's end → this step's start event
			call := make([]time.Duration, 0, b.N)   // start event → end event
			var last, started time.Time
			onEvent := func(e playbook.Event) {
				switch e.Kind {
				case playbook.EventRunStarted:
					last = e.Time
				case playbook.EventStepStarted:
					started = e.Time
					before = append(before, e.Time.Sub(last))
				case playbook.EventStepFinished:
					durs = append(durs, e.Time.Sub(last))
					call = append(call, e.Time.Sub(started))
					last = e.Time
				}
			}
			pluginPID := 0
			if p, err := h.Plugin("util"); err == nil {
				pluginPID = p.PID()
			}
			var hostCPU, pluginCPU time.Duration
			var hostSwitches, pluginSwitches int64
			b.ResetTimer()
			for left, run := b.N, 0; left > 0; run++ {
				n := min(left, benchSteps)
				left -= n
				b.StopTimer()
				steps := make([]playbook.Step, n)
				for i := range steps {
					steps[i] = playbook.Step{ID: fmt.Sprintf("s%d", i), Plugin: "util", Action: "greet", Input: map[string]any{"name": "bench"}}
				}
				pb, err := playbook.New("bench", steps...)
				if err != nil {
					b.Fatal(err)
				}
				r, err := playbook.NewRunner(pb, playbook.Options{
					Incident:   fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), run),
					Host:       h,
					JournalDir: journal,
					OnEvent:    onEvent,
				})
				if err != nil {
					b.Fatal(err)
				}
				plan, err := r.Plan(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				self0, plugin0 := cpuTime(syscall.RUSAGE_SELF), processCPU(pluginPID)
				selfSw0, pluginSw0 := selfSwitches(), processSwitches(pluginPID)
				b.StartTimer()
				if _, err := r.Apply(b.Context(), plan); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				hostCPU += cpuTime(syscall.RUSAGE_SELF) - self0
				pluginCPU += processCPU(pluginPID) - plugin0
				hostSwitches += selfSwitches() - selfSw0
				pluginSwitches += processSwitches(pluginPID) - pluginSw0
				r.Close()
				b.StartTimer()
			}
			b.StopTimer()
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "µs/step-median")
			b.ReportMetric(float64(durs[len(durs)*9/10].Microseconds()), "µs/step-p90")
			slices.Sort(before)
			slices.Sort(call)
			b.ReportMetric(float64(before[len(before)/2].Microseconds()), "µs/start-median")
			b.ReportMetric(float64(call[len(call)/2].Microseconds()), "µs/call-median")
			// CPU per step (the run's start and end included) of the host
			// and of the plugin process, which a loaded machine inflates
			// much less than wall time.
			b.ReportMetric(float64(hostCPU.Microseconds())/float64(b.N), "host-cpu-µs/step")
			b.ReportMetric(float64(pluginCPU.Microseconds())/float64(b.N), "plugin-cpu-µs/step")
			// Context switches per step: each is a thread put to sleep
			// and woken again, what a step's CPU mostly goes to.
			b.ReportMetric(float64(hostSwitches)/float64(b.N), "host-ctxsw/step")
			b.ReportMetric(float64(pluginSwitches)/float64(b.N), "plugin-ctxsw/step")
		})
	}
}

var greeterBin struct {
	once      sync.Once
	path, sum string
	err       error
}

// buildGreeter builds the example's third-party plugin once per benchmark
// run.
func buildGreeter(b *testing.B) (string, string) {
	greeterBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "bench-greeter-")
		if err != nil {
			greeterBin.err = err
			return
		}
		greeterBin.path = filepath.Join(dir, "greeter")
		// Built as a plugin would be shipped: static (CGO_ENABLED=0, so no
		// dynamic loader runs at each start) and with -trimpath.
		cmd := exec.Command("go", "build", "-trimpath", "-o", greeterBin.path, "github.com/abusekit/abusekit/examples/custom-plugin/greeter")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			greeterBin.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		greeterBin.sum, greeterBin.err = playbook.FileSHA256(greeterBin.path)
	})
	if greeterBin.err != nil {
		b.Fatal(greeterBin.err)
	}
	return greeterBin.path, greeterBin.sum
}

// BenchmarkStartFivePlugins measures starting and handshaking all plugins
// of a five-plugin playbook (checksum check, exec, mTLS, Describe), in
// parallel. ns/op is the total for the five.
func BenchmarkStartFivePlugins(b *testing.B) {
	for _, auto := range []bool{false, true} {
		tlsMode := "p256-mtls"
		if auto {
			tlsMode = "go-plugin-automtls"
		}
		opts := playbook.HostOptions{GoPluginAutoMTLS: auto}
		b.Run("external/"+tlsMode, func(b *testing.B) {
			path, sum := buildGreeter(b)
			var specs []playbook.PluginSpec
			for i := range 5 {
				specs = append(specs, playbook.External(fmt.Sprintf("g%d", i), path, sum))
			}
			benchStart(b, opts, specs, false)
		})
		b.Run("builtin/"+tlsMode, func(b *testing.B) {
			var specs []playbook.PluginSpec
			for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
				specs = append(specs, playbook.Builtin(n))
			}
			benchStart(b, opts, specs, false)
		})
		if auto {
			continue
		}
		// Cold: every start is a fresh host process's first, which hashes
		// each binary (the five share one) before running it.
		b.Run("external-cold/"+tlsMode, func(b *testing.B) {
			path, sum := buildGreeter(b)
			var specs []playbook.PluginSpec
			for i := range 5 {
				specs = append(specs, playbook.External(fmt.Sprintf("g%d", i), path, sum))
			}
			benchStart(b, opts, specs, true)
		})
		b.Run("builtin-cold/"+tlsMode, func(b *testing.B) {
			var specs []playbook.PluginSpec
			for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
				specs = append(specs, playbook.Builtin(n))
			}
			benchStart(b, opts, specs, true)
		})
	}
}

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the CPU time a running process has had so far (every
// thread's, from /proc/PID/task/*/schedstat, in nanoseconds), 0 if unknown.
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that exited meanwhile
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err == nil {
			total += time.Duration(ns)
		}
	}
	return total
}

// selfSwitches is how many context switches this process's threads have
// made so far.
func selfSwitches() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw + ru.Nivcsw
}

// processSwitches is how many context switches a running process's threads
// have made so far (from /proc/PID/task/*/status), 0 if unknown.
func processSwitches(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total
}

func benchStart(b *testing.B, opts playbook.HostOptions, specs []playbook.PluginSpec, cold bool) {
	var total time.Duration
	durs := make([]time.Duration, 0, b.N)
	self0, children0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
	for b.Loop() {
		if cold {
			playbook.ForgetVerifiedBinaries()
		}
		h := playbook.NewHost(opts)
		t0 := time.Now()
		if err := h.Start(b.Context(), specs...); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		total += d
		durs = append(durs, d)
		b.StopTimer()
		h.Close()
		b.StartTimer()
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "ms/start-median")
	// CPU time of host and plugins (the plugins' once they have exited),
	// which, unlike wall time, a loaded machine does not inflate much.
	self, children := cpuTime(syscall.RUSAGE_SELF)-self0, cpuTime(syscall.RUSAGE_CHILDREN)-children0
	b.ReportMetric(float64((self+children).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	// Split: the host's own CPU (keys, TLS, hashing, go-plugin) and the
	// five plugin processes' (runtime start, inits, TLS, serving).
	b.ReportMetric(float64(self.Microseconds())/1000/float64(b.N), "host-cpu-ms/op")
	b.ReportMetric(float64(children.Microseconds())/1000/float64(b.N), "plugins-cpu-ms/op")
}

// BenchmarkJournalSyncedAppend measures one synced journal record (a step's
// start, the record each step waits for before its plugin is called) alone:
// the append and its fdatasync. It reports the median and p90.
func BenchmarkJournalSyncedAppend(b *testing.B) {
	j, _, err := playbook.OpenJournal(b.TempDir(), "bench-journal")
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rec := playbook.Record{Type: playbook.RecordStepStarted, Playbook: "bench", Step: "s1", Attempt: 1,
		IdempotencyToken: playbook.IdempotencyToken("bench-journal", "bench", "s1"), Input: []byte(`{"name":"bench"}`)}
	durs := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		if err := j.Append(rec, true); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "µs/append-median")
	b.ReportMetric(float64(durs[len(durs)*9/10].Microseconds()), "µs/append-p90")
}

// BenchmarkPlan measures planning a playbook of 500 steps through an
// out-of-process plugin (every step's schema check, reference check and
// Plan call); ns/op is for the 500.
func BenchmarkPlan(b *testing.B) {
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(b.Context(), playbook.Builtin("util")); err != nil {
		b.Fatal(err)
	}
	steps := make([]playbook.Step, 500)
	for i := range steps {
		steps[i] = playbook.Step{ID: fmt.Sprintf("s%d", i), Plugin: "util", Action: "greet", Input: map[string]any{"name": "bench"}}
	}
	pb, err := playbook.New("bench-plan", steps...)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := playbook.NewRunner(pb, playbook.Options{Incident: "bench-plan", Host: h})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Plan(b.Context()); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
