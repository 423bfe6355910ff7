package ec2

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Contain keeps the instance as it was before the first change in its
// plan, its undo record and the store; a second run after containment
// (which sees the quarantine group) does not replace it.
func TestContainRecordsInstance(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inst := getInstance(t, e, w.infected)
	eni := inst.NetworkInterfaces[0]
	var vols []VolumeRecord
	for _, b := range inst.BlockDeviceMappings {
		vols = append(vols, VolumeRecord{Device: aws.ToString(b.DeviceName), VolumeID: aws.ToString(b.Ebs.VolumeId), DeleteOnTermination: aws.ToBool(b.Ebs.DeleteOnTermination)})
	}
	want := InstanceRecord{
		InstanceID: w.infected, State: "running", InstanceType: "t3.micro", ImageID: w.ami, VPCID: w.vpc, SubnetID: w.subnet, KeyName: "ops",
		PrivateIP: aws.ToString(inst.PrivateIpAddress), PublicIP: aws.ToString(inst.PublicIpAddress), Tags: map[string]string{"Name": "infected"},
		Volumes: vols,
		Interfaces: []ENIRecord{{NetworkInterfaceID: aws.ToString(eni.NetworkInterfaceId), SubnetID: w.subnet, PrivateIPs: []string{aws.ToString(inst.PrivateIpAddress)},
			PublicIP: aws.ToString(inst.PublicIpAddress), Groups: []string{w.openSG}, SourceDestCheck: true}},
		SecurityGroups: []GroupRecord{{GroupID: w.openSG, Name: "web-open", VPCID: w.vpc, Rules: []Rule{
			{Direction: "egress", Protocol: "-1", CIDR: "0.0.0.0/0"},
			{Direction: "ingress", Protocol: "-1", CIDR: "0.0.0.0/0"},
			{Direction: "ingress", Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"},
		}}},
	}
	opt := cmp.Options{
		cmpopts.IgnoreFields(InstanceRecord{}, "RecordedAt", "LaunchTime", "AvailabilityZone", "Architecture", "Platform", "RootDevice", "IMDSv2"),
		cmpopts.IgnoreFields(VolumeRecord{}, "AttachTime", "SizeGiB", "Type", "SnapshotID"),
		cmpopts.IgnoreFields(ENIRecord{}, "MAC"),
		cmpopts.SortSlices(func(a, b VolumeRecord) bool { return a.Device < b.Device }),
	}
	store, err := NewFileContainStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]Option{WithContainStore(store)}, fastOpts...)
	in := ContainInput{Incident: Incident{ID: "case-record"}, InstanceIDs: []string{w.infected}}
	plan, err := PlanContain(ctx, c, in, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]InstanceRecord{want}, plan.Records, opt); d != "" {
		t.Errorf("plan record:\n%s", d)
	}
	if plan.Records[0].Volumes[0].SizeGiB == 0 {
		t.Errorf("volume sizes not read: %+v", plan.Records[0].Volumes)
	}
	undo, err := ApplyContain(ctx, c, plan, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(plan.Records, undo.Records); d != "" {
		t.Errorf("undo record:\n%s", d)
	}
	// Run again: the plan now sees the quarantine group; the incident's
	// record keeps the original.
	again, err := Contain(ctx, c, in, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]InstanceRecord{want}, again.Records, opt); d != "" {
		t.Errorf("record after a second run:\n%s", d)
	}
	saved, err := store.Load(ctx, "case-record")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]InstanceRecord{want}, saved.Records, opt); d != "" {
		t.Errorf("stored record:\n%s", d)
	}
}

func TestCaptureUnknownInstance(t *testing.T) {
	_, c, _ := emu(t)
	if _, err := Capture(context.Background(), c, []string{"i-0123456789abcdef0"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if _, err := Capture(context.Background(), nil, []string{"i-0123456789abcdef0"}); !errors.Is(err, ErrMissingClient) {
		t.Errorf("nil clients: err = %v", err)
	}
}
