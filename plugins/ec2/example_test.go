package ec2_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/config"
)

// infected starts the emulator with the seed incident: a security group
// open to the world on all traffic, an instance with a root and a data
// volume in it, and a neighbour sharing the group.
func infected() (srv *ec2test.Server, c *ec2.Clients, victim, openSG string) {
	srv = ec2test.NewServer()
	openSG, err := srv.AddSecurityGroup("launch-wizard-1", "open", "",
		ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"})
	if err != nil {
		panic(err)
	}
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{SecurityGroupIDs: []string{openSG}, KeyName: "ops",
		DataVolumes: map[string]int32{"/dev/sdf": 20}, Tags: map[string]string{"Name": "web"}})
	if err != nil {
		panic(err)
	}
	return srv, ec2.New(srv.Config()), ids[0], openSG
}

var quick = []ec2.Option{ec2.WithDwell(0), ec2.WithPoll(10*time.Millisecond, 50*time.Millisecond), ec2.WithMaxWait(time.Minute)}

func ExamplePlanContain() {
	srv, c, victim, _ := infected()
	defer srv.Close()
	ctx := context.Background()
	inc := ec2.Incident{ID: "case-1234"}

	plan, err := ec2.PlanContain(ctx, c, ec2.ContainInput{Incident: inc, InstanceIDs: []string{victim}}, quick...)
	if err != nil {
		panic(err)
	}
	for _, g := range plan.Groups {
		fmt.Printf("group %s (%s): create=%v\n", g.Name, g.Role, g.GroupID == "")
	}
	ic := plan.Instances[0]
	fmt.Println("interfaces:", len(ic.Interfaces), "termination protection:", *ic.TerminationProtection)

	undo, err := ec2.ApplyContain(ctx, c, plan, quick...)
	if err != nil {
		panic(err)
	}
	fmt.Println("changed:", len(undo.Instances), "instance, original groups recorded:", len(undo.OriginalGroups(victim)))
	for _, in := range srv.State().Instances {
		if in.ID == victim {
			fmt.Println("protected:", in.DisableAPITermination, in.DisableAPIStop, "incident tag:", in.Tags[ec2.TagIncident])
		}
	}
	// Output:
	// group abusekit-quarantine (quarantine): create=true
	// interfaces: 1 termination protection: false
	// changed: 1 instance, original groups recorded: 1
	// protected: true true incident tag: case-1234
}

func ExampleSnapshot() {
	srv, c, victim, _ := infected()
	defer srv.Close()
	ctx := context.Background()
	inc := ec2.Incident{ID: "case-1234", AbuseTime: time.Date(2026, 11, 24, 3, 12, 0, 0, time.UTC)}

	sets, err := ec2.Snapshot(ctx, c, ec2.SnapshotInput{Incident: inc, InstanceIDs: []string{victim}, RegisterImage: true}, quick...)
	if err != nil {
		panic(err)
	}
	set := sets[0].Set()
	for _, s := range set.Snapshots {
		fmt.Println(s.Device, s.State)
	}
	fmt.Println("forensic image:", set.ImageID != "")
	// Output:
	// /dev/sdf completed
	// /dev/xvda completed
	// forensic image: true
}

func ExampleTerminate() {
	srv, c, victim, _ := infected()
	defer srv.Close()
	ctx := context.Background()
	inc := ec2.Incident{ID: "case-1234"}

	// Without completed snapshots there is nothing to pass: the zero value
	// is refused before any call.
	_, err := ec2.Terminate(ctx, c, ec2.CompletedSnapshots{})
	fmt.Println(errors.Is(err, ec2.ErrSnapshotsIncomplete))

	sets, err := ec2.Snapshot(ctx, c, ec2.SnapshotInput{Incident: inc, InstanceIDs: []string{victim}}, quick...)
	if err != nil {
		panic(err)
	}
	res, err := ec2.Terminate(ctx, c, sets[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(res.PreviousState, "->", res.CurrentState, "kept", len(res.Snapshots), "snapshots")
	// Output:
	// true
	// running -> shutting-down kept 2 snapshots
}

func ExamplePlanHarden() {
	srv, c, victim, openSG := infected()
	defer srv.Close()
	ctx := context.Background()

	plan, err := ec2.PlanHarden(ctx, c, ec2.HardenInput{Incident: ec2.Incident{ID: "case-1234"}, InstanceID: victim, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		panic(err)
	}
	g := plan.Groups[0]
	fmt.Println("shared:", g.Shared, "action:", g.Action)
	for _, r := range g.Open {
		fmt.Println("open:", r)
	}
	for _, r := range g.Add {
		fmt.Println("add:", r)
	}
	res, err := ec2.ApplyHarden(ctx, c, plan)
	if err != nil {
		panic(err)
	}
	fmt.Println("copy swapped in:", res.Groups[openSG] != openSG)
	// Output:
	// shared: true action: copy
	// open: ingress all 0.0.0.0/0
	// add: ingress all 198.51.100.0/24
	// copy swapped in: true
}

func ExampleRebuild() {
	srv, c, victim, openSG := infected()
	defer srv.Close()
	ctx := context.Background()
	inc := ec2.Incident{ID: "case-1234"}

	// The old group is open to the world: Rebuild will not launch with it.
	_, err := ec2.PlanRebuild(ctx, c, ec2.RebuildInput{Incident: inc, InstanceID: victim})
	fmt.Println(errors.Is(err, ec2.ErrInvalidInput))

	h, err := ec2.Harden(ctx, c, ec2.HardenInput{Incident: inc, GroupIDs: []string{openSG}, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		panic(err)
	}
	res, err := ec2.Rebuild(ctx, c, ec2.RebuildInput{Incident: inc, InstanceID: victim, SecurityGroupIDs: h.Hardened([]string{openSG})}, quick...)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.State, res.InstanceStatus, res.SystemStatus)
	// Output:
	// true
	// running ok ok
}

func ExampleAlarms() {
	srv, c, victim, _ := infected()
	defer srv.Close()
	plan, err := ec2.Alarms(context.Background(), c, ec2.AlarmsInput{Incident: ec2.Incident{ID: "case-1234"}, InstanceID: victim,
		SNSTopicARN: "arn:aws:sns:us-east-1:123456789012:abuse"})
	if err != nil {
		panic(err)
	}
	for _, a := range plan.Alarms {
		fmt.Printf("%s %s %s %g\n", a.Metric, a.Statistic, a.Comparison, a.Threshold)
	}
	// Output:
	// NetworkOut Sum GreaterThanThreshold 1.073741824e+09
	// NetworkPacketsOut Sum GreaterThanThreshold 1e+06
	// CPUUtilization Average GreaterThanThreshold 90
	// StatusCheckFailed Maximum GreaterThanOrEqualToThreshold 1
}

func ExampleUndo() {
	srv, c, victim, openSG := infected()
	defer srv.Close()
	ctx := context.Background()

	undo, err := ec2.Contain(ctx, c, ec2.ContainInput{Incident: ec2.Incident{ID: "case-1234"}, InstanceIDs: []string{victim}}, quick...)
	if err != nil {
		panic(err)
	}
	if err := ec2.Undo(ctx, c, undo, quick...); err != nil {
		panic(err)
	}
	for _, in := range srv.State().Instances {
		if in.ID == victim {
			fmt.Println("back in its own group:", len(in.SecurityGroupIDs) == 1 && in.SecurityGroupIDs[0] == openSG)
			fmt.Println("protection:", in.DisableAPITermination, in.DisableAPIStop)
		}
	}
	// Output:
	// back in its own group: true
	// protection: false false
}

func ExampleVerifySnapshots() {
	srv, c, victim, _ := infected()
	defer srv.Close()
	ctx := context.Background()
	inc := ec2.Incident{ID: "case-1234"}

	// Without the snapshot step's own set: coverage is incomplete.
	_, err := ec2.VerifySnapshots(ctx, c, ec2.SnapshotSet{Incident: inc, InstanceID: victim})
	fmt.Println(errors.Is(err, ec2.ErrSnapshotsIncomplete))

	sets, err := ec2.Snapshot(ctx, c, ec2.SnapshotInput{Incident: inc, InstanceIDs: []string{victim}}, quick...)
	if err != nil {
		panic(err)
	}
	// A resumed run gets its CompletedSnapshots back from the set it
	// journaled, checked against EC2 again: only those snapshot ids count.
	journaled := sets[0].Set()
	cs, err := ec2.VerifySnapshots(ctx, c, journaled)
	if err != nil {
		panic(err)
	}
	fmt.Println(cs.InstanceID() == victim, len(cs.Set().Snapshots))
	// Output:
	// true
	// true 2
}

// New takes an aws.Config; config.LoadDefaultConfig gives the default
// credential chain (environment, shared files, SSO, instance role …).
func ExampleNew() {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-1"))
	if err != nil {
		panic(err)
	}
	c := ec2.New(cfg, func(o *ec2.ClientOptions) { o.MaxAttempts = 20 })
	_ = c
}
