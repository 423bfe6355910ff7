package playbook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RunDigest is what a run was made from, as its journal records it (in
// each run_started record): digests of the playbook's canonical content, of
// each step and of each input's value (values themselves are not kept, so
// a secret input stays out of the journal). A resumed run compares its own
// with the latest in the journal.
type RunDigest struct {
	// Playbook is the SHA-256 of the playbook's canonical content: name,
	// declared inputs (without descriptions) and steps in order.
	Playbook string `json:"playbook"`
	// Order is the steps' ids in order.
	Order []string `json:"order"`
	// Steps maps each step id to the SHA-256 of its canonical content
	// (plugin, action, input, condition, timeout, retry).
	Steps map[string]string `json:"steps"`
	// Inputs maps each input (after defaults) to the SHA-256 of its
	// canonical JSON value.
	Inputs map[string]string `json:"inputs,omitempty"`
}

// ErrResumeChanged is wrapped by a *ResumeError: the journal of the
// incident holds a run of another version of the playbook or of other
// inputs.
var ErrResumeChanged = errors.New("playbook: the playbook or its inputs changed since the journal's last run")

// ResumeError refuses a resume whose playbook or inputs differ from those
// of the journal's last run. It names what changed; Options.Replan re-plans
// the steps the change affects instead.
type ResumeError struct {
	Incident string
	Journal  string
	// Inputs given, removed or changed, sorted.
	Inputs []string
	// Steps changed, added and removed, by id, sorted.
	StepsChanged, StepsAdded, StepsRemoved []string
	// Order: the steps are in another order.
	Order bool
}

func (e *ResumeError) Error() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+": "+strings.Join(names, ", "))
		}
	}
	add("inputs changed", e.Inputs)
	add("steps changed", e.StepsChanged)
	add("steps added", e.StepsAdded)
	add("steps removed", e.StepsRemoved)
	if e.Order {
		parts = append(parts, "steps reordered")
	}
	return fmt.Sprintf("%v: incident %s (journal %s): %s; run with Replan (-replan) to re-plan the steps the change affects, or use another incident",
		ErrResumeChanged, e.Incident, e.Journal, strings.Join(parts, "; "))
}

func (e *ResumeError) Unwrap() error { return ErrResumeChanged }

// digestOf is the hex SHA-256 of v's canonical JSON.
func digestOf(v any) (string, error) {
	b, err := canonical(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalStep is a step's content as it is digested.
func canonicalStep(s Step) map[string]any {
	return map[string]any{
		"plugin": s.Plugin, "action": s.Action, "input": s.Input, "if": s.If,
		"timeout_ns": int64(s.Timeout), "retry_attempts": s.Retry.Attempts, "retry_backoff_ns": int64(s.Retry.Backoff),
	}
}

// digest computes the run's digest from the playbook and the inputs.
func (r *Runner) digest() (*RunDigest, error) {
	d := &RunDigest{Steps: make(map[string]string, len(r.pb.Steps)), Inputs: map[string]string{}}
	var steps []any
	for _, s := range r.pb.Steps {
		cs := canonicalStep(s)
		sum, err := digestOf(cs)
		if err != nil {
			return nil, fmt.Errorf("playbook: digest of step %s: %w", s.ID, err)
		}
		d.Steps[s.ID] = sum
		d.Order = append(d.Order, s.ID)
		cs["id"] = s.ID
		steps = append(steps, cs)
	}
	declared := map[string]any{}
	for name, in := range r.pb.Inputs {
		declared[name] = map[string]any{"required": in.Required, "default": in.Default}
	}
	sum, err := digestOf(map[string]any{"name": r.pb.Name, "inputs": declared, "steps": steps})
	if err != nil {
		return nil, fmt.Errorf("playbook: digest: %w", err)
	}
	d.Playbook = sum
	for name, v := range r.opts.Inputs {
		sum, err := digestOf(v)
		if err != nil {
			return nil, fmt.Errorf("playbook: digest of input %s: %w", name, err)
		}
		d.Inputs[name] = sum
	}
	return d, nil
}

// compareDigests says what changed from old to cur; nil if nothing did.
func compareDigests(old, cur *RunDigest) *ResumeError {
	e := &ResumeError{}
	for name, sum := range cur.Inputs {
		if old.Inputs[name] != sum {
			e.Inputs = append(e.Inputs, name)
		}
	}
	for name := range old.Inputs {
		if _, ok := cur.Inputs[name]; !ok {
			e.Inputs = append(e.Inputs, name)
		}
	}
	for id, sum := range cur.Steps {
		switch was, ok := old.Steps[id]; {
		case !ok:
			e.StepsAdded = append(e.StepsAdded, id)
		case was != sum:
			e.StepsChanged = append(e.StepsChanged, id)
		}
	}
	for id := range old.Steps {
		if _, ok := cur.Steps[id]; !ok {
			e.StepsRemoved = append(e.StepsRemoved, id)
		}
	}
	for _, l := range [][]string{e.Inputs, e.StepsChanged, e.StepsAdded, e.StepsRemoved} {
		slices.Sort(l)
	}
	if old.Playbook != cur.Playbook && len(e.StepsChanged)+len(e.StepsAdded)+len(e.StepsRemoved) == 0 {
		// The same steps: their order, or the declared inputs, changed
		// (a changed default shows as a changed input).
		e.Order = !slices.Equal(old.Order, cur.Order)
		if !e.Order && len(e.Inputs) == 0 {
			e.StepsChanged = []string{"(declared inputs)"}
		}
	}
	if len(e.Inputs)+len(e.StepsChanged)+len(e.StepsAdded)+len(e.StepsRemoved) == 0 && !e.Order {
		return nil
	}
	return e
}

// affectedSteps are the steps a change re-plans, in playbook order, and
// why: each changed or added step, each step whose input or condition
// refers to a changed input, and, transitively, each step referring to the
// output of an affected step.
func (r *Runner) affectedSteps(e *ResumeError) ([]string, map[string]string) {
	inputs := map[string]bool{}
	for _, n := range e.Inputs {
		inputs[n] = true
	}
	why := map[string]string{}
	for _, id := range e.StepsChanged {
		why[id] = "the step changed"
	}
	for _, id := range e.StepsAdded {
		why[id] = "the step is new"
	}
	var out []string
	for _, s := range r.pb.Steps {
		var reasons []string
		if w, ok := why[s.ID]; ok {
			reasons = append(reasons, w)
		}
		seen := map[string]bool{}
		note := func(reason string) {
			if !seen[reason] {
				seen[reason] = true
				reasons = append(reasons, reason)
			}
		}
		forEachRef(s, func(rf ref) {
			switch rf.root {
			case "steps":
				if _, ok := why[rf.step]; ok {
					note("it uses the output of " + rf.step + ", re-planned")
				}
			case "inputs":
				if len(rf.path) == 0 {
					if len(inputs) > 0 {
						note("it uses the inputs, changed")
					}
				} else if name, ok := rf.path[0].(string); ok && inputs[name] {
					note("it uses input " + name + ", changed")
				}
			}
		})
		if len(reasons) > 0 {
			why[s.ID] = strings.Join(reasons, "; ")
			out = append(out, s.ID)
		}
	}
	for id := range why {
		if !slices.Contains(out, id) {
			delete(why, id) // a changed step the playbook no longer has
		}
	}
	return out, why
}

// forEachRef calls f for every reference in a step's condition and input.
func forEachRef(s Step, f func(ref)) {
	if s.If != "" {
		if c, err := parseCondition(s.If); err == nil {
			for _, rf := range c.refs() {
				f(rf)
			}
		}
	}
	walkStrings(s.Input, "", func(_, str string) {
		refs, _ := templateRefs(str)
		for _, rf := range refs {
			f(rf)
		}
	})
}

// stepToken is a step's idempotency token in this run: IdempotencyToken,
// or, for a step re-planned after a change (Options.Replan), one derived
// from it and the number of times it was, so that the changed step does
// not reuse the client tokens of what the earlier version created. It is
// the same in every attempt, retry and resume of one version.
func (r *Runner) stepToken(step string) string {
	t := IdempotencyToken(r.opts.Incident, r.pb.Name, step)
	if g := r.gen[step]; g > 0 {
		t = IdempotencyToken(r.opts.Incident, r.pb.Name, fmt.Sprintf("%s\x00replan-%d", step, g))
	}
	return t
}
