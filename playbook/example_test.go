package playbook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// A playbook read from YAML; a mistake names file, line and field.
func ExampleParse() {
	_, err := playbook.Parse("respond.yaml", []byte(`name: respond
steps:
  - id: detect
    plugin: scan
    action: detect
  - id: stop
    plugin: scan
    action: stop
    input:
      pid: ${{ steps.detcet.suspects[0].pid }}
`))
	fmt.Println(err)
	// Output:
	// playbook: respond.yaml:10:12: steps[1].input.pid: invalid playbook: steps.detcet.suspects[0].pid refers to step "detcet", which is not an earlier step
}

// A playbook built in Go, run with the test binary's built-in "util"
// plugin re-executed out of process. The greet step needs detect's output:
// deferred in the plan, it is planned once detect has run and approved
// again, on its own, before it acts.
func ExampleRunner() {
	pb, err := playbook.New("hello",
		playbook.Step{ID: "detect", Plugin: "util", Action: "suspects"},
		playbook.Step{ID: "greet", Plugin: "util", Action: "greet",
			If:    "steps.detect.suspects",
			Input: map[string]any{"name": "pid " + playbook.Ref("steps.detect.suspects[0].pid")}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident: "case-example",
		Plugins:  []playbook.PluginSpec{playbook.Builtin("util")},
		Approve: func(_ context.Context, plan *playbook.Plan) (bool, error) {
			for _, s := range plan.Steps {
				fmt.Println(strings.TrimSpace(fmt.Sprintln("plan:", s.Step, s.Status, s.Summary)))
			}
			return true, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	run, err := r.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range run.Steps {
		fmt.Println(s.ID, s.Status, string(s.Output)[:min(len(s.Output), 28)])
	}
	// Output:
	// plan: detect planned run suspects
	// plan: greet deferred
	// plan: greet planned greet pid 4242
	// detect succeeded {"suspects":[{"exe":"/tmp/.x
	// greet succeeded {"message":"hello, pid 4242"
}

// A failed step stops the run with a *StepError; the plugin's error keeps
// its identity on the host.
func ExampleStepError() {
	pb, _ := playbook.New("failing", playbook.Step{ID: "bad", Plugin: "util", Action: "fail", Input: map[string]any{"why": "demo"}})
	r, _ := playbook.NewRunner(pb, playbook.Options{
		Incident: "case-example-2",
		Plugins:  []playbook.PluginSpec{playbook.Builtin("util")},
		Approve:  playbook.AutoApprove,
	})
	defer r.Close()
	_, err := r.Run(context.Background())
	var se *playbook.StepError
	var re *plugin.RemoteError
	fmt.Println(errors.As(err, &se), se.Step, se.Plugin)
	fmt.Println(errors.Is(err, errBoom), errors.As(err, &re), re.Code)
	// Output:
	// true bad util
	// true true playbooktest.boom
}
