package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/cli/clitest"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook"
)

// world is a playbook directory with the greeter plugin built as a real
// binary beside it, and run-playbook built as a real binary.
type world struct {
	dir, bin, greeter, state string
	report                   string
	repl                     *clitest.Replacer
}

// binaries are run-playbook and the greeter built once per test run.
var binaries struct {
	once              sync.Once
	dir, bin, greeter string
	err               error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

func build(t *testing.T) (bin, greeter string) {
	t.Helper()
	goTool := testenv.LookPath(t, "go", "golang-go (or Go from go.dev)")
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "run-playbook-test-")
		if binaries.err != nil {
			return
		}
		binaries.bin = filepath.Join(binaries.dir, "run-playbook")
		binaries.greeter = filepath.Join(binaries.dir, "greeter")
		for _, b := range []struct{ out, pkg string }{{binaries.bin, "."}, {binaries.greeter, "../custom-plugin/greeter"}} {
			if out, err := exec.Command(goTool, "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
				binaries.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.bin, binaries.greeter
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), state: t.TempDir()}
	bin, greeter := build(t)
	w.bin = bin
	w.greeter = filepath.Join(w.dir, "bin", "greeter")
	if err := os.Mkdir(filepath.Dir(w.greeter), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(greeter); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(w.greeter, b, 0o755); err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile("testdata/triage-and-greet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "pb.yaml"), pb, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := os.ReadFile("testdata/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	w.report = string(rep)
	w.repl = clitest.NewReplacer(w.dir, "<DIR>", w.state, "<STATE>")
	return w
}

// run runs run-playbook in the playbook's directory.
func (w *world) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(w.bin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "ABUSEKIT_STATE_DIR="+w.state)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// docs reads JSON lines, each in the internal/cli envelope.
func docs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var ds []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("stdout line is not JSON: %v\n%s", err, sc.Text())
		}
		if d["v"] != 1.0 || d["prog"] != "run-playbook" || d["type"] == nil {
			t.Errorf("document without the envelope: %s", sc.Text())
		}
		ds = append(ds, d)
	}
	return ds
}

func TestRunPlaybookEndToEnd(t *testing.T) {
	w := newWorld(t)
	lockFile := filepath.Join(w.dir, "pb.lock.json")
	in := []string{"pb.yaml", "-input", "report=" + w.report}

	// A dry run: plans every step, writes the lock, changes nothing.
	code, out, errb := w.run(t, "", append(in, "-incident", "case-1")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errb)
	}
	clitest.Golden(t, "dry-run.golden", w.repl, out)
	lock, err := playbook.ReadLock(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := playbook.FileSHA256(w.greeter)
	if diff := cmp.Diff(map[string]playbook.LockedPlugin{"greeter": {Version: "1.1.0", SHA256: sum, Protocol: 1}}, lock.Plugins); diff != "" {
		t.Errorf("lock file (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(playbook.JournalPath(filepath.Join(w.state, "journal"), "case-1")); err != nil {
		t.Errorf("journal not in the state directory: %v", err)
	}

	// -apply asks; "n" applies nothing.
	code, out, errb = w.run(t, "n\n", append(in, "-incident", "case-2", "-apply")...)
	if code != 1 || !strings.Contains(errb, "apply this plan? [y/N]") || !strings.Contains(errb, "run-playbook: playbook: plan not approved\n") || strings.Contains(out, "▶") {
		t.Errorf("not approved: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}

	// -apply -yes: runs, built-in and external plugins together.
	code, out, errb = w.run(t, "", append(in, "-incident", "case-3", "-apply", "-yes", "-plan-out", "plan.json")...)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errb)
	}
	clitest.Golden(t, "apply.golden", w.repl, out)
	var plan playbook.Plan
	if b, err := os.ReadFile(filepath.Join(w.dir, "plan.json")); err != nil || json.Unmarshal(b, &plan) != nil || len(plan.Steps) != 3 {
		t.Errorf("-plan-out: %v %+v", err, plan)
	}

	// The same incident again: nothing runs again, in JSON.
	code, out, errb = w.run(t, "", append(in, "-incident", "case-3", "-apply", "-yes", "-json")...)
	if code != 0 || errb != "" {
		t.Fatalf("resume: exit %d\n%s%s", code, out, errb)
	}
	clitest.Golden(t, "resume.json.golden", w.repl, out)
	ds := docs(t, out)
	last := ds[len(ds)-1]
	if last["type"] != "result" || last["kind"] != "run" {
		t.Fatalf("last document %v", last)
	}
	for _, s := range last["data"].(map[string]any)["steps"].([]any) {
		if s.(map[string]any)["resumed"] != true {
			t.Errorf("step not resumed: %v", s)
		}
	}
}

func TestRunPlaybookLock(t *testing.T) {
	w := newWorld(t)
	in := []string{"pb.yaml", "-input", "report=" + w.report}
	if code, out, errb := w.run(t, "", in...); code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errb)
	}
	locked, _ := playbook.FileSHA256(w.greeter)

	// Another greeter binary at the same path: refused before it starts,
	// naming the plugin, what the lock expects and what was found.
	b, _ := os.ReadFile(w.greeter)
	if err := os.WriteFile(w.greeter, append(b, "rebuilt"...), 0o755); err != nil {
		t.Fatal(err)
	}
	got, _ := playbook.FileSHA256(w.greeter)
	code, out, errb := w.run(t, "", in...)
	want := "run-playbook: plugin greeter: sha256 is " + got + ", lock file pb.lock.json pins " + locked + " (if the new plugin is trusted, -upgrade rewrites the lock)\n"
	if code != 1 || out != "" || errb != want {
		t.Errorf("changed plugin: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, out, errb, want)
	}
	// The same in JSON: an error document.
	code, out, _ = w.run(t, "", append(in, "-json")...)
	ds := docs(t, out)
	if code != 1 || len(ds) != 1 || ds[0]["type"] != "error" || !strings.Contains(ds[0]["data"].(map[string]any)["message"].(string), got) {
		t.Errorf("changed plugin, -json: exit %d, %v", code, ds)
	}
	// -describe refuses it too.
	if code, _, errb := w.run(t, "", "pb.yaml", "-describe", "greeter"); code != 1 || errb != want {
		t.Errorf("-describe of the changed plugin: exit %d, stderr %q", code, errb)
	}
	// -upgrade accepts it and rewrites the lock.
	if code, out, errb := w.run(t, "", append(in, "-upgrade")...); code != 0 || !strings.Contains(out, "lock file: wrote pb.lock.json (greeter 1.1.0 sha256:"+got+")") {
		t.Fatalf("-upgrade: exit %d\n%s%s", code, out, errb)
	}
	lock, _ := playbook.ReadLock(filepath.Join(w.dir, "pb.lock.json"))
	if lock.Plugins["greeter"].SHA256 != got {
		t.Errorf("after -upgrade the lock pins %s, want %s", lock.Plugins["greeter"].SHA256, got)
	}
	if code, out, errb := w.run(t, "", in...); code != 0 || strings.Contains(out, "lock file") {
		t.Errorf("after -upgrade: exit %d\n%s%s", code, out, errb)
	}
	// A SHA-256 given with -plugin is checked too.
	code, _, errb = w.run(t, "", append(in, "-plugin", "greeter="+w.greeter+"@"+locked)...)
	if code != 1 || !strings.Contains(errb, "checksum mismatch") || !strings.Contains(errb, locked) {
		t.Errorf("-plugin with another SHA-256: exit %d, %s", code, errb)
	}
}

func TestRunPlaybookDescribe(t *testing.T) {
	w := newWorld(t)
	code, out, errb := w.run(t, "", "pb.yaml", "-describe", "greeter")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	clitest.Golden(t, "describe-greeter.golden", w.repl, out)
	code, out, errb = w.run(t, "", "pb.yaml", "-describe", "greeter", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	clitest.Golden(t, "describe-greeter.json.golden", w.repl, out)
	ds := docs(t, out)
	var d playbook.PluginDescription
	b, _ := json.Marshal(ds[len(ds)-1]["data"])
	if err := json.Unmarshal(b, &d); err != nil || d.Name != "greeter" || d.Version != "1.1.0" || len(d.Actions) != 2 {
		t.Errorf("description %+v, %v", d, err)
	}
	// A built-in plugin, without a playbook.
	code, out, errb = w.run(t, "", "-describe", "abuse")
	if code != 0 || !strings.Contains(out, "plugin abuse") || !strings.Contains(out, "action parse") {
		t.Errorf("-describe abuse: exit %d\n%s%s", code, out, errb)
	}
	code, _, errb = w.run(t, "", "-describe", "nope")
	if code != 1 || !strings.HasPrefix(errb, "run-playbook: plugin nope: playbook: unknown plugin: not built in") {
		t.Errorf("-describe nope: exit %d, %s", code, errb)
	}
}

func TestRunPlaybookErrors(t *testing.T) {
	w := newWorld(t)
	bad := "name: bad\nplugins:\n  greeter: {path: bin/greeter}\nsteps:\n  - id: hello\n    plugin: greeter\n    action: greet\n    input:\n      name: 5\n  - id: again\n    plugin: greeter\n    action: greet\n    input:\n      name: ${{ steps.hello.mesage }}\n"
	if err := os.WriteFile(filepath.Join(w.dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "noplugin.yaml"), []byte("name: np\nsteps:\n  - id: post\n    plugin: webhook\n    action: post\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newer := "name: newer\nplugins:\n  greeter: {path: bin/greeter, min_version: \"2.0\"}\nsteps:\n  - id: hello\n    plugin: greeter\n    action: greet\n    input: {name: x}\n"
	if err := os.WriteFile(filepath.Join(w.dir, "newer.yaml"), []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"schema", []string{"bad.yaml"}, 1, []string{"bad.yaml:9:13: steps[0].input.name:", "want a string"}},
		{"no file", nil, 2, []string{"run-playbook: no playbook file"}},
		{"two files", []string{"a.yaml", "b.yaml"}, 2, []string{"one playbook file, not 2"}},
		{"yes without apply", []string{"pb.yaml", "-yes"}, 2, []string{"-yes approves an -apply"}},
		{"bad input-json", []string{"pb.yaml", "-input-json", "n={"}, 2, []string{"-input-json n:"}},
		{"bad plugin sha", []string{"pb.yaml", "-plugin", "g=/x@abc"}, 2, []string{"not a SHA-256"}},
		{"builtin name", []string{"pb.yaml", "-plugin", "scan=/bin/true"}, 1, []string{"plugin scan: an external plugin cannot have a built-in plugin's name"}},
		{"missing input", []string{"pb.yaml"}, 1, []string{"required inputs not given: [report]"}},
		{"plugin not named", []string{"noplugin.yaml"}, 1, []string{"noplugin.yaml:4:13: steps[0].plugin: plugin webhook: unknown plugin", "name any other in the playbook's plugins: section or with -plugin NAME=PATH"}},
		{"plugin too old", []string{"newer.yaml"}, 1, []string{"plugin greeter", "plugin version not accepted", "1.1.0", "2.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := w.run(t, "", tc.args...)
			if code != tc.code || strings.Contains(out, "plan for") || !strings.HasPrefix(errb, "run-playbook: ") {
				t.Errorf("exit %d (want %d), stdout %q, stderr:\n%s", code, tc.code, out, errb)
			}
			for _, s := range tc.want {
				if !strings.Contains(errb, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb)
				}
			}
		})
	}
}

// A run that failed halfway is resumed by running it again with the same
// incident: the step that completed is not run again (the journal shows
// it started once), the failed one runs. parse's input comes from hello's
// output, so it is planned during the run: its plan fails on the missing
// file before it starts, and it starts once, in the resumed run.
func TestRunPlaybookResumesAfterFailure(t *testing.T) {
	w := newWorld(t)
	pb, err := os.ReadFile("testdata/resume.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "resume.yaml"), pb, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"resume.yaml", "-input", "dir=" + w.dir, "-incident", "case-r", "-apply", "-yes", "-json"}
	code, out, errb := w.run(t, "", args...)
	if code != 1 || !strings.Contains(errb, "step parse") || !strings.Contains(errb, "no such file") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errb)
	}
	// The report appears; the same command again resumes.
	if err := os.WriteFile(filepath.Join(w.dir, "hello, ops.txt"), []byte(w.report), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errb = w.run(t, "", args...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", code, out, errb)
	}
	ds := docs(t, out)
	var run playbook.Run
	b, _ := json.Marshal(ds[len(ds)-1]["data"])
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range run.Steps {
		got[s.ID] = fmt.Sprintf("%s resumed=%v", s.Status, s.Resumed)
	}
	if diff := cmp.Diff(map[string]string{"hello": "succeeded resumed=true", "parse": "succeeded resumed=false"}, got); diff != "" {
		t.Errorf("resumed run (-want +got):\n%s", diff)
	}
	f, err := os.Open(playbook.JournalPath(filepath.Join(w.state, "journal"), "case-r"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := playbook.ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	started := map[string]int{}
	for _, r := range recs {
		if r.Type == playbook.RecordStepStarted {
			started[r.Step]++
		}
	}
	if diff := cmp.Diff(map[string]int{"hello": 1, "parse": 1}, started); diff != "" {
		t.Errorf("step starts in the journal (-want +got):\n%s", diff)
	}
}
