package playbook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

// ledgerSteps is a playbook of steps appending to one ledger.
func ledgerSteps(t *testing.T, ledger string, ids ...string) *playbook.Playbook {
	steps := make([]playbook.Step, len(ids))
	for i, id := range ids {
		steps[i] = playbook.Step{ID: id, Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}}
	}
	return mustNew(t, "p", steps...)
}

// TestPluginCalledOnlyOnceStartIsDurable: the runner opens a step's call to
// its plugin while the step's start record is being synced, but the plugin
// gets the call (and acts) only once the sync is done. The sync of each
// step's start is held for a while (long enough for a plugin called too
// early to act), and the ledger the actions append to is read then: it
// must hold the earlier steps' lines alone.
func TestPluginCalledOnlyOnceStartIsDurable(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	var mu sync.Mutex
	var seen [][]string // the ledger's steps when each step's start was synced
	defer playbook.FailJournalSyncs(func(what string) error {
		if what == playbook.RecordStepStarted {
			time.Sleep(300 * time.Millisecond) // a plugin called now would act meanwhile
			mu.Lock()
			seen = append(seen, ledgerLines(t, ledger))
			mu.Unlock()
		}
		return nil
	})()
	r := newRunner(t, ledgerSteps(t, ledger, "a", "b", "c"), playbook.Options{JournalDir: filepath.Join(dir, "journal")})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff([][]string{nil, {"a"}, {"a", "b"}}, seen); d != "" {
		t.Errorf("ledger when each step's start was synced (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a", "b", "c"}, ledgerLines(t, ledger)); d != "" {
		t.Errorf("ledger after the run (-want +got):\n%s", d)
	}
}

// TestFailedStartSyncCallsNoPlugin: when the sync of a step's start fails,
// the step's call (already opened) is dropped: its plugin never acts, and
// the run fails with the journal's error.
func TestFailedStartSyncCallsNoPlugin(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	errDisk := errors.New("injected: disk gone")
	var mu sync.Mutex
	starts := 0
	defer playbook.FailJournalSyncs(func(what string) error {
		mu.Lock()
		defer mu.Unlock()
		if what != playbook.RecordStepStarted {
			return nil
		}
		if starts++; starts == 2 {
			time.Sleep(300 * time.Millisecond) // a plugin called now would act meanwhile
			return errDisk
		}
		return nil
	})()
	var events []string
	r := newRunner(t, ledgerSteps(t, ledger, "a", "b", "c"), playbook.Options{JournalDir: filepath.Join(dir, "journal"),
		OnEvent: func(e playbook.Event) {
			if e.Step != "" {
				events = append(events, string(e.Kind)+" "+e.Step)
			}
		}})
	_, err := r.Run(t.Context())
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run = %v, want the journal's error", err)
	}
	if d := cmp.Diff([]string{"a"}, ledgerLines(t, ledger)); d != "" {
		t.Errorf("ledger (-want +got): step b's plugin acted though its start was not durable:\n%s", d)
	}
	if d := cmp.Diff([]string{"step_started a", "step_finished a"}, events); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// TestStopGraceOverEndsTheCall: when the run's context ends, the running
// action is asked to stop; if its result has not come within the stop
// grace period the host stops waiting for it: the run ends cancelled,
// saying so, while the action's cleanup is still under way.
func TestStopGraceOverEndsTheCall(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := newRunner(t, mustNew(t, "p", playbook.Step{ID: "c", Plugin: "util", Action: "cleanup", Input: map[string]any{"dir": dir}}),
		playbook.Options{StopGrace: 300 * time.Millisecond, OnEvent: func(e playbook.Event) {
			if e.Kind != playbook.EventStepStarted {
				return
			}
			go func() { // once the action runs, stop the run
				for {
					if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
						cancel()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}})
	run, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stop grace period") {
		t.Fatalf("Run = %v, want context.Canceled after the stop grace period", err)
	}
	if run == nil || run.Status != playbook.StatusCanceled {
		t.Errorf("run = %+v, want canceled", run)
	}
	// The action's cleanup (3.2 s) had not finished when the host gave up.
	b, _ := os.ReadFile(filepath.Join(dir, "cleanup"))
	if !strings.HasPrefix(string(b), "changed\n") || strings.Contains(string(b), "complete") {
		t.Errorf("cleanup log when the run returned = %q, want the change and no complete cleanup", b)
	}
}

// TestAttemptTimeoutStartsAfterTheSync: a step's Timeout bounds its
// action, not the journal's sync of its start: a sync slower than the
// timeout (held here) neither times the step out nor sends the call late
// to a context already ended.
func TestAttemptTimeoutStartsAfterTheSync(t *testing.T) {
	defer playbook.FailJournalSyncs(func(what string) error {
		if what == playbook.RecordStepStarted {
			time.Sleep(1500 * time.Millisecond) // a disk stall longer than the step's timeout
		}
		return nil
	})()
	r := newRunner(t, mustNew(t, "p", playbook.Step{ID: "g", Plugin: "util", Action: "greet",
		Input: map[string]any{"name": "x"}, Timeout: time.Second}),
		playbook.Options{JournalDir: t.TempDir()})
	run, err := r.Run(t.Context())
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if run.Steps[0].Status != playbook.StatusSucceeded || run.Steps[0].Attempts != 1 {
		t.Errorf("step = %+v", run.Steps[0])
	}
}
