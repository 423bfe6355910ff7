package ec2test_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func TestAutoScalingAndTargetGroups(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	srv := ec2test.NewServer(ec2test.WithSeed(7), ec2test.WithClock(func() time.Time { return now }),
		ec2test.WithTargetDelays(0, 5*time.Minute))
	defer srv.Close()
	cfg := srv.Config()
	cfg.RetryMaxAttempts = 1
	c, as, lb := ec2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg), elb.NewFromConfig(cfg)

	img := firstImage(t, c, "ubuntu/*")
	lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Small}})
	if err != nil {
		t.Fatal(err)
	}
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("default vpc: %v %v", vpcs, err)
	}
	tgOut, err := lb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("web"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: vpcs.Vpcs[0].VpcId})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tgOut.TargetGroups[0].TargetGroupArn
	if _, err := as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"),
		MinSize: aws.Int32(1), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(2),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
		AvailabilityZones: []string{"us-east-1a"}, TargetGroupARNs: []string{*tgARN}}); err != nil {
		t.Fatal(err)
	}
	groups, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	g := groups.AutoScalingGroups[0]
	if len(g.Instances) != 2 || aws.ToInt32(g.DesiredCapacity) != 2 || g.Instances[0].LifecycleState != asgtypes.LifecycleStateInService {
		t.Fatalf("group = %+v", g)
	}
	victim, other := *g.Instances[0].InstanceId, *g.Instances[1].InstanceId
	asi, err := as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{victim}})
	if err != nil || len(asi.AutoScalingInstances) != 1 || aws.ToString(asi.AutoScalingInstances[0].AutoScalingGroupName) != "web" {
		t.Fatalf("asg instances: %+v %v", asi, err)
	}
	health := func() map[string]string {
		t.Helper()
		h, err := lb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tgARN})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, d := range h.TargetHealthDescriptions {
			m[*d.Target.Id] = string(d.TargetHealth.State)
		}
		return m
	}
	if diff := cmp.Diff(map[string]string{victim: "healthy", other: "healthy"}, health()); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
	sb, err := as.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web"), InstanceIds: []string{victim},
		ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if err != nil || len(sb.Activities) != 1 {
		t.Fatalf("standby: %+v %v", sb, err)
	}
	if diff := cmp.Diff(map[string]string{victim: "draining", other: "healthy"}, health()); diff != "" {
		t.Errorf("health after standby (-want +got):\n%s", diff)
	}
	now = now.Add(6 * time.Minute)
	if diff := cmp.Diff(map[string]string{other: "healthy"}, health()); diff != "" {
		t.Errorf("health after draining (-want +got):\n%s", diff)
	}
	if _, err := as.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("web"), InstanceIds: []string{victim},
		ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	groups, err = as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := groups.AutoScalingGroups[0]; len(g.Instances) != 1 || aws.ToInt32(g.DesiredCapacity) != 1 {
		t.Errorf("after detach: desired %d, %d instances", aws.ToInt32(g.DesiredCapacity), len(g.Instances))
	}
	_, err = as.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("web"), InstanceIds: []string{victim},
		ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if got := apiCode(t, err); got != "ValidationError" {
		t.Errorf("detach again: %s", got)
	}
	// Without decrement the group launches a replacement.
	if _, err := as.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("web"), InstanceIds: []string{other},
		ShouldDecrementDesiredCapacity: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	groups, _ = as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if g := groups.AutoScalingGroups[0]; len(g.Instances) != 1 || *g.Instances[0].InstanceId == other {
		t.Errorf("no replacement: %+v", g.Instances)
	}
	// Direct target registration.
	if _, err := lb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: aws.String(victim)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: aws.String(victim)}}}); err != nil {
		t.Fatal(err)
	}
	_, err = lb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0")})
	if got := apiCode(t, err); got != "TargetGroupNotFound" {
		t.Errorf("missing tg: %s", got)
	}
	tgs, err := lb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"web"}})
	if err != nil || len(tgs.TargetGroups) != 1 || aws.ToInt32(tgs.TargetGroups[0].Port) != 80 {
		t.Fatalf("describe tg: %+v %v", tgs, err)
	}
}
