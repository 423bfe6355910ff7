package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// Actions maps action names to actions; it is everything a plugin serves.
type Actions map[string]Action

// Action is one action a plugin offers. Get one from Typed or NewAction; the
// interface is sealed so that the SDK can grow without breaking authors.
type Action interface {
	impl() *rawAction
}

// TypedAction is what a plugin author implements: plain Go input and output
// types, a Plan that changes nothing, and an Apply that does the work.
//
// An action may also implement Describer.
type TypedAction[In, Out any] interface {
	Plan(ctx context.Context, req PlanRequest[In], resp *PlanResponse) error
	Apply(ctx context.Context, req ApplyRequest[In], resp *ApplyResponse[Out]) error
}

// Describer is implemented by actions that describe themselves for the
// host's Describe call (shown in plans and listings).
type Describer interface {
	Description() string
}

// Typed turns a TypedAction into an Action.
func Typed[In, Out any](a TypedAction[In, Out]) Action {
	var desc string
	if d, ok := a.(Describer); ok {
		desc = d.Description()
	}
	return newRaw[In, Out](desc, a.Plan, a.Apply)
}

// NewAction builds an Action from two functions; the type parameters are
// inferred from them. plan may be nil for an action that changes nothing
// worth planning (its plan then says so).
func NewAction[In, Out any](
	description string,
	plan func(ctx context.Context, req PlanRequest[In], resp *PlanResponse) error,
	apply func(ctx context.Context, req ApplyRequest[In], resp *ApplyResponse[Out]) error,
) Action {
	if plan == nil {
		plan = func(_ context.Context, req PlanRequest[In], resp *PlanResponse) error {
			resp.Summary = "run " + req.Action
			return nil
		}
	}
	return newRaw(description, plan, apply)
}

// Call says what is being asked, for which incident and step. It is part of
// every request.
type Call struct {
	Action   string // the action's name
	Incident string // the incident the playbook runs for
	Playbook string // the playbook's name
	Step     string // the step's id in the playbook
	// IdempotencyToken is the same for every attempt, retry and resume of
	// this step of this incident: use it as the client token of anything the
	// action creates, so a re-run does not create it twice.
	IdempotencyToken string
	Attempt          int // 1 for the first attempt
}

// PlanRequest is what Plan receives.
type PlanRequest[In any] struct {
	Call
	Input  In
	Logger *slog.Logger // writes to the host's log, never nil
}

// PlanResponse is what Plan fills in.
type PlanResponse struct {
	// Summary is one line for the operator: what Apply would do.
	Summary string
	// Changes lists what Apply would change; empty means nothing.
	Changes []Change
}

// ChangeKind says what kind of change a Change is.
type ChangeKind string

// Change kinds.
const (
	ChangeCreate ChangeKind = "create"
	ChangeUpdate ChangeKind = "update"
	ChangeDelete ChangeKind = "delete"
	ChangeRead   ChangeKind = "read"
)

// Change is one thing Apply would change.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	Target string     `json:"target"`
	Detail string     `json:"detail,omitempty"`
}

// ApplyRequest is what Apply receives.
type ApplyRequest[In any] struct {
	Call
	Input    In
	Logger   *slog.Logger // writes to the host's log, never nil
	Progress Progress     // reports progress to the host
}

// ApplyResponse is what Apply fills in.
type ApplyResponse[Out any] struct {
	Output Out
}

// Progress reports an action's progress to the host. The zero value
// discards reports.
type Progress struct {
	report func(message string, done, total int64)
}

// Report sends one progress event: a message and, when known, how much of
// how much is done (total 0 when unknown).
func (p Progress) Report(message string, done, total int64) {
	if p.report != nil {
		p.report(message, done, total)
	}
}

// rawAction is an action with its types erased to JSON.
type rawAction struct {
	description  string
	inputSchema  []byte
	outputSchema []byte
	plan         func(ctx context.Context, c Call, input []byte, log *slog.Logger, resp *PlanResponse) error
	apply        func(ctx context.Context, c Call, input []byte, log *slog.Logger, p Progress) ([]byte, error)
}

func (r *rawAction) impl() *rawAction { return r }

func newRaw[In, Out any](
	description string,
	plan func(ctx context.Context, req PlanRequest[In], resp *PlanResponse) error,
	apply func(ctx context.Context, req ApplyRequest[In], resp *ApplyResponse[Out]) error,
) *rawAction {
	return &rawAction{
		description:  description,
		inputSchema:  wire.Schema(reflect.TypeFor[In]()),
		outputSchema: wire.Schema(reflect.TypeFor[Out]()),
		plan: func(ctx context.Context, c Call, input []byte, log *slog.Logger, resp *PlanResponse) error {
			in, err := decodeInput[In](input)
			if err != nil {
				return err
			}
			return plan(ctx, PlanRequest[In]{Call: c, Input: in, Logger: log}, resp)
		},
		apply: func(ctx context.Context, c Call, input []byte, log *slog.Logger, p Progress) ([]byte, error) {
			in, err := decodeInput[In](input)
			if err != nil {
				return nil, err
			}
			var resp ApplyResponse[Out]
			if apply == nil {
				return nil, fmt.Errorf("%w: %s has no Apply", ErrUnknownAction, c.Action)
			}
			if err := apply(ctx, ApplyRequest[In]{Call: c, Input: in, Logger: log, Progress: p}, &resp); err != nil {
				return nil, err
			}
			out, err := json.Marshal(resp.Output)
			if err != nil {
				return nil, fmt.Errorf("plugin: marshal output of %s: %w", c.Action, err)
			}
			if len(out) > maxPayload {
				return nil, fmt.Errorf("plugin: output of %s is %d bytes, more than the %d allowed", c.Action, len(out), maxPayload)
			}
			return out, nil
		},
	}
}

// maxPayload bounds an action's input and output documents.
const maxPayload = wire.MaxPayload

func decodeInput[In any](b []byte) (In, error) {
	var in In
	if len(b) == 0 {
		return in, nil
	}
	if len(b) > maxPayload {
		return in, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrInvalidInput, len(b), maxPayload)
	}
	if err := unmarshalStrict(b, &in); err != nil {
		return in, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return in, nil
}
