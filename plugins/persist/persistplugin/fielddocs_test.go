package persistplugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/persist"
)

func describedFields(t *testing.T) map[string]map[string]map[string]playbook.Field {
	t.Helper()
	d, err := playbook.DescribeActions(context.Background(), "persist", NewPlugin())
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

// Every path of the field descriptions names a field of the schema it
// describes: a field renamed in package persist must not leave its
// description behind unseen.
func TestFieldDocsPathsExist(t *testing.T) {
	fs := describedFields(t)
	for _, c := range []struct {
		action, what string
		docs         map[string]string
	}{
		{"find", "output", findOutputDocs},
		{"plan", "output", planOutputDocs},
		{"clean", "input", cleanInputDocs},
		{"clean", "output", cleanOutputDocs},
		{"restore", "output", restoreOutDocs},
	} {
		for path := range c.docs {
			if _, ok := fs[c.action][c.what][path]; !ok {
				t.Errorf("%s %s: no field %s", c.action, c.what, path)
			}
		}
	}
}

// The severity enums are exactly persist's severities, and the published
// defaults are those the actions apply to an empty value.
func TestSeverityEnumsAndDefaults(t *testing.T) {
	fs := describedFields(t)
	for _, c := range []struct {
		action, field string
		def           persist.Severity
	}{
		{"find", "min", persist.Low},
		{"plan", "min_severity", persist.High},
		{"clean", "min_severity", persist.High},
	} {
		f := fs[c.action]["input"][c.field]
		if f.Default != c.def.String() {
			t.Errorf("%s %s: default %v, want %v", c.action, c.field, f.Default, c.def)
		}
		seen := map[persist.Severity]bool{}
		for _, e := range f.Enum {
			s, ok := e.(string)
			sev, err := persist.ParseSeverity(s)
			if !ok || err != nil {
				t.Errorf("%s %s: enum value %v is no severity: %v", c.action, c.field, e, err)
			}
			seen[sev] = true
		}
		for s := persist.Info; s <= persist.Critical; s++ {
			if !seen[s] {
				t.Errorf("%s %s: enum lacks %v", c.action, c.field, s)
			}
		}
	}
	if !fs["restore"]["input"]["manifest"].Required {
		t.Error("restore: manifest is not required")
	}
	for _, a := range []string{"clean", "restore"} {
		if !fs[a]["input"]["manifest_key"].Secret {
			t.Errorf("%s: manifest_key is not secret", a)
		}
	}
}
