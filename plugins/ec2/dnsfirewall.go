package ec2

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53rtypes "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
)

// AssociateFirewallRuleGroupAPI is the subset of *route53resolver.Client for AssociateFirewallRuleGroup.
type AssociateFirewallRuleGroupAPI interface {
	AssociateFirewallRuleGroup(context.Context, *r53r.AssociateFirewallRuleGroupInput, ...func(*r53r.Options)) (*r53r.AssociateFirewallRuleGroupOutput, error)
}

// ListFirewallRuleGroupAssociationsAPI is the subset of *route53resolver.Client for ListFirewallRuleGroupAssociations.
type ListFirewallRuleGroupAssociationsAPI interface {
	ListFirewallRuleGroupAssociations(context.Context, *r53r.ListFirewallRuleGroupAssociationsInput, ...func(*r53r.Options)) (*r53r.ListFirewallRuleGroupAssociationsOutput, error)
}

// DisassociateFirewallRuleGroupAPI is the subset of *route53resolver.Client for DisassociateFirewallRuleGroup.
type DisassociateFirewallRuleGroupAPI interface {
	DisassociateFirewallRuleGroup(context.Context, *r53r.DisassociateFirewallRuleGroupInput, ...func(*r53r.Options)) (*r53r.DisassociateFirewallRuleGroupOutput, error)
}

// DNSFirewallPlan is the association of the operator's Route 53 Resolver
// DNS Firewall rule group with one VPC of the plan.
type DNSFirewallPlan struct {
	VPCID       string `json:"vpc_id"`
	RuleGroupID string `json:"rule_group_id"`
	Priority    int32  `json:"priority"`
	// AssociationID: already associated (nothing to do).
	AssociationID string `json:"association_id,omitempty"`
}

// NoteDNSFirewall is the note of a plan that associates a DNS Firewall
// rule group: it filters the whole VPC's queries, not only the instance's.
const NoteDNSFirewall = "the DNS Firewall rule group filters the DNS queries of every instance in the VPC, not only the contained one"

// planDNSFirewall plans the association of group with each VPC: nothing
// where it is associated already, else the lowest priority above every
// association the VPC has (DNS Firewall evaluates lower priorities first;
// unique per VPC, 100 to 9900).
func planDNSFirewall(ctx context.Context, c *Clients, group string, vpcs []string) ([]DNSFirewallPlan, error) {
	if err := need(stepContain, c.ListFirewallRuleGroupAssociations, c.AssociateFirewallRuleGroup); err != nil {
		return nil, err
	}
	var out []DNSFirewallPlan
	for _, v := range vpcs {
		p := DNSFirewallPlan{VPCID: v, RuleGroupID: group, Priority: 101}
		pg := r53r.NewListFirewallRuleGroupAssociationsPaginator(c.ListFirewallRuleGroupAssociations, &r53r.ListFirewallRuleGroupAssociationsInput{VpcId: aws.String(v)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, stepErr(stepContain, "ListFirewallRuleGroupAssociations", v, err)
			}
			for _, a := range page.FirewallRuleGroupAssociations {
				if a.Status == r53rtypes.FirewallRuleGroupAssociationStatusDeleting {
					continue
				}
				if aws.ToString(a.FirewallRuleGroupId) == group {
					p.AssociationID = aws.ToString(a.Id)
				}
				if pr := aws.ToInt32(a.Priority); pr >= p.Priority {
					p.Priority = pr + 1
				}
			}
		}
		if p.AssociationID == "" && p.Priority > 9900 {
			return nil, &StepError{Step: stepContain, Resource: v, Err: errf("%w: no DNS Firewall priority left in %s", ErrInvalidInput, v)}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].VPCID < out[b].VPCID })
	return out, nil
}

// associateDNSFirewall associates the rule group with each VPC the plan
// names (idempotent by CreatorRequestId) and returns the new association ids.
func associateDNSFirewall(ctx context.Context, c *Clients, inc Incident, plans []DNSFirewallPlan) ([]string, error) {
	var ids []string
	for _, p := range plans {
		if p.AssociationID != "" {
			continue
		}
		out, err := c.AssociateFirewallRuleGroup.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{
			CreatorRequestId: aws.String(Token(inc.ID, stepContain, "dnsfw|"+p.VPCID)), FirewallRuleGroupId: aws.String(p.RuleGroupID),
			// No Tags: tagging on create would also need
			// route53resolver:TagResource; the name carries the incident.
			VpcId: aws.String(p.VPCID), Priority: aws.Int32(p.Priority), Name: aws.String(fmt.Sprintf("abusekit-%s", short(inc.ID))),
		})
		if err != nil {
			return ids, stepErr(stepContain, "AssociateFirewallRuleGroup", p.VPCID, err)
		}
		if out.FirewallRuleGroupAssociation != nil {
			ids = append(ids, aws.ToString(out.FirewallRuleGroupAssociation.Id))
		}
	}
	return ids, nil
}

// disassociateDNSFirewall removes the associations Contain made.
func disassociateDNSFirewall(ctx context.Context, c *Clients, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := need(stepUndo, c.DisassociateFirewallRuleGroup); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := c.DisassociateFirewallRuleGroup.DisassociateFirewallRuleGroup(ctx, &r53r.DisassociateFirewallRuleGroupInput{
			FirewallRuleGroupAssociationId: aws.String(id)}); err != nil && errCode(err) != "ResourceNotFoundException" {
			return stepErr(stepUndo, "DisassociateFirewallRuleGroup", id, err)
		}
	}
	return nil
}
