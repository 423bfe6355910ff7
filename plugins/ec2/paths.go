package ec2

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// DescribeRouteTablesAPI is the subset of *awsec2.Client for DescribeRouteTables.
type DescribeRouteTablesAPI interface {
	DescribeRouteTables(context.Context, *awsec2.DescribeRouteTablesInput, ...func(*awsec2.Options)) (*awsec2.DescribeRouteTablesOutput, error)
}

// Kinds of TrackedPath.
const (
	PathNATGateway     = "nat-gateway"
	PathTransitGateway = "transit-gateway"
	PathGWLBEndpoint   = "gateway-load-balancer-endpoint"
	PathNLB            = "network-load-balancer"
	PathGWLB           = "gateway-load-balancer"
)

// TrackedPath is a way in or out of an instance whose connections EC2
// always tracks: a security group change does not end them (only a
// network ACL does). Contain finds them in the route table of the
// instance's subnet (routes to a NAT gateway, a transit gateway or a
// Gateway Load Balancer endpoint) and in the target groups the instance
// is registered in (TCP/UDP/TLS: a Network Load Balancer; GENEVE: a
// Gateway Load Balancer).
type TrackedPath struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`  // nat-…, tgw-…, vpce-…, or the target group ARN
	Via  string `json:"via"` // "rtb-… 0.0.0.0/0", or the target group's protocol
}

func (p TrackedPath) String() string { return p.Kind + " " + p.ID + " (" + p.Via + ")" }

// routePaths returns, per subnet of the given VPCs, the tracked paths its
// route table (its own, else the VPC's main table) sends traffic through.
func routePaths(ctx context.Context, api DescribeRouteTablesAPI, vpcs []string) (map[string][]TrackedPath, map[string][]TrackedPath, error) {
	bySubnet := map[string][]TrackedPath{}
	byVPC := map[string][]TrackedPath{} // the main tables'
	for _, b := range chunks(vpcs, 200) {
		p := awsec2.NewDescribeRouteTablesPaginator(api, &awsec2.DescribeRouteTablesInput{
			Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: b}}, MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, nil, err
			}
			for _, t := range out.RouteTables {
				paths := tablePaths(t)
				for _, a := range t.Associations {
					switch {
					case aws.ToBool(a.Main):
						byVPC[aws.ToString(t.VpcId)] = paths
					case a.SubnetId != nil:
						bySubnet[aws.ToString(a.SubnetId)] = paths
					}
				}
			}
		}
	}
	return bySubnet, byVPC, nil
}

func tablePaths(t types.RouteTable) []TrackedPath {
	var out []TrackedPath
	for _, r := range t.Routes {
		if r.State == types.RouteStateBlackhole {
			continue
		}
		dest := aws.ToString(r.DestinationCidrBlock) + aws.ToString(r.DestinationIpv6CidrBlock) + aws.ToString(r.DestinationPrefixListId)
		via := aws.ToString(t.RouteTableId) + " " + dest
		switch {
		case r.NatGatewayId != nil:
			out = append(out, TrackedPath{Kind: PathNATGateway, ID: aws.ToString(r.NatGatewayId), Via: via})
		case r.TransitGatewayId != nil:
			out = append(out, TrackedPath{Kind: PathTransitGateway, ID: aws.ToString(r.TransitGatewayId), Via: via})
		case strings.HasPrefix(aws.ToString(r.GatewayId), "vpce-"):
			out = append(out, TrackedPath{Kind: PathGWLBEndpoint, ID: aws.ToString(r.GatewayId), Via: via})
		}
	}
	return out
}

// targetGroupPath is the tracked path of a target group, if its load
// balancer keeps connections tracked (Network and Gateway Load Balancers).
func targetGroupPath(tg elbtypes.TargetGroup) (TrackedPath, bool) {
	arn := aws.ToString(tg.TargetGroupArn)
	switch tg.Protocol {
	case elbtypes.ProtocolEnumTcp, elbtypes.ProtocolEnumUdp, elbtypes.ProtocolEnumTls, elbtypes.ProtocolEnumTcpUdp:
		return TrackedPath{Kind: PathNLB, ID: arn, Via: string(tg.Protocol)}, true
	case elbtypes.ProtocolEnumGeneve:
		return TrackedPath{Kind: PathGWLB, ID: arn, Via: string(tg.Protocol)}, true
	}
	return TrackedPath{}, false
}

// notePaths is the per-instance note of a plan whose instance sits behind
// always-tracked paths.
func notePaths(ic InstanceContain, acl bool) string {
	var s []string
	for _, p := range ic.TrackedPaths {
		s = append(s, p.String())
	}
	advice := "set NetworkACL (network_acl) to cut them with deny entries in the subnet's network ACL"
	if acl {
		advice = "the network ACL deny entries of this plan cut them"
	}
	return fmt.Sprintf("%s sits behind %s: connections through them are always tracked and survive the security group change; %s",
		ic.InstanceID, strings.Join(s, ", "), advice)
}

func sortPaths(ps []TrackedPath) {
	sort.Slice(ps, func(a, b int) bool {
		if ps[a].Kind != ps[b].Kind {
			return ps[a].Kind < ps[b].Kind
		}
		return ps[a].ID < ps[b].ID
	})
}

// NoteRoutesUnread is the note of a plan made without a
// DescribeRouteTables client: paths through NAT and transit gateways
// were not looked for.
const NoteRoutesUnread = "route tables were not read (no DescribeRouteTables client): paths through a NAT gateway, a transit gateway or a Gateway Load Balancer endpoint are not listed"
