package scan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/abusekit/abusekit/internal/testenv"
)

// requireEnv, set to 1 (as CI does, running as root with iproute2, nmap and
// masscan installed), turns the skips of tests needing root, network
// namespaces or a scanner into failures, so that they cannot pass by not
// running.
const requireEnv = testenv.EnvRequire

// TestRequireRootEnv runs this test binary as an unprivileged user on a
// root-only test: it skips, and with requireEnv=1 it fails.
func TestRequireRootEnv(t *testing.T) {
	if os.Getenv(requireEnv+"_CHILD") != "" {
		return
	}
	testenv.NeedRoot(t, "runs the tests as another user")
	dir := t.TempDir()
	bin := filepath.Join(dir, "scan.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, require := range []bool{false, true} {
		cmd := exec.Command(bin, "-test.run=^(TestStopRefusals|TestScannerConnect)$", "-test.v")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), requireEnv + "_CHILD=1"}
		if require {
			cmd.Env = append(cmd.Env, requireEnv+"=1")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		switch {
		case !require && (err != nil || strings.Count(string(out), "--- SKIP") != 2):
			t.Errorf("unprivileged, not required: %v\n%s", err, out)
		case require && (err == nil || strings.Count(string(out), "--- FAIL") != 2 || !strings.Contains(string(out), requireEnv+"=1 but the test cannot run: needs root")):
			t.Errorf("unprivileged, required: %v\n%s", err, out)
		}
	}
}
