package ec2

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// endpointGroup creates the security group of a VPC interface endpoint
// admitting tcp 443 from cidr (none: no ingress).
func endpointGroup(t *testing.T, e *awsec2.Client, vpc, name, cidr string) string {
	t.Helper()
	ctx := context.Background()
	g, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("vpce ssm"), VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	if cidr != "" {
		if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String(cidr)}}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	return aws.ToString(g.GroupId)
}

func TestContainSSMEgress(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	ep := endpointGroup(t, e, w.vpc, "vpce-ssm", "172.31.0.0/16")
	const pl = "pl-63a5400a" // S3's gateway prefix list, as an id
	// A group of the SSM quarantine's name exists already, opened to the
	// world in both directions: contain must converge it, not adopt it.
	pre, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(DefaultQuarantineGroup + SSMGroupSuffix), Description: aws.String("x"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: pre.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}

	in := ContainInput{Incident: Incident{ID: "case-ssm"}, InstanceIDs: []string{w.infected}, HostStepsOverSSM: true,
		SSMEndpointGroupIDs: []string{ep}, SSMPrefixListIDs: []string{pl}}
	plan, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Direction: "egress", Protocol: "tcp", FromPort: 443, ToPort: 443, GroupID: ep, Description: "abusekit: SSM endpoint"},
		{Direction: "egress", Protocol: "tcp", FromPort: 443, ToPort: 443, PrefixListID: pl, Description: "abusekit: SSM endpoint"},
	}
	sortRules(want)
	if len(plan.Groups) != 1 || plan.Groups[0].Role != RoleQuarantineSSM || plan.Groups[0].Name != DefaultQuarantineGroup+SSMGroupSuffix ||
		plan.Groups[0].GroupID != aws.ToString(pre.GroupId) {
		t.Fatalf("groups = %+v", plan.Groups)
	}
	if d := cmp.Diff(want, plan.Groups[0].Rules); d != "" {
		t.Errorf("planned rules:\n%s", d)
	}
	if !slices.ContainsFunc(plan.Notes, func(n string) bool { return strings.HasPrefix(n, "host steps go over SSM: quarantine group") }) {
		t.Errorf("no note on where egress goes: %q", plan.Notes)
	}
	for _, n := range plan.Notes {
		if n == NoteSSMNoEndpoint || strings.Contains(n, "does not admit") {
			t.Errorf("unexpected note %q", n)
		}
	}
	if _, err := ApplyContain(ctx, c, plan, fastOpts...); err != nil {
		t.Fatal(err)
	}
	gs, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{aws.ToString(pre.GroupId)})
	if err != nil {
		t.Fatal(err)
	}
	got := groupRules(gs[aws.ToString(pre.GroupId)])
	sortRules(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SSM quarantine group rules after apply (only tcp 443 out to the endpoints):\n%s", d)
	}
	if d := cmp.Diff([][]string{{aws.ToString(pre.GroupId)}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Errorf("ENI groups:\n%s", d)
	}
	// A re-plan sees the instance contained in the SSM group.
	again, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Instances[0].AlreadyContained || len(again.Groups[0].Converge) != 0 {
		t.Errorf("re-plan: %+v %+v", again.Instances[0], again.Groups[0])
	}
}

func TestContainSSMNotes(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-ssm-notes"}

	// Over SSM, no endpoint: the plan says host steps will time out, and
	// the group is the plain one.
	plan, err := PlanContain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}, HostStepsOverSSM: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(plan.Notes, NoteSSMNoEndpoint) || plan.Groups[0].Role != RoleQuarantine {
		t.Errorf("no endpoint: groups %+v notes %q", plan.Groups, plan.Notes)
	}
	// Not over SSM: no SSM note at all.
	plan, err = PlanContain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range plan.Notes {
		if strings.Contains(n, "SSM") {
			t.Errorf("note without SSM: %q", n)
		}
	}
	// An endpoint group that admits nothing from the instance is named.
	closed := endpointGroup(t, e, w.vpc, "vpce-closed", "10.99.0.0/16")
	plan, err = PlanContain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}, SSMEndpointGroupIDs: []string{closed}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(plan.Notes, func(n string) bool {
		return strings.HasPrefix(n, "SSM endpoint group "+closed+" does not admit tcp 443 from "+w.infected)
	}) {
		t.Errorf("closed endpoint group not named: %q", plan.Notes)
	}
	// Ids that are not ids, and groups that do not exist, are refused.
	for _, tc := range []struct {
		in   ContainInput
		want error
	}{
		{ContainInput{SSMEndpointGroupIDs: []string{"vpce-123"}}, ErrInvalidInput},
		{ContainInput{SSMPrefixListIDs: []string{"sg-123"}}, ErrInvalidInput},
		{ContainInput{SSMEndpointGroupIDs: []string{"sg-0000000000000dead"}}, ErrNotFound},
	} {
		tc.in.Incident, tc.in.InstanceIDs = inc, []string{w.infected}
		if _, err := PlanContain(ctx, c, tc.in, fastOpts...); !errors.Is(err, tc.want) {
			t.Errorf("%+v: err = %v, want %v", tc.in, err, tc.want)
		}
	}
}
