package ec2plugin

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/google/go-cmp/cmp"
)

func describedFields(t *testing.T) map[string]map[string]map[string]playbook.Field {
	t.Helper()
	d, err := playbook.DescribeActions(context.Background(), "ec2", NewPlugin())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]map[string]playbook.Field{}
	for _, a := range d.Actions {
		out[a.Name] = map[string]map[string]playbook.Field{}
		for what, schema := range map[string]json.RawMessage{"input": a.InputSchema, "output": a.OutputSchema} {
			fields, err := playbook.Fields(schema)
			if err != nil {
				t.Fatal(err)
			}
			out[a.Name][what] = map[string]playbook.Field{}
			for _, f := range fields {
				out[a.Name][what][f.Path] = f
			}
		}
	}
	return out
}

// fieldDocs are the descriptions given by path, action by action.
var fieldDocs = []struct {
	action, what string
	docs         map[string]string
}{
	{"capture", "output", captureOutputDocs},
	{"contain", "output", containOutputDocs},
	{"snapshot", "output", snapshotOutputDocs},
	{"terminate", "input", terminateInputDocs},
	{"terminate", "output", terminateOutputDocs},
	{"rebuild", "input", rebuildInputDocs},
	{"rebuild", "output", rebuildOutputDocs},
	{"harden", "output", hardenOutputDocs},
	{"alarms", "input", alarmsInputDocs},
	{"alarms", "output", alarmsOutputDocs},
	{"undo", "input", undoInputDocs},
}

// Every path of the field descriptions names a field of the schema it
// describes: a field renamed in package ec2 must not leave its
// description behind unseen.
func TestFieldDocsPathsExist(t *testing.T) {
	fs := describedFields(t)
	for _, c := range fieldDocs {
		if _, ok := fs[c.action]; !ok {
			t.Errorf("no action %s", c.action)
		}
		for path := range c.docs {
			if _, ok := fs[c.action][c.what][path]; !ok {
				t.Errorf("%s %s: no field %s", c.action, c.what, path)
			}
		}
	}
}

// asg_mode's published enum is exactly what contain accepts, and its
// published default is package ec2's.
func TestASGModeEnumAndDefault(t *testing.T) {
	f := describedFields(t)["contain"]["input"]["asg_mode"]
	var got []string
	for _, e := range f.Enum {
		s, _ := e.(string)
		got = append(got, s)
		if err := (ContainInput{ASGMode: s}).check(); err != nil {
			t.Errorf("enum value %q refused by contain: %v", s, err)
		}
	}
	want := []string{"", string(ec2.ASGDetach), string(ec2.ASGStandby), string(ec2.ASGSkip)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("enum (-want +got):\n%s", diff)
	}
	if f.Default != string(ec2.ASGDetach) {
		t.Errorf("default %v, want %s", f.Default, ec2.ASGDetach)
	}
	if err := (ContainInput{ASGMode: "evict"}).check(); err == nil {
		t.Error("contain accepts asg_mode evict")
	}
}

// The fields marked required are those the actions refuse to do without,
// and user_data is kept out of plans and journals.
func TestRequiredAndSecret(t *testing.T) {
	fs := describedFields(t)
	var required, secret []string
	for _, action := range []string{"alarms", "capture", "contain", "harden", "rebuild", "snapshot", "terminate", "undo"} {
		for _, what := range []string{"input", "output"} {
			for path, f := range fs[action][what] {
				if f.Required && what == "input" && !strings.Contains(path, ".") {
					required = append(required, action+" "+path)
				}
				if f.Secret {
					secret = append(secret, action+" "+what+" "+path)
				}
			}
		}
	}
	sort.Strings(required)
	sort.Strings(secret)
	if diff := cmp.Diff([]string{"alarms instance_id", "rebuild instance_id"}, required); diff != "" {
		t.Errorf("required (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"rebuild input user_data"}, secret); diff != "" {
		t.Errorf("secret (-want +got):\n%s", diff)
	}
}
