package hclogslog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// MaxLine bounds one stderr line of a plugin; the rest of a longer line is
// dropped.
const MaxLine = 64 << 10

// Line is one parsed stderr line of a plugin.
type Line struct {
	Level   slog.Level
	Message string
	Attrs   []slog.Attr // sorted by key
}

// ParseLine parses one stderr line: an hclog JSON object (@message, @level,
// @timestamp, other keys as attributes), or plain text, whose level comes
// from a "[DEBUG]"-style prefix, else Debug. It never fails: a line is
// whatever it is, however malformed.
func ParseLine(line []byte) Line {
	line = bytes.TrimRight(line, "\r\n")
	if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '{' {
		var m map[string]any
		if json.Unmarshal(t, &m) == nil {
			l := Line{Level: slog.LevelInfo}
			if v, ok := m["@message"]; ok {
				l.Message = stringOf(v)
			}
			if v, ok := m["@level"]; ok {
				l.Level = levelOf(stringOf(v))
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				if k == "@message" || k == "@level" || k == "@timestamp" {
					continue
				}
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				l.Attrs = append(l.Attrs, slog.Any(k, m[k]))
			}
			if v, ok := m["@timestamp"]; ok {
				l.Attrs = append(l.Attrs, slog.String("plugin_time", stringOf(v)))
			}
			return l
		}
	}
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{{"[TRACE]", LevelTrace}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERROR]", slog.LevelError}} {
		if strings.HasPrefix(s, p.prefix) {
			return Line{Level: p.level, Message: strings.TrimSpace(s[len(p.prefix):])}
		}
	}
	return Line{Level: slog.LevelDebug, Message: s}
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func levelOf(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// StderrWriter turns a plugin's raw stderr into slog records: one record
// per line, parsed with ParseLine. After a line starting "panic: " or
// "fatal error: " every plain line is logged at Error, so a plugin's crash
// trace is not lost at Debug.
type StderrWriter struct {
	l *slog.Logger

	mu      sync.Mutex
	buf     []byte
	skip    bool // dropping the rest of an over-long line
	inPanic bool
}

// NewStderrWriter returns a StderrWriter logging to l.
func NewStderrWriter(l *slog.Logger) *StderrWriter {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &StderrWriter{l: l}
}

// Write logs every complete line in p and keeps the rest for later.
func (w *StderrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
			p = p[i+1:]
		} else {
			p = nil
		}
		if !w.skip {
			room := MaxLine - len(w.buf)
			if len(chunk) > room {
				chunk = chunk[:room]
				w.skip = true
			}
			w.buf = append(w.buf, chunk...)
		}
		if i >= 0 {
			w.emit()
		}
	}
	return n, nil
}

// Flush logs a last line that has no newline.
func (w *StderrWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
}

func (w *StderrWriter) emit() {
	line := ParseLine(w.buf)
	truncated := w.skip
	w.buf, w.skip = w.buf[:0], false
	if line.Message == "" && len(line.Attrs) == 0 {
		return
	}
	if line.Attrs == nil {
		if strings.HasPrefix(line.Message, "panic: ") || strings.HasPrefix(line.Message, "fatal error: ") {
			w.inPanic = true
		}
		if w.inPanic {
			line.Level = slog.LevelError
		}
	}
	if truncated {
		line.Attrs = append(line.Attrs, slog.Bool("truncated", true))
	}
	ctx := context.Background()
	if w.l.Enabled(ctx, line.Level) {
		w.l.LogAttrs(ctx, line.Level, line.Message, line.Attrs...)
	}
}
