package scanplugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/scan"
)

func describe(t *testing.T) map[string]playbook.ActionDescription {
	t.Helper()
	d, err := playbook.DescribeActions(context.Background(), "scan", NewPlugin())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]playbook.ActionDescription{}
	for _, a := range d.Actions {
		out[a.Name] = a
	}
	return out
}

func fieldsOf(t *testing.T, schema json.RawMessage) map[string]playbook.Field {
	t.Helper()
	fields, err := playbook.Fields(schema)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]playbook.Field{}
	for _, f := range fields {
		out[f.Path] = f
	}
	return out
}

// Every path of the field descriptions names a field of the schema it
// describes: a field renamed in package scan must not leave its
// description behind unseen.
func TestFieldDocsPathsExist(t *testing.T) {
	as := describe(t)
	for _, c := range []struct {
		what   string
		schema json.RawMessage
		docs   map[string]string
	}{
		{"detect input", as["detect"].InputSchema, detectInputDocs},
		{"detect output", as["detect"].OutputSchema, detectOutputDocs},
		{"stop output", as["stop"].OutputSchema, stopOutputDocs},
	} {
		have := fieldsOf(t, c.schema)
		for path := range c.docs {
			if _, ok := have[path]; !ok {
				t.Errorf("%s: no field %s", c.what, path)
			}
		}
	}
}

// The defaults the schema publishes (and the SDK fills in) are those the
// scan package applies to a zero value, so a default filled in changes
// nothing.
func TestSchemaDefaultsMatchScan(t *testing.T) {
	as := describe(t)
	detect, stop := fieldsOf(t, as["detect"].InputSchema), fieldsOf(t, as["stop"].InputSchema)
	if got := detect["min_score"].Default; got != float64(scan.DefaultMinScore) {
		t.Errorf("detect min_score default %v, scan.DefaultMinScore %d", got, scan.DefaultMinScore)
	}
	for _, f := range []playbook.Field{detect["root"], stop["root"]} {
		if f.Default != "/proc" {
			t.Errorf("%s default %v, want /proc", f.Path, f.Default)
		}
	}
	if !stop["pid"].Required {
		t.Error("stop: pid is not required")
	}
	want := map[any]bool{"": true, scan.FreezeCgroup: true, scan.FreezeSignal: true}
	if len(stop["freezer"].Enum) != len(want) {
		t.Errorf("stop freezer enum %v, want %v", stop["freezer"].Enum, want)
	}
	for _, e := range stop["freezer"].Enum {
		if !want[e] {
			t.Errorf("stop freezer enum has %v, which scan does not take", e)
		}
	}
}
