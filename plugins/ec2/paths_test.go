package ec2

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

// An instance in a private subnet (default route to a NAT gateway, a
// transit gateway route, a Gateway Load Balancer endpoint route) and
// behind a Network Load Balancer: the plan lists every path and says
// that only a network ACL cuts their connections.
func TestContainTrackedPaths(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	rt, err := e.CreateRouteTable(ctx, &awsec2.CreateRouteTableInput{VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	rtb := aws.ToString(rt.RouteTable.RouteTableId)
	for _, r := range []awsec2.CreateRouteInput{
		{DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String("nat-0a1b2c3d4e5f60718")},
		{DestinationCidrBlock: aws.String("10.0.0.0/8"), TransitGatewayId: aws.String("tgw-0a1b2c3d4e5f60718")},
		{DestinationCidrBlock: aws.String("192.168.0.0/16"), VpcEndpointId: aws.String("vpce-0a1b2c3d4e5f60718")},
	} {
		r.RouteTableId = aws.String(rtb)
		if _, err := e.CreateRoute(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.AssociateRouteTable(ctx, &awsec2.AssociateRouteTableInput{RouteTableId: aws.String(rtb), SubnetId: aws.String(w.subnet)}); err != nil {
		t.Fatal(err)
	}
	lb := elbv2.NewFromConfig(srv.Config())
	tg, err := lb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("nlb-tcp"), Protocol: elbtypes.ProtocolEnumTcp, Port: aws.Int32(22), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := lb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: []elbtypes.TargetDescription{{Id: aws.String(w.infected)}}}); err != nil {
		t.Fatal(err)
	}

	want := []TrackedPath{
		{Kind: PathGWLBEndpoint, ID: "vpce-0a1b2c3d4e5f60718", Via: rtb + " 192.168.0.0/16"},
		{Kind: PathNATGateway, ID: "nat-0a1b2c3d4e5f60718", Via: rtb + " 0.0.0.0/0"},
		{Kind: PathNLB, ID: arn, Via: "TCP"},
		{Kind: PathTransitGateway, ID: "tgw-0a1b2c3d4e5f60718", Via: rtb + " 10.0.0.0/8"},
	}
	for _, acl := range []bool{false, true} {
		plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "case-paths"}, InstanceIDs: []string{w.infected}, NetworkACL: acl}, fastOpts...)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, plan.Instances[0].TrackedPaths); d != "" {
			t.Errorf("acl=%v tracked paths:\n%s", acl, d)
		}
		advice := "set NetworkACL"
		if acl {
			advice = "the network ACL deny entries of this plan cut them"
		}
		if !slices.ContainsFunc(plan.Notes, func(n string) bool {
			return strings.HasPrefix(n, w.infected+" sits behind gateway-load-balancer-endpoint vpce-") && strings.Contains(n, "network-load-balancer "+arn) && strings.Contains(n, advice)
		}) {
			t.Errorf("acl=%v: no path note with %q: %q", acl, advice, plan.Notes)
		}
	}
	// The neighbour is in the same subnet but in no target group: the
	// routes only. Without a route table client: a note, no paths.
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "case-paths"}, InstanceIDs: []string{w.neighbour}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(plan.Instances[0].TrackedPaths); got != 3 {
		t.Errorf("neighbour paths = %+v, want the 3 routes", plan.Instances[0].TrackedPaths)
	}
	c2 := *c
	c2.DescribeRouteTables = nil
	plan, err = PlanContain(ctx, &c2, ContainInput{Incident: Incident{ID: "case-paths"}, InstanceIDs: []string{w.neighbour}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Instances[0].TrackedPaths) != 0 || !slices.Contains(plan.Notes, NoteRoutesUnread) {
		t.Errorf("without DescribeRouteTables: %+v %q", plan.Instances[0].TrackedPaths, plan.Notes)
	}
}
