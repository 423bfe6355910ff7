// Package clitest compares a command's output with a golden file after
// normalising what differs from run to run (times, durations, process ids,
// temporary paths, hashes), for the golden tests of the example commands.
// Run the tests with -update to rewrite the golden files, and review the
// diff.
package clitest

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Replacer replaces what differs from run to run in output by a stable
// placeholder. Build one with NewReplacer.
type Replacer struct {
	literal []string // old, new pairs, applied first
	res     []rule
}

type rule struct {
	re   *regexp.Regexp
	repl string
}

// Default rules, in the order applied.
var defaultRules = []rule{
	// RFC 3339 times, with or without fraction and zone.
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?`), "<TIME>"},
	// JSON durations and pids.
	{regexp.MustCompile(`"(duration_ns|host_pid|plugin_pid|pid|runner_pid)":\d+`), `"$1":0`},
	// Go durations in text: 1.234ms, 12µs, 3.5s, 1m2s.
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m\d+(\.\d+)?s|h\d+m\d+(\.\d+)?s)\b`), "<DUR>"},
	// pids in text.
	{regexp.MustCompile(`\bpid \d+`), "pid <PID>"},
	// 64-hex digests (SHA-256) and 32-hex tokens.
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<SHA256>"},
	{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<TOKEN>"},
}

// NewReplacer returns a Replacer that first replaces each old string of
// pairs (old, new, old, new…: temporary directories, the test binary's
// path) and then times, durations, pids, digests and tokens.
func NewReplacer(pairs ...string) *Replacer {
	if len(pairs)%2 != 0 {
		panic("clitest: NewReplacer needs old, new pairs")
	}
	return &Replacer{literal: pairs, res: defaultRules}
}

// Normalize applies the replacements.
func (r *Replacer) Normalize(s string) string {
	for i := 0; i < len(r.literal); i += 2 {
		if r.literal[i] != "" {
			s = strings.ReplaceAll(s, r.literal[i], r.literal[i+1])
		}
	}
	for _, ru := range r.res {
		s = ru.re.ReplaceAllString(s, ru.repl)
	}
	return s
}

// Golden compares got, normalised, with testdata file name; with -update
// it writes it instead.
func Golden(t testing.TB, name string, r *Replacer, got string) {
	t.Helper()
	if r != nil {
		got = r.Normalize(got)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

// Updating reports whether the tests run with -update.
func Updating() bool { return *update }
