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
)

// TestMain makes the test binary a host with "abuse" as a built-in plugin,
// as a real host's main does: re-executed as the plugin, it serves.
func TestMain(m *testing.M) {
	plugin.ServeBuiltinIfPlugin(map[string]func() plugin.Builtin{"abuse": NewBuiltin})
	os.Exit(m.Run())
}

// The plugin in its own process (the host re-executes itself as the
// built-in): the parse and reply outputs are those of package abuse, and a
// sentinel keeps its identity across the process boundary.
func TestBuiltinProcess(t *testing.T) {
	ctx := context.Background()
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	if err := host.Start(ctx, playbook.Builtin("abuse")); err != nil {
		t.Fatal(err)
	}
	p, err := host.Plugin("abuse")
	if err != nil {
		t.Fatal(err)
	}
	if p.PID() == os.Getpid() || p.PID() <= 0 {
		t.Fatalf("plugin pid %d, host %d: not a process of its own", p.PID(), os.Getpid())
	}
	run := func(steps ...playbook.Step) (*playbook.Run, error) {
		pb, err := playbook.New("abuse-reply", steps...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := playbook.NewRunner(pb, playbook.Options{Incident: "case-1", Host: host, Approve: playbook.AutoApprove})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Run(ctx)
	}

	junk := filepath.Join(t.TempDir(), "junk.bin")
	if err := os.WriteFile(junk, []byte("\x00\x01\x02\xff\xfe\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(playbook.Step{ID: "parse", Plugin: "abuse", Action: "parse", Input: map[string]any{"path": junk}})
	var se *playbook.StepError
	if !errors.Is(err, abuse.ErrUnknownFormat) || !errors.As(err, &se) || se.Plugin != "abuse" {
		t.Fatalf("junk: err = %v, want a StepError wrapping abuse.ErrUnknownFormat", err)
	}

	// A relative path: the plugin process works in the host's directory.
	notice := testdata("trust-and-safety", "initial-notice.eml")
	want := replyInput(t)
	res, err := run(
		playbook.Step{ID: "parse", Plugin: "abuse", Action: "parse", Input: map[string]any{"path": notice}},
		playbook.Step{ID: "reply", Plugin: "abuse", Action: "reply", Input: map[string]any{
			"report":     playbook.Ref("steps.parse.reports[0]"),
			"actions":    want.Actions,
			"findings":   want.Findings,
			"root_cause": want.RootCause,
			"prevention": want.Prevention,
			"signature":  want.Signature,
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.PluginPID != p.PID() {
			t.Errorf("step %s ran in pid %d, want the plugin's %d", s.ID, s.PluginPID, p.PID())
		}
	}
	var parsed ParseOutput
	if err := json.Unmarshal(res.Steps[0].Output, &parsed); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]abuse.Report{want.Report}, parsed.Reports, cmpOpts); diff != "" {
		t.Errorf("parse (-abuse.Parse +plugin):\n%s", diff)
	}
	var replied ReplyOutput
	if err := json.Unmarshal(res.Steps[1].Output, &replied); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ReplyOutput{Reply: draftDirect(t, want)}, replied); diff != "" {
		t.Errorf("reply (-abuse.DraftReply +plugin):\n%s", diff)
	}
}
