package ec2

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TerminatePlan is what Terminate will do, after the coverage check it
// shows passed.
type TerminatePlan struct {
	Step       string           `json:"step"`
	Incident   Incident         `json:"incident"`
	InstanceID string           `json:"instance_id"`
	Covered    []VolumeSnapshot `json:"covered"`
	// Termination protection (turned on by Contain) is turned off right
	// before TerminateInstances, and only after the check.
	DisableTerminationProtection bool `json:"disable_termination_protection"`
	// Warnings say what no snapshot covers (an instance-store root).
	Warnings []string `json:"warnings,omitempty"`
}

// TerminateResult reports the termination.
type TerminateResult struct {
	InstanceID    string           `json:"instance_id"`
	PreviousState string           `json:"previous_state"`
	CurrentState  string           `json:"current_state"`
	Snapshots     []VolumeSnapshot `json:"snapshots"`
}

// PlanTerminate checks coverage (read-only) and returns the plan.
func PlanTerminate(ctx context.Context, c *Clients, cs CompletedSnapshots) (*TerminatePlan, error) {
	set, err := verifyCoverage(ctx, c, cs)
	if err != nil {
		return nil, err
	}
	p := &TerminatePlan{Step: stepTerminate, Incident: set.Incident, InstanceID: set.InstanceID, Covered: set.Snapshots, DisableTerminationProtection: true}
	insts, _, err := describeInstances(ctx, c.DescribeInstances, []string{set.InstanceID})
	if err != nil {
		return nil, stepErr(stepTerminate, "DescribeInstances", set.InstanceID, err)
	}
	if inst, ok := insts[set.InstanceID]; ok {
		if inst.RootDeviceType == types.DeviceTypeInstanceStore {
			p.Warnings = append(p.Warnings, "the root device is instance store: the root and ephemeral disks are in no snapshot and are lost with the instance")
		}
		if inst.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
			p.DisableTerminationProtection = false // EC2 refuses it for Spot Instances: never on
		}
	}
	return p, nil
}

func verifyCoverage(ctx context.Context, c *Clients, cs CompletedSnapshots) (*SnapshotSet, error) {
	if cs.set == nil || cs.set.InstanceID == "" {
		return nil, &StepError{Step: stepTerminate, Err: errf("%w: no completed snapshot set (obtain one from ApplySnapshot or VerifySnapshots)", ErrSnapshotsIncomplete)}
	}
	if c == nil {
		return nil, &StepError{Step: stepTerminate, Err: ErrMissingClient}
	}
	if err := need(stepTerminate, c.DescribeInstances, c.DescribeSnapshots, c.ModifyInstanceAttribute, c.TerminateInstances); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, s := range cs.set.Snapshots {
		ids[s.SnapshotID] = true
	}
	return coverage(ctx, c, cs.set.Incident, cs.set.InstanceID, ids)
}

// Terminate terminates the instance cs covers. Right before any mutating
// call it re-verifies against EC2 that every EBS volume attached now has a
// completed snapshot in cs tagged with the incident; if not, it returns
// ErrSnapshotsIncomplete having changed nothing. Only then does it turn
// termination protection off and call TerminateInstances; if that fails,
// it turns termination protection back on before returning. With
// WithProgress it then follows the instance until it is terminated
// (MaxWait at most, default 10 minutes), reporting each state once. The zero
// CompletedSnapshots is refused before any call at all.
func Terminate(ctx context.Context, c *Clients, cs CompletedSnapshots, opts ...Option) (*TerminateResult, error) {
	set, err := verifyCoverage(ctx, c, cs)
	if err != nil {
		return nil, err
	}
	id := set.InstanceID
	if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
		InstanceId: aws.String(id), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(false)},
	}); err != nil {
		return nil, stepErr(stepTerminate, "ModifyInstanceAttribute", id, err)
	}
	out, err := c.TerminateInstances.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		// The instance lives on: put its termination protection back, on a
		// context of its own (ctx may be what ended the call), bounded.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, rerr := c.ModifyInstanceAttribute.ModifyInstanceAttribute(rctx, &awsec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(id), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(true)},
		})
		if rerr != nil {
			rerr = stepErr(stepTerminate, "ModifyInstanceAttribute", id, errf("turning termination protection back on: %w", rerr))
		}
		return nil, errors.Join(stepErr(stepTerminate, "TerminateInstances", id, err), rerr)
	}
	res := &TerminateResult{InstanceID: id, Snapshots: set.Snapshots}
	for _, ch := range out.TerminatingInstances {
		if aws.ToString(ch.InstanceId) == id {
			if ch.PreviousState != nil {
				res.PreviousState = string(ch.PreviousState.Name)
			}
			if ch.CurrentState != nil {
				res.CurrentState = string(ch.CurrentState.Name)
			}
		}
	}
	o := buildOptions(opts, 10*time.Minute)
	if o.Progress == nil {
		return res, nil
	}
	// With progress wanted, follow the instance to "terminated",
	// reporting each state once (bounded by MaxWait).
	track := newProgressTracker(o.Progress)
	if res.PreviousState != "" {
		track.state(stepTerminate, id, res.PreviousState)
	}
	if res.CurrentState != "" {
		track.state(stepTerminate, id, res.CurrentState)
	}
	state, err := waitTerminated(ctx, c, id, o, track)
	if state != "" {
		res.CurrentState = state
	}
	return res, err
}

// waitTerminated polls DescribeInstances until the instance is
// terminated, MaxWait at most, reporting each state it sees.
func waitTerminated(ctx context.Context, c *Clients, id string, o Options, track *progressTracker) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, o.MaxWait)
	defer cancel()
	delay := o.PollMin
	last := ""
	for {
		out, err := c.DescribeInstances.DescribeInstances(wctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil && !transient(err) {
			return last, stepErr(stepTerminate, "DescribeInstances", id, err)
		}
		if err == nil {
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					if aws.ToString(inst.InstanceId) != id || inst.State == nil {
						continue
					}
					last = string(inst.State.Name)
					track.state(stepTerminate, id, last)
					if inst.State.Name == types.InstanceStateNameTerminated {
						return last, nil
					}
				}
			}
		}
		if err := sleep(wctx, delay); err != nil {
			return last, stepErr(stepTerminate, "DescribeInstances", id, errf("%w: waiting for terminated (last state %q): %w", ErrTimeout, last, err))
		}
		delay = min(delay*2, o.PollMax)
	}
}
