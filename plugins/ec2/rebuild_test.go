package ec2

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestHardenSharedGroupIsCopied(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-9"}
	plan, err := PlanHarden(ctx, c, HardenInput{Incident: inc, InstanceID: w.infected, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 1 {
		t.Fatalf("groups = %+v", plan.Groups)
	}
	g := plan.Groups[0]
	if !g.Shared || g.Action != HardenCopy || len(g.SharedWith) != 1 || !containsSub(g.SharedWith[0], w.neighbour) {
		t.Errorf("shared group plan = %+v", g)
	}
	wantOpen := []Rule{{Direction: "ingress", Protocol: "-1", CIDR: "0.0.0.0/0"}}
	if d := cmp.Diff(wantOpen, g.Open); d != "" {
		t.Errorf("open rules:\n%s", d)
	}
	res, err := ApplyHarden(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	copyID := res.Groups[w.openSG]
	if copyID == "" || copyID == w.openSG {
		t.Fatalf("no copy: %+v", res)
	}
	// This instance now uses the copy; the neighbour and the shared group are untouched.
	if d := cmp.Diff([][]string{{copyID}}, eniGroups(getInstance(t, e, w.infected))); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([][]string{{w.openSG}}, eniGroups(getInstance(t, e, w.neighbour))); d != "" {
		t.Error(d)
	}
	gs, _ := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{w.openSG, copyID})
	orig, cp := groupRules(gs[w.openSG]), groupRules(gs[copyID])
	if !slices.ContainsFunc(orig, func(r Rule) bool { return isOpen(r, DefaultRiskyPorts) }) {
		t.Error("shared group was modified")
	}
	for _, r := range cp {
		if isOpen(r, DefaultRiskyPorts) {
			t.Errorf("copy still has %s", r)
		}
	}
	var has443, hasAdmin, hasEgress bool
	for _, r := range cp {
		has443 = has443 || (r.Direction == "ingress" && r.FromPort == 443 && r.CIDR == "0.0.0.0/0")
		hasAdmin = hasAdmin || (r.Direction == "ingress" && r.Protocol == "-1" && r.CIDR == "198.51.100.0/24")
		hasEgress = hasEgress || (r.Direction == "egress" && r.Protocol == "-1" && r.CIDR == "0.0.0.0/0")
	}
	if !has443 || !hasAdmin || !hasEgress {
		t.Errorf("copy rules = %v", cp)
	}
	// Idempotent: a re-plan finds nothing open on this instance.
	plan2, err := PlanHarden(ctx, c, HardenInput{Incident: inc, InstanceID: w.infected, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan2.Groups) != 0 {
		t.Errorf("re-plan = %+v", plan2.Groups)
	}
}

func TestHardenInPlaceAuthorizesBeforeRevoking(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	plan, err := PlanHarden(ctx, c, HardenInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, InPlace: true, AdminCIDRs: []string{"198.51.100.0/24", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Groups[0].Action != HardenInPlace || !plan.Groups[0].Shared {
		t.Fatalf("plan = %+v", plan.Groups[0])
	}
	srv.ResetCalls()
	if _, err := ApplyHarden(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	ops := srv.Operations()
	ia, ir := slices.Index(ops, "AuthorizeSecurityGroupIngress"), slices.Index(ops, "RevokeSecurityGroupIngress")
	if ia < 0 || ir < 0 || ia > ir {
		t.Errorf("ops = %v, want authorize before revoke", ops)
	}
	gs, _ := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{w.openSG})
	for _, r := range groupRules(gs[w.openSG]) {
		if isOpen(r, DefaultRiskyPorts) {
			t.Errorf("still open: %s", r)
		}
	}
}

func TestRebuildRefusesOpenGroupsAndIsIdempotent(t *testing.T) {
	srv, c, e := emu(t, ec2test.WithInstanceDelays(50*time.Millisecond, 0, 0), ec2test.WithStatusCheckDelay(100*time.Millisecond))
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-11"}
	undo, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}, AutoScaling: ASGSkip, SkipLoadBalancers: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	// Only quarantine groups left: the caller must name groups.
	if _, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: w.infected}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
	// The original group is open to the world: refused.
	orig := undo.OriginalGroups(w.infected)
	if _, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: orig}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput (open group)", err)
	}
	hres, err := Harden(ctx, c, HardenInput{Incident: inc, GroupIDs: orig, AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	groups := hres.Hardened(orig)
	plan, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: groups})
	if err != nil {
		t.Fatal(err)
	}
	if plan.ImageID != w.ami || plan.InstanceType != "t3.micro" || plan.SubnetID != w.subnet || plan.KeyName != "" || plan.InstanceProfileARN != "" || plan.Tags["Name"] != "infected" {
		t.Errorf("plan = %+v", plan)
	}
	res, err := ApplyRebuild(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "running" || res.InstanceStatus != "ok" || res.SystemStatus != "ok" {
		t.Errorf("result = %+v", res)
	}
	inst := getInstance(t, e, res.InstanceID)
	if d := cmp.Diff([][]string{groups}, eniGroups(inst)); d != "" {
		t.Errorf("replacement groups:\n%s", d)
	}
	if inst.MetadataOptions == nil || inst.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("IMDSv2 not required: %+v", inst.MetadataOptions)
	}
	// Re-run after a "crash": same token, same instance, no second one.
	res2, err := ApplyRebuild(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if res2.InstanceID != res.InstanceID {
		t.Errorf("re-run launched %s, first run %s", res2.InstanceID, res.InstanceID)
	}
	out, _ := e.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:abusekit:replaces"), Values: []string{w.infected}}}})
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	if n != 1 {
		t.Errorf("%d replacements, want 1", n)
	}
	_ = srv
}

func TestRebuildFromLaunchTemplate(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	lt, err := e.CreateLaunchTemplate(ctx, &awsec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"), LaunchTemplateData: &types.RequestLaunchTemplateData{
		ImageId: aws.String(w.ami), InstanceType: types.InstanceTypeT3Small}})
	if err != nil {
		t.Fatal(err)
	}
	sg, _ := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("closed"), Description: aws.String("x"), VpcId: aws.String(w.vpc)})
	res, err := Rebuild(ctx, c, RebuildInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, LaunchTemplate: &LaunchTemplateRef{ID: aws.ToString(lt.LaunchTemplate.LaunchTemplateId)},
		SubnetID: w.subnet, SecurityGroupIDs: []string{aws.ToString(sg.GroupId)}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if inst := getInstance(t, e, res.InstanceID); inst.InstanceType != types.InstanceTypeT3Small {
		t.Errorf("type %s, want t3.small from the template", inst.InstanceType)
	}
}

func containsSub(s, sub string) bool { return len(sub) > 0 && len(s) >= len(sub) && contains(s, sub) }

func TestRebuildCarriesOldSettings(t *testing.T) {
	srv, c, _ := emu(t)
	sg, err := srv.AddSecurityGroup("web", "web", "", ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:iam::123456789012:instance-profile/web"
	old, err := srv.AddInstance(ec2test.InstanceSpec{InstanceType: "m5.large", KeyName: "ops", SecurityGroupIDs: []string{sg},
		IAMInstanceProfileARN: arn, Tags: map[string]string{"Name": "web-1", "team": "payments", TagIncident: "stale"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Rebuild(context.Background(), c, RebuildInput{Incident: Incident{ID: "c"}, InstanceID: old, ReuseKeyPair: true, ReuseInstanceProfile: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	var o, n ec2test.InstanceState
	for _, in := range srv.State().Instances {
		switch in.ID {
		case old:
			o = in
		case res.InstanceID:
			n = in
		}
	}
	got := []string{n.ImageID, n.InstanceType, n.SubnetID, n.KeyName, n.IAMInstanceProfileARN, n.Tags["Name"], n.Tags["team"], n.Tags[TagIncident], n.Tags["abusekit:replaces"]}
	want := []string{o.ImageID, "m5.large", o.SubnetID, "ops", arn, "web-1", "payments", "c", old}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replacement settings (-old +new):\n%s", d)
	}
	if d := cmp.Diff([]string{sg}, n.SecurityGroupIDs); d != "" {
		t.Errorf("groups:\n%s", d)
	}
}

func TestHardenCallerPortsAndRemoval(t *testing.T) {
	srv, c, _ := emu(t)
	sg, err := srv.AddSecurityGroup("app", "app", "",
		ec2test.Rule{Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDR: "0.0.0.0/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRv6: "::/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "198.51.100.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := srv.AddInstance(ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	plan, err := PlanHarden(ctx, c, HardenInput{Incident: Incident{ID: "c"}, InstanceID: id, Ports: []int32{8080}})
	if err != nil {
		t.Fatal(err)
	}
	g := plan.Groups[0]
	if g.Shared || g.Action != HardenInPlace || len(g.Open) != 2 || len(g.Add) != 0 {
		t.Fatalf("plan = %+v", g)
	}
	if _, err := ApplyHarden(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	gs, _ := describeGroupsByID(ctx, c.DescribeSecurityGroups, []string{sg})
	var ingress []string
	for _, r := range groupRules(gs[sg]) {
		if r.Direction == "ingress" {
			ingress = append(ingress, r.String())
		}
	}
	slices.Sort(ingress)
	if d := cmp.Diff([]string{"ingress tcp 22-22 198.51.100.0/24", "ingress tcp 443-443 0.0.0.0/0"}, ingress); d != "" {
		t.Errorf("ingress after removal:\n%s", d)
	}
}

// By default the replacement gets neither the old key pair nor the old
// instance profile (its credentials may be stolen); the forensic image and
// images created after the abuse began are refused unless forced; a
// changed plan under the same client token is a clear error.
func TestRebuildCarriesNothingOver(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	const arn = "arn:aws:iam::123456789012:instance-profile/web"
	sg, err := srv.AddSecurityGroup("web2", "web", "", ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := srv.AddInstance(ec2test.InstanceSpec{KeyName: "ops", SecurityGroupIDs: []string{sg}, IAMInstanceProfileARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	inc := Incident{ID: "c", AbuseTime: time.Now().Add(-time.Hour)}
	plan, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: old})
	if err != nil {
		t.Fatal(err)
	}
	if plan.KeyName != "" || plan.InstanceProfileARN != "" || len(plan.Warnings) != 0 {
		t.Errorf("default plan carries over: key %q profile %q warnings %v", plan.KeyName, plan.InstanceProfileARN, plan.Warnings)
	}
	// The infected instance's data volume is listed as not carried over.
	wplan, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	if len(wplan.NotCarriedOver) != 1 || !contains(wplan.NotCarriedOver[0], "/dev/sdf vol-") {
		t.Errorf("not carried over: %v", wplan.NotCarriedOver)
	}
	reuse, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: old, ReuseKeyPair: true, ReuseInstanceProfile: true})
	if err != nil || reuse.KeyName != "ops" || reuse.InstanceProfileARN != arn || len(reuse.Warnings) != 2 {
		t.Errorf("reuse: %+v %v", reuse, err)
	}

	// The forensic image of the infected instance.
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}, RegisterImage: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	forensic := sets[0].Set().ImageID
	// An image made after the abuse began, without abusekit's tags.
	later, err := e.CreateImage(ctx, &awsec2.CreateImageInput{InstanceId: aws.String(w.neighbour), Name: aws.String("nightly-after")})
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]string{"forensic": forensic, "created after the abuse": aws.ToString(later.ImageId)} {
		_, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: old, ImageID: img})
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s image %s: err = %v, want ErrInvalidInput", name, img, err)
		}
		forced, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: old, ImageID: img, AllowSuspectImage: true})
		if err != nil || len(forced.Warnings) != 1 {
			t.Errorf("%s image forced: %+v %v", name, forced, err)
		}
	}
	if _, err := PlanRebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: old, ImageID: w.ami}); err != nil {
		t.Errorf("clean image: %v", err)
	}

	// Same client token, other settings.
	if _, err := ApplyRebuild(ctx, c, plan, fastOpts...); err != nil {
		t.Fatal(err)
	}
	changed := *plan
	changed.InstanceType = "m5.large"
	_, err = ApplyRebuild(ctx, c, &changed, fastOpts...)
	if !errors.Is(err, ErrInvalidInput) || !contains(err.Error(), "abusekit:replaces="+old) {
		t.Errorf("idempotency mismatch: %v", err)
	}
}

// Rebuild reports the replacement's state transitions and status checks
// while it waits.
func TestRebuildProgress(t *testing.T) {
	_, c, e := emu(t, ec2test.WithInstanceDelays(150*time.Millisecond, 0, 0), ec2test.WithStatusCheckDelay(150*time.Millisecond))
	w := seed(t, e)
	sg, err := e.CreateSecurityGroup(context.Background(), &awsec2.CreateSecurityGroupInput{GroupName: aws.String("plain"), Description: aws.String("d"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	_, err = Rebuild(context.Background(), c, RebuildInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, SecurityGroupIDs: []string{aws.ToString(sg.GroupId)}},
		WithPoll(20*time.Millisecond, 20*time.Millisecond), WithMaxWait(time.Minute), WithProgress(func(p Progress) {
			if p.Step == "rebuild" {
				states = append(states, p.State)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	// Each report is a change, in the order EC2 goes through them; how
	// many intermediate ones a poll sees depends on timing, so only the
	// order and the ends are checked.
	order := map[string]int{"pending": 0, "running": 1, "status initializing/initializing": 2, "status ok/ok": 3}
	for i, st := range states {
		n, ok := order[st]
		if !ok || (i > 0 && n <= order[states[i-1]]) {
			t.Fatalf("rebuild progress out of order or unknown: %v", states)
		}
	}
	if len(states) < 2 || !slices.Contains(states, "running") || states[len(states)-1] != "status ok/ok" {
		t.Errorf("rebuild progress: %v", states)
	}
}

// RestoreDataVolumes recreates a data volume from its newest snapshot of
// before the abuse time; never from a later one or abusekit's forensic
// snapshot, and the plan says which volumes are not carried over.
func TestRebuildRestoresDataVolumes(t *testing.T) {
	_, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	var data string
	for _, b := range getInstance(t, e, w.infected).BlockDeviceMappings {
		if aws.ToString(b.DeviceName) == "/dev/sdf" {
			data = aws.ToString(b.Ebs.VolumeId)
		}
	}
	backup := func() string {
		out, err := e.CreateSnapshot(ctx, &awsec2.CreateSnapshotInput{VolumeId: aws.String(data), Description: aws.String("nightly")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SnapshotId)
	}
	backup()
	time.Sleep(10 * time.Millisecond)
	newest := backup()
	time.Sleep(10 * time.Millisecond)
	abuse := time.Now()
	time.Sleep(10 * time.Millisecond)
	backup() // after the abuse began: not trusted
	inc := Incident{ID: "c-restore", AbuseTime: abuse}
	// abusekit's own forensic snapshot, after the abuse, never counts.
	if _, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...); err != nil {
		t.Fatal(err)
	}
	clean, err := e.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("clean"), Description: aws.String("d"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	in := RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: []string{aws.ToString(clean.GroupId)}, RestoreDataVolumes: true}
	plan, err := PlanRebuild(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.DataVolumes) != 1 || plan.DataVolumes[0].SnapshotID != newest || plan.DataVolumes[0].Device != "/dev/sdf" || plan.DataVolumes[0].OldVolumeID != data {
		t.Fatalf("data volumes: %+v (want %s)", plan.DataVolumes, newest)
	}
	if len(plan.NotCarriedOver) != 0 {
		t.Errorf("not carried over: %v", plan.NotCarriedOver)
	}
	res, err := ApplyRebuild(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, b := range getInstance(t, e, res.InstanceID).BlockDeviceMappings {
		if aws.ToString(b.DeviceName) == "/dev/sdf" {
			vs, err := e.DescribeVolumes(ctx, &awsec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(b.Ebs.VolumeId)}})
			if err != nil {
				t.Fatal(err)
			}
			got = aws.ToString(vs.Volumes[0].SnapshotId)
		}
	}
	if got != newest {
		t.Errorf("replacement's /dev/sdf from snapshot %q, want %s", got, newest)
	}

	// With the abuse before every backup: nothing trusted, listed.
	in.Incident = Incident{ID: "c-restore-2", AbuseTime: abuse.Add(-time.Hour)}
	plan, err = PlanRebuild(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.DataVolumes) != 0 || len(plan.NotCarriedOver) != 1 || !contains(plan.NotCarriedOver[0], "no completed snapshot of it from before") {
		t.Errorf("abuse before the backups: %+v %v", plan.DataVolumes, plan.NotCarriedOver)
	}
	// Without an abuse time: refused.
	in.Incident = Incident{ID: "c-restore-3"}
	if _, err := PlanRebuild(ctx, c, in); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("no abuse time: err = %v", err)
	}
}
