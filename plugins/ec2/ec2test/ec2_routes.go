package ec2test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
)

// Route tables: every VPC has a main route table (the local route, and in
// the default VPC 0.0.0.0/0 to its internet gateway) that serves each
// subnet without a table of its own. CreateRouteTable, CreateRoute (to an
// internet gateway, NAT gateway, transit gateway, Gateway Load Balancer
// endpoint or network interface), AssociateRouteTable and
// DescribeRouteTables work as EC2 does; the targets are not checked for
// existence (one divergence: EC2 answers InvalidNatGatewayID.NotFound and
// the like).

type route struct {
	dest   string // IPv4 or IPv6 CIDR
	kind   string // "gatewayId", "natGatewayId", "transitGatewayId", "networkInterfaceId"
	target string
	origin string // CreateRouteTable (local, main) or CreateRoute
}

type routeTable struct {
	id, vpcID string
	main      bool
	routes    []route
	assoc     map[string]string // subnet id -> association id
}

func stableID(prefix, seed string) string {
	h := sha256.Sum256([]byte(prefix + "|" + seed))
	return prefix + "-" + hex.EncodeToString(h[:])[:17]
}

// mainRouteTable returns the VPC's main route table, made on first use.
func (st *state) mainRouteTable(vpcID string) *routeTable {
	if st.rtbs == nil {
		st.rtbs = map[string]*routeTable{}
	}
	id := stableID("rtb", "main|"+vpcID)
	if t, ok := st.rtbs[id]; ok {
		return t
	}
	v, _ := st.vpcs.get(vpcID)
	t := &routeTable{id: id, vpcID: vpcID, main: true, assoc: map[string]string{}}
	if v != nil {
		t.routes = append(t.routes, route{dest: v.cidr, kind: "gatewayId", target: "local", origin: "CreateRouteTable"})
		if v.isDefault {
			t.routes = append(t.routes, route{dest: "0.0.0.0/0", kind: "gatewayId", target: stableID("igw", vpcID), origin: "CreateRoute"})
		}
	}
	st.rtbs[id] = t
	return t
}

func (st *state) allRouteTables() []*routeTable {
	for _, v := range st.vpcs.all() {
		st.mainRouteTable(v.id)
	}
	out := make([]*routeTable, 0, len(st.rtbs))
	for _, t := range st.rtbs {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *routeTable) int { return strings.Compare(a.id, b.id) })
	return out
}

func (st *state) routeTable(id string) (*routeTable, error) {
	st.allRouteTables()
	if t, ok := st.rtbs[id]; ok {
		return t, nil
	}
	return nil, errf("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
}

func (st *state) createRouteTable(q *qnode) (any, error) {
	vpcID := q.str("VpcId")
	if vpcID == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter vpcId")
	}
	v, ok := st.vpcs.get(vpcID)
	if !ok {
		return nil, errf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpcID)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	st.mainRouteTable(vpcID)
	t := &routeTable{id: st.newID("rtb"), vpcID: vpcID, assoc: map[string]string{},
		routes: []route{{dest: v.cidr, kind: "gatewayId", target: "local", origin: "CreateRouteTable"}}}
	st.rtbs[t.id] = t
	return struct {
		RT xRouteTable `xml:"routeTable"`
	}{st.xRouteTable(t)}, nil
}

func (st *state) createRoute(q *qnode) (any, error) {
	t, err := st.routeTable(q.str("RouteTableId"))
	if err != nil {
		return nil, err
	}
	dest := q.str("DestinationCidrBlock")
	if v6 := q.str("DestinationIpv6CidrBlock"); v6 != "" {
		if dest != "" {
			return nil, errf("InvalidParameterCombination", "Only one of destinationCidrBlock and destinationIpv6CidrBlock may be given")
		}
		dest = v6
	}
	p, err := netip.ParsePrefix(dest)
	if err != nil || p.Masked() != p {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", dest)
	}
	var r route
	n := 0
	for _, k := range []struct{ param, kind, prefix string }{
		{"GatewayId", "gatewayId", "igw-"}, {"NatGatewayId", "natGatewayId", "nat-"}, {"TransitGatewayId", "transitGatewayId", "tgw-"},
		{"VpcEndpointId", "gatewayId", "vpce-"}, {"NetworkInterfaceId", "networkInterfaceId", "eni-"},
	} {
		v := q.str(k.param)
		if v == "" {
			continue
		}
		n++
		if !strings.HasPrefix(v, k.prefix) && !(k.param == "GatewayId" && strings.HasPrefix(v, "vgw-")) {
			return nil, errf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", v, k.param)
		}
		r = route{dest: p.String(), kind: k.kind, target: v, origin: "CreateRoute"}
	}
	if n != 1 {
		return nil, errf("InvalidParameterCombination", "The parameter combination is not valid: exactly one route target must be given")
	}
	for _, x := range t.routes {
		if x.dest == r.dest {
			return nil, errf("RouteAlreadyExists", "The route identified by %s already exists.", r.dest)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	t.routes = append(t.routes, r)
	return ec2Return{Return: true}, nil
}

func (st *state) associateRouteTable(q *qnode) (any, error) {
	t, err := st.routeTable(q.str("RouteTableId"))
	if err != nil {
		return nil, err
	}
	sn, ok := st.subnets.get(q.str("SubnetId"))
	if !ok {
		return nil, errf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", q.str("SubnetId"))
	}
	if sn.vpcID != t.vpcID {
		return nil, errf("InvalidParameterValue", "route table %s and subnet %s belong to different networks", t.id, sn.id)
	}
	for _, o := range st.allRouteTables() {
		if _, ok := o.assoc[sn.id]; ok {
			return nil, errf("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", o.id)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	id := st.newID("rtbassoc")
	t.assoc[sn.id] = id
	return struct {
		ID    string `xml:"associationId"`
		State string `xml:"associationState>state"`
	}{id, "associated"}, nil
}

type xRoute struct {
	Dest    string `xml:"destinationCidrBlock,omitempty"`
	Dest6   string `xml:"destinationIpv6CidrBlock,omitempty"`
	Gateway string `xml:"gatewayId,omitempty"`
	NAT     string `xml:"natGatewayId,omitempty"`
	TGW     string `xml:"transitGatewayId,omitempty"`
	ENI     string `xml:"networkInterfaceId,omitempty"`
	State   string `xml:"state"`
	Origin  string `xml:"origin"`
}

type xRTAssoc struct {
	ID       string `xml:"routeTableAssociationId"`
	RTID     string `xml:"routeTableId"`
	SubnetID string `xml:"subnetId,omitempty"`
	Main     bool   `xml:"main"`
	State    string `xml:"associationState>state"`
}

type xRouteTable struct {
	ID      string     `xml:"routeTableId"`
	VpcID   string     `xml:"vpcId"`
	OwnerID string     `xml:"ownerId"`
	Routes  []xRoute   `xml:"routeSet>item"`
	Assocs  []xRTAssoc `xml:"associationSet>item"`
	Tags    []xmlTag   `xml:"tagSet>item"`
}

func (st *state) xRouteTable(t *routeTable) xRouteTable {
	x := xRouteTable{ID: t.id, VpcID: t.vpcID, OwnerID: AccountID, Tags: st.tagSet(t.id)}
	for _, r := range t.routes {
		xr := xRoute{State: "active", Origin: r.origin}
		if strings.Contains(r.dest, ":") {
			xr.Dest6 = r.dest
		} else {
			xr.Dest = r.dest
		}
		switch r.kind {
		case "natGatewayId":
			xr.NAT = r.target
		case "transitGatewayId":
			xr.TGW = r.target
		case "networkInterfaceId":
			xr.ENI = r.target
		default:
			xr.Gateway = r.target
		}
		x.Routes = append(x.Routes, xr)
	}
	if t.main {
		x.Assocs = append(x.Assocs, xRTAssoc{ID: stableID("rtbassoc", "main|"+t.vpcID), RTID: t.id, Main: true, State: "associated"})
	}
	subs := make([]string, 0, len(t.assoc))
	for s := range t.assoc {
		subs = append(subs, s)
	}
	slices.Sort(subs)
	for _, s := range subs {
		x.Assocs = append(x.Assocs, xRTAssoc{ID: t.assoc[s], RTID: t.id, SubnetID: s, State: "associated"})
	}
	return x
}

func (st *state) describeRouteTables(q *qnode) (any, error) {
	return describeSet(st, q, "routeTableSet", describeSpec[*routeTable, xRouteTable]{
		lo: 5, hi: 100, named: len(q.strs("RouteTableId")) > 0,
		lookup: func() ([]*routeTable, error) {
			ids := q.strs("RouteTableId")
			if len(ids) == 0 {
				return st.allRouteTables(), nil
			}
			var out []*routeTable
			for _, id := range ids {
				t, err := st.routeTable(id)
				if err != nil {
					return nil, err
				}
				out = append(out, t)
			}
			return out, nil
		},
		id: func(t *routeTable) string { return t.id },
		attr: func(t *routeTable) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "route-table-id":
					return one(t.id), true
				case "vpc-id":
					return one(t.vpcID), true
				case "association.main":
					if t.main {
						return one("true"), true
					}
					return one("false"), true
				case "association.subnet-id":
					var out []string
					for s := range t.assoc {
						out = append(out, s)
					}
					return out, true
				case "route.nat-gateway-id", "route.transit-gateway-id", "route.gateway-id":
					var out []string
					for _, r := range t.routes {
						if (name == "route.nat-gateway-id" && r.kind == "natGatewayId") || (name == "route.transit-gateway-id" && r.kind == "transitGatewayId") ||
							(name == "route.gateway-id" && r.kind == "gatewayId") {
							out = append(out, r.target)
						}
					}
					return out, true
				}
				return nil, false
			}
		},
		item: st.xRouteTable,
	})
}
