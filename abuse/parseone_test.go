package abuse

import (
	"context"
	"os"
	"testing"
)

// parseOneFile parses the file at path with Parse and returns its one
// report; another count or an error fails the test.
func parseOneFile(t *testing.T, path string) Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reps, err := Parse(context.Background(), f)
	if err != nil || len(reps) != 1 {
		t.Fatalf("%s: %d reports, err %v", path, len(reps), err)
	}
	return reps[0]
}
