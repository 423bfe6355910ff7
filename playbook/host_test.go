package playbook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

type eventLog struct {
	mu     sync.Mutex
	events []playbook.Event
}

func (l *eventLog) add(e playbook.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		s := string(e.Kind)
		if e.Step != "" {
			s += " " + e.Step
		}
		if e.Status != "" {
			s += " " + string(e.Status)
		}
		out = append(out, s)
	}
	return out
}

func mustNew(t *testing.T, name string, steps ...playbook.Step) *playbook.Playbook {
	t.Helper()
	pb, err := playbook.New(name, steps...)
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

func newRunner(t *testing.T, pb *playbook.Playbook, opts playbook.Options) *playbook.Runner {
	t.Helper()
	if opts.Incident == "" {
		opts.Incident = "case-" + strings.ReplaceAll(t.Name(), "/", "-")
	}
	if opts.Plugins == nil && opts.Host == nil {
		opts.Plugins = []playbook.PluginSpec{playbook.Builtin("util")}
	}
	if opts.Approve == nil {
		opts.Approve = playbook.AutoApprove
	}
	r, err := playbook.NewRunner(pb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRunBuiltinPluginOutOfProcess(t *testing.T) {
	var ev eventLog
	pb := mustNew(t, "hello", playbook.Step{ID: "greet", Plugin: "util", Action: "greet", Input: map[string]any{"name": "ops"}})
	r := newRunner(t, pb, playbook.Options{OnEvent: ev.add})

	plan, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantPlan := []playbook.StepPlan{{Step: "greet", Plugin: "util", Action: "greet", Status: playbook.PlanPlanned,
		Summary: "greet ops", Changes: []plugin.Change{{Kind: plugin.ChangeCreate, Target: "greeting:ops"}},
		Input: json.RawMessage(`{"name":"ops"}`), IdempotencyToken: playbook.IdempotencyToken(r.Incident(), "hello", "greet")}}
	if d := cmp.Diff(wantPlan, plan.Steps); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	run, err := r.Apply(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != playbook.StatusSucceeded || len(run.Steps) != 1 {
		t.Fatalf("run = %+v", run)
	}
	var out struct {
		Message   string
		PID, PPID int
	}
	if err := json.Unmarshal(run.Steps[0].Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Message != "hello, ops" {
		t.Errorf("message = %q", out.Message)
	}
	if out.PID == os.Getpid() || out.PID != run.Steps[0].PluginPID {
		t.Errorf("plugin pid %d, step says %d, host %d: want a separate process", out.PID, run.Steps[0].PluginPID, os.Getpid())
	}
	if out.PPID != os.Getpid() {
		t.Errorf("plugin's parent is %d, want the host %d", out.PPID, os.Getpid())
	}
	want := []string{"run_started", "step_started greet", "step_finished greet succeeded", "run_finished succeeded"}
	if d := cmp.Diff(want, ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestErrorIdentityCrossesProcessBoundary(t *testing.T) {
	pb := mustNew(t, "failing",
		playbook.Step{ID: "ok", Plugin: "util", Action: "greet"},
		playbook.Step{ID: "bad", Plugin: "util", Action: "fail", Input: map[string]any{"why": "test"}},
		playbook.Step{ID: "never", Plugin: "util", Action: "greet"})
	r := newRunner(t, pb, playbook.Options{})
	run, err := r.Run(t.Context())
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want errors.Is errBoom", err)
	}
	var se *playbook.StepError
	if !errors.As(err, &se) {
		t.Fatalf("err %T is not a *StepError", err)
	}
	if se.Playbook != "failing" || se.Step != "bad" || se.Plugin != "util" {
		t.Errorf("StepError = %+v", se)
	}
	var re *plugin.RemoteError
	if !errors.As(err, &re) || re.Code != "playbooktest.boom" || !strings.Contains(re.Message, "failing on purpose (test)") {
		t.Errorf("RemoteError = %+v", re)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("err matches context.Canceled too")
	}
	if run.Status != playbook.StatusFailed || len(run.Steps) != 2 || run.Steps[1].Status != playbook.StatusFailed {
		t.Errorf("run = %+v", run)
	}
}

func TestPlanErrorKeepsIdentity(t *testing.T) {
	r := newRunner(t, mustNew(t, "p", playbook.Step{ID: "x", Plugin: "util", Action: "failplan"}), playbook.Options{})
	_, err := r.Plan(t.Context())
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want errBoom", err)
	}
}

func TestUnknownActionRefused(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "a", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
		playbook.Step{ID: "b", Plugin: "util", Action: "no-such-action"}), playbook.Options{})
	_, err := r.Run(t.Context())
	if !errors.Is(err, playbook.ErrUnknownAction) || !strings.Contains(err.Error(), `"no-such-action"`) {
		t.Fatalf("err = %v, want ErrUnknownAction naming the action", err)
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Errorf("a step ran although the plan was refused (%v)", err)
	}
}

func TestPanicInActionIsAnError(t *testing.T) {
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "boom", Plugin: "util", Action: "panic"}), playbook.Options{})
	_, err := r.Run(t.Context())
	if !errors.Is(err, plugin.ErrPanic) {
		t.Fatalf("err = %v, want ErrPanic", err)
	}
	p, err := r.Host().Plugin("util")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(t.Context(), playbook.Call{Action: "greet", Input: json.RawMessage(`{"name":"x"}`)}, nil); err != nil {
		t.Errorf("plugin unusable after a panic: %v", err)
	}
}

func TestInvalidInputRefused(t *testing.T) {
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "g", Plugin: "util", Action: "greet", Input: map[string]any{"nmae": "typo"}}), playbook.Options{})
	_, err := r.Plan(t.Context())
	if !errors.Is(err, plugin.ErrInvalidInput) || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("err = %v, want ErrInvalidInput naming the field", err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedBinaryRefused(t *testing.T) {
	exe, _ := selfExe(t)
	bin := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, exe, bin)
	sum, err := playbook.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Pinned, then tampered with.
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("evil"))
	f.Close()
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	err = h.Start(t.Context(), playbook.External("tampered", bin, sum, "ABUSEKIT_PLUGIN=util"))
	if !errors.Is(err, playbook.ErrChecksumMismatch) {
		t.Fatalf("err = %v, want ErrChecksumMismatch", err)
	}
	var pe *playbook.PluginError
	if !errors.As(err, &pe) || pe.Plugin != "tampered" || pe.Path != bin {
		t.Errorf("PluginError = %+v", pe)
	}
	if !strings.Contains(err.Error(), sum) {
		t.Errorf("error %q does not name the pinned sum", err)
	}
	// The untampered copy with its right sum starts.
	good := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, exe, good)
	goodSum, _ := playbook.FileSHA256(good)
	if err := h.Start(t.Context(), playbook.External("good", good, goodSum, "ABUSEKIT_PLUGIN=util")); err != nil {
		t.Fatalf("pinned binary refused: %v", err)
	}
}

// TestConcurrentStartsHashABinaryOnce: plugins started together from one
// binary share one verification of its pin, a tampered binary is still
// refused to every one of them, and built-in plugins reuse the hash the
// host took of its own executable.
func TestConcurrentStartsHashABinaryOnce(t *testing.T) {
	playbook.ForgetVerifiedBinaries()
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	n0 := playbook.BinaryHashes()
	if err := h.Start(t.Context(), playbook.Builtin("p1"), playbook.Builtin("p2"), playbook.Builtin("p3")); err != nil {
		t.Fatal(err)
	}
	if n := playbook.BinaryHashes() - n0; n != 0 {
		t.Errorf("built-in plugins: own executable hashed again %d times", n)
	}

	exe, _ := selfExe(t)
	bin := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, exe, bin)
	sum, err := playbook.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	var specs []playbook.PluginSpec
	for i := range 4 {
		specs = append(specs, playbook.External(fmt.Sprintf("e%d", i), bin, sum, "ABUSEKIT_PLUGIN=util"))
	}
	n0 = playbook.BinaryHashes()
	if err := h.Start(t.Context(), specs...); err != nil {
		t.Fatal(err)
	}
	if n := playbook.BinaryHashes() - n0; n != 1 {
		t.Errorf("4 plugins of one binary started together: hashed %d times, want 1", n)
	}

	tampered := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, exe, tampered)
	f, err := os.OpenFile(tampered, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("evil"))
	f.Close()
	for i := range specs {
		specs[i].Name = fmt.Sprintf("t%d", i)
		specs[i].Path = tampered
	}
	err = h.Start(t.Context(), specs...)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("tampered binary: err = %v, want one error per plugin", err)
	}
	if errs := joined.Unwrap(); len(errs) != len(specs) {
		t.Errorf("tampered binary: %d errors for %d plugins: %v", len(errs), len(specs), err)
	}
	for _, e := range joined.Unwrap() {
		if !errors.Is(e, playbook.ErrChecksumMismatch) {
			t.Errorf("tampered binary: %v, want ErrChecksumMismatch", e)
		}
	}
}

func TestUnpinnedBinaryRefused(t *testing.T) {
	exe, _ := selfExe(t)
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	for _, sum := range []string{"", "abc", strings.Repeat("zz", 32)} {
		err := h.Start(t.Context(), playbook.External("x", exe, sum))
		if !errors.Is(err, playbook.ErrNotPinned) {
			t.Errorf("sha %q: err = %v, want ErrNotPinned", sum, err)
		}
	}
}

func TestWrongHandshakeRefused(t *testing.T) {
	exe, sum := selfExe(t)
	for _, mode := range []string{"wrong-cookie", "not-a-plugin"} {
		t.Run(mode, func(t *testing.T) {
			h := playbook.NewHost(playbook.HostOptions{})
			defer h.Close()
			err := h.Start(t.Context(), playbook.External("other", exe, sum, "PLAYBOOK_TEST_MODE="+mode))
			if !errors.Is(err, playbook.ErrHandshake) {
				t.Fatalf("err = %v, want ErrHandshake", err)
			}
			if len(h.Plugins()) != 0 {
				t.Errorf("plugins %v registered after a failed start", h.Plugins())
			}
		})
	}
}

func TestIncompatibleProtocolVersionRefused(t *testing.T) {
	defer playbook.SetHostVersions(7)()
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	err := h.Start(t.Context(), playbook.Builtin("util"))
	if !errors.Is(err, playbook.ErrProtocolVersion) {
		t.Fatalf("err = %v, want ErrProtocolVersion", err)
	}
}

func TestProtocolVersionNegotiated(t *testing.T) {
	// A host speaking a future version as well still agrees on ours.
	defer playbook.SetHostVersions(1, 2)()
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(t.Context(), playbook.Builtin("util")); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("util")
	if p.ProtocolVersion() != 1 {
		t.Errorf("negotiated %d, want 1", p.ProtocolVersion())
	}
}

func TestPluginEnvironmentIsExplicit(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(t.Context(),
		playbook.Builtin("util"),
		playbook.Builtin("util2", "AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=for-cloud-only")); err != nil {
		t.Fatal(err)
	}
	env := func(name string) []string {
		p, err := h.Plugin(name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Apply(t.Context(), playbook.Call{Action: "env"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var o envOut
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatal(err)
		}
		return o.Env
	}
	hostEnv := strings.Join(env("util"), "\n")
	if strings.Contains(hostEnv, "AWS_") || strings.Contains(hostEnv, "host-secret") {
		t.Errorf("host plugin sees cloud credentials:\n%s", hostEnv)
	}
	cloudEnv := strings.Join(env("util2"), "\n")
	for _, want := range []string{"AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=for-cloud-only"} {
		if !strings.Contains(cloudEnv, want) {
			t.Errorf("cloud plugin env lacks %s:\n%s", want, cloudEnv)
		}
	}
	if strings.Contains(cloudEnv, "host-secret") {
		t.Error("cloud plugin sees the host's own secret")
	}
}

// syncBuffer is a bytes.Buffer safe for the plugin log goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPluginLogsReachHostSlog(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r := newRunner(t, mustNew(t, "p", playbook.Step{ID: "g", Plugin: "util", Action: "greet", Input: map[string]any{"name": "logs"}}),
		playbook.Options{Logger: logger})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The plugin's record arrives through its stderr pipe; give it a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		gotRecord, gotPrint := false, false
		for line := range strings.Lines(buf.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			if m["msg"] == "greeting" {
				if m["level"] != "INFO" || m["plugin"] != "util" || m["name"] != "logs" || m["step"] != "g" {
					t.Errorf("plugin record = %v", m)
				}
				gotRecord = true
			}
			if m["msg"] == "stray print from logs" {
				if m["level"] != "INFO" || m["plugin"] != "util" || m["stream"] != "stdout" {
					t.Errorf("stray print record = %v", m)
				}
				gotPrint = true
			}
			if gotRecord && gotPrint {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin's log record never reached the host's slog; got:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseLeavesNoPluginProcess(t *testing.T) {
	h := playbook.NewHost(playbook.HostOptions{})
	if err := h.Start(t.Context(), playbook.Builtin("util"), playbook.Builtin("util2")); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, n := range h.Plugins() {
		p, _ := h.Plugin(n)
		pids = append(pids, p.PID())
	}
	if len(pids) != 2 || pids[0] == pids[1] {
		t.Fatalf("pids %v", pids)
	}
	h.Close()
	for _, pid := range pids {
		waitGone(t, pid, 10*time.Second)
	}
}

func TestCancelStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var ev eventLog
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "zzz", Plugin: "util", Action: "sleep"},
		playbook.Step{ID: "after", Plugin: "util", Action: "greet"}),
		playbook.Options{OnEvent: func(e playbook.Event) {
			ev.add(e)
			if e.Kind == playbook.EventStepStarted {
				go func() { time.Sleep(50 * time.Millisecond); cancel() }()
			}
		}})
	// The action would sleep a minute; the run returns once cancelled.
	run, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if run.Status != playbook.StatusCanceled || len(run.Steps) != 1 || run.Steps[0].Status != playbook.StatusCanceled {
		t.Errorf("run = %+v", run)
	}
	want := []string{"run_started", "step_started zzz", "step_finished zzz canceled", "run_finished canceled"}
	if d := cmp.Diff(want, ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestTimeoutAndRetry(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "flaky", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger, "fail_until": 3},
			Retry: playbook.Retry{Attempts: 3, Backoff: time.Millisecond}},
		playbook.Step{ID: "slow", Plugin: "util", Action: "sleep", Timeout: 100 * time.Millisecond}),
		playbook.Options{})
	run, err := r.Run(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if run.Steps[0].Status != playbook.StatusSucceeded || run.Steps[0].Attempts != 3 {
		t.Errorf("flaky step = %+v", run.Steps[0])
	}
	b, _ := os.ReadFile(ledger)
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.Contains(string(b), "attempt=3") {
		t.Errorf("ledger = %q, want one line from attempt 3", b)
	}
	if run.Steps[1].Status != playbook.StatusFailed {
		t.Errorf("slow step = %+v", run.Steps[1])
	}
}

func TestProgressEvents(t *testing.T) {
	var ev eventLog
	r := newRunner(t, mustNew(t, "p", playbook.Step{ID: "work", Plugin: "util", Action: "progress"}), playbook.Options{OnEvent: ev.add})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ev.events {
		if e.Kind == playbook.EventStepProgress {
			got = append(got, e.Message+" "+strings.Repeat("#", int(e.Done))+"/"+strings.Repeat("#", int(e.Total)))
		}
		if e.Kind == playbook.EventStepFinished && e.Duration <= 0 {
			t.Errorf("finished event without a duration: %+v", e)
		}
	}
	want := []string{"part 1 #/###", "part 2 ##/###", "part 3 ###/###"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
}

func TestReferencesAndConditions(t *testing.T) {
	var ev eventLog
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "detect", Plugin: "util", Action: "suspects"},
		playbook.Step{ID: "greet", Plugin: "util", Action: "greet", If: "steps.detect.suspects",
			Input: map[string]any{"name": "pid ${{ steps.detect.suspects[0].pid }} (${{ steps.detect.suspects[0].exe }}) of ${{ incident }}"}},
		playbook.Step{ID: "never", Plugin: "util", Action: "greet", If: "steps.detect.suspects[1]"},
		playbook.Step{ID: "eq", Plugin: "util", Action: "greet", If: `steps.detect.suspects[0].pid == 4242`,
			Input: map[string]any{"name": playbook.Ref("inputs.who")}},
	), playbook.Options{Incident: "case-9", OnEvent: ev.add, Inputs: map[string]any{"who": "operator"}})
	plan, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var statuses []playbook.PlanStatus
	for _, s := range plan.Steps {
		statuses = append(statuses, s.Status)
	}
	if d := cmp.Diff([]playbook.PlanStatus{playbook.PlanPlanned, playbook.PlanDeferred, playbook.PlanDeferred, playbook.PlanDeferred}, statuses); d != "" {
		t.Errorf("plan statuses (-want +got):\n%s", d)
	}
	run, err := r.Apply(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	msg := func(i int) string {
		var o greetOut
		json.Unmarshal(run.Steps[i].Output, &o)
		return o.Message
	}
	if got := msg(1); got != "hello, pid 4242 (/tmp/.x/work32) of case-9" {
		t.Errorf("interpolated = %q", got)
	}
	if run.Steps[2].Status != playbook.StatusSkipped {
		t.Errorf("never = %+v", run.Steps[2])
	}
	if got := msg(3); run.Steps[3].Status != playbook.StatusSucceeded || got != "hello, operator" {
		t.Errorf("eq = %+v (%q)", run.Steps[3], got)
	}
}

func TestParallelStartOfFivePlugins(t *testing.T) {
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	var specs []playbook.PluginSpec
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
		specs = append(specs, playbook.Builtin(n))
	}
	if err := h.Start(t.Context(), specs...); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, n := range h.Plugins() {
		p, _ := h.Plugin(n)
		if seen[p.PID()] || p.PID() == os.Getpid() {
			t.Errorf("plugin %s pid %d not a process of its own", n, p.PID())
		}
		seen[p.PID()] = true
		if _, ok := p.Action("greet"); !ok {
			t.Errorf("plugin %s: Describe lost actions: %+v", n, p.Actions())
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d plugins", len(seen))
	}
	// A failed start stops what it started and leaves the host as it was.
	err := h.Start(t.Context(), playbook.Builtin("util"), playbook.External("bad", "/nonexistent", strings.Repeat("00", 32)))
	if err == nil || len(h.Plugins()) != 5 {
		t.Errorf("err = %v, plugins %v", err, h.Plugins())
	}
}

func TestMalformedPluginLogDoesNotCrashHost(t *testing.T) {
	exe, sum := selfExe(t)
	var buf syncBuffer
	h := playbook.NewHost(playbook.HostOptions{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	defer h.Close()
	if err := h.Start(t.Context(), playbook.External("bad", exe, sum, "PLAYBOOK_TEST_MODE=bad-log", "ABUSEKIT_PLUGIN=util")); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("bad")
	if _, err := p.Apply(t.Context(), playbook.Call{Action: "greet", Input: json.RawMessage(`{"name":"x"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), `"msg":"{\"a\":1}"`) {
		if time.Now().After(deadline) {
			t.Fatalf("malformed record not logged; got:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLargePayloads(t *testing.T) {
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(t.Context(), playbook.Builtin("util")); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("util")
	out, err := p.Apply(t.Context(), playbook.Call{Action: "big", Input: json.RawMessage(`{"bytes":6000000}`)}, nil)
	if err != nil || len(out) != 6000002 {
		t.Fatalf("6 MB output: %d bytes, %v", len(out), err)
	}
	_, err = p.Apply(t.Context(), playbook.Call{Action: "big", Input: json.RawMessage(`{"bytes":9000000}`)}, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("9 MB output: %v, want a clear refusal", err)
	}
	big := json.RawMessage(`{"name":"` + strings.Repeat("y", 9<<20) + `"}`)
	if _, err := p.Plan(t.Context(), playbook.Call{Action: "greet", Input: big}); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("9 MB input: %v, want ErrInvalidInput", err)
	}
	// The plugin is still fine.
	if _, err := p.Apply(t.Context(), playbook.Call{Action: "greet", Input: json.RawMessage(`{"name":"x"}`)}, nil); err != nil {
		t.Error(err)
	}
}

func TestTypoInLateStepStopsPlan(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	pb, err := playbook.Parse("typo.yaml", []byte(`name: typo
steps:
  - id: first
    plugin: util
    action: ledger
    input: {ledger: `+ledger+`}
  - id: later
    plugin: util
    action: greet
    input:
      name: ${{ steps.first.line }}
      nmae: oops
`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, pb, playbook.Options{})
	_, err = r.Run(t.Context())
	var ve *playbook.ValidationError
	if !errors.Is(err, plugin.ErrInvalidInput) || !errors.As(err, &ve) || ve.Line != 12 || ve.Field != "steps[1].input.nmae" {
		t.Fatalf("err = %v (%+v), want ErrInvalidInput at typo.yaml:12 steps[1].input.nmae", err, ve)
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Error("the first step ran although a later step's input has a typo")
	}
}

func TestCrashedPluginRestartedForRetry(t *testing.T) {
	var ev eventLog
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "before", Plugin: "util", Action: "greet"},
		playbook.Step{ID: "crash", Plugin: "util", Action: "crash-once", Retry: playbook.Retry{Attempts: 2, Backoff: time.Millisecond}},
		playbook.Step{ID: "after", Plugin: "util", Action: "greet"}),
		playbook.Options{OnEvent: ev.add})
	run, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out greetOut
	json.Unmarshal(run.Steps[1].Output, &out)
	if run.Steps[1].Attempts != 2 || out.PID != run.Steps[1].PluginPID || out.PID == run.Steps[0].PluginPID {
		t.Errorf("steps %+v: want attempt 2 in a new plugin process", run.Steps)
	}
	if run.Steps[2].PluginPID != out.PID {
		t.Errorf("later step ran in pid %d, want the restarted %d", run.Steps[2].PluginPID, out.PID)
	}
	// Without retries the crash fails the step clearly.
	r2 := newRunner(t, mustNew(t, "q", playbook.Step{ID: "crash", Plugin: "util", Action: "crash-once"}), playbook.Options{})
	_, err = r2.Run(t.Context())
	var se *playbook.StepError
	if !errors.As(err, &se) || se.Step != "crash" {
		t.Errorf("err = %v", err)
	}
}

func TestMissingInputStopsPlan(t *testing.T) {
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "a", Plugin: "util", Action: "suspects"},
		playbook.Step{ID: "b", Plugin: "util", Action: "greet", Input: map[string]any{"name": "${{ steps.a.suspects[0].exe }} ${{ inputs.who }}"}}),
		playbook.Options{Inputs: map[string]any{"whom": "typo"}})
	_, err := r.Plan(t.Context())
	if !errors.Is(err, playbook.ErrUnresolved) || !strings.Contains(err.Error(), `no field "who"`) {
		t.Fatalf("err = %v, want ErrUnresolved naming inputs.who", err)
	}
}

func TestApplyTwiceRunsNothingTwice(t *testing.T) {
	for _, journal := range []bool{false, true} {
		dir := t.TempDir()
		ledger := filepath.Join(dir, "ledger")
		opts := playbook.Options{Incident: "case-twice"}
		if journal {
			opts.JournalDir = dir
		}
		r := newRunner(t, mustNew(t, "p",
			playbook.Step{ID: "a", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
			playbook.Step{ID: "b", Plugin: "util", Action: "ledger", If: `steps.a.line == "nope"`, Input: map[string]any{"ledger": ledger}}),
			opts)
		for range 2 {
			if _, err := r.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := r.Plan(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if plan.Steps[0].Status != playbook.PlanDone || plan.Steps[1].Status != playbook.PlanDone {
			t.Errorf("journal=%v: plan after two runs %+v", journal, plan.Steps)
		}
		b, _ := os.ReadFile(ledger)
		if n := strings.Count(string(b), "\n"); n != 1 {
			t.Errorf("journal=%v: step a ran %d times", journal, n)
		}
	}
}

func TestDeclaredInputs(t *testing.T) {
	pb, err := playbook.Parse("in.yaml", []byte(`name: in
inputs:
  who: {required: true}
  greeting: {default: hi}
steps:
  - id: g
    plugin: util
    action: greet
    input: {name: "${{ inputs.greeting }} ${{ inputs.who }}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := playbook.NewRunner(pb, playbook.Options{Incident: "c", Plugins: []playbook.PluginSpec{playbook.Builtin("util")}}); !errors.Is(err, playbook.ErrUnresolved) || !strings.Contains(err.Error(), "[who]") {
		t.Errorf("missing required input: %v", err)
	}
	r := newRunner(t, pb, playbook.Options{Inputs: map[string]any{"who": "ops"}})
	run, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var o greetOut
	json.Unmarshal(run.Steps[0].Output, &o)
	if o.Message != "hello, hi ops" {
		t.Errorf("message %q", o.Message)
	}
}

func TestHostEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "x") // restored after the test
	os.Unsetenv("AWS_SESSION_TOKEN")
	got := playbook.HostEnv("AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN")
	if d := cmp.Diff([]string{"AWS_REGION=eu-central-1", "AWS_PROFILE="}, got); d != "" {
		t.Errorf("HostEnv (-want +got):\n%s", d)
	}
}

// The plugin's one-time private key reaches it through a pipe, never
// through the environment: /proc/PID/environ keeps the environment a
// process started with for its whole life, readable by its user.
func TestPluginKeyNotInEnviron(t *testing.T) {
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(t.Context(), playbook.Builtin("util")); err != nil {
		t.Fatal(err)
	}
	p, err := h.Plugin("util")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID()))
	if err != nil {
		t.Skipf("cannot read the plugin's environ: %v", err)
	}
	var tlsVars []string
	for _, kv := range strings.Split(string(raw), "\x00") {
		if strings.HasPrefix(kv, "ABUSEKIT_PLUGIN_TLS=") {
			tlsVars = append(tlsVars, kv)
		}
	}
	if want := []string{"ABUSEKIT_PLUGIN_TLS=fd:3"}; !cmp.Equal(tlsVars, want) {
		t.Errorf("plugin started with %q, want %q (the mTLS material belongs in the pipe)", tlsVars, want)
	}
	// And the channel still works.
	if _, err := p.Apply(t.Context(), playbook.Call{Action: "env"}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSwappedBinaryNeverRuns: while a directory on the pinned plugin path
// is a link swapped back and forth between the pinned binary's directory
// and one holding a tampered copy, every start either runs the pinned
// binary or is refused; the tampered copy never runs. The host executes the
// descriptor it hashed, not the path.
func TestSwappedBinaryNeverRuns(t *testing.T) {
	exe, _ := selfExe(t)
	dir := t.TempDir()
	for _, d := range []string{"good", "evil"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
		copyFile(t, exe, filepath.Join(dir, d, "plugin"))
	}
	f, err := os.OpenFile(filepath.Join(dir, "evil", "plugin"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("evil"))
	f.Close()
	sum, err := playbook.FileSHA256(filepath.Join(dir, "good", "plugin"))
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "evil", "plugin"), &st); err != nil {
		t.Fatal(err)
	}
	evilIno := st.Ino
	cur, tmp := filepath.Join(dir, "cur"), filepath.Join(dir, "cur.tmp")
	if err := os.Symlink("good", cur); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(cur, "plugin")
	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		n := 0
		defer func() { swapped <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			target := []string{"evil", "good"}[n%2]
			os.Remove(tmp)
			if err := os.Symlink(target, tmp); err != nil {
				t.Errorf("symlink: %v", err)
				return
			}
			if err := os.Rename(tmp, cur); err != nil {
				t.Errorf("rename: %v", err)
				return
			}
			n++
			// Each state lasts a moment, as long as a start takes or less.
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		}
	}()
	const starts = 40
	var ranEvil, ranGood, refused int
	for range starts {
		h := playbook.NewHost(playbook.HostOptions{})
		err := h.Start(t.Context(), playbook.External("swapped", bin, sum, "ABUSEKIT_PLUGIN=util"))
		if err != nil {
			if !errors.Is(err, playbook.ErrChecksumMismatch) {
				t.Errorf("start: %v, want success or ErrChecksumMismatch", err)
			}
			if refused++; refused == 1 {
				t.Logf("refused: %v", err)
			}
			h.Close()
			// A refusal is quick: without a pause the next start would
			// sample the same state of the link.
			time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
			continue
		}
		p, _ := h.Plugin("swapped")
		var st syscall.Stat_t
		if err := syscall.Stat(fmt.Sprintf("/proc/%d/exe", p.PID()), &st); err != nil {
			t.Errorf("plugin exe: %v", err)
		} else if st.Ino == evilIno {
			ranEvil++
		} else {
			ranGood++
		}
		h.Close()
	}
	close(stop)
	n := <-swapped
	t.Logf("%d starts while the path was swapped %d times: %d ran the pinned binary, %d refused, %d ran the tampered one", starts, n, ranGood, refused, ranEvil)
	if ranEvil != 0 {
		t.Errorf("the tampered binary ran %d times of %d", ranEvil, starts)
	}
	if ranGood == 0 {
		t.Errorf("the pinned binary never ran (%d refused)", refused)
	}
}
