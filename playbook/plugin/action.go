package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

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

// Versioner is implemented by actions that have a version of their own.
type Versioner interface {
	Version() string
}

// ActionVersion sets an action's own version (NewAction; a TypedAction
// implements Versioner instead).
func ActionVersion(v string) ActionOption {
	return func(r *rawAction) { r.version = v }
}

// ActionOption changes how the SDK runs an action.
type ActionOption func(*rawAction)

// RefuseChangedPlan makes the SDK, before an Apply that has an approved plan,
// plan again with the same input and refuse with ErrPlanChanged unless that
// plan has the approved changes and payload. Use it for actions whose Plan
// reads exactly the state Apply changes; the check costs one Plan per Apply.
func RefuseChangedPlan() ActionOption {
	return func(r *rawAction) { r.refuseChanged = true }
}

// Typed turns a TypedAction into an Action.
func Typed[In, Out any](a TypedAction[In, Out], opts ...ActionOption) Action {
	var desc string
	if d, ok := a.(Describer); ok {
		desc = d.Description()
	}
	if v, ok := a.(Versioner); ok {
		opts = append([]ActionOption{ActionVersion(v.Version())}, opts...)
	}
	return newRaw[In, Out](desc, a.Plan, a.Apply, opts...)
}

// NewAction builds an Action from two functions; the type parameters are
// inferred from them. plan may be nil for an action that changes nothing
// worth planning (its plan then says so).
func NewAction[In, Out any](
	description string,
	plan func(ctx context.Context, req PlanRequest[In], resp *PlanResponse) error,
	apply func(ctx context.Context, req ApplyRequest[In], resp *ApplyResponse[Out]) error,
	opts ...ActionOption,
) Action {
	if plan == nil {
		plan = func(_ context.Context, req PlanRequest[In], resp *PlanResponse) error {
			resp.Summary = "run " + req.Action
			return nil
		}
	}
	return newRaw(description, plan, apply, opts...)
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
	// Payload, if set, is the action's own record of what it planned (the
	// groups, files or processes it will act on), marshalled to JSON. The
	// host does not interpret it: it is journaled with the approved plan
	// and given back to Apply in ApplyRequest.Approved, so that Apply acts
	// on what was approved even after the plugin process restarted.
	Payload any
}

// ApprovedPlan is the plan the operator approved for a step, as the runner
// journaled it: what Plan returned then.
type ApprovedPlan struct {
	Summary string
	Changes []Change
	Payload json.RawMessage // PlanResponse.Payload as JSON, nil if none
}

// DecodePayload unmarshals the approved plan's payload into v.
func (a *ApprovedPlan) DecodePayload(v any) error {
	if a == nil || len(a.Payload) == 0 {
		return fmt.Errorf("%w: no approved plan payload", ErrPlanChanged)
	}
	return json.Unmarshal(a.Payload, v)
}

// Check compares a plan made now (from the state Apply sees) with the
// approved one: the same changes and the same payload, or an error wrapping
// ErrPlanChanged that says what differs. A nil ApprovedPlan (the step was
// not planned before approval) accepts any plan.
func (a *ApprovedPlan) Check(fresh PlanResponse) error {
	if a == nil {
		return nil
	}
	now, err := payloadJSON(fresh.Payload)
	if err != nil {
		return err
	}
	if diff := changesDiff(a.Changes, fresh.Changes); diff != "" {
		return fmt.Errorf("%w: %s", ErrPlanChanged, diff)
	}
	if !jsonEqual(a.Payload, now) {
		return fmt.Errorf("%w: approved payload %s, now %s", ErrPlanChanged, clip(a.Payload), clip(now))
	}
	return nil
}

func changesDiff(approved, now []Change) string {
	in := func(list []Change, c Change) bool {
		for _, x := range list {
			if x == c {
				return true
			}
		}
		return false
	}
	var added, gone []string
	for _, c := range now {
		if !in(approved, c) {
			added = append(added, fmt.Sprintf("%s %s", c.Kind, c.Target))
		}
	}
	for _, c := range approved {
		if !in(now, c) {
			gone = append(gone, fmt.Sprintf("%s %s", c.Kind, c.Target))
		}
	}
	switch {
	case len(added) == 0 && len(gone) == 0 && len(approved) == len(now):
		return ""
	case len(added) == 0 && len(gone) == 0:
		return fmt.Sprintf("%d changes approved, %d now", len(approved), len(now))
	}
	msg := fmt.Sprintf("%d changes approved, %d now", len(approved), len(now))
	if len(added) > 0 {
		msg += fmt.Sprintf("; not approved: %v", added)
	}
	if len(gone) > 0 {
		msg += fmt.Sprintf("; approved but no longer planned: %v", gone)
	}
	return msg
}

func payloadJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("plugin: marshal plan payload: %w", err)
	}
	return b, nil
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
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
	// Approved is the plan the operator approved for this step, kept by
	// the runner (journaled), not by the plugin: nil when the step was not
	// planned before approval. An Apply that plans again from the state it
	// sees compares with it (Approved.Check) and refuses a difference with
	// ErrPlanChanged; RefuseChangedPlan makes the SDK do exactly that.
	Approved *ApprovedPlan
	// Notes are the notes earlier attempts or runs of this step kept with
	// Progress.Note, by key (the last value of each), as JSON; nil if none.
	Notes map[string]json.RawMessage
}

// ApplyResponse is what Apply fills in.
type ApplyResponse[Out any] struct {
	Output Out
}

// Progress reports an action's progress to the host. The zero value
// discards reports and keeps no notes.
type Progress struct {
	report func(message string, done, total int64)
	note   func(ctx context.Context, key string, value []byte) error
}

// ErrNoteNotKept: a note could not be kept (no host, the host could not
// journal it, or ctx ended first). An action that needs the note to undo
// its change must not make the change.
var ErrNoteNotKept = errors.New("plugin: note not kept")

// Note records a durable note in the runner's journal and returns once it
// is on stable storage (with no journal, once the runner holds it): the
// original state an action is about to change, say, so that the change can
// be undone even if the plugin or the runner dies right after it. Later
// attempts of the step, and a resumed run of the incident, get the last
// value of each key back in ApplyRequest.Notes. value is marshalled to
// JSON. On an error (wrapping ErrNoteNotKept) the action should not make
// the change the note was for.
func (p Progress) Note(ctx context.Context, key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrNoteNotKept)
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoteNotKept, key, err)
	}
	if len(b) > maxPayload {
		return fmt.Errorf("%w: %s: %d bytes, more than the %d allowed", ErrNoteNotKept, key, len(b), maxPayload)
	}
	if p.note == nil {
		return fmt.Errorf("%w: %s: no host to keep it", ErrNoteNotKept, key)
	}
	if err := p.note(ctx, key, b); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNoteNotKept, key, err)
	}
	return nil
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
	description   string
	version       string
	inputSchema   []byte
	outputSchema  []byte
	refuseChanged bool
	plan          func(ctx context.Context, c Call, input []byte, log *slog.Logger, resp *PlanResponse) error
	apply         func(ctx context.Context, c Call, input []byte, log *slog.Logger, p Progress, approved *ApprovedPlan, notes map[string]json.RawMessage) ([]byte, error)
}

func (r *rawAction) impl() *rawAction { return r }

func newRaw[In, Out any](
	description string,
	plan func(ctx context.Context, req PlanRequest[In], resp *PlanResponse) error,
	apply func(ctx context.Context, req ApplyRequest[In], resp *ApplyResponse[Out]) error,
	opts ...ActionOption,
) *rawAction {
	inSchema := wire.Schema(reflect.TypeFor[In]())
	parsedIn := wire.ParseSchema(inSchema)
	r := &rawAction{
		description:  description,
		inputSchema:  inSchema,
		outputSchema: wire.Schema(reflect.TypeFor[Out]()),
		plan: func(ctx context.Context, c Call, input []byte, log *slog.Logger, resp *PlanResponse) error {
			in, err := decodeInput[In](input, parsedIn)
			if err != nil {
				return err
			}
			return plan(ctx, PlanRequest[In]{Call: c, Input: in, Logger: log}, resp)
		},
		apply: func(ctx context.Context, c Call, input []byte, log *slog.Logger, p Progress, approved *ApprovedPlan, notes map[string]json.RawMessage) ([]byte, error) {
			in, err := decodeInput[In](input, parsedIn)
			if err != nil {
				return nil, err
			}
			var resp ApplyResponse[Out]
			if apply == nil {
				return nil, fmt.Errorf("%w: %s has no Apply", ErrUnknownAction, c.Action)
			}
			if approved != nil && refuseChanged(opts) {
				var fresh PlanResponse
				if err := plan(ctx, PlanRequest[In]{Call: c, Input: in, Logger: log}, &fresh); err != nil {
					return nil, fmt.Errorf("plan again before apply: %w", err)
				}
				if err := approved.Check(fresh); err != nil {
					return nil, err
				}
			}
			if err := apply(ctx, ApplyRequest[In]{Call: c, Input: in, Logger: log, Progress: p, Approved: approved, Notes: notes}, &resp); err != nil {
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
	for _, o := range opts {
		o(r)
	}
	return r
}

func refuseChanged(opts []ActionOption) bool {
	var r rawAction
	for _, o := range opts {
		o(&r)
	}
	return r.refuseChanged
}

// maxPayload bounds an action's input and output documents.
const maxPayload = wire.MaxPayload

// decodeInput checks the input document against the input type's schema
// (types, required fields, enums, unknown fields: every misfit named by its
// field path), fills in the defaults of absent fields, and decodes it
// strictly.
func decodeInput[In any](b []byte, schema *wire.SchemaNode) (In, error) {
	var in In
	if len(b) > maxPayload {
		return in, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrInvalidInput, len(b), maxPayload)
	}
	if len(b) == 0 {
		b = []byte("{}")
		if schema == nil || schema.Type != "object" {
			return in, nil
		}
	}
	if schema != nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return in, fmt.Errorf("%w: %v", ErrInvalidInput, err)
		}
		if errs := schema.Validate(doc, nil); len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, e := range errs {
				msgs[i] = e.Error()
			}
			return in, fmt.Errorf("%w: %s", ErrInvalidInput, strings.Join(msgs, "; "))
		}
		if schema.ApplyDefaults(doc) {
			nb, err := json.Marshal(doc)
			if err != nil {
				return in, fmt.Errorf("%w: %v", ErrInvalidInput, err)
			}
			b = nb
		}
	}
	if err := unmarshalStrict(b, &in); err != nil {
		return in, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return in, nil
}
