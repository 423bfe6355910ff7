package ec2test_test

import (
	"context"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
)

// DNS Firewall associations through the SDK: CreatorRequestId
// idempotency, unique priorities and rule groups per VPC, EC2-style
// not-found errors.
func TestDNSFirewallAssociations(t *testing.T) {
	srv := ec2test.NewServer(ec2test.WithSeed(10))
	defer srv.Close()
	rr := r53r.NewFromConfig(srv.Config())
	ctx := context.Background()
	g, err := rr.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{Name: aws.String("block"), CreatorRequestId: aws.String("g")})
	if err != nil {
		t.Fatal(err)
	}
	gid := g.FirewallRuleGroup.Id
	vpc := aws.String(srv.DefaultVPC())
	assoc := func(req string, prio int32, group *string) (*r53r.AssociateFirewallRuleGroupOutput, error) {
		return rr.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String(req), FirewallRuleGroupId: group,
			VpcId: vpc, Priority: aws.Int32(prio), Name: aws.String("n")})
	}
	a, err := assoc("r1", 101, gid)
	if err != nil {
		t.Fatal(err)
	}
	again, err := assoc("r1", 101, gid) // a retry: the same association
	if err != nil || aws.ToString(again.FirewallRuleGroupAssociation.Id) != aws.ToString(a.FirewallRuleGroupAssociation.Id) {
		t.Errorf("retry: %v %+v", err, again)
	}
	other := srv.AddFirewallRuleGroup("other")
	for _, tc := range []struct {
		req   string
		prio  int32
		group *string
		code  string
	}{
		{"r2", 102, gid, "ConflictException"},                // the group is associated already
		{"r3", 101, aws.String(other), "ConflictException"},  // priority taken
		{"r4", 50, aws.String(other), "ValidationException"}, // out of range
		{"r5", 103, aws.String("rslvr-frg-0000000000000000"), "ResourceNotFoundException"},
	} {
		if _, err := assoc(tc.req, tc.prio, tc.group); errCode(err) != tc.code {
			t.Errorf("%s: code %q, want %q", tc.req, errCode(err), tc.code)
		}
	}
	list, err := rr.ListFirewallRuleGroupAssociations(ctx, &r53r.ListFirewallRuleGroupAssociationsInput{VpcId: vpc})
	if err != nil || len(list.FirewallRuleGroupAssociations) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	if _, err := rr.DisassociateFirewallRuleGroup(ctx, &r53r.DisassociateFirewallRuleGroupInput{FirewallRuleGroupAssociationId: a.FirewallRuleGroupAssociation.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := rr.DisassociateFirewallRuleGroup(ctx, &r53r.DisassociateFirewallRuleGroupInput{FirewallRuleGroupAssociationId: a.FirewallRuleGroupAssociation.Id}); errCode(err) != "ResourceNotFoundException" {
		t.Errorf("second disassociate: %v", err)
	}
}
