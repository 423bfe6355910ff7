package plugintest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

var errQuota = errors.New("greetertest: quota exceeded")

func init() { plugin.RegisterError("greetertest.quota", errQuota) }

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Message string `json:"message"`
	Token   string `json:"token"`
}

var greet = plugin.NewAction("greets",
	func(_ context.Context, req plugin.PlanRequest[greetIn], resp *plugin.PlanResponse) error {
		resp.Summary = "greet " + req.Input.Name
		return nil
	},
	func(_ context.Context, req plugin.ApplyRequest[greetIn], resp *plugin.ApplyResponse[greetOut]) error {
		if req.Input.Name == "" {
			return fmt.Errorf("nobody to greet: %w", errQuota)
		}
		req.Progress.Report("greeting", 1, 1)
		resp.Output = greetOut{Message: "hello, " + req.Input.Name, Token: req.IdempotencyToken}
		return nil
	})

func TestInProcess(t *testing.T) {
	ctx := context.Background()
	p, err := plugintest.Plan(ctx, greet, greetIn{Name: "ops"})
	if err != nil || p.Summary != "greet ops" {
		t.Fatalf("Plan = %+v, %v", p, err)
	}
	out, err := plugintest.Apply[greetOut](ctx, greet, greetIn{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(greetOut{Message: "hello, ops", Token: "test-idempotency-token"}, out); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	_, err = plugintest.Apply[greetOut](ctx, greet, greetIn{})
	var re *plugin.RemoteError
	if !errors.Is(err, errQuota) || !errors.As(err, &re) || re.Code != "greetertest.quota" {
		t.Errorf("err = %v, want errQuota as a RemoteError", err)
	}
	res, err := plugintest.Invocation{Call: plugin.Call{Action: "greet", IdempotencyToken: "tok"}}.Apply(ctx, greet, map[string]any{"name": "x"})
	if err != nil || string(res.Output) != `{"message":"hello, x","token":"tok"}` || len(res.Progress) != 1 {
		t.Errorf("Invocation.Apply = %s %+v, %v", res.Output, res.Progress, err)
	}
	if _, err := plugintest.Plan(ctx, greet, map[string]any{"unknown": 1}); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestServeOverRealTransport(t *testing.T) {
	spec := plugintest.Serve(t, "greeter", plugin.Actions{"greet": greet})
	pb, err := playbook.New("t",
		playbook.Step{ID: "hi", Plugin: "greeter", Action: "greet", Input: map[string]any{"name": "rpc"}},
		playbook.Step{ID: "fail", Plugin: "greeter", Action: "greet"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "c", Plugins: []playbook.PluginSpec{spec}, Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(context.Background())
	if !errors.Is(err, errQuota) {
		t.Fatalf("err = %v, want errQuota across the transport", err)
	}
	if string(run.Steps[0].Output) != `{"message":"hello, rpc","token":"`+playbook.IdempotencyToken("c", "t", "hi")+`"}` {
		t.Errorf("output = %s", run.Steps[0].Output)
	}
}

// swap notes the group it replaces, unless an earlier attempt did; its plan
// is the swap, refused when the approved one differs.
var swap = plugin.NewAction("swaps a group",
	func(_ context.Context, req plugin.PlanRequest[greetIn], resp *plugin.PlanResponse) error {
		resp.Changes = []plugin.Change{{Kind: plugin.ChangeUpdate, Target: req.Input.Name}}
		return nil
	},
	func(ctx context.Context, req plugin.ApplyRequest[greetIn], resp *plugin.ApplyResponse[greetOut]) error {
		if prev, ok := req.Notes["original"]; ok {
			resp.Output.Message = "restored " + string(prev)
			return nil
		}
		if err := req.Progress.Note(ctx, "original", "sg-orig"); err != nil {
			return err
		}
		resp.Output.Message = "swapped " + req.Input.Name
		return nil
	}, plugin.RefuseChangedPlan())

// TestNotesAndApprovedPlanInProcess: an in-process Apply keeps notes (they
// are returned), gets the notes and approved plan an Invocation gives it,
// and the SDK's approved-plan check runs as it does out of process.
func TestNotesAndApprovedPlanInProcess(t *testing.T) {
	ctx := t.Context()
	res, err := plugintest.Invocation{}.Apply(ctx, swap, greetIn{Name: "sg-q"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]plugintest.Note{{Key: "original", Value: []byte(`"sg-orig"`)}}, res.Notes); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
	res, err = plugintest.Invocation{Notes: map[string]json.RawMessage{"original": []byte(`"sg-orig"`)}}.Apply(ctx, swap, greetIn{Name: "sg-q"})
	if err != nil || !strings.Contains(string(res.Output), "restored") || len(res.Notes) != 0 {
		t.Errorf("with a note from an earlier attempt: %s %v %v", res.Output, res.Notes, err)
	}
	approved := &plugin.ApprovedPlan{Changes: []plugin.Change{{Kind: plugin.ChangeUpdate, Target: "sg-other"}}}
	_, err = plugintest.Invocation{Approved: approved}.Apply(ctx, swap, greetIn{Name: "sg-q"})
	if !errors.Is(err, plugin.ErrPlanChanged) {
		t.Errorf("changed plan: %v, want ErrPlanChanged", err)
	}
}
