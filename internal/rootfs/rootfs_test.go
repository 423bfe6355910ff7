package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
)

func mk(t *testing.T, dir string, files map[string]string, links map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveChrooted(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mk(t, dir, map[string]string{
		"usr/lib/systemd/system/ssh.service": "[Service]\n",
		"etc/shadow":                         "root:*:1::::::\n",
		"etc/hostname":                       "guest\n",
		"secret":                             "inside",
	}, map[string]string{
		"lib": "usr/lib",
		"etc/systemd/system/multi-user.target.wants/ssh.service": "/lib/systemd/system/ssh.service",
		"etc/cron.d/x":          "/etc/shadow",
		"root/.ssh":             "/",
		"etc/alternatives/edit": "/etc/hostname",
		"usr/bin/edit":          "../../etc/alternatives/edit",
		"loop/a":                "b",
		"loop/b":                "a",
		"escape/up":             "../../..",
		"abs-out":               filepath.Join(outside, "secret"),
		"dotdot-abs":            "/../../secret",
	})
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	tests := []struct {
		name, want string
		follow     bool
		err        error
	}{
		{name: "/etc/systemd/system/multi-user.target.wants/ssh.service", follow: true, want: "usr/lib/systemd/system/ssh.service"},
		{name: "/etc/systemd/system/multi-user.target.wants/ssh.service", follow: false, want: "etc/systemd/system/multi-user.target.wants/ssh.service"},
		{name: "/lib/systemd/system/ssh.service", follow: false, want: "usr/lib/systemd/system/ssh.service"},
		{name: "/etc/cron.d/x", follow: true, want: "etc/shadow"},
		{name: "/root/.ssh/authorized_keys", follow: true, want: "authorized_keys"},
		{name: "/root/.ssh", follow: true, want: "."},
		{name: "/usr/bin/edit", follow: true, want: "etc/hostname"},
		{name: "/loop/a", follow: true, err: ErrTooManyLinks},
		{name: "/escape/up", follow: true, err: ErrSymlinkEscape},
		{name: "/escape/up/etc", follow: false, err: ErrSymlinkEscape},
		{name: "/abs-out", follow: true, want: filepath.Join(outside, "secret")[1:]},
		{name: "/dotdot-abs", follow: true, want: "secret"},
		{name: "/does/not/exist", follow: true, want: "does/not/exist"},
		{name: "../../etc/hostname", follow: true, want: "etc/hostname"},
	}
	for _, tt := range tests {
		got, err := f.Resolve(tt.name, tt.follow)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q) err = %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q, %v) = %q, %v; want %q", tt.name, tt.follow, got, err, tt.want)
		}
	}

	// A link pointing at an absolute host path resolves inside the root:
	// the host's file is never read.
	if b, err := f.ReadFile("/abs-out", 0); err == nil {
		t.Errorf("read through link out of root gave %q, want not-exist", b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
	b, err := f.ReadFile("/dotdot-abs", 0)
	if err != nil || string(b) != "inside" {
		t.Errorf("ReadFile(/dotdot-abs) = %q, %v", b, err)
	}
	b, err = f.ReadFile("/etc/systemd/system/multi-user.target.wants/ssh.service", 0)
	if err != nil || string(b) != "[Service]\n" {
		t.Errorf("wants link read = %q, %v", b, err)
	}
	if _, err := f.ReadFile("/etc/hostname", 3); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: err = %v", err)
	}
	// A raw relative path with a final symlink is refused by OpenRel.
	if _, err := f.OpenRel("etc/cron.d/x", os.O_RDONLY, 0); err == nil {
		t.Error("OpenRel followed a final symlink")
	}
}

func TestLutimesAndLchownDoNotFollow(t *testing.T) {
	dir := t.TempDir()
	mk(t, dir, map[string]string{"etc/target": "x"}, map[string]string{"etc/link": "/etc/target"})
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, _ := os.Stat(filepath.Join(dir, "etc/target"))
	when := before.ModTime().Add(-1000 * 3600 * 1e9)
	if err := f.Lutimes("/etc/link", when, when); err != nil {
		t.Fatal(err)
	}
	li, _ := os.Lstat(filepath.Join(dir, "etc/link"))
	if !li.ModTime().Equal(when) {
		t.Errorf("link mtime = %v, want %v", li.ModTime(), when)
	}
	after, _ := os.Stat(filepath.Join(dir, "etc/target"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("Lutimes followed the link")
	}
}

func TestFlagsAndXattrs(t *testing.T) {
	testenv.NeedRoot(t, "chattr +i and trusted.* xattrs")
	dir := t.TempDir()
	mk(t, dir, map[string]string{"f": "x"}, nil)
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fh, err := f.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fl, err := Flags(fh)
	if errors.Is(err, ErrFlagsUnsupported) {
		testenv.Skipf(t, "file system of %s: %v", dir, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := SetFlags(fh, fl|FlagImmutable); err != nil {
		t.Fatal(err)
	}
	got, _ := Flags(fh)
	if got&FlagImmutable == 0 {
		t.Error("immutable not set")
	}
	if err := os.Remove(filepath.Join(dir, "f")); err == nil {
		t.Error("removed an immutable file")
	}
	if err := SetFlags(fh, fl); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"user.a": []byte("1"), "trusted.b": {0, 1, 2}}
	if err := SetXattrs(fh, want); err != nil {
		testenv.Skipf(t, "xattrs unsupported here: %v", err)
	}
	x, err := Xattrs(fh)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if string(x[k]) != string(v) {
			t.Errorf("xattr %s = %q want %q", k, x[k], v)
		}
	}
}

func TestOpenRegularRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	mk(t, dir, map[string]string{"etc/ok": "x"}, map[string]string{"etc/link": "fifo"})
	if err := syscall.Mkfifo(filepath.Join(dir, "etc/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { _, err := f.ReadFile("/etc/link", 0); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	if _, err := f.ReadFile("/etc", 0); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory read: %v", err)
	}
	if b, err := f.ReadFile("/etc/ok", 0); err != nil || string(b) != "x" {
		t.Errorf("regular read: %q %v", b, err)
	}
}
