package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// DefaultRiskyPorts are the ports Harden always looks for open to the world
// (besides all-traffic rules): SSH and RDP.
var DefaultRiskyPorts = []int32{22, 3389}

// HardenInput says which groups to harden and with what.
type HardenInput struct {
	Incident Incident
	// InstanceID: harden the groups on this instance's network interfaces;
	// copies of shared groups are swapped onto these interfaces.
	InstanceID string
	// GroupIDs: harden these groups (e.g. ContainUndo.OriginalGroups of a
	// quarantined instance, before Rebuild launches with them). With
	// InstanceID as well, both sets are hardened.
	GroupIDs []string
	// Ports beyond DefaultRiskyPorts whose world-open rules are replaced.
	Ports []int32
	// AdminCIDRs replace the world as the source of each open rule (IPv4
	// CIDRs replace 0.0.0.0/0, IPv6 ones ::/0). Without any, the open rules
	// are removed.
	AdminCIDRs []string
	// InPlace fixes shared groups in place instead of copying them.
	InPlace bool
	// MoveNeighbours also swaps the copy onto the other interfaces that
	// share a copied group (the neighbours, GroupHarden.Neighbours), so
	// none stays on the open original. Interfaces that an AWS service
	// manages (load balancers, endpoints …) are listed, never moved.
	MoveNeighbours bool
}

// Neighbour is another interface on a group Harden copies: it stays on
// the open original unless moved (HardenInput.MoveNeighbours).
type Neighbour struct {
	NetworkInterfaceID string   `json:"network_interface_id"`
	InstanceID         string   `json:"instance_id,omitempty"`
	Description        string   `json:"description,omitempty"`
	Groups             []string `json:"groups"`
	// RequesterManaged: an AWS service owns the interface; its groups
	// change through that service, not here.
	RequesterManaged bool `json:"requester_managed,omitempty"`
	// Move: the plan swaps the copy onto it.
	Move bool `json:"move"`
}

// Harden actions for a group.
const (
	HardenInPlace = "in-place"
	HardenCopy    = "copy"
	HardenNone    = "none"
)

// GroupHarden is the plan for one group.
type GroupHarden struct {
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
	VPCID   string `json:"vpc_id"`
	// Shared: other network interfaces (other instances, load balancers …)
	// use the group; SharedWith names them ("eni-… (i-…)").
	Shared     bool     `json:"shared"`
	SharedWith []string `json:"shared_with,omitempty"`
	Action     string   `json:"action"`
	// For a copy: its name, and its id if a previous run created it.
	CopyName string `json:"copy_name,omitempty"`
	CopyID   string `json:"copy_id,omitempty"`
	// Open: the world-open rules to revoke (or leave out of the copy).
	Open []Rule `json:"open,omitempty"`
	// Add: the admin-CIDR rules authorized first, in their place.
	Add []Rule `json:"add,omitempty"`
	// Keep: for a copy, the original's other rules, copied over.
	Keep []Rule `json:"keep,omitempty"`
	// Grants: for a copy, the rules of other groups that reference the
	// original (a database group admitting the web group, say); each is
	// authorized again referencing the copy, so the instance keeps the
	// access it had.
	Grants []Grant `json:"grants,omitempty"`
	// Neighbours: for a copy, the other interfaces on the original, with
	// whether the plan moves them onto the copy.
	Neighbours []Neighbour `json:"neighbours,omitempty"`
}

// Grant is a rule of another group that references the group being
// copied.
type Grant struct {
	GroupID string `json:"group_id"` // the group holding the rule
	Rule    Rule   `json:"rule"`     // as it is, referencing the original
}

// HardenPlan is what ApplyHarden will do.
type HardenPlan struct {
	Step       string        `json:"step"`
	Incident   Incident      `json:"incident"`
	InstanceID string        `json:"instance_id,omitempty"`
	Groups     []GroupHarden `json:"groups"`
	// Interfaces: the instance's interfaces whose group lists change (copies
	// swapped in), with the groups they had.
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Notes name the neighbours left on an open original.
	Notes []string `json:"notes,omitempty"`
}

// HardenResult maps each hardened group to the group that now carries its
// hardened rules (itself when fixed in place, else the copy), and lists the
// interfaces whose groups were swapped, with their new groups.
type HardenResult struct {
	Groups     map[string]string `json:"groups"`
	Interfaces []Interface       `json:"interfaces,omitempty"`
	// Neighbours: the other interfaces moved onto copies
	// (MoveNeighbours), with their new groups.
	Neighbours []Interface `json:"neighbours,omitempty"`
}

// Hardened returns ids mapped through r.Groups (unknown ids pass through).
func (r *HardenResult) Hardened(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := r.Groups[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	return dedupe(out)
}

// isOpen reports whether ingress rule r, on its own, exposes one of ports
// (or all traffic) to the world (see openRules for a group's rules taken
// together).
func isOpen(r Rule, ports []int32) bool {
	return openRules([]Rule{r}, ports)[0]
}

func parseAdmin(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, &StepError{Step: stepHarden, Err: errf("%w: admin CIDR %q: %v", ErrInvalidInput, c, err)}
		}
		if _, s := shareOf(p.String()); s >= worldShare {
			return nil, &StepError{Step: stepHarden, Err: errf("%w: admin CIDR %q admits a world-open share of the internet", ErrInvalidInput, c)}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PlanHarden finds world-open ingress rules on 22, 3389, all traffic and
// in.Ports, and plans their replacement. A group used by other network
// interfaces than the instance's is copied (unless InPlace), the copy
// swapped onto the instance's interfaces; others are fixed in place.
func PlanHarden(ctx context.Context, c *Clients, in HardenInput) (*HardenPlan, error) {
	if err := in.Incident.validate(stepHarden); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &StepError{Step: stepHarden, Err: ErrMissingClient}
	}
	if err := need(stepHarden, c.DescribeSecurityGroups, c.DescribeNetworkInterfaces); err != nil {
		return nil, err
	}
	if in.InstanceID == "" && len(in.GroupIDs) == 0 {
		return nil, &StepError{Step: stepHarden, Err: errf("%w: name an instance or groups", ErrInvalidInput)}
	}
	admin, err := parseAdmin(in.AdminCIDRs)
	if err != nil {
		return nil, err
	}
	ports := append(slices.Clone(DefaultRiskyPorts), in.Ports...)
	for _, p := range in.Ports {
		if p < 0 || p > 65535 {
			return nil, &StepError{Step: stepHarden, Err: errf("%w: port %d", ErrInvalidInput, p)}
		}
	}
	plan := &HardenPlan{Step: stepHarden, Incident: in.Incident, InstanceID: in.InstanceID}
	var myENIs []Interface
	gids := slices.Clone(in.GroupIDs)
	if in.InstanceID != "" {
		if err := need(stepHarden, c.DescribeInstances); err != nil {
			return nil, err
		}
		insts, missing, err := describeInstances(ctx, c.DescribeInstances, []string{in.InstanceID})
		if err != nil {
			return nil, stepErr(stepHarden, "DescribeInstances", in.InstanceID, err)
		}
		if len(missing) > 0 {
			return nil, &StepError{Step: stepHarden, Operation: "DescribeInstances", Resource: in.InstanceID, Err: ErrNotFound}
		}
		for _, eni := range insts[in.InstanceID].NetworkInterfaces {
			e := Interface{NetworkInterfaceID: aws.ToString(eni.NetworkInterfaceId)}
			for _, g := range eni.Groups {
				e.Groups = append(e.Groups, aws.ToString(g.GroupId))
				gids = append(gids, aws.ToString(g.GroupId))
			}
			myENIs = append(myENIs, e)
		}
	}
	gids = dedupe(gids)
	groups, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, gids)
	if err != nil {
		return nil, stepErr(stepHarden, "DescribeSecurityGroups", "", err)
	}
	mine := map[string]bool{}
	for _, e := range myENIs {
		mine[e.NetworkInterfaceID] = true
	}
	for _, gid := range gids {
		g, ok := groups[gid]
		if !ok {
			return nil, &StepError{Step: stepHarden, Operation: "DescribeSecurityGroups", Resource: gid, Err: ErrNotFound}
		}
		if r := tagValue(g.Tags, TagRole); isContainRole(r) {
			continue // Contain's own groups
		}
		gh := GroupHarden{GroupID: gid, Name: aws.ToString(g.GroupName), VPCID: aws.ToString(g.VpcId), Action: HardenNone}
		rules := groupRules(g)
		open := openRules(rules, ports)
		for i, r := range rules {
			if open[i] {
				gh.Open = append(gh.Open, r)
			} else {
				gh.Keep = append(gh.Keep, r)
			}
		}
		if len(gh.Open) == 0 {
			continue
		}
		gh.Add = replacements(gh.Open, admin, in.Incident.ID)
		// Who else uses it?
		p := awsec2.NewDescribeNetworkInterfacesPaginator(c.DescribeNetworkInterfaces, &awsec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{gid}}}, MaxResults: aws.Int32(1000)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, stepErr(stepHarden, "DescribeNetworkInterfaces", gid, err)
			}
			for _, ni := range out.NetworkInterfaces {
				id := aws.ToString(ni.NetworkInterfaceId)
				if mine[id] {
					continue
				}
				who := id
				nb := Neighbour{NetworkInterfaceID: id, Description: aws.ToString(ni.Description), RequesterManaged: aws.ToBool(ni.RequesterManaged), Groups: []string{}}
				if ni.Attachment != nil && ni.Attachment.InstanceId != nil {
					nb.InstanceID = aws.ToString(ni.Attachment.InstanceId)
					who += " (" + nb.InstanceID + ")"
				} else if ni.Description != nil && *ni.Description != "" {
					who += " (" + aws.ToString(ni.Description) + ")"
				}
				for _, g := range ni.Groups {
					nb.Groups = append(nb.Groups, aws.ToString(g.GroupId))
				}
				nb.Move = in.MoveNeighbours && !nb.RequesterManaged
				gh.SharedWith = append(gh.SharedWith, who)
				gh.Neighbours = append(gh.Neighbours, nb)
			}
		}
		sort.Strings(gh.SharedWith)
		sort.Slice(gh.Neighbours, func(a, b int) bool { return gh.Neighbours[a].NetworkInterfaceID < gh.Neighbours[b].NetworkInterfaceID })
		gh.Shared = len(gh.SharedWith) > 0
		if gh.Shared && !in.InPlace {
			gh.Action = HardenCopy
			gh.CopyName = copyName(gh.Name, in.Incident.ID)
			for _, f := range []string{"ip-permission.group-id", "egress.ip-permission.group-id"} {
				refs, err := describeGroups(ctx, c.DescribeSecurityGroups, []types.Filter{{Name: aws.String(f), Values: []string{gid}}})
				if err != nil {
					return nil, stepErr(stepHarden, "DescribeSecurityGroups", gid, err)
				}
				for _, rg := range refs {
					if aws.ToString(rg.GroupId) == gid {
						continue // self-references follow the copy (Keep)
					}
					for _, r := range groupRules(rg) {
						if r.GroupID == gid && !slices.ContainsFunc(gh.Grants, func(x Grant) bool { return x.GroupID == aws.ToString(rg.GroupId) && x.Rule.key() == r.key() }) {
							gh.Grants = append(gh.Grants, Grant{GroupID: aws.ToString(rg.GroupId), Rule: r})
						}
					}
				}
			}
			existing, err := findGroupByName(ctx, c.DescribeSecurityGroups, gh.VPCID, gh.CopyName)
			if err != nil {
				return nil, stepErr(stepHarden, "DescribeSecurityGroups", gh.CopyName, err)
			}
			if existing != nil {
				gh.CopyID = aws.ToString(existing.GroupId)
			}
			var stay []string
			for _, nb := range gh.Neighbours {
				if !nb.Move {
					stay = append(stay, nb.NetworkInterfaceID)
				}
			}
			if len(stay) > 0 {
				plan.Notes = append(plan.Notes, fmt.Sprintf("%d interface(s) stay on the open original %s (%s): %s", len(stay), gh.GroupID, gh.Name, strings.Join(stay, ", "))+
					"; set MoveNeighbours (move_neighbours) to swap the copy onto them too, or InPlace to fix the original; interfaces an AWS service manages change through that service")
			}
		} else {
			gh.Action = HardenInPlace
			gh.Keep = nil
			gh.Neighbours = nil
		}
		plan.Groups = append(plan.Groups, gh)
	}
	// Interfaces that get copies.
	for _, e := range myENIs {
		for _, gh := range plan.Groups {
			if gh.Action == HardenCopy && slices.Contains(e.Groups, gh.GroupID) {
				plan.Interfaces = append(plan.Interfaces, e)
				break
			}
		}
	}
	return plan, nil
}

func copyName(name, incident string) string {
	n := name + "-hardened-" + short(incident)
	if len(n) > 255 {
		n = n[len(n)-255:]
	}
	return n
}

func replacements(open []Rule, admin []netip.Prefix, incident string) []Rule {
	var out []Rule
	seen := map[string]bool{}
	for _, r := range open {
		v6 := strings.Contains(r.CIDR, ":")
		for _, a := range admin {
			if a.Addr().Is6() != v6 {
				continue
			}
			x := r
			x.CIDR = a.String()
			x.Description = fmt.Sprintf("abusekit %s: admin access replacing %s", incident, r.CIDR)
			if !seen[x.key()] {
				seen[x.key()] = true
				out = append(out, x)
			}
		}
	}
	sortRules(out)
	return out
}

// ApplyHarden carries out plan: for a group fixed in place, authorize the
// admin rules, then revoke the open ones; for a copy, create it (or find
// it), authorize the kept rules and the admin rules, match the egress, then
// swap it onto the instance's interfaces in place of the original, which
// is left untouched. Access is added before it is taken away.
func ApplyHarden(ctx context.Context, c *Clients, plan *HardenPlan) (*HardenResult, error) {
	if plan == nil {
		return nil, &StepError{Step: stepHarden, Err: errf("%w: nil plan", ErrInvalidInput)}
	}
	if err := plan.Incident.validate(stepHarden); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &StepError{Step: stepHarden, Err: ErrMissingClient}
	}
	if err := need(stepHarden, c.AuthorizeSecurityGroupIngress, c.RevokeSecurityGroupIngress, c.AuthorizeSecurityGroupEgress,
		c.RevokeSecurityGroupEgress, c.CreateSecurityGroup, c.DescribeSecurityGroups, c.ModifyNetworkInterfaceAttr); err != nil {
		return nil, err
	}
	res := &HardenResult{Groups: map[string]string{}}
	for _, gh := range plan.Groups {
		switch gh.Action {
		case HardenInPlace:
			for _, r := range gh.Add {
				if err := authorize(ctx, c, stepHarden, gh.GroupID, r); err != nil {
					return res, err
				}
			}
			for _, r := range gh.Open {
				if err := revoke(ctx, c, stepHarden, gh.GroupID, r); err != nil {
					return res, err
				}
			}
			res.Groups[gh.GroupID] = gh.GroupID
		case HardenCopy:
			id := gh.CopyID
			fresh := false
			if id == "" {
				var err error
				id, fresh, err = createGroup(ctx, c, stepHarden, gh.VPCID, gh.CopyName,
					fmt.Sprintf("abusekit: %s without world-open rules", gh.Name), plan.Incident.tags(stepHarden, tag("abusekit:copy-of", gh.GroupID)))
				if err != nil {
					return res, err
				}
			}
			hasDefaultEgress := false
			for _, r := range append(slices.Clone(gh.Keep), gh.Add...) {
				if r.GroupID == gh.GroupID {
					r.GroupID = id // self-reference follows the copy
				}
				if r.Direction == "egress" {
					if normProto(r.Protocol) == "-1" && r.CIDR == "0.0.0.0/0" {
						hasDefaultEgress = true
					}
				}
				if err := authorize(ctx, c, stepHarden, id, r); err != nil {
					return res, err
				}
			}
			if fresh && !hasDefaultEgress {
				if err := revoke(ctx, c, stepHarden, id, allTraffic("egress", "0.0.0.0/0")); err != nil {
					return res, err
				}
			}
			for _, g := range gh.Grants {
				r := g.Rule
				r.GroupID = id
				if err := authorize(ctx, c, stepHarden, g.GroupID, r); err != nil {
					return res, err
				}
			}
			res.Groups[gh.GroupID] = id
		}
	}
	for _, e := range plan.Interfaces {
		groups := make([]string, 0, len(e.Groups))
		for _, g := range e.Groups {
			if n, ok := res.Groups[g]; ok {
				groups = append(groups, n)
			} else {
				groups = append(groups, g)
			}
		}
		groups = dedupe(groups)
		if _, err := c.ModifyNetworkInterfaceAttr.ModifyNetworkInterfaceAttribute(ctx, &awsec2.ModifyNetworkInterfaceAttributeInput{
			NetworkInterfaceId: aws.String(e.NetworkInterfaceID), Groups: groups}, retryCodes("InvalidGroup.NotFound")); err != nil {
			return res, stepErr(stepHarden, "ModifyNetworkInterfaceAttribute", e.NetworkInterfaceID, err)
		}
		res.Interfaces = append(res.Interfaces, Interface{NetworkInterfaceID: e.NetworkInterfaceID, Groups: groups})
	}
	// Neighbours to move: each interface once, every copied group of it
	// mapped at once, from the groups the plan saw.
	moved := map[string]bool{}
	for _, gh := range plan.Groups {
		for _, nb := range gh.Neighbours {
			if !nb.Move || nb.RequesterManaged || moved[nb.NetworkInterfaceID] {
				continue
			}
			moved[nb.NetworkInterfaceID] = true
			groups := make([]string, 0, len(nb.Groups))
			for _, g := range nb.Groups {
				if n, ok := res.Groups[g]; ok {
					groups = append(groups, n)
				} else {
					groups = append(groups, g)
				}
			}
			groups = dedupe(groups)
			if _, err := c.ModifyNetworkInterfaceAttr.ModifyNetworkInterfaceAttribute(ctx, &awsec2.ModifyNetworkInterfaceAttributeInput{
				NetworkInterfaceId: aws.String(nb.NetworkInterfaceID), Groups: groups}, retryCodes("InvalidGroup.NotFound")); err != nil {
				return res, stepErr(stepHarden, "ModifyNetworkInterfaceAttribute", nb.NetworkInterfaceID, err)
			}
			res.Neighbours = append(res.Neighbours, Interface{NetworkInterfaceID: nb.NetworkInterfaceID, Groups: groups})
		}
	}
	return res, nil
}

// Harden plans and applies in one call.
func Harden(ctx context.Context, c *Clients, in HardenInput) (*HardenResult, error) {
	p, err := PlanHarden(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return ApplyHarden(ctx, c, p)
}
