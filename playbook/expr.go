package playbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrUnresolved is wrapped when an input refers to something that is not
// there (a missing field, an index out of range).
var ErrUnresolved = errors.New("playbook: unresolved reference")

// ref is a parsed reference: steps.<id>.a[0].b, inputs.x, incident, playbook.
type ref struct {
	text string
	root string // "steps", "inputs", "incident", "playbook"
	step string // for root "steps"
	path []any  // string (field) or int (index)
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func parseRef(s string) (ref, error) {
	s = strings.TrimSpace(s)
	r := ref{text: s}
	if s == "" {
		return r, errors.New("empty reference")
	}
	var segs []any
	i := 0
	readIdent := func() (string, error) {
		j := i
		for i < len(s) && isIdentByte(s[i]) {
			i++
		}
		if j == i {
			return "", fmt.Errorf("reference %q: expected a name at offset %d", s, j)
		}
		return s[j:i], nil
	}
	first, err := readIdent()
	if err != nil {
		return r, err
	}
	segs = append(segs, first)
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			id, err := readIdent()
			if err != nil {
				return r, err
			}
			segs = append(segs, id)
		case '[':
			i++
			j := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if j == i || i >= len(s) || s[i] != ']' || i-j > 9 {
				return r, fmt.Errorf("reference %q: expected [index] at offset %d", s, j-1)
			}
			n, _ := strconv.Atoi(s[j:i])
			i++
			segs = append(segs, n)
		default:
			return r, fmt.Errorf("reference %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	r.root = first
	switch first {
	case "steps":
		if len(segs) < 2 {
			return r, fmt.Errorf("reference %q: steps needs a step id (steps.<id>…)", s)
		}
		id, ok := segs[1].(string)
		if !ok {
			return r, fmt.Errorf("reference %q: steps needs a step id (steps.<id>…)", s)
		}
		r.step = id
		r.path = segs[2:]
	case "inputs":
		r.path = segs[1:]
	case "incident", "playbook":
		if len(segs) > 1 {
			return r, fmt.Errorf("reference %q: %s has no fields", s, first)
		}
	default:
		return r, fmt.Errorf("reference %q: must start with steps., inputs., incident or playbook", s)
	}
	return r, nil
}

// scope is what references resolve against.
type scope struct {
	incident string
	playbook string
	inputs   map[string]any
	outputs  map[string]any // step id → decoded output
}

func (sc *scope) lookup(r ref) (any, error) {
	var v any
	switch r.root {
	case "incident":
		return sc.incident, nil
	case "playbook":
		return sc.playbook, nil
	case "inputs":
		v = sc.inputs
		if len(r.path) == 0 {
			return v, nil
		}
	case "steps":
		out, ok := sc.outputs[r.step]
		if !ok {
			return nil, fmt.Errorf("%w: %s: step %q has no output (not run yet, or skipped)", ErrUnresolved, r.text, r.step)
		}
		v = out
	}
	for _, seg := range r.path {
		switch k := seg.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: %s: .%s of a %s", ErrUnresolved, r.text, k, kindOf(v))
			}
			v, ok = m[k]
			if !ok {
				return nil, fmt.Errorf("%w: %s: no field %q", ErrUnresolved, r.text, k)
			}
		case int:
			a, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: %s: [%d] of a %s", ErrUnresolved, r.text, k, kindOf(v))
			}
			if k >= len(a) {
				return nil, fmt.Errorf("%w: %s: index %d out of range (length %d)", ErrUnresolved, r.text, k, len(a))
			}
			v = a[k]
		}
	}
	return v, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
}

const (
	openDelim  = "${{"
	closeDelim = "}}"
)

// template splits s into literal text and references.
type template struct {
	parts []any // string literal or ref
	whole bool  // s is exactly one reference (typed substitution)
}

func parseTemplate(s string) (template, error) {
	var t template
	rest := s
	for {
		i := strings.Index(rest, openDelim)
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, rest)
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, rest[:i])
		}
		rest = rest[i+len(openDelim):]
		j := strings.Index(rest, closeDelim)
		if j < 0 {
			return t, fmt.Errorf("unclosed %s in %q", openDelim, s)
		}
		r, err := parseRef(rest[:j])
		if err != nil {
			return t, err
		}
		t.parts = append(t.parts, r)
		rest = rest[j+len(closeDelim):]
	}
	if len(t.parts) == 1 {
		_, t.whole = t.parts[0].(ref)
	}
	if !t.whole && len(t.parts) == 3 {
		// "  ${{ x }}  " is still a whole reference.
		a, aok := t.parts[0].(string)
		_, rok := t.parts[1].(ref)
		c, cok := t.parts[2].(string)
		if aok && rok && cok && strings.TrimSpace(a) == "" && strings.TrimSpace(c) == "" {
			t.parts = t.parts[1:2]
			t.whole = true
		}
	}
	return t, nil
}

func templateRefs(s string) ([]ref, error) {
	if !strings.Contains(s, openDelim) {
		return nil, nil
	}
	t, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	var out []ref
	for _, p := range t.parts {
		if r, ok := p.(ref); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// resolve returns v with every template in it substituted.
func (sc *scope) resolve(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, openDelim) {
			return x, nil
		}
		t, err := parseTemplate(x)
		if err != nil {
			return nil, err
		}
		if t.whole {
			return sc.lookup(t.parts[0].(ref))
		}
		var b strings.Builder
		for _, p := range t.parts {
			switch p := p.(type) {
			case string:
				b.WriteString(p)
			case ref:
				val, err := sc.lookup(p)
				if err != nil {
					return nil, err
				}
				if s, ok := val.(string); ok {
					b.WriteString(s)
				} else {
					j, err := json.Marshal(val)
					if err != nil {
						return nil, err
					}
					b.Write(j)
				}
			}
		}
		return b.String(), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := sc.resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := sc.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// outsideQuotes calls f with the index of each byte of s that is not
// inside a double-quoted string (backslash escapes inside); f returns how
// many bytes to skip after it, or -1 to stop.
func outsideQuotes(s string, f func(i int) int) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote:
			n := f(i)
			if n < 0 {
				return
			}
			i += n
		}
	}
}

// findOperator finds the first == or != outside a quoted string.
func findOperator(s string) (at int, op string) {
	at = -1
	outsideQuotes(s, func(i int) int {
		if i+1 < len(s) && (s[i] == '=' || s[i] == '!') && s[i+1] == '=' {
			at, op = i, s[i:i+2]
			return -1
		}
		return 0
	})
	return at, op
}

// condition is a parsed If: one comparison or truth test, or (all) the
// conjunction of several joined by &&.
type condition struct {
	not   bool
	op    string // "", "==", "!="
	left  operand
	right operand
	all   []condition
}

type operand struct {
	isRef bool
	ref   ref
	lit   any
}

func (c condition) refs() []ref {
	var out []ref
	for _, t := range c.all {
		out = append(out, t.refs()...)
	}
	for _, o := range []operand{c.left, c.right} {
		if o.isRef {
			out = append(out, o.ref)
		}
	}
	return out
}

func parseOperand(s string) (operand, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return operand{}, errors.New("empty operand")
	}
	if c := s[0]; c == '"' || c == '[' || c == '{' || c == '-' || c >= '0' && c <= '9' || s == "true" || s == "false" || s == "null" {
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return operand{}, fmt.Errorf("literal %s: %v", s, err)
		}
		return operand{lit: v}, nil
	}
	r, err := parseRef(s)
	if err != nil {
		return operand{}, err
	}
	return operand{isRef: true, ref: r}, nil
}

// splitAnd splits s at each && outside a quoted string.
func splitAnd(s string) []string {
	var parts []string
	start := 0
	outsideQuotes(s, func(i int) int {
		if s[i] == '&' && i+1 < len(s) && s[i+1] == '&' {
			parts = append(parts, s[start:i])
			start = i + 2
			return 1
		}
		return 0
	})
	return append(parts, s[start:])
}

func parseCondition(s string) (condition, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, openDelim) && strings.HasSuffix(s, closeDelim) {
		s = strings.TrimSpace(s[len(openDelim) : len(s)-len(closeDelim)])
	}
	if parts := splitAnd(s); len(parts) > 1 {
		var c condition
		for _, p := range parts {
			t, err := parseTerm(p)
			if err != nil {
				return c, err
			}
			c.all = append(c.all, t)
		}
		return c, nil
	}
	return parseTerm(s)
}

// parseTerm parses one comparison or truth test of a condition.
func parseTerm(s string) (condition, error) {
	s = strings.TrimSpace(s)
	var c condition
	if i, op := findOperator(s); i >= 0 {
		l, r := s[:i], s[i+len(op):]
		{
			c.op = op
			var err error
			if c.left, err = parseOperand(l); err != nil {
				return c, fmt.Errorf("condition %q: %v", s, err)
			}
			if c.right, err = parseOperand(r); err != nil {
				return c, fmt.Errorf("condition %q: %v", s, err)
			}
			return c, nil
		}
	}
	if strings.HasPrefix(s, "!") {
		c.not = true
		s = s[1:]
	}
	var err error
	if c.left, err = parseOperand(s); err != nil {
		return c, fmt.Errorf("condition %q: %v", s, err)
	}
	return c, nil
}

func (sc *scope) value(o operand) any {
	if !o.isRef {
		return o.lit
	}
	v, err := sc.lookup(o.ref)
	if err != nil {
		return nil // a missing field is null in a condition
	}
	return v
}

func (sc *scope) eval(c condition) bool {
	if c.all != nil {
		for _, t := range c.all {
			if !sc.eval(t) {
				return false
			}
		}
		return true
	}
	l := sc.value(c.left)
	switch c.op {
	case "==":
		return equalJSON(l, sc.value(c.right))
	case "!=":
		return !equalJSON(l, sc.value(c.right))
	}
	return truthy(l) != c.not
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case uint64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	default:
		return true
	}
}

// equalJSON compares two values by their canonical JSON form.
func equalJSON(a, b any) bool {
	ja, err1 := canonical(a)
	jb, err2 := canonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func canonical(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// Round-trip through float-free decoding so 1 and 1.0 compare equal.
	d, err := decodeJSON(j)
	if err != nil {
		return nil, err
	}
	return json.Marshal(normalizeNumbers(d))
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	}
	return v
}

// decodeJSON decodes one JSON document keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
