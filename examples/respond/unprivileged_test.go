package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/abusekit/abusekit/internal/testenv"
)

// TestDemoUnprivileged: the README's first command works for a user who
// is not root. As root, the test copies its own binary where nobody can
// run it and runs the demo as nobody (uid and gid 65534, no groups): every
// step succeeds over SSM, the real scanner the demo started is stopped,
// and the reply and the report are written.
func TestDemoUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skipf(t, "needs root to run the demo as another, unprivileged user")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Skipf(t, "the SSM staging script fetches with curl: %v", err)
	}
	const nobody = 65534
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the test's own directories, 0700 when made
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "respond")
	if err := copyFile(self, exe); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-demo", "-apply", "-json", "-out", filepath.Join(home, "out"))
	cmd.Dir = home
	cmd.Env = []string{envRespondMain + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo as nobody: %v\n%s", err, stderr.String())
	}
	var run struct {
		Status string
		Steps  []struct{ ID, Status, Transport string }
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		var doc struct {
			Kind string          `json:"kind"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal([]byte(line), &doc) == nil && doc.Kind == "run" {
			if err := json.Unmarshal(doc.Data, &run); err != nil {
				t.Fatal(err)
			}
		}
	}
	if run.Status != "succeeded" || len(run.Steps) == 0 {
		t.Fatalf("run %q with %d steps\n%s", run.Status, len(run.Steps), stderr.String())
	}
	for _, s := range run.Steps {
		if s.Status != "succeeded" {
			t.Errorf("step %s %s", s.ID, s.Status)
		}
		if s.ID == "stop" && s.Transport != "ssm" {
			t.Errorf("stop ran over %q, want ssm", s.Transport)
		}
	}
	for _, f := range []string{"reply.txt", "incident-report.md"} {
		fi, err := os.Stat(filepath.Join(home, "out", f))
		if err != nil {
			t.Error(err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody {
			t.Errorf("%s owned by uid %d, want nobody's", f, st.Uid)
		}
	}
}
