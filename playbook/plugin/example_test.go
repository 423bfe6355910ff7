package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

type GreetInput struct {
	Name string `json:"name"`
}

type GreetOutput struct {
	Message string `json:"message"`
}

var ErrNoName = errors.New("greeter: no name")

func init() { plugin.RegisterError("greeter.no_name", ErrNoName) }

type greet struct{}

func (greet) Plan(_ context.Context, req plugin.PlanRequest[GreetInput], resp *plugin.PlanResponse) error {
	resp.Summary = "greet " + req.Input.Name
	return nil
}

func (greet) Apply(_ context.Context, req plugin.ApplyRequest[GreetInput], resp *plugin.ApplyResponse[GreetOutput]) error {
	if req.Input.Name == "" {
		return ErrNoName
	}
	resp.Output.Message = "hello, " + req.Input.Name
	return nil
}

// An action with plain Go types. A plugin's main would serve it with
// plugin.Serve(plugin.Actions{"greet": greetAction}); here plugintest runs it
// in-process.
func ExampleTyped() {
	greetAction := plugin.Typed[GreetInput, GreetOutput](greet{})

	plan, _ := plugintest.Plan(context.Background(), greetAction, GreetInput{Name: "ops"})
	fmt.Println(plan.Summary)
	out, _ := plugintest.Apply[GreetOutput](context.Background(), greetAction, GreetInput{Name: "ops"})
	fmt.Println(out.Message)
	_, err := plugintest.Apply[GreetOutput](context.Background(), greetAction, GreetInput{})
	fmt.Println(errors.Is(err, ErrNoName), plugin.ErrorCode(err))
	// Output:
	// greet ops
	// hello, ops
	// true greeter.no_name
}

// An action from two functions; the types are inferred from them.
func ExampleNewAction() {
	shout := plugin.NewAction("repeat in capitals", nil,
		func(_ context.Context, req plugin.ApplyRequest[GreetInput], resp *plugin.ApplyResponse[GreetOutput]) error {
			req.Progress.Report("shouting", 1, 1)
			resp.Output.Message = strings.ToUpper("hello, " + req.Input.Name + "!")
			return nil
		})
	out, _ := plugintest.Apply[GreetOutput](context.Background(), shout, GreetInput{Name: "ops"})
	fmt.Println(out.Message)
	// Output: HELLO, OPS!
}

// A host with built-in plugins serves one of them when it was started as
// that plugin; otherwise ServeIfPlugin returns and main goes on. The host
// then names the plugin with playbook.Builtin("greeter").
func ExampleServeIfPlugin() {
	plugin.ServeIfPlugin(map[string]plugin.Actions{
		"greeter": {"greet": plugin.Typed[GreetInput, GreetOutput](greet{})},
	})
	fmt.Println("not started as a plugin: the host's main goes on")
	// Output: not started as a plugin: the host's main goes on
}

// A package registers its sentinel errors once, in an init function that
// both the plugin and the host link, so errors.Is works across processes.
func ExampleRegisterError() {
	errSymlinkEscape := errors.New("persist: symlink escapes the root")
	plugin.RegisterError("example.symlink_escape", errSymlinkEscape)

	err := fmt.Errorf("quarantine /etc/cron.d/x: %w", errSymlinkEscape)
	fmt.Println(plugin.ErrorCode(err))
	// Output: example.symlink_escape
}
