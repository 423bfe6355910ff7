// Package examples_test checks the conventions every example binary keeps
// (issue #11, internal/cli): -h prints the usage on stderr and exits 0; a
// bad flag is one line "prog: …" on stderr and exit 2; a failure is one
// line "prog: message" on stderr and exit 1, and with -json also one
// "error" document on stdout in the common envelope; nothing else reaches
// stdout in those cases. Each example's own tests pin its output with
// golden files.
package examples_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/internal/testenv"
)

// examples and, for each, arguments that make it fail (a missing file, a
// missing required flag) without touching this machine.
var examples = []struct {
	name string
	fail []string
}{
	{"parse-report", []string{"/nonexistent/notice.eml"}},
	{"clean-host", []string{"-restore", "/nonexistent/manifest.json"}},
	{"triage-host", []string{"-report", "/nonexistent/notice.eml"}},
	{"snapshot-rebuild", []string{"-instance", "i-0123456789abcdef0"}},
	{"custom-plugin", []string{"-plugin", "/nonexistent/greeter", "-sha256", strings.Repeat("ab", 32)}},
	{"respond", []string{"-report", "/nonexistent/notice.eml"}},
	{"run-playbook", []string{"/nonexistent/playbook.yaml"}},
}

func TestCommandLineConventions(t *testing.T) {
	goTool := testenv.LookPath(t, "go", "golang")
	dir := t.TempDir()
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			bin := filepath.Join(dir, ex.name)
			if out, err := exec.Command(goTool, "build", "-o", bin, "./"+ex.name).CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			run := func(args ...string) (int, string, string) {
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "ABUSEKIT_STATE_DIR="+t.TempDir())
				err := cmd.Run()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
			}
			oneLine := func(s string) bool { return strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "\n") }

			if code, out, errb := run("-h"); code != 0 || out != "" || !strings.Contains(errb, "-json") {
				t.Errorf("-h: exit %d, stdout %q, usage on stderr %q; want exit 0 and the usage (with -json) on stderr", code, out, errb)
			}
			want := ex.name + ": flag provided but not defined: -no-such-flag (" + ex.name + " -h prints the usage)\n"
			if code, out, errb := run("-no-such-flag"); code != 2 || out != "" || errb != want {
				t.Errorf("unknown flag: exit %d, stdout %q, stderr %q; want exit 2 and stderr %q", code, out, errb, want)
			}

			code, out, errb := run(ex.fail...)
			if code != 1 || out != "" || !oneLine(errb) || !strings.HasPrefix(errb, ex.name+": ") {
				t.Errorf("failure %v: exit %d, stdout %q, stderr %q; want exit 1 and one line %q on stderr", ex.fail, code, out, errb, ex.name+": …")
			}
			msg := strings.TrimSuffix(strings.TrimPrefix(errb, ex.name+": "), "\n")
			if strings.HasPrefix(msg, ex.name+":") {
				t.Errorf("doubled prefix: %q", errb)
			}

			code, out, errb = run(append([]string{"-json"}, ex.fail...)...)
			if code != 1 || !oneLine(errb) || !oneLine(out) {
				t.Fatalf("failure -json: exit %d, stdout %q, stderr %q; want exit 1, one error document and one line on stderr", code, out, errb)
			}
			var doc struct {
				V    int    `json:"v"`
				Type string `json:"type"`
				Prog string `json:"prog"`
				Data struct {
					Message string `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.V != 1 || doc.Type != "error" || doc.Prog != ex.name || doc.Data.Message != msg {
				t.Errorf("failure -json: document %s (%v); want {v:1, type:error, prog:%s, data:{message:%q}}", out, err, ex.name, msg)
			}
		})
	}
}
