// Command greeter is a third-party abusekit plugin: its own main package,
// built as its own binary, importing only the plugin SDK. The host in the
// parent directory builds it, pins its SHA-256 and runs it out of process.
//
// It offers two actions: "greet" says hello to someone, and "shout"
// repeats a text in capitals, reporting progress word by word.
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/abusekit/abusekit/playbook/plugin"
)

// ErrEmptyName is returned by greet for an empty name. Registered under a
// well-known code, it keeps its identity on the host (errors.Is works there
// if the host registers it too, e.g. by importing the package that defines
// it).
var ErrEmptyName = errors.New("greeter: empty name")

func init() { plugin.RegisterError("greeter.empty_name", ErrEmptyName) }

// GreetInput is the input of greet.
type GreetInput struct {
	Name string `json:"name" schema:"required" description:"who to greet"`
}

// GreetOutput is the output of greet.
type GreetOutput struct {
	Message string `json:"message" description:"the greeting"`
}

type greet struct{}

func (greet) Description() string { return "say hello to someone" }

func (greet) Plan(_ context.Context, req plugin.PlanRequest[GreetInput], resp *plugin.PlanResponse) error {
	if req.Input.Name == "" {
		return ErrEmptyName
	}
	resp.Summary = "greet " + req.Input.Name
	resp.Changes = []plugin.Change{{Kind: plugin.ChangeCreate, Target: "greeting for " + req.Input.Name}}
	return nil
}

func (greet) Apply(_ context.Context, req plugin.ApplyRequest[GreetInput], resp *plugin.ApplyResponse[GreetOutput]) error {
	if req.Input.Name == "" {
		return ErrEmptyName
	}
	req.Logger.Info("greeting", "name", req.Input.Name, "token", req.IdempotencyToken)
	resp.Output.Message = "hello, " + req.Input.Name
	return nil
}

// ShoutInput is the input of shout.
type ShoutInput struct {
	Text string `json:"text" schema:"required" description:"the text to shout"`
}

// ShoutOutput is the output of shout.
type ShoutOutput struct {
	Text  string `json:"text" description:"the text in capitals, with an exclamation mark"`
	Runes int    `json:"runes" description:"its length in characters"`
}

func shoutPlan(_ context.Context, req plugin.PlanRequest[ShoutInput], resp *plugin.PlanResponse) error {
	resp.Summary = fmt.Sprintf("shout %d characters", utf8.RuneCountInString(req.Input.Text))
	return nil
}

func shoutApply(ctx context.Context, req plugin.ApplyRequest[ShoutInput], resp *plugin.ApplyResponse[ShoutOutput]) error {
	words := strings.Fields(req.Input.Text)
	out := make([]string, 0, len(words))
	for i, w := range words {
		if err := ctx.Err(); err != nil {
			return err
		}
		out = append(out, strings.ToUpper(w))
		req.Progress.Report("shouted "+w, int64(i+1), int64(len(words)))
	}
	resp.Output.Text = strings.Join(out, " ") + "!"
	resp.Output.Runes = utf8.RuneCountInString(resp.Output.Text)
	return nil
}

// Version is the plugin's version, as hosts see it (run-playbook -describe)
// and as lock files pin it.
const Version = "1.1.0"

func main() {
	plugin.Serve(plugin.Actions{
		"greet": plugin.Typed[GreetInput, GreetOutput](greet{}),
		"shout": plugin.NewAction("repeat a text in capitals", shoutPlan, shoutApply),
	}, plugin.WithInfo(plugin.Info{Version: Version, Description: "greets people and shouts (the example third-party plugin)"}))
}
