package abuseplugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

// runPlaybook runs steps against the abuse plugin served over the real
// plugin transport (go-plugin gRPC, reattached), journalled in dir.
func runPlaybook(t *testing.T, spec playbook.PluginSpec, journal string, steps ...playbook.Step) (*playbook.Run, error) {
	t.Helper()
	pb, err := playbook.New("abuse-reply", steps...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "case-1", Plugins: []playbook.PluginSpec{spec}, Approve: playbook.AutoApprove, JournalDir: journal})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Run(context.Background())
}

// A playbook parses the seed notice and drafts the reply from the parsed
// report, referenced by name; both outputs are what package abuse gives
// directly, after the trip through the plugin and the journal.
func TestOverRealTransport(t *testing.T) {
	spec := plugintest.Serve(t, "abuse", NewPlugin())
	notice, err := filepath.Abs(testdata("trust-and-safety", "initial-notice.eml"))
	if err != nil {
		t.Fatal(err)
	}
	want := replyInput(t) // from abuse.Parse of the same notice
	out := t.TempDir()
	actions := []map[string]any{}
	for _, a := range want.Actions {
		actions = append(actions, map[string]any{"time": a.Time.Format("2006-01-02T15:04:05Z07:00"), "step": a.Step, "summary": a.Summary, "evidence": a.Evidence})
	}
	findings := []map[string]any{}
	for _, f := range want.Findings {
		findings = append(findings, map[string]any{"what": f.What, "summary": f.Summary, "details": f.Details})
	}
	steps := []playbook.Step{
		{ID: "parse", Plugin: "abuse", Action: "parse", Input: map[string]any{"path": notice}},
		{ID: "reply", Plugin: "abuse", Action: "reply", If: "steps.parse.incident_id", Input: map[string]any{
			"report":     playbook.Ref("steps.parse.reports[0]"),
			"actions":    actions,
			"findings":   findings,
			"root_cause": want.RootCause,
			"prevention": want.Prevention,
			"signature":  want.Signature,
			"output_dir": out,
		}},
	}
	journal := t.TempDir()
	run, err := runPlaybook(t, spec, journal, steps...)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != playbook.StatusSucceeded || len(run.Steps) != 2 {
		t.Fatalf("run: %+v", run)
	}
	var parsed ParseOutput
	if err := json.Unmarshal(run.Steps[0].Output, &parsed); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ParseOutput{Reports: []abuse.Report{want.Report}, IncidentID: "17001234567"}, parsed, cmpOpts); diff != "" {
		t.Errorf("parse over the transport (-want +got):\n%s", diff)
	}
	var replied ReplyOutput
	if err := json.Unmarshal(run.Steps[1].Output, &replied); err != nil {
		t.Fatal(err)
	}
	wantReply := draftDirect(t, want)
	txt, md := filepath.Join(out, "17001234567-reply.txt"), filepath.Join(out, "17001234567-summary.md")
	if diff := cmp.Diff(ReplyOutput{Reply: wantReply, Files: []string{txt, md}}, replied); diff != "" {
		t.Errorf("reply over the transport (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(txt); err != nil || string(b) != "Subject: "+wantReply.Subject+"\n\n"+wantReply.Text {
		t.Errorf("%s: %v", txt, err)
	}

	// The same incident again: the journal says both steps are done.
	again, err := runPlaybook(t, spec, journal, steps...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range again.Steps {
		if !s.Resumed {
			t.Errorf("step %s ran again", s.ID)
		}
	}
}

// Sentinels keep their identity on the host across the process boundary.
func TestErrorsCrossTheTransport(t *testing.T) {
	spec := plugintest.Serve(t, "abuse", NewPlugin())
	junk := filepath.Join(t.TempDir(), "junk.bin")
	if err := os.WriteFile(junk, []byte{0, 1, 2, 0xff, 0xfe, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runPlaybook(t, spec, "", playbook.Step{ID: "parse", Plugin: "abuse", Action: "parse", Input: map[string]any{"path": junk}})
	if !errors.Is(err, abuse.ErrUnknownFormat) {
		t.Fatalf("junk: err = %v, want abuse.ErrUnknownFormat across the transport", err)
	}
	var se *playbook.StepError
	var re *plugin.RemoteError
	if !errors.As(err, &se) || se.Step != "parse" || !errors.As(err, &re) || re.Code != "abuse.unknown_format" {
		t.Errorf("junk: %#v", err)
	}

	notice := testdata("trust-and-safety", "initial-notice.eml")
	_, err = runPlaybook(t, spec, "", playbook.Step{ID: "parse", Plugin: "abuse", Action: "parse",
		Input: map[string]any{"path": notice, "limits": map[string]any{"max_bytes": 64}}})
	if !errors.Is(err, abuse.ErrTooLarge) {
		t.Errorf("over max_bytes: err = %v, want abuse.ErrTooLarge", err)
	}

	_, err = runPlaybook(t, spec, "",
		playbook.Step{ID: "parse", Plugin: "abuse", Action: "parse", Input: map[string]any{"path": notice}},
		playbook.Step{ID: "reply", Plugin: "abuse", Action: "reply", Input: map[string]any{"report": playbook.Ref("steps.parse.reports[0]"), "actions": []any{}}})
	if !errors.Is(err, abuse.ErrNoActions) {
		t.Errorf("no actions: err = %v, want abuse.ErrNoActions", err)
	}
}

// The YAML playbook in testdata: the plan reads the notice (and writes
// nothing), the reply step waits for its output; applied, the drafts are
// those of abuse.DraftReply.
func TestYAMLPlaybook(t *testing.T) {
	ctx := context.Background()
	pb, err := playbook.Load(filepath.Join("testdata", "reply.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	notice, err := filepath.Abs(testdata("trust-and-safety", "initial-notice.eml"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident: "17001234567",
		Inputs:   map[string]any{"notice": notice, "out_dir": out},
		Plugins:  []playbook.PluginSpec{plugintest.Serve(t, "abuse", NewPlugin())},
		Approve:  playbook.AutoApprove, // the reply step is planned during Apply and approved then
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan, err := r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 2 || plan.Steps[0].Status != playbook.PlanPlanned || plan.Steps[1].Status != playbook.PlanDeferred {
		t.Fatalf("plan: %+v", plan.Steps)
	}
	if c := plan.Steps[0].Changes; len(c) != 1 || c[0].Kind != plugin.ChangeRead || c[0].Target != notice {
		t.Errorf("parse plan: %+v", c)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatal("the plan wrote files")
	}
	run, err := r.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	var replied ReplyOutput
	if err := json.Unmarshal(run.Steps[1].Output, &replied); err != nil {
		t.Fatal(err)
	}
	want := draftDirect(t, replyInput(t))
	files := []string{filepath.Join(out, "17001234567-reply.txt"), filepath.Join(out, "17001234567-summary.md")}
	if diff := cmp.Diff(ReplyOutput{Reply: want, Files: files}, replied); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(files[1]); err != nil || string(b) != want.Markdown {
		t.Errorf("%s: %v", files[1], err)
	}
}
