package playbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// TestInputSchemaFromTags: the schema an action publishes over the wire
// carries what its input type's tags say (required, default, description,
// enum, secret, format).
func TestInputSchemaFromTags(t *testing.T) {
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(t.Context(), playbook.Builtin("util")); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("util")
	info, ok := p.Action("post")
	if !ok {
		t.Fatal("no post action")
	}
	var got map[string]any
	if err := json.Unmarshal(info.InputSchema, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "object", "additionalProperties": false, "required": []any{"url"},
		"properties": map[string]any{
			"url":     map[string]any{"type": "string", "format": "uri", "description": "where to post"},
			"method":  map[string]any{"type": "string", "enum": []any{"POST", "PUT"}, "default": "POST", "description": "HTTP method"},
			"token":   map[string]any{"type": "string", "writeOnly": true, "x-secret": true, "description": "bearer token"},
			"retries": map[string]any{"type": "integer", "default": float64(3)},
			"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("input schema (-want +got):\n%s", d)
	}
}

// TestInputValidatedAtPlan: every step's literal input is checked against
// its action's schema at plan time, before anything runs, each misfit named
// by file, line and field path; a value holding a reference is checked
// once resolved; defaults fill absent fields in the plugin.
func TestInputValidatedAtPlan(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	src := `name: schema
steps:
  - id: first
    plugin: util
    action: ledger
    input: {ledger: ` + ledger + `}
  - id: notify
    plugin: util
    action: post
    input:
      url: 5
      method: GET
      retries: 1.5
      tags: [a, 7]
  - id: missing
    plugin: util
    action: post
    input:
      method: ${{ steps.first.line }}
`
	pb, err := playbook.Parse("notify.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, pb, playbook.Options{})
	_, err = r.Run(t.Context())
	if !errors.Is(err, plugin.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
	type loc struct {
		Line  int
		Field string
	}
	var got []loc
	var walk func(error)
	walk = func(e error) {
		var ve *playbook.ValidationError
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if errors.As(e, &ve) {
			got = append(got, loc{ve.Line, ve.Field})
		}
	}
	var se *playbook.StepError
	if !errors.As(err, &se) || se.Step != "notify" {
		t.Fatalf("err = %v, want the notify step's", err)
	}
	walk(se.Err)
	want := []loc{
		{12, "steps[1].input.method"},
		{13, "steps[1].input.retries"},
		{14, "steps[1].input.tags[1]"},
		{11, "steps[1].input.url"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("misfits (-want +got):\n%s\nerror: %v", d, err)
	}
	for _, s := range []string{"notify.yaml:11", `want a string, got number 5`, `"GET" is not one of "POST", "PUT"`, "want an integer, got 1.5"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q: %v", s, err)
		}
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Error("the first step ran although a later step's input is invalid")
	}

	// Without the bad step, the missing required url is found too.
	pb2, err := playbook.Parse("notify.yaml", []byte(strings.Replace(src, "  - id: notify\n    plugin: util\n    action: post\n    input:\n      url: 5\n      method: GET\n      retries: 1.5\n      tags: [a, 7]\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = newRunner(t, pb2, playbook.Options{}).Plan(t.Context())
	var ve *playbook.ValidationError
	if !errors.As(err, &ve) || ve.Field != "steps[1].input.url" || ve.Line != 11 || !strings.Contains(err.Error(), "required field missing (where to post)") {
		t.Errorf("missing url: %v (%+v)", err, ve)
	}

	// Defaults fill what the input leaves out; the secret reaches the
	// plugin and stays out of the plan and the journal.
	jdir := t.TempDir()
	var plan *playbook.Plan
	r2 := newRunner(t, mustNew(t, "defaults", playbook.Step{ID: "n", Plugin: "util", Action: "post",
		Input: map[string]any{"url": "https://example.org/hook", "token": "s3cret"}}),
		playbook.Options{JournalDir: jdir, Approve: func(_ context.Context, p *playbook.Plan) (bool, error) { plan = p; return true, nil }})
	run, err := r2.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.Unmarshal(run.Steps[0].Output, &out)
	if d := cmp.Diff(map[string]any{"url": "https://example.org/hook", "method": "POST", "retries": float64(3), "tags": []any{"token-len-6"}}, out); d != "" {
		t.Errorf("output with defaults (-want +got):\n%s", d)
	}
	if got := string(plan.Steps[0].Input); got != `{"token":"(secret)","url":"https://example.org/hook"}` {
		t.Errorf("plan input %s, want the token redacted", got)
	}
	r2.Close()
	if b, _ := os.ReadFile(playbook.JournalPath(jdir, r2.Incident())); strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"token":"(secret)"`) {
		t.Errorf("journal holds the secret or no redaction:\n%s", b)
	}
}

// TestUnknownPluginAndActionLocated: a step naming a plugin with no spec,
// or an action its plugin does not offer, is refused with its file and line.
func TestUnknownPluginAndActionLocated(t *testing.T) {
	pb, err := playbook.Parse("p.yaml", []byte("name: p\nsteps:\n  - id: a\n    plugin: util\n    action: greet\n  - id: b\n    plugin: nosuch\n    action: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = playbook.NewRunner(pb, playbook.Options{Incident: "c", Plugins: []playbook.PluginSpec{playbook.Builtin("util")}})
	var ve *playbook.ValidationError
	if !errors.Is(err, playbook.ErrUnknownPlugin) || !errors.As(err, &ve) || ve.Line != 7 || ve.Field != "steps[1].plugin" {
		t.Errorf("unknown plugin: %v (%+v), want p.yaml:7 steps[1].plugin", err, ve)
	}
	pb, err = playbook.Parse("p.yaml", []byte("name: p\nsteps:\n  - id: a\n    plugin: util\n    action: greet\n  - id: b\n    plugin: util\n    action: nosuch\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = newRunner(t, pb, playbook.Options{}).Plan(t.Context())
	if !errors.Is(err, playbook.ErrUnknownAction) || !errors.As(err, &ve) || ve.Line != 8 || ve.Field != "steps[1].action" {
		t.Errorf("unknown action: %v (%+v), want p.yaml:8 steps[1].action", err, ve)
	}
}

// TestOutputReferencesCheckedBeforeRun: a reference to a field the
// producing action's output does not have fails the plan, with file, line
// and field, before any step has run; fields that exist, list elements and
// values the schema leaves open (map values) pass.
func TestOutputReferencesCheckedBeforeRun(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	src := `name: refs
steps:
  - id: first
    plugin: util
    action: ledger
    input: {ledger: ` + ledger + `}
  - id: sus
    plugin: util
    action: suspects
  - id: hello
    plugin: util
    action: greet
    if: steps.first.lnie
    input:
      name: "${{ steps.first.line }} ${{ steps.sus.suspects[0].exe }} ${{ steps.first.lien }}"
  - id: bad-index
    plugin: util
    action: greet
    input:
      name: ${{ steps.first.line[0] }}
`
	pb, err := playbook.Parse("refs.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, pb, playbook.Options{})
	_, err = r.Run(t.Context())
	if !errors.Is(err, playbook.ErrBadReference) {
		t.Fatalf("err = %v, want ErrBadReference", err)
	}
	for _, s := range []string{"refs.yaml:13", "steps[2].if", `steps.first.lnie: util.ledger output: the output has no field "lnie" (it has: line)`,
		"refs.yaml:15", "steps[2].input.name", "steps.first.lien"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "suspects[0].exe") {
		t.Errorf("a reference into an open map value refused: %v", err)
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Error("the first step ran although a later step refers to a missing output")
	}
	// The list index into a string is caught too.
	pb, _ = playbook.Parse("refs.yaml", []byte(strings.Replace(strings.Replace(src, "    if: steps.first.lnie\n", "", 1), " ${{ steps.first.lien }}", "", 1)))
	_, err = newRunner(t, pb, playbook.Options{}).Plan(t.Context())
	var ve *playbook.ValidationError
	if !errors.Is(err, playbook.ErrBadReference) || !errors.As(err, &ve) || ve.Field != "steps[3].input.name" || !strings.Contains(err.Error(), "line is a string, not a list: no [0]") {
		t.Errorf("index into a string: %v", err)
	}
}

// TestPluginVersionChecked: a plugin reports its version and description,
// each action its own; a host requiring a newer version, or another major,
// refuses it.
func TestPluginVersionChecked(t *testing.T) {
	exe, sum := selfExe(t)
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	spec := playbook.External("v", exe, sum, "PLAYBOOK_TEST_MODE=versioned")
	spec.MinVersion = "1.4"
	if err := h.Start(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("v")
	greet, _ := p.Action("greet")
	type meta struct{ Version, Description, ActionVersion, ActionDescription string }
	if d := cmp.Diff(meta{"v1.4.2", "test utilities", "2", "says hello"}, meta{p.Version(), p.Description(), greet.Version, greet.Description}); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	for _, min := range []string{"1.5", "v1.4.3", "2.0", "0.9"} {
		spec.Name, spec.MinVersion = "v-"+min, min
		err := h.Start(t.Context(), spec)
		if !errors.Is(err, playbook.ErrPluginVersion) || !strings.Contains(err.Error(), "v1.4.2") {
			t.Errorf("MinVersion %s: %v, want ErrPluginVersion naming v1.4.2", min, err)
		}
	}
	spec.Name, spec.MinVersion = "v-ok", "v1.4.2"
	if err := h.Start(t.Context(), spec); err != nil {
		t.Errorf("MinVersion v1.4.2: %v", err)
	}
}
