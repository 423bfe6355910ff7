package playbook

import (
	"bytes"

	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// schemaSecretFree reports whether no node of a schema (its properties,
// array items and additionalProperties schema, at any depth) is marked
// secret: then a step's input is journaled and shown as it is, instead of
// being decoded, found to hold nothing to redact and encoded again at
// every step (2.8 KB allocated per step of BenchmarkStepOutOfProcess). It
// errs towards false: a secret anywhere means the input is redacted.
// (Walked at each call, not cached: a schema is a handful of nodes, and a
// cache keyed by schema would grow with every plugin restart.)
func schemaSecretFree(n *wire.SchemaNode) bool { return !hasSecret(n) }

func hasSecret(n *wire.SchemaNode) bool {
	if n == nil {
		return false
	}
	if n.Secret {
		return true
	}
	for _, p := range n.Properties {
		if hasSecret(p) {
			return true
		}
	}
	if hasSecret(n.Items) {
		return true
	}
	// A schema for properties not listed (an unreadable one is ignored,
	// as Redact ignores it).
	if extra := bytes.TrimSpace(n.AdditionalProperties); len(extra) > 0 && extra[0] == '{' {
		return hasSecret(wire.ParseSchema(extra))
	}
	return false
}
