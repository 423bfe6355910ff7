package ec2plugin

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/google/go-cmp/cmp"
)

// The built-in in its own process (TestMain serves NewBuiltin) says what it
// is, which version of abusekit it was built from, and its actions.
func TestBuiltinDescribesItself(t *testing.T) {
	ctx := context.Background()
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	if err := host.Start(ctx, playbook.Builtin("ec2")); err != nil {
		t.Fatal(err)
	}
	p, err := host.Plugin("ec2")
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
	var got []string
	for _, a := range d.Actions {
		got = append(got, a.Name)
	}
	sort.Strings(got)
	want := []string{"alarms", "capture", "contain", "harden", "rebuild", "snapshot", "terminate", "undo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}
