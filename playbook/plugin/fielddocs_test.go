package plugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type fdInner struct {
	Port int `json:"port"`
}

type fdIn struct {
	Name  string    `json:"name" description:"from the tag"`
	Items []fdInner `json:"items"`
}

type fdOut struct {
	Inner fdInner `json:"inner"`
}

func TestFieldDocs(t *testing.T) {
	a := NewAction("x", nil,
		func(ctx context.Context, req ApplyRequest[fdIn], resp *ApplyResponse[fdOut]) error { return nil },
		FieldDocs(map[string]string{"items[].port": "a TCP port", "name": "replaced", "nope.port": "no such field"},
			map[string]string{"inner.port": "the port"}))
	r := a.impl()
	var in, out any
	if err := json.Unmarshal(r.inputSchema, &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.outputSchema, &out); err != nil {
		t.Fatal(err)
	}
	wantIn := map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
		"name": map[string]any{"type": "string", "description": "replaced"},
		"items": map[string]any{"type": "array", "items": map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
			"port": map[string]any{"type": "integer", "description": "a TCP port"}}}},
	}}
	if diff := cmp.Diff(wantIn, in); diff != "" {
		t.Errorf("input schema (-want +got):\n%s", diff)
	}
	wantOut := map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
		"inner": map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
			"port": map[string]any{"type": "integer", "description": "the port"}}},
	}}
	if diff := cmp.Diff(wantOut, out); diff != "" {
		t.Errorf("output schema (-want +got):\n%s", diff)
	}
}
