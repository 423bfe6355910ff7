package ec2test_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// Instance profile associations through the SDK: describe, disassociate,
// associate again, and the errors EC2 answers.
func TestInstanceProfileAssociations(t *testing.T) {
	ctx := context.Background()
	srv, c := newEC2(t)
	const arn = "arn:aws:iam::" + ec2test.AccountID + ":instance-profile/web"
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{IAMInstanceProfileARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	list := func(id string) []types.IamInstanceProfileAssociation {
		t.Helper()
		out, err := c.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
			Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{id}}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.IamInstanceProfileAssociations
	}
	as := list(ids[0])
	if len(as) != 1 || aws.ToString(as[0].IamInstanceProfile.Arn) != arn || as[0].State != types.IamInstanceProfileAssociationStateAssociated {
		t.Fatalf("associations: %+v", as)
	}
	if _, err := c.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: aws.String(ids[0]),
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Arn: aws.String(arn)}}); code(err) != "IncorrectState" {
		t.Errorf("second association: %v", err)
	}
	d, err := c.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: as[0].AssociationId})
	if err != nil || d.IamInstanceProfileAssociation.State != types.IamInstanceProfileAssociationStateDisassociating {
		t.Fatalf("disassociate: %+v %v", d, err)
	}
	if got := list(ids[0]); len(got) != 0 {
		t.Errorf("after disassociate: %+v", got)
	}
	if _, err := c.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: as[0].AssociationId}); code(err) != "InvalidAssociationID.NotFound" {
		t.Errorf("disassociate again: %v", err)
	}
	if got := list(ids[1]); len(got) != 1 {
		t.Errorf("the other instance lost its profile: %+v", got)
	}
	a, err := c.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: aws.String(ids[0]),
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Arn: aws.String(arn)}})
	if err != nil {
		t.Fatal(err)
	}
	got := list(ids[0])
	if len(got) != 1 || aws.ToString(got[0].AssociationId) != aws.ToString(a.IamInstanceProfileAssociation.AssociationId) {
		t.Errorf("re-associated: %+v", got)
	}
	inst, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(arn, aws.ToString(inst.Reservations[0].Instances[0].IamInstanceProfile.Arn)); d != "" {
		t.Error(d)
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
