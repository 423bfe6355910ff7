package ec2plugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/playbook"
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
