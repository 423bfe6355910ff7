package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

func TestPlanHumanShortensLongChangeLists(t *testing.T) {
	var changes []plugin.Change
	for i := range MaxChangesShown + 3 {
		changes = append(changes, plugin.Change{Kind: plugin.ChangeDelete, Target: fmt.Sprintf("/etc/cron.d/x%d", i)})
	}
	plan := &playbook.Plan{Playbook: "pb", Incident: "case-1", Steps: []playbook.StepPlan{
		{Step: "clean", Plugin: "persist", Action: "clean", Status: playbook.PlanPlanned, Summary: "11 changes", Changes: changes},
		{Step: "stop", Plugin: "scan", Action: "stop", Status: playbook.PlanDeferred, Reason: "depends on detect"},
	}}
	var out bytes.Buffer
	New("x", &out, &out, false).Plan(plan)
	got := out.String()
	for _, s := range []string{
		"plan for pb (incident case-1):\n",
		"  clean  persist.clean: planned: 11 changes\n",
		"delete /etc/cron.d/x7\n",
		"… and 3 more (-plan-out FILE writes the whole plan)\n",
		"  stop   scan.stop: deferred (depends on detect)\n",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("plan lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "x8") {
		t.Errorf("plan shows more than %d changes:\n%s", MaxChangesShown, got)
	}
}

func TestRunHumanClipsLongOutput(t *testing.T) {
	long, _ := json.Marshal(map[string]string{"text": strings.Repeat("é", 200)})
	res := &playbook.Run{Playbook: "pb", Incident: "case-1", Status: playbook.StatusFailed, HostPID: 7, Duration: 1500 * time.Microsecond,
		Steps: []playbook.StepResult{
			{ID: "a", Plugin: "p", Action: "x", Status: playbook.StatusSucceeded, Output: json.RawMessage(`{"ok":true}`)},
			{ID: "b", Plugin: "p", Action: "y", Status: playbook.StatusSucceeded, Output: long, Resumed: true},
			{ID: "c", Plugin: "p", Action: "z", Status: playbook.StatusFailed, Error: "abuse: plain: abuse: bad"},
		}}
	var out bytes.Buffer
	New("x", &out, &out, false).Run(res)
	got := out.String()
	for _, s := range []string{
		"pb: failed in 1.5ms (incident case-1, host pid 7)\n",
		`  a  p.x succeeded {"ok":true}` + "\n",
		fmt.Sprintf("… (%d bytes; -json shows all)\n", len(long)),
		"  c  p.z failed: abuse: plain: bad\n",
		"(by an earlier run)",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("run lacks %q:\n%s", s, got)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if !utf8Valid(line) {
			t.Errorf("line cut inside a character: %q", line)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestEventJSONAndHuman(t *testing.T) {
	e := playbook.Event{Kind: playbook.EventStepFinished, Step: "a", Status: playbook.StatusSkipped, Message: "condition false: x"}
	var js, human bytes.Buffer
	New("x", &js, &js, true).Event(e)
	New("x", &human, &human, false).Event(e)
	var d Doc
	if err := json.Unmarshal(js.Bytes(), &d); err != nil || d.Type != TypeEvent || d.Kind != "step_finished" {
		t.Errorf("JSON event %s (%v)", js.String(), err)
	}
	if human.String() != "– a skipped: condition false: x\n" {
		t.Errorf("human event %q", human.String())
	}
}
