package ec2

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// TestIAMPolicyCoversTrace runs every step against the emulator, seeded
// only through its Go helpers (which leave no trace), and checks that
// every operation the package sent is granted by iam-policy.json.
//
// It also records each request's input and evaluates iam-policy.json,
// conditions included, against the request context IAM would build for
// it (requestContext): every call, and every implicit authorization it
// needs, must be allowed.
func TestIAMPolicyCoversTrace(t *testing.T) {
	var mu sync.Mutex
	var captured []capturedCall
	srv := ec2test.NewServer()
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.APIOptions = append(cfg.APIOptions, captureInputs(&mu, &captured))
	c := New(cfg, func(o *ClientOptions) {
		o.MaxBackoff = time.Second
		o.Backoff = retry.NewExponentialJitterBackoff(200 * time.Millisecond)
	})
	sg, err := srv.AddSecurityGroup("open", "open", "", ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddInstances(3, ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}, DataVolumes: map[string]int32{"/dev/sdf": 1},
		IAMInstanceProfileARN: "arn:aws:iam::" + ec2test.AccountID + ":instance-profile/web"})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := srv.AddTargetGroup("web", 80, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAutoScalingGroup("asg", []string{tg}, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddTargetGroup("api", 8080, ids[2]); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inc := Incident{ID: "iam"}
	undo, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: ids[:1]}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: ids[1:2], AutoScaling: ASGStandby}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, c, u2, fastOpts...); err != nil {
		t.Fatal(err)
	}
	u3, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: ids[2:3], NetworkACL: true, DNSFirewallRuleGroupID: srv.AddFirewallRuleGroup("block")}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, c, u3, fastOpts...); err != nil {
		t.Fatal(err)
	}
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: ids[:1], RegisterImage: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Harden(ctx, c, HardenInput{Incident: inc, InstanceID: ids[2], AdminCIDRs: []string{"198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Harden(ctx, c, HardenInput{Incident: inc, GroupIDs: undo.OriginalGroups(ids[0]), AdminCIDRs: []string{"198.51.100.0/24"}, InPlace: true}); err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, c, undo, fastOpts...); err != nil {
		t.Fatal(err)
	}
	rb, err := Rebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: ids[0], SecurityGroupIDs: h.Hardened([]string{sg})}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Alarms(ctx, c, AlarmsInput{Incident: inc, InstanceID: rb.InstanceID}); err != nil {
		t.Fatal(err)
	}
	if _, err := Terminate(ctx, c, sets[0]); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal(data, &pol); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, s := range pol.Statement {
		for _, a := range s.Action {
			granted[a] = true
		}
	}
	prefix := map[string]string{"ec2": "ec2", "autoscaling": "autoscaling", "elasticloadbalancing": "elasticloadbalancing", "monitoring": "cloudwatch", "iam": "iam", "route53resolver": "route53resolver"}
	seen := map[string]bool{}
	for _, call := range srv.Calls() {
		a := prefix[call.Service] + ":" + call.Operation
		seen[a] = true
		if !granted[a] {
			t.Errorf("the package called %s, which iam-policy.json does not grant", a)
		}
		for _, x := range implicitPermissions[a] {
			seen[x] = true
			if !granted[x] {
				t.Errorf("the package called %s, which also needs %s, which iam-policy.json does not grant", a, x)
			}
		}
	}
	// Each request, with its conditions, is allowed. The account has
	// tagged the instance profile's role for session revocation
	// (TagInstanceRole), as the shipped policy requires.
	evalPol := loadPolicy(t)
	roleTags := map[string]map[string]string{"web": {TagInstanceRole: "allowed"}}
	mu.Lock()
	defer mu.Unlock()
	if len(captured) == 0 {
		t.Fatal("no request captured")
	}
	evaluated := map[string]bool{}
	for _, call := range captured {
		for _, r := range requestContext(call, roleTags) {
			ok, err := evalPol.allows(r)
			if err != nil {
				t.Fatal(err)
			}
			evaluated[r.Action] = true
			if !ok {
				t.Errorf("iam-policy.json denies %s", r)
			}
		}
	}
	for _, a := range []string{"ec2:CreateTags", "ec2:DeleteTags", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PassRole", "cloudwatch:TagResource", "kms:CreateGrant"} {
		if !evaluated[a] {
			t.Errorf("the run never evaluated %s", a)
		}
	}
	// And the run exercises every grant: none is extra.
	for a := range granted {
		if !seen[a] {
			t.Errorf("iam-policy.json grants %s, which the full run never called", a)
		}
	}
}
