package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/abusekit/abusekit/internal/cli/clitest"
)

// TestGolden pins the human and the JSON output of the demo's dry run
// (the plan), the demo's temporary directory, the emulator's address and
// the journal's directory normalised.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"demo-plan.golden", []string{"-demo"}},
		{"demo-plan.json.golden", []string{"-demo", "-json"}},
	} {
		var repl *clitest.Replacer
		inspectDemo = func(w *demo) { repl = clitest.NewReplacer(w.dir, "<DEMO>", w.endpoint, "<ENDPOINT>") }
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		inspectDemo = nil
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errb.String())
		}
		clitest.Golden(t, tc.golden, repl, out.String())
	}
}
