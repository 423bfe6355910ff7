package ec2test_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The default network ACL through the SDK: found by subnet, entries
// added and deleted, and the errors EC2 answers.
func TestNetworkACLs(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	subnet := srv.DefaultSubnets()[0]
	find := func() types.NetworkAcl {
		t.Helper()
		out, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
		if err != nil || len(out.NetworkAcls) != 1 {
			t.Fatalf("describe: %+v %v", out, err)
		}
		return out.NetworkAcls[0]
	}
	acl := find()
	if aws.ToString(acl.VpcId) != srv.DefaultVPC() || !aws.ToBool(acl.IsDefault) || len(acl.Entries) != 4 {
		t.Fatalf("default ACL: %+v", acl)
	}
	entry := &ec2.CreateNetworkAclEntryInput{NetworkAclId: acl.NetworkAclId, RuleNumber: aws.Int32(1), Egress: aws.Bool(true),
		Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny, CidrBlock: aws.String("172.31.0.10/32")}
	if _, err := c.CreateNetworkAclEntry(ctx, entry); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNetworkAclEntry(ctx, entry); code(err) != "NetworkAclEntryAlreadyExists" {
		t.Errorf("duplicate: %v", err)
	}
	got := find()
	var deny *types.NetworkAclEntry
	for i, e := range got.Entries {
		if aws.ToInt32(e.RuleNumber) == 1 && aws.ToBool(e.Egress) {
			deny = &got.Entries[i]
		}
	}
	if deny == nil || deny.RuleAction != types.RuleActionDeny || aws.ToString(deny.CidrBlock) != "172.31.0.10/32" {
		t.Errorf("entry: %+v", got.Entries)
	}
	if _, err := c.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: acl.NetworkAclId, RuleNumber: aws.Int32(1), Egress: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: acl.NetworkAclId, RuleNumber: aws.Int32(1), Egress: aws.Bool(true)}); code(err) != "InvalidNetworkAclEntry.NotFound" {
		t.Errorf("delete again: %v", err)
	}
	if len(find().Entries) != 4 {
		t.Errorf("entries after delete: %+v", find().Entries)
	}
	bad := *entry
	bad.CidrBlock = aws.String("172.31.0.10/16")
	if _, err := c.CreateNetworkAclEntry(ctx, &bad); code(err) != "InvalidParameterValue" {
		t.Errorf("unmasked cidr: %v", err)
	}
}
