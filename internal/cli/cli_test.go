package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDedup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abuse: plain: abuse: unknown report format: text names no instance", "abuse: plain: unknown report format: text names no instance"},
		{"playbook: playbook.yaml:3: steps[0].plugin: playbook: unknown plugin", "playbook: playbook.yaml:3: steps[0].plugin: unknown plugin"},
		{"open /tmp/x: no such file or directory", "open /tmp/x: no such file or directory"},
		{"a: b", "a: b"},
		// The last segment is the message itself, never dropped.
		{"scan: stop: scan", "scan: stop: scan"},
		// A repeated sentence is kept: only one-word prefixes collapse.
		{"x y: x y: z", "x y: x y: z"},
		{"", ""},
	} {
		if got := Dedup(tc.in); got != tc.want {
			t.Errorf("Dedup(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOutputJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := New("demo", &stdout, &stderr, true)
	o.Code = func(error) string { return "demo.broken" }
	o.Printf("human only\n")
	if err := o.Emit(TypePlan, "plan", map[string]int{"steps": 2}); err != nil {
		t.Fatal(err)
	}
	o.Info("journal", "journal: /j", map[string]any{"path": "/j"})
	o.Warn("input", "part 2 not read")
	code := o.Fail(fmt.Errorf("abuse: mail: %w", errors.New("abuse: bad header")), ExitFailure)
	if code != ExitFailure {
		t.Errorf("Fail returned %d", code)
	}
	var docs []map[string]any
	dec := json.NewDecoder(&stdout)
	for {
		var d map[string]any
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	want := []map[string]any{
		{"v": 1.0, "type": "plan", "prog": "demo", "kind": "plan", "data": map[string]any{"steps": 2.0}},
		{"v": 1.0, "type": "info", "prog": "demo", "kind": "journal", "data": map[string]any{"message": "journal: /j", "path": "/j"}},
		{"v": 1.0, "type": "warning", "prog": "demo", "kind": "input", "data": map[string]any{"message": "part 2 not read"}},
		{"v": 1.0, "type": "error", "prog": "demo", "data": map[string]any{"message": "abuse: mail: bad header", "code": "demo.broken"}},
	}
	if diff := cmp.Diff(want, docs); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
	if got, want := stderr.String(), "demo: warning: part 2 not read\ndemo: abuse: mail: bad header\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestOutputHuman(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := New("demo", &stdout, &stderr, false)
	o.Printf("plan: %d steps\n", 2)
	if err := o.Emit(TypePlan, "plan", 1); err != nil {
		t.Fatal(err)
	}
	o.Info("journal", "journal: /j", nil)
	o.Fail(errors.New("boom"), ExitFailure)
	if got, want := stdout.String(), "plan: 2 steps\njournal: /j\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), "demo: boom\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
		code int
	}{
		{nil, true, 0},
		{[]string{"-h"}, false, ExitOK},
		{[]string{"-help"}, false, ExitOK},
		{[]string{"-nope"}, false, ExitUsage},
	} {
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		var out bytes.Buffer
		fs.SetOutput(&out)
		fs.Bool("x", false, "a flag")
		fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: demo [-x]") }
		ok, code := ParseFlags(fs, tc.args)
		if ok != tc.ok || code != tc.code {
			t.Errorf("ParseFlags(%q) = %v, %d; want %v, %d", tc.args, ok, code, tc.ok, tc.code)
		}
		want := map[string]string{
			"":      "",
			"-h":    "usage: demo [-x]\n",
			"-help": "usage: demo [-x]\n",
			"-nope": "demo: flag provided but not defined: -nope (demo -h prints the usage)\n",
		}[strings.Join(tc.args, " ")]
		if out.String() != want {
			t.Errorf("ParseFlags(%q) printed %q, want %q", tc.args, out.String(), want)
		}
	}
}

func TestDocPrefix(t *testing.T) {
	o := New("parse-report", io.Discard, io.Discard, true)
	doc := string(o.DocPrefix(TypeResult, "report")) + `{"evidence":[]}` + "}"
	var d Doc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if diff := cmp.Diff(Doc{V: 1, Type: TypeResult, Prog: "parse-report", Kind: "report", Data: map[string]any{"evidence": []any{}}}, d); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLines(t *testing.T) {
	var b bytes.Buffer
	enc := json.NewEncoder(Lines(&b, "triage-host", TypeResult, "suspects"))
	if err := enc.Encode(map[string]any{"suspects": []int{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Lines(&b, "triage-host", TypeEvent, "watch").Write([]byte("not json\n\n")); err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"type":"result","prog":"triage-host","kind":"suspects","data":{"suspects":[1]}}` + "\n" +
		`{"v":1,"type":"event","prog":"triage-host","kind":"watch","data":"not json"}` + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestParseAndExit(t *testing.T) {
	newFS := func(out io.Writer) *flag.FlagSet {
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(out)
		fs.Bool("json", false, "")
		return fs
	}
	var usage bytes.Buffer
	err := Parse(newFS(&usage), []string{"-h"})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "-json") {
		t.Errorf("-h: %v, usage %q", err, usage.String())
	}
	var stdout, stderr bytes.Buffer
	if code := Exit("demo", []string{"-h"}, &stdout, &stderr, err); code != 0 || stdout.Len()+stderr.Len() != 0 {
		t.Errorf("-h: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	err = Parse(newFS(&usage), []string{"-nope"})
	if code := Exit("demo", []string{"-nope"}, &stdout, &stderr, err); code != 2 || stderr.String() != "demo: flag provided but not defined: -nope (demo -h prints the usage)\n" || stdout.Len() != 0 {
		t.Errorf("-nope: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := Exit("demo", []string{"-json"}, &stdout, &stderr, errors.New("demo: x: demo: broken")); code != 1 ||
		stderr.String() != "demo: demo: x: broken\n" || !strings.Contains(stdout.String(), `"type":"error"`) {
		t.Errorf("failure: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	for args, want := range map[string]bool{"-json": true, "--json": true, "-json=false": false, "-v": false, "file -json": false, "-v -json=1": true} {
		if got := JSONFlag(strings.Fields(args)); got != want {
			t.Errorf("JSONFlag(%q) = %v", args, got)
		}
	}
}
