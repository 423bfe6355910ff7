package ec2

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestIsOpen(t *testing.T) {
	ports := []int32{22, 3389, 8080}
	cases := []struct {
		r    Rule
		want bool
	}{
		{Rule{Direction: "ingress", Protocol: "-1", CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "-1", CIDR: "::/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 0, ToPort: 65535, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 3389, ToPort: 3389, CIDR: "::/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "198.51.100.0/24"}, false},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, GroupID: "sg-1"}, false},
		{Rule{Direction: "egress", Protocol: "-1", CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "icmp", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "udp", FromPort: 3389, ToPort: 3389, CIDR: "0.0.0.0/0"}, true},
	}
	for _, tc := range cases {
		if got := isOpen(tc.r, ports); got != tc.want {
			t.Errorf("isOpen(%v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// World-open by the share of the internet admitted, for a group's rules
// taken together: split halves, split IPv6, very large prefixes.
func TestOpenRulesByShare(t *testing.T) {
	ports := []int32{22, 3389}
	ssh := func(cidr string) Rule {
		return Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: cidr}
	}
	all := func(cidr string) Rule { return Rule{Direction: "ingress", Protocol: "-1", CIDR: cidr} }
	web := func(cidr string) Rule {
		return Rule{Direction: "ingress", Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: cidr}
	}
	cases := map[string]struct {
		rules []Rule
		want  []bool
	}{
		"0.0.0.0/1 + 128.0.0.0/1":      {[]Rule{ssh("0.0.0.0/1"), ssh("128.0.0.0/1")}, []bool{true, true}},
		"::/1 + 8000::/1, all traffic": {[]Rule{all("::/1"), all("8000::/1")}, []bool{true, true}},
		"a /4 alone":                   {[]Rule{ssh("64.0.0.0/4")}, []bool{true}},
		"2000::/3 alone":               {[]Rule{ssh("2000::/3")}, []bool{true}},
		"an office /24":                {[]Rule{ssh("198.51.100.0/24")}, []bool{false}},
		"a VPC's 10.0.0.0/8":           {[]Rule{ssh("10.0.0.0/8")}, []bool{false}},
		"256 /16s add up, /24 kept":    {append(sixteens(256), ssh("203.0.113.0/24")), append(trues(256), false)},
		"255 /16s do not":              {sixteens(255), make([]bool, 255)},
		"halves on different ports":    {[]Rule{ssh("0.0.0.0/1"), {Direction: "ingress", Protocol: "tcp", FromPort: 3389, ToPort: 3389, CIDR: "128.0.0.0/1"}}, []bool{true, true}},
		"halves on a port not at risk": {[]Rule{web("0.0.0.0/1"), web("128.0.0.0/1")}, []bool{false, false}},
		"egress halves":                {[]Rule{{Direction: "egress", Protocol: "-1", CIDR: "0.0.0.0/1"}, {Direction: "egress", Protocol: "-1", CIDR: "128.0.0.0/1"}}, []bool{false, false}},
	}
	for name, tc := range cases {
		if got := openRules(tc.rules, ports); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: openRules = %v, want %v", name, got, tc.want)
		}
	}
}

func sixteens(n int) []Rule {
	var out []Rule
	for i := range n {
		out = append(out, Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i), 0, 0}), 16).String()})
	}
	return out
}

func trues(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

func TestReplacements(t *testing.T) {
	admin := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	open := []Rule{
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"},
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "::/0"},
	}
	got := replacements(open, admin, "c1")
	want := []Rule{
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "198.51.100.0/24", Description: "abusekit c1: admin access replacing 0.0.0.0/0"},
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "2001:db8::/32", Description: "abusekit c1: admin access replacing ::/0"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	if r := replacements(open, nil, "c1"); len(r) != 0 {
		t.Errorf("no admin CIDRs: %v, want removal only", r)
	}
}

func TestParseAdmin(t *testing.T) {
	for _, bad := range []string{"0.0.0.0/0", "::/0", "nonsense", "10.0.0.1", "0.0.0.0/1", "2000::/3"} {
		if _, err := parseAdmin([]string{bad}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("parseAdmin(%q) err = %v", bad, err)
		}
	}
	p, err := parseAdmin([]string{" 198.51.100.7/24 "})
	if err != nil || p[0].String() != "198.51.100.0/24" {
		t.Errorf("got %v %v", p, err)
	}
}

// Harden replaces SSH open to the world in two halves, against the
// emulator; before, only the literal 0.0.0.0/0 counted and both stayed.
func TestHardenSplitHalves(t *testing.T) {
	srv, c, _ := emu(t)
	sg, err := srv.AddSecurityGroup("split", "split", "",
		ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/1"},
		ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "128.0.0.0/1"},
		ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "203.0.113.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Harden(ctx, c, HardenInput{Incident: Incident{ID: "c"}, InstanceID: ids[0], AdminCIDRs: []string{"198.51.100.0/24"}, InPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, res.Hardened([]string{sg}))
	if err != nil || len(gs) != 1 {
		t.Fatalf("groups %v %v", gs, err)
	}
	var cidrs []string
	for _, g := range gs {
		for _, r := range rulesOf("ingress", g.IpPermissions) {
			cidrs = append(cidrs, r.CIDR)
		}
	}
	slices.Sort(cidrs)
	if d := cmp.Diff([]string{"198.51.100.0/24", "203.0.113.0/24"}, cidrs); d != "" {
		t.Errorf("ingress after harden (-want +got):\n%s", d)
	}
}

// A copy of a shared group keeps the access other groups grant by
// referencing the original: a database group admitting the web group
// admits the hardened copy too. Before, the instance moved onto the copy
// lost it.
func TestHardenCopyKeepsReferencedAccess(t *testing.T) {
	srv, c, _ := emu(t)
	web, err := srv.AddSecurityGroup("web", "web", "", ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := srv.AddSecurityGroup("db", "db", "", ec2test.Rule{Protocol: "tcp", FromPort: 5432, ToPort: 5432, GroupID: web})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{SecurityGroupIDs: []string{web}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	plan, err := PlanHarden(ctx, c, HardenInput{Incident: Incident{ID: "c"}, InstanceID: ids[0], AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 1 || plan.Groups[0].Action != HardenCopy || len(plan.Groups[0].Grants) != 1 || plan.Groups[0].Grants[0].GroupID != db {
		t.Fatalf("plan: %+v", plan.Groups)
	}
	res, err := ApplyHarden(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	copyID := res.Groups[web]
	gs, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{db})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, r := range rulesOf("ingress", gs[db].IpPermissions) {
		refs = append(refs, r.GroupID)
	}
	slices.Sort(refs)
	want := []string{web, copyID}
	slices.Sort(want)
	if d := cmp.Diff(want, refs); d != "" {
		t.Errorf("db group admits (-want +got):\n%s", d)
	}
}

// Neighbours on a copied group are listed with the plan to move them; with
// MoveNeighbours the copy is swapped onto them too and none stays on the
// open original.
func TestHardenNeighbours(t *testing.T) {
	srv, c, e := emu(t)
	web, err := srv.AddSecurityGroup("web", "web", "", ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := srv.AddSecurityGroup("other", "other", "", ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(3, ec2test.InstanceSpec{SecurityGroupIDs: []string{web, other}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eniOf := func(id string) string {
		return aws.ToString(getInstance(t, e, id).NetworkInterfaces[0].NetworkInterfaceId)
	}
	in := HardenInput{Incident: Incident{ID: "c-nb"}, InstanceID: ids[0], AdminCIDRs: []string{"198.51.100.0/24"}}
	plan, err := PlanHarden(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Neighbour{
		{NetworkInterfaceID: eniOf(ids[1]), InstanceID: ids[1], Groups: []string{web, other}},
		{NetworkInterfaceID: eniOf(ids[2]), InstanceID: ids[2], Groups: []string{web, other}},
	}
	slices.SortFunc(want, func(a, b Neighbour) int { return strings.Compare(a.NetworkInterfaceID, b.NetworkInterfaceID) })
	if len(plan.Groups) != 1 || plan.Groups[0].Action != HardenCopy {
		t.Fatalf("plan: %+v", plan.Groups)
	}
	if d := cmp.Diff(want, plan.Groups[0].Neighbours, cmpopts.IgnoreFields(Neighbour{}, "Description")); d != "" {
		t.Errorf("neighbours:\n%s", d)
	}
	if len(plan.Notes) != 1 || !strings.HasPrefix(plan.Notes[0], "2 interface(s) stay on the open original "+web) {
		t.Errorf("notes: %q", plan.Notes)
	}

	in.MoveNeighbours = true
	plan, err = PlanHarden(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Notes) != 0 || !plan.Groups[0].Neighbours[0].Move || !plan.Groups[0].Neighbours[1].Move {
		t.Fatalf("with MoveNeighbours: %+v %q", plan.Groups[0].Neighbours, plan.Notes)
	}
	res, err := ApplyHarden(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	cp := res.Groups[web]
	for _, id := range ids {
		if d := cmp.Diff([][]string{{cp, other}}, eniGroups(getInstance(t, e, id))); d != "" {
			t.Errorf("%s groups after harden:\n%s", id, d)
		}
	}
	if len(res.Neighbours) != 2 {
		t.Errorf("result neighbours: %+v", res.Neighbours)
	}
}
