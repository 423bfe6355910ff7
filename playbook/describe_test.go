package playbook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

func TestDescribeActions(t *testing.T) {
	d, err := playbook.DescribeActions(context.Background(), "util", plugin.Actions{
		"greet": utilActions["greet"],
		"post":  utilActions["post"],
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "util" || len(d.Actions) != 2 || d.Actions[0].Name != "greet" || d.Actions[1].Name != "post" {
		t.Fatalf("description %+v", d)
	}
	if d.Actions[0].Description != "says hello" || d.Actions[0].Version != "2" {
		t.Errorf("greet: %+v", d.Actions[0])
	}
	fields, err := playbook.Fields(d.Actions[1].InputSchema)
	if err != nil {
		t.Fatal(err)
	}
	want := []playbook.Field{
		{Path: "method", Type: "string", Default: "POST", Enum: []any{"POST", "PUT"}, Description: "HTTP method"},
		{Path: "retries", Type: "integer", Default: 3.0},
		{Path: "tags", Type: "array of string"},
		{Path: "token", Type: "string", Secret: true, Description: "bearer token"},
		{Path: "url", Type: "string", Required: true, Format: "uri", Description: "where to post"},
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("post input fields (-want +got):\n%s", diff)
	}
	text := d.Text()
	for _, s := range []string{
		"plugin util",
		"action greet (version 2)\n  says hello\n",
		"url      string (required; format uri): where to post",
		`method   string (default "POST"; one of "POST", "PUT"): HTTP method`,
		"token    string (secret): bearer token",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("Text() lacks %q:\n%s", s, text)
		}
	}
	md := d.Markdown()
	for _, s := range []string{
		"# Plugin `util`",
		"## Action `post`",
		"| `url` | string | required; format uri | where to post |",
		"| `message` | string |  |  |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown() lacks %q:\n%s", s, md)
		}
	}
	// The JSON form is what -describe -json prints: it reads back.
	b, _ := json.Marshal(d)
	var back playbook.PluginDescription
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestFieldsNested(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{
		"suspects":{"type":"array","items":{"type":"object","properties":{"pid":{"type":"integer"},"exe":{"type":"string"}},"required":["pid"]}},
		"labels":{"type":"object","additionalProperties":{"type":"string"}},
		"raw":{}
	}}`)
	fields, err := playbook.Fields(schema)
	if err != nil {
		t.Fatal(err)
	}
	want := []playbook.Field{
		{Path: "labels", Type: "map of string"},
		{Path: "raw", Type: "any"},
		{Path: "suspects", Type: "array of object"},
		{Path: "suspects[].exe", Type: "string"},
		{Path: "suspects[].pid", Type: "integer", Required: true},
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if _, err := playbook.Fields(json.RawMessage(`{`)); err == nil {
		t.Error("a broken schema gave no error")
	}
}

func TestDescribeStartedPlugin(t *testing.T) {
	t.Setenv(envMode, "versioned")
	path, sum := copyBinary(t, "")
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(context.Background(), playbook.External("util", path, sum, envMode+"=versioned")); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("util")
	d := p.Describe()
	if d.Version != "v1.4.2" || d.Description != "test utilities" || d.Path != path || d.SHA256 != sum || d.Protocol != 1 {
		t.Errorf("description %+v", d)
	}
	if !strings.HasPrefix(d.Text(), "plugin util v1.4.2 (protocol 1)\n  test utilities\n") {
		t.Errorf("Text():\n%s", d.Text())
	}
}
