package ec2test

import (
	"sort"
	"strconv"
	"strings"
)

// --- network interfaces ---

type xENIAttach struct {
	AttachmentID  string `xml:"attachmentId"`
	InstanceID    string `xml:"instanceId"`
	InstanceOwner string `xml:"instanceOwnerId"`
	DeviceIndex   int32  `xml:"deviceIndex"`
	Status        string `xml:"status"`
	AttachTime    string `xml:"attachTime"`
	DeleteOnTerm  bool   `xml:"deleteOnTermination"`
}

type xENI struct {
	ID               string      `xml:"networkInterfaceId"`
	SubnetID         string      `xml:"subnetId"`
	VpcID            string      `xml:"vpcId"`
	AZ               string      `xml:"availabilityZone"`
	Description      string      `xml:"description"`
	OwnerID          string      `xml:"ownerId"`
	RequesterManaged bool        `xml:"requesterManaged"`
	Status           string      `xml:"status"`
	MAC              string      `xml:"macAddress"`
	PrivateIP        string      `xml:"privateIpAddress"`
	PrivateDNS       string      `xml:"privateDnsName"`
	SourceDestCheck  bool        `xml:"sourceDestCheck"`
	Groups           []xGroup    `xml:"groupSet>item"`
	Attachment       *xENIAttach `xml:"attachment,omitempty"`
	Assoc            *xAssoc     `xml:"association,omitempty"`
	PrivateIPs       []xPrivIP   `xml:"privateIpAddressesSet>item"`
	IPv6             []xIPv6Addr `xml:"ipv6AddressesSet>item"`
	InterfaceType    string      `xml:"interfaceType"`
	Tags             []xmlTag    `xml:"tagSet>item"`
}

func (st *state) xENI(e *eni) xENI {
	xi := st.xInstENI(e)
	x := xENI{ID: e.id, SubnetID: e.subnetID, VpcID: e.vpcID, AZ: e.az, Description: e.desc, OwnerID: AccountID, IPv6: ipv6Addrs(e.ipv6),
		Status: e.status, MAC: e.mac, PrivateIP: e.privateIP, PrivateDNS: e.privateDNS, SourceDestCheck: e.sourceDestCheck,
		Groups: xi.Groups, Assoc: xi.Assoc, PrivateIPs: xi.PrivateIPs, InterfaceType: "interface", Tags: st.tagSet(e.id)}
	if e.attach != nil {
		x.Attachment = &xENIAttach{AttachmentID: e.attach.id, InstanceID: e.attach.instanceID, InstanceOwner: AccountID,
			DeviceIndex: e.attach.deviceIndex, Status: e.attach.status, AttachTime: ts(e.attach.time), DeleteOnTerm: e.attach.deleteOnTerm}
	}
	return x
}

func (st *state) lookupENI(id string) (*eni, error) {
	if !reENIID.MatchString(id) {
		return nil, errf("InvalidNetworkInterfaceId.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", id)
	}
	e, ok := st.enis.get(id)
	if !ok || !st.visible(e.visibleAt) {
		return nil, errf("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
	}
	return e, nil
}

func (st *state) describeNetworkInterfaces(q *qnode) (any, error) {
	ids := q.strs("NetworkInterfaceId")
	return describeSet(st, q, "networkInterfaceSet", describeSpec[*eni, xENI]{
		lo: 5, hi: 1000, named: len(ids) > 0, namedParam: "networkInterfaceIdSet",
		lookup: func() ([]*eni, error) { return lookupEach(ids, st.lookupENI) },
		all: func() []*eni {
			return visibleOf(st.enis.all(), func(e *eni) bool { return st.visible(e.visibleAt) })
		},
		id:   func(e *eni) string { return e.id },
		attr: st.eniAttr,
		item: st.xENI,
	})
}

// eniAttr returns a network interface's values for the
// DescribeNetworkInterfaces filters.
func (st *state) eniAttr(e *eni) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "network-interface-id":
			return one(e.id), true
		case "subnet-id":
			return one(e.subnetID), true
		case "vpc-id":
			return one(e.vpcID), true
		case "availability-zone":
			return one(e.az), true
		case "status":
			return one(e.status), true
		case "private-ip-address", "addresses.private-ip-address":
			return one(e.privateIP), true
		case "association.public-ip":
			return one(e.publicIP), true
		case "group-id":
			return e.groups, true
		case "group-name":
			var out []string
			for _, g := range st.groupRefs(e.groups) {
				out = append(out, g.GroupName)
			}
			return out, true
		case "owner-id":
			return one(AccountID), true
		case "description":
			return one(e.desc), true
		case "mac-address":
			return one(e.mac), true
		case "attachment.instance-id", "attachment.attachment-id", "attachment.status", "attachment.device-index":
			if e.attach == nil {
				return nil, true
			}
			switch name {
			case "attachment.instance-id":
				return one(e.attach.instanceID), true
			case "attachment.attachment-id":
				return one(e.attach.id), true
			case "attachment.status":
				return one(e.attach.status), true
			}
			return one(strconv.Itoa(int(e.attach.deviceIndex))), true
		}
		return nil, false
	}
}

func (st *state) modifyNetworkInterfaceAttribute(q *qnode) (any, error) {
	id := q.str("NetworkInterfaceId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter networkInterfaceId")
	}
	e, err := st.lookupENI(id)
	if err != nil {
		return nil, err
	}
	groups := q.strs("SecurityGroupId")
	n := boolInt(len(groups) > 0) + boolInt(q.has("SourceDestCheck")) + boolInt(q.has("Description")) + boolInt(q.has("Attachment"))
	if n == 0 {
		return nil, errf("MissingParameter", "The request must contain a parameter to modify")
	}
	if n > 1 {
		return nil, errf("InvalidParameterCombination", "Only one attribute can be modified at a time")
	}
	switch {
	case len(groups) > 0:
		for _, g := range groups {
			if _, err := st.lookupGroup(g); err != nil {
				return nil, err
			}
		}
		if err := dryRun(q); err != nil {
			return nil, err
		}
		if err := st.setENIGroups(e, groups); err != nil {
			return nil, err
		}
	case q.has("SourceDestCheck"):
		b, ok, err := q.boolean("SourceDestCheck", "Value")
		if err != nil || !ok {
			return nil, errf("InvalidParameterValue", "SourceDestCheck.Value must be true or false")
		}
		if err := dryRun(q); err != nil {
			return nil, err
		}
		e.sourceDestCheck = b
	case q.has("Description"):
		if err := dryRun(q); err != nil {
			return nil, err
		}
		e.desc = q.str("Description", "Value")
	case q.has("Attachment"):
		if e.attach == nil || e.attach.id != q.str("Attachment", "AttachmentId") {
			return nil, errf("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", q.str("Attachment", "AttachmentId"))
		}
		b, ok, err := q.boolean("Attachment", "DeleteOnTermination")
		if err != nil || !ok {
			return nil, errf("InvalidParameterValue", "Attachment.DeleteOnTermination must be true or false")
		}
		if err := dryRun(q); err != nil {
			return nil, err
		}
		e.attach.deleteOnTerm = b
	}
	return ec2Return{Return: true}, nil
}

// --- tags ---

// resourceType names the EC2 resource type of an id, "" if unknown.
func (st *state) resourceType(id string) string {
	switch {
	case strings.HasPrefix(id, "i-"):
		if _, ok := st.instances.get(id); ok {
			return "instance"
		}
	case strings.HasPrefix(id, "vol-"):
		if _, ok := st.volumes.get(id); ok {
			return "volume"
		}
	case strings.HasPrefix(id, "snap-"):
		if _, ok := st.snapshots.get(id); ok {
			return "snapshot"
		}
	case strings.HasPrefix(id, "sgr-"):
		if _, ok := st.rules[id]; ok {
			return "security-group-rule"
		}
	case strings.HasPrefix(id, "sg-"):
		if _, ok := st.sgs.get(id); ok {
			return "security-group"
		}
	case strings.HasPrefix(id, "ami-"):
		if _, ok := st.images.get(id); ok {
			return "image"
		}
	case strings.HasPrefix(id, "eni-"):
		if _, ok := st.enis.get(id); ok {
			return "network-interface"
		}
	case strings.HasPrefix(id, "vpc-"):
		if _, ok := st.vpcs.get(id); ok {
			return "vpc"
		}
	case strings.HasPrefix(id, "subnet-"):
		if _, ok := st.subnets.get(id); ok {
			return "subnet"
		}
	case strings.HasPrefix(id, "lt-"):
		if _, ok := st.lts.get(id); ok {
			return "launch-template"
		}
	}
	return ""
}

func notFoundFor(id string) *apiError {
	codes := map[string]string{
		"i": "InvalidInstanceID.NotFound", "vol": "InvalidVolume.NotFound", "snap": "InvalidSnapshot.NotFound",
		"sg": "InvalidGroup.NotFound", "sgr": "InvalidSecurityGroupRuleId.NotFound", "ami": "InvalidAMIID.NotFound",
		"eni": "InvalidNetworkInterfaceID.NotFound", "vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound",
		"lt": "InvalidLaunchTemplateId.NotFound",
	}
	prefix, _, _ := strings.Cut(id, "-")
	if c, ok := codes[prefix]; ok {
		return errf(c, "The ID '%s' does not exist", id)
	}
	return errf("InvalidID", "The ID '%s' is not valid", id)
}

func (st *state) taggable(id string) error {
	if st.resourceType(id) == "" {
		return notFoundFor(id)
	}
	switch st.resourceType(id) {
	case "instance":
		in, _ := st.instances.get(id)
		if !st.instanceVisible(in) {
			return notFoundFor(id)
		}
	case "volume":
		v, _ := st.volumes.get(id)
		if !st.visible(v.visibleAt) {
			return notFoundFor(id)
		}
	case "snapshot":
		s, _ := st.snapshots.get(id)
		if !st.visible(s.visibleAt) {
			return notFoundFor(id)
		}
	case "security-group":
		g, _ := st.sgs.get(id)
		if !st.visible(g.visibleAt) {
			return notFoundFor(id)
		}
	}
	return nil
}

func (st *state) createTags(q *qnode) (any, error) {
	ids := q.strs("ResourceId")
	if len(ids) == 0 {
		return nil, errf("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	var kv [][2]string
	for _, t := range q.list("Tag") {
		k := t.str("Key")
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
		if len(t.str("Value")) > 256 {
			return nil, errf("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
		}
		kv = append(kv, [2]string{k, t.str("Value")})
	}
	if len(kv) == 0 {
		return nil, errf("MissingParameter", "The request must contain the parameter tagSet")
	}
	for _, id := range ids {
		if err := st.taggable(id); err != nil {
			return nil, err
		}
		merged := map[string]bool{}
		for k := range st.tags[id] {
			merged[k] = true
		}
		for _, t := range kv {
			merged[t[0]] = true
		}
		if len(merged) > 50 {
			return nil, errf("TagLimitExceeded", "The maximum number of tags per resource (50) has been reached for '%s'", id)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	for _, id := range ids {
		st.setTags(id, kv)
	}
	return ec2Return{Return: true}, nil
}

func (st *state) deleteTags(q *qnode) (any, error) {
	ids := q.strs("ResourceId")
	if len(ids) == 0 {
		return nil, errf("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	for _, id := range ids {
		if err := st.taggable(id); err != nil {
			return nil, err
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	tags := q.list("Tag")
	for _, id := range ids {
		m := st.tags[id]
		if len(tags) == 0 {
			delete(st.tags, id)
			continue
		}
		for _, t := range tags {
			k := t.str("Key")
			if v, ok := m[k]; ok && (!t.has("Value") || t.str("Value") == v) {
				delete(m, k)
			}
		}
	}
	return ec2Return{Return: true}, nil
}

func (st *state) describeTags(q *qnode) (any, error) {
	if err := dryRun(q); err != nil {
		return nil, err
	}
	max, err := maxResults(q, 5, 1000)
	if err != nil {
		return nil, err
	}
	filters, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	type xTagDesc struct {
		ResourceID   string `xml:"resourceId"`
		ResourceType string `xml:"resourceType"`
		Key          string `xml:"key"`
		Value        string `xml:"value"`
	}
	ids := make([]string, 0, len(st.tags))
	for id := range st.tags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var hits []xTagDesc
	for _, id := range ids {
		rt := st.resourceType(id)
		if rt == "" || st.taggable(id) != nil {
			continue
		}
		for _, t := range st.tagSet(id) {
			for _, f := range filters {
				switch f.name {
				case "resource-id", "resource-type", "key", "value":
				default:
					return nil, errf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
				}
			}
			d := xTagDesc{ResourceID: id, ResourceType: rt, Key: t.Key, Value: t.Value}
			ok := true
			for _, f := range filters {
				var have string
				switch f.name {
				case "resource-id":
					have = id
				case "resource-type":
					have = rt
				case "key":
					have = t.Key
				case "value":
					have = t.Value
				}
				hit := false
				for _, w := range f.values {
					if glob(w, have) {
						hit = true
					}
				}
				ok = ok && hit
			}
			if ok {
				hits = append(hits, d)
			}
		}
	}
	start, end, next, err := page(len(hits), max, q.str("NextToken"))
	if err != nil {
		return nil, err
	}
	type out struct {
		Set       items[xTagDesc] `xml:"tagSet"`
		NextToken string          `xml:"nextToken,omitempty"`
	}
	return out{Set: items[xTagDesc]{Item: hits[start:end]}, NextToken: next}, nil
}

// --- VPCs, subnets, zones ---

func (st *state) describeVpcs(q *qnode) (any, error) {
	return describeSet(st, q, "vpcSet", describeSpec[*vpc, xVpcItem]{
		unpaged: true,
		lookup: func() ([]*vpc, error) {
			return namedOf(q.strs("VpcId"), st.vpcs.all(), func(v *vpc) string { return v.id },
				func(id string) bool { _, ok := st.vpcs.get(id); return ok },
				func(id string) error { return errf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id) })
		},
		id: func(v *vpc) string { return v.id },
		attr: func(v *vpc) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "vpc-id":
					return one(v.id), true
				case "is-default", "isDefault":
					return one(strconv.FormatBool(v.isDefault)), true
				case "cidr", "cidr-block-association.cidr-block":
					return one(v.cidr), true
				case "state":
					return one("available"), true
				case "owner-id":
					return one(AccountID), true
				}
				return nil, false
			}
		},
		item: st.xVpc,
	})
}

func (st *state) describeSubnets(q *qnode) (any, error) {
	return describeSet(st, q, "subnetSet", describeSpec[*subnet, xSubnetItem]{
		unpaged: true,
		lookup: func() ([]*subnet, error) {
			return namedOf(q.strs("SubnetId"), st.subnets.all(), func(s *subnet) string { return s.id },
				func(id string) bool { _, ok := st.subnets.get(id); return ok },
				func(id string) error {
					return errf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
				})
		},
		id: func(s *subnet) string { return s.id },
		attr: func(s *subnet) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "subnet-id":
					return one(s.id), true
				case "vpc-id":
					return one(s.vpcID), true
				case "availability-zone", "availabilityZone":
					return one(s.az), true
				case "default-for-az", "defaultForAz":
					return one(strconv.FormatBool(s.defaultForAz)), true
				case "cidr-block", "cidr", "cidrBlock":
					return one(s.cidr), true
				case "state":
					return one("available"), true
				}
				return nil, false
			}
		},
		item: st.xSubnet,
	})
}

func (st *state) describeAvailabilityZones(q *qnode) (any, error) {
	if err := dryRun(q); err != nil {
		return nil, err
	}
	type xAZ struct {
		ZoneName   string `xml:"zoneName"`
		ZoneState  string `xml:"zoneState"`
		RegionName string `xml:"regionName"`
		ZoneID     string `xml:"zoneId"`
		ZoneType   string `xml:"zoneType"`
		OptIn      string `xml:"optInStatus"`
		Group      string `xml:"groupName"`
		NBG        string `xml:"networkBorderGroup"`
	}
	var o struct {
		Set items[xAZ] `xml:"availabilityZoneInfo"`
	}
	for i, az := range st.azs {
		o.Set.Item = append(o.Set.Item, xAZ{ZoneName: az, ZoneState: "available", RegionName: st.region,
			ZoneID: "use1-az" + strconv.Itoa(i+1), ZoneType: "availability-zone", OptIn: "opt-in-not-required",
			Group: st.region, NBG: st.region})
	}
	return o, nil
}
