package ec2plugin

import (
	"context"
	"errors"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// A launch-template fleet at its minimum size: containing one instance
// without a replacement is refused with ec2.ErrASGMinSize on the host
// (over the plugin transport); allow_asg_replacement lets it through; and
// rebuild takes the launch template by name.
func TestAutoScalingAndLaunchTemplate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	setAWSEnv(t, w.srv)
	cfg := w.srv.Config()
	e, as := awsec2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg)
	lt, err := e.CreateLaunchTemplate(ctx, &awsec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(w.srv.ImageID(ec2test.ImageDebian12)), InstanceType: types.InstanceTypeT3Small}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"),
		MinSize: aws.Int32(2), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(2),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
		AvailabilityZones: []string{w.srv.Region() + "a"}}); err != nil {
		t.Fatal(err)
	}
	g, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil || len(g.AutoScalingGroups[0].Instances) != 2 {
		t.Fatalf("group: %+v %v", g, err)
	}
	victim := aws.ToString(g.AutoScalingGroups[0].Instances[0].InstanceId)

	spec := plugintest.Serve(t, "ec2", NewPlugin())
	contain := func(allow bool) error {
		pb, err := playbook.New("contain", playbook.Step{ID: "contain", Plugin: "ec2", Action: "contain", Input: map[string]any{
			"instance_id": victim, "endpoint": w.srv.URL, "dwell": "0s", "allow_asg_replacement": allow}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = runPlaybook(t, pb, incidentID, spec, nil)
		return err
	}
	if err := contain(false); !errors.Is(err, ec2.ErrASGMinSize) {
		t.Fatalf("err = %v, want ec2.ErrASGMinSize on the host", err)
	}
	if st := w.instance(t, victim); st.DisableAPITermination {
		t.Error("refused contain changed the instance")
	}
	if err := contain(true); err != nil {
		t.Fatal(err)
	}

	c := fast
	c.Endpoint = w.srv.URL
	rebuilt, err := plugintest.Apply[RebuildOutput](ctx, NewPlugin()["rebuild"], RebuildInput{Common: c, InstanceID: victim,
		LaunchTemplate: &ec2.LaunchTemplateRef{Name: "web"}, SecurityGroupIDs: []string{w.srv.DefaultSecurityGroup()}})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.instance(t, rebuilt.InstanceID); n.InstanceType != "t3.small" || n.ImageID != w.srv.ImageID(ec2test.ImageDebian12) || n.MetadataHTTPTokens != "required" {
		t.Errorf("replacement: %+v", n)
	}
}
