package persist

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestGoldenInfected pins every finding above info on the work32+kinsing
// fixture, one JSON line per finding as clean-host -json prints them.
// Regenerate with: go test ./plugins/persist -run Golden -args -update
func TestGoldenInfected(t *testing.T) {
	needRoot(t, "the fixture's owners (chown)")
	dir := build(t, hosttest.Kinsing(hosttest.Work32(hosttest.Debian12(), "/home/admin")))
	needFlags(t) // the golden findings include the immutable ones
	fs := find(t, dir, hosttest.InfectionTime.Add(-3600e9))
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, f := range fs {
		if f.Severity > Info {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	golden := filepath.Join("testdata", "infected.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("findings differ from %s (-want +got):\n%s", golden, diff)
	}
}
