package ec2test_test

import (
	"context"
	"errors"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Route tables through the SDK: the default VPC's main table (local and
// the internet gateway), a table of a subnet's own with NAT, transit
// gateway and GWLB endpoint routes, and EC2's errors.
func TestRouteTables(t *testing.T) {
	srv := ec2test.NewServer(ec2test.WithSeed(7))
	defer srv.Close()
	e := awsec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	vpcs, err := e.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	vpc := aws.ToString(vpcs.Vpcs[0].VpcId)
	main, err := e.DescribeRouteTables(ctx, &awsec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(main.RouteTables) != 1 || len(main.RouteTables[0].Routes) != 2 || aws.ToString(main.RouteTables[0].Routes[0].GatewayId) != "local" ||
		aws.ToString(main.RouteTables[0].Routes[1].DestinationCidrBlock) != "0.0.0.0/0" || !aws.ToBool(main.RouteTables[0].Associations[0].Main) {
		t.Fatalf("main table = %+v", main.RouteTables)
	}
	rt, err := e.CreateRouteTable(ctx, &awsec2.CreateRouteTableInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	id := rt.RouteTable.RouteTableId
	for _, r := range []awsec2.CreateRouteInput{
		{RouteTableId: id, DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String("nat-0123456789abcdef0")},
		{RouteTableId: id, DestinationCidrBlock: aws.String("10.0.0.0/8"), TransitGatewayId: aws.String("tgw-0123456789abcdef0")},
		{RouteTableId: id, DestinationIpv6CidrBlock: aws.String("::/0"), VpcEndpointId: aws.String("vpce-0123456789abcdef0")},
	} {
		if _, err := e.CreateRoute(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	subnet := srv.DefaultSubnets()[0]
	if _, err := e.AssociateRouteTable(ctx, &awsec2.AssociateRouteTableInput{RouteTableId: id, SubnetId: aws.String(subnet)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.DescribeRouteTables(ctx, &awsec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil {
		t.Fatal(err)
	}
	type r struct{ Dest, GW, NAT, TGW string }
	var routes []r
	for _, x := range got.RouteTables[0].Routes {
		routes = append(routes, r{aws.ToString(x.DestinationCidrBlock) + aws.ToString(x.DestinationIpv6CidrBlock), aws.ToString(x.GatewayId), aws.ToString(x.NatGatewayId), aws.ToString(x.TransitGatewayId)})
	}
	want := []r{{"172.31.0.0/16", "local", "", ""}, {"0.0.0.0/0", "", "nat-0123456789abcdef0", ""}, {"10.0.0.0/8", "", "", "tgw-0123456789abcdef0"}, {"::/0", "vpce-0123456789abcdef0", "", ""}}
	if len(got.RouteTables) != 1 || aws.ToString(got.RouteTables[0].Associations[0].SubnetId) != subnet {
		t.Fatalf("tables = %+v", got.RouteTables)
	}
	if d := cmp.Diff(want, routes); d != "" {
		t.Errorf("routes:\n%s", d)
	}
	for _, tc := range []struct {
		call func() error
		code string
	}{
		{func() error {
			_, err := e.CreateRoute(ctx, &awsec2.CreateRouteInput{RouteTableId: id, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String("igw-0123456789abcdef0")})
			return err
		}, "RouteAlreadyExists"},
		{func() error {
			_, err := e.CreateRoute(ctx, &awsec2.CreateRouteInput{RouteTableId: id, DestinationCidrBlock: aws.String("10.1.0.0/16")})
			return err
		}, "InvalidParameterCombination"},
		{func() error {
			_, err := e.AssociateRouteTable(ctx, &awsec2.AssociateRouteTableInput{RouteTableId: id, SubnetId: aws.String(subnet)})
			return err
		}, "Resource.AlreadyAssociated"},
		{func() error {
			_, err := e.DescribeRouteTables(ctx, &awsec2.DescribeRouteTablesInput{RouteTableIds: []string{"rtb-00000000000000000"}})
			return err
		}, "InvalidRouteTableID.NotFound"},
	} {
		if code := errCode(tc.call()); code != tc.code {
			t.Errorf("code = %q, want %q", code, tc.code)
		}
	}
}

// Spot and instance-store-backed instances: what EC2 refuses for them.
func TestSpotAndInstanceStore(t *testing.T) {
	srv := ec2test.NewServer(ec2test.WithSeed(8))
	defer srv.Close()
	e := awsec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	imgs, err := e.DescribeImages(ctx, &awsec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"al2023-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: imgs.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceMarketOptions: &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot}})
	if err != nil {
		t.Fatal(err)
	}
	spot := aws.ToString(run.Instances[0].InstanceId)
	store, err := srv.AddInstance(ec2test.InstanceSpec{InstanceStoreRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{spot, store}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			got[aws.ToString(i.InstanceId)] = string(i.InstanceLifecycle) + "/" + string(i.RootDeviceType)
		}
	}
	if d := cmp.Diff(map[string]string{spot: "spot/ebs", store: "/instance-store"}, got); d != "" {
		t.Errorf("lifecycle/root device type:\n%s", d)
	}
	on := &types.AttributeBooleanValue{Value: aws.Bool(true)}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"spot termination protection", func() error {
			_, err := e.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{InstanceId: aws.String(spot), DisableApiTermination: on})
			return err
		}, "UnsupportedOperation"},
		{"spot stop protection", func() error {
			_, err := e.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{InstanceId: aws.String(spot), DisableApiStop: on})
			return err
		}, "UnsupportedOperation"},
		{"instance-store stop protection", func() error {
			_, err := e.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{InstanceId: aws.String(store), DisableApiStop: on})
			return err
		}, "UnsupportedOperation"},
		{"instance-store termination protection", func() error {
			_, err := e.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{InstanceId: aws.String(store), DisableApiTermination: on})
			return err
		}, ""},
		{"instance-store stop", func() error {
			_, err := e.StopInstances(ctx, &awsec2.StopInstancesInput{InstanceIds: []string{store}})
			return err
		}, "UnsupportedOperation"},
		{"instance-store shutdown behaviour stop", func() error {
			_, err := e.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{InstanceId: aws.String(store), InstanceInitiatedShutdownBehavior: &types.AttributeValue{Value: aws.String("stop")}})
			return err
		}, "UnsupportedOperation"},
	} {
		if code := errCode(tc.call()); code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.code)
		}
	}
}

// CreateVpc and CreateSubnet through the SDK, with EC2's range checks.
func TestCreateVpcAndSubnet(t *testing.T) {
	srv := ec2test.NewServer(ec2test.WithSeed(9))
	defer srv.Close()
	e := awsec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	v, err := e.CreateVpc(ctx, &awsec2.CreateVpcInput{CidrBlock: aws.String("10.40.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpc := v.Vpc.VpcId
	groups, err := e.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{*vpc}}}})
	if err != nil || len(groups.SecurityGroups) != 1 || aws.ToString(groups.SecurityGroups[0].GroupName) != "default" {
		t.Errorf("the new VPC's groups: %+v %v", groups, err)
	}
	for _, tc := range []struct {
		call func() error
		code string
	}{
		{func() error {
			_, err := e.CreateVpc(ctx, &awsec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/8")})
			return err
		}, "InvalidVpc.Range"},
		{func() error {
			_, err := e.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpc, CidrBlock: aws.String("10.41.0.0/24")})
			return err
		}, "InvalidSubnet.Range"},
		{func() error {
			_, err := e.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpc, CidrBlock: aws.String("10.40.0.0/24"), Ipv6CidrBlock: aws.String("2600:1f18::/64")})
			return err
		}, "InvalidSubnet.Range"}, // the VPC has no IPv6 block
		{func() error {
			_, err := e.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpc, CidrBlock: aws.String("10.40.0.0/24")})
			return err
		}, ""},
		{func() error {
			_, err := e.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpc, CidrBlock: aws.String("10.40.0.0/25")})
			return err
		}, "InvalidSubnet.Conflict"},
	} {
		if code := errCode(tc.call()); code != tc.code {
			t.Errorf("code %q, want %q", code, tc.code)
		}
	}
}
