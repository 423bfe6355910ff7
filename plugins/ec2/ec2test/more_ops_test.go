package ec2test_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func TestAccountLayout(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t, ec2test.WithRegion("eu-central-1"))
	sn, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{srv.DefaultVPC()}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sn.Subnets {
		got = append(got, *s.AvailabilityZone+" "+*s.CidrBlock)
	}
	want := []string{"eu-central-1a 172.31.0.0/20", "eu-central-1b 172.31.16.0/20", "eu-central-1c 172.31.32.0/20"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subnets (-want +got):\n%s", diff)
	}
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(imgs.Images) != 1 || *imgs.Images[0].Name != ec2test.ImageAmazonLinux2023 ||
		*imgs.Images[0].BlockDeviceMappings[0].Ebs.VolumeSize != 8 {
		t.Errorf("amazon images: %+v %v", imgs, err)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil || *sgs.SecurityGroups[0].GroupId != srv.DefaultSecurityGroup() ||
		*sgs.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0].GroupId != srv.DefaultSecurityGroup() {
		t.Errorf("default group: %+v %v", sgs, err)
	}
}

func TestAutoScalingAttachExitAndDelete(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.RetryMaxAttempts = 1
	as, lb := autoscaling.NewFromConfig(cfg), elb.NewFromConfig(cfg)
	ids, err := srv.AddInstances(3, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := srv.AddTargetGroup("app", 8080)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAutoScalingGroup("app", []string{tg}, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := as.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: aws.String("app"), InstanceIds: ids[1:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("app"), InstanceIds: ids[:1],
		ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = as.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("app"), InstanceIds: ids[:1],
		ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if code := apiCode(t, err); code != "ValidationError" {
		t.Errorf("standby twice: %s", code)
	}
	if _, err := as.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("app"), InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	st := srv.State()
	if diff := cmp.Diff(map[string]string{ids[0]: "InService", ids[1]: "InService", ids[2]: "InService"}, st.AutoScaling[0].Instances); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
	if st.AutoScaling[0].Desired != 3 || len(st.TargetGroups[0].Targets) != 3 {
		t.Errorf("desired %d, targets %v", st.AutoScaling[0].Desired, st.TargetGroups[0].Targets)
	}
	_, err = as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("app")})
	if code := apiCode(t, err); code != "ResourceInUse" {
		t.Errorf("delete non-empty group: %s", code)
	}
	_, err = lb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: &tg})
	if code := apiCode(t, err); code != "ResourceInUse" {
		t.Errorf("delete group's target group: %s", code)
	}
	if _, err := as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("app"), ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: &tg}); err != nil {
		t.Fatal(err)
	}
	for _, in := range srv.State().Instances {
		if in.State != "terminated" {
			t.Errorf("%s after force delete: %s", in.ID, in.State)
		}
	}
	_, err = as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(500)})
	if code := apiCode(t, err); code != "ValidationError" {
		t.Errorf("max records: %s", code)
	}
}

func TestCloudWatchAlarmStateAndActions(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.RetryMaxAttempts = 1
	cw := cloudwatch.NewFromConfig(cfg)
	dims := []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-0abc")}}
	for _, m := range []string{"NetworkOut", "NetworkPacketsOut", "CPUUtilization", "StatusCheckFailed"} {
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("i-0abc-" + m), MetricName: aws.String(m),
			Namespace: aws.String("AWS/EC2"), Statistic: cwtypes.StatisticMaximum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, Dimensions: dims,
			AlarmActions: []string{"arn:aws:sns:us-east-1:123456789012:soc"}}); err != nil {
			t.Fatal(err)
		}
	}
	fm, err := cw.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{MetricName: aws.String("CPUUtilization"), Namespace: aws.String("AWS/EC2"), Dimensions: dims})
	if err != nil || len(fm.MetricAlarms) != 1 {
		t.Fatalf("for metric: %+v %v", fm, err)
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("i-0abc-NetworkOut"), StateValue: cwtypes.StateValueAlarm,
		StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: []string{"i-0abc-CPUUtilization"}}); err != nil {
		t.Fatal(err)
	}
	inAlarm, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	if err != nil || len(inAlarm.MetricAlarms) != 1 || *inAlarm.MetricAlarms[0].AlarmName != "i-0abc-NetworkOut" {
		t.Errorf("in alarm: %+v %v", inAlarm, err)
	}
	var names []string
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("i-0abc-"), MaxRecords: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.MetricAlarms {
			names = append(names, *a.AlarmName+" "+map[bool]string{true: "on", false: "off"}[aws.ToBool(a.ActionsEnabled)])
		}
	}
	want := []string{"i-0abc-CPUUtilization off", "i-0abc-NetworkOut on", "i-0abc-NetworkPacketsOut on", "i-0abc-StatusCheckFailed on"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("alarms (-want +got):\n%s", diff)
	}
	if got := len(srv.State().Alarms); got != 4 {
		t.Errorf("state alarms: %d", got)
	}
	arn := aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:i-0abc-CPUUtilization")
	if _, err := cw.TagResource(ctx, &cloudwatch.TagResourceInput{ResourceARN: arn, Tags: []cwtypes.Tag{{Key: aws.String("Incident"), Value: aws.String("42")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: arn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Value != "42" {
		t.Errorf("tags: %+v %v", tags, err)
	}
	_, err = cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:nope")})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("missing alarm: %s", code)
	}
}
