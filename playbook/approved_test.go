package playbook_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// TestApprovedPlanSurvivesPluginRestart: a step is planned with one item
// in the state it acts on, and approved; then a second item appears and the
// plugin process dies. The retry runs in a new plugin process, which knows
// nothing of the plan; the runner gives it the approved plan (journaled),
// and Apply refuses (ErrPlanChanged across the process boundary) instead of
// acting on two items where one was approved. With the state unchanged, the
// same restart applies the approved item. Both the SDK's check
// (RefuseChangedPlan) and an action's own (req.Approved.Check) are tried.
func TestApprovedPlanSurvivesPluginRestart(t *testing.T) {
	for _, action := range []string{"items", "items-hook"} {
		for _, changed := range []bool{true, false} {
			name := action + "/unchanged"
			if changed {
				name = action + "/changed"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				state, ledger := filepath.Join(dir, "state"), filepath.Join(dir, "ledger")
				if err := os.WriteFile(state, []byte("sg-1\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				journal := filepath.Join(dir, "journal")
				r := newRunner(t, mustNew(t, "approve",
					playbook.Step{ID: "contain", Plugin: "util", Action: action,
						Input: map[string]any{"state": state, "ledger": ledger},
						Retry: playbook.Retry{Attempts: 2, Backoff: time.Millisecond}}),
					playbook.Options{JournalDir: journal})
				plan, err := r.Plan(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				wantChanges := []plugin.Change{{Kind: plugin.ChangeUpdate, Target: "sg-1"}}
				if d := cmp.Diff(wantChanges, plan.Steps[0].Changes); d != "" || string(plan.Steps[0].Payload) != `["sg-1"]` {
					t.Fatalf("plan changes (-want +got):\n%s\npayload %s", d, plan.Steps[0].Payload)
				}
				if changed {
					if err := os.WriteFile(state, []byte("sg-1\nsg-2\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				p, err := r.Host().Plugin("util")
				if err != nil {
					t.Fatal(err)
				}
				oldPID := p.PID()
				if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitGone(t, oldPID, 10*time.Second)

				run, err := r.Apply(t.Context(), plan)
				b, _ := os.ReadFile(ledger)
				if len(run.Steps) != 1 || run.Steps[0].PluginPID == oldPID || run.Steps[0].Attempts != 2 {
					t.Errorf("step = %+v, want 2 attempts, the second in a new plugin process", run.Steps)
				}
				if changed {
					if !errors.Is(err, playbook.ErrPlanChanged) || !strings.Contains(err.Error(), "not approved: [update sg-2]") {
						t.Errorf("err = %v, want ErrPlanChanged naming sg-2", err)
					}
					if len(b) != 0 {
						t.Errorf("ledger %q: applied despite a changed plan", b)
					}
				} else {
					if err != nil {
						t.Fatalf("unchanged state: %v", err)
					}
					if string(b) != "sg-1\n" {
						t.Errorf("ledger %q, want sg-1 only", b)
					}
				}
				r.Close()
				// The approved plan is in the journal, before the step.
				recs := readJournalFile(t, playbook.JournalPath(journal, r.Incident()))
				if got := journalSummary(recs); len(got) < 3 || got[1] != playbook.RecordPlanApproved || !strings.HasPrefix(got[2], "step_started") {
					t.Fatalf("journal = %q", got)
				}
				if d := cmp.Diff(plan, recs[1].Plan); d != "" {
					t.Errorf("journaled plan (-approved +journaled):\n%s", d)
				}
				var journaled []string
				if err := json.Unmarshal(recs[1].Plan.Steps[0].Payload, &journaled); err != nil || !cmp.Equal(journaled, []string{"sg-1"}) {
					t.Errorf("journaled payload %s (%v)", recs[1].Plan.Steps[0].Payload, err)
				}
			})
		}
	}
}
