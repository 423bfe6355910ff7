package playbook_test

import (
	"bytes"
	"encoding/json"
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

// TestResumeAfterSIGKILL runs a real runner process (this test binary in
// runner mode), kills it with SIGKILL while its second step is running,
// checks that its plugin process goes away by itself, then runs it again:
// the first step is not re-run, the second is re-run with the same
// idempotency token, the third runs once.
func TestResumeAfterSIGKILL(t *testing.T) {
	exe, _ := selfExe(t)
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	start := func() (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "PLAYBOOK_TEST_MODE=runner", "PLAYBOOK_TEST_DIR="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stdout, &stderr
	}

	first, _, stderr1 := start()
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	var pluginPID int
	deadline := time.Now().Add(60 * time.Second)
	for pluginPID == 0 {
		if b, err := os.ReadFile(ledger + ".blocked"); err == nil && len(b) > 0 {
			pluginPID, _ = strconv.Atoi(string(b))
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("runner exited early: %v\n%s", err, stderr1)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("second step never started")
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	// No orphan: the plugin notices its host is gone and exits.
	waitGone(t, pluginPID, 10*time.Second)

	recs := readJournalFile(t, playbook.JournalPath(filepath.Join(dir, "journal"), "case-resume-1"))
	if got := journalSummary(recs); !cmp.Equal(got, []string{"run_started", "plan_approved", "step_started first", "step_finished first succeeded", "step_approved second", "step_started second"}) {
		t.Fatalf("journal after SIGKILL = %q", got)
	}

	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	second, stdout2, stderr2 := start()
	if err := second.Wait(); err != nil {
		t.Fatalf("resumed runner: %v\n%s", err, stderr2)
	}
	var run playbook.Run
	if err := json.Unmarshal(stdout2.Bytes(), &run); err != nil {
		t.Fatalf("run JSON %q: %v", stdout2, err)
	}
	type stepSum struct {
		ID      string
		Status  playbook.Status
		Resumed bool
	}
	var got []stepSum
	for _, s := range run.Steps {
		got = append(got, stepSum{s.ID, s.Status, s.Resumed})
	}
	want := []stepSum{{"first", playbook.StatusSucceeded, true}, {"second", playbook.StatusSucceeded, false}, {"third", playbook.StatusSucceeded, false}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resumed run (-want +got):\n%s", d)
	}

	b, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	count := map[string]int{}
	tokens := map[string]map[string]bool{}
	for _, l := range lines {
		step, _, _ := strings.Cut(l, " ")
		count[step]++
		f := strings.Fields(l)
		if tokens[step] == nil {
			tokens[step] = map[string]bool{}
		}
		tokens[step][f[1]] = true
	}
	if d := cmp.Diff(map[string]int{"first": 1, "second": 2, "third": 1}, count); d != "" {
		t.Errorf("executions per step (-want +got):\n%s\nledger:\n%s", d, b)
	}
	if len(tokens["second"]) != 1 {
		t.Errorf("interrupted step re-run with another idempotency token: %v", tokens["second"])
	}
	wantTok := "token=" + playbook.IdempotencyToken("case-resume-1", "resume-test", "second")
	if !tokens["second"][wantTok] {
		t.Errorf("second step tokens %v, want %s", tokens["second"], wantTok)
	}
	// The first step's output, from the journal, fed the second step.
	if !strings.Contains(lines[len(lines)-2], "note=first token=") {
		t.Errorf("resumed second step did not get the first step's output: %q", lines[len(lines)-2])
	}

	// A third start finds everything done and runs nothing.
	third, _, stderr3 := start()
	if err := third.Wait(); err != nil {
		t.Fatalf("third runner: %v\n%s", err, stderr3)
	}
	if b2, _ := os.ReadFile(ledger); !bytes.Equal(b, b2) {
		t.Errorf("a completed playbook ran steps again:\n%s", b2)
	}
}

func readJournalFile(t *testing.T, path string) []playbook.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := playbook.ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func journalSummary(recs []playbook.Record) []string {
	var out []string
	for _, r := range recs {
		s := r.Type
		if r.Step != "" {
			s += " " + r.Step
		}
		if r.Type == playbook.RecordStepFinished {
			s += " " + r.Status
		}
		out = append(out, s)
	}
	return out
}
