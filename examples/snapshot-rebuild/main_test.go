package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/google/go-cmp/cmp"
)

// progressEvents counts the progress lines runJSON skipped.
var progressEvents int

func runJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var docs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var env map[string]any
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("not one JSON document per line: %q: %v", line, err)
		}
		// internal/cli's envelope: the step's document is its data.
		d, _ := env["data"].(map[string]any)
		if env["v"] != 1.0 || env["prog"] != "snapshot-rebuild" || d == nil {
			t.Fatalf("not in the envelope: %s", line)
		}
		if env["type"] == "progress" {
			progressEvents++
			continue
		}
		if want := map[bool]string{true: "plan", false: "result"}[d["dry_run"] == true]; env["type"] != want || env["kind"] != d["step"] {
			t.Errorf("document %s: want type %s and kind %v", line, want, d["step"])
		}
		docs = append(docs, d)
	}
	return docs
}

func steps(docs []map[string]any) []string {
	var s []string
	for _, d := range docs {
		s = append(s, d["step"].(string))
	}
	return s
}

func TestDemoDryRunChangesNothing(t *testing.T) {
	docs := runJSON(t, "-demo", "-json", "-terminate")
	if got := strings.Join(steps(docs), ","); got != "contain,snapshot,harden,rebuild,alarms,terminate" {
		t.Fatalf("steps = %s", got)
	}
	for _, d := range docs {
		if d["dry_run"] != true {
			t.Errorf("%s: dry_run = %v", d["step"], d["dry_run"])
		}
		if _, ok := d["result"]; ok {
			t.Errorf("%s: a dry run has a result: %v", d["step"], d["result"])
		}
	}
	plan := docs[2]["plan"].(map[string]any)
	g := plan["groups"].([]any)[0].(map[string]any)
	if g["action"] != "copy" || g["shared"] != true {
		t.Errorf("harden plan = %v", g)
	}
}

func TestDemoApply(t *testing.T) {
	docs := runJSON(t, "-demo", "-json", "-apply", "-terminate")
	if got := strings.Join(steps(docs), ","); got != "contain,snapshot,harden,rebuild,alarms,terminate" {
		t.Fatalf("steps = %s", got)
	}
	res := docs[3]["result"].(map[string]any)
	if res["state"] != "running" || res["instance_status"] != "ok" {
		t.Errorf("rebuild result = %v", res)
	}
	snaps := docs[1]["result"].([]any)[0].(map[string]any)["snapshots"].([]any)
	if len(snaps) != 2 {
		t.Errorf("snapshots = %v", snaps)
	}
	term := docs[5]["result"].(map[string]any)
	if term["current_state"] != "shutting-down" && term["current_state"] != "terminated" {
		t.Errorf("terminate = %v", term)
	}
	alarms := docs[4]["plan"].(map[string]any)
	if alarms["instance_id"] != res["instance_id"] {
		t.Errorf("alarms on %v, want the replacement %v", alarms["instance_id"], res["instance_id"])
	}
}

// TestEndpointFlag runs the non-demo path (default credential chain from
// the environment, -endpoint) against a standalone emulator.
func TestEndpointFlag(t *testing.T) {
	srv := ec2test.NewServer()
	defer srv.Close()
	sg, err := srv.AddSecurityGroup("open", "open", "", ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := srv.AddInstance(ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", ec2test.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ec2test.TestSecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	docs := runJSON(t, "-endpoint", srv.URL, "-region", "us-east-1", "-instance", id, "-incident", "case-77", "-json")
	if len(docs) != 5 {
		t.Fatalf("docs = %v", docs)
	}
	if n := len(srv.State().Snapshots); n != 0 {
		t.Errorf("dry run created %d snapshots", n)
	}
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c.Operation, "Describe") {
			t.Errorf("dry run called %s", c.Operation)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-nonsense"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-demo", "-ports", "70000"}, 1},
		{[]string{"-demo", "-abuse-time", "yesterday"}, 1},
		{[]string{"-demo", "-admin-cidr", "0.0.0.0/0"}, 1},
		{[]string{"-demo", "-instance", "i-0123456789abcdef0"}, 1},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != tc.code || errb.Len() == 0 {
			t.Errorf("%v: exit %d (stderr %q), want %d with a message", tc.args, code, errb.String(), tc.code)
		}
	}
}

// TestAWSEndpointURL: the SDK's standard AWS_ENDPOINT_URL reaches every
// service without -endpoint.
func TestAWSEndpointURL(t *testing.T) {
	srv := ec2test.NewServer()
	defer srv.Close()
	id, err := srv.AddInstance(ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", ec2test.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ec2test.TestSecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	state := t.TempDir()
	progressEvents = 0
	docs := runJSON(t, "-instance", id, "-incident", "case-78", "-json", "-apply", "-dwell", "0", "-forensic-image=false", "-state-dir", state)
	// contain saved the original configuration before changing anything.
	if recs, _ := filepath.Glob(filepath.Join(state, "contain-*.json")); len(recs) != 1 {
		t.Errorf("contain records in -state-dir: %v", recs)
	}
	if progressEvents == 0 {
		t.Error("no snapshot progress event in -json")
	}
	if got := strings.Join(steps(docs), ","); got != "contain,snapshot,harden,rebuild,alarms" {
		t.Fatalf("steps = %s", got)
	}
	services := map[string]bool{}
	for _, c := range srv.Calls() {
		services[c.Service] = true
	}
	for _, s := range []string{"ec2", "autoscaling", "elasticloadbalancing", "monitoring"} {
		if !services[s] {
			t.Errorf("no %s call reached the emulator: %v", s, services)
		}
	}
}

// On a terminal the progress of one resource is one line rewritten in
// place, closed when its state is final or another resource reports.
func TestLiveProgressLine(t *testing.T) {
	var b strings.Builder
	p := &printer{live: true}
	for _, pr := range []ec2.Progress{
		{Step: "snapshot", Resource: "snap-1", Volume: "vol-1", State: "pending", Percent: 10},
		{Step: "snapshot", Resource: "snap-1", Volume: "vol-1", State: "pending", Percent: 60},
		{Step: "snapshot", Resource: "snap-2", Volume: "vol-2", State: "pending", Percent: 5},
		{Step: "snapshot", Resource: "snap-2", Volume: "vol-2", State: "completed", Percent: 100},
		{Step: "terminate", Resource: "i-1", State: "shutting-down"},
		{Step: "terminate", Resource: "i-1", State: "terminated"},
	} {
		p.progress(&b, pr)
	}
	want := "\r\x1b[K  snapshot snap-1 of vol-1: pending  10%" +
		"\r\x1b[K  snapshot snap-1 of vol-1: pending  60%\n" +
		"\r\x1b[K  snapshot snap-2 of vol-2: pending   5%" +
		"\r\x1b[K  snapshot snap-2 of vol-2: completed 100%\n" +
		"\r\x1b[K  terminate i-1: shutting-down" +
		"\r\x1b[K  terminate i-1: terminated\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("live progress (-want +got):\n%s", d)
	}
}
