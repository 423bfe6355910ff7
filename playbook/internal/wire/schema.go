package wire

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// Schema returns a JSON Schema (draft 2020-12 subset: type, properties,
// items, additionalProperties, required, enum, default, format,
// description, writeOnly) describing how encoding/json marshals values of
// type t, with what the fields' tags add:
//
//	URL    string `json:"url" schema:"required,format=uri" description:"where to post"`
//	Method string `json:"method" schema:"enum=POST|PUT,default=POST"`
//	Token  string `json:"token" schema:"secret"`
//
// schema takes comma-separated words: required; enum=a|b|c; default=v
// (last, as it may hold commas); secret (writeOnly, and "x-secret": true,
// so hosts can keep it out of plans and journals); format=name. A
// malformed enum or default value for the field's type is left out.
func Schema(t reflect.Type) []byte {
	b, err := json.Marshal(schemaOf(t, map[reflect.Type]bool{}))
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	durationType  = reflect.TypeFor[time.Duration]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	marshalerType = reflect.TypeFor[json.Marshaler]()

	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func schemaOf(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	if t == nil {
		return map[string]any{}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case rawType:
		return map[string]any{}
	}
	implements := func(i reflect.Type) bool { return t.Implements(i) || reflect.PointerTo(t).Implements(i) }
	if implements(marshalerType) || implements(unmarshalerType) {
		return map[string]any{}
	}
	if implements(textMarshalerType) || implements(textUnmarshalerType) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"}
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		var required []string
		addFields(t, props, &required, seen)
		out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	default:
		return map[string]any{}
	}
}

func addFields(t reflect.Type, props map[string]any, required *[]string, seen map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, required, seen)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := schemaOf(f.Type, seen)
		if d := f.Tag.Get("description"); d != "" {
			fs["description"] = d
		}
		if tag, ok := f.Tag.Lookup("schema"); ok {
			applySchemaTag(fs, f.Type, tag, func() { *required = append(*required, name) })
		}
		props[name] = fs
	}
}

// applySchemaTag adds what a field's schema tag says to its schema.
func applySchemaTag(fs map[string]any, t reflect.Type, tag string, require func()) {
	for tag != "" {
		var word string
		if strings.HasPrefix(tag, "default=") {
			word, tag = tag, ""
		} else {
			word, tag, _ = strings.Cut(tag, ",")
		}
		key, val, _ := strings.Cut(strings.TrimSpace(word), "=")
		switch key {
		case "required":
			require()
		case "secret":
			fs["writeOnly"] = true
			fs["x-secret"] = true
		case "format":
			fs["format"] = val
		case "enum":
			var enum []any
			for _, e := range strings.Split(val, "|") {
				v, ok := scalar(t, e)
				if !ok {
					enum = nil
					break
				}
				enum = append(enum, v)
			}
			if enum != nil {
				fs["enum"] = enum
			}
		case "default":
			if v, ok := scalar(t, val); ok {
				fs["default"] = v
			}
		}
	}
}

// scalar parses s as a JSON value of t's kind (a bare string for a string).
func scalar(t reflect.Type, s string) (any, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String {
		return s, true
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, false
	}
	switch t.Kind() {
	case reflect.Bool:
		_, ok := v.(bool)
		return v, ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		_, ok := v.(float64)
		return v, ok
	}
	return v, true
}
