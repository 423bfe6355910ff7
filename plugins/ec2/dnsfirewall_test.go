package ec2

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/google/go-cmp/cmp"
)

// Contain associates the operator's DNS Firewall rule group with the
// instance's VPC, after the VPC's own rule groups; a re-plan finds it;
// Undo removes it and leaves the VPC's other association alone.
func TestContainDNSFirewall(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	other := srv.AddFirewallRuleGroup("corp-baseline")
	rr := r53r.NewFromConfig(srv.Config())
	if _, err := rr.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("corp"),
		FirewallRuleGroupId: aws.String(other), VpcId: aws.String(w.vpc), Priority: aws.Int32(101), Name: aws.String("corp")}); err != nil {
		t.Fatal(err)
	}
	block := srv.AddFirewallRuleGroup("block-all")
	in := ContainInput{Incident: Incident{ID: "c-dns"}, InstanceIDs: []string{w.infected}, DNSFirewallRuleGroupID: block}
	plan, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]DNSFirewallPlan{{VPCID: w.vpc, RuleGroupID: block, Priority: 102}}, plan.DNSFirewall); d != "" {
		t.Errorf("dns firewall plan:\n%s", d)
	}
	if !slices.Contains(plan.Notes, NoteDNSFirewall) {
		t.Errorf("notes: %q", plan.Notes)
	}
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{other, block}
	slices.Sort(want)
	if d := cmp.Diff(map[string][]string{w.vpc: want}, srv.FirewallAssociations()); d != "" {
		t.Errorf("associations after contain:\n%s", d)
	}
	if len(undo.DNSFirewallAssociations) != 1 {
		t.Errorf("undo record: %+v", undo.DNSFirewallAssociations)
	}
	again, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if again.DNSFirewall[0].AssociationID != undo.DNSFirewallAssociations[0] {
		t.Errorf("re-plan: %+v", again.DNSFirewall)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string][]string{w.vpc: {other}}, srv.FirewallAssociations()); d != "" {
		t.Errorf("associations after undo:\n%s", d)
	}
}
