package playbook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/abusekit/abusekit/playbook"
)

// runnerMain is the test binary acting as a host that runs a three-step
// playbook; TestResumeAfterSIGKILL kills it in the middle and starts it again.
func runnerMain() int {
	dir := os.Getenv("PLAYBOOK_TEST_DIR")
	ledger := filepath.Join(dir, "ledger")
	pb, err := playbook.New("resume-test",
		playbook.Step{ID: "first", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
		playbook.Step{ID: "second", Plugin: "util", Action: "ledger", Input: map[string]any{
			"ledger": ledger, "block": filepath.Join(dir, "release"),
			"note": playbook.Ref("steps.first.line")}},
		playbook.Step{ID: "third", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident:   "case-resume-1",
		Plugins:    []playbook.PluginSpec{playbook.Builtin("util")},
		JournalDir: filepath.Join(dir, "journal"),
		Approve:    playbook.AutoApprove,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer r.Close()
	run, err := r.Run(context.Background())
	if run != nil {
		_ = json.NewEncoder(os.Stdout).Encode(run)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// signalRunnerMain is the test binary acting as a host whose one step
// changes something and must undo it when stopped; TestSignalledRunner
// signals it in the middle. With PLAYBOOK_TEST_SIGNALS=handled it turns
// SIGINT and SIGTERM into a cancelled context, as an ops tool would;
// otherwise a signal kills it outright.
func signalRunnerMain() int {
	dir := os.Getenv("PLAYBOOK_TEST_DIR")
	ctx := context.Background()
	if os.Getenv("PLAYBOOK_TEST_SIGNALS") == "handled" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
	}
	pb, err := playbook.New("signal-test",
		playbook.Step{ID: "change", Plugin: "util", Action: "cleanup", Input: map[string]any{"dir": dir}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident:   "case-signal-1",
		Plugins:    []playbook.PluginSpec{playbook.Builtin("util")},
		JournalDir: filepath.Join(dir, "journal"),
		Approve:    playbook.AutoApprove,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer r.Close()
	run, err := r.Run(ctx)
	if run != nil {
		_ = json.NewEncoder(os.Stdout).Encode(run)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
