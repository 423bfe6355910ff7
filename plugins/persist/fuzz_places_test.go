package persist

import (
	"strings"
	"testing"
)

func FuzzParseGroup(f *testing.F) {
	seeds(f, "/etc/group")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, g := range parseGroup(data) {
			if g.Line < 1 || g.Line > n {
				t.Fatalf("line %d of %d", g.Line, n)
			}
			if g.Err == nil && (g.Name == "" || strings.Contains(g.Name, ":")) {
				t.Fatalf("name %q", g.Name)
			}
			for _, m := range g.Members {
				if m == "" || strings.ContainsAny(m, ",:") {
					t.Fatalf("member %q", m)
				}
			}
		}
	})
}

func FuzzParseSupervisor(f *testing.F) {
	f.Add([]byte("[program:a]\ncommand=/usr/bin/a -x ; c\n  --more\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, p := range parseSupervisor(data) {
			if p.Line < 1 || p.Line > n {
				t.Fatalf("line %d of %d", p.Line, n)
			}
			if len(p.Command) > len(data) {
				t.Fatalf("command longer than its file: %d > %d", len(p.Command), len(data))
			}
		}
	})
}

func FuzzParseAPTConf(f *testing.F) {
	seeds(f, "/etc/apt/apt.conf.d/70debconf", "/etc/apt/apt.conf.d/docker-clean", "/etc/apt/apt.conf.d/01autoremove")
	f.Add([]byte("DPkg { Post-Invoke { \"x\"; }; };\n/* c */ APT::Update::Pre-Invoke {\"y\";};\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, h := range parseAPTConf(data) {
			if h.Line < 1 || h.Line > n {
				t.Fatalf("line %d of %d", h.Line, n)
			}
			if !aptHookKeys[strings.ToLower(h.Key)] {
				t.Fatalf("key %q", h.Key)
			}
			if !strings.Contains(string(data), h.Command) {
				t.Fatalf("command %q not in the file", h.Command)
			}
		}
	})
}

func FuzzParseContainer(f *testing.F) {
	f.Add([]byte(`{"ID":"1","Name":"/n","Path":"/bin/sh","Args":["-c","a b"],"Config":{"Image":"i","Cmd":["x"]}}`), []byte(`{"RestartPolicy":{"Name":"always"},"Binds":["/:/h"]}`))
	f.Fuzz(func(t *testing.T, config, host []byte) {
		ci, err := parseContainer(config, host)
		if err != nil {
			return
		}
		_ = analyzeCommand(ci.Command)
	})
}
