package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// SchemaNode is a parsed JSON Schema of the subset Schema writes.
type SchemaNode struct {
	Type                 string                 `json:"type,omitempty"`
	Properties           map[string]*SchemaNode `json:"properties,omitempty"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties,omitempty"`
	Items                *SchemaNode            `json:"items,omitempty"`
	Required             []string               `json:"required,omitempty"`
	Enum                 []any                  `json:"enum,omitempty"`
	Default              any                    `json:"default,omitempty"`
	Format               string                 `json:"format,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Secret               bool                   `json:"x-secret,omitempty"`
	ContentEncoding      string                 `json:"contentEncoding,omitempty"`
}

// ParseSchema parses a schema document; an empty or unreadable one is nil
// (accepts anything).
func ParseSchema(b []byte) *SchemaNode {
	if len(b) == 0 {
		return nil
	}
	var n SchemaNode
	if json.Unmarshal(b, &n) != nil {
		return nil
	}
	return &n
}

// closed reports whether the object accepts no properties beyond its own;
// extra is the schema of additional properties (a map's values), if any.
func (n *SchemaNode) closed() (bool, *SchemaNode) {
	if len(n.AdditionalProperties) == 0 {
		return false, nil
	}
	var b bool
	if json.Unmarshal(n.AdditionalProperties, &b) == nil {
		return !b, nil
	}
	var extra SchemaNode
	if json.Unmarshal(n.AdditionalProperties, &extra) == nil {
		return false, &extra
	}
	return false, nil
}

// Child returns the schema of a property or an array element ("" for an
// element), nil when unknown.
func (n *SchemaNode) Child(name string) *SchemaNode {
	if n == nil {
		return nil
	}
	if name == "" {
		return n.Items
	}
	if p, ok := n.Properties[name]; ok {
		return p
	}
	_, extra := n.closed()
	return extra
}

// FieldError is one way a document does not fit its schema.
type FieldError struct {
	Path string // "url", "targets[2].port"; "" for the document itself
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Skip says, for a value, that it is not known yet (a reference resolved
// later) and is not to be checked.
type Skip func(v any) bool

// Validate checks a decoded JSON value (as encoding/json decodes into any,
// or with json.Number) against the schema; it returns every misfit, in
// path order. skip may be nil.
func (n *SchemaNode) Validate(v any, skip Skip) []FieldError {
	var errs []FieldError
	n.validate(v, "", skip, &errs)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return errs
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		_ = x
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func (n *SchemaNode) validate(v any, path string, skip Skip, errs *[]FieldError) {
	if n == nil || (skip != nil && skip(v)) {
		return
	}
	add := func(format string, args ...any) {
		*errs = append(*errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if v == nil {
		// encoding/json accepts null for every type (the zero value).
		return
	}
	switch n.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			add("want a string, got %s %s", typeName(v), short(v))
			return
		}
		if len(n.Enum) > 0 && !slices.Contains(n.Enum, any(s)) {
			add("%q is not one of %s", s, enumList(n.Enum))
		}
	case "integer", "number":
		f, ok := number(v)
		if !ok {
			add("want %s, got %s %s", article(n.Type), typeName(v), short(v))
			return
		}
		if n.Type == "integer" && f != math.Trunc(f) {
			add("want an integer, got %v", f)
			return
		}
		if len(n.Enum) > 0 && !slices.ContainsFunc(n.Enum, func(e any) bool { g, ok := number(e); return ok && g == f }) {
			add("%v is not one of %s", f, enumList(n.Enum))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			add("want true or false, got %s %s", typeName(v), short(v))
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			if s, isStr := v.(string); isStr && n.ContentEncoding != "" {
				_ = s
				return
			}
			add("want a list, got %s %s", typeName(v), short(v))
			return
		}
		for i, e := range a {
			n.Items.validate(e, fmt.Sprintf("%s[%d]", path, i), skip, errs)
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %s %s", typeName(v), short(v))
			return
		}
		closed, extra := n.closed()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := n.Properties[k]; ok {
				p.validate(m[k], join(path, k), skip, errs)
				continue
			}
			if extra != nil {
				extra.validate(m[k], join(path, k), skip, errs)
				continue
			}
			if closed {
				names := make([]string, 0, len(n.Properties))
				for name := range n.Properties {
					names = append(names, name)
				}
				sort.Strings(names)
				*errs = append(*errs, FieldError{Path: join(path, k), Msg: fmt.Sprintf("unknown field (known: %s)", strings.Join(names, ", "))})
			}
		}
		for _, r := range n.Required {
			if _, ok := m[r]; !ok {
				*errs = append(*errs, FieldError{Path: join(path, r), Msg: "required field missing" + describe(n.Properties[r])})
			}
		}
	}
}

// ApplyDefaults sets, in a decoded object and the objects within it that
// are present, each absent property that has a default; it reports whether
// it set any.
func (n *SchemaNode) ApplyDefaults(v any) bool {
	if n == nil {
		return false
	}
	set := false
	switch x := v.(type) {
	case map[string]any:
		for name, p := range n.Properties {
			if cur, ok := x[name]; ok {
				set = p.ApplyDefaults(cur) || set
			} else if p != nil && p.Default != nil {
				x[name] = clone(p.Default) // the schema's own stays as it is
				set = true
			}
		}
	case []any:
		for _, e := range x {
			set = n.Items.ApplyDefaults(e) || set
		}
	}
	return set
}

func describe(n *SchemaNode) string {
	if n == nil || n.Description == "" {
		return ""
	}
	return " (" + n.Description + ")"
}

func article(t string) string {
	if t == "integer" {
		return "an integer"
	}
	return "a number"
}

func enumList(enum []any) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		b, _ := json.Marshal(e)
		parts[i] = string(b)
	}
	return strings.Join(parts, ", ")
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Lookup follows a path of field names (string) and list indexes (int)
// through the schema. It returns an error naming the first component the
// schema says cannot be there (a field a closed object lacks, an index into
// a non-list, a field of a scalar); where the schema does not say (any
// value), it stops and accepts.
func (n *SchemaNode) Lookup(path []any) error {
	at := ""
	for _, c := range path {
		if n == nil || n.Type == "" {
			return nil
		}
		switch c := c.(type) {
		case int:
			if n.Type != "array" {
				return fmt.Errorf("%s is %s, not a list: no [%d]", orRoot(at), article2(n.Type), c)
			}
			n = n.Items
			at += fmt.Sprintf("[%d]", c)
		case string:
			if n.Type != "object" {
				return fmt.Errorf("%s is %s: no field %q", orRoot(at), article2(n.Type), c)
			}
			if p, ok := n.Properties[c]; ok {
				n = p
			} else if closed, extra := n.closed(); extra != nil {
				n = extra
			} else if closed {
				names := make([]string, 0, len(n.Properties))
				for name := range n.Properties {
					names = append(names, name)
				}
				sort.Strings(names)
				return fmt.Errorf("%s has no field %q (it has: %s)", orRoot(at), c, strings.Join(names, ", "))
			} else {
				return nil
			}
			at = join(at, c)
		default:
			return nil
		}
	}
	return nil
}

func orRoot(at string) string {
	if at == "" {
		return "the output"
	}
	return at
}

func article2(t string) string {
	switch t {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "integer":
		return "an integer"
	}
	return "a " + t
}

// Redacted is what Redact puts in place of a secret value.
const Redacted = "(secret)"

// Redact replaces, in a decoded document, the value of every field the
// schema marks secret with Redacted; it reports whether it replaced any.
func (n *SchemaNode) Redact(v any) bool {
	if n == nil {
		return false
	}
	changed := false
	switch x := v.(type) {
	case map[string]any:
		_, extra := n.closed()
		for k, val := range x {
			p, ok := n.Properties[k]
			if !ok {
				p = extra
			}
			if p == nil {
				continue
			}
			if p.Secret {
				if val != nil {
					x[k] = Redacted
					changed = true
				}
				continue
			}
			changed = p.Redact(val) || changed
		}
	case []any:
		for _, e := range x {
			changed = n.Items.Redact(e) || changed
		}
	}
	return changed
}

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = clone(e)
		}
		return a
	}
	return v
}
