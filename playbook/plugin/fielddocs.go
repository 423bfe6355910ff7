package plugin

import (
	"encoding/json"
	"strings"
)

// FieldDocs describes fields of an action's input and output by their path
// in the document ("report.evidence[].dst_ip", "suspects[].pid"), for
// fields whose struct tags the plugin cannot write: those of a type from
// another package. A description given here replaces the field's own; a
// path that names no field is left out (a plugin's tests should check its
// paths with playbook.Fields). Descriptions only: required, enum and
// default stay the business of the type's tags, which the SDK validates.
func FieldDocs(input, output map[string]string) ActionOption {
	return func(r *rawAction) {
		r.inputSchema = describeFields(r.inputSchema, input)
		r.outputSchema = describeFields(r.outputSchema, output)
	}
}

// describeFields returns schema with the descriptions of docs set; schema
// itself when there is nothing to set or it cannot be read.
func describeFields(schema []byte, docs map[string]string) []byte {
	if len(schema) == 0 || len(docs) == 0 {
		return schema
	}
	var root map[string]any
	if err := json.Unmarshal(schema, &root); err != nil {
		return schema
	}
	for path, desc := range docs {
		if f := schemaField(root, path); f != nil {
			f["description"] = desc
		}
	}
	b, err := json.Marshal(root)
	if err != nil {
		return schema
	}
	return b
}

// schemaField finds the schema of the field at path ("a.b[].c") in s.
func schemaField(s map[string]any, path string) map[string]any {
	for _, name := range strings.Split(path, ".") {
		items := 0
		for strings.HasSuffix(name, "[]") {
			name = strings.TrimSuffix(name, "[]")
			items++
		}
		props, _ := s["properties"].(map[string]any)
		s, _ = props[name].(map[string]any)
		for ; s != nil && items > 0; items-- {
			s, _ = s["items"].(map[string]any)
		}
		if s == nil {
			return nil
		}
	}
	return s
}
