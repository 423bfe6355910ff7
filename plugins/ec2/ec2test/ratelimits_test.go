package ec2test_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// Every EC2 action the emulator serves, in the category AWS's published
// throttling table puts it ("Request throttling for the Amazon EC2 API",
// read 2026-12-07), written out by hand from that table, and the bucket
// it draws on.
func TestRateLimitCategoryOfEachServedAction(t *testing.T) {
	const (
		nm  = ec2test.CategoryNonMutating
		mut = ec2test.CategoryMutating
		ri  = ec2test.CategoryResourceHeavy
		unc = ec2test.CategoryUncategorized
	)
	want := map[string]string{
		"AssociateIamInstanceProfile": unc, "AssociateRouteTable": mut, "AttachVolume": mut,
		"AuthorizeSecurityGroupEgress": mut, "AuthorizeSecurityGroupIngress": ri,
		"CreateImage": mut, "CreateLaunchTemplate": mut, "CreateNetworkAclEntry": mut,
		"CreateRoute": mut, "CreateRouteTable": mut, "CreateSecurityGroup": mut,
		"CreateSnapshot": unc, "CreateSnapshots": unc, "CreateSubnet": mut, "CreateTags": unc,
		"CreateVolume": unc, "CreateVpc": mut, "DeleteNetworkAclEntry": mut,
		"DeleteSecurityGroup": mut, "DeleteSnapshot": unc, "DeleteTags": unc, "DeleteVolume": unc,
		"DeregisterImage": unc, "DescribeAvailabilityZones": nm,
		"DescribeIamInstanceProfileAssociations": nm, "DescribeImages": nm,
		"DescribeInstanceAttribute": nm, "DescribeInstanceStatus": nm, "DescribeInstances": nm,
		"DescribeLaunchTemplateVersions": nm, "DescribeLaunchTemplates": nm, "DescribeNetworkAcls": nm,
		"DescribeNetworkInterfaces": nm, "DescribeRouteTables": nm, "DescribeSecurityGroupRules": nm,
		"DescribeSecurityGroups": nm, "DescribeSnapshots": nm, "DescribeSubnets": nm,
		"DescribeTags": nm, "DescribeVolumes": nm, "DescribeVpcs": nm, "DetachVolume": mut,
		"DisassociateIamInstanceProfile": unc, "ModifyInstanceAttribute": mut,
		"ModifyInstanceMetadataOptions": unc, "ModifyNetworkInterfaceAttribute": unc,
		"RegisterImage": mut, "RevokeSecurityGroupEgress": mut, "RevokeSecurityGroupIngress": ri,
		"RunInstances": unc, "StartInstances": unc, "StopInstances": mut, "TerminateInstances": unc,
	}
	// Without filter or pagination, the table's seven named actions (six
	// of them served) move to the smaller bucket; the rest stay put.
	wantUnfiltered := map[string]string{}
	for a, c := range want {
		wantUnfiltered[a] = c
	}
	for _, a := range []string{"DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces",
		"DescribeSecurityGroups", "DescribeSnapshots", "DescribeVolumes"} {
		wantUnfiltered[a] = ec2test.CategoryUnfiltered
	}
	// Buckets AWS gives by name (uncategorized) or, for StopInstances,
	// by category (mutating): the numbers the issue names.
	wantBuckets := map[string]ec2test.Bucket{
		"RunInstances": {Size: 5, Refill: 2}, "StartInstances": {Size: 5, Refill: 2},
		"TerminateInstances": {Size: 100, Refill: 5}, "StopInstances": {Size: 50, Refill: 5},
		"CreateTags": {Size: 100, Refill: 10}, "CreateSnapshots": {Size: 100, Refill: 5},
		"ModifyInstanceAttribute": {Size: 50, Refill: 5}, "AuthorizeSecurityGroupIngress": {Size: 50, Refill: 5},
		"DescribeVpcs": {Size: 100, Refill: 20},
	}
	srv := ec2test.NewServer()
	defer srv.Close()
	limits := ec2test.DefaultRateLimits()
	got, gotUnf := map[string]string{}, map[string]string{}
	gotBuckets := map[string]ec2test.Bucket{}
	var others []string
	for a, svc := range ec2test.KnownActions {
		if svc != "ec2" {
			if c := ec2test.Category(svc, a, false); c != ec2test.CategoryOther {
				t.Errorf("%s/%s: category %q, want %q", svc, a, c, ec2test.CategoryOther)
			}
			others = append(others, a)
			continue
		}
		if !srv.ServesEC2(a) {
			t.Errorf("%s is listed as served but has no handler", a)
		}
		got[a] = ec2test.Category("ec2", a, false)
		gotUnf[a] = ec2test.Category("ec2", a, true)
		b, ok := limits[a]
		if !ok {
			b, ok = limits[got[a]]
		}
		if !ok || b.Size <= 0 || b.Refill <= 0 {
			t.Errorf("%s: no bucket in DefaultRateLimits (%+v)", a, b)
		}
		if _, ok := wantBuckets[a]; ok {
			gotBuckets[a] = b
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantUnfiltered, gotUnf); diff != "" {
		t.Errorf("categories without filter or pagination (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBuckets, gotBuckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if len(others) == 0 {
		t.Error("no other-service actions seen")
	}
	wantRes := map[string]ec2test.Bucket{
		"RunInstances": {Size: 1000, Refill: 2}, "TerminateInstances": {Size: 1000, Refill: 20},
		"StartInstances": {Size: 1000, Refill: 2}, "StopInstances": {Size: 1000, Refill: 20},
	}
	gotRes := map[string]ec2test.Bucket{}
	for a := range wantRes {
		gotRes[a] = limits[ec2test.ResourcePrefix+a]
	}
	if diff := cmp.Diff(wantRes, gotRes); diff != "" {
		t.Errorf("resource buckets (-want +got):\n%s", diff)
	}
}

// A burst beyond each category's bucket is answered RequestLimitExceeded
// through the real SDK; one second of refill lets exactly the refill rate
// through again; buckets are per action and per Region.
func TestRateLimitBurstAndRefillSDK(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)}
	srv, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
	vpc := aws.String(srv.DefaultVPC())
	absentSG := aws.String("sg-0123456789abcdef0")
	absentI := []string{"i-0123456789abcdef0"}
	calls := map[string]func(*ec2.Client) error{
		// non-mutating 100/20 (DescribeVpcs is not among the seven:
		// unfiltered it keeps the larger bucket)
		"DescribeVpcs": func(c *ec2.Client) error { _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); return err },
		// unfiltered non-mutating 50/10
		"DescribeSecurityGroups": func(c *ec2.Client) error {
			_, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
			return err
		},
		// the same action filtered: non-mutating 100/20, a bucket apart
		"DescribeSecurityGroups/filtered": func(c *ec2.Client) error {
			_, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{*vpc}}}})
			return err
		},
		// mutating 50/5
		"DeleteSecurityGroup": func(c *ec2.Client) error {
			_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: absentSG})
			return err
		},
		// resource-intensive 50/5
		"AuthorizeSecurityGroupIngress": func(c *ec2.Client) error {
			_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: absentSG,
				IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
					IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}})
			return err
		},
		// uncategorized: StartInstances 5/2, CreateTags 100/10
		"StartInstances": func(c *ec2.Client) error {
			_, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: absentI})
			return err
		},
		"CreateTags": func(c *ec2.Client) error {
			_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: absentI, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		},
	}
	want := map[string]ec2test.Bucket{
		"DescribeVpcs": {Size: 100, Refill: 20}, "DescribeSecurityGroups": {Size: 50, Refill: 10},
		"DescribeSecurityGroups/filtered": {Size: 100, Refill: 20}, "DeleteSecurityGroup": {Size: 50, Refill: 5},
		"AuthorizeSecurityGroupIngress": {Size: 50, Refill: 5}, "StartInstances": {Size: 5, Refill: 2},
		"CreateTags": {Size: 100, Refill: 10},
	}
	// passed counts the calls not throttled (the absent ids make most of
	// them fail with a NotFound code: that is not a throttle).
	passed := func(c *ec2.Client, f func(*ec2.Client) error, n int) int {
		t.Helper()
		ok := 0
		for range n {
			err := f(c)
			if err == nil || apiCode(t, err) != "RequestLimitExceeded" {
				ok++
			}
		}
		return ok
	}
	got := map[string]ec2test.Bucket{}
	for name, f := range calls {
		// Drain: one call more than any bucket holds.
		size := passed(c, f, 101)
		got[name] = ec2test.Bucket{Size: float64(size)}
	}
	clk.t = clk.t.Add(time.Second)
	for name, f := range calls {
		b := got[name]
		b.Refill = float64(passed(c, f, 21))
		got[name] = b
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("burst size and one second's refill per action (-want +got):\n%s", diff)
	}

	// Per Region: StartInstances is drained in us-east-1, not in eu-west-1.
	cfg := srv.Config()
	cfg.Region = "eu-west-1"
	cfg.RetryMaxAttempts = 1
	cfg.RetryMode = aws.RetryModeStandard
	eu := ec2.NewFromConfig(cfg)
	if n := passed(eu, calls["StartInstances"], 6); n != 5 {
		t.Errorf("eu-west-1 StartInstances: %d of 6 passed, want 5 (own Region's bucket)", n)
	}
	err := calls["StartInstances"](c)
	if code := apiCode(t, err); code != "RequestLimitExceeded" {
		t.Errorf("us-east-1 StartInstances after the eu-west-1 burst: %v, want RequestLimitExceeded", err)
	}
}

// The AWS CLI v2 sees the same buckets: with StartInstances' bucket (5,
// refill 2 per second) drained, the CLI's call is refused with
// RequestLimitExceeded (its own retries find the bucket still empty: the
// clock stands still); one second later the call gets through to the
// handler (which answers NotFound for the absent instance).
func TestRateLimitAWSCLI(t *testing.T) {
	needCLI(t)
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	srv, c := newEC2(t, ec2test.WithClock(clock), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
	absent := "i-0123456789abcdef0"
	for i := range 5 {
		_, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{absent}})
		if code := apiCode(t, err); code == "RequestLimitExceeded" {
			t.Fatalf("SDK call %d throttled inside the burst of 5", i+1)
		}
	}
	cliCode := func() string {
		t.Helper()
		err := awsRun(t, srv.URL, nil, "ec2", "start-instances", "--instance-ids", absent)
		var ce *cliError
		if !errors.As(err, &ce) {
			t.Fatalf("aws ec2 start-instances on an absent instance: %v, want an error", err)
		}
		for _, code := range []string{"RequestLimitExceeded", "InvalidInstanceID.NotFound"} {
			if strings.Contains(ce.stderr, "("+code+")") {
				return code
			}
		}
		t.Fatalf("aws ec2 start-instances: unexpected error %s", ce.stderr)
		return ""
	}
	if code := cliCode(); code != "RequestLimitExceeded" {
		t.Errorf("CLI call after the burst: %s, want RequestLimitExceeded", code)
	}
	now.Add(int64(time.Second))
	if code := cliCode(); code != "InvalidInstanceID.NotFound" {
		t.Errorf("CLI call after 1 s of refill: %s, want InvalidInstanceID.NotFound (not throttled)", code)
	}
}

// Which DescribeInstances calls draw on the smaller unfiltered bucket (50)
// and which on the non-mutating one (100): AWS names filters and
// pagination; ids alone do not move a call (see ratelimits.go).
func TestRateLimitUnfilteredBucket(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		in   *ec2.DescribeInstancesInput
		want int
	}{
		{"none", &ec2.DescribeInstancesInput{}, 50},
		{"ids", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}}, 50},
		{"filter", &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}}, 100},
		{"MaxResults", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)}, 100},
		{"NextToken", &ec2.DescribeInstancesInput{NextToken: aws.String("0")}, 100},
	}
	got, want := map[string]int{}, map[string]int{}
	for _, tc := range cases {
		clk := &fakeClock{time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)}
		_, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithFaults(ec2test.Faults{Throttle: true}))
		n := 0
		for range 101 {
			_, err := c.DescribeInstances(ctx, tc.in)
			if err == nil || apiCode(t, err) != "RequestLimitExceeded" {
				n++
			}
		}
		got[tc.name], want[tc.name] = n, tc.want
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls let through of 101 (-want +got):\n%s", diff)
	}
}

// RateLimits.For: an entry by name, else the category's; EC2's
// uncategorized names do not capture other services' actions of the same
// name (Auto Scaling's DeleteTags).
func TestRateLimitsFor(t *testing.T) {
	l := ec2test.DefaultRateLimits()
	type q struct {
		svc, action string
		unf         bool
	}
	in := []q{{"ec2", "DeleteTags", false}, {"autoscaling", "DeleteTags", false}, {"ec2", "DescribeInstances", true},
		{"ec2", "DescribeInstances", false}, {"ec2", "StopInstances", false}, {"ec2", "RunInstances", true}}
	want := map[q]ec2test.Bucket{
		in[0]: {Size: 100, Refill: 10}, in[1]: {Size: 100, Refill: 20}, in[2]: {Size: 50, Refill: 10},
		in[3]: {Size: 100, Refill: 20}, in[4]: {Size: 50, Refill: 5}, in[5]: {Size: 5, Refill: 2},
	}
	got := map[q]ec2test.Bucket{}
	for _, x := range in {
		b, ok := l.For(x.svc, x.action, x.unf)
		if !ok {
			t.Errorf("%+v: no bucket", x)
		}
		got[x] = b
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("For (-want +got):\n%s", diff)
	}
}
