package ec2test

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
)

// Non-default VPCs and IPv6: CreateVpc (an IPv4 CIDR of /16 to /28, and
// with AmazonProvidedIpv6CidrBlock a /56 from 2600:1f18::/32), CreateSubnet
// (an IPv4 CIDR inside the VPC's, and an IPv6 /64 inside its /56), and
// RunInstances' Ipv6AddressCount, which gives the primary interface
// addresses of its subnet's /64. A new VPC gets its default security
// group, its main route table and its default network ACL, as in EC2.

type xIPv6Assoc struct {
	ID    string `xml:"associationId"`
	CIDR  string `xml:"ipv6CidrBlock"`
	State string `xml:"ipv6CidrBlockState>state"`
}

type xIPv6Addr struct {
	Addr string `xml:"ipv6Address"`
}

func ipv6Assocs(id, cidr string) []xIPv6Assoc {
	if cidr == "" {
		return nil
	}
	return []xIPv6Assoc{{ID: stableID("vpc-cidr-assoc", id+"|"+cidr), CIDR: cidr, State: "associated"}}
}

func ipv6Addrs(addrs []string) []xIPv6Addr {
	var out []xIPv6Addr
	for _, a := range addrs {
		out = append(out, xIPv6Addr{Addr: a})
	}
	return out
}

func (st *state) createVpc(q *qnode) (any, error) {
	p, err := netip.ParsePrefix(q.str("CidrBlock"))
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", q.str("CidrBlock"))
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, errf("InvalidVpc.Range", "The CIDR '%s' is invalid.", p)
	}
	v6, _, err := q.boolean("AmazonProvidedIpv6CidrBlock")
	if err != nil {
		return nil, errf("InvalidParameterValue", "%v", err)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	v := &vpc{id: st.newID("vpc"), cidr: p.String()}
	if v6 {
		h := sha256.Sum256([]byte(v.id))
		v.ipv6 = fmt.Sprintf("2600:1f18:%02x%02x:%02x00::/56", h[0], h[1], h[2])
	}
	st.vpcs.put(v.id, v)
	st.newSecurityGroup("default", "default VPC security group", v.id, true)
	st.mainRouteTable(v.id)
	st.nacl(v.id)
	return struct {
		V xVpcItem `xml:"vpc"`
	}{st.xVpc(v)}, nil
}

type xVpcItem struct {
	VpcID     string       `xml:"vpcId"`
	State     string       `xml:"state"`
	CidrBlock string       `xml:"cidrBlock"`
	DHCP      string       `xml:"dhcpOptionsId"`
	Tenancy   string       `xml:"instanceTenancy"`
	IsDefault bool         `xml:"isDefault"`
	OwnerID   string       `xml:"ownerId"`
	IPv6      []xIPv6Assoc `xml:"ipv6CidrBlockAssociationSet>item"`
	Tags      []xmlTag     `xml:"tagSet>item"`
}

func (st *state) xVpc(v *vpc) xVpcItem {
	return xVpcItem{VpcID: v.id, State: "available", CidrBlock: v.cidr, DHCP: "dopt-0a1b2c3d",
		Tenancy: "default", IsDefault: v.isDefault, OwnerID: AccountID, IPv6: ipv6Assocs(v.id, v.ipv6), Tags: st.tagSet(v.id)}
}

func (st *state) createSubnet(q *qnode) (any, error) {
	v, ok := st.vpcs.get(q.str("VpcId"))
	if !ok {
		return nil, errf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", q.str("VpcId"))
	}
	p, err := netip.ParsePrefix(q.str("CidrBlock"))
	vp := netip.MustParsePrefix(v.cidr)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", q.str("CidrBlock"))
	}
	if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() || p.Bits() > 28 {
		return nil, errf("InvalidSubnet.Range", "The CIDR '%s' is invalid.", p)
	}
	for _, o := range st.subnets.all() {
		if o.vpcID == v.id && o.prefix.Overlaps(p) {
			return nil, errf("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", p)
		}
	}
	sn := &subnet{id: st.newID("subnet"), vpcID: v.id, az: q.str("AvailabilityZone"), cidr: p.String(), prefix: p,
		next: p.Addr().Next().Next().Next().Next()}
	if sn.az == "" {
		sn.az = st.azs[0]
	}
	if c6 := q.str("Ipv6CidrBlock"); c6 != "" {
		p6, err := netip.ParsePrefix(c6)
		if err != nil || p6.Addr().Is4() || p6.Bits() != 64 || p6.Masked() != p6 {
			return nil, errf("InvalidParameterValue", "Value (%s) for parameter ipv6CidrBlock is invalid.", c6)
		}
		if v.ipv6 == "" || !netip.MustParsePrefix(v.ipv6).Contains(p6.Addr()) {
			return nil, errf("InvalidSubnet.Range", "The IPv6 CIDR '%s' is not within the VPC's IPv6 CIDR.", p6)
		}
		sn.ipv6, sn.nextV6 = p6, p6.Addr().Next().Next().Next().Next()
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	st.subnets.put(sn.id, sn)
	return struct {
		S xSubnetItem `xml:"subnet"`
	}{st.xSubnet(sn)}, nil
}

type xSubnetItem struct {
	SubnetID     string       `xml:"subnetId"`
	State        string       `xml:"state"`
	VpcID        string       `xml:"vpcId"`
	CidrBlock    string       `xml:"cidrBlock"`
	AvailableIPs int          `xml:"availableIpAddressCount"`
	AZ           string       `xml:"availabilityZone"`
	DefaultForAz bool         `xml:"defaultForAz"`
	MapPublic    bool         `xml:"mapPublicIpOnLaunch"`
	OwnerID      string       `xml:"ownerId"`
	Arn          string       `xml:"subnetArn"`
	IPv6         []xIPv6Assoc `xml:"ipv6CidrBlockAssociationSet>item"`
	Tags         []xmlTag     `xml:"tagSet>item"`
}

func (st *state) xSubnet(s *subnet) xSubnetItem {
	x := xSubnetItem{SubnetID: s.id, State: "available", VpcID: s.vpcID, CidrBlock: s.cidr,
		AvailableIPs: 4091, AZ: s.az, DefaultForAz: s.defaultForAz, MapPublic: s.mapPublic, OwnerID: AccountID,
		Arn: "arn:aws:ec2:" + st.region + ":" + AccountID + ":subnet/" + s.id, Tags: st.tagSet(s.id)}
	if s.ipv6.IsValid() {
		x.IPv6 = ipv6Assocs(s.id, s.ipv6.String())
	}
	return x
}

// allocIPv6 hands out the next IPv6 address of a subnet's /64.
func (st *state) allocIPv6(sn *subnet) string {
	a := sn.nextV6
	sn.nextV6 = a.Next()
	return a.String()
}
