package playbook

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxFileSize bounds a playbook file.
const MaxFileSize = 1 << 20

type fileYAML struct {
	Name        string               `yaml:"name"`
	Description string               `yaml:"description"`
	Inputs      map[string]inputYAML `yaml:"inputs"`
	Steps       []stepYAML           `yaml:"steps"`
}

type inputYAML struct {
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
	Default     any    `yaml:"default"`
}

type stepYAML struct {
	ID      string         `yaml:"id"`
	Plugin  string         `yaml:"plugin"`
	Action  string         `yaml:"action"`
	Input   map[string]any `yaml:"input"`
	If      string         `yaml:"if"`
	Timeout string         `yaml:"timeout"`
	Retry   *retryYAML     `yaml:"retry"`
}

type retryYAML struct {
	Attempts int    `yaml:"attempts"`
	Backoff  string `yaml:"backoff"`
}

// Load reads and validates a playbook file.
func Load(path string) (*Playbook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("playbook: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("playbook: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, &ValidationError{File: path, Err: fmt.Errorf("%w: %d bytes is larger than %d", ErrInvalid, st.Size(), MaxFileSize)}
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("playbook: %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse reads and validates a playbook from YAML; filename is used in
// errors. Every error is, or joins, *ValidationError values naming file,
// line and field.
//
// The format:
//
//	name: portscan-response
//	description: stop what a port-scan report is about
//	inputs:
//	  root: {description: host root to inspect, default: /}
//	steps:
//	  - id: detect
//	    plugin: scan
//	    action: detect
//	    input: {root: "${{ inputs.root }}"}
//	    timeout: 2m
//	  - id: stop
//	    plugin: scan
//	    action: stop
//	    if: steps.detect.suspects
//	    input:
//	      pid: ${{ steps.detect.suspects[0].pid }}
//	      start_ticks: ${{ steps.detect.suspects[0].start_ticks }}
//	      exe_dev: ${{ steps.detect.suspects[0].exe_dev }}
//	      exe_ino: ${{ steps.detect.suspects[0].exe_ino }}
//	    retry: {attempts: 3, backoff: 1s}
//
// Anchors and aliases are refused.
func Parse(filename string, data []byte) (*Playbook, error) {
	verr := func(line, col int, field string, err error) error {
		return &ValidationError{File: filename, Line: line, Column: col, Field: field, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	if len(data) > MaxFileSize {
		return nil, verr(0, 0, "", fmt.Errorf("%d bytes is larger than %d", len(data), MaxFileSize))
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(filename, err)
	}
	if len(file.Docs) != 1 || file.Docs[0] == nil || file.Docs[0].Body == nil {
		return nil, verr(1, 1, "", fmt.Errorf("want exactly one YAML document, found %d", countDocs(file)))
	}
	var aliasErr error
	ast.Walk(visitorFunc(func(n ast.Node) bool {
		if aliasErr != nil {
			return false
		}
		switch n.(type) {
		case *ast.AliasNode, *ast.AnchorNode:
			tk := n.GetToken()
			aliasErr = verr(tk.Position.Line, tk.Position.Column, "", errors.New("YAML anchors and aliases are not allowed in a playbook"))
			return false
		}
		return true
	}), file.Docs[0].Body)
	if aliasErr != nil {
		return nil, aliasErr
	}
	if _, ok := file.Docs[0].Body.(*ast.MappingNode); !ok {
		if _, ok := file.Docs[0].Body.(*ast.MappingValueNode); !ok {
			tk := file.Docs[0].Body.GetToken()
			return nil, verr(tk.Position.Line, tk.Position.Column, "", errors.New("a playbook is a mapping (name, description, steps)"))
		}
	}
	var fy fileYAML
	if err := yaml.NodeToValue(file.Docs[0].Body, &fy, yaml.DisallowUnknownField()); err != nil {
		ve := yamlError(filename, err).(*ValidationError)
		ve.Field = fieldAt(file.Docs[0].Body, "", ve.Line, ve.Column)
		return nil, ve
	}
	pos := func(field string) (int, int) { return position(file, field) }
	p := &Playbook{Name: fy.Name, Description: fy.Description, file: filename, pos: pos}
	if len(fy.Inputs) > 0 {
		p.Inputs = make(map[string]Input, len(fy.Inputs))
		for name, in := range fy.Inputs {
			p.Inputs[name] = Input{Description: in.Description, Required: in.Required, Default: normalizeValue(in.Default)}
		}
	}
	var errs []error
	for i, sy := range fy.Steps {
		s := Step{ID: sy.ID, Plugin: sy.Plugin, Action: sy.Action, Input: sy.Input, If: sy.If}
		field := fmt.Sprintf("steps[%d]", i)
		if sy.Timeout != "" {
			d, err := time.ParseDuration(sy.Timeout)
			if err != nil {
				l, c := pos(field + ".timeout")
				errs = append(errs, verr(l, c, field+".timeout", err))
			}
			s.Timeout = d
		}
		if sy.Retry != nil {
			s.Retry.Attempts = sy.Retry.Attempts
			if sy.Retry.Backoff != "" {
				d, err := time.ParseDuration(sy.Retry.Backoff)
				if err != nil {
					l, c := pos(field + ".retry.backoff")
					errs = append(errs, verr(l, c, field+".retry.backoff", err))
				}
				s.Retry.Backoff = d
			}
		}
		s.Input = normalizeYAML(s.Input).(map[string]any)
		p.Steps = append(p.Steps, s)
	}
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func countDocs(f *ast.File) int {
	n := 0
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			n++
		}
	}
	return n
}

type visitorFunc func(ast.Node) bool

func (f visitorFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// normalizeYAML turns what the YAML decoder made into JSON-shaped values:
// map[string]any, []any, and scalars.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any(nil)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeValue(e)
		}
		return out
	}
	return v
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}

// yamlError turns a go-yaml error into a *ValidationError with its position.
func yamlError(filename string, err error) error {
	ve := &ValidationError{File: filename}
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			ve.Line, ve.Column = tk.Position.Line, tk.Position.Column
		}
		ve.Err = fmt.Errorf("%w: %s", ErrInvalid, ye.GetMessage())
		return ve
	}
	ve.Err = fmt.Errorf("%w: %v", ErrInvalid, err)
	return ve
}

// position finds the line and column of a field ("steps[2].input.pid") in
// the file, falling back to its nearest parent that exists.
func position(f *ast.File, field string) (int, int) {
	for field != "" {
		p, err := yaml.PathString("$." + field)
		if err == nil {
			if n, err := p.FilterFile(f); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		i := strings.LastIndexAny(field, ".[")
		if i <= 0 {
			break
		}
		field = field[:i]
	}
	return 0, 0
}

// fieldAt returns the field path ("steps[0].bogus") of the mapping key or
// value at line:col under n (prefix is n's own path), or "" when no key
// or value starts there.
func fieldAt(n ast.Node, prefix string, line, col int) string {
	at := func(n ast.Node) bool {
		tk := n.GetToken()
		return tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col
	}
	join := func(key string) string {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			if f := fieldAt(mv, prefix, line, col); f != "" {
				return f
			}
		}
	case *ast.MappingValueNode:
		if n.Key == nil || n.Key.GetToken() == nil {
			return ""
		}
		path := join(n.Key.GetToken().Value)
		if at(n.Key) || n.Value != nil && at(n.Value) {
			return path
		}
		if n.Value != nil {
			return fieldAt(n.Value, path, line, col)
		}
	case *ast.SequenceNode:
		for i, v := range n.Values {
			path := fmt.Sprintf("%s[%d]", prefix, i)
			if v == nil {
				continue
			}
			if at(v) {
				return path
			}
			if f := fieldAt(v, path, line, col); f != "" {
				return f
			}
		}
	}
	return ""
}
