package playbook_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

// resumeSteps: a always runs; t only when inputs.terminate holds; c uses
// inputs.who; d uses c's output.
func resumeSteps(ledger string) []playbook.Step {
	return []playbook.Step{
		{ID: "a", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}},
		{ID: "t", Plugin: "util", Action: "ledger", If: "inputs.terminate", Input: map[string]any{"ledger": ledger}},
		{ID: "c", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger, "note": playbook.Ref("inputs.who")}},
		{ID: "d", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger, "note": playbook.Ref("steps.c.line")}},
	}
}

func planStatuses(p *playbook.Plan) map[string]playbook.PlanStatus {
	out := map[string]playbook.PlanStatus{}
	for _, s := range p.Steps {
		out[s.Step] = s.Status
	}
	return out
}

// TestResumeWithOtherInputs: a resume whose inputs differ from the
// journal's last run is refused with a *ResumeError naming the inputs;
// with Replan exactly the steps the change affects run again (a step
// skipped by a condition that now holds runs; a step using a changed input
// and the steps using its output run again; the rest stay done), under a
// new idempotency token; the re-plan is journaled, so a run interrupted
// before a re-planned step finishes resumes it without Replan.
func TestResumeWithOtherInputs(t *testing.T) {
	dir := t.TempDir()
	ledger, journal := filepath.Join(dir, "ledger"), filepath.Join(dir, "journal")
	const incident = "case-digest-inputs"
	runner := func(inputs map[string]any, replan bool) *playbook.Runner {
		r, err := playbook.NewRunner(mustNew(t, "resume-digest", resumeSteps(ledger)...), playbook.Options{
			Incident: incident, Inputs: inputs, JournalDir: journal, Replan: replan,
			Plugins: []playbook.PluginSpec{playbook.Builtin("util")}, Approve: playbook.AutoApprove})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := runner(map[string]any{"terminate": false, "who": "alice"}, false)
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("first run ledger = %v", got)
	}

	// -terminate added: refused without Replan, naming the input.
	r = runner(map[string]any{"terminate": true, "who": "alice"}, false)
	_, err := r.Plan(t.Context())
	var re *playbook.ResumeError
	if !errors.Is(err, playbook.ErrResumeChanged) || !errors.As(err, &re) {
		t.Fatalf("Plan = %v, want a *ResumeError", err)
	}
	if d := cmp.Diff(&playbook.ResumeError{Incident: incident, Journal: playbook.JournalPath(journal, incident), Inputs: []string{"terminate"}}, re); d != "" {
		t.Errorf("ResumeError (-want +got):\n%s", d)
	}
	if !strings.Contains(err.Error(), "inputs changed: terminate;") {
		t.Errorf("message %q does not name the input", err)
	}
	r.Close()

	// With Replan, interrupted before the re-planned step runs: the
	// re-plan is in the journal, so a resume without Replan still runs it.
	r = runner(map[string]any{"terminate": true, "who": "alice"}, true)
	plan, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]playbook.PlanStatus{"a": playbook.PlanDone, "t": playbook.PlanPlanned, "c": playbook.PlanDone, "d": playbook.PlanDone}
	if d := cmp.Diff(want, planStatuses(plan)); d != "" {
		t.Errorf("re-planned (-want +got):\n%s", d)
	}
	if got, want := plan.Steps[1].Reason, "re-planned: it uses input terminate, changed"; got != want {
		t.Errorf("t's reason %q, want %q", got, want)
	}
	if tok := plan.Steps[1].IdempotencyToken; tok == playbook.IdempotencyToken(incident, "resume-digest", "t") {
		t.Errorf("re-planned step t kept the token of its earlier version")
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Apply(cancelled, plan); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context = %v", err)
	}
	r.Close()
	r = runner(map[string]any{"terminate": true, "who": "alice"}, false)
	plan2, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, planStatuses(plan2)); d != "" {
		t.Errorf("resumed after the interrupted re-plan (-want +got):\n%s", d)
	}
	if plan2.Steps[1].IdempotencyToken != plan.Steps[1].IdempotencyToken {
		t.Errorf("the re-planned step's token changed on resume")
	}
	if _, err := r.Apply(t.Context(), plan2); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "c", "d", "t"}) {
		t.Fatalf("ledger after re-plan = %v, want t only added", got)
	}

	// Another who: c uses it and d uses c's output; a and t stay done.
	r = runner(map[string]any{"terminate": true, "who": "bob"}, true)
	plan, err = r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]playbook.PlanStatus{"a": playbook.PlanDone, "t": playbook.PlanDone, "c": playbook.PlanPlanned, "d": playbook.PlanDeferred}
	if d := cmp.Diff(want, planStatuses(plan)); d != "" {
		t.Errorf("re-planned for who (-want +got):\n%s", d)
	}
	wantReasons := []string{"", "", "re-planned: it uses input who, changed",
		"needs the output of c: planned, and asked for approval, once known; re-planned: it uses the output of c, re-planned"}
	var reasons []string
	for _, s := range plan.Steps {
		if s.Status == playbook.PlanDone {
			s.Reason = ""
		}
		reasons = append(reasons, s.Reason)
	}
	if d := cmp.Diff(wantReasons, reasons); d != "" {
		t.Errorf("reasons (-want +got):\n%s", d)
	}
	if _, err := r.Apply(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "c", "d", "t", "c", "d"}) {
		t.Errorf("ledger = %v, want c and d again", got)
	}

	// Nothing changed: everything done, nothing runs.
	r = runner(map[string]any{"terminate": true, "who": "bob"}, false)
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ledgerLines(t, ledger); len(got) != 6 {
		t.Errorf("an unchanged resume ran steps again: %v", got)
	}
}

// TestResumeWithOtherPlaybook: a resume of a changed playbook is refused
// naming the steps changed, added and removed (or reordered); with Replan
// the changed and added steps and those using their outputs run, the rest
// stay done.
func TestResumeWithOtherPlaybook(t *testing.T) {
	dir := t.TempDir()
	ledger, journal := filepath.Join(dir, "ledger"), filepath.Join(dir, "journal")
	const incident = "case-digest-playbook"
	inputs := map[string]any{"terminate": false, "who": "alice"}
	run := func(steps []playbook.Step, replan bool) (*playbook.Plan, error) {
		t.Helper()
		r, err := playbook.NewRunner(mustNew(t, "resume-digest", steps...), playbook.Options{
			Incident: incident, Inputs: inputs, JournalDir: journal, Replan: replan,
			Plugins: []playbook.PluginSpec{playbook.Builtin("util")}, Approve: playbook.AutoApprove})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		plan, err := r.Plan(t.Context())
		if err != nil {
			return nil, err
		}
		_, err = r.Apply(t.Context(), plan)
		return plan, err
	}
	base := resumeSteps(ledger)
	if _, err := run(base, false); err != nil {
		t.Fatal(err)
	}

	changed := resumeSteps(ledger)
	changed[2].Input["note"] = "${{ inputs.who }} again" // c changed
	changed = append(changed[:1], changed[2:]...)        // t removed
	changed = append(changed, playbook.Step{ID: "e", Plugin: "util", Action: "ledger", Input: map[string]any{"ledger": ledger}})
	_, err := run(changed, false)
	var re *playbook.ResumeError
	if !errors.As(err, &re) || !errors.Is(err, playbook.ErrResumeChanged) {
		t.Fatalf("err = %v, want a *ResumeError", err)
	}
	wantErr := &playbook.ResumeError{Incident: incident, Journal: playbook.JournalPath(journal, incident),
		StepsChanged: []string{"c"}, StepsAdded: []string{"e"}, StepsRemoved: []string{"t"}}
	if d := cmp.Diff(wantErr, re); d != "" {
		t.Errorf("ResumeError (-want +got):\n%s", d)
	}
	if !strings.Contains(err.Error(), "steps changed: c; steps added: e; steps removed: t") {
		t.Errorf("message: %v", err)
	}
	if got := ledgerLines(t, ledger); len(got) != 3 {
		t.Fatalf("a refused resume ran steps: %v", got)
	}

	plan, err := run(changed, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]playbook.PlanStatus{"a": playbook.PlanDone, "c": playbook.PlanPlanned, "d": playbook.PlanDeferred, "e": playbook.PlanPlanned}
	if d := cmp.Diff(want, planStatuses(plan)); d != "" {
		t.Errorf("re-planned (-want +got):\n%s", d)
	}
	if got := []string{plan.Steps[1].Reason, plan.Steps[3].Reason}; !cmp.Equal(got, []string{"re-planned: the step changed", "re-planned: the step is new"}) {
		t.Errorf("reasons of c and e: %q", got)
	}
	if got := ledgerLines(t, ledger); !cmp.Equal(got, []string{"a", "c", "d", "c", "d", "e"}) {
		t.Errorf("ledger = %v", got)
	}

	// Reordered only: refused, named; nothing to re-run with Replan.
	reordered := append([]playbook.Step{changed[3]}, changed[:3]...)
	_, err = run(reordered, false)
	if !errors.As(err, &re) || !re.Order || !strings.Contains(err.Error(), "steps reordered") {
		t.Fatalf("reordered: err = %v", err)
	}
	if _, err := run(reordered, true); err != nil {
		t.Fatal(err)
	}
	if got := ledgerLines(t, ledger); len(got) != 6 {
		t.Errorf("a reorder re-ran steps: %v", got)
	}
}
