package playbook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

// TestSignalledRunnerLetsCleanupFinish runs a real runner process (this
// test binary in signal-runner mode) whose one step, in a real plugin
// process, has changed something and undoes it in several steps once its
// context ends. The runner is signalled while the step runs. Whether the
// runner turns the signal into a cancelled context (and then closes its
// host) or dies of it, the action's cleanup runs to the end: the host asks
// the plugin to stop and waits for its result, and a plugin whose host has
// gone waits for its running actions before exiting.
func TestSignalledRunnerLetsCleanupFinish(t *testing.T) {
	exe, _ := selfExe(t)
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		handled bool
	}{
		{"SIGTERM-handled", syscall.SIGTERM, true},
		{"SIGINT-handled", syscall.SIGINT, true},
		{"SIGTERM-unhandled", syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), "PLAYBOOK_TEST_MODE=signal-runner", "PLAYBOOK_TEST_DIR="+dir)
			if tc.handled {
				cmd.Env = append(cmd.Env, "PLAYBOOK_TEST_SIGNALS=handled")
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var pluginPID int
			deadline := time.Now().Add(60 * time.Second)
			for pluginPID == 0 {
				if b, err := os.ReadFile(filepath.Join(dir, "started")); err == nil && len(b) > 0 {
					pluginPID, _ = strconv.Atoi(string(b))
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("runner exited early: %v\n%s", err, &stderr)
				case <-time.After(10 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the step never started")
				}
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := <-exited
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("runner exit: %v, want a failure", err)
			}
			if tc.handled {
				if ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "context canceled") {
					t.Errorf("runner exit %d, stderr %q: want 1 and context canceled", ee.ExitCode(), &stderr)
				}
			}
			// The plugin goes away by itself in every case.
			waitGone(t, pluginPID, 30*time.Second)
			b, _ := os.ReadFile(filepath.Join(dir, "cleanup"))
			want := []string{"changed", "undo 1", "undo 2", "undo 3", "undo 4", "undo 5", "undo 6", "undo 7", "undo 8", "complete"}
			if d := cmp.Diff(want, strings.Split(strings.TrimSpace(string(b)), "\n")); d != "" {
				t.Errorf("the action's cleanup (-want +got):\n%s\nrunner stderr:\n%s", d, &stderr)
			}
			if !tc.handled {
				return
			}
			// The host waited for the action's result: the journal and the
			// run say the step was canceled, with the plugin's own error.
			var run playbook.Run
			if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
				t.Fatalf("run JSON %q: %v", &stdout, err)
			}
			if len(run.Steps) != 1 || run.Steps[0].Status != playbook.StatusCanceled || run.Status != playbook.StatusCanceled {
				t.Errorf("run = %+v", run)
			}
			recs := readJournalFile(t, playbook.JournalPath(filepath.Join(dir, "journal"), "case-signal-1"))
			if d := cmp.Diff([]string{"run_started", "plan_approved", "step_started change", "step_finished change canceled", "run_finished"}, journalSummary(recs)); d != "" {
				t.Errorf("journal (-want +got):\n%s", d)
			}
		})
	}
}
