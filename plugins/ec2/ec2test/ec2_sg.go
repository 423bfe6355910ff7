package ec2test

import (
	"net/netip"
	"strconv"
	"strings"
)

func (st *state) lookupGroup(id string) (*securityGroup, error) {
	if !reGroupID.MatchString(id) {
		return nil, errf("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id)
	}
	g, ok := st.sgs.get(id)
	if !ok || !st.visible(g.visibleAt) {
		return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	}
	return g, nil
}

func (st *state) groupByName(vpcID, name string) *securityGroup {
	for _, g := range st.sgs.all() {
		if g.vpcID == vpcID && g.name == name && st.visible(g.visibleAt) {
			return g
		}
	}
	return nil
}

// groupParam resolves GroupId, or GroupName in the default VPC.
func (st *state) groupParam(q *qnode) (*securityGroup, error) {
	if id := q.str("GroupId"); id != "" {
		return st.lookupGroup(id)
	}
	if name := q.str("GroupName"); name != "" {
		g := st.groupByName(st.defaultVPC, name)
		if g == nil {
			return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, st.defaultVPC)
		}
		return g, nil
	}
	return nil, errf("MissingParameter", "The request must contain the parameter groupId or groupName")
}

func (st *state) createSecurityGroup(q *qnode) (any, error) {
	name, desc := q.str("GroupName"), q.str("GroupDescription")
	if name == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter groupName")
	}
	if desc == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter groupDescription")
	}
	if len(name) > 255 || len(desc) > 255 {
		return nil, errf("InvalidParameterValue", "Group name and description are limited to 255 characters")
	}
	if strings.HasPrefix(strings.ToLower(name), "sg-") {
		return nil, errf("InvalidParameterValue", "Group names may not be in the format sg-*")
	}
	vpcID := q.str("VpcId")
	if vpcID == "" {
		vpcID = st.defaultVPC
	}
	if _, ok := st.vpcs.get(vpcID); !ok {
		return nil, errf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpcID)
	}
	// Names are unique per VPC even while eventual consistency still
	// hides the first group from Describe calls.
	for _, g := range st.sgs.all() {
		if (g.vpcID == vpcID && g.name == name) || name == "default" {
			return nil, errf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpcID)
		}
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	g := st.newSecurityGroup(name, desc, vpcID, false)
	g.visibleAt = st.visibleAt()
	st.setTags(g.id, tagsFor(specs, "security-group"))
	return struct {
		GroupID string   `xml:"groupId"`
		Arn     string   `xml:"securityGroupArn"`
		Tags    []xmlTag `xml:"tagSet>item"`
	}{g.id, st.sgARN(g.id), st.tagSet(g.id)}, nil
}

func (st *state) sgARN(id string) string {
	return "arn:aws:ec2:" + st.region + ":" + AccountID + ":security-group/" + id
}

func (st *state) deleteSecurityGroup(q *qnode) (any, error) {
	g, err := st.groupParam(q)
	if err != nil {
		return nil, err
	}
	if g.name == "default" {
		return nil, errf("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.id)
	}
	for _, e := range st.enis.all() {
		for _, gid := range e.groups {
			if gid == g.id {
				return nil, errf("DependencyViolation", "resource %s has a dependent object", g.id)
			}
		}
	}
	for _, o := range st.sgs.all() {
		if o.id == g.id {
			continue
		}
		for _, r := range o.rules {
			if r.refGroup == g.id {
				return nil, errf("DependencyViolation", "resource %s has a dependent object", g.id)
			}
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	for _, r := range g.rules {
		delete(st.rules, r.id)
		delete(st.tags, r.id)
	}
	st.sgs.del(g.id)
	delete(st.tags, g.id)
	return struct {
		Return  bool   `xml:"return"`
		GroupID string `xml:"groupId"`
	}{true, g.id}, nil
}

// normProto canonicalises an IP protocol as EC2 reports it.
func normProto(p string) (string, error) {
	switch strings.ToLower(p) {
	case "-1", "all":
		return "-1", nil
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	case "":
		return "", errf("MissingParameter", "The request must contain the parameter ipProtocol")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 255 {
		return "", errf("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	return p, nil
}

// parsePermissions expands IpPermissions (and the legacy flat fields) into
// one rule per peer.
func (st *state) parsePermissions(q *qnode, g *securityGroup, egress bool) ([]*sgRule, error) {
	type perm struct{ n *qnode }
	var perms []*qnode
	perms = append(perms, q.list("IpPermissions")...)
	if q.has("IpProtocol") || q.has("CidrIp") || q.has("SourceSecurityGroupName") {
		perms = append(perms, q) // legacy single-rule form
	}
	var out []*sgRule
	for _, p := range perms {
		proto, err := normProto(p.str("IpProtocol"))
		if err != nil {
			return nil, err
		}
		from, to := int32(-1), int32(-1)
		if proto != "-1" {
			f, okF, err1 := p.integer("FromPort")
			t, okT, err2 := p.integer("ToPort")
			if err1 != nil || err2 != nil {
				return nil, errf("InvalidParameterValue", "Invalid value for portRange")
			}
			switch proto {
			case "tcp", "udp":
				if !okF || !okT {
					return nil, errf("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange")
				}
				if f < 0 || t > 65535 || f > t {
					return nil, errf("InvalidParameterValue", "Invalid value '%d-%d' for portRange. Must be in the range 0-65535 with from <= to.", f, t)
				}
			case "icmp", "icmpv6":
				if !okF {
					f = -1
				}
				if !okT {
					t = -1
				}
				if f < -1 || f > 255 || t < -1 || t > 255 {
					return nil, errf("InvalidParameterValue", "Invalid value for ICMP type/code")
				}
			default:
				if okF || okT {
					f, t = -1, -1
				} else {
					f, t = -1, -1
				}
			}
			from, to = int32(f), int32(t)
		}
		n := 0
		add := func(r *sgRule) {
			r.egress, r.protocol, r.from, r.to = egress, proto, from, to
			out = append(out, r)
			n++
		}
		for _, c := range p.list("IpRanges") {
			cidr, err := normCIDR(c.str("CidrIp"), false)
			if err != nil {
				return nil, err
			}
			add(&sgRule{cidr4: cidr, desc: c.str("Description")})
		}
		if p == q && q.has("CidrIp") {
			cidr, err := normCIDR(q.str("CidrIp"), false)
			if err != nil {
				return nil, err
			}
			add(&sgRule{cidr4: cidr})
		}
		for _, c := range p.list("Ipv6Ranges") {
			cidr, err := normCIDR(c.str("CidrIpv6"), true)
			if err != nil {
				return nil, err
			}
			add(&sgRule{cidr6: cidr, desc: c.str("Description")})
		}
		for _, c := range p.list("Groups") {
			ref := c.str("GroupId")
			if ref == "" && c.str("GroupName") != "" {
				rg := st.groupByName(g.vpcID, c.str("GroupName"))
				if rg == nil {
					return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist", c.str("GroupName"))
				}
				ref = rg.id
			}
			if _, err := st.lookupGroup(ref); err != nil {
				return nil, err
			}
			add(&sgRule{refGroup: ref, desc: c.str("Description")})
		}
		if p == q && q.has("SourceSecurityGroupName") {
			rg := st.groupByName(g.vpcID, q.str("SourceSecurityGroupName"))
			if rg == nil {
				return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist", q.str("SourceSecurityGroupName"))
			}
			add(&sgRule{refGroup: rg.id})
		}
		for _, c := range p.list("PrefixListIds") {
			pl := c.str("PrefixListId")
			if !strings.HasPrefix(pl, "pl-") {
				return nil, errf("InvalidPrefixListId.Malformed", "Invalid id: \"%s\"", pl)
			}
			add(&sgRule{prefixList: pl, desc: c.str("Description")})
		}
		if n == 0 {
			return nil, errf("InvalidParameterValue", "The request must specify at least one peer (IpRanges, Ipv6Ranges, Groups or PrefixListIds) per permission")
		}
	}
	if len(out) == 0 {
		return nil, errf("MissingParameter", "No IpPermissions were given")
	}
	return out, nil
}

func normCIDR(s string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is6() != v6 || p.Masked() != p {
		kind := "CIDR block"
		if v6 {
			kind = "IPv6 CIDR block"
		}
		return "", errf("InvalidParameterValue", "Value (%s) for parameter cidrIp is invalid. This is not a valid %s.", s, kind)
	}
	return p.String(), nil
}

func sameRule(a, b *sgRule) bool {
	return a.egress == b.egress && a.protocol == b.protocol && a.from == b.from && a.to == b.to &&
		a.cidr4 == b.cidr4 && a.cidr6 == b.cidr6 && a.refGroup == b.refGroup && a.prefixList == b.prefixList
}

func ruleText(r *sgRule) string {
	peer := r.cidr4 + r.cidr6 + r.refGroup + r.prefixList
	p := strings.ToUpper(r.protocol)
	if p == "-1" {
		p = "ALL"
	}
	return "peer: " + peer + ", " + p + ", from port: " + strconv.Itoa(int(r.from)) + ", to port: " + strconv.Itoa(int(r.to)) + ", ALLOW"
}

type xRefGroup struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type xRule struct {
	ID          string     `xml:"securityGroupRuleId"`
	GroupID     string     `xml:"groupId"`
	GroupOwner  string     `xml:"groupOwnerId"`
	IsEgress    bool       `xml:"isEgress"`
	IPProtocol  string     `xml:"ipProtocol"`
	FromPort    int32      `xml:"fromPort"`
	ToPort      int32      `xml:"toPort"`
	CidrIPv4    string     `xml:"cidrIpv4,omitempty"`
	CidrIPv6    string     `xml:"cidrIpv6,omitempty"`
	PrefixList  string     `xml:"prefixListId,omitempty"`
	RefGroup    *xRefGroup `xml:"referencedGroupInfo,omitempty"`
	Description string     `xml:"description,omitempty"`
	Arn         string     `xml:"securityGroupRuleArn"`
	Tags        []xmlTag   `xml:"tagSet>item"`
}

func (st *state) xRule(r *sgRule) xRule {
	x := xRule{ID: r.id, GroupID: r.groupID, GroupOwner: AccountID, IsEgress: r.egress, IPProtocol: r.protocol,
		FromPort: r.from, ToPort: r.to, CidrIPv4: r.cidr4, CidrIPv6: r.cidr6, PrefixList: r.prefixList,
		Description: r.desc, Tags: st.tagSet(r.id),
		Arn: "arn:aws:ec2:" + st.region + ":" + AccountID + ":security-group-rule/" + r.id}
	if r.refGroup != "" {
		x.RefGroup = &xRefGroup{GroupID: r.refGroup, UserID: AccountID}
	}
	return x
}

func (st *state) authorize(q *qnode, egress bool) (any, error) {
	g, err := st.groupParam(q)
	if err != nil {
		return nil, err
	}
	rules, err := st.parsePermissions(q, g, egress)
	if err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	for i, r := range rules {
		for _, e := range g.rules {
			if sameRule(r, e) {
				return nil, errf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", ruleText(r))
			}
		}
		for _, o := range rules[:i] {
			if sameRule(r, o) {
				return nil, errf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", ruleText(r))
			}
		}
	}
	if n := countRules(g, egress) + len(rules); n > 60 {
		return nil, errf("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	type out struct {
		Return bool    `xml:"return"`
		Rules  []xRule `xml:"securityGroupRuleSet>item"`
	}
	o := out{Return: true}
	for _, r := range rules {
		st.addRule(g, r)
		st.setTags(r.id, tagsFor(specs, "security-group-rule"))
		o.Rules = append(o.Rules, st.xRule(r))
	}
	return o, nil
}

func countRules(g *securityGroup, egress bool) int {
	n := 0
	for _, r := range g.rules {
		if r.egress == egress {
			n++
		}
	}
	return n
}

type xRevoked struct {
	ID          string `xml:"securityGroupRuleId"`
	GroupID     string `xml:"groupId"`
	IsEgress    bool   `xml:"isEgress"`
	IPProtocol  string `xml:"ipProtocol"`
	FromPort    int32  `xml:"fromPort"`
	ToPort      int32  `xml:"toPort"`
	CidrIPv4    string `xml:"cidrIpv4,omitempty"`
	CidrIPv6    string `xml:"cidrIpv6,omitempty"`
	PrefixList  string `xml:"prefixListId,omitempty"`
	RefGroupID  string `xml:"referencedGroupId,omitempty"`
	Description string `xml:"description,omitempty"`
}

func (st *state) revoke(q *qnode, egress bool) (any, error) {
	g, err := st.groupParam(q)
	if err != nil {
		return nil, err
	}
	var remove []*sgRule
	var unknown []*sgRule
	if ids := q.strs("SecurityGroupRuleId"); len(ids) > 0 {
		for _, id := range ids {
			r, ok := st.rules[id]
			if !ok || r.groupID != g.id || r.egress != egress {
				return nil, errf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
			}
			remove = append(remove, r)
		}
	} else {
		want, err := st.parsePermissions(q, g, egress)
		if err != nil {
			return nil, err
		}
		for _, w := range want {
			var hit *sgRule
			for _, e := range g.rules {
				if sameRule(w, e) {
					hit = e
					break
				}
			}
			if hit == nil {
				unknown = append(unknown, w)
				continue
			}
			remove = append(remove, hit)
		}
	}
	// In the default VPC, EC2 answers a revoke of rules that do not
	// exist with success, listing them in unknownIpPermissionSet; in
	// another VPC it is an error.
	if len(remove) == 0 && len(unknown) > 0 && g.vpcID != st.defaultVPC {
		return nil, errf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	type out struct {
		Return  bool          `xml:"return"`
		Unknown []xPermission `xml:"unknownIpPermissionSet>item"`
		Revoked []xRevoked    `xml:"revokedSecurityGroupRuleSet>item"`
	}
	o := out{Return: true}
	for _, r := range remove {
		drop[r.id] = true
		o.Revoked = append(o.Revoked, xRevoked{ID: r.id, GroupID: g.id, IsEgress: r.egress, IPProtocol: r.protocol,
			FromPort: r.from, ToPort: r.to, CidrIPv4: r.cidr4, CidrIPv6: r.cidr6, PrefixList: r.prefixList,
			RefGroupID: r.refGroup, Description: r.desc})
	}
	kept := g.rules[:0]
	for _, r := range g.rules {
		if drop[r.id] {
			delete(st.rules, r.id)
			delete(st.tags, r.id)
			continue
		}
		kept = append(kept, r)
	}
	g.rules = kept
	o.Unknown = permissions(unknown)
	return o, nil
}

type xIPRange struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xIPv6Range struct {
	CidrIPv6    string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type xGroupPair struct {
	UserID      string `xml:"userId"`
	GroupID     string `xml:"groupId"`
	Description string `xml:"description,omitempty"`
}

type xPrefixList struct {
	PrefixListID string `xml:"prefixListId"`
	Description  string `xml:"description,omitempty"`
}

type xPermission struct {
	IPProtocol string             `xml:"ipProtocol"`
	FromPort   *int32             `xml:"fromPort,omitempty"`
	ToPort     *int32             `xml:"toPort,omitempty"`
	Groups     items[xGroupPair]  `xml:"groups"`
	IPRanges   items[xIPRange]    `xml:"ipRanges"`
	IPv6Ranges items[xIPv6Range]  `xml:"ipv6Ranges"`
	PrefixList items[xPrefixList] `xml:"prefixListIds"`
}

// permissions groups rules by protocol and port range, as
// DescribeSecurityGroups reports them.
func permissions(rules []*sgRule) []xPermission {
	var out []xPermission
	idx := map[string]int{}
	for _, r := range rules {
		k := r.protocol + "/" + strconv.Itoa(int(r.from)) + "/" + strconv.Itoa(int(r.to))
		i, ok := idx[k]
		if !ok {
			p := xPermission{IPProtocol: r.protocol}
			if r.protocol != "-1" {
				f, t := r.from, r.to
				p.FromPort, p.ToPort = &f, &t
			}
			i = len(out)
			idx[k] = i
			out = append(out, p)
		}
		p := &out[i]
		switch {
		case r.cidr4 != "":
			p.IPRanges.Item = append(p.IPRanges.Item, xIPRange{r.cidr4, r.desc})
		case r.cidr6 != "":
			p.IPv6Ranges.Item = append(p.IPv6Ranges.Item, xIPv6Range{r.cidr6, r.desc})
		case r.refGroup != "":
			p.Groups.Item = append(p.Groups.Item, xGroupPair{AccountID, r.refGroup, r.desc})
		case r.prefixList != "":
			p.PrefixList.Item = append(p.PrefixList.Item, xPrefixList{r.prefixList, r.desc})
		}
	}
	return out
}

type xSecurityGroup struct {
	OwnerID     string        `xml:"ownerId"`
	GroupID     string        `xml:"groupId"`
	GroupName   string        `xml:"groupName"`
	Description string        `xml:"groupDescription"`
	VpcID       string        `xml:"vpcId"`
	Ingress     []xPermission `xml:"ipPermissions>item"`
	Egress      []xPermission `xml:"ipPermissionsEgress>item"`
	Arn         string        `xml:"securityGroupArn"`
	Tags        []xmlTag      `xml:"tagSet>item"`
}

func (st *state) xSecurityGroup(g *securityGroup) xSecurityGroup {
	var in, eg []*sgRule
	for _, r := range g.rules {
		if r.egress {
			eg = append(eg, r)
		} else {
			in = append(in, r)
		}
	}
	return xSecurityGroup{OwnerID: AccountID, GroupID: g.id, GroupName: g.name, Description: g.desc, VpcID: g.vpcID,
		Ingress: permissions(in), Egress: permissions(eg), Arn: st.sgARN(g.id), Tags: st.tagSet(g.id)}
}

func ruleAttr(r *sgRule, name string, egress bool) ([]string, bool) {
	if r.egress != egress {
		return nil, true
	}
	switch name {
	case "cidr":
		return one(r.cidr4), true
	case "ipv6-cidr":
		return one(r.cidr6), true
	case "from-port":
		return one(strconv.Itoa(int(r.from))), true
	case "to-port":
		return one(strconv.Itoa(int(r.to))), true
	case "protocol":
		return one(r.protocol), true
	case "group-id":
		return one(r.refGroup), true
	case "prefix-list-id":
		return one(r.prefixList), true
	}
	return nil, false
}

func (st *state) describeSecurityGroups(q *qnode) (any, error) {
	ids, names := q.strs("GroupId"), q.strs("GroupName")
	return describeSet(st, q, "securityGroupInfo", describeSpec[*securityGroup, xSecurityGroup]{
		lo: 5, hi: 1000, named: len(ids) > 0 || len(names) > 0, namedParam: "groupIds",
		lookup: func() ([]*securityGroup, error) {
			cand, err := lookupEach(ids, st.lookupGroup)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				g := st.groupByName(st.defaultVPC, n)
				if g == nil {
					return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", n, st.defaultVPC)
				}
				cand = append(cand, g)
			}
			return cand, nil
		},
		all:  st.visibleGroups,
		id:   func(g *securityGroup) string { return g.id },
		attr: sgAttr,
		item: st.xSecurityGroup,
	})
}

// visibleGroups returns the security groups Describe calls show.
func (st *state) visibleGroups() []*securityGroup {
	return visibleOf(st.sgs.all(), func(g *securityGroup) bool { return st.visible(g.visibleAt) })
}

// sgAttr returns a security group's values for the
// DescribeSecurityGroups filters.
func sgAttr(g *securityGroup) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "group-id":
			return one(g.id), true
		case "group-name":
			return one(g.name), true
		case "vpc-id":
			return one(g.vpcID), true
		case "description":
			return one(g.desc), true
		case "owner-id":
			return one(AccountID), true
		}
		egress := strings.HasPrefix(name, "egress.")
		field, ok := strings.CutPrefix(strings.TrimPrefix(name, "egress."), "ip-permission.")
		if !ok {
			return nil, false
		}
		var out []string
		for _, r := range g.rules {
			v, known := ruleAttr(r, field, egress)
			if !known {
				return nil, false
			}
			out = append(out, v...)
		}
		return out, true
	}
}

func (st *state) describeSecurityGroupRules(q *qnode) (any, error) {
	ids := q.strs("SecurityGroupRuleId")
	return describeSet(st, q, "securityGroupRuleSet", describeSpec[*sgRule, xRule]{
		// EC2 lets SecurityGroupRuleId go with MaxResults (no namedParam).
		lo: 5, hi: 1000, named: len(ids) > 0,
		lookup: func() ([]*sgRule, error) {
			return lookupEach(ids, func(id string) (*sgRule, error) {
				r, ok := st.rules[id]
				if !ok {
					return nil, errf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
				}
				return r, nil
			})
		},
		all: func() []*sgRule {
			var cand []*sgRule
			for _, g := range st.visibleGroups() {
				cand = append(cand, g.rules...)
			}
			return cand
		},
		id: func(r *sgRule) string { return r.id },
		attr: func(r *sgRule) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "group-id":
					return one(r.groupID), true
				case "security-group-rule-id":
					return one(r.id), true
				}
				return nil, false
			}
		},
		item: st.xRule,
	})
}
