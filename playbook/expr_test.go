package playbook

import (
	"encoding/json"
	"testing"
)

func TestConditions(t *testing.T) {
	out, _ := decodeJSON([]byte(`{"suspects":[{"pid":4242,"exe":"a==b"}],"none":[],"n":0,"name":"x"}`))
	sc := &scope{incident: "case-1", playbook: "p", outputs: map[string]any{"d": out}, inputs: map[string]any{"flag": true}}
	tests := map[string]bool{
		"steps.d.suspects":                                    true,
		"!steps.d.suspects":                                   false,
		"steps.d.none":                                        false,
		"steps.d.n":                                           false,
		"steps.d.missing":                                     false,
		"steps.d.suspects[3].pid":                             false,
		"steps.d.suspects[0].pid == 4242":                     true,
		"steps.d.suspects[0].pid == 4242.0":                   true,
		"steps.d.suspects[0].pid != 4242":                     false,
		`steps.d.suspects[0].exe == "a==b"`:                   true,
		`steps.d.name == "x"`:                                 true,
		`incident == "case-1"`:                                true,
		"inputs.flag":                                         true,
		"${{ inputs.flag }}":                                  true,
		"steps.d.none == []":                                  true,
		"inputs.flag && steps.d.suspects":                     true,
		"inputs.flag && steps.d.none":                         false,
		"steps.d.none && inputs.flag":                         false,
		`inputs.flag && steps.d.name == "x" && !steps.d.none`: true,
		`steps.d.suspects[0].exe == "a&&b" && inputs.flag`:    false,
		`steps.d.name != "&&" && inputs.flag`:                 true,
	}
	for src, want := range tests {
		c, err := parseCondition(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := sc.eval(c); got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
	for _, bad := range []string{"", "steps", "steps.", "x.y", "steps.d ==", `"unterminated == 1`, "steps.d[01x]", "inputs.flag &&", "&& inputs.flag", "inputs.flag && x.y"} {
		if _, err := parseCondition(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	out, _ := decodeJSON([]byte(`{"suspects":[{"pid":4242,"exe":"/tmp/x"}]}`))
	sc := &scope{incident: "case-1", outputs: map[string]any{"d": out}}
	in := map[string]any{
		"pid":   "${{ steps.d.suspects[0].pid }}",
		"why":   "kill ${{ steps.d.suspects[0].exe }} (${{ steps.d.suspects[0].pid }}) for ${{ incident }}",
		"list":  []any{" ${{ steps.d.suspects[0] }} "},
		"plain": "no refs",
	}
	v, err := sc.resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	want := `{"list":[{"exe":"/tmp/x","pid":4242}],"pid":4242,"plain":"no refs","why":"kill /tmp/x (4242) for case-1"}`
	if string(b) != want {
		t.Errorf("resolved %s\nwant     %s", b, want)
	}
	if _, err := sc.resolve(map[string]any{"x": "${{ steps.d.suspects[1].pid }}"}); err == nil {
		t.Error("out-of-range reference resolved")
	}
	if _, err := sc.resolve(map[string]any{"x": "${{ steps.other.y }}"}); err == nil {
		t.Error("reference to a step without output resolved")
	}
}
