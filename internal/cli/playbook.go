package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// MaxChangesShown is how many changes of one step the human plan lists
// before it says how many more there are and how to see them all.
const MaxChangesShown = 8

// Plan prints a plan: a "plan" document, or the human view, which lists
// every step with its status and at most MaxChangesShown changes each
// (then says how many more and that -plan-out writes them all).
func (o *Output) Plan(plan *playbook.Plan) {
	if o.JSON {
		_ = o.Emit(TypePlan, "plan", plan)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plan for %s (incident %s):\n", plan.Playbook, plan.Incident)
	w := 0
	for _, s := range plan.Steps {
		w = max(w, len(s.Step))
	}
	for _, s := range plan.Steps {
		fmt.Fprintf(&b, "  %-*s  %s.%s: %s", w, s.Step, s.Plugin, s.Action, s.Status)
		if s.Summary != "" {
			fmt.Fprintf(&b, ": %s", s.Summary)
		}
		if s.Reason != "" {
			fmt.Fprintf(&b, " (%s)", s.Reason)
		}
		b.WriteString("\n")
		for i, c := range s.Changes {
			if i == MaxChangesShown {
				fmt.Fprintf(&b, "  %*s    … and %d more (-plan-out FILE writes the whole plan)\n", w, "", len(s.Changes)-i)
				break
			}
			fmt.Fprintf(&b, "  %*s    %s %s", w, "", c.Kind, c.Target)
			if c.Detail != "" {
				fmt.Fprintf(&b, ": %s", c.Detail)
			}
			b.WriteString("\n")
		}
	}
	o.Printf("%s", b.String())
}

// WritePlan writes the whole plan as indented JSON to path (-plan-out).
func WritePlan(path string, plan *playbook.Plan) error {
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("-plan-out: %w", err)
	}
	return nil
}

// Event prints a run's event: an "event" document (kind: the event's
// kind), or a line of the human view.
func (o *Output) Event(e playbook.Event) {
	if o.JSON {
		_ = o.Emit(TypeEvent, string(e.Kind), e)
		return
	}
	switch e.Kind {
	case playbook.EventStepStarted:
		o.Printf("▶ %s (%s.%s, attempt %d, plugin pid %d)\n", e.Step, e.Plugin, e.Action, e.Attempt, e.PluginPID)
	case playbook.EventStepProgress:
		if e.Total > 0 {
			o.Printf("  … %s (%d/%d)\n", e.Message, e.Done, e.Total)
		} else {
			o.Printf("  … %s\n", e.Message)
		}
	case playbook.EventStepNote:
		o.Printf("  ✎ %s: kept note %s\n", e.Step, e.Message)
	case playbook.EventStepFinished:
		line := fmt.Sprintf("%s %s %s", mark(e.Status), e.Step, e.Status)
		if e.Duration > 0 {
			line += " in " + e.Duration.Round(time.Microsecond).String()
		}
		if msg := firstNonEmpty(e.Error, e.Message); msg != "" {
			line += ": " + msg
		}
		o.Printf("%s\n", line)
	}
}

// Run prints a run's outcome: a "result" document of kind "run", or the
// human view (one line per step, with its output).
func (o *Output) Run(res *playbook.Run) {
	if o.JSON {
		_ = o.Emit(TypeResult, "run", res)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s in %v (incident %s, host pid %d)\n", res.Playbook, res.Status, res.Duration.Round(time.Microsecond), res.Incident, res.HostPID)
	w := 0
	for _, s := range res.Steps {
		w = max(w, len(s.ID))
	}
	for _, s := range res.Steps {
		fmt.Fprintf(&b, "  %-*s  %s.%s %s", w, s.ID, s.Plugin, s.Action, s.Status)
		if s.Resumed {
			b.WriteString(" (by an earlier run)")
		}
		if s.Error != "" {
			fmt.Fprintf(&b, ": %s", Dedup(s.Error))
		} else if len(s.Output) > 0 && string(s.Output) != "null" {
			fmt.Fprintf(&b, " %s", clipOutput(s.Output))
		}
		b.WriteString("\n")
	}
	o.Printf("%s", b.String())
}

// MaxOutputShown bounds a step's output in the human view of a run.
const MaxOutputShown = 160

// clipOutput is a step's output as the human view shows it: whole when
// short, else its start and how to see all of it.
func clipOutput(out []byte) string {
	if len(out) <= MaxOutputShown {
		return string(out)
	}
	cut := MaxOutputShown
	for cut > 0 && out[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes; -json shows all)", out[:cut], len(out))
}

func mark(s playbook.Status) string {
	switch s {
	case playbook.StatusSucceeded:
		return "✓"
	case playbook.StatusSkipped:
		return "–"
	default:
		return "✗"
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Ask prompts on stderr and reads a yes/no answer from stdin; anything
// but "y" or "yes" is no, and so is the end of stdin.
func (o *Output) Ask(ctx context.Context, stdin io.Reader, question string) (bool, error) {
	o.mu.Lock()
	fmt.Fprintf(o.Stderr, "%s [y/N] ", question)
	if o.in == nil || o.inSrc != stdin {
		o.in, o.inSrc = bufio.NewReader(stdin), stdin
	}
	in := o.in
	o.mu.Unlock()
	answer := make(chan string, 1)
	go func() {
		line, _ := in.ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		return a == "y" || a == "yes", nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// ErrorCode is the well-known code of a playbook or plugin error, for
// Output.Code.
func ErrorCode(err error) string { return plugin.ErrorCode(err) }

// StateDir is where a runner keeps its state by default, so that any run
// can be resumed: playbook.DefaultStateDir ($ABUSEKIT_STATE_DIR if
// absolute, /var/lib/abusekit as root, else the XDG state directory), or,
// with no home directory to put it in, a directory under the system's
// temporary one. The journal is its journal/.
func StateDir() string {
	if d, err := playbook.DefaultStateDir(); err == nil {
		return d
	}
	return filepath.Join(os.TempDir(), "abusekit-state")
}
