package ec2

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// An instance with an IPv6 address in a non-default VPC: contain makes
// the quarantine group there (whose default egress rule goes), denies
// both its IPv4 and its IPv6 address in the subnet's network ACL, records
// the IPv6 address, and undo removes the entries again.
func TestContainNonDefaultVPCWithIPv6(t *testing.T) {
	_, c, e := emu(t)
	ctx := context.Background()
	v, err := e.CreateVpc(ctx, &awsec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16"), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	vpc := aws.ToString(v.Vpc.VpcId)
	if len(v.Vpc.Ipv6CidrBlockAssociationSet) != 1 {
		t.Fatalf("vpc: %+v", v.Vpc)
	}
	v6 := aws.ToString(v.Vpc.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock) // a /56
	sub64 := v6[:len(v6)-len("00::/56")] + "01::/64"
	sn, err := e.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.20.1.0/24"), Ipv6CidrBlock: aws.String(sub64)})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := e.DescribeImages(ctx, &awsec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"al2023-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: imgs.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: sn.Subnet.SubnetId, Ipv6AddressCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	inst := getInstance(t, e, id)
	ip4 := aws.ToString(inst.PrivateIpAddress)
	if len(inst.NetworkInterfaces) != 1 || len(inst.NetworkInterfaces[0].Ipv6Addresses) != 1 {
		t.Fatalf("instance interfaces: %+v", inst.NetworkInterfaces)
	}
	ip6 := aws.ToString(inst.NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address)

	in := ContainInput{Incident: Incident{ID: "c-v6"}, InstanceIDs: []string{id}, NetworkACL: true}
	plan, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Groups[0].VPCID != vpc || plan.Instances[0].VPCID != vpc {
		t.Fatalf("plan in %s: %+v", vpc, plan.Groups)
	}
	var cidrs []string
	for _, x := range plan.Instances[0].NetworkACLEntries {
		cidrs = append(cidrs, x.CIDR)
	}
	slices.Sort(cidrs)
	want := []string{ip4 + "/32", ip4 + "/32", ip6 + "/128", ip6 + "/128"}
	slices.Sort(want)
	if d := cmp.Diff(want, cidrs); d != "" {
		t.Errorf("deny entries (both directions, both families):\n%s", d)
	}
	if got := plan.Records[0].Interfaces[0].IPv6; !cmp.Equal(got, []string{ip6}) {
		t.Errorf("record IPv6 = %v", got)
	}
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	q, err := findGroupByName(ctx, c.DescribeSecurityGroups, vpc, DefaultQuarantineGroup)
	if err != nil || q == nil {
		t.Fatalf("quarantine group in %s: %v", vpc, err)
	}
	if len(q.IpPermissions)+len(q.IpPermissionsEgress) != 0 {
		t.Errorf("quarantine group has rules: %+v", q.IpPermissionsEgress)
	}
	if d := cmp.Diff([][]string{{aws.ToString(q.GroupId)}}, eniGroups(getInstance(t, e, id))); d != "" {
		t.Errorf("groups:\n%s", d)
	}
	denies := func() int {
		out, err := e.DescribeNetworkAcls(ctx, &awsec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
		if err != nil || len(out.NetworkAcls) != 1 {
			t.Fatalf("acl: %v", err)
		}
		n := 0
		for _, x := range out.NetworkAcls[0].Entries {
			if x.RuleAction == types.RuleActionDeny && aws.ToInt32(x.RuleNumber) < 100 {
				n++
			}
		}
		return n
	}
	if n := denies(); n != 4 {
		t.Errorf("deny entries in the ACL after contain: %d, want 4", n)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if n := denies(); n != 0 {
		t.Errorf("deny entries after undo: %d", n)
	}
}
