package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

func TestContainAndUndo(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-42"}

	plan, err := PlanContain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Instances) != 1 || plan.Instances[0].AlreadyContained || plan.Instances[0].TerminationProtection == nil || *plan.Instances[0].TerminationProtection {
		t.Fatalf("plan = %+v", plan.Instances)
	}
	if d := cmp.Diff([]Interface{{NetworkInterfaceID: plan.Instances[0].Interfaces[0].NetworkInterfaceID, Groups: []string{w.openSG}}}, plan.Instances[0].Interfaces); d != "" {
		t.Error(d)
	}
	for _, g := range plan.Groups {
		if g.GroupID != "" {
			t.Errorf("group %s should not exist yet: %+v", g.Name, g)
		}
	}
	srv.ResetCalls()
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	// Passthrough then quarantine on the one ENI.
	var moves []string
	for _, call := range srv.Calls() {
		if call.Operation == "ModifyNetworkInterfaceAttribute" {
			moves = append(moves, call.Operation)
		}
	}
	if len(moves) != 1 {
		t.Errorf("ModifyNetworkInterfaceAttribute calls = %d, want 1 (straight into quarantine)", len(moves))
	}
	inst := getInstance(t, e, w.infected)
	q, err := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	if err != nil || q == nil {
		t.Fatalf("quarantine group: %v", err)
	}
	if len(q.IpPermissions)+len(q.IpPermissionsEgress) != 0 {
		t.Errorf("quarantine group has rules: %+v %+v", q.IpPermissions, q.IpPermissionsEgress)
	}
	if pt, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultPassthroughGroup); pt != nil {
		t.Errorf("an all-traffic passthrough group was created: %+v", pt)
	}
	if d := cmp.Diff([]string{NoteTrackedConnections, NoteAlwaysTracked, NoteDNS}, plan.Notes); d != "" {
		t.Errorf("plan notes:\n%s", d)
	}
	if d := cmp.Diff([][]string{{aws.ToString(q.GroupId)}}, eniGroups(inst)); d != "" {
		t.Errorf("ENI groups after contain:\n%s", d)
	}
	if !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) || !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiStop) {
		t.Error("protection not on")
	}
	if tagValue(inst.Tags, TagIncident) != "case-42" {
		t.Errorf("tags = %v", inst.Tags)
	}
	if got := undo.OriginalGroups(w.infected); !cmp.Equal(got, []string{w.openSG}) {
		t.Errorf("OriginalGroups = %v", got)
	}
	// The neighbour is untouched.
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(getInstance(t, e, w.neighbour))); d != "" {
		t.Error(d)
	}

	// A re-run plans nothing and makes no mutating call.
	plan2, err := PlanContain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if !plan2.Instances[0].AlreadyContained {
		t.Errorf("re-plan: %+v", plan2.Instances[0])
	}
	srv.ResetCalls()
	if _, err := ApplyContain(ctx, c, plan2, fastOpts...); err != nil {
		t.Fatal(err)
	}
	for _, call := range srv.Calls() {
		switch call.Operation {
		case "ModifyNetworkInterfaceAttribute", "ModifyInstanceAttribute", "CreateTags", "CreateSecurityGroup":
			t.Errorf("re-run made %s", call.Operation)
		}
	}

	// The undo record survives JSON (a journal) and reverses everything.
	b, _ := json.Marshal(undo)
	var u2 ContainUndo
	if err := json.Unmarshal(b, &u2); err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, c, &u2, fastOpts...); err != nil {
		t.Fatal(err)
	}
	inst = getInstance(t, e, w.infected)
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(inst)); d != "" {
		t.Errorf("after undo:\n%s", d)
	}
	if attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) || attr(t, e, w.infected, types.InstanceAttributeNameDisableApiStop) {
		t.Error("protection still on after undo")
	}
	if tagValue(inst.Tags, TagIncident) != "" {
		t.Errorf("tags after undo = %v", inst.Tags)
	}
}

func TestContainRepairsExistingQuarantineGroup(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	// Someone made a "quarantine" group that still has the default egress
	// rule and an inbound rule: Contain must strip it.
	g, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(DefaultQuarantineGroup), Description: aws.String("x"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}, AutoScaling: ASGSkip, SkipLoadBalancers: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	var qp GroupPlan
	for _, gp := range plan.Groups {
		if gp.Role == RoleQuarantine {
			qp = gp
		}
	}
	if qp.GroupID != aws.ToString(g.GroupId) || len(qp.Converge) != 2 {
		t.Fatalf("quarantine plan = %+v", qp)
	}
	if _, err := ApplyContain(ctx, c, plan, fastOpts...); err != nil {
		t.Fatal(err)
	}
	q, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	if n := len(groupRules(*q)); n != 0 {
		t.Errorf("quarantine group still has %d rules", n)
	}
}

func TestContainUnknownInstance(t *testing.T) {
	_, c, e := emu(t)
	seed(t, e)
	_, err := PlanContain(context.Background(), c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{"i-0123456789abcdef0"}})
	if err == nil || !isErr(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// failQuarantine fails every move into the quarantine group.
type failQuarantine struct {
	ModifyNetworkInterfaceAttributeAPI
	quarantine func() string
}

func (f failQuarantine) ModifyNetworkInterfaceAttribute(ctx context.Context, in *awsec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*awsec2.Options)) (*awsec2.ModifyNetworkInterfaceAttributeOutput, error) {
	if len(in.Groups) == 1 && in.Groups[0] == f.quarantine() {
		return nil, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "denied"}
	}
	return f.ModifyNetworkInterfaceAttributeAPI.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
}

func TestContainNeverLeavesPassthrough(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	c.ModifyNetworkInterfaceAttr = failQuarantine{c.ModifyNetworkInterfaceAttr, func() string {
		g, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
		if g == nil {
			return ""
		}
		return aws.ToString(g.GroupId)
	}}
	undo, err := Contain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}}, fastOpts...)
	var se *StepError
	if !errors.As(err, &se) || se.Operation != "ModifyNetworkInterfaceAttribute" {
		t.Fatalf("err = %v, want the failed quarantine move", err)
	}
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Errorf("interface left outside its own groups:\n%s", d)
	}
	if len(undo.Instances) != 1 || !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) {
		t.Errorf("undo = %+v", undo.Instances)
	}
}

// cancelOnQuarantine cancels the run's context as the first quarantine
// move is sent, before it reaches EC2.
type cancelOnQuarantine struct {
	ModifyNetworkInterfaceAttributeAPI
	quarantine func() string
	once       *sync.Once
	cancel     context.CancelFunc
	moved      *string
}

func (f cancelOnQuarantine) ModifyNetworkInterfaceAttribute(ctx context.Context, in *awsec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*awsec2.Options)) (*awsec2.ModifyNetworkInterfaceAttributeOutput, error) {
	if len(in.Groups) != 1 || in.Groups[0] != f.quarantine() {
		return f.ModifyNetworkInterfaceAttributeAPI.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
	}
	f.once.Do(func() {
		*f.moved = aws.ToString(in.NetworkInterfaceId)
		f.cancel()
	})
	return f.ModifyNetworkInterfaceAttributeAPI.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
}

// TestContainCancelledStillQuarantines: a quarantine move under way when
// the context is cancelled completes (on a detached, bounded context);
// before, the cancelled call failed and the interface went back to its
// open groups.
func TestContainCancelledStillQuarantines(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	seedFleet(t, e, w, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bg := context.Background()
	var moved string
	quarantine := func() string {
		g, _ := findGroupByName(bg, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
		if g == nil {
			return ""
		}
		return aws.ToString(g.GroupId)
	}
	c.ModifyNetworkInterfaceAttr = cancelOnQuarantine{c.ModifyNetworkInterfaceAttr, quarantine, &sync.Once{}, cancel, &moved}
	_, err := Contain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: w.fleet}, WithConcurrency(2))
	if err == nil {
		t.Fatal("no error from a cancelled run")
	}
	q, _ := findGroupByName(bg, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	if q == nil {
		t.Fatal("no quarantine group")
	}
	found := false
	for _, in := range srv.State().Instances {
		for _, eni := range in.NetworkInterfaceIDs {
			if eni != moved {
				continue
			}
			found = true
			if d := cmp.Diff([]string{aws.ToString(q.GroupId)}, in.SecurityGroupIDs); d != "" {
				t.Errorf("%s: the move under way at cancellation did not complete:\n%s", in.ID, d)
			}
		}
	}
	if !found {
		t.Fatalf("interface %q not found", moved)
	}
}
