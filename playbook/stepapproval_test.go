package playbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

// twoLedgerSteps: a writes a line; b's input needs a's output, so b is
// deferred in the plan and can only be planned during the run.
func twoLedgerSteps(t *testing.T, ledger string) *playbook.Playbook {
	return mustNew(t, "approve-steps",
		playbook.Step{ID: "a", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
		playbook.Step{ID: "b", Plugin: "util", Action: "ledger", Input: map[string]any{
			"ledger": ledger, "note": playbook.Ref("steps.a.line")}})
}

func ledgerLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			step, _, _ := strings.Cut(l, " ")
			steps = append(steps, step)
		}
	}
	return steps
}

// TestDeferredStepIsApprovedBeforeItActs: a step whose input comes from an
// earlier step is deferred in the plan; during Apply it is planned once that
// input is known, the plan is reported in a step_planned event (with the
// resolved input, in -json too), and Approve is asked again with that one
// step's plan before the step acts. The journal keeps the approved plan
// before the step's start.
func TestDeferredStepIsApprovedBeforeItActs(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	var (
		mu    sync.Mutex
		asked []*playbook.Plan
		seen  [][]string // ledger when each approval was asked
	)
	var ev eventLog
	var synced []string
	defer playbook.ObserveJournalSyncs(func(what string) {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, what)
	})()
	var lastSyncedWhenAsked []string
	r := newRunner(t, twoLedgerSteps(t, ledger), playbook.Options{
		Incident: "case-approve", JournalDir: filepath.Join(dir, "journal"), OnEvent: ev.add,
		Approve: func(_ context.Context, plan *playbook.Plan) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, plan)
			seen = append(seen, ledgerLines(t, ledger))
			last := ""
			if len(synced) > 0 {
				last = synced[len(synced)-1]
			}
			lastSyncedWhenAsked = append(lastSyncedWhenAsked, last)
			return true, nil
		}})
	run, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 {
		t.Fatalf("Approve asked %d times, want 2 (the plan, then step b's own plan)", len(asked))
	}
	if got := []playbook.PlanStatus{asked[0].Steps[0].Status, asked[0].Steps[1].Status}; !cmp.Equal(got, []playbook.PlanStatus{playbook.PlanPlanned, playbook.PlanDeferred}) {
		t.Errorf("first approval's statuses = %v", got)
	}
	if got, want := asked[0].Steps[1].Reason, "needs the output of a: planned, and asked for approval, once known"; got != want {
		t.Errorf("deferred step's reason %q, want %q", got, want)
	}
	second := asked[1]
	if len(second.Steps) != 1 || second.Steps[0].Step != "b" || second.Steps[0].Status != playbook.PlanPlanned {
		t.Fatalf("second approval = %+v, want step b planned", second.Steps)
	}
	var in map[string]any
	if err := json.Unmarshal(second.Steps[0].Input, &in); err != nil {
		t.Fatal(err)
	}
	var aOut struct{ Line string }
	if err := json.Unmarshal(run.Steps[0].Output, &aOut); err != nil {
		t.Fatal(err)
	}
	if in["note"] != aOut.Line || second.Steps[0].Summary != "append to "+ledger {
		t.Errorf("b's plan input %v summary %q; want note = a's line %q", in, second.Steps[0].Summary, aOut.Line)
	}
	// Asked after a acted and before b did, with a's end durable (an
	// approval may take long).
	if d := cmp.Diff([][]string{nil, {"a"}}, seen); d != "" {
		t.Errorf("ledger when asked (-want +got):\n%s", d)
	}
	if got := lastSyncedWhenAsked[1]; got != playbook.RecordStepFinished {
		t.Errorf("last journal sync before b's approval: %q, want a's step_finished", got)
	}
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("ledger = %v", got)
	}
	wantEv := []string{"run_started", "step_started a", "step_finished a succeeded", "step_planned b", "step_started b", "step_finished b succeeded", "run_finished succeeded"}
	if d := cmp.Diff(wantEv, ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	// The journal's path is known before the run and said when it starts.
	wantJournal := playbook.JournalPath(filepath.Join(dir, "journal"), "case-approve")
	if r.JournalPath() != wantJournal || ev.events[0].Journal != wantJournal || run.Journal != wantJournal {
		t.Errorf("journal path: runner %q, run_started event %q, run %q; want %q", r.JournalPath(), ev.events[0].Journal, run.Journal, wantJournal)
	}
	var planned playbook.Event
	for _, e := range ev.events {
		if e.Kind == playbook.EventStepPlanned {
			planned = e
		}
	}
	b, err := json.Marshal(planned)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"plan":{"step":"b","plugin":"util","action":"ledger","status":"planned","summary":"append to `) {
		t.Errorf("step_planned in JSON does not carry the step's plan: %s", b)
	}
	r.Close()
	recs := readJournalFile(t, playbook.JournalPath(filepath.Join(dir, "journal"), "case-approve"))
	wantJ := []string{"run_started", "plan_approved", "step_started a", "step_finished a succeeded", "step_approved b", "step_started b", "step_finished b succeeded", "run_finished"}
	if d := cmp.Diff(wantJ, journalSummary(recs)); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if rec := recs[4]; rec.Plan == nil || len(rec.Plan.Steps) != 1 || !cmp.Equal(rec.Plan.Steps[0], second.Steps[0]) {
		t.Errorf("step_approved record %+v, want the approved plan of b", rec.Plan)
	}
}

// TestRefusedStepStopsRunResumably: refusing the plan of a step planned
// during the run stops the run before the step acts (ErrNotApproved,
// status not_approved, journaled); a later run for the same incident does
// not run the first step again, shows the refused step in its plan, and
// runs it once approved.
func TestRefusedStepStopsRunResumably(t *testing.T) {
	dir := t.TempDir()
	ledger, journal := filepath.Join(dir, "ledger"), filepath.Join(dir, "journal")
	var asked []string
	r := newRunner(t, twoLedgerSteps(t, ledger), playbook.Options{
		Incident: "case-refuse", JournalDir: journal,
		ApproveStep: func(_ context.Context, sp *playbook.StepPlan) (bool, error) {
			asked = append(asked, sp.Step)
			return false, nil
		}})
	run, err := r.Run(t.Context())
	var se *playbook.StepError
	if !errors.Is(err, playbook.ErrNotApproved) || !errors.As(err, &se) || se.Step != "b" {
		t.Fatalf("err = %v, want ErrNotApproved for step b", err)
	}
	if !cmp.Equal(asked, []string{"b"}) {
		t.Errorf("ApproveStep asked for %v", asked)
	}
	if run.Status != playbook.StatusNotApproved || len(run.Steps) != 2 || run.Steps[1].Status != playbook.StatusNotApproved {
		t.Errorf("run = %s %+v", run.Status, run.Steps)
	}
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("ledger = %v: the refused step acted", got)
	}
	r.Close()
	recs := readJournalFile(t, playbook.JournalPath(journal, "case-refuse"))
	wantJ := []string{"run_started", "plan_approved", "step_started a", "step_finished a succeeded", "step_finished b not_approved", "run_finished"}
	if d := cmp.Diff(wantJ, journalSummary(recs)); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}

	// Resumed: a is done, b's input is known from the journal, so b is in
	// the plan approved up front and runs.
	r2 := newRunner(t, twoLedgerSteps(t, ledger), playbook.Options{Incident: "case-refuse", JournalDir: journal,
		ApproveStep: func(context.Context, *playbook.StepPlan) (bool, error) {
			t.Error("ApproveStep asked on resume, where b was planned up front")
			return false, nil
		}})
	plan, err := r2.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Steps[0].Status != playbook.PlanDone || plan.Steps[1].Status != playbook.PlanPlanned {
		t.Fatalf("resumed plan = %+v", plan.Steps)
	}
	if _, err := r2.Apply(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("ledger after resume = %v", got)
	}
}

// TestDeferredStepWithoutApproverIsRefused: Apply called directly, with no
// approver at all, applies what the plan showed and stops before a step
// whose plan nobody saw.
func TestDeferredStepWithoutApproverIsRefused(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	r, err := playbook.NewRunner(twoLedgerSteps(t, ledger), playbook.Options{Incident: "case-noapprover",
		Plugins: []playbook.PluginSpec{playbook.Builtin("util")}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Apply(t.Context(), plan)
	if !errors.Is(err, playbook.ErrNotApproved) || run.Status != playbook.StatusNotApproved {
		t.Fatalf("Apply = %v, %v; want ErrNotApproved", run.Status, err)
	}
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("ledger = %v", got)
	}
}
