package playbook_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/abusekit/abusekit/playbook"
)

func TestLoadPlaybook(t *testing.T) {
	pb, err := playbook.Load("testdata/portscan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &playbook.Playbook{
		Name:        "portscan-response",
		Description: "stop what a port-scan report is about",
		Inputs: map[string]playbook.Input{
			"root": {Description: "host root to inspect", Default: "/"},
			"case": {Required: true},
		},
		Steps: []playbook.Step{
			{ID: "detect", Plugin: "scan", Action: "detect", Timeout: 2 * time.Minute,
				Input: map[string]any{"root": "${{ inputs.root }}", "ports": []any{uint64(22), uint64(3389)}}},
			{ID: "stop", Plugin: "scan", Action: "stop", If: "steps.detect.suspects",
				Input: map[string]any{"pid": "${{ steps.detect.suspects[0].pid }}",
					"start_ticks": "${{ steps.detect.suspects[0].start_ticks }}",
					"exe_dev":     "${{ steps.detect.suspects[0].exe_dev }}",
					"exe_ino":     "${{ steps.detect.suspects[0].exe_ino }}",
					"reason":      "suspect ${{ steps.detect.suspects[0].exe }} for ${{ incident }}"},
				Retry: playbook.Retry{Attempts: 3, Backoff: time.Second}},
		},
	}
	if d := cmp.Diff(want, pb, cmpopts.IgnoreUnexported(playbook.Playbook{})); d != "" {
		t.Errorf("playbook (-want +got):\n%s", d)
	}
}

func TestLoadErrorsNameFileLineField(t *testing.T) {
	tests := []struct {
		file  string
		line  int
		field string
		msg   string
	}{
		{"bad-ref.yaml", 7, "steps[0].input.pid", `step "later", which is not an earlier step`},
		{"missing-plugin.yaml", 3, "steps[0].plugin", "required"},
		{"unknown-field.yaml", 6, "steps[0].timeuot", "timeuot"},
		{"unknown-input-field.yaml", 5, "inputs.pid.defualt", "defualt"},
		{"bad-timeout.yaml", 6, "steps[0].timeout", "soon"},
		{"alias.yaml", 2, "", "anchors and aliases"},
		{"undeclared-input.yaml", 9, "steps[0].input.pid", `input "pdi", which the playbook does not declare`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			_, err := playbook.Load(path)
			if !errors.Is(err, playbook.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var ve *playbook.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err %T is no *ValidationError", err)
			}
			if ve.File != path || ve.Line != tt.line || ve.Field != tt.field {
				t.Errorf("at %s:%d field %q, want %s:%d field %q (%v)", ve.File, ve.Line, ve.Field, path, tt.line, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "playbook: "+path+":") {
				t.Errorf("error %q lacks %q or the file position", err, tt.msg)
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	tests := map[string]string{
		"empty":          "",
		"two documents":  "name: a\n---\nname: b\n",
		"scalar":         "just text",
		"no steps":       "name: x\n",
		"bad name":       "name: 'a b'\nsteps: [{id: s, plugin: p, action: a}]\n",
		"duplicate id":   "name: x\nsteps: [{id: s, plugin: p, action: a}, {id: s, plugin: p, action: a}]\n",
		"self ref":       "name: x\nsteps: [{id: s, plugin: p, action: a, input: {x: '${{ steps.s.y }}'}}]\n",
		"bad if":         "name: x\nsteps: [{id: s, plugin: p, action: a, if: 'steps.'}]\n",
		"unclosed":       "name: x\nsteps: [{id: s, plugin: p, action: a, input: {x: '${{ inputs.y'}}]\n",
		"bad root":       "name: x\nsteps: [{id: s, plugin: p, action: a, input: {x: '${{ env.HOME }}'}}]\n",
		"retry too many": "name: x\nsteps: [{id: s, plugin: p, action: a, retry: {attempts: 1000}}]\n",
		"syntax":         "name: [\n",
		"too large":      "name: x\n#" + strings.Repeat("x", playbook.MaxFileSize),
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			pb, err := playbook.Parse("t.yaml", []byte(src))
			if !errors.Is(err, playbook.ErrInvalid) {
				t.Fatalf("Parse = %v, %v; want ErrInvalid", pb, err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	_, err := playbook.New("x", playbook.Step{ID: "a", Plugin: "p"}, playbook.Step{ID: "a", Plugin: "p", Action: "b"})
	var ve *playbook.ValidationError
	if !errors.As(err, &ve) || ve.File != "" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"steps[0].action: invalid playbook: required", `steps[1].id: invalid playbook: "a" is already the id of steps[0]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, err := playbook.Parse("fuzz.yaml", data)
		if err != nil {
			var ve *playbook.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is no *ValidationError", err, err)
			}
			return
		}
		if err := pb.Validate(); err != nil {
			t.Fatalf("parsed playbook does not validate: %v", err)
		}
	})
}
