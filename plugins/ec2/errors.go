package ec2

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

var (
	// ErrNotFound: an instance, volume, group or snapshot the step needs does not exist.
	ErrNotFound = errors.New("ec2: not found")
	// ErrSnapshotsIncomplete: an attached volume has no completed snapshot from this
	// incident; Terminate refuses before any mutating call.
	ErrSnapshotsIncomplete = errors.New("ec2: snapshots incomplete")
	// ErrSnapshotFailed: a snapshot reached the "error" state.
	ErrSnapshotFailed = errors.New("ec2: snapshot failed")
	// ErrTimeout: a waiter ran past its maximum wait.
	ErrTimeout = errors.New("ec2: timed out waiting")
	// ErrInvalidInput: the request is incomplete or inconsistent.
	ErrInvalidInput = errors.New("ec2: invalid input")
	// ErrMissingClient: a Clients field the step calls is nil.
	ErrMissingClient = errors.New("ec2: missing client")
	// ErrUnhealthy: a launched instance failed its status checks or stopped.
	ErrUnhealthy = errors.New("ec2: instance unhealthy")
	// ErrASGMinSize: detaching the instance would take its Auto Scaling group
	// below MinSize without a replacement; the caller must choose.
	ErrASGMinSize = errors.New("ec2: auto scaling group at minimum size")
	// ErrQuarantineOpen: the quarantine group could not be emptied of its
	// rules (someone keeps adding them); no interface was moved into it.
	ErrQuarantineOpen = errors.New("ec2: quarantine group has rules")
)

// StepError wraps an error with the step, the operation and the resource it
// concerned. errors.Is/As see through it to the sentinel or to the SDK's
// smithy.APIError.
type StepError struct {
	Step      string // "contain", "snapshot", "rebuild", "terminate", "harden", "alarms", "undo"
	Operation string // AWS operation, e.g. "CreateSnapshots"; empty for local checks
	Resource  string // instance, volume, group id …
	Err       error
}

func (e *StepError) Error() string {
	s := "ec2: " + e.Step
	if e.Operation != "" {
		s += ": " + e.Operation
	}
	if e.Resource != "" {
		s += " " + e.Resource
	}
	return s + ": " + e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

func stepErr(step, op, res string, err error) error {
	if err == nil {
		return nil
	}
	var se *StepError
	if errors.As(err, &se) && se.Step == step && se.Resource == res {
		return err
	}
	if isNotFoundCode(errCode(err)) && !errors.Is(err, ErrNotFound) {
		err = &notFound{err}
	}
	return &StepError{Step: step, Operation: op, Resource: res, Err: err}
}

// notFound makes an SDK "…NotFound" error match ErrNotFound as well as the
// smithy.APIError it wraps.
type notFound struct{ err error }

func (n *notFound) Error() string        { return n.err.Error() }
func (n *notFound) Unwrap() []error      { return []error{ErrNotFound, n.err} }
func errf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFoundCode(code string) bool {
	switch code {
	case "InvalidInstanceID.NotFound", "InvalidGroup.NotFound", "InvalidVolume.NotFound",
		"InvalidSnapshot.NotFound", "InvalidNetworkInterfaceID.NotFound", "InvalidAMIID.NotFound",
		"InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException",
		"TargetGroupNotFound", "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound":
		return true
	}
	return false
}
