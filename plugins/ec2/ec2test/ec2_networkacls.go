package ec2test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Network ACLs: every VPC has its default network ACL (allow all in and
// out at rule 100, deny at 32767), associated with each of its subnets.
// DescribeNetworkAcls, CreateNetworkAclEntry and DeleteNetworkAclEntry
// work on it as EC2 does.

type naclEntry struct {
	rule     int64
	egress   bool
	protocol string
	action   string
	cidr     string // IPv4 or IPv6
}

type networkACL struct {
	id, vpcID string
	entries   []naclEntry
}

func naclID(vpcID string) string {
	h := sha256.Sum256([]byte("nacl|" + vpcID))
	return "acl-" + hex.EncodeToString(h[:])[:17]
}

// nacl returns the VPC's default network ACL, made on first use.
func (st *state) nacl(vpcID string) *networkACL {
	if st.nacls == nil {
		st.nacls = map[string]*networkACL{}
	}
	if a, ok := st.nacls[vpcID]; ok {
		return a
	}
	a := &networkACL{id: naclID(vpcID), vpcID: vpcID}
	for _, eg := range []bool{false, true} {
		a.entries = append(a.entries, naclEntry{rule: 100, egress: eg, protocol: "-1", action: "allow", cidr: "0.0.0.0/0"},
			naclEntry{rule: 32767, egress: eg, protocol: "-1", action: "deny", cidr: "0.0.0.0/0"})
	}
	st.nacls[vpcID] = a
	return a
}

func (st *state) allNACLs() []*networkACL {
	var out []*networkACL
	for _, v := range st.vpcs.all() {
		out = append(out, st.nacl(v.id))
	}
	return out
}

func (st *state) naclByID(id string) (*networkACL, error) {
	for _, a := range st.allNACLs() {
		if a.id == id {
			return a, nil
		}
	}
	return nil, errf("InvalidNetworkAclID.NotFound", "The network ACL ID '%s' does not exist", id)
}

type xNACLEntry struct {
	RuleNumber int64  `xml:"ruleNumber"`
	Protocol   string `xml:"protocol"`
	RuleAction string `xml:"ruleAction"`
	Egress     bool   `xml:"egress"`
	CidrBlock  string `xml:"cidrBlock,omitempty"`
	Ipv6Cidr   string `xml:"ipv6CidrBlock,omitempty"`
}

type xNACLAssoc struct {
	ID       string `xml:"networkAclAssociationId"`
	NACLID   string `xml:"networkAclId"`
	SubnetID string `xml:"subnetId"`
}

type xNACL struct {
	ID           string       `xml:"networkAclId"`
	VpcID        string       `xml:"vpcId"`
	Default      bool         `xml:"default"`
	Entries      []xNACLEntry `xml:"entrySet>item"`
	Associations []xNACLAssoc `xml:"associationSet>item"`
	OwnerID      string       `xml:"ownerId"`
	Tags         []xmlTag     `xml:"tagSet>item"`
}

func (st *state) subnetsOf(vpcID string) []string {
	var out []string
	for _, s := range st.subnets.all() {
		if s.vpcID == vpcID {
			out = append(out, s.id)
		}
	}
	return out
}

func (st *state) describeNetworkAcls(q *qnode) (any, error) {
	return describeSet(st, q, "networkAclSet", describeSpec[*networkACL, xNACL]{
		lo: 5, hi: 1000, named: len(q.strs("NetworkAclId")) > 0,
		lookup: func() ([]*networkACL, error) {
			ids := q.strs("NetworkAclId")
			if len(ids) == 0 {
				return st.allNACLs(), nil
			}
			var out []*networkACL
			for _, id := range ids {
				a, err := st.naclByID(id)
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			}
			return out, nil
		},
		id: func(a *networkACL) string { return a.id },
		attr: func(a *networkACL) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "network-acl-id":
					return one(a.id), true
				case "vpc-id":
					return one(a.vpcID), true
				case "default":
					return one("true"), true
				case "association.subnet-id":
					return st.subnetsOf(a.vpcID), true
				}
				return nil, false
			}
		},
		item: func(a *networkACL) xNACL {
			x := xNACL{ID: a.id, VpcID: a.vpcID, Default: true, OwnerID: AccountID}
			es := slices.Clone(a.entries)
			slices.SortFunc(es, func(p, r naclEntry) int {
				if p.egress != r.egress {
					if p.egress {
						return 1
					}
					return -1
				}
				return int(p.rule - r.rule)
			})
			for _, e := range es {
				xe := xNACLEntry{RuleNumber: e.rule, Protocol: e.protocol, RuleAction: e.action, Egress: e.egress}
				if strings.Contains(e.cidr, ":") {
					xe.Ipv6Cidr = e.cidr
				} else {
					xe.CidrBlock = e.cidr
				}
				x.Entries = append(x.Entries, xe)
			}
			for _, s := range st.subnetsOf(a.vpcID) {
				h := sha256.Sum256([]byte(a.id + "|" + s))
				x.Associations = append(x.Associations, xNACLAssoc{ID: "aclassoc-" + hex.EncodeToString(h[:])[:17], NACLID: a.id, SubnetID: s})
			}
			return x
		},
	})
}

func naclRuleNumber(q *qnode) (int64, bool, error) {
	n, ok, err := q.integer("RuleNumber")
	if err != nil || !ok {
		return 0, false, errf("MissingParameter", "The request must contain the parameter ruleNumber")
	}
	if n < 1 || n > 32766 {
		return 0, false, errf("InvalidParameterValue", "Value (%d) for parameter ruleNumber is invalid. Must be between 1 and 32766.", n)
	}
	eg, _, err := q.boolean("Egress")
	if err != nil {
		return 0, false, errf("InvalidParameterValue", "%v", err)
	}
	return n, eg, nil
}

func (st *state) createNetworkAclEntry(q *qnode) (any, error) {
	a, err := st.naclByID(q.str("NetworkAclId"))
	if err != nil {
		return nil, err
	}
	n, eg, err := naclRuleNumber(q)
	if err != nil {
		return nil, err
	}
	action := strings.ToLower(q.str("RuleAction"))
	if action != "allow" && action != "deny" {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter ruleAction is invalid.", q.str("RuleAction"))
	}
	proto := q.str("Protocol")
	if proto == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter protocol")
	}
	if proto != "-1" {
		if _, err := strconv.Atoi(proto); err != nil {
			return nil, errf("InvalidParameterValue", "Value (%s) for parameter protocol is invalid.", proto)
		}
	}
	cidr := q.str("CidrBlock")
	if v6 := q.str("Ipv6CidrBlock"); v6 != "" {
		if cidr != "" {
			return nil, errf("InvalidParameterCombination", "Only one of cidrBlock and ipv6CidrBlock may be given")
		}
		cidr = v6
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Masked() != p {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid.", cidr)
	}
	for _, e := range a.entries {
		if e.rule == n && e.egress == eg {
			return nil, errf("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", n)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	a.entries = append(a.entries, naclEntry{rule: n, egress: eg, protocol: proto, action: action, cidr: cidr})
	return ec2Return{Return: true}, nil
}

func (st *state) deleteNetworkAclEntry(q *qnode) (any, error) {
	a, err := st.naclByID(q.str("NetworkAclId"))
	if err != nil {
		return nil, err
	}
	n, eg, err := naclRuleNumber(q)
	if err != nil {
		return nil, err
	}
	for i, e := range a.entries {
		if e.rule == n && e.egress == eg {
			if err := dryRun(q); err != nil {
				return nil, err
			}
			a.entries = slices.Delete(a.entries, i, i+1)
			return ec2Return{Return: true}, nil
		}
	}
	return nil, errf("InvalidNetworkAclEntry.NotFound", "The specified rule does not exist in this network ACL.")
}
