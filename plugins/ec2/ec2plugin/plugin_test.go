package ec2plugin

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// world is the seed incident in the emulator: a group open to the world
// on all traffic and 443, an infected instance with a root and a data
// volume in it, and a neighbour sharing the group.
type world struct {
	srv                 *ec2test.Server
	direct              *ec2.Clients // the typed API, called directly
	openSG              string
	infected, neighbour string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	srv := ec2test.NewServer()
	t.Cleanup(srv.Close)
	sg, err := srv.AddSecurityGroup("launch-wizard-1", "open", "",
		ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}, KeyName: "ops",
		DataVolumes: map[string]int32{"/dev/sdf": 20}, Tags: map[string]string{"Name": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, direct: ec2.New(srv.Config()), openSG: sg, infected: ids[0], neighbour: ids[1]}
}

// awsEnv is the environment the AWS chain needs to reach the emulator: test
// credentials, its region, no instance metadata, and no shared files.
func awsEnv(t testing.TB, srv *ec2test.Server) []string {
	home := t.TempDir()
	return []string{
		"AWS_ACCESS_KEY_ID=" + ec2test.TestAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ec2test.TestSecretAccessKey,
		"AWS_REGION=" + srv.Region(), "AWS_EC2_METADATA_DISABLED=true", "HOME=" + home,
		"AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials",
	}
}

// setAWSEnv puts awsEnv into this process's environment for the in-process
// tests (the endpoint comes from the input there).
func setAWSEnv(t testing.TB, srv *ec2test.Server) {
	for _, kv := range awsEnv(t, srv) {
		k, v, _ := splitKV(kv)
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_PROFILE", "")
}

func splitKV(kv string) (string, string, bool) {
	for i := range kv {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func (w *world) instance(t *testing.T, id string) ec2test.InstanceState {
	t.Helper()
	for _, in := range w.srv.State().Instances {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("no instance %s", id)
	return ec2test.InstanceState{}
}

const incidentID = "case-4242"

var fast = Common{Incident: incidentID, PollMin: "10ms", PollMax: "50ms", MaxWait: "1m"}

// noVolumeType: ec2.VerifySnapshots (and so Terminate) reads snapshots,
// not volumes, and leaves VolumeSnapshot.VolumeType empty; ApplySnapshot
// fills it in from its plan.
var noVolumeType = cmpopts.IgnoreFields(ec2.VolumeSnapshot{}, "VolumeType")

var quick = []ec2.Option{ec2.WithDwell(0), ec2.WithPoll(10*time.Millisecond, 50*time.Millisecond), ec2.WithMaxWait(time.Minute)}

// The six actions in-process against the emulator, each compared with the
// typed API called directly on the same account.
func TestActionsInProcess(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	inc := ec2.Incident{ID: incidentID}

	// contain: the plan changes nothing and is the typed plan.
	before := w.srv.State()
	plan, err := plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, Dwell: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, w.srv.State()); d != "" {
		t.Fatalf("contain plan changed the account:\n%s", d)
	}
	if len(plan.Changes) != 2 || plan.Changes[1].Target != w.infected || plan.Changes[0].Kind != plugin.ChangeCreate ||
		!strings.Contains(plan.Summary, ec2.NoteTrackedConnections) || strings.Contains(plan.Changes[1].Detail, "passthrough") {
		t.Errorf("contain plan: %+v", plan)
	}
	want, err := ec2.PlanContain(ctx, w.direct, ec2.ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, quick...)
	if err != nil {
		t.Fatal(err)
	}
	contained, err := plugintest.Apply[ContainOutput](ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, Dwell: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, contained.Plan, cmpopts.IgnoreFields(ec2.InstanceRecord{}, "RecordedAt")); d != "" {
		t.Errorf("contain plan differs from ec2.PlanContain (-direct +plugin):\n%s", d)
	}
	if d := cmp.Diff([]string{w.openSG}, contained.Groups); d != "" || contained.Undo == nil || len(contained.Undo.Instances) != 1 {
		t.Errorf("contain output: %+v %s", contained, d)
	}
	got := w.instance(t, w.infected)
	if !got.DisableAPITermination || len(got.SecurityGroupIDs) != 1 || got.SecurityGroupIDs[0] == w.openSG {
		t.Errorf("not contained: %+v", got)
	}
	// Again: already contained, nothing to do.
	again, err := plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected})
	if err != nil || len(again.Changes) != 0 {
		t.Errorf("contain again: %+v %v", again, err)
	}

	// snapshot: completed sets, the same VerifySnapshots finds.
	sp, err := plugintest.Plan(ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil || len(sp.Changes) != 2 || sp.Changes[0].Kind != plugin.ChangeCreate {
		t.Fatalf("snapshot plan: %+v %v", sp, err)
	}
	snaps, err := plugintest.Apply[SnapshotOutput](ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ec2.VerifySnapshots(ctx, w.direct, snaps.Sets[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]ec2.SnapshotSet{cs.Set()}, snaps.Sets, noVolumeType); d != "" {
		t.Errorf("snapshot sets differ from ec2.VerifySnapshots (-direct +plugin):\n%s", d)
	}
	if len(snaps.SnapshotIDs) != 2 {
		t.Errorf("snapshot ids: %v", snaps.SnapshotIDs)
	}
	// A re-run (same incident) reuses them.
	sp, err = plugintest.Plan(ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil || len(sp.Changes) != 2 || sp.Changes[0].Kind != plugin.ChangeRead {
		t.Fatalf("snapshot plan again: %+v %v", sp, err)
	}

	// harden the original (shared) group: a copy without the open rules.
	hin := HardenInput{Common: c, GroupIDs: contained.Groups, AdminCIDRs: []string{"198.51.100.0/24"}}
	wantH, err := ec2.PlanHarden(ctx, w.direct, ec2.HardenInput{Incident: inc, GroupIDs: contained.Groups, AdminCIDRs: hin.AdminCIDRs})
	if err != nil {
		t.Fatal(err)
	}
	hp, err := plugintest.Plan(ctx, acts["harden"], hin)
	if err != nil || len(hp.Changes) != 1 || hp.Changes[0].Kind != plugin.ChangeCreate {
		t.Fatalf("harden plan: %+v %v", hp, err)
	}
	hardened, err := plugintest.Apply[HardenOutput](ctx, acts["harden"], hin)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantH, hardened.Plan); d != "" {
		t.Errorf("harden plan differs from ec2.PlanHarden (-direct +plugin):\n%s", d)
	}
	if len(hardened.Hardened) != 1 || hardened.Hardened[0] == w.openSG || hardened.Groups[w.openSG] != hardened.Hardened[0] {
		t.Errorf("harden output: %+v", hardened)
	}

	// rebuild with the hardened group.
	rin := RebuildInput{Common: c, InstanceID: w.infected, SecurityGroupIDs: hardened.Hardened}
	wantR, err := ec2.PlanRebuild(ctx, w.direct, ec2.RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: hardened.Hardened})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plugintest.Plan(ctx, acts["rebuild"], rin)
	if err != nil || len(rp.Changes) != 1 {
		t.Fatalf("rebuild plan: %+v %v", rp, err)
	}
	rebuilt, err := plugintest.Apply[RebuildOutput](ctx, acts["rebuild"], rin)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.ClientToken != wantR.ClientToken || rebuilt.State != "running" || rebuilt.InstanceID == "" {
		t.Errorf("rebuild: %+v, want token %s", rebuilt, wantR.ClientToken)
	}
	// The client token makes a retry return the same instance.
	again2, err := plugintest.Apply[RebuildOutput](ctx, acts["rebuild"], rin)
	if err != nil || again2.InstanceID != rebuilt.InstanceID {
		t.Errorf("rebuild retry: %+v %v, want %s", again2, err, rebuilt.InstanceID)
	}
	repl := w.instance(t, rebuilt.InstanceID)
	if d := cmp.Diff(hardened.Hardened, repl.SecurityGroupIDs); d != "" || repl.MetadataHTTPTokens != "required" {
		t.Errorf("replacement: %+v %s", repl, d)
	}

	// alarms on the replacement.
	ain := AlarmsInput{Common: c, InstanceID: rebuilt.InstanceID, SNSTopicARN: "arn:aws:sns:us-east-1:123456789012:abuse"}
	wantA, err := ec2.PlanAlarms(ctx, w.direct, ec2.AlarmsInput{Incident: inc, InstanceID: rebuilt.InstanceID, SNSTopicARN: ain.SNSTopicARN})
	if err != nil {
		t.Fatal(err)
	}
	alarms, err := plugintest.Apply[AlarmsOutput](ctx, acts["alarms"], ain)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantA, alarms.Plan); d != "" {
		t.Errorf("alarms plan differs from ec2.PlanAlarms (-direct +plugin):\n%s", d)
	}
	if n := len(w.srv.State().Alarms); n != 4 {
		t.Errorf("%d alarms", n)
	}
	ap, err := plugintest.Plan(ctx, acts["alarms"], ain)
	if err != nil || len(ap.Changes) != 4 || ap.Changes[0].Kind != plugin.ChangeUpdate {
		t.Errorf("alarms plan again: %+v %v", ap, err)
	}

	// terminate: the neighbour has no snapshots, refused in plan and apply.
	for _, phase := range []string{"plan", "apply"} {
		var err error
		if phase == "plan" {
			_, err = plugintest.Plan(ctx, acts["terminate"], TerminateInput{Common: c, InstanceID: w.neighbour})
		} else {
			_, err = plugintest.Apply[TerminateOutput](ctx, acts["terminate"], TerminateInput{Common: c, InstanceID: w.neighbour})
		}
		if !errors.Is(err, ec2.ErrSnapshotsIncomplete) {
			t.Errorf("terminate %s without snapshots: %v", phase, err)
		}
	}
	if st := w.instance(t, w.neighbour).State; st != "running" {
		t.Errorf("neighbour %s", st)
	}
	// The infected instance, from the snapshot step's set.
	set := snaps.Sets[0]
	tp, err := plugintest.Plan(ctx, acts["terminate"], TerminateInput{Common: Common{Endpoint: w.srv.URL}, Set: &set})
	if err != nil || len(tp.Changes) != 2 || tp.Changes[1].Kind != plugin.ChangeDelete || tp.Changes[1].Target != w.infected {
		t.Fatalf("terminate plan: %+v %v", tp, err)
	}
	term, err := plugintest.Apply[TerminateOutput](ctx, acts["terminate"], TerminateInput{Common: Common{Endpoint: w.srv.URL}, Set: &set})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(set.Snapshots, term.Snapshots, noVolumeType); d != "" || term.InstanceID != w.infected {
		t.Errorf("terminate: %+v %s", term, d)
	}
	if st := w.instance(t, w.infected).State; st != "terminated" && st != "shutting-down" {
		t.Errorf("infected %s", st)
	}
}

// Terminate re-verifies against EC2: a volume attached after the snapshot
// step has no snapshot, so the step's set no longer covers the instance.
func TestTerminateRefusesVolumeAttachedLater(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	snaps, err := plugintest.Apply[SnapshotOutput](ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	attachVolume(t, w, w.infected)
	w.srv.ResetCalls()
	_, err = plugintest.Apply[TerminateOutput](ctx, acts["terminate"], TerminateInput{Common: c, Set: &snaps.Sets[0]})
	if !errors.Is(err, ec2.ErrSnapshotsIncomplete) {
		t.Fatalf("err = %v, want ec2.ErrSnapshotsIncomplete", err)
	}
	noMutation(t, w)
	// A set from another incident does not count either.
	attachless := newWorld(t)
	c.Endpoint = attachless.srv.URL
	snaps2, err := plugintest.Apply[SnapshotOutput](ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: attachless.infected})
	if err != nil {
		t.Fatal(err)
	}
	other := c
	other.Incident = "case-other"
	_, err = plugintest.Apply[TerminateOutput](ctx, acts["terminate"], TerminateInput{Common: other, Set: &snaps2.Sets[0]})
	if !errors.Is(err, ec2.ErrSnapshotsIncomplete) {
		t.Fatalf("other incident: err = %v, want ec2.ErrSnapshotsIncomplete", err)
	}
}

// A snapshot anyone tagged with the incident (here a nightly backup of a
// volume attached after the snapshot step, hand-tagged) does not cover
// the instance: only the ids the snapshot step created and the runner
// journaled count.
func TestTerminateIgnoresHandTaggedSnapshots(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	snaps, err := plugintest.Apply[SnapshotOutput](ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	vol := attachVolume(t, w, w.infected)
	e := awsec2.NewFromConfig(w.srv.Config())
	backup, err := e.CreateSnapshot(ctx, &awsec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String("nightly backup"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{
			{Key: aws.String(ec2.TagIncident), Value: aws.String(incidentID)}, {Key: aws.String(ec2.TagStep), Value: aws.String("snapshot")},
			{Key: aws.String(ec2.TagInstance), Value: aws.String(w.infected)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := awsec2.NewSnapshotCompletedWaiter(e).Wait(ctx, &awsec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(backup.SnapshotId)}}, time.Minute,
		func(o *awsec2.SnapshotCompletedWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		}); err != nil {
		t.Fatal(err)
	}
	w.srv.ResetCalls()
	for _, phase := range []string{"plan", "apply"} {
		if phase == "plan" {
			_, err = plugintest.Plan(ctx, acts["terminate"], TerminateInput{Common: c, Set: &snaps.Sets[0]})
		} else {
			_, err = plugintest.Apply[TerminateOutput](ctx, acts["terminate"], TerminateInput{Common: c, Set: &snaps.Sets[0]})
		}
		if !errors.Is(err, ec2.ErrSnapshotsIncomplete) {
			t.Errorf("%s: err = %v, want ec2.ErrSnapshotsIncomplete (the hand-tagged backup must not count)", phase, err)
		}
	}
	noMutation(t, w)
}

func attachVolume(t *testing.T, w *world, instance string) string {
	t.Helper()
	ctx := context.Background()
	e := awsec2.NewFromConfig(w.srv.Config())
	inst, err := e.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{instance}})
	if err != nil {
		t.Fatal(err)
	}
	az := aws.ToString(inst.Reservations[0].Instances[0].Placement.AvailabilityZone)
	vol, err := e.CreateVolume(ctx, &awsec2.CreateVolumeInput{AvailabilityZone: aws.String(az), Size: aws.Int32(8), VolumeType: types.VolumeTypeGp3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AttachVolume(ctx, &awsec2.AttachVolumeInput{InstanceId: aws.String(instance), VolumeId: vol.VolumeId, Device: aws.String("/dev/sdg")}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(vol.VolumeId)
}

// noMutation fails if the trace since the last ResetCalls holds a call that
// changes anything.
func noMutation(t *testing.T, w *world) {
	t.Helper()
	for _, op := range w.srv.Operations() {
		if !slices.ContainsFunc([]string{"Describe", "List", "Get"}, func(p string) bool { return len(op) >= len(p) && op[:len(p)] == p }) {
			t.Errorf("mutating call %s before the refusal", op)
		}
	}
	if st := w.instance(t, w.infected); st.State != "running" {
		t.Errorf("instance %s", st.State)
	}
}

// Bad input is refused with a clear error, before any AWS call.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	w.srv.ResetCalls()
	for _, tc := range []struct {
		action string
		input  any
		want   error
	}{
		{"contain", map[string]any{"instance_id": w.infected, "bogus": 1}, plugin.ErrInvalidInput},
		{"contain", ContainInput{Common: c, InstanceID: w.infected, ASGMode: "evict"}, plugin.ErrInvalidInput},
		{"contain", ContainInput{Common: c, InstanceID: w.infected, Dwell: "soon"}, plugin.ErrInvalidInput},
		{"snapshot", SnapshotInput{Common: Common{Endpoint: w.srv.URL, MaxWait: "-1m"}, InstanceID: w.infected}, plugin.ErrInvalidInput},
		{"snapshot", SnapshotInput{Common: Common{Endpoint: "ftp://127.0.0.1/"}, InstanceID: w.infected}, plugin.ErrInvalidInput},
		{"harden", HardenInput{Common: Common{Endpoint: w.srv.URL, Concurrency: -1}, InstanceID: w.infected}, plugin.ErrInvalidInput},
		{"terminate", TerminateInput{Common: c}, plugin.ErrInvalidInput},
		{"terminate", TerminateInput{Common: c, InstanceID: w.neighbour, Set: &ec2.SnapshotSet{InstanceID: w.infected}}, plugin.ErrInvalidInput},
		{"snapshot", SnapshotInput{Common: c}, ec2.ErrInvalidInput},
	} {
		if _, err := plugintest.Plan(ctx, acts[tc.action], tc.input); !errors.Is(err, tc.want) {
			t.Errorf("%s %+v: err = %v, want %v", tc.action, tc.input, err, tc.want)
		}
	}
	noMutation(t, w)
	// Sentinels of the package keep their identity.
	if _, err := plugintest.Plan(ctx, acts["snapshot"], SnapshotInput{Common: c, InstanceID: "i-0000000000000dead"}); !errors.Is(err, ec2.ErrNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
	var re *plugin.RemoteError
	if _, err := plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: "i-0000000000000dead"}); !errors.As(err, &re) || re.Code != "ec2.not_found" {
		t.Errorf("remote error: %v", err)
	}
}

// Without a region anywhere, the chain cannot build clients.
func TestNoRegion(t *testing.T) {
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	_, err := plugintest.Plan(context.Background(), NewPlugin()["snapshot"], SnapshotInput{Common: Common{Endpoint: w.srv.URL}, InstanceID: w.infected})
	if !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("err = %v", err)
	}
}

// A retried or resumed step (same incident) creates nothing twice.
func TestRetryCreatesNothingTwice(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	c := fast
	c.Endpoint = w.srv.URL
	first, err := plugintest.Apply[SnapshotOutput](ctx, NewPlugin()["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh plugin process would start with fresh clients.
	second, err := plugintest.Apply[SnapshotOutput](ctx, NewPlugin()["snapshot"], SnapshotInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	// ec2.ApplySnapshot leaves StartTime zero for snapshots it reuses.
	if d := cmp.Diff(first, second, cmpopts.IgnoreFields(ec2.VolumeSnapshot{}, "StartTime")); d != "" {
		t.Errorf("second run differs:\n%s", d)
	}
	if n := len(w.srv.State().Snapshots); n != 2 {
		t.Errorf("%d snapshots after two runs, want 2", n)
	}
	n := 0
	for _, op := range w.srv.Operations() {
		if op == "CreateSnapshots" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("CreateSnapshots called %d times", n)
	}
}

// Inputs map straight onto the typed options: Auto Scaling standby and
// alarm thresholds.
func TestInputsMapOntoOptions(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	if err := w.srv.AddAutoScalingGroup("web-asg", nil, w.infected, w.neighbour); err != nil {
		t.Fatal(err)
	}
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	plan, err := plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, ASGMode: "standby"})
	if err != nil {
		t.Fatal(err)
	}
	if last := plan.Changes[len(plan.Changes)-1]; !strings.Contains(last.Detail, "standby from Auto Scaling group web-asg") {
		t.Errorf("plan: %+v", plan)
	}
	if _, err := plugintest.Apply[ContainOutput](ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, ASGMode: "standby", Dwell: "0s"}); err != nil {
		t.Fatal(err)
	}
	asg := w.srv.State().AutoScaling[0]
	if asg.Instances[w.infected] != "Standby" || asg.Instances[w.neighbour] != "InService" {
		t.Errorf("asg: %+v", asg)
	}

	th := ec2.Thresholds{NetworkOutBytes: 5e8, NetworkPacketsOut: 2e5, CPUPercent: 75, Period: 60, EvaluationPeriods: 3}
	out, err := plugintest.Apply[AlarmsOutput](ctx, acts["alarms"], AlarmsInput{Common: c, InstanceID: w.neighbour, Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, a := range w.srv.State().Alarms {
		got[a.MetricName] = a.Threshold
		if a.MetricName == "CPUUtilization" && (a.Period != 60 || a.EvaluationPeriods != 3) {
			t.Errorf("cpu alarm: %+v", a)
		}
	}
	want := map[string]float64{"NetworkOut": 5e8, "NetworkPacketsOut": 2e5, "CPUUtilization": 75}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s threshold %v, want %v (plan %+v)", k, got[k], v, out.Plan)
		}
	}
}

// undo puts a contained instance back as it was, from the contain step's
// record.
func TestUndoAction(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	if err := w.srv.AddAutoScalingGroup("web-asg", nil, w.infected, w.neighbour); err != nil {
		t.Fatal(err)
	}
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	before := w.instance(t, w.infected)
	contained, err := plugintest.Apply[ContainOutput](ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, ASGMode: "standby", Dwell: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	other := c
	other.Incident = "case-never-contained"
	if _, err := plugintest.Plan(ctx, acts["undo"], UndoInput{Common: other}); !errors.Is(err, ec2.ErrNotFound) {
		t.Errorf("undo without a record, none saved: %v", err)
	}
	w.srv.ResetCalls()
	plan, err := plugintest.Plan(ctx, acts["undo"], UndoInput{Common: Common{Endpoint: w.srv.URL}, Undo: contained.Undo})
	if err != nil || len(plan.Changes) != 1 || !strings.Contains(plan.Changes[0].Detail, "back to "+w.openSG) || !strings.Contains(plan.Changes[0].Detail, "web-asg") {
		t.Fatalf("undo plan: %+v %v", plan, err)
	}
	if ops := w.srv.Operations(); len(ops) != 0 {
		t.Errorf("undo plan called %v", ops)
	}
	out, err := plugintest.Apply[UndoOutput](ctx, acts["undo"], UndoInput{Common: Common{Endpoint: w.srv.URL}, Undo: contained.Undo})
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("undo: %+v %v", out, err)
	}
	after := w.instance(t, w.infected)
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("instance after undo (-before +after):\n%s", d)
	}
	if st := w.srv.State().AutoScaling[0].Instances[w.infected]; st != "InService" {
		t.Errorf("asg state %s", st)
	}
}

// Release mode: undo without a record puts the instance back from the
// original configuration contain saved (fsynced) in the state directory
// before its first change.
func TestReleaseFromSavedRecord(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	state := t.TempDir()
	t.Setenv("ABUSEKIT_STATE_DIR", state)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	before := w.instance(t, w.infected)
	if _, err := plugintest.Apply[ContainOutput](ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected}); err != nil {
		t.Fatal(err)
	}
	st, err := store("", c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Path(incidentID), filepath.Join(state, "ec2")+"/") {
		t.Errorf("record %s not under ABUSEKIT_STATE_DIR/ec2", st.Path(incidentID))
	}
	saved, err := st.Load(ctx, incidentID)
	if err != nil || saved == nil || !cmp.Equal(saved.OriginalGroups(w.infected), []string{w.openSG}) {
		t.Fatalf("saved record %+v %v", saved, err)
	}
	plan, err := plugintest.Plan(ctx, acts["undo"], UndoInput{Common: c})
	if err != nil || len(plan.Changes) != 1 || !strings.Contains(plan.Changes[0].Detail, "back to "+w.openSG) {
		t.Fatalf("release plan: %+v %v", plan, err)
	}
	if _, err := plugintest.Apply[UndoOutput](ctx, acts["undo"], UndoInput{Common: c}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, w.instance(t, w.infected)); d != "" {
		t.Errorf("instance after release (-before +after):\n%s", d)
	}
}

// Every ec2 sentinel has its code, also wrapped as the package wraps it.
func TestSentinelsRegistered(t *testing.T) {
	for code, err := range map[string]error{
		"ec2.not_found": ec2.ErrNotFound, "ec2.snapshots_incomplete": ec2.ErrSnapshotsIncomplete,
		"ec2.snapshot_failed": ec2.ErrSnapshotFailed, "ec2.timeout": ec2.ErrTimeout,
		"ec2.invalid_input": ec2.ErrInvalidInput, "ec2.missing_client": ec2.ErrMissingClient,
		"ec2.unhealthy": ec2.ErrUnhealthy, "ec2.asg_min_size": ec2.ErrASGMinSize,
		"ec2.quarantine_open": ec2.ErrQuarantineOpen,
	} {
		if got := plugin.ErrorCode(&ec2.StepError{Step: "x", Err: err}); got != code {
			t.Errorf("%v: code %q, want %q", err, got, code)
		}
	}
}

// Contain keeps its original configuration in the runner's journal (a
// synced step note) before its first change, besides the state directory:
// a resumed run whose state directory is gone still releases the instance
// to its original groups from the note.
func TestContainOriginalInJournal(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	t.Setenv("ABUSEKIT_STATE_DIR", t.TempDir())
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	applied, err := plugintest.Invocation{}.Apply(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	var note *plugintest.Note
	for i := range applied.Notes {
		if applied.Notes[i].Key == noteContainOriginal {
			note = &applied.Notes[i]
		}
	}
	if note == nil {
		t.Fatalf("contain kept no %q note: %+v", noteContainOriginal, applied.Notes)
	}
	var saved ec2.ContainUndo
	if err := json.Unmarshal(note.Value, &saved); err != nil || !cmp.Equal(saved.OriginalGroups(w.infected), []string{w.openSG}) {
		t.Fatalf("note %s: %v", note.Value, err)
	}
	// The state directory is lost; the journal's note is given back.
	t.Setenv("ABUSEKIT_STATE_DIR", t.TempDir())
	st, err := store("", c)
	if err != nil {
		t.Fatal(err)
	}
	js := newJournaledStore(st, plugin.Progress{}, map[string]json.RawMessage{noteContainOriginal: note.Value})
	got, err := js.Load(ctx, incidentID)
	if err != nil || got == nil || !cmp.Equal(got.OriginalGroups(w.infected), []string{w.openSG}) {
		t.Errorf("record from the journal's note: %+v %v", got, err)
	}
	if other, err := js.Load(ctx, "another-incident"); err != nil || other != nil {
		t.Errorf("another incident's record: %+v %v", other, err)
	}
}

// The SSM inputs reach the typed contain: the plan creates the SSM
// quarantine group with its one egress rule, and notes it.
func TestContainSSMInputs(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	acts := NewPlugin()
	c := fast
	c.Endpoint = w.srv.URL
	plan, err := plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, SSMPrefixListIDs: []string{"pl-63a5400a"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "quarantine-ssm group in "
	if len(plan.Changes) == 0 || !strings.Contains(plan.Changes[0].Detail, want) || !strings.HasSuffix(plan.Changes[0].Detail, "only: egress tcp 443-443 pl-63a5400a") {
		t.Errorf("plan changes: %+v", plan.Changes)
	}
	plan, err = plugintest.Plan(ctx, acts["contain"], ContainInput{Common: c, InstanceID: w.infected, HostStepsOverSSM: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Summary, ec2.NoteSSMNoEndpoint) {
		t.Errorf("summary lacks the no-endpoint note: %s", plan.Summary)
	}
}

func TestCaptureAction(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	c := fast
	c.Endpoint = w.srv.URL
	w.srv.ResetCalls()
	out, err := plugintest.Apply[CaptureOutput](ctx, NewPlugin()["capture"], CaptureInput{Common: c, InstanceID: w.infected})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 1 || out.Records[0].InstanceID != w.infected || len(out.Records[0].SecurityGroups) == 0 || len(out.Records[0].Volumes) == 0 {
		t.Errorf("records: %+v", out.Records)
	}
	for _, call := range w.srv.Calls() {
		if !strings.HasPrefix(call.Operation, "Describe") {
			t.Errorf("capture made a %s call", call.Operation)
		}
	}
	if _, err := plugintest.Apply[CaptureOutput](ctx, NewPlugin()["capture"], CaptureInput{Common: c}); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("no id: err = %v", err)
	}
}
