package persist

import (
	"os"
	"testing"
)

// The manifest key of these tests lives in a directory of their own, not
// in the state directory of whoever runs them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "persist-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ABUSEKIT_STATE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
