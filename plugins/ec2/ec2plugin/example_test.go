package ec2plugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// Contain, snapshot and terminate an instance with the plugin's actions,
// run in-process as a host would see them, against the emulator. In a
// plugin process the credentials and region come from the environment the
// host gives the plugin (playbook.Builtin("ec2", playbook.HostEnv(playbook.AWSEnv...)...));
// here the example sets them, and the endpoint is an input.
func ExampleNewPlugin() {
	srv := ec2test.NewServer()
	defer srv.Close()
	open, _ := srv.AddSecurityGroup("launch-wizard-1", "open", "", ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"})
	victim, _ := srv.AddInstance(ec2test.InstanceSpec{SecurityGroupIDs: []string{open}, DataVolumes: map[string]int32{"/dev/sdf": 20}})
	os.Setenv("AWS_ACCESS_KEY_ID", ec2test.TestAccessKeyID)
	os.Setenv("AWS_SECRET_ACCESS_KEY", ec2test.TestSecretAccessKey)
	os.Setenv("AWS_REGION", srv.Region())
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	ctx := context.Background()
	actions := ec2plugin.NewPlugin()
	common := ec2plugin.Common{Incident: "case-1234", Endpoint: srv.URL, PollMin: "10ms"}

	plan, err := plugintest.Plan(ctx, actions["contain"], ec2plugin.ContainInput{Common: common, InstanceID: victim})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.SplitN(plan.Summary, ";", 2)[0])
	for _, c := range plan.Changes[:1] {
		fmt.Println(" ", c.Kind, c.Target)
	}
	contained, err := plugintest.Apply[ec2plugin.ContainOutput](ctx, actions["contain"], ec2plugin.ContainInput{Common: common, InstanceID: victim, Dwell: "0s"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("original groups kept for undo:", len(contained.Groups))

	// Terminating before the snapshots exist is refused.
	_, err = plugintest.Plan(ctx, actions["terminate"], ec2plugin.TerminateInput{Common: common, InstanceID: victim})
	fmt.Println("terminate first:", errors.Is(err, ec2.ErrSnapshotsIncomplete))

	snaps, err := plugintest.Apply[ec2plugin.SnapshotOutput](ctx, actions["snapshot"], ec2plugin.SnapshotInput{Common: common, InstanceID: victim})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("snapshots:", len(snaps.SnapshotIDs), snaps.Sets[0].Snapshots[0].State)

	term, err := plugintest.Apply[ec2plugin.TerminateOutput](ctx, actions["terminate"], ec2plugin.TerminateInput{Common: common, Set: &snaps.Sets[0]})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("terminated:", term.PreviousState, "->", term.CurrentState, "covered by", len(term.Snapshots), "snapshots")
	// Output:
	// contain 1 instance(s) for incident case-1234
	//   create security group abusekit-quarantine
	// original groups kept for undo: 1
	// terminate first: true
	// snapshots: 2 completed
	// terminated: running -> terminated covered by 2 snapshots
}
