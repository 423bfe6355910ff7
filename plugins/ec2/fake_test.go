package ec2

import (
	"context"
	"errors"
	"fmt"
	"sync"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
)

// fake implements the EC2 one-method interfaces with function fields and
// records every call by operation name. A nil function fails the call.
type fake struct {
	mu    sync.Mutex
	calls []string

	describeInstances       func(*awsec2.DescribeInstancesInput) (*awsec2.DescribeInstancesOutput, error)
	describeSnapshots       func(*awsec2.DescribeSnapshotsInput) (*awsec2.DescribeSnapshotsOutput, error)
	modifyInstanceAttribute func(*awsec2.ModifyInstanceAttributeInput) (*awsec2.ModifyInstanceAttributeOutput, error)
	terminateInstances      func(*awsec2.TerminateInstancesInput) (*awsec2.TerminateInstancesOutput, error)
}

func (f *fake) record(op string) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func unexpected(op string) error { return fmt.Errorf("fake: unexpected call %s", op) }

func (f *fake) DescribeInstances(_ context.Context, in *awsec2.DescribeInstancesInput, _ ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error) {
	f.record("DescribeInstances")
	if f.describeInstances == nil {
		return nil, unexpected("DescribeInstances")
	}
	return f.describeInstances(in)
}

func (f *fake) DescribeSnapshots(_ context.Context, in *awsec2.DescribeSnapshotsInput, _ ...func(*awsec2.Options)) (*awsec2.DescribeSnapshotsOutput, error) {
	f.record("DescribeSnapshots")
	if f.describeSnapshots == nil {
		return nil, unexpected("DescribeSnapshots")
	}
	return f.describeSnapshots(in)
}

func (f *fake) ModifyInstanceAttribute(_ context.Context, in *awsec2.ModifyInstanceAttributeInput, _ ...func(*awsec2.Options)) (*awsec2.ModifyInstanceAttributeOutput, error) {
	f.record("ModifyInstanceAttribute")
	if f.modifyInstanceAttribute == nil {
		return nil, unexpected("ModifyInstanceAttribute")
	}
	return f.modifyInstanceAttribute(in)
}

func (f *fake) TerminateInstances(_ context.Context, in *awsec2.TerminateInstancesInput, _ ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error) {
	f.record("TerminateInstances")
	if f.terminateInstances == nil {
		return nil, unexpected("TerminateInstances")
	}
	return f.terminateInstances(in)
}

func (f *fake) clients() *Clients {
	return &Clients{DescribeInstances: f, DescribeSnapshots: f, ModifyInstanceAttribute: f, TerminateInstances: f}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
