package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/internal/wire"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// DefaultCall is the Call an action sees when none is given.
var DefaultCall = plugin.Call{
	Action:           "test",
	Incident:         "test-incident",
	Playbook:         "test",
	Step:             "test",
	IdempotencyToken: "test-idempotency-token",
	Attempt:          1,
}

// Invocation is one in-process call of an action. The zero value uses
// DefaultCall and discards logs.
type Invocation struct {
	Call   plugin.Call  // zero: DefaultCall
	Logger *slog.Logger // nil: discard
	// Approved is given to Apply as req.Approved (nil: none).
	Approved *plugin.ApprovedPlan
	// Notes are given to Apply as req.Notes, as if kept by earlier attempts.
	Notes map[string]json.RawMessage
}

func (inv Invocation) prepare(input any) (plugin.Call, []byte, *slog.Logger, error) {
	c := inv.Call
	if c == (plugin.Call{}) {
		c = DefaultCall
	}
	l := inv.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	var in []byte
	if input != nil {
		var err error
		if in, err = json.Marshal(input); err != nil {
			return c, nil, nil, fmt.Errorf("plugintest: marshal input: %w", err)
		}
	}
	return c, in, l, nil
}

// roundTrip gives err the form it has on a host: a *plugin.RemoteError
// carrying the registered code, so tests see what a host would.
func roundTrip(err error) error {
	return wire.Decode(wire.Encode(err))
}

// Plan runs the action's Plan in-process, without RPC. The input goes
// through JSON as it would over the wire, so decoding errors show; an error
// comes back as the host would see it (a *plugin.RemoteError).
func (inv Invocation) Plan(ctx context.Context, a plugin.Action, input any) (plugin.PlanResponse, error) {
	c, in, l, err := inv.prepare(input)
	if err != nil {
		return plugin.PlanResponse{}, err
	}
	resp, err := wire.Local.Plan(ctx, a, c, in, l)
	if err != nil {
		return plugin.PlanResponse{}, roundTrip(err)
	}
	return resp.(plugin.PlanResponse), nil
}

// Applied is what an in-process Apply returned.
type Applied struct {
	Output   json.RawMessage
	Progress []playbook.Progress
	// Notes are the notes the action kept (Progress.Note), in order.
	Notes []Note
}

// Note is one note an action kept.
type Note struct {
	Key   string
	Value json.RawMessage
}

// Apply runs the action's Apply in-process, without RPC, collecting its
// progress reports.
func (inv Invocation) Apply(ctx context.Context, a plugin.Action, input any) (Applied, error) {
	c, in, l, err := inv.prepare(input)
	if err != nil {
		return Applied{}, err
	}
	var res Applied
	var approved any
	if inv.Approved != nil {
		approved = inv.Approved
	}
	out, err := wire.Local.Apply(ctx, a, c, in, l, func(msg string, done, total int64) {
		res.Progress = append(res.Progress, playbook.Progress{Message: msg, Done: done, Total: total})
	}, wire.LocalApply{Approved: approved, Notes: inv.Notes, Note: func(key string, value json.RawMessage) error {
		res.Notes = append(res.Notes, Note{Key: key, Value: value})
		return nil
	}})
	if err != nil {
		return res, roundTrip(err)
	}
	res.Output = out
	return res, nil
}

// Plan runs an action's Plan in-process with the zero Invocation.
func Plan(ctx context.Context, a plugin.Action, input any) (plugin.PlanResponse, error) {
	return Invocation{}.Plan(ctx, a, input)
}

// Apply runs an action's Apply in-process with the zero Invocation and
// decodes its output into Out.
func Apply[Out any](ctx context.Context, a plugin.Action, input any) (Out, error) {
	var out Out
	res, err := Invocation{}.Apply(ctx, a, input)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		return out, fmt.Errorf("plugintest: decode output: %w", err)
	}
	return out, nil
}

// Serve serves actions from the test process over the plugin transport
// (go-plugin gRPC, reattached rather than started), until the test ends. The
// returned spec goes into playbook.Options.Plugins or Host.Start, so a test
// exercises the real RPC path with the debugger and coverage of one process.
func Serve(t testing.TB, name string, actions plugin.Actions) playbook.PluginSpec {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, closed, err := plugin.ServeInProcess(ctx, actions, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatalf("plugintest: serve %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	return playbook.PluginSpec{Name: name, Reattach: rc}
}
