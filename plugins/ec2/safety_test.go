package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

// failProtect fails every ModifyInstanceAttribute: together with the
// discarded undo record, a run that died after moving the interface.
type failProtect struct{ ModifyInstanceAttributeAPI }

func (failProtect) ModifyInstanceAttribute(context.Context, *awsec2.ModifyInstanceAttributeInput, ...func(*awsec2.Options)) (*awsec2.ModifyInstanceAttributeOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "RequestExpired", Message: "connection lost"}
}

// checkStored checks, at the first mutating call, that the store already
// holds the interface's original groups.
type checkStored struct {
	CreateSecurityGroupAPI
	t       *testing.T
	store   ContainStore
	inc     string
	eniWant func(*ContainUndo) bool
	checked *bool
}

func (c checkStored) CreateSecurityGroup(ctx context.Context, in *awsec2.CreateSecurityGroupInput, opts ...func(*awsec2.Options)) (*awsec2.CreateSecurityGroupOutput, error) {
	if !*c.checked {
		*c.checked = true
		u, err := c.store.Load(ctx, c.inc)
		if err != nil || u == nil || !c.eniWant(u) {
			c.t.Errorf("at the first mutating call the store holds %+v (%v), not the original groups", u, err)
		}
	}
	return c.CreateSecurityGroupAPI.CreateSecurityGroup(ctx, in, opts...)
}

// TestContainOriginalsSurviveACrash: a run dies after moving the
// interface into quarantine and its undo record is lost; the re-run's plan
// sees only the quarantine group. The original groups, saved durably
// before the first change, still let the re-run finish and then undo.
// Before: the re-run's record had no interface ("original unknown").
func TestContainOriginalsSurviveACrash(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-crash"}
	store, err := NewFileContainStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}
	opts := append([]Option{WithContainStore(store)}, fastOpts...)

	// Run 1 dies part-way: the interface moved, protection failed, the
	// returned record is lost with the process.
	good := *c
	checked := false
	c.CreateSecurityGroup = checkStored{c.CreateSecurityGroup, t, store, inc.ID, func(u *ContainUndo) bool {
		return cmp.Equal(u.OriginalGroups(w.infected), []string{w.openSG})
	}, &checked}
	c.ModifyInstanceAttribute = failProtect{c.ModifyInstanceAttribute}
	if _, err := Contain(ctx, c, in, opts...); err == nil {
		t.Fatal("run 1 did not fail")
	}
	if !checked {
		t.Fatal("no CreateSecurityGroup call was seen")
	}
	q, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	if d := cmp.Diff([][]string{{aws.ToString(q.GroupId)}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Fatalf("after run 1:\n%s", d)
	}

	// Run 2, a new process: plans afresh and finishes.
	c = &good
	undo, err := Contain(ctx, c, in, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) {
		t.Error("run 2 did not finish: protection off")
	}
	if got := undo.OriginalGroups(w.infected); !cmp.Equal(got, []string{w.openSG}) {
		t.Fatalf("run 2 record: original groups %v, want [%s]", got, w.openSG)
	}
	// And the incident can be released from what the store kept.
	saved, err := store.Load(ctx, inc.ID)
	if err != nil || saved == nil {
		t.Fatalf("load: %v", err)
	}
	if err := Undo(ctx, c, saved, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Errorf("after undo:\n%s", d)
	}
	if attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) || attr(t, e, w.infected, types.InstanceAttributeNameDisableApiStop) {
		t.Error("protection not restored to off")
	}
}

// TestContainStoreFailureChangesNothing: no durable record, no change.
func TestContainStoreFailureChangesNothing(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	dir := t.TempDir()
	store, err := NewFileContainStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	store.dir = dir + "/gone" // Save cannot create its file
	srv.ResetCalls()
	_, err = Contain(context.Background(), c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}}, append([]Option{WithContainStore(store)}, fastOpts...)...)
	if err == nil {
		t.Fatal("no error")
	}
	for _, op := range srv.Operations() {
		if !strings.HasPrefix(op, "Describe") {
			t.Errorf("mutating call %s without a durable record", op)
		}
	}
}

func TestFileContainStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := NewFileContainStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.Load(ctx, "none"); u != nil || err != nil {
		t.Fatalf("empty store: %v %v", u, err)
	}
	tp := false
	u := &ContainUndo{Step: "contain", Incident: Incident{ID: "../../etc/x"}, Instances: []InstanceUndo{{InstanceID: "i-1", TerminationProtectionWas: &tp,
		Interfaces: []Interface{{NetworkInterfaceID: "eni-1", Groups: []string{"sg-1", "sg-2"}}}}}}
	if err := s.Save(ctx, u); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(s.Path(u.Incident.ID)) != s.dir {
		t.Errorf("record path %s outside the store", s.Path(u.Incident.ID))
	}
	got, err := s.Load(ctx, u.Incident.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(u, got, cmpopts.IgnoreUnexported(ContainUndo{})); d != "" {
		t.Error(d)
	}
	// A record of another incident under the name is refused.
	if err := os.WriteFile(s.Path("other"), []byte(`{"incident":{"id":"x"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "other"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("foreign record: %v", err)
	}
}

// TestContainKeepsEvidenceFirst: an instance that would terminate on a
// "shutdown -h now" from inside, and whose volumes go with it, is made to
// stop and keep them before any other change; the plan shows it and Undo
// puts both back.
func TestContainKeepsEvidenceFirst(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	out, err := e.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: aws.String(w.ami), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(w.subnet), SecurityGroupIds: []string{w.openSG}, InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(8), DeleteOnTermination: aws.Bool(true)}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	dot := func() map[string]bool {
		m := map[string]bool{}
		for _, b := range getInstance(t, e, id).BlockDeviceMappings {
			m[aws.ToString(b.DeviceName)] = aws.ToBool(b.Ebs.DeleteOnTermination)
		}
		return m
	}
	shutdown := func() string {
		o, err := e.DescribeInstanceAttribute(ctx, &awsec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameInstanceInitiatedShutdownBehavior})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(o.InstanceInitiatedShutdownBehavior.Value)
	}
	dotBefore := dot()
	if shutdown() != "terminate" || !dotBefore["/dev/sdf"] {
		t.Fatalf("seed: shutdown %s, delete on termination %v", shutdown(), dotBefore)
	}
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{id}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	var wantDevs []string
	for d, v := range dotBefore {
		if v {
			wantDevs = append(wantDevs, d)
		}
	}
	slices.Sort(wantDevs)
	if ic := plan.Instances[0]; ic.ShutdownBehavior != "terminate" || !cmp.Equal(ic.DeleteOnTermination, wantDevs) {
		t.Errorf("plan: shutdown %q, delete on termination %v (want %v)", ic.ShutdownBehavior, ic.DeleteOnTermination, wantDevs)
	}
	srv.ResetCalls()
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := shutdown(); got != "stop" {
		t.Errorf("shutdown behaviour %q after contain", got)
	}
	for d, v := range dot() {
		if v {
			t.Errorf("%s still deleted on termination", d)
		}
	}
	// Nothing touched the instance before these two.
	var order []string
	for _, call := range srv.Calls() {
		switch call.Operation {
		case "ModifyInstanceAttribute", "CreateTags", "ModifyNetworkInterfaceAttribute":
			order = append(order, call.Operation)
		}
	}
	if len(order) < 2 || order[0] != "ModifyInstanceAttribute" || order[1] != "ModifyInstanceAttribute" {
		t.Errorf("first changes to the instance: %v", order)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if got := shutdown(); got != "terminate" {
		t.Errorf("shutdown behaviour %q after undo", got)
	}
	if d := cmp.Diff(dotBefore, dot()); d != "" {
		t.Errorf("delete on termination after undo:\n%s", d)
	}
}

// TestContainRemovesInstanceProfile: the instance gets no new credentials
// of its role once contained; the plan shows it and Undo associates the
// profile again.
func TestContainRemovesInstanceProfile(t *testing.T) {
	srv, c, e := emu(t)
	const arn = "arn:aws:iam::" + ec2test.AccountID + ":instance-profile/web-role"
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{IAMInstanceProfileARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	ctx := context.Background()
	profile := func() string {
		if p := getInstance(t, e, id).IamInstanceProfile; p != nil {
			return aws.ToString(p.Arn)
		}
		return ""
	}
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{id}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if p := plan.Instances[0].InstanceProfile; p == nil || p.ARN != arn || p.AssociationID == "" {
		t.Fatalf("plan profile: %+v", p)
	}
	if !slices.Contains(plan.Notes, NoteCredentials) || !cmp.Equal(plan.Instances[0].RevokeRoleSessions, []string{"web-role"}) {
		t.Errorf("notes: %v, roles %v", plan.Notes, plan.Instances[0].RevokeRoleSessions)
	}
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := profile(); got != "" {
		t.Errorf("profile still attached after contain: %s", got)
	}
	if got := srv.RolePolicies("web-role"); !cmp.Equal(got, []string{revokePolicyName("c")}) {
		t.Errorf("role policies after contain: %v, want the session revocation", got)
	}
	again, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{id}}, fastOpts...)
	if err != nil || !again.Instances[0].AlreadyContained {
		t.Errorf("re-plan: %+v %v", again, err)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if got := profile(); got != arn {
		t.Errorf("profile after undo: %q", got)
	}
	if got := srv.RolePolicies("web-role"); len(got) != 0 {
		t.Errorf("role policies after undo: %v", got)
	}
	// KeepInstanceProfile leaves it alone.
	kept, err := Contain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{id}, KeepInstanceProfile: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := profile(); got != arn || kept.Instances[0].InstanceProfileWas != "" {
		t.Errorf("KeepInstanceProfile: profile %q, record %+v", got, kept.Instances)
	}
}

// TestContainNetworkACL: with NetworkACL, deny entries for the instance's
// address in both directions, numbered before the ACL's allow entries, cut
// what a security group change cannot; a re-run adds none; Undo deletes
// them.
func TestContainNetworkACL(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	ip := aws.ToString(getInstance(t, e, w.infected).PrivateIpAddress)
	acl := func() []types.NetworkAclEntry {
		out, err := e.DescribeNetworkAcls(ctx, &awsec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{w.subnet}}}})
		if err != nil || len(out.NetworkAcls) != 1 {
			t.Fatalf("acl: %v", err)
		}
		var deny []types.NetworkAclEntry
		for _, x := range out.NetworkAcls[0].Entries {
			if x.RuleAction == types.RuleActionDeny && aws.ToInt32(x.RuleNumber) < 100 {
				deny = append(deny, x)
			}
		}
		return deny
	}
	in := ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}, NetworkACL: true}
	plan, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plan.Instances[0].NetworkACLEntries); n != 2 {
		t.Fatalf("planned entries: %+v", plan.Instances[0].NetworkACLEntries)
	}
	undo, err := ApplyContain(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	deny := acl()
	dirs := map[bool]bool{}
	for _, x := range deny {
		if aws.ToString(x.CidrBlock) != ip+"/32" || aws.ToString(x.Protocol) != "-1" {
			t.Errorf("entry %+v", x)
		}
		dirs[aws.ToBool(x.Egress)] = true
	}
	if len(deny) != 2 || !dirs[true] || !dirs[false] {
		t.Errorf("deny entries below 100: %+v", deny)
	}
	again, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil || len(again.Instances[0].NetworkACLEntries) != 0 || !again.Instances[0].AlreadyContained {
		t.Errorf("re-plan: %+v %v", again.Instances, err)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if d := acl(); len(d) != 0 {
		t.Errorf("entries left after undo: %+v", d)
	}
}

// The revocation policy is AWS's documented one: deny everything to
// sessions issued before the containment.
func TestRevokeDocument(t *testing.T) {
	at := time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)
	var doc struct {
		Statement []struct {
			Effect    string
			Action    []string
			Resource  []string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(revokeDocument(at)), &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"Deny", "*", "*", "2026-12-07T19:00:00Z"}
	s := doc.Statement[0]
	got := []string{s.Effect, s.Action[0], s.Resource[0], s.Condition["DateLessThan"]["aws:TokenIssueTime"]}
	if d := cmp.Diff(want, got); d != "" || len(doc.Statement) != 1 {
		t.Errorf("revocation policy (-want +got):\n%s", d)
	}
	if profileName("arn:aws:iam::123456789012:instance-profile/app/web-role") != "web-role" || profileName("arn:aws:iam::1:role/x") != "" {
		t.Error("profileName")
	}
}
