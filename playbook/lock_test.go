package playbook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

func TestLockPath(t *testing.T) {
	for in, want := range map[string]string{
		"dir/respond.yaml": "dir/respond.lock.json",
		"pb.yml":           "pb.lock.json",
		"pb":               "pb.lock.json",
	} {
		if got := playbook.LockPath(in); got != want {
			t.Errorf("LockPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLockRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pb.lock.json")
	l, err := playbook.ReadLock(path)
	if err != nil {
		t.Fatalf("missing lock file: %v", err)
	}
	if len(l.Plugins) != 0 {
		t.Fatalf("missing lock file read as %+v", l)
	}
	sum := strings.Repeat("ab", 32)
	if !l.Pin("greeter", "1.2.0", strings.ToUpper(sum), 1) {
		t.Error("Pin of a new plugin reported no change")
	}
	if l.Pin("greeter", "1.2.0", sum, 1) {
		t.Error("Pin of the same pin reported a change")
	}
	if err := l.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "{\n  \"version\": 1,\n  \"plugins\": {\n    \"greeter\": {\n      \"version\": \"1.2.0\",\n      \"sha256\": \"" + sum + "\",\n      \"protocol\": 1\n    }\n  }\n}\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("lock file (-want +got):\n%s", diff)
	}
	back, err := playbook.ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, back); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

func TestParseLockRefusesBadFiles(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      "{",
		"unknown field": `{"version":1,"plugins":{},"extra":1}`,
		"format":        `{"version":2,"plugins":{}}`,
		"short sha":     `{"version":1,"plugins":{"g":{"version":"1","sha256":"abc"}}}`,
		"bad name":      `{"version":1,"plugins":{"../g":{"version":"1","sha256":"` + strings.Repeat("0", 64) + `"}}}`,
		"two documents": `{"version":1,"plugins":{}} {}`,
	} {
		if _, err := playbook.ParseLock("x.lock.json", []byte(body)); !errors.Is(err, playbook.ErrLockFile) {
			t.Errorf("%s: err = %v, want ErrLockFile", name, err)
		}
	}
}

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"version":1,"plugins":{"g":{"version":"1","sha256":"` + strings.Repeat("a", 64) + `","protocol":1}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := playbook.ParseLock("f", b)
		if err != nil {
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := playbook.ParseLock("f", out)
		if err != nil {
			t.Fatalf("a lock ParseLock accepted does not read back: %v\n%s", err, out)
		}
		if diff := cmp.Diff(l, back); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func TestSplitPlugins(t *testing.T) {
	src := `name: hello
# the plugins this playbook runs
plugins:
  greeter:
    path: bin/greeter
    sha256: ` + strings.Repeat("A", 64) + `
    min_version: "1.2"
    env: [GREETER_TOKEN]

steps:
  - id: hello
    plugin: greeter
    action: greet
    bogus: 1
`
	rest, srcs, err := playbook.SplitPlugins("pb.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []playbook.PluginSource{{Name: "greeter", Path: "bin/greeter", SHA256: strings.Repeat("A", 64), MinVersion: "1.2", Env: []string{"GREETER_TOKEN"}}}
	if diff := cmp.Diff(want, srcs); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if strings.Count(string(rest), "\n") != strings.Count(src, "\n") {
		t.Errorf("the rest has other lines than the file:\n%s", rest)
	}
	// The rest's errors are at the file's own lines: the unknown key is on
	// line 14, after the plugins section.
	_, err = playbook.Parse("pb.yaml", rest)
	var ve *playbook.ValidationError
	if !errors.As(err, &ve) || ve.Line != 14 {
		t.Errorf("Parse(rest) = %v, want a ValidationError at line 14", err)
	}

	for name, bad := range map[string]string{
		"no path":       "name: x\nplugins:\n  g: {sha256: " + strings.Repeat("a", 64) + "}\nsteps: []\n",
		"short sha":     "name: x\nplugins:\n  g: {path: g, sha256: abc}\nsteps: []\n",
		"unknown field": "name: x\nplugins:\n  g: {path: g, url: x}\nsteps: []\n",
		"bad env":       "name: x\nplugins:\n  g: {path: g, env: [\"A=1\"]}\nsteps: []\n",
		"twice":         "name: x\nplugins: {}\nplugins: {}\n",
		"not a name":    "name: x\nplugins:\n  \"a b\": {path: g}\n",
		"not a mapping": "name: x\nplugins: [a]\n",
	} {
		_, _, err := playbook.SplitPlugins("pb.yaml", []byte(bad))
		if !errors.As(err, &ve) || !errors.Is(err, playbook.ErrInvalid) || ve.Line == 0 {
			t.Errorf("%s: err = %v, want a located ValidationError", name, err)
		}
	}
}

// copyBinary copies the test binary, appending extra bytes (which leave it
// runnable and change its SHA-256).
func copyBinary(t *testing.T, extra string) (string, string) {
	t.Helper()
	exe, _ := selfExe(t)
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(path, append(b, extra...), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := playbook.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}

func TestLockRefusesAnotherBinary(t *testing.T) {
	path, sum := copyBinary(t, "")
	lockFile := filepath.Join(t.TempDir(), "pb.lock.json")
	l, _ := playbook.ReadLock(lockFile)
	l.Pin("util", "v1.4.2", sum, 1)

	srcs := []playbook.PluginSource{{Name: "util", Path: path}}
	specs, err := l.LockedSpecs(lockFile, srcs, false)
	if err != nil {
		t.Fatalf("the locked binary: %v", err)
	}
	if len(specs) != 1 || specs[0].SHA256 != sum {
		t.Fatalf("specs %+v, want util pinned to %s", specs, sum)
	}

	// The binary is replaced by another one: refused, naming plugin,
	// expected and got, before anything starts.
	other, otherSum := copyBinary(t, "another build")
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	_, err = l.LockedSpecs(lockFile, srcs, false)
	var le *playbook.LockError
	if !errors.As(err, &le) || !errors.Is(err, playbook.ErrLockMismatch) {
		t.Fatalf("err = %v, want a *LockError", err)
	}
	if diff := cmp.Diff(&playbook.LockError{File: lockFile, Plugin: "util", Field: "sha256", Want: sum, Got: otherSum}, le); diff != "" {
		t.Errorf("LockError (-want +got):\n%s", diff)
	}
	for _, s := range []string{"util", sum, otherSum, "-upgrade"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	// -upgrade takes the new binary.
	specs, err = l.LockedSpecs(lockFile, srcs, true)
	if err != nil || specs[0].SHA256 != otherSum {
		t.Fatalf("upgrade: %+v, %v", specs, err)
	}
	// A SHA-256 given with the source is checked too.
	srcs[0].SHA256 = sum
	if _, err := l.LockedSpecs(lockFile, srcs, true); !errors.Is(err, playbook.ErrChecksumMismatch) {
		t.Errorf("given SHA-256 not matching: %v, want ErrChecksumMismatch", err)
	}
}

func TestLockRecordsAndChecksVersion(t *testing.T) {
	t.Setenv(envMode, "versioned") // the plugin serves utilActions as version v1.4.2
	path, _ := copyBinary(t, "")
	lockFile := filepath.Join(t.TempDir(), "pb.lock.json")
	l, _ := playbook.ReadLock(lockFile)
	l.Pin("stale", "0.1", strings.Repeat("0", 64), 1)
	srcs := []playbook.PluginSource{{Name: "util", Path: path, Env: []string{envMode}}}
	specs, err := l.LockedSpecs(lockFile, srcs, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := playbook.NewHost(playbook.HostOptions{})
	defer h.Close()
	if err := h.Start(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	changed, err := l.Record(lockFile, h, specs, false)
	if err != nil || !changed {
		t.Fatalf("Record of a new plugin: changed %v, err %v", changed, err)
	}
	want := playbook.LockedPlugin{Version: "v1.4.2", SHA256: specs[0].SHA256, Protocol: 1}
	if diff := cmp.Diff(want, l.Plugins["util"]); diff != "" {
		t.Errorf("pinned (-want +got):\n%s", diff)
	}
	if changed, err := l.Record(lockFile, h, specs, false); err != nil || changed {
		t.Errorf("Record again: changed %v, err %v; want no change", changed, err)
	}

	// The lock says another version: refused (same binary, so only a lock
	// edited by hand or a plugin reporting another version gets here).
	l.Plugins["util"] = playbook.LockedPlugin{Version: "v1.3.0", SHA256: specs[0].SHA256, Protocol: 1}
	_, err = l.Record(lockFile, h, specs, false)
	var le *playbook.LockError
	if !errors.As(err, &le) || le.Field != "version" || le.Want != "v1.3.0" || le.Got != "v1.4.2" {
		t.Fatalf("err = %v, want a version LockError", err)
	}
	// -upgrade rewrites it and drops the plugin no longer used.
	changed, err = l.Record(lockFile, h, specs, true)
	if err != nil || !changed {
		t.Fatalf("upgrade: changed %v, err %v", changed, err)
	}
	if diff := cmp.Diff([]string{"util"}, l.Names()); diff != "" {
		t.Errorf("after upgrade (-want +got):\n%s", diff)
	}
	if l.Plugins["util"].Version != "v1.4.2" {
		t.Errorf("after upgrade: %+v", l.Plugins["util"])
	}
}

func FuzzSplitPlugins(f *testing.F) {
	f.Add([]byte("name: x\nplugins:\n  g: {path: g}\nsteps:\n  - id: a\n"))
	f.Add([]byte("plugins: {g: {path: /bin/g, env: [A]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rest, _, err := playbook.SplitPlugins("f.yaml", b)
		if err != nil {
			return
		}
		if strings.Count(string(rest), "\n") != strings.Count(string(b), "\n") {
			t.Errorf("rest has %d lines, the input %d", strings.Count(string(rest), "\n"), strings.Count(string(b), "\n"))
		}
		_, _ = playbook.Parse("f.yaml", rest)
	})
}
