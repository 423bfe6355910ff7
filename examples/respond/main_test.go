package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// TestMain serves the built-in plugins when the playbook host re-executes
// this test binary, as main does for the real command.
func TestMain(m *testing.M) {
	if os.Getenv(envRespondMain) == "1" {
		// This test binary as the respond command itself (a runner a
		// test kills and starts again).
		os.Unsetenv(envRespondMain)
		defer os.Exit(1)
		main()
	}
	serveDemoScanner()
	// Served as main serves them, so the tests run the same code path
	// (one-shot mode over SSM included).
	plugin.ServeBuiltinIfPlugin(builtins())
	os.Exit(m.Run())
}

func runDocs(t *testing.T, args ...string) map[string][]json.RawMessage {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	docs := map[string][]json.RawMessage{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		// internal/cli's envelope; results are keyed by their kind (run,
		// reply, files), the others by their type (plan, event, info).
		var d struct {
			V    int             `json:"v"`
			Type string          `json:"type"`
			Prog string          `json:"prog"`
			Kind string          `json:"kind"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil || d.V != 1 || d.Prog != "respond" || d.Type == "" {
			t.Fatalf("not one JSON document per line in the envelope: %q: %v", line, err)
		}
		k := d.Type
		if k == "result" {
			k = d.Kind
		}
		docs[k] = append(docs[k], d.Data)
	}
	return docs
}

// The demo without -apply plans every step it can and changes nothing: the
// infection is still on the root and the instance still in its open group.
func TestDemoDryRun(t *testing.T) {
	var crontab, open string
	var groups []string
	scannerAlive := false
	inspectDemo = func(w *demo) {
		b, _ := os.ReadFile(filepath.Join(w.root, "var/spool/cron/crontabs/root"))
		crontab = string(b)
		groups, open = instanceGroups(t, w, w.instance), w.group
		scannerAlive = w.scan.Alive()
	}
	t.Cleanup(func() { inspectDemo = nil })
	docs := runDocs(t, "-demo", "-json")
	if len(docs["plan"]) != 1 || len(docs["run"]) != 0 || len(docs["reply"]) != 0 {
		t.Fatalf("dry run gave %d plans, %d runs, %d replies", len(docs["plan"]), len(docs["run"]), len(docs["reply"]))
	}
	var plan struct {
		Steps []struct{ Step, Status string }
	}
	if err := json.Unmarshal(docs["plan"][0], &plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range plan.Steps {
		got[s.Step] = s.Status
	}
	want := map[string]string{"parse": "planned", "capture": "planned", "detect": "deferred", "stop": "deferred", "find": "planned", "clean": "planned",
		"contain": "deferred", "snapshot": "deferred", "harden": "deferred", "rebuild": "deferred", "alarms": "deferred", "terminate": "deferred",
		"recheck": "deferred"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if !strings.Contains(crontab, "/tmp/.X11-unix/.work32") {
		t.Errorf("a dry run changed the crontab:\n%s", crontab)
	}
	if d := cmp.Diff([]string{open}, groups); d != "" {
		t.Errorf("a dry run changed the instance's groups (-want +got):\n%s", d)
	}
	if !scannerAlive {
		t.Error("a dry run stopped the demo's scanner")
	}
}

// The demo with -apply runs the whole response through the plugins and
// drafts a reply that names what was done; the demo world shows it done.
func TestDemoApply(t *testing.T) {
	type state struct {
		crontab, bashrc string
		rootKeys        string
		adminKeys       string
		manifests       []string
		snapshots       int
		replacement     []string
		scannerPID      int
		scannerAlive    bool
		evidence        []string
		oldState        types.InstanceStateName
		ssmGroup        []string // the quarantine group for host steps over SSM: its id, then its egress rules
	}
	var st state
	inspectDemo = func(w *demo) {
		st.scannerPID, st.scannerAlive = w.scan.PID(), w.scan.Alive()
		st.evidence, _ = filepath.Glob(filepath.Join(w.dir, "evidence", "*"))
		b, _ := os.ReadFile(filepath.Join(w.root, "var/spool/cron/crontabs/root"))
		st.crontab = string(b)
		b, _ = os.ReadFile(filepath.Join(w.root, "home/admin/.bashrc"))
		st.bashrc = string(b)
		b, _ = os.ReadFile(filepath.Join(w.root, "root/.ssh/authorized_keys"))
		st.rootKeys = string(b)
		b, _ = os.ReadFile(filepath.Join(w.root, "home/admin/.ssh/authorized_keys"))
		st.adminKeys = string(b)
		st.manifests, _ = filepath.Glob(filepath.Join(w.dir, "quarantine", "*", "manifest.json"))
		c := awsec2.NewFromConfig(w.srv.Config())
		snaps, err := c.DescribeSnapshots(context.Background(), &awsec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		if err != nil {
			t.Error(err)
			return
		}
		st.snapshots = len(snaps.Snapshots)
		sgs, err := c.DescribeSecurityGroups(context.Background(), &awsec2.DescribeSecurityGroupsInput{
			Filters: []types.Filter{{Name: aws.String("group-name"), Values: []string{"abusekit-quarantine-ssm"}}}})
		if err != nil {
			t.Error(err)
			return
		}
		for _, g := range sgs.SecurityGroups {
			st.ssmGroup = append(st.ssmGroup, aws.ToString(g.GroupId), fmt.Sprintf("%d ingress", len(g.IpPermissions)))
			for _, p := range g.IpPermissionsEgress {
				for _, pair := range p.UserIdGroupPairs {
					st.ssmGroup = append(st.ssmGroup, fmt.Sprintf("egress %s %d-%d to %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), aws.ToString(pair.GroupId)))
				}
				for _, r := range p.IpRanges {
					st.ssmGroup = append(st.ssmGroup, "egress to "+aws.ToString(r.CidrIp))
				}
			}
		}
		st.ssmGroup = append(st.ssmGroup, w.ssmEndpointGroup)
		res, err := c.DescribeInstances(context.Background(), &awsec2.DescribeInstancesInput{})
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range res.Reservations {
			for _, in := range r.Instances {
				if aws.ToString(in.InstanceId) != w.instance && in.State.Name == types.InstanceStateNameRunning {
					st.replacement = append(st.replacement, aws.ToString(in.InstanceId))
				}
				if aws.ToString(in.InstanceId) == w.instance {
					st.oldState = in.State.Name
				}
			}
		}
	}
	t.Cleanup(func() { inspectDemo = nil })
	docs := runDocs(t, "-demo", "-apply", "-json")
	if len(docs["run"]) != 1 || len(docs["reply"]) != 1 {
		t.Fatalf("got %d runs and %d replies", len(docs["run"]), len(docs["reply"]))
	}
	var run struct {
		Status string
		Steps  []struct {
			ID, Status, Error, Transport string
			CommandID                    string `json:"command_id"`
		}
	}
	if err := json.Unmarshal(docs["run"][0], &run); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range run.Steps {
		got[s.ID] = s.Status + s.Error
	}
	want := map[string]string{"parse": "succeeded", "capture": "succeeded", "detect": "succeeded", "stop": "succeeded", "find": "succeeded", "clean": "succeeded",
		"contain": "succeeded", "snapshot": "succeeded", "harden": "succeeded", "rebuild": "succeeded", "alarms": "succeeded", "terminate": "succeeded",
		"recheck": "succeeded"}
	if d := cmp.Diff(want, got); d != "" || run.Status != "succeeded" {
		t.Errorf("run %s (-want +got):\n%s", run.Status, d)
	}

	if strings.Contains(st.crontab, "work32") || strings.Contains(st.crontab, "y.sh") || !strings.Contains(st.crontab, "/var/log/app") {
		t.Errorf("crontab after the run (bad lines gone, the admin's line kept):\n%s", st.crontab)
	}
	if strings.Contains(st.bashrc, "b.sh") {
		t.Errorf(".bashrc still downloads:\n%s", st.bashrc)
	}
	// The attacker's key goes (it came within the incident window); the
	// operator's launch key stays.
	if strings.Contains(st.rootKeys, "root@work32") || !strings.Contains(st.adminKeys, "eu-west-1-ops") {
		t.Errorf("keys after the run: root %q, admin %q", st.rootKeys, st.adminKeys)
	}
	if len(st.manifests) != 1 {
		t.Errorf("quarantine manifests: %v", st.manifests)
	}
	// Contained before it was terminated: contain succeeded (above) and ran
	// before snapshot, detect and the host steps (the run's step order).
	var order []string
	for _, s := range run.Steps {
		order = append(order, s.ID)
	}
	if d := cmp.Diff([]string{"parse", "capture", "contain", "snapshot", "detect", "stop", "find", "clean", "harden", "rebuild", "alarms", "recheck", "terminate"}, order); d != "" {
		t.Errorf("step order (-want +got):\n%s", d)
	}
	// The host steps ran on the (emulated) instance over SSM Run Command,
	// each under a command of its own; the cloud steps ran here.
	where := map[string]string{}
	ids := map[string]bool{}
	for _, s := range run.Steps {
		where[s.ID] = s.Transport
		if s.Transport == "ssm" && (s.CommandID == "" || ids[s.CommandID]) {
			t.Errorf("step %s over ssm with command id %q", s.ID, s.CommandID)
		}
		ids[s.CommandID] = true
	}
	wantWhere := map[string]string{"parse": "local", "capture": "local", "contain": "local", "snapshot": "local", "detect": "ssm", "stop": "ssm", "find": "ssm",
		"clean": "ssm", "harden": "local", "rebuild": "local", "alarms": "local", "recheck": "ssm", "terminate": "local"}
	if d := cmp.Diff(wantWhere, where); d != "" {
		t.Errorf("where the steps ran (-want +got):\n%s", d)
	}
	if st.snapshots == 0 || len(st.replacement) != 1 {
		t.Errorf("%d snapshots, replacement %v", st.snapshots, st.replacement)
	}

	var reply struct{ Subject, Text string }
	if err := json.Unmarshal(docs["reply"][0], &reply); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reply.Subject, "17001234567") {
		t.Errorf("reply subject %q lacks the case id", reply.Subject)
	}
	// The demo's real scanner was found, frozen, captured and killed.
	if st.scannerAlive {
		t.Errorf("the demo's scanner (pid %d) still runs after the response", st.scannerPID)
	}
	if len(st.evidence) == 0 {
		t.Error("stop left no evidence")
	}
	// The host steps went over SSM, so contain quarantined the instance in
	// a group with exactly one way out: HTTPS to the SSM endpoints' group.
	// (A terminated instance lists no groups any more.)
	if len(st.ssmGroup) != 4 || st.ssmGroup[1] != "0 ingress" || st.ssmGroup[2] != "egress tcp 443-443 to "+st.ssmGroup[3] {
		t.Errorf("the SSM quarantine group: %v (want: no ingress, egress tcp 443 to the endpoints' group only)", st.ssmGroup)
	}
	if st.oldState != types.InstanceStateNameTerminated && st.oldState != types.InstanceStateNameShuttingDown {
		t.Errorf("the old instance is %s, want terminated", st.oldState)
	}
	for _, s := range []string{"snap-", "0.0.0.0/0", "/var/spool/cron/crontabs/root", "/tmp/.X11-unix/.work32",
		fmt.Sprintf("PID %d", st.scannerPID), "SYN_SENT", "was deleted from disk"} {
		if !strings.Contains(reply.Text, s) {
			t.Errorf("reply text lacks %q:\n%s", s, reply.Text)
		}
	}
	for _, r := range st.replacement {
		if !strings.Contains(reply.Text, r) {
			t.Errorf("reply text lacks the replacement %s", r)
		}
	}
	var files reportFiles
	if len(docs["files"]) != 1 || json.Unmarshal(docs["files"][0], &files) != nil {
		t.Fatalf("no files document: %v", docs["files"])
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(files.Reply)) })
	txt, err := os.ReadFile(files.Reply)
	if err != nil || !strings.Contains(string(txt), reply.Text) {
		t.Errorf("reply.txt: %v", err)
	}
	md, err := os.ReadFile(files.Report)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Timeline", "| recheck |", fmt.Sprintf("killed [%d]", st.scannerPID), "manifest", "snap-",
		"Looked again", "Quarantined (restorable", "| ssm |", "shipped off the host (command", "s3://abusekit-demo-stage/"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("incident-report.md lacks %q:\n%s", s, md)
		}
	}
}

// instanceGroups gives the security groups of instance id in the demo's
// emulator, read with the real SDK.
func instanceGroups(t *testing.T, w *demo, id string) []string {
	t.Helper()
	c := awsec2.NewFromConfig(w.srv.Config())
	res, err := c.DescribeInstances(context.Background(), &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(res.Reservations) != 1 || len(res.Reservations[0].Instances) != 1 {
		t.Errorf("describe %s: %v", id, err)
		return nil
	}
	var out []string
	for _, g := range res.Reservations[0].Instances[0].SecurityGroups {
		out = append(out, aws.ToString(g.GroupId))
	}
	return out
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-demo", "-report", "x.eml"}, {"-demo", "extra"}, {"-nosuchflag"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote to stdout: %q", args, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-demo") {
		t.Errorf("-h: exit %d, want 0 with the usage (stderr %q)", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"-report", filepath.Join(t.TempDir(), "missing.eml")}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "missing.eml") {
		t.Errorf("missing report: exit %d, stderr %q", code, errb.String())
	}
}

// -plan-out writes the whole plan, every step and change, as JSON.
func TestPlanOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plan.json")
	runDocs(t, "-demo", "-json", "-plan-out", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Incident string
		Steps    []struct{ Step string }
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Incident != "17001234567" || len(plan.Steps) != 13 {
		t.Errorf("plan file: incident %q, %d steps", plan.Incident, len(plan.Steps))
	}
}

// The default state (and journal) is kept where a later run finds it.
func TestDefaultStateDir(t *testing.T) {
	t.Setenv("ABUSEKIT_STATE_DIR", "")
	t.Setenv("XDG_STATE_HOME", "/state")
	want := "/state/abusekit"
	if os.Geteuid() == 0 {
		want = "/var/lib/abusekit"
	}
	if got := cli.StateDir(); got != want {
		t.Errorf("cli.StateDir() = %q, want %q", got, want)
	}
	t.Setenv("ABUSEKIT_STATE_DIR", "/srv/ir")
	if got := cli.StateDir(); got != "/srv/ir" {
		t.Errorf("with ABUSEKIT_STATE_DIR: %q", got)
	}
}
