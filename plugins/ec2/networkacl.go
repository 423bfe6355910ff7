package ec2

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ACLEntry is one deny entry Contain adds to a subnet's network ACL for
// one of the instance's addresses. Network ACLs are stateless: unlike a
// security group change, a deny entry cuts connections already
// established, including always-tracked ones.
type ACLEntry struct {
	NetworkACLID string `json:"network_acl_id"`
	RuleNumber   int32  `json:"rule_number"`
	Egress       bool   `json:"egress"`
	CIDR         string `json:"cidr"`
}

// planNetworkACL fills in each instance's deny entries: for every private
// address of every interface, one ingress and one egress deny entry in the
// network ACL of the instance's subnet, numbered below the ACL's first
// allow entry in that direction (so it is evaluated first). Entries a
// previous run added are reused.
func planNetworkACL(ctx context.Context, c *Clients, insts map[string]types.Instance, results []InstanceContain) error {
	if err := need(stepContain, c.DescribeNetworkAcls); err != nil {
		return err
	}
	subnets := map[string]bool{}
	for _, ic := range results {
		subnets[aws.ToString(insts[ic.InstanceID].SubnetId)] = true
	}
	var ids []string
	for s := range subnets {
		if s != "" {
			ids = append(ids, s)
		}
	}
	sort.Strings(ids)
	aclOf := map[string]*types.NetworkAcl{} // subnet -> acl
	for _, b := range chunks(ids, 200) {
		p := awsec2.NewDescribeNetworkAclsPaginator(c.DescribeNetworkAcls, &awsec2.DescribeNetworkAclsInput{
			Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: b}}, MaxResults: aws.Int32(1000)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return stepErr(stepContain, "DescribeNetworkAcls", "", err)
			}
			for i := range out.NetworkAcls {
				a := &out.NetworkAcls[i]
				for _, as := range a.Associations {
					aclOf[aws.ToString(as.SubnetId)] = a
				}
			}
		}
	}
	// Numbers in use, and the first allow entry, per ACL and direction.
	type dir struct {
		acl    string
		egress bool
	}
	used := map[dir]map[int32]bool{}
	firstAllow := map[dir]int32{}
	existing := map[dir]map[string]int32{} // deny entries by CIDR
	for _, a := range aclOf {
		for _, e := range a.Entries {
			d := dir{aws.ToString(a.NetworkAclId), aws.ToBool(e.Egress)}
			if used[d] == nil {
				used[d], existing[d], firstAllow[d] = map[int32]bool{}, map[string]int32{}, 32767
			}
			n := aws.ToInt32(e.RuleNumber)
			used[d][n] = true
			cidr := aws.ToString(e.CidrBlock)
			if cidr == "" {
				cidr = aws.ToString(e.Ipv6CidrBlock)
			}
			if e.RuleAction == types.RuleActionAllow && n < firstAllow[d] {
				firstAllow[d] = n
			}
			if e.RuleAction == types.RuleActionDeny && aws.ToString(e.Protocol) == "-1" {
				existing[d][cidr] = n
			}
		}
	}
	for i := range results {
		ic := &results[i]
		inst := insts[ic.InstanceID]
		a := aclOf[aws.ToString(inst.SubnetId)]
		if a == nil {
			return &StepError{Step: stepContain, Operation: "DescribeNetworkAcls", Resource: ic.InstanceID, Err: errf("%w: no network ACL for subnet %s", ErrNotFound, aws.ToString(inst.SubnetId))}
		}
		aclID := aws.ToString(a.NetworkAclId)
		var cidrs []string
		for _, eni := range inst.NetworkInterfaces {
			for _, ip := range eni.PrivateIpAddresses {
				if ad, err := netip.ParseAddr(aws.ToString(ip.PrivateIpAddress)); err == nil {
					cidrs = append(cidrs, netip.PrefixFrom(ad, 32).String())
				}
			}
			if len(eni.PrivateIpAddresses) == 0 {
				if ad, err := netip.ParseAddr(aws.ToString(eni.PrivateIpAddress)); err == nil {
					cidrs = append(cidrs, netip.PrefixFrom(ad, 32).String())
				}
			}
			for _, ip := range eni.Ipv6Addresses {
				if ad, err := netip.ParseAddr(aws.ToString(ip.Ipv6Address)); err == nil {
					cidrs = append(cidrs, netip.PrefixFrom(ad, 128).String())
				}
			}
		}
		cidrs = dedupe(cidrs)
		slices.Sort(cidrs)
		for _, cidr := range cidrs {
			for _, eg := range []bool{false, true} {
				d := dir{aclID, eg}
				if used[d] == nil {
					used[d], existing[d], firstAllow[d] = map[int32]bool{}, map[string]int32{}, 32767
				}
				if n, ok := existing[d][cidr]; ok && n < firstAllow[d] {
					continue // a previous run's entry
				}
				n := int32(1)
				for ; n < firstAllow[d] && used[d][n]; n++ {
				}
				if n >= firstAllow[d] {
					return &StepError{Step: stepContain, Resource: aclID, Err: errf("%w: network ACL %s has no free rule number below its first allow entry (%d) for %s",
						ErrInvalidInput, aclID, firstAllow[d], cidr)}
				}
				used[d][n] = true
				ic.NetworkACLEntries = append(ic.NetworkACLEntries, ACLEntry{NetworkACLID: aclID, RuleNumber: n, Egress: eg, CIDR: cidr})
			}
		}
	}
	return nil
}

// denyInACL adds the instance's deny entries.
func denyInACL(ctx context.Context, c *Clients, ic InstanceContain, undo *ContainUndo) error {
	var errs []error
	for _, e := range ic.NetworkACLEntries {
		in := &awsec2.CreateNetworkAclEntryInput{NetworkAclId: aws.String(e.NetworkACLID), RuleNumber: aws.Int32(e.RuleNumber), Egress: aws.Bool(e.Egress),
			Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny}
		if p, err := netip.ParsePrefix(e.CIDR); err == nil && p.Addr().Is6() {
			in.Ipv6CidrBlock = aws.String(e.CIDR)
		} else {
			in.CidrBlock = aws.String(e.CIDR)
		}
		if _, err := c.CreateNetworkAclEntry.CreateNetworkAclEntry(ctx, in); err != nil {
			errs = append(errs, stepErr(stepContain, "CreateNetworkAclEntry", e.NetworkACLID, err))
			continue
		}
		undo.update(ic.InstanceID, func(u *InstanceUndo) { u.NetworkACLEntries = append(u.NetworkACLEntries, e) })
	}
	return errors.Join(errs...)
}

// removeFromACL deletes the entries Contain added (gone already is fine).
func removeFromACL(ctx context.Context, c *Clients, iu InstanceUndo) error {
	if len(iu.NetworkACLEntries) == 0 {
		return nil
	}
	if err := need(stepUndo, c.DeleteNetworkAclEntry); err != nil {
		return err
	}
	for _, e := range iu.NetworkACLEntries {
		if _, err := c.DeleteNetworkAclEntry.DeleteNetworkAclEntry(ctx, &awsec2.DeleteNetworkAclEntryInput{NetworkAclId: aws.String(e.NetworkACLID),
			RuleNumber: aws.Int32(e.RuleNumber), Egress: aws.Bool(e.Egress)}); err != nil && errCode(err) != "InvalidNetworkAclEntry.NotFound" {
			return stepErr(stepUndo, "DeleteNetworkAclEntry", e.NetworkACLID, err)
		}
	}
	return nil
}
