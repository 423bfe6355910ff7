package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

var (
	errGeneral  = errors.New("plugintest: general")
	errSpecific = fmt.Errorf("plugintest: specific: %w", errGeneral)
)

func init() {
	RegisterError("plugintest.general", errGeneral)
	RegisterError("plugintest.specific", errSpecific)
}

func TestErrorCodesRoundTrip(t *testing.T) {
	tests := []struct {
		err  error
		code string
		is   []error
	}{
		{fmt.Errorf("wrapped: %w", errGeneral), "plugintest.general", []error{errGeneral}},
		{fmt.Errorf("wrapped: %w", errSpecific), "plugintest.specific", []error{errSpecific, errGeneral}},
		{context.Canceled, "context.canceled", []error{context.Canceled}},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "context.deadline_exceeded", []error{context.DeadlineExceeded}},
		{errors.New("unregistered"), "", nil},
	}
	for _, tt := range tests {
		e := wire.Encode(tt.err)
		if e.GetCode() != tt.code || e.GetMessage() != tt.err.Error() {
			t.Errorf("Encode(%v) = %v, want code %q", tt.err, e, tt.code)
		}
		back := wire.Decode(e)
		if back.Error() != tt.err.Error() {
			t.Errorf("decoded text %q, want %q", back, tt.err)
		}
		for _, target := range tt.is {
			if !errors.Is(back, target) {
				t.Errorf("decoded %v: errors.Is(%v) false", back, target)
			}
		}
		if tt.code == "" && errors.Is(back, errGeneral) {
			t.Errorf("unregistered error matches a sentinel")
		}
		var re *RemoteError
		if !errors.As(back, &re) || re.Code != tt.code {
			t.Errorf("decoded %T %+v", back, re)
		}
		if ErrorCode(back) != tt.code {
			t.Errorf("ErrorCode(decoded) = %q", ErrorCode(back))
		}
	}
	if wire.Encode(nil) != nil || wire.Decode(nil) != nil {
		t.Error("nil does not round-trip to nil")
	}
}

func TestRegisterErrorRefusals(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("bad code", func() { RegisterError("NoDots", errGeneral) })
	mustPanic("nil error", func() { RegisterError("plugintest.nil", nil) })
	mustPanic("taken", func() { RegisterError("plugintest.general", errors.New("other")) })
	RegisterError("plugintest.general", errGeneral) // same pair again is fine
}

type in struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
	Tags  []string
	Inner *struct {
		OK bool `json:"ok"`
	} `json:"inner"`
}

type out struct {
	Said string `json:"said"`
}

var echo = NewAction("echoes",
	nil,
	func(_ context.Context, req ApplyRequest[in], resp *ApplyResponse[out]) error {
		req.Progress.Report("echoing", 1, 1)
		resp.Output.Said = req.Input.Name
		return nil
	})

func TestDescribe(t *testing.T) {
	s := newServer(Actions{"echo": echo}, nil)
	d, err := s.Describe(context.Background(), &pb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Actions) != 1 || d.Actions[0].Name != "echo" || d.Actions[0].Description != "echoes" || d.Pid == 0 {
		t.Fatalf("Describe = %v", d)
	}
	var schema map[string]any
	if err := json.Unmarshal(d.Actions[0].InputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"name":  map[string]any{"type": "string"},
			"count": map[string]any{"type": "integer"},
			"Tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"inner": map[string]any{"type": "object", "additionalProperties": false,
				"properties": map[string]any{"ok": map[string]any{"type": "boolean"}}},
		},
	}
	if d := cmp.Diff(want, schema); d != "" {
		t.Errorf("input schema (-want +got):\n%s", d)
	}
}

func TestServerPlanApply(t *testing.T) {
	s := newServer(Actions{"echo": echo}, nil)
	ctx := context.Background()
	p, err := s.Plan(ctx, &pb.PlanRequest{Call: &pb.Call{Action: "echo", Input: []byte(`{"name":"x"}`)}})
	if err != nil || p.Error != nil || p.Summary != "run echo" {
		t.Fatalf("Plan = %v, %v", p, err)
	}
	p, _ = s.Plan(ctx, &pb.PlanRequest{Call: &pb.Call{Action: "nope"}})
	if !errors.Is(wire.Decode(p.Error), ErrUnknownAction) || !strings.Contains(p.Error.Message, "offered: [echo]") {
		t.Errorf("unknown action: %v", p.Error)
	}
	for _, bad := range []string{`{"nmae":"x"}`, `{"name":1}`, `{"name":"x"} {}`, `[`} {
		p, _ = s.Plan(ctx, &pb.PlanRequest{Call: &pb.Call{Action: "echo", Input: []byte(bad)}})
		if !errors.Is(wire.Decode(p.Error), ErrInvalidInput) {
			t.Errorf("input %s: %v, want ErrInvalidInput", bad, p.Error)
		}
	}
}

func TestServeRefusesToRunDirectly(t *testing.T) {
	t.Setenv(wire.Handshake.MagicCookieKey, "")
	var stderr bytes.Buffer
	if code := serve(Actions{"echo": echo}, Info{}, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "not meant to be run directly") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
