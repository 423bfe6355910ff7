package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/cli/clitest"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook"
)

// buildHost builds this example as a real binary, once per test run.
func buildHost(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "custom-plugin")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestEndToEnd(t *testing.T) {
	testenv.LookPath(t, "go", "golang-go (or Go from go.dev)")
	bin := buildHost(t)

	t.Run("json", func(t *testing.T) {
		cmd := exec.Command(bin, "-json", "-yes", "-name", "tester", "-journal", t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		var lines []map[string]any
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("stdout line %q is not JSON: %v", sc.Text(), err)
			}
			if m["v"] != 1.0 || m["prog"] != "custom-plugin" {
				t.Errorf("stdout line not in the internal/cli envelope: %s", sc.Text())
			}
			lines = append(lines, m)
		}
		if len(lines) < 3 || lines[0]["type"] != "plan" {
			t.Fatalf("stdout (want the plan first):\n%s", out)
		}
		var kinds []string
		for _, l := range lines[1 : len(lines)-1] {
			if l["type"] != "event" {
				t.Errorf("document %v between the plan and the run is not an event", l)
			}
			kinds = append(kinds, fmt.Sprint(l["kind"]))
		}
		if kinds[0] != "run_started" || kinds[len(kinds)-1] != "run_finished" || !strings.Contains(strings.Join(kinds, " "), "step_progress") {
			t.Errorf("event kinds %v", kinds)
		}
		var doc1 struct {
			Data struct {
				Status  string `json:"status"`
				HostPID int    `json:"host_pid"`
				Steps   []struct {
					ID        string          `json:"id"`
					Plugin    string          `json:"plugin"`
					Action    string          `json:"action"`
					Status    string          `json:"status"`
					PluginPID int             `json:"plugin_pid"`
					Output    json.RawMessage `json:"output"`
				} `json:"steps"`
			} `json:"data"`
		}
		last := bytes.TrimSpace(out)
		last = last[bytes.LastIndexByte(last, '\n')+1:]
		var doc struct {
			Type string `json:"type"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(last, &doc); err != nil || doc.Type != "result" || doc.Kind != "run" {
			t.Fatalf("last document %s (%v), want the run", last, err)
		}
		if err := json.Unmarshal(last, &doc1); err != nil {
			t.Fatal(err)
		}
		run := doc1.Data
		if run.Status != "succeeded" || len(run.Steps) != 2 || run.HostPID != cmd.Process.Pid {
			t.Fatalf("run = %+v (host pid %d)", run, cmd.Process.Pid)
		}
		for _, s := range run.Steps {
			if s.Status != "succeeded" || s.Plugin != "greeter" || s.PluginPID == 0 || s.PluginPID == run.HostPID {
				t.Errorf("step %+v: want succeeded in a plugin process of its own", s)
			}
		}
		if got := string(run.Steps[1].Output); got != `{"text":"HELLO, TESTER!","runes":14}` {
			t.Errorf("shout output %s", got)
		}
		// The host has exited; its plugin must be gone as well.
		deadline := time.Now().Add(10 * time.Second)
		for !gone(run.Steps[0].PluginPID) {
			if time.Now().After(deadline) {
				t.Fatalf("plugin process %d outlived its host", run.Steps[0].PluginPID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("not approved", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Stdin = strings.NewReader("n\n")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("exit 0 without approval:\n%s", out)
		}
		if !strings.Contains(string(out), "apply this plan? [y/N]") || !strings.Contains(string(out), "not approved") {
			t.Errorf("output:\n%s", out)
		}
		if strings.Contains(string(out), "▶") {
			t.Errorf("a step ran without approval:\n%s", out)
		}
	})

	t.Run("approved interactively", func(t *testing.T) {
		cmd := exec.Command(bin, "-name", "ops")
		cmd.Stdin = strings.NewReader("y\ny\n") // the plan, then the shout step planned during the run
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"greet ops", "✓ hello succeeded", "HELLO, OPS!", "hello-world: succeeded"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("golden", func(t *testing.T) {
		// A greeter built once, passed pinned, so the output names no
		// cache path; the incident and journal are fixed.
		greeter := filepath.Join(t.TempDir(), "greeter")
		if out, err := exec.Command("go", "build", "-o", greeter, "./greeter").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		sum, err := playbook.FileSHA256(greeter)
		if err != nil {
			t.Fatal(err)
		}
		journal := t.TempDir()
		repl := clitest.NewReplacer(journal, "<JOURNAL>", greeter, "<GREETER>")
		for _, mode := range []struct{ golden, flag string }{{"run.golden", ""}, {"run.json.golden", "-json"}} {
			args := []string{"-yes", "-name", "golden", "-plugin", greeter, "-sha256", sum, "-journal", journal, "-incident", "golden" + mode.flag}
			if mode.flag != "" {
				args = append(args, mode.flag)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			clitest.Golden(t, mode.golden, repl, stdout.String())
		}
	})

	t.Run("tampered plugin refused", func(t *testing.T) {
		cmd := exec.Command(bin, "-yes", "-plugin", bin, "-sha256", strings.Repeat("ab", 32))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "checksum mismatch") {
			t.Errorf("err %v, output:\n%s", err, out)
		}
	})
}
