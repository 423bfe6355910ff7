package ec2

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// emu starts the emulator and returns it with real SDK clients built by New.
func emu(t testing.TB, opts ...ec2test.Option) (*ec2test.Server, *Clients, *awsec2.Client) {
	t.Helper()
	return emuWith(t, nil, opts...)
}

// emuWith lets a test adjust the client options (e.g. standard retry).
func emuWith(t testing.TB, fn func(*ClientOptions), opts ...ec2test.Option) (*ec2test.Server, *Clients, *awsec2.Client) {
	t.Helper()
	srv := ec2test.NewServer(opts...)
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	c := New(cfg, func(o *ClientOptions) {
		o.MaxBackoff = time.Second
		o.Backoff = retry.NewExponentialJitterBackoff(200 * time.Millisecond)
	}, fn)
	return srv, c, awsec2.NewFromConfig(cfg)
}

// fastOpts: waiters poll quickly, no dwell.
var fastOpts = []Option{WithPoll(20*time.Millisecond, 100*time.Millisecond), WithDwell(0), WithMaxWait(time.Minute)}

type world struct {
	vpc, subnet, ami string
	openSG           string   // 0.0.0.0/0 all traffic, like the seed incident
	infected         string   // the instance to act on: root + data volume
	neighbour        string   // another instance sharing openSG
	fleet            []string // extra instances (seedFleet)
}

// seed builds the seed incident in the emulator through the SDK: a group
// open to the world on all traffic, an infected instance with a root and a
// data volume, and a neighbour sharing the group.
func seed(t testing.TB, e *awsec2.Client) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{}
	vpcs, err := e.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vpcs.Vpcs {
		if aws.ToBool(v.IsDefault) {
			w.vpc = aws.ToString(v.VpcId)
		}
	}
	subs, err := e.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{w.vpc}}}})
	if err != nil || len(subs.Subnets) == 0 {
		t.Fatalf("subnets: %v", err)
	}
	w.subnet = aws.ToString(subs.Subnets[0].SubnetId)
	imgs, err := e.DescribeImages(ctx, &awsec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"al2023-*"}}}})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("images: %v", err)
	}
	w.ami = aws.ToString(imgs.Images[0].ImageId)
	sg, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("web-open"), Description: aws.String("launch-wizard-1"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	w.openSG = aws.ToString(sg.GroupId)
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
	}}); err != nil {
		t.Fatal(err)
	}
	w.infected = runInstance(t, e, w, "infected", true)
	w.neighbour = runInstance(t, e, w, "neighbour", false)
	return w
}

func runInstance(t testing.TB, e *awsec2.Client, w *world, name string, dataVolume bool) string {
	t.Helper()
	in := &awsec2.RunInstancesInput{
		ImageId: aws.String(w.ami), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(w.subnet), SecurityGroupIds: []string{w.openSG}, KeyName: aws.String("ops"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{tag("Name", name)}}},
	}
	if dataVolume {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(20), VolumeType: types.VolumeTypeGp3}}}
	}
	out, err := e.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

func seedFleet(t testing.TB, e *awsec2.Client, w *world, n int) {
	t.Helper()
	for len(w.fleet) < n {
		k := min(n-len(w.fleet), 100)
		out, err := e.RunInstances(context.Background(), &awsec2.RunInstancesInput{
			ImageId: aws.String(w.ami), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(int32(k)), MaxCount: aws.Int32(int32(k)),
			SubnetId: aws.String(w.subnet), SecurityGroupIds: []string{w.openSG},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range out.Instances {
			w.fleet = append(w.fleet, aws.ToString(i.InstanceId))
		}
	}
}

func getInstance(t testing.TB, e *awsec2.Client, id string) types.Instance {
	t.Helper()
	out, err := e.DescribeInstances(context.Background(), &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) == 0 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

func attr(t testing.TB, e *awsec2.Client, id string, a types.InstanceAttributeName) bool {
	t.Helper()
	out, err := e.DescribeInstanceAttribute(context.Background(), &awsec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: a})
	if err != nil {
		t.Fatal(err)
	}
	if a == types.InstanceAttributeNameDisableApiStop {
		return out.DisableApiStop != nil && aws.ToBool(out.DisableApiStop.Value)
	}
	return out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value)
}

func eniGroups(inst types.Instance) [][]string {
	var out [][]string
	for _, n := range inst.NetworkInterfaces {
		var g []string
		for _, x := range n.Groups {
			g = append(g, aws.ToString(x.GroupId))
		}
		slices.Sort(g)
		out = append(out, g)
	}
	return out
}

func countOps(srv *ec2test.Server, op string) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Operation == op && c.Error == "" {
			n++
		}
	}
	return n
}
