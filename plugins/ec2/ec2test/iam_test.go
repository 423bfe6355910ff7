package ec2test_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// IAM through the SDK: an instance profile's role, and an inline role
// policy put, read and deleted.
func TestIAMRolePolicies(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.NewServer()
	defer srv.Close()
	c := iam.NewFromConfig(srv.Config())
	p, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.InstanceProfile.Roles) != 1 || aws.ToString(p.InstanceProfile.Roles[0].RoleName) != "web" {
		t.Fatalf("profile: %+v", p.InstanceProfile)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("deny"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("deny")})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := url.QueryUnescape(aws.ToString(got.PolicyDocument)); d != doc {
		t.Errorf("document %q", d)
	}
	if ps := srv.RolePolicies("web"); len(ps) != 1 || ps[0] != "deny" {
		t.Errorf("policies %v", ps)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("bad"), PolicyDocument: aws.String("{")}); code(err) != "MalformedPolicyDocument" {
		t.Errorf("malformed: %v", err)
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("deny")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("deny")}); code(err) != "NoSuchEntity" {
		t.Errorf("delete again: %v", err)
	}
}
