package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Rule is one security group rule, flattened: one source per rule.
type Rule struct {
	Direction    string `json:"direction"` // "ingress" or "egress"
	Protocol     string `json:"protocol"`  // "-1" (all), "tcp", "udp", "icmp", "icmpv6" or a number
	FromPort     int32  `json:"from_port"`
	ToPort       int32  `json:"to_port"`
	CIDR         string `json:"cidr,omitempty"`           // IPv4 or IPv6 CIDR
	GroupID      string `json:"group_id,omitempty"`       // source/destination security group
	PrefixListID string `json:"prefix_list_id,omitempty"` // managed prefix list
	Description  string `json:"description,omitempty"`
}

func (r Rule) String() string {
	src := r.CIDR
	if r.GroupID != "" {
		src = r.GroupID
	}
	if r.PrefixListID != "" {
		src = r.PrefixListID
	}
	ports := "all"
	if r.Protocol != "-1" && r.Protocol != "all" {
		ports = fmt.Sprintf("%s %d-%d", r.Protocol, r.FromPort, r.ToPort)
	}
	return fmt.Sprintf("%s %s %s", r.Direction, ports, src)
}

func (r Rule) key() string {
	return strings.Join([]string{r.Direction, normProto(r.Protocol), fmt.Sprint(r.FromPort), fmt.Sprint(r.ToPort), r.CIDR, r.GroupID, r.PrefixListID}, "|")
}

func normProto(p string) string {
	switch strings.ToLower(p) {
	case "-1", "all", "":
		return "-1"
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	}
	return strings.ToLower(p)
}

// rulesOf flattens a group's permissions.
func rulesOf(dir string, perms []types.IpPermission) []Rule {
	var out []Rule
	for _, p := range perms {
		base := Rule{Direction: dir, Protocol: normProto(aws.ToString(p.IpProtocol)), FromPort: aws.ToInt32(p.FromPort), ToPort: aws.ToInt32(p.ToPort)}
		if base.Protocol == "-1" {
			base.FromPort, base.ToPort = 0, 0
		}
		for _, r := range p.IpRanges {
			x := base
			x.CIDR, x.Description = aws.ToString(r.CidrIp), aws.ToString(r.Description)
			out = append(out, x)
		}
		for _, r := range p.Ipv6Ranges {
			x := base
			x.CIDR, x.Description = aws.ToString(r.CidrIpv6), aws.ToString(r.Description)
			out = append(out, x)
		}
		for _, r := range p.UserIdGroupPairs {
			x := base
			x.GroupID, x.Description = aws.ToString(r.GroupId), aws.ToString(r.Description)
			out = append(out, x)
		}
		for _, r := range p.PrefixListIds {
			x := base
			x.PrefixListID, x.Description = aws.ToString(r.PrefixListId), aws.ToString(r.Description)
			out = append(out, x)
		}
	}
	return out
}

func groupRules(g types.SecurityGroup) []Rule {
	return append(rulesOf("ingress", g.IpPermissions), rulesOf("egress", g.IpPermissionsEgress)...)
}

// permission turns a rule back into the SDK shape.
func (r Rule) permission() types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(normProto(r.Protocol))}
	if normProto(r.Protocol) != "-1" {
		p.FromPort, p.ToPort = aws.Int32(r.FromPort), aws.Int32(r.ToPort)
	}
	var desc *string
	if r.Description != "" {
		desc = aws.String(r.Description)
	}
	switch {
	case r.GroupID != "":
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(r.GroupID), Description: desc}}
	case r.PrefixListID != "":
		p.PrefixListIds = []types.PrefixListId{{PrefixListId: aws.String(r.PrefixListID), Description: desc}}
	case strings.Contains(r.CIDR, ":"):
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(r.CIDR), Description: desc}}
	default:
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.CIDR), Description: desc}}
	}
	return p
}

func permissions(rs []Rule) []types.IpPermission {
	out := make([]types.IpPermission, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.permission())
	}
	return out
}

func allTraffic(dir, cidr string) Rule {
	return Rule{Direction: dir, Protocol: "-1", CIDR: cidr}
}

func passthroughRules() []Rule {
	return []Rule{allTraffic("ingress", "0.0.0.0/0"), allTraffic("ingress", "::/0"), allTraffic("egress", "0.0.0.0/0"), allTraffic("egress", "::/0")}
}

func findGroupByName(ctx context.Context, api DescribeSecurityGroupsAPI, vpc, name string) (*types.SecurityGroup, error) {
	gs, err := describeGroups(ctx, api, []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("group-name"), Values: []string{name}},
	})
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if aws.ToString(g.GroupName) == name && aws.ToString(g.VpcId) == vpc {
			return &g, nil
		}
	}
	return nil, nil
}

func planRoleGroup(ctx context.Context, c *Clients, vpc, role, name string, want []Rule) (GroupPlan, error) {
	gp := GroupPlan{VPCID: vpc, Role: role, Name: name, Rules: want}
	g, err := findGroupByName(ctx, c.DescribeSecurityGroups, vpc, name)
	if err != nil {
		return gp, stepErr(stepContain, "DescribeSecurityGroups", vpc+"/"+name, err)
	}
	if g == nil {
		return gp, nil
	}
	gp.GroupID = aws.ToString(g.GroupId)
	have := groupRules(*g)
	switch role {
	case RoleQuarantine:
		gp.Converge = have // all of them go
	case RoleQuarantineSSM:
		gp.Converge = extraRules(have, want) // all but the SSM egress go
	case RolePassthrough:
		present := map[string]bool{}
		for _, r := range have {
			present[r.key()] = true
		}
		for _, r := range passthroughRules() {
			if !present[r.key()] {
				gp.Converge = append(gp.Converge, r)
			}
		}
	}
	return gp, nil
}

// ensureRoleGroup creates the group if the plan says so (idempotent by name
// per VPC) and brings its rules to exactly what its role needs.
func ensureRoleGroup(ctx context.Context, c *Clients, inc Incident, gp GroupPlan) (id string, created bool, err error) {
	id = gp.GroupID
	converge := gp.Converge
	if id == "" {
		desc := "abusekit: no traffic in or out (incident containment)"
		if gp.Role == RoleQuarantineSSM {
			desc = "abusekit: nothing in, HTTPS out to the SSM endpoints only (incident containment)"
		}
		if gp.Role == RolePassthrough {
			desc = "abusekit: all traffic, transient (turns tracked connections untracked before quarantine)"
		}
		id, created, err = createGroup(ctx, c, stepContain, gp.VPCID, gp.Name, desc, inc.tags(stepContain, tag(TagRole, gp.Role)))
		if err != nil {
			return "", false, err
		}
		if gp.Role == RolePassthrough {
			converge = []Rule{allTraffic("ingress", "0.0.0.0/0"), allTraffic("ingress", "::/0"), allTraffic("egress", "::/0")}
		}
	}
	if gp.Role == RoleQuarantine || gp.Role == RoleQuarantineSSM {
		// Whatever the plan saw, the group may have been created or
		// changed since (by anyone who may edit groups): read it back,
		// revoke every rule it should not have (all, for the plain
		// quarantine group), add the SSM egress it lacks, and read it
		// again until it is exactly that.
		var want []Rule
		if gp.Role == RoleQuarantineSSM {
			want = gp.Rules
		}
		return id, created, convergeGroup(ctx, c, id, gp.VPCID, want)
	}
	for _, r := range converge {
		if err := authorize(ctx, c, stepContain, id, r); err != nil {
			return id, created, err
		}
	}
	return id, created, nil
}

const (
	defaultConvergeDelay = 200 * time.Millisecond
	maxConvergeDelay     = 5 * time.Second
)

// createGroup creates a security group, or finds the one a previous attempt
// created (CreateSecurityGroup is unique by name per VPC).
func createGroup(ctx context.Context, c *Clients, step, vpc, name, desc string, tags []types.Tag) (string, bool, error) {
	out, err := c.CreateSecurityGroup.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(desc), VpcId: aws.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: tags}},
	})
	if err == nil {
		return aws.ToString(out.GroupId), true, nil
	}
	if errCode(err) != "InvalidGroup.Duplicate" {
		return "", false, stepErr(step, "CreateSecurityGroup", vpc+"/"+name, err)
	}
	// Created earlier (maybe by this very call, retried): find it, allowing
	// for eventual consistency.
	delay := 200 * time.Millisecond
	for range 10 {
		g, derr := findGroupByName(ctx, c.DescribeSecurityGroups, vpc, name)
		if derr != nil {
			return "", false, stepErr(step, "DescribeSecurityGroups", vpc+"/"+name, derr)
		}
		if g != nil {
			return aws.ToString(g.GroupId), false, nil
		}
		if err := sleep(ctx, delay); err != nil {
			return "", false, stepErr(step, "DescribeSecurityGroups", vpc+"/"+name, err)
		}
		delay = min(delay*2, 5*time.Second)
	}
	return "", false, stepErr(step, "CreateSecurityGroup", vpc+"/"+name, errf("%w: group reported duplicate but not visible", ErrNotFound))
}

func authorize(ctx context.Context, c *Clients, step, gid string, r Rule) error {
	var err error
	if r.Direction == "egress" {
		_, err = c.AuthorizeSecurityGroupEgress.AuthorizeSecurityGroupEgress(ctx, &awsec2.AuthorizeSecurityGroupEgressInput{
			GroupId: aws.String(gid), IpPermissions: []types.IpPermission{r.permission()}}, retryCodes("InvalidGroup.NotFound"))
	} else {
		_, err = c.AuthorizeSecurityGroupIngress.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(gid), IpPermissions: []types.IpPermission{r.permission()}}, retryCodes("InvalidGroup.NotFound"))
	}
	if err != nil && errCode(err) != "InvalidPermission.Duplicate" {
		op := "AuthorizeSecurityGroupIngress"
		if r.Direction == "egress" {
			op = "AuthorizeSecurityGroupEgress"
		}
		return stepErr(step, op, gid+" "+r.String(), err)
	}
	return nil
}

func revoke(ctx context.Context, c *Clients, step, gid string, r Rule) error {
	var err error
	r.Description = "" // revoke matches without descriptions
	if r.Direction == "egress" {
		_, err = c.RevokeSecurityGroupEgress.RevokeSecurityGroupEgress(ctx, &awsec2.RevokeSecurityGroupEgressInput{
			GroupId: aws.String(gid), IpPermissions: []types.IpPermission{r.permission()}}, retryCodes("InvalidGroup.NotFound"))
	} else {
		_, err = c.RevokeSecurityGroupIngress.RevokeSecurityGroupIngress(ctx, &awsec2.RevokeSecurityGroupIngressInput{
			GroupId: aws.String(gid), IpPermissions: []types.IpPermission{r.permission()}}, retryCodes("InvalidGroup.NotFound"))
	}
	if err != nil && errCode(err) != "InvalidPermission.NotFound" {
		op := "RevokeSecurityGroupIngress"
		if r.Direction == "egress" {
			op = "RevokeSecurityGroupEgress"
		}
		return stepErr(step, op, gid+" "+r.String(), err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func need(step string, clients ...any) error {
	for _, c := range clients {
		if c == nil {
			return &StepError{Step: step, Err: ErrMissingClient}
		}
		if v := reflect.ValueOf(c); v.Kind() == reflect.Pointer && v.IsNil() {
			return &StepError{Step: step, Err: ErrMissingClient}
		}
	}
	return nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// openWorld reports whether cidr is 0.0.0.0/0 or ::/0.
func openWorld(cidr string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	return err == nil && p.Bits() == 0
}

func sortRules(rs []Rule) {
	sort.Slice(rs, func(a, b int) bool { return rs[a].key() < rs[b].key() })
}
