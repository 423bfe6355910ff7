package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/internal/cli/clitest"
)

// envelopeData is the data of -json output's one document (internal/cli's
// envelope), checking the envelope and its kind.
func envelopeData(t *testing.T, out []byte, kind string) []byte {
	t.Helper()
	var d struct {
		V    int             `json:"v"`
		Type string          `json:"type"`
		Prog string          `json:"prog"`
		Kind string          `json:"kind"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if d.V != 1 || d.Type != "result" || d.Prog != "triage-host" || d.Kind != kind {
		t.Fatalf("document %s: want v 1, type result, prog triage-host, kind %s", out, kind)
	}
	return d.Data
}

// TestGolden pins the human and the JSON output of a suspect on a fake
// /proc.
func TestGolden(t *testing.T) {
	root := fakeRoot(t)
	repl := clitest.NewReplacer(root, "<ROOT>")
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"suspects.golden", []string{"-root", root}},
		{"suspects.json.golden", []string{"-root", root, "-json"}},
	} {
		var out, errb bytes.Buffer
		if err := run(tc.args, &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		clitest.Golden(t, tc.golden, repl, out.String())
	}
}
