package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/abusekit/abusekit/playbook/internal/wire"
)

func init() {
	wire.Local.Plan = func(ctx context.Context, action, call any, input []byte, logger *slog.Logger) (any, error) {
		a, c, err := localArgs(action, call)
		if err != nil {
			return nil, err
		}
		var resp PlanResponse
		err = guard(logger, c.Action, func() error { return a.plan(ctx, c, input, logger, &resp) })
		return resp, err
	}
	wire.Local.Apply = func(ctx context.Context, action, call any, input []byte, logger *slog.Logger, progress func(string, int64, int64), extra wire.LocalApply) ([]byte, error) {
		a, c, err := localArgs(action, call)
		if err != nil {
			return nil, err
		}
		approved, _ := extra.Approved.(*ApprovedPlan)
		p := Progress{report: progress}
		if extra.Note != nil {
			p.note = func(_ context.Context, key string, value []byte) error { return extra.Note(key, value) }
		}
		var out []byte
		err = guard(logger, c.Action, func() error {
			var err error
			out, err = a.apply(ctx, c, input, logger, p, approved, extra.Notes)
			return err
		})
		return out, err
	}
}

func localArgs(action, call any) (*rawAction, Call, error) {
	a, ok := action.(Action)
	if !ok || a == nil {
		return nil, Call{}, errors.New("plugin: nil action")
	}
	c, ok := call.(Call)
	if !ok {
		return nil, Call{}, fmt.Errorf("plugin: call is %T", call)
	}
	return a.impl(), c, nil
}
