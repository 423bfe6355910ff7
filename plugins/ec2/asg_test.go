package ec2

import (
	"context"
	"errors"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

type asgWorld struct {
	ids []string
	tg  string
}

func seedASG(t *testing.T, srv *ec2test.Server) asgWorld {
	t.Helper()
	ids, err := srv.AddInstances(3, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := srv.AddTargetGroup("web", 80, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAutoScalingGroup("web-asg", []string{tg}, ids...); err != nil {
		t.Fatal(err)
	}
	return asgWorld{ids: ids, tg: tg}
}

func asgMembers(t *testing.T, c *Clients) map[string]string {
	t.Helper()
	out, err := c.DescribeAutoScalingGroups.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-asg"}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("asg: %v", err)
	}
	m := map[string]string{"desired": string(rune('0' + aws.ToInt32(out.AutoScalingGroups[0].DesiredCapacity)))}
	for _, i := range out.AutoScalingGroups[0].Instances {
		m[aws.ToString(i.InstanceId)] = string(i.LifecycleState)
	}
	return m
}

func tgTargets(t *testing.T, c *Clients, arn string) map[string]bool {
	t.Helper()
	out, err := c.DescribeTargetHealth.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth == nil || d.TargetHealth.State != "draining" {
			m[aws.ToString(d.Target.Id)] = true
		}
	}
	return m
}

func TestContainDetachesFromASGAndTargetGroups(t *testing.T) {
	for _, mode := range []ASGMode{ASGDetach, ASGStandby} {
		t.Run(string(mode), func(t *testing.T) {
			srv, c, _ := emu(t)
			w := seedASG(t, srv)
			ctx := context.Background()
			victim := w.ids[0]
			plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{victim}, AutoScaling: mode}, fastOpts...)
			if err != nil {
				t.Fatal(err)
			}
			ic := plan.Instances[0]
			if ic.AutoScalingGroup != "web-asg" || ic.ASGAction != mode || !ic.DecrementDesired {
				t.Errorf("asg plan = %+v", ic)
			}
			if d := cmp.Diff([]TargetRef{{TargetGroupARN: w.tg, Port: 80}}, ic.TargetGroups, cmpTarget); d != "" {
				t.Errorf("targets:\n%s", d)
			}
			undo, err := ApplyContain(ctx, c, plan, fastOpts...)
			if err != nil {
				t.Fatal(err)
			}
			m := asgMembers(t, c)
			if m["desired"] != "2" {
				t.Errorf("desired = %s, want 2 (no replacement)", m["desired"])
			}
			switch mode {
			case ASGDetach:
				if _, in := m[victim]; in {
					t.Errorf("still in the group: %v", m)
				}
			case ASGStandby:
				if m[victim] != "Standby" {
					t.Errorf("state = %q, want Standby", m[victim])
				}
			}
			if tgTargets(t, c, w.tg)[victim] {
				t.Error("still a registered target")
			}
			if err := Undo(ctx, c, undo, fastOpts...); err != nil {
				t.Fatal(err)
			}
			m = asgMembers(t, c)
			if m["desired"] != "3" || (m[victim] != "InService" && m[victim] != "Pending") {
				t.Errorf("after undo: %v", m)
			}
			if !tgTargets(t, c, w.tg)[victim] {
				t.Error("not re-registered after undo")
			}
		})
	}
}

var cmpTarget = cmp.Transformer("tgt", func(r TargetRef) [2]string { return [2]string{r.TargetGroupARN, string(rune(r.Port))} })

// minSize reports the group's MinSize as n (the emulator has no
// UpdateAutoScalingGroup to raise it).
type minSize struct {
	DescribeAutoScalingGroupsAPI
	n int32
}

func (m minSize) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	out, err := m.DescribeAutoScalingGroupsAPI.DescribeAutoScalingGroups(ctx, in, opts...)
	if err == nil {
		for i := range out.AutoScalingGroups {
			out.AutoScalingGroups[i].MinSize = aws.Int32(m.n)
		}
	}
	return out, err
}

func TestContainASGMinSize(t *testing.T) {
	srv, c, _ := emu(t)
	w := seedASG(t, srv)
	ctx := context.Background()
	c.DescribeAutoScalingGroups = minSize{c.DescribeAutoScalingGroups, 2}
	// desired 3, min 2: one may go without replacement, two may not.
	if _, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: w.ids[:1]}, fastOpts...); err != nil {
		t.Fatalf("one instance: %v", err)
	}
	_, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: w.ids[:2]}, fastOpts...)
	if !errors.Is(err, ErrASGMinSize) {
		t.Fatalf("two instances: err = %v, want ErrASGMinSize", err)
	}
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: w.ids[:2], AllowASGReplacement: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Instances[0].DecrementDesired {
		t.Error("AllowASGReplacement still decrements")
	}
}

func TestAlarmsOnEmulator(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	in := AlarmsInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, SNSTopicARN: "arn:aws:sns:us-east-1:123456789012:abuse", Thresholds: Thresholds{CPUPercent: 80}}
	plan, err := PlanAlarms(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Alarms {
		if a.Exists {
			t.Errorf("%s exists before apply", a.Name)
		}
	}
	if err := ApplyAlarms(ctx, c, plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]ec2test.AlarmState{}
	for _, a := range srv.State().Alarms {
		got[a.MetricName] = a
	}
	for _, m := range []string{"NetworkOut", "NetworkPacketsOut", "CPUUtilization", "StatusCheckFailed"} {
		a, ok := got[m]
		if !ok {
			t.Errorf("no %s alarm", m)
			continue
		}
		if a.Dimensions["InstanceId"] != w.infected || a.Namespace != "AWS/EC2" || len(a.AlarmActions) != 1 || a.Name != AlarmName(w.infected, m) {
			t.Errorf("%s alarm = %+v", m, a)
		}
	}
	if got["CPUUtilization"].Threshold != 80 || got["NetworkPacketsOut"].Threshold != DefaultThresholds.NetworkPacketsOut {
		t.Errorf("thresholds: %+v", got)
	}
	// Re-plan marks them existing; re-apply keeps four.
	plan2, err := Alarms(ctx, c, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan2.Alarms {
		if !a.Exists {
			t.Errorf("%s not seen as existing", a.Name)
		}
	}
	if n := len(srv.State().Alarms); n != 4 {
		t.Errorf("%d alarms, want 4", n)
	}
	if _, err := PlanAlarms(ctx, c, AlarmsInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, Thresholds: Thresholds{Period: 45}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("period 45: %v", err)
	}
	// The periods CloudWatch allows: 10, 20, 30 and multiples of 60.
	for _, p := range []int32{10, 20, 30, 60, 120} {
		if _, err := PlanAlarms(ctx, c, AlarmsInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, Thresholds: Thresholds{Period: p}}); err != nil {
			t.Errorf("period %d: %v", p, err)
		}
	}
	// A re-run without a topic keeps the actions the alarms have.
	if _, err := Alarms(ctx, c, AlarmsInput{Incident: Incident{ID: "c"}, InstanceID: w.infected, Thresholds: Thresholds{CPUPercent: 70}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range srv.State().Alarms {
		if !cmp.Equal(a.AlarmActions, []string{in.SNSTopicARN}) {
			t.Errorf("%s: actions %v after a re-run without a topic, want [%s]", a.Name, a.AlarmActions, in.SNSTopicARN)
		}
		if a.MetricName == "CPUUtilization" && a.Threshold != 70 {
			t.Errorf("CPU threshold %v, want 70", a.Threshold)
		}
	}
}

// TestUndoFromPlan: the plan, journaled before apply, is enough to undo a
// run whose own undo record was lost — and harmless when nothing was applied.
func TestUndoFromPlan(t *testing.T) {
	srv, c, _ := emu(t)
	w := seedASG(t, srv)
	ctx := context.Background()
	before := srv.State()
	plan, err := PlanContain(ctx, c, ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: w.ids[:2]}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing applied yet: undoing from the plan changes nothing.
	if err := Undo(ctx, c, plan.UndoRecord(), fastOpts...); err != nil {
		t.Fatalf("undo before apply: %v", err)
	}
	if _, err := ApplyContain(ctx, c, plan, fastOpts...); err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, c, plan.UndoRecord(), fastOpts...); err != nil {
		t.Fatal(err)
	}
	after := srv.State()
	groupsOf := func(s ec2test.State) map[string][]string {
		m := map[string][]string{}
		for _, in := range s.Instances {
			m[in.ID] = in.SecurityGroupIDs
		}
		return m
	}
	if d := cmp.Diff(groupsOf(before), groupsOf(after)); d != "" {
		t.Errorf("groups after undo from plan:\n%s", d)
	}
	m := asgMembers(t, c)
	if m["desired"] != "3" || m[w.ids[0]] == "" || m[w.ids[1]] == "" {
		t.Errorf("asg after undo: %v", m)
	}
	for _, in := range after.Instances {
		if in.DisableAPITermination || in.DisableAPIStop || in.Tags[TagIncident] != "" {
			t.Errorf("%s not restored: %+v", in.ID, in)
		}
	}
}

// failDetach fails every DetachInstances/EnterStandby and DeregisterTargets.
type failDetach struct {
	DetachInstancesAPI
	EnterStandbyAPI
	DeregisterTargetsAPI
}

func (failDetach) DetachInstances(context.Context, *autoscaling.DetachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: autoscaling:DetachInstances"}
}

func (failDetach) EnterStandby(context.Context, *autoscaling.EnterStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: autoscaling:EnterStandby"}
}

func (failDetach) DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: elasticloadbalancing:DeregisterTargets"}
}

// TestContainASGFailureStillIsolatesAndProtects: a failing Auto Scaling or
// target group call is reported, but after the instance was quarantined
// and protected (before: it was skipped, left open and unprotected).
func TestContainASGFailureStillIsolatesAndProtects(t *testing.T) {
	for _, fail := range []string{"asg", "target-group"} {
		t.Run(fail, func(t *testing.T) {
			srv, c, _ := emu(t)
			w := seedASG(t, srv)
			ctx := context.Background()
			victim := w.ids[0]
			f := failDetach{c.DetachInstances, c.EnterStandby, c.DeregisterTargets}
			in := ContainInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{victim}}
			wantOp := "DetachInstances"
			if fail == "asg" {
				c.DetachInstances = f
			} else {
				in.AutoScaling = ASGSkip
				c.DeregisterTargets = f
				wantOp = "DeregisterTargets"
			}
			undo, err := Contain(ctx, c, in, fastOpts...)
			var se *StepError
			if !errors.As(err, &se) || se.Operation != wantOp {
				t.Fatalf("err = %v, want the %s failure", err, wantOp)
			}
			var st ec2test.InstanceState
			for _, x := range srv.State().Instances {
				if x.ID == victim {
					st = x
				}
			}
			q := ""
			for _, g := range srv.State().SecurityGroups {
				if g.Name == DefaultQuarantineGroup {
					q = g.ID
				}
			}
			if d := cmp.Diff([]string{q}, st.SecurityGroupIDs); q == "" || d != "" {
				t.Errorf("instance not quarantined (quarantine group %q):\n%s", q, d)
			}
			if !st.DisableAPITermination || !st.DisableAPIStop {
				t.Errorf("protection: termination %v stop %v", st.DisableAPITermination, st.DisableAPIStop)
			}
			if len(undo.OriginalGroups(victim)) == 0 {
				t.Errorf("undo record lacks the original groups: %+v", undo.Instances)
			}
		})
	}
}
