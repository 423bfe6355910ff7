package ec2test_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func newEC2(t *testing.T, opts ...ec2test.Option) (*ec2test.Server, *ec2.Client) {
	t.Helper()
	srv := ec2test.NewServer(append([]ec2test.Option{ec2test.WithSeed(1)}, opts...)...)
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.RetryMaxAttempts = 1
	// Adaptive mode would slow the client down after each throttle; the
	// tests count raw server answers.
	cfg.RetryMode = aws.RetryModeStandard
	return srv, ec2.NewFromConfig(cfg)
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	return ae.ErrorCode()
}

func firstImage(t *testing.T, c *ec2.Client, name string) types.Image {
	t.Helper()
	out, err := c.DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{name}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 {
		t.Fatalf("images matching %q: %d", name, len(out.Images))
	}
	return out.Images[0]
}

func runOne(t *testing.T, c *ec2.Client, in *ec2.RunInstancesInput) types.Instance {
	t.Helper()
	if in.ImageId == nil {
		in.ImageId = firstImage(t, c, "al2023-*").ImageId
	}
	in.MinCount, in.MaxCount = aws.Int32(1), aws.Int32(1)
	out, err := c.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Instances[0]
}

func TestRunDescribeInstances(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	img := firstImage(t, c, "al2023-*")
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		KeyName:            aws.String("ops"),
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Name: aws.String("web")},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("Owner"), Value: aws.String("ops")}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(run.Instances); got != 2 {
		t.Fatalf("launched %d instances", got)
	}
	in := run.Instances[0]
	if in.State.Name != types.InstanceStateNamePending || aws.ToInt32(in.State.Code) != 0 {
		t.Errorf("state after RunInstances = %v", in.State)
	}
	desc, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*in.InstanceId}})
	if err != nil {
		t.Fatal(err)
	}
	got := desc.Reservations[0].Instances[0]
	if got.State.Name != types.InstanceStateNameRunning {
		t.Errorf("state = %s, want running", got.State.Name)
	}
	if diff := cmp.Diff([]types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}, got.Tags, ignoreNoSmithy()); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if aws.ToString(got.KeyName) != "ops" || got.InstanceType != types.InstanceTypeT3Micro {
		t.Errorf("key/type = %q/%q", aws.ToString(got.KeyName), got.InstanceType)
	}
	if got.IamInstanceProfile == nil || aws.ToString(got.IamInstanceProfile.Arn) != "arn:aws:iam::123456789012:instance-profile/web" {
		t.Errorf("profile = %+v", got.IamInstanceProfile)
	}
	if len(got.BlockDeviceMappings) != 1 || aws.ToString(got.BlockDeviceMappings[0].DeviceName) != "/dev/xvda" ||
		!aws.ToBool(got.BlockDeviceMappings[0].Ebs.DeleteOnTermination) {
		t.Errorf("block devices = %+v", got.BlockDeviceMappings)
	}
	if len(got.SecurityGroups) != 1 || aws.ToString(got.SecurityGroups[0].GroupName) != "default" {
		t.Errorf("groups = %+v", got.SecurityGroups)
	}
	if len(got.NetworkInterfaces) != 1 || aws.ToString(got.PrivateIpAddress) == "" || aws.ToString(got.PublicIpAddress) == "" {
		t.Errorf("network = %+v / %v / %v", got.NetworkInterfaces, got.PrivateIpAddress, got.PublicIpAddress)
	}
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{*in.InstanceId}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols.Volumes) != 1 || vols.Volumes[0].State != types.VolumeStateInUse || aws.ToInt32(vols.Volumes[0].Size) != 8 ||
		aws.ToString(vols.Volumes[0].Tags[0].Value) != "ops" {
		t.Errorf("volumes = %+v", vols.Volumes)
	}
	wantOps := []string{"DescribeImages", "RunInstances", "DescribeInstances", "DescribeVolumes"}
	if diff := cmp.Diff(wantOps, srv.Operations()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestDescribeInstancesErrors(t *testing.T) {
	ctx := context.Background()
	_, c := newEC2(t)
	for name, tc := range map[string]struct {
		in   *ec2.DescribeInstancesInput
		code string
	}{
		"not found":  {&ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}}, "InvalidInstanceID.NotFound"},
		"malformed":  {&ec2.DescribeInstancesInput{InstanceIds: []string{"i-nope"}}, "InvalidInstanceID.Malformed"},
		"max+ids":    {&ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}, MaxResults: aws.Int32(5)}, "InvalidParameterCombination"},
		"max range":  {&ec2.DescribeInstancesInput{MaxResults: aws.Int32(2)}, "InvalidParameterValue"},
		"bad filter": {&ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("no-such"), Values: []string{"x"}}}}, "InvalidParameterValue"},
		"dry run":    {&ec2.DescribeInstancesInput{DryRun: aws.Bool(true)}, "DryRunOperation"},
		"bad token":  {&ec2.DescribeInstancesInput{NextToken: aws.String("!!")}, "InvalidParameterValue"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.DescribeInstances(ctx, tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if got := apiCode(t, err); got != tc.code {
				t.Errorf("code = %s, want %s (%v)", got, tc.code, err)
			}
		})
	}
}

func TestDescribeInstancesPagination(t *testing.T) {
	ctx := context.Background()
	_, c := newEC2(t)
	img := firstImage(t, c, "debian-12-*")
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img.ImageId, MinCount: aws.Int32(23), MaxCount: aws.Int32(23)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	pages := 0
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5),
		Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				ids = append(ids, *in.InstanceId)
			}
		}
	}
	if len(ids) != 23 || pages != 5 {
		t.Fatalf("got %d instances in %d pages, want 23 in 5", len(ids), pages)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

func TestCreateSnapshotsPendingToCompleted(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	_, c := newEC2(t, ec2test.WithClock(clock), ec2test.WithSnapshotDelay(10*time.Minute))
	in := runOne(t, c, &ec2.RunInstancesInput{
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(100)}}},
		TagSpecifications:   []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("App"), Value: aws.String("db")}}}},
	})
	out, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: in.InstanceId},
		Description:           aws.String("incident 42"),
		CopyTagsFromSource:    types.CopyTagsFromSourceVolume,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("Incident"), Value: aws.String("42")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Snapshots) != 2 {
		t.Fatalf("snapshots = %d, want 2", len(out.Snapshots))
	}
	for _, s := range out.Snapshots {
		if s.State != types.SnapshotStatePending {
			t.Errorf("state = %s", s.State)
		}
		var keys []string
		for _, tg := range s.Tags {
			keys = append(keys, *tg.Key)
		}
		sort.Strings(keys)
		if diff := cmp.Diff([]string{"App", "Incident"}, keys); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	}
	ids := []string{*out.Snapshots[0].SnapshotId, *out.Snapshots[1].SnapshotId}
	now = now.Add(5 * time.Minute)
	d, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Snapshots {
		if s.State != types.SnapshotStatePending || aws.ToString(s.Progress) != "50%" {
			t.Errorf("mid-way: %s %s", s.State, aws.ToString(s.Progress))
		}
	}
	now = now.Add(5 * time.Minute)
	w := ec2.NewSnapshotCompletedWaiter(c, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay = time.Millisecond
		o.MaxDelay = time.Millisecond
	})
	if err := w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	d, err = c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("tag:Incident"), Values: []string{"42"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Snapshots) != 2 || d.Snapshots[0].State != types.SnapshotStateCompleted || aws.ToString(d.Snapshots[0].Progress) != "100%" {
		t.Errorf("after wait: %+v", d.Snapshots)
	}
	_, err = c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-0123456789abcdef0"}})
	if got := apiCode(t, err); got != "InvalidSnapshot.NotFound" {
		t.Errorf("code = %s", got)
	}
}

func TestSecurityGroups(t *testing.T) {
	ctx := context.Background()
	_, c := newEC2(t)
	cg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web servers")})
	if err != nil {
		t.Fatal(err)
	}
	gid := cg.GroupId
	perm := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}
	auth, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: gid, IpPermissions: []types.IpPermission{perm}})
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.SecurityGroupRules) != 1 || aws.ToString(auth.SecurityGroupRules[0].CidrIpv4) != "0.0.0.0/0" {
		t.Fatalf("rules = %+v", auth.SecurityGroupRules)
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: gid, IpPermissions: []types.IpPermission{perm}})
	if got := apiCode(t, err); got != "InvalidPermission.Duplicate" {
		t.Errorf("duplicate: %s", got)
	}
	d, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{*gid}})
	if err != nil {
		t.Fatal(err)
	}
	g := d.SecurityGroups[0]
	none := func(p types.IpPermission) types.IpPermission {
		p.Ipv6Ranges, p.PrefixListIds, p.UserIdGroupPairs = []types.Ipv6Range{}, []types.PrefixListId{}, []types.UserIdGroupPair{}
		return p
	}
	wantIn := []types.IpPermission{none(types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})}
	wantEg := []types.IpPermission{none(types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})}
	if diff := cmp.Diff(wantIn, g.IpPermissions, ignoreNoSmithy()); diff != "" {
		t.Errorf("ingress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEg, g.IpPermissionsEgress, ignoreNoSmithy()); diff != "" {
		t.Errorf("egress (-want +got):\n%s", diff)
	}
	if _, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: gid,
		SecurityGroupRuleIds: []string{*auth.SecurityGroupRules[0].SecurityGroupRuleId}}); err != nil {
		t.Fatal(err)
	}
	rules, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{*gid}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.SecurityGroupRules) != 1 || !aws.ToBool(rules.SecurityGroupRules[0].IsEgress) {
		t.Errorf("rules after revoke = %+v", rules.SecurityGroupRules)
	}
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	if got := apiCode(t, err); got != "InvalidGroup.NotFound" {
		t.Errorf("not found: %s", got)
	}
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*gid}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: []string{*gid}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || tags.Tags[0].ResourceType != types.ResourceTypeSecurityGroup {
		t.Errorf("tags = %+v", tags.Tags)
	}
}

func ignoreNoSmithy() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".noSmithyDocumentSerde"
	}, cmp.Ignore())
}
