package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// RoleQuarantineSSM is the TagRole value of the quarantine group Contain
// uses when host steps go over SSM Run Command: nothing in, and out only
// HTTPS (tcp 443) to the Systems Manager endpoints the operator named.
const RoleQuarantineSSM = "quarantine-ssm"

// SSMGroupSuffix is appended to the quarantine group's name for the
// SSM-only variant (abusekit-quarantine-ssm by default).
const SSMGroupSuffix = "-ssm"

// isContainRole reports whether a TagRole value names one of Contain's own groups.
func isContainRole(r string) bool {
	return r == RoleQuarantine || r == RoleQuarantineSSM || r == RolePassthrough
}

// NoteSSMNoEndpoint is the note of a plan whose host steps go over SSM
// (ContainInput.HostStepsOverSSM) but names no endpoint to reach.
const NoteSSMNoEndpoint = "host steps go over SSM Run Command, but no SSM endpoint was given (ContainInput.SSMEndpointGroupIDs, SSMPrefixListIDs): " +
	"the quarantine group admits no egress at all, so the SSM agent cannot reach Systems Manager and every host step will time out; " +
	"name the security group of the VPC's interface endpoints for ssm, ssmmessages and ec2messages (and S3's prefix list for the staged binary)"

// NoteSSMCredentials is the note of a plan whose host steps go over SSM
// and that removes an instance profile or revokes its role's sessions.
const NoteSSMCredentials = "the SSM agent takes its credentials from the instance profile unless Default Host Management Configuration is on: " +
	"removing the profile or revoking its role's sessions can take the instance out of Systems Manager (host steps then time out); " +
	"turn on Default Host Management Configuration, or keep the profile (KeepInstanceProfile) and accept the risk of its credentials"

// ssmEgress is the SSM part of a contain plan: which endpoint groups are
// in which VPC, and the groups themselves (for their ingress rules).
type ssmEgress struct {
	prefixLists []string
	groups      map[string]types.SecurityGroup // endpoint group id -> group
}

// planSSMEgress reads the endpoint groups the operator named. A group
// that does not exist is an error (a typo would leave SSM unreachable).
func planSSMEgress(ctx context.Context, c *Clients, in ContainInput) (*ssmEgress, error) {
	ids := dedupe(in.SSMEndpointGroupIDs)
	pls := dedupe(in.SSMPrefixListIDs)
	for _, id := range ids {
		if !strings.HasPrefix(id, "sg-") {
			return nil, &StepError{Step: stepContain, Resource: id, Err: errf("%w: SSM endpoint group %q is not a security group id (sg-…)", ErrInvalidInput, id)}
		}
	}
	for _, id := range pls {
		if !strings.HasPrefix(id, "pl-") {
			return nil, &StepError{Step: stepContain, Resource: id, Err: errf("%w: SSM prefix list %q is not a prefix list id (pl-…)", ErrInvalidInput, id)}
		}
	}
	e := &ssmEgress{prefixLists: pls, groups: map[string]types.SecurityGroup{}}
	if len(ids) == 0 {
		return e, nil
	}
	gs, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, ids)
	if err != nil {
		return nil, stepErr(stepContain, "DescribeSecurityGroups", ids[0], err)
	}
	for _, id := range ids {
		g, ok := gs[id]
		if !ok {
			return nil, &StepError{Step: stepContain, Operation: "DescribeSecurityGroups", Resource: id, Err: errf("%w: SSM endpoint group %s", ErrNotFound, id)}
		}
		e.groups[id] = g
	}
	return e, nil
}

// rules returns the egress rules the SSM quarantine group of vpc must
// have exactly: tcp 443 to each endpoint group of that VPC and to each
// prefix list. None: the VPC gets the plain quarantine group.
func (e *ssmEgress) rules(vpc string) []Rule {
	var out []Rule
	for id, g := range e.groups {
		if aws.ToString(g.VpcId) == vpc {
			out = append(out, Rule{Direction: "egress", Protocol: "tcp", FromPort: 443, ToPort: 443, GroupID: id, Description: "abusekit: SSM endpoint"})
		}
	}
	for _, pl := range e.prefixLists {
		out = append(out, Rule{Direction: "egress", Protocol: "tcp", FromPort: 443, ToPort: 443, PrefixListID: pl, Description: "abusekit: SSM endpoint"})
	}
	sortRules(out)
	return out
}

// notes says, per VPC of the plan, where egress goes, and which endpoint
// groups would not admit the instance's HTTPS (abusekit does not change
// them: they are the operator's).
func (e *ssmEgress) notes(plan *ContainPlan, insts map[string]types.Instance) []string {
	var out []string
	for _, gp := range plan.Groups {
		switch gp.Role {
		case RoleQuarantine:
			out = append(out, fmt.Sprintf("host steps go over SSM, but no SSM endpoint given is in %s: its quarantine group %s admits no egress and host steps on its instances will time out", gp.VPCID, gp.Name))
		case RoleQuarantineSSM:
			var to []string
			for _, r := range gp.Rules {
				to = append(to, r.GroupID+r.PrefixListID)
			}
			out = append(out, fmt.Sprintf("host steps go over SSM: quarantine group %s in %s admits nothing in and only tcp 443 out, to %s", gp.Name, gp.VPCID, strings.Join(to, ", ")))
		}
	}
	ids := make([]string, 0, len(e.groups))
	for id := range e.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := e.groups[id]
		vpc := aws.ToString(g.VpcId)
		qid := ""
		for _, gp := range plan.Groups {
			if gp.VPCID == vpc {
				qid = gp.GroupID
			}
		}
		var blocked []string
		for _, ic := range plan.Instances {
			if ic.VPCID != vpc {
				continue
			}
			for _, ip := range privateIPs(insts[ic.InstanceID]) {
				if !admitsHTTPS(g, ip, qid) {
					blocked = append(blocked, ic.InstanceID)
					break
				}
			}
		}
		if len(blocked) > 0 {
			out = append(out, fmt.Sprintf("SSM endpoint group %s does not admit tcp 443 from %s (nor from the quarantine group): add an ingress rule for the VPC's CIDR or the quarantine group to it, or host steps will time out",
				id, strings.Join(blocked, ", ")))
		}
	}
	return out
}

func privateIPs(inst types.Instance) []netip.Addr {
	var out []netip.Addr
	for _, eni := range inst.NetworkInterfaces {
		for _, a := range eni.PrivateIpAddresses {
			if ip, err := netip.ParseAddr(aws.ToString(a.PrivateIpAddress)); err == nil {
				out = append(out, ip)
			}
		}
		for _, a := range eni.Ipv6Addresses {
			if ip, err := netip.ParseAddr(aws.ToString(a.Ipv6Address)); err == nil {
				out = append(out, ip)
			}
		}
	}
	if len(out) == 0 {
		if ip, err := netip.ParseAddr(aws.ToString(inst.PrivateIpAddress)); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// admitsHTTPS reports whether g admits tcp 443 from ip, or from the
// group qid (the instance's only group once contained). A rule naming a
// prefix list counts as admitting (its entries are not read).
func admitsHTTPS(g types.SecurityGroup, ip netip.Addr, qid string) bool {
	for _, r := range rulesOf("ingress", g.IpPermissions) {
		if r.Protocol != "-1" && !(r.Protocol == "tcp" && r.FromPort <= 443 && r.ToPort >= 443) {
			continue
		}
		switch {
		case r.PrefixListID != "":
			return true
		case r.GroupID != "":
			if qid != "" && r.GroupID == qid {
				return true
			}
		case r.CIDR != "":
			if p, err := netip.ParsePrefix(r.CIDR); err == nil && p.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// convergeGroup makes the group have exactly want (compared without
// descriptions), and returns nil only once a read shows that. A group
// not yet visible (eventual consistency after its creation) is waited
// for. want empty: no rule in either direction.
func convergeGroup(ctx context.Context, c *Clients, id, vpc string, want []Rule) error {
	delay := defaultConvergeDelay
	unseen := 0
	wantKey := map[string]bool{}
	for _, r := range want {
		wantKey[r.key()] = true
	}
	for round := 0; round < 5; {
		gs, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{id})
		if err != nil {
			return stepErr(stepContain, "DescribeSecurityGroups", id, err)
		}
		g, ok := gs[id]
		if !ok {
			if unseen++; unseen > 10 {
				return stepErr(stepContain, "DescribeSecurityGroups", id, errf("%w: quarantine group not visible", ErrNotFound))
			}
			if err := sleep(ctx, delay); err != nil {
				return stepErr(stepContain, "DescribeSecurityGroups", id, err)
			}
			delay = min(delay*2, maxConvergeDelay)
			continue
		}
		if v := aws.ToString(g.VpcId); v != vpc {
			return &StepError{Step: stepContain, Operation: "DescribeSecurityGroups", Resource: id, Err: errf("%w: quarantine group is in %s, not %s", ErrInvalidInput, v, vpc)}
		}
		have := groupRules(g)
		haveKey := map[string]bool{}
		var extra []Rule
		for _, r := range have {
			haveKey[r.key()] = true
			if !wantKey[r.key()] {
				extra = append(extra, r)
			}
		}
		var missing []Rule
		for _, r := range want {
			if !haveKey[r.key()] {
				missing = append(missing, r)
			}
		}
		if len(extra) == 0 && len(missing) == 0 {
			return nil
		}
		// Revoke first: the group never admits more than it did.
		for _, r := range extra {
			if err := revoke(ctx, c, stepContain, id, r); err != nil {
				return err
			}
		}
		for _, r := range missing {
			if err := need(stepContain, c.AuthorizeSecurityGroupEgress); err != nil {
				return err
			}
			if err := authorize(ctx, c, stepContain, id, r); err != nil {
				return err
			}
		}
		round++
	}
	return &StepError{Step: stepContain, Operation: "RevokeSecurityGroupIngress", Resource: id, Err: errf("%w: rules keep appearing after 5 rounds of revocation", ErrQuarantineOpen)}
}

// extraRules are the rules of have that want lacks (what a converge revokes).
func extraRules(have, want []Rule) []Rule {
	var out []Rule
	for _, r := range have {
		if !slices.ContainsFunc(want, func(w Rule) bool { return w.key() == r.key() }) {
			out = append(out, r)
		}
	}
	return out
}
