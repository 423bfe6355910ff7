// Package examples_test checks the conventions every example binary keeps
// (issue #11): -h prints the usage and exits 0; an unknown flag exits
// non-zero; neither writes to standard output.
package examples_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/abusekit/abusekit/internal/testenv"
)

var examples = []string{"parse-report", "clean-host", "triage-host", "snapshot-rebuild", "custom-plugin", "respond"}

func TestCommandLineConventions(t *testing.T) {
	goTool := testenv.LookPath(t, "go", "golang")
	dir := t.TempDir()
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, name)
			if out, err := exec.Command(goTool, "build", "-o", bin, "./"+name).CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			run := func(args ...string) (int, string, string) {
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
				err := cmd.Run()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
			}
			if code, out, errb := run("-h"); code != 0 || out != "" || !bytes.Contains([]byte(errb), []byte("-json")) {
				t.Errorf("-h: exit %d, stdout %q, usage on stderr %q; want exit 0 and the usage (with -json) on stderr", code, out, errb)
			}
			if code, out, _ := run("-no-such-flag"); code == 0 || out != "" {
				t.Errorf("unknown flag: exit %d, stdout %q; want a non-zero exit and nothing on stdout", code, out)
			}
		})
	}
}
