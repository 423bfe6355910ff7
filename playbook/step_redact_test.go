package playbook

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// TestRedactSkipsOnlySecretFreeSchemas: the shortcut that journals an
// input as it is applies only to schemas with no secret field anywhere; a
// secret nested in an object, in array items or in additionalProperties
// is still redacted.
func TestRedactSkipsOnlySecretFreeSchemas(t *testing.T) {
	for _, tc := range []struct {
		name, schema, in, want string
	}{
		{"none", `{"type":"object","properties":{"name":{"type":"string"}}}`,
			`{"name":"x"}`, `{"name":"x"}`},
		{"top", `{"type":"object","properties":{"token":{"type":"string","x-secret":true}}}`,
			`{"token":"s3cret"}`, `{"token":"(secret)"}`},
		{"nested", `{"type":"object","properties":{"auth":{"type":"object","properties":{"key":{"type":"string","x-secret":true}}}}}`,
			`{"auth":{"key":"s3cret"}}`, `{"auth":{"key":"(secret)"}}`},
		{"items", `{"type":"object","properties":{"creds":{"type":"array","items":{"type":"object","properties":{"key":{"type":"string","x-secret":true}}}}}}`,
			`{"creds":[{"key":"s3cret"}]}`, `{"creds":[{"key":"(secret)"}]}`},
		{"additional", `{"type":"object","additionalProperties":{"type":"object","properties":{"key":{"type":"string","x-secret":true}}}}`,
			`{"any":{"key":"s3cret"}}`, `{"any":{"key":"(secret)"}}`},
		{"additional-true", `{"type":"object","additionalProperties":true}`,
			`{"any":"x"}`, `{"any":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := wire.ParseSchema([]byte(tc.schema))
			if schema == nil {
				t.Fatalf("schema does not parse: %s", tc.schema)
			}
			p := &Plugin{inSchema: map[string]*wire.SchemaNode{"a": schema}}
			got := redactInput(p, "a", json.RawMessage(tc.in))
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("redacted input %s: %v", got, err)
			}
			_ = json.Unmarshal([]byte(tc.want), &w)
			if d := cmp.Diff(w, g); d != "" {
				t.Errorf("redacted input (-want +got):\n%s", d)
			}
		})
	}
}
