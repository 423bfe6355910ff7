package playbook

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Playbook is a named list of steps. Build one with New or read one with
// Load/Parse; both validate it.
type Playbook struct {
	Name        string
	Description string
	// Inputs declares the playbook's inputs (Options.Inputs), referred to
	// as inputs.<name>. When any are declared, a reference to an undeclared
	// one is a validation error, a required one missing stops NewRunner,
	// and defaults fill in what Options.Inputs leaves out.
	Inputs map[string]Input
	Steps  []Step

	file string     // source file, "" for playbooks built in Go
	pos  positioner // YAML positions, nil for playbooks built in Go
}

// Step is one action of one plugin.
type Step struct {
	// ID names the step; later steps refer to its output as steps.<ID>.
	ID     string
	Plugin string
	Action string
	// Input is the action's input document. A string value "${{ expr }}"
	// is replaced by the value of expr (typed: a number stays a number); a
	// string with ${{ expr }} inside has it replaced by its text. expr is a
	// reference: steps.<id>.<field>[<index>]…, inputs.<name>…, incident, or
	// playbook.
	Input map[string]any
	// If, when not empty, is a condition: the step runs only when it holds,
	// else it is skipped. A condition is a reference (true unless null,
	// false, 0, "", [] or {}; a missing field is null), "!ref", or
	// "a == b" / "a != b" where a and b are references or JSON literals;
	// "c1 && c2" holds when each of them does.
	If string
	// Timeout bounds one attempt (0: no limit but the run's context).
	Timeout time.Duration
	// Retry retries a failed attempt.
	Retry Retry
}

// Input declares one input of a playbook.
type Input struct {
	Description string
	Required    bool
	Default     any // used when the input is not given; nil: none
}

// Retry says how often to retry a step that failed.
type Retry struct {
	// Attempts is the total number of attempts (0 and 1: no retry).
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each
	// further failure.
	Backoff time.Duration
}

// Ref returns the input value that refers to expr: Ref("steps.detect.pid")
// is "${{ steps.detect.pid }}".
func Ref(expr string) string { return "${{ " + expr + " }}" }

// ValidationError says what is wrong with a playbook and where.
type ValidationError struct {
	File   string // "" for playbooks built in Go
	Line   int    // 1-based, 0 when unknown
	Column int
	Field  string // e.g. "steps[2].plugin"
	Err    error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("playbook: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ValidationError) Unwrap() error { return e.Err }

// ErrInvalid is wrapped by every *ValidationError.
var ErrInvalid = errors.New("invalid playbook")

type positioner func(field string) (line, col int)

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	idRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

const maxSteps = 1000

// New builds and validates a playbook.
func New(name string, steps ...Step) (*Playbook, error) {
	p := &Playbook{Name: name, Steps: steps}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate checks the playbook: names, unique step ids, required fields,
// durations, and that every reference names an earlier step. The error joins
// one *ValidationError per problem.
func (p *Playbook) Validate() error {
	var errs []error
	add := func(field string, format string, args ...any) {
		ve := &ValidationError{File: p.file, Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)}
		if p.pos != nil {
			ve.Line, ve.Column = p.pos(field)
		}
		errs = append(errs, ve)
	}
	if !nameRE.MatchString(p.Name) {
		add("name", "%q is not a playbook name (letters, digits, . _ -, starting with a letter or digit)", p.Name)
	}
	if len(p.Steps) == 0 {
		add("steps", "a playbook needs at least one step")
	}
	if len(p.Steps) > maxSteps {
		add("steps", "%d steps is more than the %d allowed", len(p.Steps), maxSteps)
		return errors.Join(errs...)
	}
	for _, name := range sortedKeys(inputNames(p.Inputs)) {
		if !idRE.MatchString(name) {
			add("inputs."+name, "%q is not an input name", name)
		}
		if p.Inputs[name].Required && p.Inputs[name].Default != nil {
			add("inputs."+name, "a required input cannot have a default")
		}
	}
	checkInput := func(field string, r ref) {
		if r.root != "inputs" || len(p.Inputs) == 0 {
			return
		}
		if len(r.path) == 0 {
			return
		}
		if name, ok := r.path[0].(string); ok {
			if _, declared := p.Inputs[name]; !declared {
				add(field, "%s refers to input %q, which the playbook does not declare", r.text, name)
			}
		}
	}
	earlier := map[string]int{}
	for i, s := range p.Steps {
		f := fmt.Sprintf("steps[%d]", i)
		switch {
		case s.ID == "":
			add(f+".id", "required")
		case !idRE.MatchString(s.ID):
			add(f+".id", "%q is not a step id (a letter or _, then letters, digits, _ or -)", s.ID)
		default:
			if j, dup := earlier[s.ID]; dup {
				add(f+".id", "%q is already the id of steps[%d]", s.ID, j)
			}
		}
		if s.Plugin == "" {
			add(f+".plugin", "required")
		} else if !nameRE.MatchString(s.Plugin) {
			add(f+".plugin", "%q is not a plugin name", s.Plugin)
		}
		if s.Action == "" {
			add(f+".action", "required")
		} else if !nameRE.MatchString(s.Action) {
			add(f+".action", "%q is not an action name", s.Action)
		}
		if s.Timeout < 0 {
			add(f+".timeout", "negative")
		}
		if s.Retry.Attempts < 0 || s.Retry.Attempts > 100 {
			add(f+".retry.attempts", "%d is not between 0 and 100", s.Retry.Attempts)
		}
		if s.Retry.Backoff < 0 {
			add(f+".retry.backoff", "negative")
		}
		if s.If != "" {
			c, err := parseCondition(s.If)
			if err != nil {
				add(f+".if", "%v", err)
			} else {
				for _, r := range c.refs() {
					if msg := checkRef(r, earlier, s.ID); msg != "" {
						add(f+".if", "%s", msg)
					}
					checkInput(f+".if", r)
				}
			}
		}
		walkStrings(s.Input, f+".input", func(field, str string) {
			refs, err := templateRefs(str)
			if err != nil {
				add(field, "%v", err)
				return
			}
			for _, r := range refs {
				if msg := checkRef(r, earlier, s.ID); msg != "" {
					add(field, "%s", msg)
				}
				checkInput(field, r)
			}
		})
		if s.ID != "" {
			if _, dup := earlier[s.ID]; !dup {
				earlier[s.ID] = i
			}
		}
	}
	return errors.Join(errs...)
}

func checkRef(r ref, earlier map[string]int, self string) string {
	if r.root != "steps" {
		return ""
	}
	if r.step == self {
		return fmt.Sprintf("%s refers to the step itself", r.text)
	}
	if _, ok := earlier[r.step]; !ok {
		return fmt.Sprintf("%s refers to step %q, which is not an earlier step", r.text, r.step)
	}
	return ""
}

// walkStrings calls f for every string in v (maps, slices), with its field
// path.
func walkStrings(v any, field string, f func(field, s string)) {
	switch x := v.(type) {
	case string:
		f(field, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], field+"."+k, f)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", field, i), f)
		}
	}
}

func inputNames(m map[string]Input) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}
