package playbook

import (
	"fmt"
	"time"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventRunStarted EventKind = "run_started"
	// EventStepPlanned: a step not planned when the run's plan was
	// approved has been planned now that its inputs are known; Plan holds
	// its plan, which is asked for approval (Options.ApproveStep) before
	// the step acts.
	EventStepPlanned  EventKind = "step_planned"
	EventStepStarted  EventKind = "step_started"
	EventStepProgress EventKind = "step_progress"
	// EventStepNote: the action kept a note (Message is its key), durable
	// in the journal when the runner has one.
	EventStepNote     EventKind = "step_note"
	EventStepFinished EventKind = "step_finished"
	EventRunFinished  EventKind = "run_finished"
)

// Status is the outcome of a step or a run.
type Status string

// Statuses.
const (
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"  // condition false
	StatusCanceled  Status = "canceled" // the run's context ended
	// StatusNotApproved: the plan of a step made during the run was not
	// approved; the run stopped before the step acted.
	StatusNotApproved Status = "not_approved"
)

// Event is one progress report of a run, delivered to Options.OnEvent in
// order, from the goroutine running Apply.
type Event struct {
	Kind      EventKind     `json:"kind"`
	Time      time.Time     `json:"time"`
	Playbook  string        `json:"playbook"`
	Incident  string        `json:"incident"`
	Step      string        `json:"step,omitempty"`
	Plugin    string        `json:"plugin,omitempty"`
	Action    string        `json:"action,omitempty"`
	Attempt   int           `json:"attempt,omitempty"`
	PluginPID int           `json:"plugin_pid,omitempty"`
	Status    Status        `json:"status,omitempty"`  // step_finished, run_finished
	Resumed   bool          `json:"resumed,omitempty"` // step_finished: done by an earlier run, not re-run
	Message   string        `json:"message,omitempty"` // progress text, or why a step was skipped
	Done      int64         `json:"done,omitempty"`    // step_progress
	Total     int64         `json:"total,omitempty"`   // step_progress
	Duration  time.Duration `json:"duration_ns,omitempty"`
	Error     string        `json:"error,omitempty"`
	// Plan is the step's plan (step_planned).
	Plan *StepPlan `json:"plan,omitempty"`
	// Journal is the journal's file (run_started), to resume the run from.
	Journal string `json:"journal,omitempty"`
}

// StepError is how a failed step stops a run. Err keeps the identity of
// the plugin's error: errors.Is(err, persist.ErrSymlinkEscape) holds on the
// host when the sentinel is registered with plugin.RegisterError.
type StepError struct {
	Playbook string
	Step     string
	Plugin   string
	Err      error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("playbook %s: step %s (plugin %s): %v", e.Playbook, e.Step, e.Plugin, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }
