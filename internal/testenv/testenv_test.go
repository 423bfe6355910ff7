package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper's behaviour is checked in a child test process, where a skip
// and a failure can be told apart by go test's own output.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Skipf(t, "child reason %d", 42)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		strict string
		want   string
		fails  bool
	}{
		{"", "--- SKIP: TestSkipOrFail", false},
		{"0", "--- SKIP: TestSkipOrFail", false},
		{"1", "--- FAIL: TestSkipOrFail", true},
	} {
		cmd := exec.Command(exe, "-test.run=^TestSkipOrFail$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", EnvRequire+"="+c.strict)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fails {
			t.Errorf("%s=%q: exit error %v, want failure %v\n%s", EnvRequire, c.strict, err, c.fails, out)
		}
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "child reason 42") {
			t.Errorf("%s=%q: output lacks %q and the reason:\n%s", EnvRequire, c.strict, c.want, out)
		}
	}
}

func TestLookPathFound(t *testing.T) {
	if p := LookPath(t, "sh", "dash"); p == "" {
		t.Error("LookPath(sh) gave an empty path")
	}
}
