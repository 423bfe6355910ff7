package docs

import (
	"context"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
)

// described are the built-in plugins every input and output field of
// which carries a description: all of them.
var described = map[string]bool{"abuse": true, "ec2": true, "persist": true, "scan": true}

// TestEveryFieldDescribed fails on a field of a described plugin's action
// input or output without a description, and on a plugin without one.
func TestEveryFieldDescribed(t *testing.T) {
	ctx := context.Background()
	for _, b := range Builtins {
		if !described[b.Name] {
			continue
		}
		if b.Description == "" {
			t.Errorf("%s: no plugin description", b.Name)
		}
		d, err := playbook.DescribeActions(ctx, b.Name, b.Actions())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Actions {
			if a.Description == "" {
				t.Errorf("%s %s: no action description", b.Name, a.Name)
			}
			for what, schema := range map[string][]byte{"input": a.InputSchema, "output": a.OutputSchema} {
				fields, err := playbook.Fields(schema)
				if err != nil {
					t.Fatal(err)
				}
				if string(schema) == "{}" {
					t.Errorf("%s %s: the %s schema says nothing (a type with its own MarshalJSON?)", b.Name, a.Name, what)
				}
				for _, f := range fields {
					if strings.HasSuffix(f.Type, "any") {
						t.Errorf("%s %s %s: %s is of type %q: its schema says nothing (a type with its own MarshalJSON?)", b.Name, a.Name, what, f.Path, f.Type)
					}
					if f.Description == "" {
						t.Errorf("%s %s %s: %s has no description", b.Name, a.Name, what, f.Path)
					}
				}
			}
		}
	}
}
