package playbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/abusekit/abusekit/playbook/plugin"
)

// Options configures a Runner.
type Options struct {
	// Incident identifies the incident the playbook runs for; it names the
	// journal and seeds every step's idempotency token. Required.
	Incident string
	// Inputs are the playbook's inputs, referred to as inputs.<name>.
	Inputs map[string]any
	// Plugins says how to start the plugins the steps name. Plugins already
	// started on Host need no spec.
	Plugins []PluginSpec
	// Host, if set, is shared: the runner starts missing plugins on it and
	// does not close it. Otherwise the runner has its own and Close stops it.
	Host *Host
	// JournalDir holds the incident's journal. Empty: no journal, no resume.
	JournalDir string
	// Approve is asked by Run to approve the plan; nil refuses every plan
	// (dry run). Use AutoApprove to skip approval (the -yes of the
	// examples). Apply asks it again, with a Plan of that one step, for
	// each step not planned when the plan was approved, unless ApproveStep
	// is set.
	Approve func(ctx context.Context, plan *Plan) (bool, error)
	// ApproveStep, if set, is asked during Apply to approve the plan of a
	// step that was not planned when the run's plan was approved (a
	// PlanDeferred step, whose input or condition needed outputs of earlier
	// steps): the runner plans it as soon as those are known, reports the
	// plan (EventStepPlanned) and asks before the step acts. With neither
	// ApproveStep nor Approve such a step is refused: the run stops before
	// it (ErrNotApproved), journaled and resumable.
	ApproveStep func(ctx context.Context, step *StepPlan) (bool, error)
	// Replan lets a resume go on when the playbook or the inputs differ
	// from those of the journal's last run (else refused with a
	// *ResumeError): the steps the change affects are planned and run
	// again (a changed or added step, one referring to a changed input,
	// and transitively one referring to the output of such a step; a step
	// skipped by a condition that now holds runs), and completed steps the
	// change does not affect stay done. The -replan of the examples.
	Replan bool
	// OnEvent receives every event (nil: none).
	OnEvent func(Event)
	// Logger receives the runner's records (default: discard).
	Logger *slog.Logger
	// StopGrace is HostOptions.StopGrace of the runner's own Host: how long
	// a running action gets to finish its cleanup once the run's context
	// ends, before its plugin is stopped anyway (zero: 10s).
	StopGrace time.Duration
}

// AutoApprove approves every plan (the -yes of the examples).
func AutoApprove(context.Context, *Plan) (bool, error) { return true, nil }

// ErrNotApproved is returned by Run when the plan was not approved, and
// by Apply (in a *StepError) when a step's plan made during the run was
// not approved.
var ErrNotApproved = errors.New("playbook: plan not approved")

// PlanStatus says what Apply will do with a step.
type PlanStatus string

// Plan statuses.
const (
	// PlanPlanned: the plugin planned the step with its final input.
	PlanPlanned PlanStatus = "planned"
	// PlanDeferred: the step's input or condition depends on outputs of
	// steps not yet applied. Apply plans it once they are known and asks
	// for approval of that plan (Options.ApproveStep) before it acts.
	PlanDeferred PlanStatus = "deferred"
	// PlanSkip: the step's condition is false; it will not run.
	PlanSkip PlanStatus = "skip"
	// PlanDone: an earlier run of this incident completed the step (from
	// the journal); it will not run again.
	PlanDone PlanStatus = "done"
)

// Plan is what a run would do, step by step.
type Plan struct {
	Playbook string     `json:"playbook"`
	Incident string     `json:"incident"`
	Steps    []StepPlan `json:"steps"`
}

// StepPlan is one step of a Plan.
type StepPlan struct {
	Step             string          `json:"step"`
	Plugin           string          `json:"plugin"`
	Action           string          `json:"action"`
	Status           PlanStatus      `json:"status"`
	Summary          string          `json:"summary,omitempty"`
	Changes          []plugin.Change `json:"changes,omitempty"`
	Payload          json.RawMessage `json:"payload,omitempty"` // the plugin's own record of its plan (PlanResponse.Payload)
	Input            json.RawMessage `json:"input,omitempty"`   // resolved input, when known
	IdempotencyToken string          `json:"idempotency_token"`
	Reason           string          `json:"reason,omitempty"` // why deferred, skipped or done
}

// Run is the outcome of Apply.
type Run struct {
	Playbook string        `json:"playbook"`
	Incident string        `json:"incident"`
	Status   Status        `json:"status"`
	HostPID  int           `json:"host_pid"`
	Journal  string        `json:"journal,omitempty"`
	Steps    []StepResult  `json:"steps"`
	Duration time.Duration `json:"duration_ns"`
}

// StepResult is the outcome of one step.
type StepResult struct {
	ID               string          `json:"id"`
	Plugin           string          `json:"plugin"`
	Action           string          `json:"action"`
	Status           Status          `json:"status"`
	Resumed          bool            `json:"resumed,omitempty"`
	PluginPID        int             `json:"plugin_pid,omitempty"`
	Attempts         int             `json:"attempts,omitempty"`
	IdempotencyToken string          `json:"idempotency_token"`
	Output           json.RawMessage `json:"output,omitempty"`
	Error            string          `json:"error,omitempty"`
	Duration         time.Duration   `json:"duration_ns,omitempty"`
	// Transport is where the step's Apply ran: "local", "ssm" or "ssh".
	Transport string `json:"transport,omitempty"`
	// CommandID is the SSM Run Command command of a step run over ssm.
	CommandID string `json:"command_id,omitempty"`
}

// Runner runs one playbook for one incident: Plan, then Apply (or Run for
// both with approval in between). Close it when done.
type Runner struct {
	pb      *Playbook
	opts    Options
	logger  *slog.Logger
	host    *Host
	ownHost bool
	specs   map[string]PluginSpec

	journal *Journal
	done    map[string]Record                     // step id → its completing step_finished record
	notes   map[string]map[string]json.RawMessage // step id → key → last note value

	digestNow *RunDigest        // this run's digest, journaled in run_started
	replanned []string          // steps this run re-plans (Options.Replan), journaled in run_started
	replanWhy map[string]string // step id → why this run re-plans it
	gen       map[string]int    // step id → how many times a change re-planned it
}

// NewRunner checks the playbook against the options; it starts nothing.
func NewRunner(pb *Playbook, opts Options) (*Runner, error) {
	if pb == nil {
		return nil, errors.New("playbook: nil playbook")
	}
	if err := pb.Validate(); err != nil {
		return nil, err
	}
	if opts.Incident == "" {
		return nil, errors.New("playbook: Options.Incident is required")
	}
	if len(pb.Inputs) > 0 {
		merged := make(map[string]any, len(pb.Inputs))
		for k, v := range opts.Inputs {
			merged[k] = v
		}
		var missing []string
		for _, name := range sortedKeys(inputNames(pb.Inputs)) {
			in := pb.Inputs[name]
			if _, ok := merged[name]; ok {
				continue
			}
			switch {
			case in.Default != nil:
				merged[name] = in.Default
			case in.Required:
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("playbook %s: %w: required inputs not given: %v", pb.Name, ErrUnresolved, missing)
		}
		opts.Inputs = merged
	}
	r := &Runner{pb: pb, opts: opts, host: opts.Host, specs: map[string]PluginSpec{}}
	r.logger = opts.Logger
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.logger = r.logger.With("playbook", pb.Name, "incident", opts.Incident)
	if r.host == nil {
		r.host = NewHost(HostOptions{Logger: opts.Logger, StopGrace: opts.StopGrace})
		r.ownHost = true
	}
	for _, s := range opts.Plugins {
		r.specs[s.Name] = s
	}
	have := map[string]bool{}
	for _, n := range r.host.Plugins() {
		have[n] = true
	}
	for i, s := range pb.Steps {
		if _, ok := r.specs[s.Plugin]; !ok && !have[s.Plugin] {
			return nil, &StepError{Playbook: pb.Name, Step: s.ID, Plugin: s.Plugin,
				Err: r.validationError(fmt.Sprintf("steps[%d].plugin", i),
					&PluginError{Plugin: s.Plugin, Err: fmt.Errorf("%w: no PluginSpec for it", ErrUnknownPlugin)})}
		}
	}
	return r, nil
}

// Close closes the journal and, unless the Host was shared, stops the
// plugins.
func (r *Runner) Close() error {
	var err error
	if r.journal != nil {
		err = r.journal.Close()
		r.journal = nil
	}
	if r.ownHost {
		if cerr := r.host.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Incident is the incident the runner runs for.
func (r *Runner) Incident() string { return r.opts.Incident }

// Host is the plugin host the runner uses.
func (r *Runner) Host() *Host { return r.host }

// IdempotencyToken is the token of a step of a playbook for an incident:
// the same for every attempt, retry and resume.
func IdempotencyToken(incident, playbook, step string) string {
	h := sha256.New()
	for _, s := range []string{"abusekit/v1", incident, playbook, step} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Start starts the plugins the playbook's steps use, in parallel. Plan and
// Apply call it as needed.
func (r *Runner) Start(ctx context.Context) error {
	have := map[string]bool{}
	for _, n := range r.host.Plugins() {
		have[n] = true
	}
	var specs []PluginSpec
	for _, s := range r.pb.Steps {
		if have[s.Plugin] {
			continue
		}
		have[s.Plugin] = true
		specs = append(specs, r.specs[s.Plugin])
	}
	if len(specs) == 0 {
		return nil
	}
	return r.host.Start(ctx, specs...)
}

// openJournal opens the journal once and learns which steps are done.
func (r *Runner) openJournal() error {
	if r.journal != nil || r.opts.JournalDir == "" {
		if r.done == nil {
			r.done = map[string]Record{}
		}
		return nil
	}
	j, recs, err := OpenJournal(r.opts.JournalDir, r.opts.Incident)
	if err != nil {
		return err
	}
	r.done = map[string]Record{}
	r.gen = map[string]int{}
	var last *RunDigest
	for _, rec := range recs {
		if rec.Playbook == r.pb.Name && rec.Type == RecordRunStarted {
			if rec.Digest != nil {
				last = rec.Digest
			}
			for _, id := range rec.Replanned {
				delete(r.done, id)
				r.gen[id]++
			}
			continue
		}
		if rec.Playbook == r.pb.Name && rec.Type == RecordStepNote && rec.Note != nil {
			r.keepNote(rec.Step, rec.Note.Key, rec.Note.Value)
			continue
		}
		if rec.Playbook != r.pb.Name || rec.Type != RecordStepFinished {
			continue
		}
		switch Status(rec.Status) {
		case StatusSucceeded, StatusSkipped:
			r.done[rec.Step] = rec
		default:
			delete(r.done, rec.Step)
		}
	}
	if r.digestNow, err = r.digest(); err != nil {
		j.Close()
		return err
	}
	if last != nil {
		if change := compareDigests(last, r.digestNow); change != nil {
			change.Incident, change.Journal = r.opts.Incident, j.Path()
			if !r.opts.Replan {
				j.Close()
				return change
			}
			r.replanned, r.replanWhy = r.affectedSteps(change)
			for _, id := range r.replanned {
				delete(r.done, id)
				r.gen[id]++
			}
			r.logger.Warn("the playbook or its inputs changed since the journal's last run; re-planning the steps the change affects",
				"change", change.Error(), "replanned", r.replanned)
		}
	}
	r.journal = j
	return nil
}

func (r *Runner) keepNote(step, key string, value json.RawMessage) {
	if r.notes == nil {
		r.notes = map[string]map[string]json.RawMessage{}
	}
	if r.notes[step] == nil {
		r.notes[step] = map[string]json.RawMessage{}
	}
	r.notes[step][key] = value
}

// stepNotes is a copy of the notes kept for a step.
func (r *Runner) stepNotes(step string) map[string]json.RawMessage {
	if len(r.notes[step]) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(r.notes[step]))
	for k, v := range r.notes[step] {
		out[k] = v
	}
	return out
}

func (r *Runner) newScope() (*scope, error) {
	sc := &scope{incident: r.opts.Incident, playbook: r.pb.Name, outputs: map[string]any{}}
	if r.opts.Inputs != nil {
		b, err := json.Marshal(r.opts.Inputs)
		if err != nil {
			return nil, fmt.Errorf("playbook: inputs: %w", err)
		}
		v, err := decodeJSON(b)
		if err != nil {
			return nil, fmt.Errorf("playbook: inputs: %w", err)
		}
		sc.inputs, _ = v.(map[string]any)
	}
	return sc, nil
}

func (r *Runner) addOutput(sc *scope, step string, out json.RawMessage) error {
	if len(out) == 0 {
		sc.outputs[step] = nil
		return nil
	}
	v, err := decodeJSON(out)
	if err != nil {
		return fmt.Errorf("output of step %s: %w", step, err)
	}
	sc.outputs[step] = v
	return nil
}

// waitsFor lists, in playbook order, the steps whose outputs a step's input
// or condition refers to and that are not known yet.
func (r *Runner) waitsFor(s Step, sc *scope) []string {
	missing := map[string]bool{}
	forEachRef(s, func(rf ref) {
		if rf.root == "steps" {
			if _, ok := sc.outputs[rf.step]; !ok {
				missing[rf.step] = true
			}
		}
	})
	var out []string
	for _, st := range r.pb.Steps {
		if missing[st.ID] {
			out = append(out, st.ID)
		}
	}
	return out
}

func (r *Runner) stepError(s Step, err error) error {
	return &StepError{Playbook: r.pb.Name, Step: s.ID, Plugin: s.Plugin, Err: err}
}

func (r *Runner) resolveInput(s Step, sc *scope) (json.RawMessage, error) {
	if s.Input == nil {
		return json.RawMessage("{}"), nil
	}
	v, err := sc.resolve(s.Input)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Plan starts the plugins, checks every step's action exists, and asks each
// step whose input is known for its plan. It changes nothing.
func (r *Runner) Plan(ctx context.Context) (*Plan, error) {
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	if err := r.openJournal(); err != nil {
		return nil, err
	}
	sc, err := r.newScope()
	if err != nil {
		return nil, err
	}
	plan := &Plan{Playbook: r.pb.Name, Incident: r.opts.Incident}
	producers := make(map[string]Step, len(r.pb.Steps)) // step id → step, for checkOutputRefs
	for _, st := range r.pb.Steps {
		producers[st.ID] = st
	}
	for i, s := range r.pb.Steps {
		p, err := r.host.Plugin(s.Plugin)
		if err != nil {
			return nil, r.stepError(s, err)
		}
		if _, ok := p.Action(s.Action); !ok {
			return nil, r.stepError(s, r.validationError(fmt.Sprintf("steps[%d].action", i), p.unknownAction(s.Action)))
		}
		sp := StepPlan{Step: s.ID, Plugin: s.Plugin, Action: s.Action,
			IdempotencyToken: r.stepToken(s.ID)}
		if err := r.checkInput(i, s, p); err != nil {
			return nil, r.stepError(s, err)
		}
		if err := r.checkOutputRefs(i, s, producers); err != nil {
			return nil, r.stepError(s, err)
		}
		if err := checkInputRefs(s, sc); err != nil {
			return nil, r.stepError(s, err)
		}
		if rec, ok := r.done[s.ID]; ok {
			sp.Status = PlanDone
			sp.Reason = fmt.Sprintf("%s by an earlier run (%s)", rec.Status, rec.Time.Format(time.RFC3339))
			if err := r.addOutput(sc, s.ID, rec.Output); err != nil {
				return nil, r.stepError(s, err)
			}
			plan.Steps = append(plan.Steps, sp)
			continue
		}
		if waits := r.waitsFor(s, sc); len(waits) > 0 {
			sp.Status = PlanDeferred
			sp.Reason = fmt.Sprintf("needs the output of %s: planned, and asked for approval, once known", strings.Join(waits, ", "))
			plan.Steps = append(plan.Steps, sp)
			continue
		}
		if s.If != "" {
			c, _ := parseCondition(s.If)
			if !sc.eval(c) {
				sp.Status = PlanSkip
				sp.Reason = "condition false: " + s.If
				plan.Steps = append(plan.Steps, sp)
				continue
			}
		}
		in, err := r.resolveInput(s, sc)
		if err != nil {
			return nil, r.stepError(s, err)
		}
		sp.Input = redactInput(p, s.Action, in)
		resp, err := p.Plan(ctx, Call{Action: s.Action, Input: in, Incident: r.opts.Incident,
			Playbook: r.pb.Name, Step: s.ID, IdempotencyToken: sp.IdempotencyToken, Attempt: 1})
		if err != nil {
			return nil, r.stepError(s, err)
		}
		sp.Status = PlanPlanned
		sp.Summary = resp.Summary
		sp.Changes = resp.Changes
		if raw, ok := resp.Payload.(json.RawMessage); ok {
			sp.Payload = raw
		}
		plan.Steps = append(plan.Steps, sp)
	}
	// Whatever its status, a step re-planned after a change says so and
	// why: the operator sees which completed steps run again.
	for i := range plan.Steps {
		if why, ok := r.replanWhy[plan.Steps[i].Step]; ok {
			if plan.Steps[i].Reason != "" {
				plan.Steps[i].Reason += "; "
			}
			plan.Steps[i].Reason += "re-planned: " + why
		}
	}
	return plan, nil
}

// checkInput checks a step's literal input against the input schema its
// plugin described (field names, types, required fields, enums; a value
// holding a reference is checked once resolved), so that a mistake in a late
// step's input stops the plan before any step has changed anything, with
// the file, line and field path of each misfit.
func (r *Runner) checkInput(i int, s Step, p *Plugin) error {
	schema := p.inSchema[s.Action]
	if schema == nil {
		return nil
	}
	var doc any = map[string]any{}
	if s.Input != nil {
		b, err := json.Marshal(s.Input)
		if err != nil {
			return r.validationError(fmt.Sprintf("steps[%d].input", i), fmt.Errorf("%w: %v", plugin.ErrInvalidInput, err))
		}
		if doc, err = decodeJSON(b); err != nil {
			return r.validationError(fmt.Sprintf("steps[%d].input", i), fmt.Errorf("%w: %v", plugin.ErrInvalidInput, err))
		}
	}
	hasRef := func(v any) bool {
		str, ok := v.(string)
		if !ok {
			return false
		}
		refs, _ := templateRefs(str)
		return len(refs) > 0
	}
	var errs []error
	for _, fe := range schema.Validate(doc, hasRef) {
		field := fmt.Sprintf("steps[%d].input", i)
		if fe.Path != "" {
			field += "." + fe.Path
		}
		errs = append(errs, r.validationError(field, fmt.Errorf("%w: %s.%s input %s", plugin.ErrInvalidInput, s.Plugin, s.Action, fe)))
	}
	return errors.Join(errs...)
}

// ErrBadReference: a reference to a step's output names something the
// producing action's output schema says it does not have.
var ErrBadReference = errors.New("playbook: reference to an output the step does not have")

// checkOutputRefs checks every steps.X reference in a step's input and
// condition against the output schema of step X's action (producers maps
// the playbook's step ids to their steps), before any step runs: a
// misspelt field fails the plan, with file, line and field.
func (r *Runner) checkOutputRefs(i int, s Step, producers map[string]Step) error {
	var errs []error
	check := func(field string, rf ref) {
		if rf.root != "steps" {
			return
		}
		prod, ok := producers[rf.step]
		if !ok {
			return // Validate already refuses unknown steps
		}
		p, err := r.host.Plugin(prod.Plugin)
		if err != nil {
			return
		}
		if err := p.outSchema[prod.Action].Lookup(rf.path); err != nil {
			errs = append(errs, r.validationError(field, fmt.Errorf("%w: %s: %s.%s output: %v", ErrBadReference, rf.text, prod.Plugin, prod.Action, err)))
		}
	}
	if s.If != "" {
		if c, err := parseCondition(s.If); err == nil {
			for _, rf := range c.refs() {
				check(fmt.Sprintf("steps[%d].if", i), rf)
			}
		}
	}
	walkStrings(s.Input, fmt.Sprintf("steps[%d].input", i), func(field, str string) {
		refs, _ := templateRefs(str)
		for _, rf := range refs {
			check(field, rf)
		}
	})
	return errors.Join(errs...)
}

// redactInput is a step's resolved input as plans and the journal show it:
// the values of fields the action's input schema marks secret replaced.
// (Apply resolves the input again; nothing reads it back from there.)
func redactInput(p *Plugin, action string, in json.RawMessage) json.RawMessage {
	schema := p.inSchema[action]
	if schema == nil || len(in) == 0 || schemaSecretFree(schema) {
		return in
	}
	doc, err := decodeJSON(in)
	if err != nil || !schema.Redact(doc) {
		return in
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return in
	}
	return b
}

// validationError locates an error at a field of the playbook.
func (r *Runner) validationError(field string, err error) *ValidationError {
	ve := &ValidationError{File: r.pb.file, Field: field, Err: err}
	if r.pb.pos != nil {
		ve.Line, ve.Column = r.pb.pos(field)
	}
	return ve
}

// checkInputRefs resolves a step's references to the playbook's inputs, so
// that a missing input stops the plan, not the run halfway.
func checkInputRefs(s Step, sc *scope) error {
	var first error
	walkStrings(s.Input, "", func(_, str string) {
		refs, _ := templateRefs(str)
		for _, r := range refs {
			if r.root != "inputs" || first != nil {
				continue
			}
			if _, err := sc.lookup(r); err != nil {
				first = fmt.Errorf("%w (Options.Inputs)", err)
			}
		}
	})
	return first
}

// Run plans, asks Options.Approve, and applies.
func (r *Runner) Run(ctx context.Context) (*Run, error) {
	plan, err := r.Plan(ctx)
	if err != nil {
		return nil, err
	}
	if r.opts.Approve == nil {
		return nil, fmt.Errorf("%w: no approver (dry run)", ErrNotApproved)
	}
	ok, err := r.opts.Approve(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotApproved, err)
	}
	if !ok {
		return nil, ErrNotApproved
	}
	return r.Apply(ctx, plan)
}

func (r *Runner) emit(e Event) {
	e.Time = time.Now()
	e.Playbook = r.pb.Name
	e.Incident = r.opts.Incident
	lvl := slog.LevelInfo
	switch {
	case e.Kind == EventStepProgress:
		lvl = slog.LevelDebug
	case e.Status == StatusFailed:
		lvl = slog.LevelError
	}
	if r.logger.Enabled(context.Background(), lvl) {
		attrs := []any{"event", string(e.Kind)}
		if e.Step != "" {
			attrs = append(attrs, "step", e.Step, "plugin", e.Plugin, "action", e.Action)
		}
		if e.Attempt > 0 {
			attrs = append(attrs, "attempt", e.Attempt)
		}
		if e.Status != "" {
			attrs = append(attrs, "status", string(e.Status))
		}
		if e.Duration > 0 {
			attrs = append(attrs, "duration", e.Duration)
		}
		if e.Error != "" {
			attrs = append(attrs, "error", e.Error)
		}
		msg := string(e.Kind)
		if e.Message != "" {
			msg += ": " + e.Message
		}
		r.logger.Log(context.Background(), lvl, msg, attrs...)
	}
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

func (r *Runner) journalAppend(rec Record, sync bool) error {
	if r.journal == nil {
		return nil
	}
	rec.Time = time.Now().UTC()
	rec.Playbook = r.pb.Name
	rec.Incident = r.opts.Incident
	return r.journal.Append(rec, sync)
}

// retryable reports whether a failed attempt is worth another.
func retryable(err error) bool {
	return !errors.Is(err, plugin.ErrUnknownAction) && !errors.Is(err, plugin.ErrInvalidInput) && !errors.Is(err, plugin.ErrPlanChanged) &&
		!errors.Is(err, ErrUnresolved) && !errors.Is(err, context.Canceled)
}

// Apply runs a plan made by this runner's Plan. Steps the journal shows
// done are not run again; each step's start is synced to the journal before
// its plugin is called, and its end before the next step starts (with that
// next step's start record, or the run's end: one fdatasync per step). A failed step stops the run with a *StepError; a
// cancelled ctx stops it after the running step's plugin call returns.
func (r *Runner) Apply(ctx context.Context, plan *Plan) (*Run, error) {
	if plan == nil || plan.Playbook != r.pb.Name || plan.Incident != r.opts.Incident || len(plan.Steps) != len(r.pb.Steps) {
		return nil, errors.New("playbook: Apply needs a plan from this runner's Plan")
	}
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	if err := r.openJournal(); err != nil {
		return nil, err
	}
	sc, err := r.newScope()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	run := &Run{Playbook: r.pb.Name, Incident: r.opts.Incident, HostPID: os.Getpid(), Status: StatusSucceeded}
	if r.journal != nil {
		run.Journal = r.journal.Path()
	}
	finish := func(err error) (*Run, error) {
		run.Duration = time.Since(start)
		rec := Record{Type: RecordRunFinished, Status: string(run.Status), Duration: run.Duration, RunnerPID: os.Getpid()}
		if err != nil {
			rec.Error = &RecordError{Code: plugin.ErrorCode(err), Message: err.Error()}
		}
		if jerr := r.journalAppend(rec, true); jerr != nil && err == nil {
			err = jerr
		}
		ev := Event{Kind: EventRunFinished, Status: run.Status, Duration: run.Duration}
		if err != nil {
			ev.Error = err.Error()
		}
		r.emit(ev)
		return run, err
	}
	if err := r.journalAppend(Record{Type: RecordRunStarted, RunnerPID: os.Getpid(), Digest: r.digestNow, Replanned: r.replanned}, false); err != nil {
		return nil, err
	}
	r.replanned = nil // journaled: a later run reads it from there
	// The approved plan is kept by the runner, not by the plugins: it is on
	// stable storage before any step runs, and each planned step's Apply
	// gets its part back (ApplyRequest.Approved), through plugin restarts.
	if err := r.journalAppend(Record{Type: RecordPlanApproved, Plan: plan, RunnerPID: os.Getpid()}, true); err != nil {
		return nil, err
	}
	r.emit(Event{Kind: EventRunStarted, Journal: run.Journal})

	for i, s := range r.pb.Steps {
		sp := plan.Steps[i]
		if sp.Step != s.ID {
			return nil, errors.New("playbook: plan does not match the playbook")
		}
		p, err := r.host.Plugin(s.Plugin)
		if err != nil {
			run.Status = StatusFailed
			return finish(r.stepError(s, err))
		}
		res := StepResult{ID: s.ID, Plugin: s.Plugin, Action: s.Action, PluginPID: p.PID(),
			IdempotencyToken: r.stepToken(s.ID)}

		if rec, ok := r.done[s.ID]; ok {
			res.Status = Status(rec.Status)
			res.Resumed = true
			res.Output = rec.Output
			res.PluginPID = rec.PluginPID
			res.Transport, res.CommandID = rec.Transport, rec.CommandID
			if err := r.addOutput(sc, s.ID, rec.Output); err != nil {
				run.Status = StatusFailed
				return finish(r.stepError(s, err))
			}
			run.Steps = append(run.Steps, res)
			r.emit(Event{Kind: EventStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
				Status: res.Status, Resumed: true, PluginPID: rec.PluginPID, Message: "completed by an earlier run; not run again"})
			continue
		}
		if err := ctx.Err(); err != nil {
			run.Status = StatusCanceled
			return finish(r.stepError(s, err))
		}
		if s.If != "" {
			c, _ := parseCondition(s.If)
			if !sc.eval(c) {
				res.Status = StatusSkipped
				sc.outputs[s.ID] = nil
				rec := Record{Type: RecordStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
					Status: string(StatusSkipped), IdempotencyToken: res.IdempotencyToken, Time: time.Now().UTC()}
				// Synced with the next record (see applyStep).
				if err := r.journalAppend(rec, false); err != nil {
					run.Status = StatusFailed
					return finish(r.stepError(s, err))
				}
				r.done[s.ID] = rec
				run.Steps = append(run.Steps, res)
				r.emit(Event{Kind: EventStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
					Status: StatusSkipped, PluginPID: p.PID(), Message: "condition false: " + s.If})
				continue
			}
		}
		if sp.Status != PlanPlanned {
			// Not planned when the plan was approved (its input or
			// condition needed outputs of earlier steps): planned now, and
			// approved on its own before it acts.
			if sp, p, err = r.planDuringApply(ctx, s, p, sc, &res); err != nil {
				run.Steps = append(run.Steps, res)
				run.Status = res.Status
				return finish(r.stepError(s, err))
			}
		}
		approved := &plugin.ApprovedPlan{Summary: sp.Summary, Changes: sp.Changes, Payload: sp.Payload}
		out, err := r.applyStep(ctx, s, p, sc, approved, &res)
		run.Steps = append(run.Steps, res)
		if err != nil {
			run.Status = StatusFailed
			if ctx.Err() != nil {
				run.Status = StatusCanceled
			}
			return finish(r.stepError(s, err))
		}
		if err := r.addOutput(sc, s.ID, out); err != nil {
			run.Status = StatusFailed
			return finish(r.stepError(s, err))
		}
	}
	return finish(nil)
}

// planDuringApply plans a step Apply reached without a plan approved for
// it, reports the plan (EventStepPlanned), and asks for its approval
// (approveStep). The plan is journaled (step_approved) once approved, made
// durable with the step's start; a refusal is journaled as the step's end
// (StatusNotApproved), and a later run plans and asks again.
func (r *Runner) planDuringApply(ctx context.Context, s Step, p *Plugin, sc *scope, res *StepResult) (StepPlan, *Plugin, error) {
	sp := StepPlan{Step: s.ID, Plugin: s.Plugin, Action: s.Action, IdempotencyToken: res.IdempotencyToken}
	fail := func(status Status, err error) (StepPlan, *Plugin, error) {
		if status == StatusFailed && ctx.Err() != nil {
			status = StatusCanceled
		}
		res.Status = status
		res.Error = err.Error()
		if jerr := r.journalAppend(Record{Type: RecordStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
			Status: string(status), IdempotencyToken: res.IdempotencyToken, RunnerPID: os.Getpid(),
			Error: &RecordError{Code: plugin.ErrorCode(err), Message: err.Error()}}, true); jerr != nil {
			r.logger.Error("journal", "error", jerr)
		}
		r.emit(Event{Kind: EventStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Status: status, Error: err.Error()})
		return sp, p, err
	}
	// Planning and, above all, a person's approval can take long: the end
	// of the previous step is made durable first, not left waiting for
	// the next synced record.
	if r.journal != nil {
		if err := r.journal.Sync(); err != nil {
			return fail(StatusFailed, err)
		}
	}
	in, err := r.resolveInput(s, sc)
	if err != nil {
		return fail(StatusFailed, err)
	}
	if p.Exited() {
		// The plugin died since it last served (a crash in the previous
		// step's action): start it again to plan.
		np, err := r.host.Restart(ctx, s.Plugin)
		if err != nil {
			return fail(StatusFailed, err)
		}
		p = np
		res.PluginPID = p.PID()
	}
	sp.Input = redactInput(p, s.Action, in)
	resp, err := p.Plan(ctx, Call{Action: s.Action, Input: in, Incident: r.opts.Incident,
		Playbook: r.pb.Name, Step: s.ID, IdempotencyToken: res.IdempotencyToken, Attempt: 1})
	if err != nil {
		return fail(StatusFailed, err)
	}
	sp.Status = PlanPlanned
	sp.Summary = resp.Summary
	sp.Changes = resp.Changes
	if raw, ok := resp.Payload.(json.RawMessage); ok {
		sp.Payload = raw
	}
	sp.Reason = "planned during the run, once the outputs of earlier steps it needs were known"
	shown := sp
	r.emit(Event{Kind: EventStepPlanned, Step: s.ID, Plugin: s.Plugin, Action: s.Action, PluginPID: p.PID(), Plan: &shown})
	ok, err := r.approveStep(ctx, sp)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return fail(StatusCanceled, fmt.Errorf("%w: step %s: %w", ErrNotApproved, s.ID, err))
		}
		return fail(StatusNotApproved, fmt.Errorf("%w: step %s: %w", ErrNotApproved, s.ID, err))
	case !ok:
		return fail(StatusNotApproved, fmt.Errorf("%w: step %s: its plan was refused", ErrNotApproved, s.ID))
	}
	// Made durable with the step's start record, before its plugin acts.
	if err := r.journalAppend(Record{Type: RecordStepApproved, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
		IdempotencyToken: res.IdempotencyToken, RunnerPID: os.Getpid(), PluginPID: p.PID(),
		Plan: &Plan{Playbook: r.pb.Name, Incident: r.opts.Incident, Steps: []StepPlan{sp}}}, false); err != nil {
		return fail(StatusFailed, err)
	}
	return sp, p, nil
}

// approveStep asks Options.ApproveStep, else Options.Approve with a plan of
// that one step, to approve a step planned during the run.
func (r *Runner) approveStep(ctx context.Context, sp StepPlan) (bool, error) {
	switch {
	case r.opts.ApproveStep != nil:
		return r.opts.ApproveStep(ctx, &sp)
	case r.opts.Approve != nil:
		return r.opts.Approve(ctx, &Plan{Playbook: r.pb.Name, Incident: r.opts.Incident, Steps: []StepPlan{sp}})
	default:
		return false, errors.New("no approver for a step planned during the run (Options.ApproveStep or Approve; AutoApprove for -yes)")
	}
}

// applyStep runs one step with its retries, journaling its start and its
// (synced) end.
func (r *Runner) applyStep(ctx context.Context, s Step, p *Plugin, sc *scope, approved *plugin.ApprovedPlan, res *StepResult) (json.RawMessage, error) {
	stepStart := time.Now()
	in, err := r.resolveInput(s, sc)
	if err != nil {
		res.Status = StatusFailed
		res.Error = err.Error()
		_ = r.journalAppend(Record{Type: RecordStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
			Status: string(StatusFailed), IdempotencyToken: res.IdempotencyToken,
			Error: &RecordError{Code: plugin.ErrorCode(err), Message: err.Error()}}, true)
		r.emit(Event{Kind: EventStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Status: StatusFailed, Error: err.Error()})
		return nil, err
	}
	attempts := max(s.Retry.Attempts, 1)
	backoff := s.Retry.Backoff
	var out json.RawMessage
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		var remote *plugin.RemoteError
		if attempt > 1 && (p.Exited() || (!errors.As(err, &remote) && !errors.Is(err, context.DeadlineExceeded) && p.exitedWithin(ctx, time.Second))) {
			// The plugin process died (crashed, was killed): start it
			// again for the retry, which keeps the idempotency token.
			np, rerr := r.host.Restart(ctx, s.Plugin)
			if rerr != nil {
				err = errors.Join(err, rerr)
				break
			}
			p = np
			res.PluginPID = p.PID()
		}
		// The start record is written here and made durable by ready,
		// which applyAfter calls once the call's stream is open and before
		// it sends the call: the plugin gets nothing of the call before
		// its start (and the previous step's end) is on stable storage.
		if err := r.journalAppend(Record{Type: RecordStepStarted, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
			Attempt: attempt, IdempotencyToken: res.IdempotencyToken, Input: redactInput(p, s.Action, in), RunnerPID: os.Getpid(), PluginPID: p.PID()}, false); err != nil {
			return nil, err
		}
		wctx, where := withWhere(ctx)
		actx, cancel := wctx, context.CancelFunc(func() {})
		t0 := time.Now()
		var syncErr error
		ready := func() (context.Context, error) {
			if r.journal != nil {
				if syncErr = r.journal.Sync(); syncErr != nil {
					return nil, syncErr
				}
			}
			r.emit(Event{Kind: EventStepStarted, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Attempt: attempt, PluginPID: p.PID()})
			// The attempt's time (Step.Timeout, progress durations) runs
			// from here: the journal's sync is not the action's.
			t0 = time.Now()
			if s.Timeout > 0 {
				actx, cancel = context.WithTimeout(wctx, s.Timeout)
			}
			return actx, nil
		}
		out, err = p.applyAfter(wctx, Call{Action: s.Action, Input: in, Incident: r.opts.Incident, Playbook: r.pb.Name,
			Step: s.ID, IdempotencyToken: res.IdempotencyToken, Attempt: attempt, Approved: approved,
			Notes: r.stepNotes(s.ID),
			OnNote: func(key string, value json.RawMessage) error {
				if err := r.journalAppend(Record{Type: RecordStepNote, Step: s.ID, Plugin: s.Plugin, Action: s.Action,
					Attempt: attempt, IdempotencyToken: res.IdempotencyToken, Note: &RecordNote{Key: key, Value: value},
					RunnerPID: os.Getpid(), PluginPID: p.PID()}, true); err != nil {
					return err
				}
				r.keepNote(s.ID, key, value)
				r.emit(Event{Kind: EventStepNote, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Attempt: attempt,
					PluginPID: p.PID(), Message: key})
				return nil
			}}, func(pr Progress) {
			r.emit(Event{Kind: EventStepProgress, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Attempt: attempt,
				PluginPID: p.PID(), Message: pr.Message, Done: pr.Done, Total: pr.Total, Duration: time.Since(t0)})
		}, ready)
		cancel()
		if syncErr != nil {
			// The start is not durable: the plugin was not called.
			return nil, syncErr
		}
		res.Transport, res.CommandID = stepWhere(where)
		if err == nil {
			break
		}
		if actx.Err() != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("attempt %d timed out after %v: %w", attempt, s.Timeout, errors.Join(context.DeadlineExceeded, err))
		}
		if attempt >= attempts || !retryable(err) || ctx.Err() != nil {
			break
		}
		r.logger.Warn("step attempt failed; retrying", "step", s.ID, "attempt", attempt, "error", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
	}
	res.Duration = time.Since(stepStart)
	rec := Record{Type: RecordStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Attempt: res.Attempts,
		IdempotencyToken: res.IdempotencyToken, Duration: res.Duration, RunnerPID: os.Getpid(), PluginPID: p.PID(),
		Transport: res.Transport, CommandID: res.CommandID}
	ev := Event{Kind: EventStepFinished, Step: s.ID, Plugin: s.Plugin, Action: s.Action, Attempt: res.Attempts,
		PluginPID: p.PID(), Duration: res.Duration}
	if err != nil {
		res.Status = StatusFailed
		if ctx.Err() != nil {
			res.Status = StatusCanceled
		}
		res.Error = err.Error()
		rec.Status, ev.Status = string(res.Status), res.Status
		rec.Error = &RecordError{Code: plugin.ErrorCode(err), Message: err.Error()}
		ev.Error = err.Error()
		if jerr := r.journalAppend(rec, true); jerr != nil {
			r.logger.Error("journal", "error", jerr)
		}
		r.emit(ev)
		return nil, err
	}
	res.Status = StatusSucceeded
	res.Output = out
	rec.Status, ev.Status = string(StatusSucceeded), StatusSucceeded
	rec.Output = out
	rec.Time = time.Now().UTC()
	// Not synced on its own: the next record Apply writes is synced before
	// anything else happens outside the runner (the next step's start,
	// before its plugin is called, or the run's end), and one fdatasync
	// makes both durable, at one sync per step instead of two.
	if err := r.journalAppend(rec, false); err != nil {
		res.Status = StatusFailed
		return nil, err
	}
	r.done[s.ID] = rec
	r.emit(ev)
	return out, nil
}
