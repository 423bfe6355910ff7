package persist

import (
	"crypto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

// byPath indexes findings by path (the first finding at line 0 wins, else
// the first one).
func byPath(fs []Finding) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range fs {
		if old, ok := m[f.Path]; !ok || (old.Line != 0 && f.Line == 0) {
			m[f.Path] = f
		}
	}
	return m
}

// On a stock Amazon Linux root the rpm database says which package each
// file came from and that it is unchanged.
func TestAmazonLinuxRpmStock(t *testing.T) {
	dir := build(t, hosttest.AmazonLinux2023())
	got := map[string]string{}
	for p, f := range byPath(find(t, dir, time.Time{})) {
		if f.Severity > Info {
			t.Errorf("stock: %s", f)
		}
		if f.Package != "" {
			got[p] = f.Package + " stock=" + boolWord(f.Stock)
		}
	}
	want := map[string]string{
		"/etc/cron.d/0hourly":       "cronie stock=yes",
		"/etc/anacrontab":           "cronie-anacron stock=yes",
		"/etc/cron.hourly/0anacron": "cronie-anacron stock=yes",
		"/etc/cron.daily/logrotate": "logrotate stock=yes",
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			delete(got, p) // other inventory (units, profiles) may carry packages too
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("package verdicts (-want +got):\n%s", d)
	}
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// A packaged file that no longer matches rpm's digest is told apart from a
// stock one: a replaced ps is a trojan (high), an edited cron script says
// which package it differs from, and a script no package installed is low.
func TestAmazonLinuxRpmChanged(t *testing.T) {
	procps := hosttest.Package{Name: "procps-ng", Files: []string{"/usr/bin/ps"}}
	base := hosttest.AmazonLinux2023().With(hosttest.Entry{Path: "/usr/bin/ps", Data: hosttest.FakeELF("procps ps")})
	base = base.WithRpm(append(hosttest.AmazonLinux2023Packages(), procps)...)

	t.Run("stock ps", func(t *testing.T) {
		for _, f := range find(t, build(t, base), time.Time{}) {
			if f.Severity > Info {
				t.Errorf("stock: %s", f)
			}
		}
	})
	tree := base.With(
		hosttest.Entry{Path: "/usr/bin/ps", Data: hosttest.FakeELF("ps that hides kdevtmpfsi")},
		hosttest.Entry{Path: "/etc/cron.hourly/0anacron", Data: mustData(base, "/etc/cron.hourly/0anacron") + "/usr/bin/logger anacron ran\n"},
		hosttest.Entry{Path: "/etc/cron.daily/backup", Data: "#!/bin/sh\n/usr/bin/logger backup\n"},
	)
	m := byPath(find(t, build(t, tree), time.Time{}))
	ps, ok := m["/usr/bin/ps"]
	if !ok || ps.Kind != KindPackageFile || ps.Severity < High || ps.Package != "procps-ng" {
		t.Errorf("replaced ps: %+v (found %v)", ps, ok)
	} else if !strings.Contains(strings.Join(ps.Reasons, " "), "SHA-256") {
		t.Errorf("replaced ps reasons name no SHA-256 digest: %q", ps.Reasons)
	}
	// 0anacron is not %config: a change to it is unexpected.
	ana := m["/etc/cron.hourly/0anacron"]
	if ana.Stock || ana.Package != "cronie-anacron" || ana.Severity != Low || !strings.Contains(strings.Join(ana.Reasons, " "), "differs from the copy installed by package cronie-anacron") {
		t.Errorf("edited 0anacron: %+v", ana)
	}
	if b := m["/etc/cron.daily/backup"]; b.Severity != Low || !strings.Contains(strings.Join(b.Reasons, " "), "not installed by any package") {
		t.Errorf("unpackaged cron.daily script: %+v", b)
	}
}

func maxSeverity(fs []Finding, p string) Severity {
	var sev Severity
	for _, f := range fs {
		if f.Path == p && f.Severity > sev {
			sev = f.Severity
		}
	}
	return sev
}

func mustData(t hosttest.Tree, p string) string {
	e, _ := t.Get(p)
	return e.Data
}

// An rpm database that cannot be read is a finding of its own, and the
// rest of the root is still examined by content.
func TestRpmDatabaseUnreadable(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.sqlite")
	if err := os.WriteFile(outside, []byte("SQLite format 3\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		e    hosttest.Entry
		sev  Severity
	}{
		{"corrupt", hosttest.Entry{Path: "/var/lib/rpm/rpmdb.sqlite", Data: "SQLite format 3\x00 but then garbage"}, Medium},
		{"link-out", hosttest.Entry{Path: "/var/lib/rpm/rpmdb.sqlite", Link: "../../../../../../../../.." + outside}, High},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := hosttest.Work32(hosttest.AmazonLinux2023().With(c.e), "/home/ec2-user")
			fs := find(t, build(t, tree), time.Time{})
			var db []Finding
			for _, f := range fs {
				if f.Kind == KindPackageDB {
					db = append(db, f)
				}
			}
			if len(db) != 1 || !strings.HasPrefix(db[0].Path, "/var/lib/rpm") || db[0].Severity != c.sev {
				t.Errorf("database findings: %v, want one %v under /var/lib/rpm", db, c.sev)
			}
			if sev := maxSeverity(fs, "/var/spool/cron/root"); sev < Critical {
				t.Errorf("the work32 crontab is no longer found (%v):\n%s", sev, dump(fs))
			}
		})
	}
}

// The real rpm (Debian's rpm 4.18 writes SQLite databases) installs a
// package into a root; Find then takes its files for stock, and a replaced
// binary for a trojan.
func TestRealRpmRoot(t *testing.T) {
	testenv.LookPath(t, "rpm", "rpm")
	testenv.LookPath(t, "rpmbuild", "rpm")
	work := t.TempDir()
	spec := filepath.Join(work, "procps-ng.spec")
	if err := os.WriteFile(spec, []byte(`Name: procps-ng
Version: 3.3.17
Release: 14.amzn2023
Summary: test package
License: GPL
BuildArch: noarch
%description
test package
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/cron.d
printf '\177ELFprocps ps\n' > %{buildroot}/usr/bin/ps
chmod 755 %{buildroot}/usr/bin/ps
printf 'SHELL=/bin/bash\n*/10 * * * * root /usr/bin/ps -e >/dev/null\n' > %{buildroot}/etc/cron.d/pscheck
%files
/usr/bin/ps
%config(noreplace) /etc/cron.d/pscheck
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "HOME="+work)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("rpmbuild", "-bb", "--define", "_topdir "+filepath.Join(work, "top"), "--define", "_build_id_links none", spec)
	rpms, _ := filepath.Glob(filepath.Join(work, "top/RPMS/noarch/*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpmbuild made %v", rpms)
	}
	root := build(t, hosttest.AmazonLinux2023().Without("/var/lib/rpm/rpmdb.sqlite"))
	run("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
	run("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", "--nosignature", rpms[0])

	m := byPath(find(t, root, time.Time{}))
	if c := m["/etc/cron.d/pscheck"]; c.Package != "procps-ng" || !c.Stock || c.Severity > Info {
		t.Errorf("installed cron.d file: %+v", c)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/ps"), []byte("\x7fELFps that hides kdevtmpfsi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m = byPath(find(t, root, time.Time{}))
	if ps := m["/usr/bin/ps"]; ps.Kind != KindPackageFile || ps.Severity < High || ps.Package != "procps-ng" {
		t.Errorf("replaced ps under a real rpm database: %+v", ps)
	}
}

// Two packages owning one path with different contents (a multilib pair,
// conflicting packages): the file is stock when it matches either, and
// dpkg's record of a path stands over rpm's.
func TestRpmSharedPathEitherOwner(t *testing.T) {
	sum := func(s string) string { return digest(crypto.SHA256, []byte(s)) }
	const unit = "/usr/lib/systemd/system/crond.service"
	db := &pkgDB{files: map[string]pkgFile{}}
	db.addRpm([]rpmdb.Package{
		{Name: "cronie", Files: []rpmdb.File{{Path: unit, Digest: sum("a"), Algo: crypto.SHA256}}},
		{Name: "cronie-compat", Files: []rpmdb.File{{Path: unit, Digest: sum("b"), Algo: crypto.SHA256}}},
		{Name: "cronie-i686", Files: []rpmdb.File{{Path: unit, Digest: sum("a"), Algo: crypto.SHA256}}},
	})
	type verdict struct {
		Pkg          string
		Owned, Stock bool
	}
	for content, want := range map[string]verdict{
		"a": {"cronie", true, true},
		"b": {"cronie-compat", true, true},
		"c": {"cronie", true, false},
	} {
		pkg, owned, stock, _ := db.check(unit, []byte(content))
		if d := cmp.Diff(want, verdict{pkg, owned, stock}); d != "" {
			t.Errorf("content %q (-want +got):\n%s", content, d)
		}
	}
	dpkg := &pkgDB{files: map[string]pkgFile{"etc/crontab": {pkg: "cron", digest: digest(0, []byte("x"))}}}
	dpkg.addRpm([]rpmdb.Package{{Name: "crontabs", Files: []rpmdb.File{{Path: "/etc/crontab", Digest: sum("y"), Algo: crypto.SHA256}}}})
	if pkg, _, stock, _ := dpkg.check("/etc/crontab", []byte("x")); pkg != "cron" || !stock {
		t.Errorf("dpkg's record did not stand: %s stock=%v", pkg, stock)
	}
}
