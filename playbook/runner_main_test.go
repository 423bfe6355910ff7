package playbook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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
