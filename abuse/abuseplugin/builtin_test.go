package abuseplugin

import (
	"context"
	"os"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// The built-in in its own process (TestMain serves NewBuiltin) says what it
// is and which version of abusekit it was built from.
func TestBuiltinDescribesItself(t *testing.T) {
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
	if p.PID() == os.Getpid() {
		t.Fatal("the plugin runs in the test's process")
	}
	d := p.Describe()
	if d.Description != Description || d.Description == "" {
		t.Errorf("description %q, want %q", d.Description, Description)
	}
	// The plugin process is this test binary: same build information.
	if want := plugin.ModuleVersion("github.com/abusekit/abusekit"); d.Version != want || d.Version == "" {
		t.Errorf("version %q, want %q", d.Version, want)
	}
	if len(d.Actions) != 2 {
		t.Errorf("actions %v, want parse and reply", d.Actions)
	}
}

// Every path of the field descriptions names a field of the schema it
// describes: a field renamed in package abuse must not leave its
// description behind unseen.
func TestFieldDocsPathsExist(t *testing.T) {
	ctx := context.Background()
	d, err := playbook.DescribeActions(ctx, "abuse", NewPlugin())
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]playbook.ActionDescription{}
	for _, a := range d.Actions {
		schemas[a.Name] = a
	}
	check := func(what string, schema []byte, docs map[string]string) {
		fields, err := playbook.Fields(schema)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, f := range fields {
			have[f.Path] = true
		}
		for path := range docs {
			if !have[path] {
				t.Errorf("%s: no field %s", what, path)
			}
		}
	}
	check("parse output", schemas["parse"].OutputSchema, parseOutputDocs)
	check("reply input", schemas["reply"].InputSchema, replyInputDocs)
	check("reply output", schemas["reply"].OutputSchema, replyOutputDocs)
}
