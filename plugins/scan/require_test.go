package scan

import (
	"os"
	"testing"
)

// requireEnv, set to 1 (as CI does, running as root with iproute2, nmap and
// masscan installed), turns the skips of tests needing root, network
// namespaces or a scanner into failures, so that they cannot pass by not
// running.
const requireEnv = "ABUSEKIT_REQUIRE_ROOT"

// requireRoot skips the test with reason, or fails it when requireEnv is
// set.
func requireRoot(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s=1 but %s", requireEnv, reason)
	}
	t.Skip(reason)
}
