package ec2plugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMain lets the host re-execute this test binary as the built-in
// plugin "ec2" (playbook.Builtin): a real plugin process, with only the
// environment the test gives it.
//
// The contain records of the in-process tests and examples go to a
// directory of the run's own (ABUSEKIT_STATE_DIR), never to $HOME.
func TestMain(m *testing.M) {
	plugin.ServeBuiltinIfPlugin(map[string]func() plugin.Builtin{"ec2": NewBuiltin})
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "ec2plugin-state-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		os.Setenv("ABUSEKIT_STATE_DIR", dir)
		return m.Run()
	}())
}

// builtin is the ec2 plugin as its own process, pointed at the emulator
// through its environment only (AWS_ENDPOINT_URL and test credentials):
// the test process itself has no AWS variables set.
func builtin(t *testing.T, srv *ec2test.Server) playbook.PluginSpec {
	for _, k := range playbook.AWSEnv {
		if k != "HOME" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return playbook.Builtin("ec2", append(awsEnv(t, srv), "AWS_ENDPOINT_URL="+srv.URL)...)
}

func runPlaybook(t *testing.T, pb *playbook.Playbook, incident string, spec playbook.PluginSpec, inputs map[string]any) (*playbook.Run, error) {
	t.Helper()
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: incident, Inputs: inputs, Plugins: []playbook.PluginSpec{spec},
		JournalDir: t.TempDir(), Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Run(context.Background())
}

// The incident playbook (contain → snapshot → harden → alarms →
// terminate) through a real plugin process against the emulator, outputs
// referenced by name between steps, compared with the typed API.
func TestPlaybookOverPluginProcess(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	pb, err := playbook.Load("testdata/incident.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inc := ec2.Incident{ID: incidentID}
	wantContain, err := ec2.PlanContain(ctx, w.direct, ec2.ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, quick...)
	if err != nil {
		t.Fatal(err)
	}
	wantHarden, err := ec2.PlanHarden(ctx, w.direct, ec2.HardenInput{Incident: inc, GroupIDs: []string{w.openSG}, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	wantSnap, err := ec2.PlanSnapshot(ctx, w.direct, ec2.SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}})
	if err != nil {
		t.Fatal(err)
	}
	topic := "arn:aws:sns:us-east-1:123456789012:abuse"
	wantAlarms, err := ec2.PlanAlarms(ctx, w.direct, ec2.AlarmsInput{Incident: inc, InstanceID: w.infected, SNSTopicARN: topic})
	if err != nil {
		t.Fatal(err)
	}

	run, err := runPlaybook(t, pb, incidentID, builtin(t, w.srv), map[string]any{
		"instance": w.infected, "admin_cidr": "198.51.100.0/24", "sns_topic": topic, "dwell": "0s", "poll": "10ms"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != playbook.StatusSucceeded || len(run.Steps) != 5 {
		t.Fatalf("run: %+v", run)
	}
	out := map[string]json.RawMessage{}
	for _, s := range run.Steps {
		if s.Status != playbook.StatusSucceeded || s.PluginPID == 0 || s.PluginPID == os.Getpid() {
			t.Errorf("step %s: %+v (test pid %d)", s.ID, s, os.Getpid())
		}
		out[s.ID] = s.Output
	}
	decode := func(id string, v any) {
		t.Helper()
		if err := json.Unmarshal(out[id], v); err != nil {
			t.Fatalf("%s output %s: %v", id, out[id], err)
		}
	}

	var contained ContainOutput
	decode("contain", &contained)
	if d := cmp.Diff(wantContain, contained.Plan, cmpopts.IgnoreFields(ec2.InstanceRecord{}, "RecordedAt")); d != "" {
		t.Errorf("contain plan differs from ec2.PlanContain (-direct +plugin):\n%s", d)
	}
	if d := cmp.Diff([]string{w.openSG}, contained.Groups); d != "" {
		t.Errorf("contain groups: %s", d)
	}

	var snaps SnapshotOutput
	decode("snapshot", &snaps)
	// The set covers exactly the volumes ec2.PlanSnapshot listed (the
	// instance is gone by now, so VerifySnapshots can no longer be asked).
	var want []ec2.VolumeSnapshot
	for _, v := range wantSnap.Instances[0].Volumes {
		want = append(want, ec2.VolumeSnapshot{VolumeID: v.VolumeID, Device: v.Device, State: "completed", SizeGiB: v.SizeGiB, VolumeType: v.VolumeType})
	}
	if len(snaps.Sets) != 1 || snaps.Sets[0].InstanceID != w.infected || snaps.Sets[0].Incident.ID != incidentID {
		t.Fatalf("snapshot sets: %+v", snaps.Sets)
	}
	if d := cmp.Diff(want, snaps.Sets[0].Snapshots, cmpopts.IgnoreFields(ec2.VolumeSnapshot{}, "SnapshotID", "StartTime")); d != "" {
		t.Errorf("snapshot set differs from ec2.PlanSnapshot's volumes (-direct +plugin):\n%s", d)
	}

	var hardened HardenOutput
	decode("harden", &hardened)
	// Planned before the run, the group was shared with the infected
	// instance too; by the harden step contain had moved it out.
	if d := cmp.Diff(wantHarden, hardened.Plan, cmpopts.IgnoreFields(ec2.GroupHarden{}, "SharedWith", "Neighbours"), cmpopts.IgnoreFields(ec2.HardenPlan{}, "Notes")); d != "" {
		t.Errorf("harden plan differs from ec2.PlanHarden (-direct +plugin):\n%s", d)
	}
	if sw := hardened.Plan.Groups[0].SharedWith; len(sw) != 1 || !strings.Contains(sw[0], w.neighbour) {
		t.Errorf("harden: shared with %v, want only the neighbour", sw)
	}
	var alarms AlarmsOutput
	decode("alarms", &alarms)
	if d := cmp.Diff(wantAlarms, alarms.Plan); d != "" {
		t.Errorf("alarms plan differs from ec2.PlanAlarms (-direct +plugin):\n%s", d)
	}

	var term TerminateOutput
	decode("terminate", &term)
	if d := cmp.Diff(snaps.Sets[0].Snapshots, term.Snapshots, noVolumeType); d != "" || term.InstanceID != w.infected {
		t.Errorf("terminate: %+v %s", term, d)
	}

	// The account as the typed API left it.
	st := w.srv.State()
	if got := w.instance(t, w.infected).State; got != "terminated" && got != "shutting-down" {
		t.Errorf("infected %s", got)
	}
	if len(st.Alarms) != 4 || len(st.Alarms[0].AlarmActions) != 1 || st.Alarms[0].AlarmActions[0] != topic {
		t.Errorf("alarms: %+v", st.Alarms)
	}
	var ids []string
	for _, s := range st.Snapshots {
		if s.State != "completed" || s.Tags[ec2.TagIncident] != incidentID {
			t.Errorf("snapshot %+v", s)
		}
		ids = append(ids, s.ID)
	}
	if d := cmp.Diff(ids, snaps.SnapshotIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("snapshot ids vs the account: %s", d)
	}
	if got := w.instance(t, w.neighbour).SecurityGroupIDs; len(got) != 1 || got[0] != w.openSG {
		t.Errorf("neighbour's groups changed: %v", got)
	}
}

// A terminate with no completed covering set is refused in the plugin
// process, and the refusal keeps its identity on the host; nothing is
// changed.
func TestTerminateRefusedAcrossTheBoundary(t *testing.T) {
	w := newWorld(t)
	spec := builtin(t, w.srv)

	// 1. No snapshots at all: the plan fails before anything is applied.
	pb, err := playbook.New("terminate", playbook.Step{ID: "terminate", Plugin: "ec2", Action: "terminate",
		Input: map[string]any{"instance_id": w.infected}})
	if err != nil {
		t.Fatal(err)
	}
	w.srv.ResetCalls()
	_, err = runPlaybook(t, pb, incidentID, spec, nil)
	if !errors.Is(err, ec2.ErrSnapshotsIncomplete) {
		t.Fatalf("err = %v, want ec2.ErrSnapshotsIncomplete on the host", err)
	}
	var re *plugin.RemoteError
	if !errors.As(err, &re) || re.Code != "ec2.snapshots_incomplete" {
		t.Errorf("remote error: %#v", err)
	}
	noMutation(t, w)

	// 2. A set from an earlier snapshot step, but a volume attached since:
	// the set no longer covers the instance.
	snap, err := playbook.New("snapshot", playbook.Step{ID: "snapshot", Plugin: "ec2", Action: "snapshot",
		Input: map[string]any{"instance_id": w.infected, "poll_min": "10ms"}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runPlaybook(t, snap, incidentID, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var snaps SnapshotOutput
	if err := json.Unmarshal(run.Steps[0].Output, &snaps); err != nil || len(snaps.Sets) != 1 {
		t.Fatalf("snapshot output %s: %v", run.Steps[0].Output, err)
	}
	attachVolume(t, w, w.infected)
	pb, err = playbook.New("terminate", playbook.Step{ID: "terminate", Plugin: "ec2", Action: "terminate",
		Input: map[string]any{"set": playbook.Ref("inputs.set")}})
	if err != nil {
		t.Fatal(err)
	}
	var set map[string]any
	b, _ := json.Marshal(snaps.Sets[0])
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	w.srv.ResetCalls()
	_, err = runPlaybook(t, pb, incidentID, spec, map[string]any{"set": set})
	var se *playbook.StepError
	if !errors.Is(err, ec2.ErrSnapshotsIncomplete) || !errors.As(err, &se) || se.Step != "terminate" {
		t.Fatalf("err = %v, want a terminate *playbook.StepError wrapping ec2.ErrSnapshotsIncomplete", err)
	}
	noMutation(t, w)
}

// The same actions served in the test process over the plugin transport
// (reattached): the endpoint comes from the input.
func TestReattachedTransport(t *testing.T) {
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	spec := plugintest.Serve(t, "ec2", NewPlugin())
	pb, err := playbook.New("snap", playbook.Step{ID: "snapshot", Plugin: "ec2", Action: "snapshot",
		Input: map[string]any{"instance_id": w.infected, "poll_min": "10ms", "endpoint": w.srv.URL}},
		playbook.Step{ID: "terminate", Plugin: "ec2", Action: "terminate",
			Input: map[string]any{"set": playbook.Ref("steps.snapshot.sets[0]"), "endpoint": w.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runPlaybook(t, pb, incidentID, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != playbook.StatusSucceeded {
		t.Fatalf("run %+v", run)
	}
	if got := w.instance(t, w.infected).State; got != "terminated" && got != "shutting-down" {
		t.Errorf("infected %s", got)
	}
}

// A run interrupted as the harden step starts, and run again with the same
// journal and incident: contain and snapshot are not run again (their
// outputs come from the journal and feed the later steps), the rest runs,
// and the account holds one snapshot set and one hardened copy.
func TestResumeAfterInterruption(t *testing.T) {
	w := newWorld(t)
	spec := builtin(t, w.srv)
	pb, err := playbook.Load("testdata/incident.yaml")
	if err != nil {
		t.Fatal(err)
	}
	journal := t.TempDir()
	inputs := map[string]any{"instance": w.infected, "admin_cidr": "198.51.100.0/24", "dwell": "0s", "poll": "10ms"}
	run := func(ctx context.Context, onEvent func(playbook.Event)) (*playbook.Run, error) {
		r, err := playbook.NewRunner(pb, playbook.Options{Incident: incidentID, Inputs: inputs, Plugins: []playbook.PluginSpec{spec},
			JournalDir: journal, Approve: playbook.AutoApprove, OnEvent: onEvent})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Run(ctx)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := run(ctx, func(e playbook.Event) {
		if e.Kind == playbook.EventStepStarted && e.Step == "harden" {
			cancel()
		}
	}); err == nil {
		t.Fatal("interrupted run succeeded")
	}
	if got := w.instance(t, w.infected).State; got != "running" {
		t.Fatalf("infected %s after the interrupted run", got)
	}

	res, err := run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resumed := map[string]bool{}
	for _, s := range res.Steps {
		resumed[s.ID] = s.Resumed
	}
	if d := cmp.Diff(map[string]bool{"contain": true, "snapshot": true, "harden": false, "alarms": false, "terminate": false}, resumed); d != "" {
		t.Errorf("resumed steps (-want +got):\n%s", d)
	}
	creates := 0
	for _, op := range w.srv.Operations() {
		if op == "CreateSnapshots" {
			creates++
		}
	}
	st := w.srv.State()
	copies := 0
	for _, g := range st.SecurityGroups {
		if strings.Contains(g.Name, "hardened") {
			copies++
		}
	}
	if creates != 1 || len(st.Snapshots) != 2 || copies != 1 {
		t.Errorf("CreateSnapshots %d times, %d snapshots, %d hardened copies; want 1, 2, 1", creates, len(st.Snapshots), copies)
	}
	if got := w.instance(t, w.infected).State; got != "terminated" && got != "shutting-down" {
		t.Errorf("infected %s", got)
	}
}

// An asg_mode outside the published enum is refused at plan time, through
// the host, naming the field; nothing is changed.
func TestASGModeRefusedAtPlan(t *testing.T) {
	w := newWorld(t)
	spec := builtin(t, w.srv)
	pb, err := playbook.New("contain", playbook.Step{ID: "contain", Plugin: "ec2", Action: "contain",
		Input: map[string]any{"instance_id": w.infected, "asg_mode": "evict"}})
	if err != nil {
		t.Fatal(err)
	}
	w.srv.ResetCalls()
	_, err = runPlaybook(t, pb, incidentID, spec, nil)
	if err == nil || !strings.Contains(err.Error(), "asg_mode") || !strings.Contains(err.Error(), "evict") || !strings.Contains(err.Error(), "is not one of") {
		t.Fatalf("err = %v, want asg_mode evict refused by the schema (is not one of …)", err)
	}
	noMutation(t, w)
}
