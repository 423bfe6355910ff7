package hosttest_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tree := hosttest.Tree{
		{Path: "/etc/a", Data: "one"},
		{Path: "/etc/a", Data: "two", Mode: 0o600, Mtime: when},
		{Path: "/etc/s.sh", Data: "#!/bin/sh\n"},
		{Path: "/lib", Link: "usr/lib"},
		{Path: "/usr/lib/x", Data: "x", Xattrs: map[string]string{"user.k": "v"}},
		{Path: "/etc/i", Data: "i", Immutable: true},
	}
	err := hosttest.Write(dir, tree)
	if errors.Is(err, hosttest.ErrUnsupported) {
		t.Skipf("flags/xattrs unsupported here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "etc/a"))
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(when) {
		t.Errorf("etc/a: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/a")); string(b) != "two" {
		t.Errorf("later entry did not win: %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "etc/s.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("script mode %v", fi.Mode())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lib/x")); err != nil || string(b) != "x" {
		t.Errorf("through /lib link: %q %v", b, err)
	}
	if os.Geteuid() == 0 {
		if err := os.WriteFile(filepath.Join(dir, "etc/i"), []byte("no"), 0o644); err == nil {
			t.Error("immutable file was writable")
		}
	}
}

func TestFixturesAreDistinct(t *testing.T) {
	d, _ := hosttest.Debian12().Get("/etc/passwd")
	u, _ := hosttest.Ubuntu2204().Get("/etc/passwd")
	a, _ := hosttest.AmazonLinux2023().Get("/etc/passwd")
	if d.Data == u.Data || u.Data == a.Data {
		t.Error("fixtures share a passwd")
	}
	if _, ok := hosttest.AmazonLinux2023().Get("/var/lib/dpkg/status"); ok {
		t.Error("Amazon Linux has dpkg metadata")
	}
	line := hosttest.AuthorizedKey("s", "c")
	if line != hosttest.AuthorizedKey("s", "c") || line == hosttest.AuthorizedKey("t", "c") {
		t.Error("AuthorizedKey not deterministic per seed")
	}
}
