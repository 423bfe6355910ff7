package ec2

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func instanceWithVolumes(id string, vols map[string]string) *awsec2.DescribeInstancesOutput {
	inst := types.Instance{InstanceId: aws.String(id), State: &types.InstanceState{Name: types.InstanceStateNameRunning}, RootDeviceName: aws.String("/dev/xvda")}
	devs := make([]string, 0, len(vols))
	for d := range vols {
		devs = append(devs, d)
	}
	slices.Sort(devs)
	for _, d := range devs {
		inst.BlockDeviceMappings = append(inst.BlockDeviceMappings, types.InstanceBlockDeviceMapping{DeviceName: aws.String(d), Ebs: &types.EbsInstanceBlockDevice{VolumeId: aws.String(vols[d])}})
	}
	return &awsec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{inst}}}}
}

func snap(id, vol, incident string, st types.SnapshotState) types.Snapshot {
	return types.Snapshot{SnapshotId: aws.String(id), VolumeId: aws.String(vol), State: st,
		Tags: []types.Tag{tag(TagIncident, incident), tag(TagStep, stepSnapshot)}}
}

func TestTerminateZeroSnapshotsMakesNoCall(t *testing.T) {
	f := &fake{}
	_, err := Terminate(context.Background(), f.clients(), CompletedSnapshots{})
	if !errors.Is(err, ErrSnapshotsIncomplete) {
		t.Fatalf("err = %v, want ErrSnapshotsIncomplete", err)
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("calls = %v, want none", f.Calls())
	}
}

func TestTerminateRefusesIncompleteCoverage(t *testing.T) {
	inc := Incident{ID: "case-1"}
	set := &SnapshotSet{Incident: inc, InstanceID: "i-1", Snapshots: []VolumeSnapshot{
		{VolumeID: "vol-root", Device: "/dev/xvda", SnapshotID: "snap-root", State: "completed"},
		{VolumeID: "vol-data", Device: "/dev/sdf", SnapshotID: "snap-data", State: "completed"},
	}}
	cases := map[string]struct {
		vols  map[string]string
		snaps []types.Snapshot
	}{
		"volume attached after the snapshot": {
			vols:  map[string]string{"/dev/xvda": "vol-root", "/dev/sdf": "vol-data", "/dev/sdg": "vol-new"},
			snaps: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed"), snap("snap-data", "vol-data", "case-1", "completed")},
		},
		"snapshot went to error": {
			vols:  map[string]string{"/dev/xvda": "vol-root", "/dev/sdf": "vol-data"},
			snaps: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed"), snap("snap-data", "vol-data", "case-1", "error")},
		},
		"snapshot deleted": {
			vols:  map[string]string{"/dev/xvda": "vol-root", "/dev/sdf": "vol-data"},
			snaps: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed")},
		},
		"snapshot from another incident does not count": {
			vols:  map[string]string{"/dev/xvda": "vol-root", "/dev/sdf": "vol-data"},
			snaps: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed"), snap("snap-data", "vol-data", "other", "completed")},
		},
		"completed snapshot of the volume not in the set": {
			vols:  map[string]string{"/dev/xvda": "vol-root", "/dev/sdf": "vol-data"},
			snaps: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed"), snap("snap-other", "vol-data", "case-1", "completed")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fake{
				describeInstances: func(*awsec2.DescribeInstancesInput) (*awsec2.DescribeInstancesOutput, error) {
					return instanceWithVolumes("i-1", tc.vols), nil
				},
				describeSnapshots: func(in *awsec2.DescribeSnapshotsInput) (*awsec2.DescribeSnapshotsOutput, error) {
					// Honour the incident tag filter like EC2 does.
					var out []types.Snapshot
					for _, s := range tc.snaps {
						if tagValue(s.Tags, TagIncident) == in.Filters[0].Values[0] {
							out = append(out, s)
						}
					}
					return &awsec2.DescribeSnapshotsOutput{Snapshots: out}, nil
				},
			}
			_, err := Terminate(context.Background(), f.clients(), CompletedSnapshots{set: set})
			if !errors.Is(err, ErrSnapshotsIncomplete) {
				t.Fatalf("err = %v, want ErrSnapshotsIncomplete", err)
			}
			var se *StepError
			if !errors.As(err, &se) || se.Step != "terminate" || se.Resource != "i-1" {
				t.Fatalf("err = %#v, want *StepError for terminate i-1", err)
			}
			for _, c := range f.Calls() {
				if c == "TerminateInstances" || c == "ModifyInstanceAttribute" {
					t.Fatalf("mutating call %s made despite incomplete coverage: %v", c, f.Calls())
				}
			}
		})
	}
}

func TestTerminateCoveredOrder(t *testing.T) {
	inc := Incident{ID: "case-1"}
	set := &SnapshotSet{Incident: inc, InstanceID: "i-1", Snapshots: []VolumeSnapshot{{VolumeID: "vol-root", Device: "/dev/xvda", SnapshotID: "snap-root", State: "completed"}}}
	var protectionOff bool
	f := &fake{
		describeInstances: func(*awsec2.DescribeInstancesInput) (*awsec2.DescribeInstancesOutput, error) {
			return instanceWithVolumes("i-1", map[string]string{"/dev/xvda": "vol-root"}), nil
		},
		describeSnapshots: func(*awsec2.DescribeSnapshotsInput) (*awsec2.DescribeSnapshotsOutput, error) {
			return &awsec2.DescribeSnapshotsOutput{Snapshots: []types.Snapshot{snap("snap-root", "vol-root", "case-1", "completed")}}, nil
		},
		modifyInstanceAttribute: func(in *awsec2.ModifyInstanceAttributeInput) (*awsec2.ModifyInstanceAttributeOutput, error) {
			if in.DisableApiTermination == nil || aws.ToBool(in.DisableApiTermination.Value) {
				t.Errorf("unexpected ModifyInstanceAttribute %+v", in)
			}
			protectionOff = true
			return &awsec2.ModifyInstanceAttributeOutput{}, nil
		},
		terminateInstances: func(in *awsec2.TerminateInstancesInput) (*awsec2.TerminateInstancesOutput, error) {
			if !protectionOff {
				t.Error("TerminateInstances before termination protection was lifted")
			}
			return &awsec2.TerminateInstancesOutput{TerminatingInstances: []types.InstanceStateChange{{InstanceId: aws.String("i-1"),
				PreviousState: &types.InstanceState{Name: "running"}, CurrentState: &types.InstanceState{Name: "shutting-down"}}}}, nil
		},
	}
	res, err := Terminate(context.Background(), f.clients(), CompletedSnapshots{set: set})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DescribeInstances", "DescribeSnapshots", "ModifyInstanceAttribute", "TerminateInstances"}
	if d := cmp.Diff(want, f.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if res.CurrentState != "shutting-down" {
		t.Errorf("state = %q", res.CurrentState)
	}
}

func TestTokenStable(t *testing.T) {
	a := Token("case-1", "rebuild", "i-1")
	if a != Token("case-1", "rebuild", "i-1") || len(a) != 32 {
		t.Fatalf("token %q not stable or wrong length", a)
	}
	for _, b := range []string{Token("case-2", "rebuild", "i-1"), Token("case-1", "snapshot", "i-1"), Token("case-1", "rebuild", "i-2"), Token("case-1|rebuild", "", "i-1")} {
		if a == b {
			t.Errorf("token collision %q", a)
		}
	}
}

func TestMissingClient(t *testing.T) {
	_, err := PlanSnapshot(context.Background(), &Clients{}, SnapshotInput{Incident: Incident{ID: "x"}, InstanceIDs: []string{"i-1"}})
	if !errors.Is(err, ErrMissingClient) {
		t.Fatalf("err = %v", err)
	}
	_, err = PlanContain(context.Background(), nil, ContainInput{Incident: Incident{ID: "x"}, InstanceIDs: []string{"i-1"}})
	if !errors.Is(err, ErrMissingClient) {
		t.Fatalf("err = %v", err)
	}
	_, err = PlanContain(context.Background(), &Clients{}, ContainInput{InstanceIDs: []string{"i-1"}})
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("empty incident: err = %v", err)
	}
}

// With WithProgress, Terminate follows the instance to "terminated" and
// reports each state once, in EC2's order.
func TestTerminateProgress(t *testing.T) {
	_, c, e := emu(t, ec2test.WithInstanceDelays(0, 0, 150*time.Millisecond))
	w := seed(t, e)
	ctx := context.Background()
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: Incident{ID: "c-term"}, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	res, err := Terminate(ctx, c, sets[0], WithPoll(20*time.Millisecond, 20*time.Millisecond), WithMaxWait(time.Minute), WithProgress(func(p Progress) {
		if p.Step == "terminate" && p.Resource == w.infected {
			states = append(states, p.State)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"running", "shutting-down", "terminated"}, states); d != "" {
		t.Errorf("terminate progress:\n%s", d)
	}
	if res.CurrentState != "terminated" || getInstance(t, e, w.infected).State.Name != types.InstanceStateNameTerminated {
		t.Errorf("result %+v", res)
	}
}
