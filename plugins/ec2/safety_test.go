package ec2

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// failTerminate lets the coverage check and the protection change through
// and fails TerminateInstances, as a denied call or an outage would.
type failTerminate struct{ TerminateInstancesAPI }

func (failTerminate) TerminateInstances(context.Context, *awsec2.TerminateInstancesInput, ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."}
}

// TestTerminateFailureRestoresProtection: when TerminateInstances fails,
// the instance lives on and must not stay without termination protection.
func TestTerminateFailureRestoresProtection(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-term"}
	if _, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...); err != nil {
		t.Fatal(err)
	}
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	c.TerminateInstances = failTerminate{c.TerminateInstances}
	_, err = Terminate(ctx, c, sets[0])
	var se *StepError
	if !errors.As(err, &se) || se.Operation != "TerminateInstances" {
		t.Fatalf("err = %v, want the TerminateInstances failure", err)
	}
	if !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) {
		t.Error("termination protection left off after TerminateInstances failed")
	}
	if st := getInstance(t, e, w.infected).State; st == nil || st.Name != types.InstanceStateNameRunning {
		t.Errorf("state = %+v", st)
	}
}

// TestContainQuarantineGroupChangedAfterPlan: a quarantine group created,
// or given rules, between PlanContain and ApplyContain (by anyone who may
// edit groups) is emptied and verified before any interface moves into it.
func TestContainQuarantineGroupChangedAfterPlan(t *testing.T) {
	openAll := []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}, Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}}
	for _, existsAtPlan := range []bool{false, true} {
		name := "created after plan"
		if existsAtPlan {
			name = "rules added after plan"
		}
		t.Run(name, func(t *testing.T) {
			_, c, e := emu(t)
			w := seed(t, e)
			ctx := context.Background()
			var gid *string
			if existsAtPlan {
				g, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(DefaultQuarantineGroup), Description: aws.String("q"), VpcId: aws.String(w.vpc)})
				if err != nil {
					t.Fatal(err)
				}
				gid = g.GroupId
				if _, err := e.RevokeSecurityGroupEgress(ctx, &awsec2.RevokeSecurityGroupEgressInput{GroupId: gid, IpPermissions: []types.IpPermission{
					{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
					t.Fatal(err)
				}
			}
			plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}, AutoScaling: ASGSkip, SkipLoadBalancers: true}, fastOpts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, gp := range plan.Groups {
				if gp.Role == RoleQuarantine && len(gp.Converge) != 0 {
					t.Fatalf("plan already sees rules: %+v", gp)
				}
			}
			// Between plan and apply.
			if !existsAtPlan {
				g, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(DefaultQuarantineGroup), Description: aws.String("q"), VpcId: aws.String(w.vpc)})
				if err != nil {
					t.Fatal(err)
				}
				gid = g.GroupId
			}
			if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: gid, IpPermissions: openAll}); err != nil {
				t.Fatal(err)
			}
			if _, err := ApplyContain(ctx, c, plan, fastOpts...); err != nil {
				t.Fatal(err)
			}
			q, err := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
			if err != nil || q == nil {
				t.Fatalf("quarantine group: %v", err)
			}
			if aws.ToString(q.GroupId) != aws.ToString(gid) {
				t.Fatalf("quarantine group %s, want the adopted %s", aws.ToString(q.GroupId), aws.ToString(gid))
			}
			if rs := groupRules(*q); len(rs) != 0 {
				t.Errorf("instance contained in a group with rules: %v", rs)
			}
			if d := cmp.Diff([][]string{{aws.ToString(gid)}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
				t.Errorf("ENI groups:\n%s", d)
			}
		})
	}
}

// keepOpening re-adds an all-traffic rule to the group after every revoke:
// the quarantine group can never be verified empty.
type keepOpening struct {
	RevokeSecurityGroupIngressAPI
	e *awsec2.Client
}

func (k keepOpening) RevokeSecurityGroupIngress(ctx context.Context, in *awsec2.RevokeSecurityGroupIngressInput, opts ...func(*awsec2.Options)) (*awsec2.RevokeSecurityGroupIngressOutput, error) {
	out, err := k.RevokeSecurityGroupIngressAPI.RevokeSecurityGroupIngress(ctx, in, opts...)
	_, _ = k.e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: in.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	return out, err
}

// TestContainRefusesQuarantineGroupThatStaysOpen: no interface is moved
// into a quarantine group that cannot be verified empty.
func TestContainRefusesQuarantineGroupThatStaysOpen(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	g, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(DefaultQuarantineGroup), Description: aws.String("q"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	c.RevokeSecurityGroupIngress = keepOpening{c.RevokeSecurityGroupIngress, e}
	_, err = Contain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}, AutoScaling: ASGSkip, SkipLoadBalancers: true}, fastOpts...)
	if !errors.Is(err, ErrQuarantineOpen) {
		t.Fatalf("err = %v, want ErrQuarantineOpen", err)
	}
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Errorf("interface moved despite an open quarantine group:\n%s", d)
	}
}

// watchOpen checks, at every interface move, the rules of the groups the
// interface is being put in: none may admit traffic from the whole
// internet.
type watchOpen struct {
	ModifyNetworkInterfaceAttributeAPI
	t      *testing.T
	groups DescribeSecurityGroupsAPI
	mu     *sync.Mutex
	opened *[]string
}

func (w watchOpen) ModifyNetworkInterfaceAttribute(ctx context.Context, in *awsec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*awsec2.Options)) (*awsec2.ModifyNetworkInterfaceAttributeOutput, error) {
	gs, err := describeGroupsByID(context.Background(), w.groups, in.Groups)
	if err != nil {
		w.t.Errorf("describe %v: %v", in.Groups, err)
	}
	for id, g := range gs {
		for _, r := range rulesOf("ingress", g.IpPermissions) {
			if openWorld(r.CIDR) {
				w.mu.Lock()
				*w.opened = append(*w.opened, id+" "+r.String())
				w.mu.Unlock()
			}
		}
	}
	return w.ModifyNetworkInterfaceAttributeAPI.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
}

// TestContainNeverOpensToTheWorld: no interface is put, even for a moment,
// in a group whose ingress admits 0.0.0.0/0 or ::/0 (before: the
// all-traffic passthrough group, for the 2 s dwell).
func TestContainNeverOpensToTheWorld(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	seedFleet(t, e, w, 3)
	ctx := context.Background()
	var opened []string
	c.ModifyNetworkInterfaceAttr = watchOpen{c.ModifyNetworkInterfaceAttr, t, c.DescribeSecurityGroups, &sync.Mutex{}, &opened}
	if _, err := Contain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: append([]string{w.infected}, w.fleet...)}, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if len(opened) > 0 {
		t.Errorf("interfaces moved into groups open to the world: %v", opened)
	}
	q, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	for _, id := range append([]string{w.infected}, w.fleet...) {
		if d := cmp.Diff([][]string{{aws.ToString(q.GroupId)}}, eniGroups(getInstance(t, e, id))); d != "" {
			t.Errorf("%s:\n%s", id, d)
		}
	}
}
