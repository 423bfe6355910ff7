package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
)

// A small IAM policy evaluator for iam-policy.json: identity-policy
// Allow statements only (the file has no Deny), with the condition
// operators the file uses. An operator it does not know fails the test,
// so a new condition cannot slip past unevaluated.

type iamStatement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  any // string or []string
	Condition map[string]map[string]any
}

type iamPolicy struct {
	Statement []iamStatement
}

func loadPolicy(t *testing.T) iamPolicy {
	t.Helper()
	b, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p iamPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// authRequest is one authorization IAM makes: an action on resources
// with the request's condition keys (multivalued keys have several values).
type authRequest struct {
	Action    string
	Resources []string
	Context   map[string][]string
	From      string // the API call it came from, for messages
}

func (r authRequest) String() string {
	return fmt.Sprintf("%s on %v with %v (from %s)", r.Action, r.Resources, r.Context, r.From)
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// glob matches IAM wildcards (* and ?), case-sensitively as for ARNs
// and string conditions.
func glob(pattern, s string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// allows reports whether the policy allows r, and errors on an unknown
// condition operator.
func (p iamPolicy) allows(r authRequest) (bool, error) {
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			return false, fmt.Errorf("statement %s: effect %s not evaluated", s.Sid, s.Effect)
		}
		actionOK := false
		for _, a := range s.Action {
			if glob(strings.ToLower(a), strings.ToLower(r.Action)) {
				actionOK = true
			}
		}
		if !actionOK {
			continue
		}
		resOK := true
		for _, res := range r.Resources {
			one := false
			for _, pat := range strs(s.Resource) {
				if glob(pat, res) {
					one = true
				}
			}
			resOK = resOK && one
		}
		if !resOK {
			continue
		}
		condOK, err := conditionsHold(s.Condition, r.Context)
		if err != nil {
			return false, fmt.Errorf("statement %s: %w", s.Sid, err)
		}
		if condOK {
			return true, nil
		}
	}
	return false, nil
}

func conditionsHold(conds map[string]map[string]any, ctx map[string][]string) (bool, error) {
	for op, kv := range conds {
		for key, want := range kv {
			vals, present := ctx[key]
			pats := strs(want)
			var ok bool
			switch op {
			case "StringEquals", "ArnEquals":
				ok = present && len(vals) == 1 && anyMatch(pats, vals[0], func(p, v string) bool { return p == v })
			case "StringLike", "ArnLike":
				ok = present && len(vals) == 1 && anyMatch(pats, vals[0], glob)
			case "ForAllValues:StringLike":
				// AWS: true when the key is absent or empty.
				ok = true
				for _, v := range vals {
					ok = ok && anyMatch(pats, v, glob)
				}
			case "ForAnyValue:StringLike":
				for _, v := range vals {
					ok = ok || anyMatch(pats, v, glob)
				}
			case "Null":
				// "false": the key must be present; "true": absent.
				ok = (pats[0] == "false") == (present && len(vals) > 0)
			default:
				return false, fmt.Errorf("condition operator %s not evaluated", op)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

func anyMatch(pats []string, v string, eq func(p, v string) bool) bool {
	for _, p := range pats {
		if eq(p, v) {
			return true
		}
	}
	return false
}

// capturedCall is one request the package's clients sent, with its input.
type capturedCall struct {
	Service, Operation string
	Input              any
}

// captureInputs returns an APIOptions entry recording every request's
// service, operation and typed input.
func captureInputs(mu *sync.Mutex, calls *[]capturedCall) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("abusekitCaptureInputs", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			*calls = append(*calls, capturedCall{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx), Input: in.Parameters})
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
}

const (
	evalRegion  = "us-east-1"
	evalAccount = ec2test.AccountID
)

var iamPrefix = map[string]string{"EC2": "ec2", "Auto Scaling": "autoscaling", "Elastic Load Balancing v2": "elasticloadbalancing", "CloudWatch": "cloudwatch", "IAM": "iam", "Route53Resolver": "route53resolver"}

func ec2ARN(id string) string {
	kinds := map[string]string{"i-": "instance", "sg-": "security-group", "snap-": "snapshot", "ami-": "image", "vol-": "volume", "eni-": "network-interface", "acl-": "network-acl"}
	for p, k := range kinds {
		if strings.HasPrefix(id, p) {
			acct := evalAccount
			if k == "snapshot" || k == "image" {
				acct = ""
			}
			return "arn:aws:ec2:" + evalRegion + ":" + acct + ":" + k + "/" + id
		}
	}
	return "arn:aws:ec2:" + evalRegion + ":" + evalAccount + ":unknown/" + id
}

func tagKeys(tags []types.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, *t.Key)
	}
	sort.Strings(out)
	return out
}

// tagOnCreate is the implicit ec2:CreateTags of a call with TagSpecifications.
func tagOnCreate(op string, specs []types.TagSpecification) []authRequest {
	var out []authRequest
	for _, s := range specs {
		out = append(out, authRequest{Action: "ec2:CreateTags", Resources: []string{"arn:aws:ec2:" + evalRegion + ":" + evalAccount + ":" + string(s.ResourceType) + "/*"},
			Context: map[string][]string{"ec2:CreateAction": {op}, "aws:TagKeys": tagKeys(s.Tags)}})
	}
	return out
}

// kmsThroughEC2 are the KMS calls EC2 makes for an encrypted volume.
func kmsThroughEC2() []authRequest {
	var out []authRequest
	for _, a := range []string{"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"} {
		out = append(out, authRequest{Action: a, Resources: []string{"arn:aws:kms:" + evalRegion + ":" + evalAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"},
			Context: map[string][]string{"kms:ViaService": {"ec2." + evalRegion + ".amazonaws.com"}}})
	}
	return out
}

func passRole(profile string, roleTags map[string]map[string]string) authRequest {
	// The emulator's instance profile N holds role N.
	role := profileName(profile)
	r := authRequest{Action: "iam:PassRole", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/" + role},
		Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}}
	for k, v := range roleTags[role] {
		r.Context["aws:ResourceTag/"+k] = []string{v}
	}
	return r
}

// requestContext returns the authorizations one call needs: its own
// action on its resources with its condition keys, and the implicit ones
// (tag-on-create, iam:PassRole, KMS through EC2, tags on alarms).
// roleTags are the tags of the account's IAM roles.
func requestContext(c capturedCall, roleTags map[string]map[string]string) []authRequest {
	action := iamPrefix[c.Service] + ":" + c.Operation
	main := authRequest{Action: action, Resources: []string{"*"}, Context: map[string][]string{}}
	var extra []authRequest
	switch in := c.Input.(type) {
	case *awsec2.CreateTagsInput:
		main.Resources = nil
		for _, id := range in.Resources {
			main.Resources = append(main.Resources, ec2ARN(id))
		}
		main.Context["aws:TagKeys"] = tagKeys(in.Tags)
	case *awsec2.DeleteTagsInput:
		main.Resources = nil
		for _, id := range in.Resources {
			main.Resources = append(main.Resources, ec2ARN(id))
		}
		if len(in.Tags) > 0 {
			main.Context["aws:TagKeys"] = tagKeys(in.Tags)
		}
	case *awsec2.CreateSecurityGroupInput:
		extra = tagOnCreate(c.Operation, in.TagSpecifications)
	case *awsec2.CreateSnapshotsInput:
		extra = append(tagOnCreate(c.Operation, in.TagSpecifications), kmsThroughEC2()...)
	case *awsec2.RegisterImageInput:
		extra = tagOnCreate(c.Operation, in.TagSpecifications)
	case *awsec2.RunInstancesInput:
		extra = append(tagOnCreate(c.Operation, in.TagSpecifications), kmsThroughEC2()...)
		if p := in.IamInstanceProfile; p != nil {
			name := sv(p.Arn)
			if name == "" {
				name = "instance-profile/" + sv(p.Name)
			}
			extra = append(extra, passRole(name, roleTags))
		}
	case *awsec2.AssociateIamInstanceProfileInput:
		if p := in.IamInstanceProfile; p != nil {
			extra = append(extra, passRole(sv(p.Arn), roleTags))
		}
	case *cloudwatch.PutMetricAlarmInput:
		main.Resources = []string{"arn:aws:cloudwatch:" + evalRegion + ":" + evalAccount + ":alarm:" + sv(in.AlarmName)}
		if len(in.Tags) > 0 {
			var keys []string
			for _, t := range in.Tags {
				keys = append(keys, sv(t.Key))
			}
			extra = append(extra, authRequest{Action: "cloudwatch:TagResource", Resources: main.Resources, Context: map[string][]string{"aws:TagKeys": keys}})
		}
	case *iam.GetInstanceProfileInput:
		main.Resources = []string{"arn:aws:iam::" + evalAccount + ":instance-profile/" + sv(in.InstanceProfileName)}
	case *iam.PutRolePolicyInput:
		main.Resources = []string{"arn:aws:iam::" + evalAccount + ":role/" + sv(in.RoleName)}
		for k, v := range roleTags[sv(in.RoleName)] {
			main.Context["aws:ResourceTag/"+k] = []string{v}
		}
	case *iam.DeleteRolePolicyInput:
		main.Resources = []string{"arn:aws:iam::" + evalAccount + ":role/" + sv(in.RoleName)}
		for k, v := range roleTags[sv(in.RoleName)] {
			main.Context["aws:ResourceTag/"+k] = []string{v}
		}
	}
	out := []authRequest{main}
	for _, e := range extra {
		if e.Context == nil {
			e.Context = map[string][]string{}
		}
		out = append(out, e)
	}
	for i := range out {
		out[i].From = action
	}
	return out
}

func sv(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The policy refuses what it must: the cases an attacker holding
// abusekit's credentials would try, and the ones a too-wide grant lets
// through. Each case is a request context IAM would build.
func TestIAMPolicyRefuses(t *testing.T) {
	p := loadPolicy(t)
	inst := ec2ARN("i-0123456789abcdef0")
	for _, tc := range []struct {
		name string
		r    authRequest
		want bool
	}{
		{"incident tag on an instance", authRequest{Action: "ec2:CreateTags", Resources: []string{inst}, Context: map[string][]string{"aws:TagKeys": {"abusekit:incident"}}}, true},
		{"other tag on an instance", authRequest{Action: "ec2:CreateTags", Resources: []string{inst}, Context: map[string][]string{"aws:TagKeys": {"abusekit:incident", "Name"}}}, false},
		{"tag on create of a snapshot", authRequest{Action: "ec2:CreateTags", Resources: []string{"arn:aws:ec2:us-east-1::snapshot/*"}, Context: map[string][]string{"ec2:CreateAction": {"CreateSnapshots"}, "aws:TagKeys": {"abusekit:incident"}}}, true},
		{"tag on create by another action", authRequest{Action: "ec2:CreateTags", Resources: []string{"arn:aws:ec2:us-east-1::snapshot/*"}, Context: map[string][]string{"ec2:CreateAction": {"CopySnapshot"}, "aws:TagKeys": {"x"}}}, false},
		{"delete incident tags", authRequest{Action: "ec2:DeleteTags", Resources: []string{inst}, Context: map[string][]string{"aws:TagKeys": {"abusekit:step"}}}, true},
		{"delete every tag (no keys named)", authRequest{Action: "ec2:DeleteTags", Resources: []string{inst}, Context: map[string][]string{}}, false},
		{"pass a replacement role to EC2", authRequest{Action: "iam:PassRole", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/abusekit-replacement-web"}, Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}}, true},
		{"pass the original, tagged role back to EC2", authRequest{Action: "iam:PassRole", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/web"}, Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}, "aws:ResourceTag/" + TagInstanceRole: {"allowed"}}}, true},
		{"incident tags on a snapshot", authRequest{Action: "ec2:CreateTags", Resources: []string{ec2ARN("snap-0123456789abcdef0")}, Context: map[string][]string{"aws:TagKeys": {"abusekit:device"}}}, true},
		{"other tags on a snapshot", authRequest{Action: "ec2:CreateTags", Resources: []string{ec2ARN("snap-0123456789abcdef0")}, Context: map[string][]string{"aws:TagKeys": {"Backup"}}}, false},
		{"incident tags on a security group", authRequest{Action: "ec2:CreateTags", Resources: []string{ec2ARN("sg-0123456789abcdef0")}, Context: map[string][]string{"aws:TagKeys": {"abusekit:incident"}}}, false},
		{"pass an admin role", authRequest{Action: "iam:PassRole", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/Admin"}, Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}}, false},
		{"pass a replacement role to Lambda", authRequest{Action: "iam:PassRole", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/abusekit-replacement-web"}, Context: map[string][]string{"iam:PassedToService": {"lambda.amazonaws.com"}}}, false},
		{"KMS through EC2", kmsThroughEC2()[1], true},
		{"KMS directly", authRequest{Action: "kms:Decrypt", Resources: []string{"arn:aws:kms:us-east-1:" + evalAccount + ":key/k"}, Context: map[string][]string{}}, false},
		{"alarm of abusekit", authRequest{Action: "cloudwatch:PutMetricAlarm", Resources: []string{"arn:aws:cloudwatch:us-east-1:" + evalAccount + ":alarm:abusekit-i-1-cpu"}, Context: map[string][]string{}}, true},
		{"someone else's alarm", authRequest{Action: "cloudwatch:PutMetricAlarm", Resources: []string{"arn:aws:cloudwatch:us-east-1:" + evalAccount + ":alarm:prod-db-cpu"}, Context: map[string][]string{}}, false},
		{"revoke sessions of a role tagged for it", authRequest{Action: "iam:PutRolePolicy", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/web"}, Context: map[string][]string{"aws:ResourceTag/" + TagInstanceRole: {"allowed"}}}, true},
		{"inline policy on an untagged role (admin, or abusekit's own)", authRequest{Action: "iam:PutRolePolicy", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/Admin"}, Context: map[string][]string{}}, false},
		{"delete an inline policy of an untagged role", authRequest{Action: "iam:DeleteRolePolicy", Resources: []string{"arn:aws:iam::" + evalAccount + ":role/Admin"}, Context: map[string][]string{}}, false},
		{"terminate", authRequest{Action: "ec2:TerminateInstances", Resources: []string{inst}, Context: map[string][]string{}}, true},
		{"delete a snapshot", authRequest{Action: "ec2:DeleteSnapshot", Resources: []string{"*"}, Context: map[string][]string{}}, false},
	} {
		got, err := p.allows(tc.r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: allowed = %v, want %v (%s)", tc.name, got, tc.want, tc.r)
		}
	}
}
