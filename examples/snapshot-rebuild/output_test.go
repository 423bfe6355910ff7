package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/abusekit/abusekit/internal/cli/clitest"
)

// TestGolden pins the human and the JSON output of the demo's dry run.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"demo-dry-run.golden", []string{"-demo", "-terminate"}},
		{"demo-dry-run.json.golden", []string{"-demo", "-terminate", "-json"}},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errb.String())
		}
		clitest.Golden(t, tc.golden, clitest.NewReplacer(), out.String())
	}
}
