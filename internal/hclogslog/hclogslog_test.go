package hclogslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

func TestHandlerWritesHclogJSON(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, LevelTrace))
	l.Debug("froze process", "pid", 42, slog.Group("exe", "path", "/tmp/x"))
	l.Log(t.Context(), LevelTrace, "deep")
	l.Warn("careful")

	var got []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ts, ok := m["@timestamp"].(string)
		if !ok {
			t.Fatalf("no @timestamp in %v", m)
		}
		if _, err := time.Parse(TimeLayout, ts); err != nil {
			t.Errorf("@timestamp %q does not parse with go-plugin's layout: %v", ts, err)
		}
		delete(m, "@timestamp")
		got = append(got, m)
	}
	want := []map[string]any{
		{"@level": "debug", "@message": "froze process", "pid": float64(42), "exe": map[string]any{"path": "/tmp/x"}},
		{"@level": "trace", "@message": "deep"},
		{"@level": "warn", "@message": "careful"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func TestHandlerDefaultLevelIsInfo(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, nil))
	l.Debug("hidden")
	if buf.Len() != 0 {
		t.Errorf("debug record written at default level: %s", buf.Bytes())
	}
}

func TestFromSlog(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	h := FromSlog(sl).Named("greeter").With("id", 7)
	h.Trace("not shown")
	h.Info("hello", "k", "v")
	h.Error("odd", "lonely")
	if !h.IsDebug() || h.IsTrace() {
		t.Errorf("IsDebug=%v IsTrace=%v, want true false", h.IsDebug(), h.IsTrace())
	}
	if h.GetLevel() != hclog.Debug {
		t.Errorf("GetLevel = %v, want debug", h.GetLevel())
	}
	if h.Name() != "greeter" {
		t.Errorf("Name = %q", h.Name())
	}
	h.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Println("from std")

	var got []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "hello", "plugin": "greeter", "id": float64(7), "k": "v"},
		{"level": "ERROR", "msg": "odd", "plugin": "greeter", "id": float64(7), "extra": "lonely"},
		{"level": "WARN", "msg": "from std", "plugin": "greeter", "id": float64(7)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func TestFromSlogNil(t *testing.T) {
	FromSlog(nil).Error("discarded") // must not panic
}

func TestForPluginKeepsItsName(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewJSONHandler(&buf, nil))
	ForPlugin(sl, "scan").Named("/usr/bin/abusekit").Info("x")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["plugin"] != "scan" {
		t.Errorf("plugin = %v, want scan", m["plugin"])
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		want Line
	}{
		{`{"@level":"warn","@message":"disk","@timestamp":"2026-11-25T08:00:00.000000Z","free":12,"path":"/"}`,
			Line{Level: slog.LevelWarn, Message: "disk", Attrs: []slog.Attr{slog.Any("free", float64(12)), slog.Any("path", "/"), slog.String("plugin_time", "2026-11-25T08:00:00.000000Z")}}},
		// What would make go-plugin's own parser panic: non-string fields.
		{`{"@message":1,"@level":["x"],"@timestamp":{}}`,
			Line{Level: slog.LevelInfo, Message: "1", Attrs: []slog.Attr{slog.String("plugin_time", "{}")}}},
		{"[ERROR] boom", Line{Level: slog.LevelError, Message: "boom"}},
		{"plain \xff text", Line{Level: slog.LevelDebug, Message: "plain \uFFFD text"}},
		{"{not json", Line{Level: slog.LevelDebug, Message: "{not json"}},
	}
	for _, tt := range tests {
		got := ParseLine([]byte(tt.in))
		if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b slog.Attr) bool { return a.Equal(b) })); d != "" {
			t.Errorf("ParseLine(%q) (-want +got):\n%s", tt.in, d)
		}
	}
}

func TestStderrWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewStderrWriter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})))
	w.Write([]byte(`{"@level":"info","@message":"hel`))
	w.Write([]byte("lo\"}\nplain\npanic: oh no\ngoroutine 1 [running]:\n"))
	w.Write([]byte(strings.Repeat("x", MaxLine+10)))
	w.Write([]byte("\ntail"))
	w.Flush()
	var got []string
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		msg := m["msg"].(string)
		if len(msg) > 100 {
			msg = fmt.Sprintf("%d×x truncated=%v", len(msg), m["truncated"])
		}
		got = append(got, m["level"].(string)+" "+msg)
	}
	want := []string{"INFO hello", "DEBUG plain", "ERROR panic: oh no", "ERROR goroutine 1 [running]:",
		fmt.Sprintf("ERROR %d×x truncated=true", MaxLine), "ERROR tail"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"@level":"warn","@message":"disk","@timestamp":"2026-11-25T08:00:00.000000Z","free":12}`))
	f.Add([]byte(`{"@message":1,"@level":["x"],"@timestamp":{}}`))
	f.Add([]byte("[ERROR] boom"))
	f.Fuzz(func(t *testing.T, line []byte) {
		l := ParseLine(line)
		if !utf8.ValidString(l.Message) && !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			t.Errorf("invalid UTF-8 message %q", l.Message)
		}
		var buf bytes.Buffer
		w := NewStderrWriter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: LevelTrace})))
		w.Write(line)
		w.Flush()
	})
}
