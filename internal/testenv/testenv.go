// Package testenv decides what a test does when the machine lacks
// something it needs: root, a tool, a kernel feature. On a developer's
// machine the test skips with the reason. Under ABUSEKIT_REQUIRE_ROOT=1,
// which CI sets (CI runs as root with every tool installed), the same test
// fails instead: a CI run that quietly skipped the scanner, namespace or
// chattr tests must not come out green.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// EnvRequire is the environment variable that turns skips into failures.
const EnvRequire = "ABUSEKIT_REQUIRE_ROOT"

// Strict reports whether environment-dependent tests must run
// (ABUSEKIT_REQUIRE_ROOT=1).
func Strict() bool { return os.Getenv(EnvRequire) == "1" }

// Skipf skips t with the reason, or fails it when Strict.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s=1 but the test cannot run: %s", EnvRequire, msg)
	}
	t.Skip(msg)
}

// NeedRoot skips (or, when Strict, fails) t unless it runs as root; why
// says what needs root.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skipf(t, "needs root: %s", why)
	}
}

// LookPath returns the path of tool, or skips (when Strict, fails) t,
// naming the Debian package that provides it.
func LookPath(t testing.TB, tool, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		Skipf(t, "needs %s (apt-get install %s): %v", tool, debianPackage, err)
	}
	return p
}
