package wire

import (
	"context"
	"log/slog"
)

// Local runs actions in-process, without RPC. Package plugin sets it (its
// action type is unexported); package plugintest uses it. action is a
// plugin.Action, call a plugin.Call, and Plan returns a plugin.PlanResponse.
var Local struct {
	Plan  func(ctx context.Context, action, call any, input []byte, logger *slog.Logger) (any, error)
	Apply func(ctx context.Context, action, call any, input []byte, logger *slog.Logger, progress func(msg string, done, total int64)) ([]byte, error)
}
