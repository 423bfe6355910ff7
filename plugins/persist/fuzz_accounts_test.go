package persist

import (
	"strings"
	"testing"
)

func FuzzParseCloudUsers(f *testing.F) {
	f.Add([]byte("users:\n   - default\n   - name: ops\n     groups: sudo, docker\nsystem_info:\n   default_user:\n     name: admin\n     groups: [adm, sudo]\n     shell: /bin/bash\n"))
	f.Add([]byte("users: [default, {name: x, groups: [a, 1, {b: c}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		us := parseCloudUsers(data)
		if len(us) > 65 {
			t.Fatalf("%d users", len(us))
		}
		for _, u := range us {
			if u.Name == "" || strings.ContainsAny(u.Name, ":\n,") {
				t.Fatalf("name %q", u.Name)
			}
		}
	})
}

// FuzzEditAccountLine: taking names out of a group or gshadow line
// keeps its other fields and the names not taken out, in order, and
// never adds a line break.
func FuzzEditAccountLine(f *testing.F) {
	f.Add("sudo:x:27:admin,hilde", "hilde")
	f.Add("sudo:*:hilde:admin, hilde\r", "hilde")
	f.Add("bad", "x")
	f.Fuzz(func(t *testing.T, line, name string) {
		if strings.Contains(line, "\n") {
			return // a line, as splitLines gives it
		}
		out := dropListed(line, map[string]bool{name: true}, 2, 3)
		if strings.Count(out, "\n") != strings.Count(line, "\n") {
			t.Fatalf("line breaks changed: %q -> %q", line, out)
		}
		if strings.Count(out, ":") != strings.Count(line, ":") {
			t.Fatalf("fields changed: %q -> %q", line, out)
		}
		if name != "" && name == strings.TrimSpace(name) && !strings.ContainsAny(name, ",:\r") && (listed(out, name, 2) || listed(out, name, 3)) {
			t.Fatalf("%q still listed in %q", name, out)
		}
	})
}

// FuzzRestartNo: the restart policy edit changes the policy's name only.
func FuzzRestartNo(f *testing.F) {
	f.Add(`{"Binds":["/:/host"],"RestartPolicy":{"Name":"always","MaximumRetryCount":0},"Privileged":true}`)
	f.Add(`{"RestartPolicy" : { "Name" : "unless-stopped" }}`)
	f.Fuzz(func(t *testing.T, line string) {
		out, old, ok := restartNo(line)
		if !ok {
			if out != line {
				t.Fatalf("changed without a policy: %q", out)
			}
			return
		}
		if len(out) != len(line)-len(old)+2 || !strings.Contains(out, `"no"`) {
			t.Fatalf("%q -> %q (old %q)", line, out, old)
		}
	})
}

// FuzzEditLines: rewriting one line changes that line only (its line
// break kept), every other byte stays.
func FuzzEditLines(f *testing.F) {
	f.Add([]byte("root:x:0:0::/root:/bin/bash\ngames:x:5:60::/usr/games:/tmp/.sh\n"), 2, "games:x:5:60::/usr/games:/usr/sbin/nologin")
	f.Add([]byte("a\r\nb"), 2, "c")
	f.Fuzz(func(t *testing.T, data []byte, n int, repl string) {
		lines := splitLines(data)
		if n < 1 || n > len(lines) || strings.Contains(repl, "\n") {
			return
		}
		out, _, err := dropLines(data, []LineChange{{Line: n, Content: lines[n-1], New: &repl}})
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string(nil), lines...)
		want[n-1] = repl
		w := strings.Join(want, "\n")
		if len(data) > 0 && data[len(data)-1] == '\n' {
			w += "\n"
		}
		if string(out) != w {
			t.Fatalf("edit line %d of %q to %q: %q, want %q", n, data, repl, out, w)
		}
	})
}
