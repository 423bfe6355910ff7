package wire

import (
	"context"
	"encoding/json"
	"log/slog"
)

// Local runs actions in-process, without RPC. Package plugin sets it (its
// action type is unexported); package plugintest uses it. action is a
// plugin.Action, call a plugin.Call, and Plan returns a plugin.PlanResponse.
var Local struct {
	Plan  func(ctx context.Context, action, call any, input []byte, logger *slog.Logger) (any, error)
	Apply func(ctx context.Context, action, call any, input []byte, logger *slog.Logger, progress func(msg string, done, total int64), extra LocalApply) ([]byte, error)
}

// LocalApply is what an in-process Apply gets besides its input: the
// approved plan (a *plugin.ApprovedPlan or nil), the notes of earlier
// attempts, and where the notes it keeps go (nil: not kept).
type LocalApply struct {
	Approved any
	Notes    map[string]json.RawMessage
	Note     func(key string, value json.RawMessage) error
}
