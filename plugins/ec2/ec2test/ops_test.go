package ec2test_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func TestInstanceLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	srv, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithInstanceDelays(time.Second, 2*time.Second, 3*time.Second),
		ec2test.WithStatusCheckDelay(time.Minute))
	in := runOne(t, c, &ec2.RunInstancesInput{BlockDeviceMappings: []types.BlockDeviceMapping{
		{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(50)}}}})
	id := *in.InstanceId
	state := func() string {
		t.Helper()
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Reservations[0].Instances[0].State.Name)
	}
	if got := state(); got != "pending" {
		t.Errorf("at launch: %s", got)
	}
	clk.t = clk.t.Add(time.Second)
	if got := state(); got != "running" {
		t.Errorf("after 1s: %s", got)
	}
	st, err := c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{id}})
	if err != nil || len(st.InstanceStatuses) != 1 || st.InstanceStatuses[0].InstanceStatus.Status != types.SummaryStatusInitializing {
		t.Fatalf("status: %+v %v", st, err)
	}
	clk.t = clk.t.Add(time.Minute)
	w := ec2.NewInstanceStatusOkWaiter(c, func(o *ec2.InstanceStatusOkWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, time.Millisecond
	})
	if err := w.Wait(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{id}}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Protection on, then stop and terminate are refused.
	for _, a := range []*ec2.ModifyInstanceAttributeInput{
		{InstanceId: &id, DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(true)}},
		{InstanceId: &id, DisableApiStop: &types.AttributeBooleanValue{Value: aws.Bool(true)}},
	} {
		if _, err := c.ModifyInstanceAttribute(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameDisableApiTermination})
	if err != nil || !aws.ToBool(attr.DisableApiTermination.Value) {
		t.Fatalf("attribute: %+v %v", attr, err)
	}
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if code := apiCode(t, err); code != "OperationNotPermitted" {
		t.Errorf("stop protected: %s", code)
	}
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if code := apiCode(t, err); code != "OperationNotPermitted" {
		t.Errorf("terminate protected: %s", code)
	}
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, DisableApiStop: &types.AttributeBooleanValue{Value: aws.Bool(false)}, DryRun: aws.Bool(true)})
	if code := apiCode(t, err); code != "DryRunOperation" {
		t.Errorf("dry run: %s", code)
	}
	for _, a := range []*ec2.ModifyInstanceAttributeInput{
		{InstanceId: &id, DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(false)}},
		{InstanceId: &id, DisableApiStop: &types.AttributeBooleanValue{Value: aws.Bool(false)}},
	} {
		if _, err := c.ModifyInstanceAttribute(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	stop, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if err != nil || stop.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopping ||
		stop.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Fatalf("stop: %+v %v", stop, err)
	}
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, InstanceType: &types.AttributeValue{Value: aws.String("m5.large")}})
	if code := apiCode(t, err); code != "IncorrectInstanceState" {
		t.Errorf("resize while stopping: %s", code)
	}
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameKernel, Value: aws.String("aki-1")})
	if code := apiCode(t, err); code != "UnsupportedOperation" {
		t.Errorf("modify kernel: %s", code)
	}
	clk.t = clk.t.Add(2 * time.Second)
	if got := state(); got != "stopped" {
		t.Errorf("after stop: %s", got)
	}
	if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Second)
	term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState.Name != types.InstanceStateNameShuttingDown {
		t.Fatalf("terminate: %+v %v", term, err)
	}
	clk.t = clk.t.Add(3 * time.Second)
	if got := state(); got != "terminated" {
		t.Errorf("after terminate: %s", got)
	}
	// The root volume went with the instance; the data volume stayed.
	var vols []string
	for _, v := range srv.State().Volumes {
		vols = append(vols, v.State)
	}
	if diff := cmp.Diff([]string{"available"}, vols); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	if code := apiCode(t, err); code != "IncorrectInstanceState" {
		t.Errorf("start terminated: %s", code)
	}
}

func TestSwapGroupsOnInstanceAndInterface(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	id, err := srv.AddInstance(ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := srv.AddSecurityGroup("quarantine", "no traffic", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, Groups: []string{q}}); err != nil {
		t.Fatal(err)
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{id}}}})
	if err != nil || len(enis.NetworkInterfaces) != 1 {
		t.Fatalf("enis: %+v %v", enis, err)
	}
	eni := enis.NetworkInterfaces[0]
	if len(eni.Groups) != 1 || *eni.Groups[0].GroupId != q || aws.ToString(eni.Attachment.InstanceId) != id {
		t.Errorf("eni groups = %+v", eni.Groups)
	}
	if _, err := c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: eni.NetworkInterfaceId,
		Groups: []string{srv.DefaultSecurityGroup(), q}}); err != nil {
		t.Fatal(err)
	}
	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameGroupSet})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range attr.Groups {
		got = append(got, *g.GroupId)
	}
	if diff := cmp.Diff([]string{srv.DefaultSecurityGroup(), q}, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, Groups: []string{"sg-0123456789abcdef0"}})
	if code := apiCode(t, err); code != "InvalidGroup.NotFound" {
		t.Errorf("unknown group: %s", code)
	}
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: &q})
	if code := apiCode(t, err); code != "DependencyViolation" {
		t.Errorf("delete in-use group: %s", code)
	}
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(srv.DefaultSecurityGroup())})
	if code := apiCode(t, err); code != "CannotDelete" {
		t.Errorf("delete default group: %s", code)
	}
}

func TestEgressRulesAndPermissionRevoke(t *testing.T) {
	ctx := context.Background()
	_, c := newEC2(t)
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("q"), Description: aws.String("quarantine"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("Incident"), Value: aws.String("1")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	allOut := types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}
	rev, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{allOut}})
	if err != nil || !aws.ToBool(rev.Return) || len(rev.RevokedSecurityGroupRules) != 1 {
		t.Fatalf("revoke egress: %+v %v", rev, err)
	}
	d, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("tag:Incident"), Values: []string{"1"}}}})
	if err != nil || len(d.SecurityGroups) != 1 || len(d.SecurityGroups[0].IpPermissionsEgress) != 0 || len(d.SecurityGroups[0].IpPermissions) != 0 {
		t.Fatalf("quarantine group: %+v %v", d, err)
	}
	// Default VPC: revoking a missing rule succeeds and lists it as unknown.
	again, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{allOut}})
	if err != nil || len(again.UnknownIpPermissions) != 1 || len(again.RevokedSecurityGroupRules) != 0 {
		t.Errorf("revoke missing: %+v %v", again, err)
	}
	if _, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("198.51.100.0/24")}}}}}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]types.IpPermission{
		"bad cidr":  {IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.1/8")}}},
		"bad ports": {IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(21), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}},
		"no proto":  {FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}},
	} {
		_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{p}})
		if code := apiCode(t, err); code != "InvalidParameterValue" && code != "MissingParameter" {
			t.Errorf("%s: %s", name, code)
		}
	}
}

func TestImagesFromSnapshotsAndInstances(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	id, err := srv.AddInstance(ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	vol := srv.State().Instances[0].VolumeIDs[0]
	snap, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: &vol, Description: aws.String("root")})
	if err != nil || snap.State != types.SnapshotStatePending {
		t.Fatalf("create snapshot: %+v %v", snap, err)
	}
	reg, err := c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("forensic-copy"), RootDeviceName: aws.String("/dev/xvda"),
		Architecture: types.ArchitectureValuesX8664, VirtualizationType: aws.String("hvm"), EnaSupport: aws.Bool(true),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: snap.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: &id, Name: aws.String("live-copy"), NoReboot: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, im := range imgs.Images {
		got[*im.ImageId] = *im.Name + " " + string(im.State) + " " + *im.BlockDeviceMappings[0].Ebs.SnapshotId
	}
	sn := srv.State().Snapshots
	want := map[string]string{*reg.ImageId: "forensic-copy available " + *snap.SnapshotId, *img.ImageId: "live-copy available " + sn[1].ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: reg.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil || len(run.Instances) != 1 {
		t.Fatalf("launch from registered image: %v", err)
	}
	_, err = c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("forensic-copy"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: snap.SnapshotId}}}})
	if code := apiCode(t, err); code != "InvalidAMIName.Duplicate" {
		t.Errorf("duplicate name: %s", code)
	}
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: snap.SnapshotId})
	if code := apiCode(t, err); code != "InvalidSnapshot.InUse" {
		t.Errorf("delete in-use snapshot: %s", code)
	}
	if _, err := c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: reg.ImageId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: snap.SnapshotId}); err != nil {
		t.Fatal(err)
	}
}

func TestLaunchTemplateAndIdempotency(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	sg, _ := srv.AddSecurityGroup("app", "app", "")
	lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("app"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(srv.ImageID(ec2test.ImageUbuntu2404)),
			InstanceType: types.InstanceTypeM5Large, KeyName: aws.String("ops"), SecurityGroupIds: []string{sg},
			IamInstanceProfile: &types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("app")},
			MetadataOptions:    &types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: types.LaunchTemplateHttpTokensStateRequired},
			TagSpecifications: []types.LaunchTemplateTagSpecificationRequest{{ResourceType: types.ResourceTypeInstance,
				Tags: []types.Tag{{Key: aws.String("Role"), Value: aws.String("app")}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	lts, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"app"}})
	if err != nil || len(lts.LaunchTemplates) != 1 || aws.ToInt64(lts.LaunchTemplates[0].LatestVersionNumber) != 1 {
		t.Fatalf("describe lt: %+v %v", lts, err)
	}
	vers, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId})
	if err != nil || len(vers.LaunchTemplateVersions) != 1 || aws.ToString(vers.LaunchTemplateVersions[0].LaunchTemplateData.KeyName) != "ops" ||
		vers.LaunchTemplateVersions[0].LaunchTemplateData.MetadataOptions.HttpTokens != types.LaunchTemplateHttpTokensStateRequired {
		t.Fatalf("versions: %+v %v", vers, err)
	}
	in := &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("incident-42-rebuild"),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("app"), Version: aws.String("$Latest")}}
	first, err := c.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got := first.Instances[0]
	if got.InstanceType != types.InstanceTypeM5Large || aws.ToString(got.KeyName) != "ops" || *got.SecurityGroups[0].GroupId != sg ||
		!strings.HasSuffix(aws.ToString(got.IamInstanceProfile.Arn), "instance-profile/app") || aws.ToString(got.Tags[0].Value) != "app" ||
		got.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("from template: %+v", got)
	}
	again, err := c.RunInstances(ctx, in)
	if err != nil || *again.Instances[0].InstanceId != *got.InstanceId || len(srv.State().Instances) != 1 {
		t.Errorf("replay made a second instance: %v", err)
	}
	in.InstanceType = types.InstanceTypeT3Nano
	_, err = c.RunInstances(ctx, in)
	if code := apiCode(t, err); code != "IdempotentParameterMismatch" {
		t.Errorf("changed replay: %s", code)
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), DryRun: aws.Bool(true),
		ImageId: aws.String(srv.ImageID(ec2test.ImageDebian12))})
	if code := apiCode(t, err); code != "DryRunOperation" {
		t.Errorf("dry run: %s", code)
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ImageId: aws.String("ami-0123456789abcdef0")})
	if code := apiCode(t, err); code != "InvalidAMIID.NotFound" {
		t.Errorf("unknown image: %s", code)
	}
}

func TestTagsAndPaginationAcrossTypes(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	ids, err := srv.AddInstances(12, ec2test.InstanceSpec{Tags: map[string]string{"Env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids[:2], Tags: []types.Tag{{Key: aws.String("Env")}}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	tp := ec2.NewDescribeTagsPaginator(c, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5), Filters: []types.Filter{
		{Name: aws.String("key"), Values: []string{"Env"}}, {Name: aws.String("resource-type"), Values: []string{"instance"}}}})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Tags)
	}
	if n != 10 {
		t.Errorf("tagged instances: %d, want 10", n)
	}
	nv := 0
	vp := ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
	for vp.HasMorePages() {
		out, err := vp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nv += len(out.Volumes)
	}
	if nv != 12 {
		t.Errorf("volumes: %d", nv)
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{"Env"}},
		{Name: aws.String("instance-id"), Values: []string{ids[2], ids[3], ids[0]}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(out.Reservations[0].Instances); got != 2 {
		t.Errorf("filtered: %d", got)
	}
}

// TestCloudWatchJSON speaks awsJson1_0, which some SDKs use for CloudWatch.
func TestCloudWatchJSON(t *testing.T) {
	srv := ec2test.NewServer()
	defer srv.Close()
	call := func(op, body string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+op)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %s", op, b)
		}
		return resp.StatusCode, m, resp.Header
	}
	code, _, _ := call("PutMetricAlarm", `{"AlarmName":"j","MetricName":"StatusCheckFailed","Namespace":"AWS/EC2","Statistic":"Maximum","Period":60,"EvaluationPeriods":2,"Threshold":1,"ComparisonOperator":"GreaterThanOrEqualToThreshold"}`)
	if code != 200 {
		t.Fatalf("put: %d", code)
	}
	code, out, _ := call("DescribeAlarms", `{"AlarmNamePrefix":"j"}`)
	alarms, _ := out["MetricAlarms"].([]any)
	if code != 200 || len(alarms) != 1 || alarms[0].(map[string]any)["Period"] != float64(60) {
		t.Errorf("describe: %d %v", code, out)
	}
	code, out, h := call("DeleteAlarms", `{"AlarmNames":["nope"]}`)
	if code != 400 || out["__type"] != "com.amazonaws.cloudwatch#ResourceNotFound" || h.Get("X-Amzn-Query-Error") != "ResourceNotFound;Sender" {
		t.Errorf("delete missing: %d %v %v", code, out, h)
	}
}

func TestInstanceMetadataOptions(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	in := runOne(t, c, &ec2.RunInstancesInput{ImageId: aws.String(srv.ImageID(ec2test.ImageDebian12))})
	if md := in.MetadataOptions; md == nil || md.HttpTokens != types.HttpTokensStateOptional || aws.ToInt32(md.HttpPutResponseHopLimit) != 1 {
		t.Fatalf("debian default: %+v", in.MetadataOptions)
	}
	in = runOne(t, c, &ec2.RunInstancesInput{ImageId: aws.String(srv.ImageID(ec2test.ImageDebian12)),
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(3)}})
	if md := in.MetadataOptions; md.HttpTokens != types.HttpTokensStateRequired || aws.ToInt32(md.HttpPutResponseHopLimit) != 3 ||
		md.HttpEndpoint != types.InstanceMetadataEndpointStateEnabled {
		t.Errorf("requested: %+v", md)
	}
	first := runOne(t, c, &ec2.RunInstancesInput{ImageId: aws.String(srv.ImageID(ec2test.ImageDebian12))})
	out, err := c.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: first.InstanceId, HttpTokens: types.HttpTokensStateRequired})
	if err != nil || out.InstanceMetadataOptions.State != types.InstanceMetadataOptionsStatePending {
		t.Fatalf("modify: %+v %v", out, err)
	}
	var got string
	for _, i := range srv.State().Instances {
		if i.ID == *first.InstanceId {
			got = i.MetadataHTTPTokens
		}
	}
	if got != "required" {
		t.Errorf("after modify: %q", got)
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(srv.ImageID(ec2test.ImageDebian12)), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: "sometimes"}})
	if code := apiCode(t, err); code != "InvalidParameterValue" {
		t.Errorf("bad tokens: %s", code)
	}
}

func TestForensicVolumeFromSnapshot(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	srv, c := newEC2(t, ec2test.WithClock(clk.now), ec2test.WithSnapshotDelay(time.Minute))
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{SubnetID: srv.DefaultSubnets()[0]})
	if err != nil {
		t.Fatal(err)
	}
	infected, forensic := ids[0], ids[1]
	snaps, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: &infected}})
	if err != nil {
		t.Fatal(err)
	}
	snap := snaps.Snapshots[0].SnapshotId
	_, err = c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: snap})
	if code := apiCode(t, err); code != "IncorrectState" {
		t.Errorf("volume from pending snapshot: %s", code)
	}
	clk.t = clk.t.Add(time.Minute)
	in := &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: snap, ClientToken: aws.String("ir-7-vol"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("Evidence"), Value: aws.String("7")}}}}}
	vol, err := c.CreateVolume(ctx, in)
	if err != nil || vol.State != types.VolumeStateCreating || aws.ToInt32(vol.Size) != 8 {
		t.Fatalf("create volume: %+v %v", vol, err)
	}
	again, err := c.CreateVolume(ctx, in)
	if err != nil || *again.VolumeId != *vol.VolumeId {
		t.Errorf("replay: %v %v", again, err)
	}
	w := ec2.NewVolumeAvailableWaiter(c, func(o *ec2.VolumeAvailableWaiterOptions) { o.MinDelay, o.MaxDelay = time.Millisecond, time.Millisecond })
	if err := w.Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{*vol.VolumeId}}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	att, err := c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: &forensic, Device: aws.String("/dev/sdz")})
	if err != nil || att.State != types.VolumeAttachmentStateAttaching {
		t.Fatalf("attach: %+v %v", att, err)
	}
	_, err = c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: &forensic, Device: aws.String("/dev/sdy")})
	if code := apiCode(t, err); code != "VolumeInUse" {
		t.Errorf("attach twice: %s", code)
	}
	_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId})
	if code := apiCode(t, err); code != "VolumeInUse" {
		t.Errorf("delete attached: %s", code)
	}
	var devs []string
	for _, i := range srv.State().Instances {
		if i.ID == forensic {
			devs = i.VolumeIDs
		}
	}
	if len(devs) != 2 || devs[1] != *vol.VolumeId {
		t.Errorf("forensic volumes: %v", devs)
	}
	if _, err := c.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: vol.VolumeId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId}); err != nil {
		t.Fatal(err)
	}
	root := srv.State().Instances[0].VolumeIDs[0]
	_, err = c.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: &root})
	if code := apiCode(t, err); code != "IncorrectState" {
		t.Errorf("detach running root: %s", code)
	}
}
