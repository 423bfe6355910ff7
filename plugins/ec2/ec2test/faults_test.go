package ec2test_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestThrottlingTokenBucket(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	_, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
	count := func(n int, in *ec2.DescribeInstancesInput) (ok, throttled int) {
		t.Helper()
		for range n {
			_, err := c.DescribeInstances(ctx, in)
			switch {
			case err == nil:
				ok++
			case apiCode(t, err) == "RequestLimitExceeded":
				throttled++
			default:
				t.Fatal(err)
			}
		}
		return ok, throttled
	}
	// Unfiltered, unpaginated describes: bucket 50, refill 10/s.
	if ok, th := count(60, &ec2.DescribeInstancesInput{}); ok != 50 || th != 10 {
		t.Errorf("unfiltered burst: %d ok, %d throttled; want 50/10", ok, th)
	}
	// Filtered describes have their own bucket of 100.
	f := &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}}
	if ok, th := count(101, f); ok != 100 || th != 1 {
		t.Errorf("filtered burst: %d ok, %d throttled; want 100/1", ok, th)
	}
	clk.t = clk.t.Add(2 * time.Second)
	if ok, th := count(25, &ec2.DescribeInstancesInput{}); ok != 20 || th != 5 {
		t.Errorf("after 2s refill: %d ok, %d throttled; want 20/5", ok, th)
	}
	var re *smithyhttp.ResponseError
	_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Errorf("throttle status: %v", err)
	}
}

func TestRandomFaultsDeterministic(t *testing.T) {
	ctx := context.Background()
	run := func() []string {
		srv, c := newEC2(t, ec2test.WithSeed(42), ec2test.WithFaults(ec2test.Faults{ThrottleFraction: 0.3, ServerErrorFraction: 0.1}))
		for range 200 {
			c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}) //nolint:errcheck // the trace records the outcome
		}
		var out []string
		for _, call := range srv.Calls() {
			out = append(out, call.Error)
		}
		return out
	}
	a, b := run(), run()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different faults (-first +second):\n%s", diff)
	}
	n := map[string]int{}
	for _, e := range a {
		n[e]++
	}
	if n["RequestLimitExceeded"] < 35 || n["RequestLimitExceeded"] > 85 {
		t.Errorf("throttled %d of 200 at 30%%", n["RequestLimitExceeded"])
	}
	if srv5 := n["InternalError"] + n["ServiceUnavailable"]; srv5 == 0 || srv5 > 30 {
		t.Errorf("5xx %d of 200 at 10%%", srv5)
	}
	if n[""] == 0 {
		t.Error("no request succeeded")
	}
}

func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t, ec2test.WithFaults(ec2test.Faults{ServerErrorFraction: 1}))
	_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() < 500 {
		t.Fatalf("want a 5xx, got %v", err)
	}
	if code := apiCode(t, err); code != "InternalError" && code != "ServiceUnavailable" {
		t.Errorf("code %s", code)
	}
	srv.SetFaults(ec2test.Faults{})
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("after clearing faults: %v", err)
	}
}

func TestEventualConsistency(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	_, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithFaults(ec2test.Faults{EventualConsistency: 5 * time.Second}))
	in := runOne(t, c, &ec2.RunInstancesInput{})
	_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*in.InstanceId}})
	if code := apiCode(t, err); code != "InvalidInstanceID.NotFound" {
		t.Errorf("before: %s", code)
	}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*in.InstanceId}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if code := apiCode(t, err); code != "InvalidInstanceID.NotFound" {
		t.Errorf("tag before: %s", code)
	}
	all, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(all.Reservations) != 0 {
		t.Errorf("listing before: %v %v", all, err)
	}
	clk.t = clk.t.Add(5 * time.Second)
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*in.InstanceId}})
	if err != nil || out.Reservations[0].Instances[0].State.Name != types.InstanceStateNameRunning {
		t.Errorf("after: %v %v", out, err)
	}
}

func TestSnapshotErrorFault(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t, ec2test.WithFaults(ec2test.Faults{SnapshotErrorFraction: 1}))
	id, err := srv.AddInstance(ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: &id}})
	if err != nil {
		t.Fatal(err)
	}
	w := ec2.NewSnapshotCompletedWaiter(c, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, time.Millisecond
	})
	err = w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{*out.Snapshots[0].SnapshotId}}, 2*time.Second)
	if err == nil {
		t.Fatal("waiter succeeded on a failed snapshot")
	}
	if got := srv.State().Snapshots[0].State; got != "error" {
		t.Errorf("state %s", got)
	}
}

func TestSeedingAndState(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	sg, err := srv.AddSecurityGroup("legacy", "open ssh", "", ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(3, ec2test.InstanceSpec{ImageID: srv.ImageID(ec2test.ImageDebian12), SecurityGroupIDs: []string{sg},
		Tags: map[string]string{"Name": "web"}, DataVolumes: map[string]int32{"/dev/sdf": 20}, DisableAPITermination: true})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := srv.AddTargetGroup("web", 80, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAutoScalingGroup("web", []string{tg}, ids...); err != nil {
		t.Fatal(err)
	}
	if len(srv.Calls()) != 0 {
		t.Errorf("seeding left a trace: %v", srv.Calls())
	}
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
	if code := apiCode(t, err); code != "OperationNotPermitted" {
		t.Errorf("terminate protected: %s", code)
	}
	st := srv.State()
	if len(st.Instances) != 3 || st.Instances[0].State != "running" || len(st.Instances[0].VolumeIDs) != 2 ||
		!st.Instances[0].DisableAPITermination || st.Instances[0].Tags["Name"] != "web" {
		t.Errorf("instances = %+v", st.Instances)
	}
	if diff := cmp.Diff([]string{sg}, st.Instances[0].SecurityGroupIDs); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if len(st.AutoScaling) != 1 || len(st.AutoScaling[0].Instances) != 3 || st.AutoScaling[0].Desired != 3 {
		t.Errorf("asg = %+v", st.AutoScaling)
	}
	if len(st.TargetGroups) != 1 || len(st.TargetGroups[0].Targets) != 3 {
		t.Errorf("tgs = %+v", st.TargetGroups)
	}
	var legacy ec2test.SecurityGroupState
	for _, g := range st.SecurityGroups {
		if g.ID == sg {
			legacy = g
		}
	}
	want := []ec2test.Rule{
		{Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"},
		{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"},
	}
	for i := range legacy.Rules {
		legacy.Rules[i].ID = ""
	}
	if diff := cmp.Diff(want, legacy.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestResourceTokenBucket(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	limits := ec2test.DefaultRateLimits()
	limits[ec2test.ResourcePrefix+"RunInstances"] = ec2test.Bucket{Size: 10, Refill: 2}
	srv, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithRateLimits(limits), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
	img := aws.String(srv.ImageID(ec2test.ImageDebian12))
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img, MinCount: aws.Int32(8), MaxCount: aws.Int32(8)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img, MinCount: aws.Int32(3), MaxCount: aws.Int32(3)})
	if code := apiCode(t, err); code != "RequestResourceCountExceeded" {
		t.Fatalf("over the instance budget: %s", code)
	}
	clk.t = clk.t.Add(time.Second)
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img, MinCount: aws.Int32(3), MaxCount: aws.Int32(3)}); err != nil {
		t.Errorf("after refill: %v", err)
	}
	if got := len(srv.State().Instances); got != 11 {
		t.Errorf("instances %d, want 11", got)
	}
}

// A lost reply: the change is made, the caller sees InternalError.
func TestLostReply(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	srv.SetFaults(ec2test.Faults{LostReplyFraction: 1})
	_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("lost"), Description: aws.String("d"), VpcId: aws.String(srv.DefaultVPC())},
		func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalError" {
		t.Fatalf("err = %v, want InternalError", err)
	}
	srv.SetFaults(ec2test.Faults{})
	found := false
	for _, g := range srv.State().SecurityGroups {
		found = found || g.Name == "lost"
	}
	if !found {
		t.Error("the group was not created behind the lost reply")
	}
}

// Group names stay unique per VPC while eventual consistency hides the
// first group.
func TestGroupNameUniqueWhileHidden(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	srv.SetFaults(ec2test.Faults{EventualConsistency: time.Hour})
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String("q"), Description: aws.String("d"), VpcId: aws.String(srv.DefaultVPC())}
	if _, err := c.CreateSecurityGroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateSecurityGroup(ctx, in)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidGroup.Duplicate" {
		t.Fatalf("second group of the same name: %v, want InvalidGroup.Duplicate", err)
	}
}

// Revoking a rule that does not exist, in the default VPC: success, with
// the rule in UnknownIpPermissions.
func TestRevokeAbsentRuleDefaultVPC(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("r"), Description: aws.String("d"), VpcId: aws.String(srv.DefaultVPC())})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(out.Return) || len(out.UnknownIpPermissions) != 1 || aws.ToString(out.UnknownIpPermissions[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Errorf("revoke: return %v unknown %+v", aws.ToBool(out.Return), out.UnknownIpPermissions)
	}
}

// RunInstances has its own request bucket: 5, refill 2 per second.
func TestRunInstancesBucket(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	srv, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
	run := func(n int) (ok, throttled int) {
		for range n {
			_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(srv.ImageID(ec2test.ImageAmazonLinux2023)), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)},
				func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
			switch {
			case err == nil:
				ok++
			case apiCode(t, err) == "RequestLimitExceeded":
				throttled++
			default:
				t.Fatal(err)
			}
		}
		return ok, throttled
	}
	if ok, th := run(7); ok != 5 || th != 2 {
		t.Errorf("burst: %d ok, %d throttled; want 5/2", ok, th)
	}
	clk.t = clk.t.Add(time.Second)
	if ok, th := run(3); ok != 2 || th != 1 {
		t.Errorf("after 1s: %d ok, %d throttled; want 2/1", ok, th)
	}
}
