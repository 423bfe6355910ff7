package ec2

import (
	"context"
	"errors"
	"testing"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
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
