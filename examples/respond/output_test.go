package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/abusekit/abusekit/internal/cli/clitest"
)

// TestGolden pins the human and the JSON output of the demo's dry run
// (the plan), the demo's temporary directory, the emulator's address, the
// test binary's path and the journal's directory normalised.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"demo-plan.golden", []string{"-demo"}},
		{"demo-plan.json.golden", []string{"-demo", "-json"}},
	} {
		var repl *clitest.Replacer
		exe, err := os.Executable() // the host steps' binary (host_steps)
		if err != nil {
			t.Fatal(err)
		}
		inspectDemo = func(w *demo) { repl = clitest.NewReplacer(w.dir, "<DEMO>", w.endpoint, "<ENDPOINT>", exe, "<EXE>") }
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		inspectDemo = nil
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errb.String())
		}
		clitest.Golden(t, tc.golden, repl, out.String())
	}
}
