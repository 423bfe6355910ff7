package playbook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/abusekit/abusekit/playbook/plugin"
)

// PluginDescription is what a started plugin says of itself: its version,
// description and actions with their input and output schemas. It is what
// run-playbook -describe prints, and what the built-in plugins' reference
// documentation is generated from.
type PluginDescription struct {
	Name        string              `json:"name"`
	Version     string              `json:"version,omitempty"`
	Description string              `json:"description,omitempty"`
	Protocol    int                 `json:"protocol,omitempty"`
	Path        string              `json:"path,omitempty"`
	SHA256      string              `json:"sha256,omitempty"`
	Actions     []ActionDescription `json:"actions"`
}

// ActionDescription is one action of a PluginDescription.
type ActionDescription struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	Version      string          `json:"version,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

// Describe is the description of a started plugin.
func (p *Plugin) Describe() PluginDescription {
	d := PluginDescription{Name: p.name, Version: p.pluginVersion, Description: p.description,
		Protocol: p.version, Path: p.path, SHA256: p.spec.SHA256}
	if p.spec.Path == "" && p.spec.Reattach == nil && d.SHA256 == "" {
		_, d.SHA256, _ = executableSum()
	}
	for _, a := range p.Actions() {
		d.Actions = append(d.Actions, ActionDescription{Name: a.Name, Description: a.Description, Version: a.Version,
			InputSchema: a.InputSchema, OutputSchema: a.OutputSchema})
	}
	sort.Slice(d.Actions, func(i, j int) bool { return d.Actions[i].Name < d.Actions[j].Name })
	return d
}

// DescribeActions describes a set of actions as a plugin serving them
// would, without starting a process: they are served in this process over
// the real transport for as long as the call takes. The description has no
// path, checksum or version (those belong to a binary).
func DescribeActions(ctx context.Context, name string, actions plugin.Actions) (PluginDescription, error) {
	ctx, cancel := context.WithCancel(ctx)
	rc, closed, err := plugin.ServeInProcess(ctx, actions, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		return PluginDescription{}, err
	}
	defer func() { cancel(); <-closed }()
	h := NewHost(HostOptions{})
	defer h.Close()
	if err := h.Start(ctx, PluginSpec{Name: name, Reattach: rc}); err != nil {
		return PluginDescription{}, err
	}
	p, err := h.Plugin(name)
	if err != nil {
		return PluginDescription{}, err
	}
	d := p.Describe()
	d.Version, d.Path, d.SHA256 = "", "", ""
	return d, nil
}

// Field is one field of a schema, flattened: Path is its place in the
// document ("suspects[].pid").
type Field struct {
	Path        string `json:"path"`
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	Default     any    `json:"default,omitempty"`
	Enum        []any  `json:"enum,omitempty"`
	Format      string `json:"format,omitempty"`
	Description string `json:"description,omitempty"`
}

// schemaDoc is the part of a JSON Schema the SDK writes that descriptions
// show.
type schemaDoc struct {
	Type                 string                `json:"type"`
	Properties           map[string]*schemaDoc `json:"properties"`
	Items                *schemaDoc            `json:"items"`
	AdditionalProperties json.RawMessage       `json:"additionalProperties"`
	Required             []string              `json:"required"`
	Enum                 []any                 `json:"enum"`
	Default              any                   `json:"default"`
	Format               string                `json:"format"`
	Description          string                `json:"description"`
	WriteOnly            bool                  `json:"writeOnly"`
	Secret               bool                  `json:"x-secret"`
	ContentEncoding      string                `json:"contentEncoding"`
}

// maxFieldDepth bounds how deep Fields flattens nested objects.
const maxFieldDepth = 8

// Fields flattens a JSON Schema of an action's input or output into its
// fields, in document order of paths (sorted), nested objects and arrays
// of objects included.
func Fields(schema json.RawMessage) ([]Field, error) {
	if len(schema) == 0 {
		return nil, nil
	}
	var s schemaDoc
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, fmt.Errorf("playbook: schema: %w", err)
	}
	var out []Field
	flatten(&s, "", 0, &out)
	return out, nil
}

func flatten(s *schemaDoc, prefix string, depth int, out *[]Field) {
	if s == nil || depth > maxFieldDepth {
		return
	}
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := s.Properties[n]
		if f == nil {
			continue
		}
		path := n
		if prefix != "" {
			path = prefix + "." + n
		}
		*out = append(*out, Field{Path: path, Type: typeOf(f), Required: req[n], Secret: f.Secret || f.WriteOnly,
			Default: f.Default, Enum: f.Enum, Format: f.Format, Description: f.Description})
		switch {
		case f.Type == "object":
			flatten(f, path, depth+1, out)
			if len(f.AdditionalProperties) > 0 && f.AdditionalProperties[0] == '{' {
				var ap schemaDoc
				if json.Unmarshal(f.AdditionalProperties, &ap) == nil && ap.Type == "object" {
					flatten(&ap, path+".*", depth+1, out)
				}
			}
		case f.Type == "array" && f.Items != nil && f.Items.Type == "object":
			flatten(f.Items, path+"[]", depth+1, out)
		}
	}
}

func typeOf(s *schemaDoc) string {
	switch s.Type {
	case "":
		return "any"
	case "array":
		if s.Items == nil {
			return "array"
		}
		return "array of " + typeOf(s.Items)
	case "object":
		if len(s.Properties) == 0 && len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{' {
			var ap schemaDoc
			if json.Unmarshal(s.AdditionalProperties, &ap) == nil {
				return "map of " + typeOf(&ap)
			}
		}
		return "object"
	case "string":
		if s.ContentEncoding == "base64" {
			return "bytes (base64)"
		}
	}
	return s.Type
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// notes is what a field's line says besides its type.
func (f Field) notes() []string {
	var n []string
	if f.Required {
		n = append(n, "required")
	}
	if f.Secret {
		n = append(n, "secret")
	}
	if f.Default != nil {
		n = append(n, "default "+jsonText(f.Default))
	}
	if len(f.Enum) > 0 {
		var vs []string
		for _, e := range f.Enum {
			vs = append(vs, jsonText(e))
		}
		n = append(n, "one of "+strings.Join(vs, ", "))
	}
	if f.Format != "" {
		n = append(n, "format "+f.Format)
	}
	return n
}

// Text is the description as a person reads it on a terminal.
func (d PluginDescription) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s", d.Name)
	if d.Version != "" {
		fmt.Fprintf(&b, " %s", d.Version)
	}
	if d.Protocol != 0 {
		fmt.Fprintf(&b, " (protocol %d)", d.Protocol)
	}
	b.WriteString("\n")
	if d.Description != "" {
		fmt.Fprintf(&b, "  %s\n", d.Description)
	}
	if d.Path != "" {
		fmt.Fprintf(&b, "  path:   %s\n", d.Path)
	}
	if d.SHA256 != "" {
		fmt.Fprintf(&b, "  sha256: %s\n", d.SHA256)
	}
	for _, a := range d.Actions {
		fmt.Fprintf(&b, "\naction %s", a.Name)
		if a.Version != "" {
			fmt.Fprintf(&b, " (version %s)", a.Version)
		}
		b.WriteString("\n")
		if a.Description != "" {
			fmt.Fprintf(&b, "  %s\n", a.Description)
		}
		for _, part := range []struct {
			title  string
			schema json.RawMessage
		}{{"input", a.InputSchema}, {"output", a.OutputSchema}} {
			fields, err := Fields(part.schema)
			if err != nil {
				fmt.Fprintf(&b, "  %s: unreadable schema: %v\n", part.title, err)
				continue
			}
			if len(fields) == 0 {
				fmt.Fprintf(&b, "  %s: none\n", part.title)
				continue
			}
			fmt.Fprintf(&b, "  %s:\n", part.title)
			w := 0
			for _, f := range fields {
				w = max(w, len(f.Path))
			}
			for _, f := range fields {
				line := fmt.Sprintf("    %-*s  %s", w, f.Path, f.Type)
				if n := f.notes(); len(n) > 0 {
					line += " (" + strings.Join(n, "; ") + ")"
				}
				if f.Description != "" {
					line += ": " + f.Description
				}
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

// Markdown is the description as a reference page.
func (d PluginDescription) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Plugin `%s`\n\n", d.Name)
	if d.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", d.Description)
	}
	if d.Version != "" {
		fmt.Fprintf(&b, "Version %s.\n\n", d.Version)
	}
	b.WriteString("Actions:")
	for i, a := range d.Actions {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s [`%s`](#action-%s)", sep, a.Name, a.Name)
	}
	b.WriteString(".\n")
	for _, a := range d.Actions {
		fmt.Fprintf(&b, "\n## Action `%s`\n\n", a.Name)
		if a.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", mdEscape(a.Description))
		}
		if a.Version != "" {
			fmt.Fprintf(&b, "Action version %s.\n\n", a.Version)
		}
		for _, part := range []struct {
			title  string
			schema json.RawMessage
		}{{"Input", a.InputSchema}, {"Output", a.OutputSchema}} {
			fmt.Fprintf(&b, "### %s\n\n", part.title)
			fields, err := Fields(part.schema)
			if err != nil {
				fmt.Fprintf(&b, "Unreadable schema: %v\n\n", err)
				continue
			}
			if len(fields) == 0 {
				b.WriteString("None.\n\n")
				continue
			}
			b.WriteString("| Field | Type | | Description |\n|---|---|---|---|\n")
			for _, f := range fields {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Path, mdEscape(f.Type), mdEscape(strings.Join(f.notes(), "; ")), mdEscape(f.Description))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// mdEscape keeps text inside one Markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
