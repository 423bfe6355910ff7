package persist

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
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
