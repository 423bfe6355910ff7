package hclogslog

import (
	"io"
	"log/slog"
	"time"
)

// TimeLayout is the @timestamp layout go-plugin's host side parses.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// LevelTrace is hclog's Trace level expressed as a slog level.
const LevelTrace = slog.LevelDebug - 4

// NewHandler returns a slog.Handler writing one hclog JSON object per record
// to w. level is the minimum level written (nil: Info).
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if t, ok := a.Value.Any().(time.Time); ok {
					return slog.String("@timestamp", t.Format(TimeLayout))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", levelName(l))
				}
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
