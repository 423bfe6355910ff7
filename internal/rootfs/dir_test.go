package rootfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Both ways of opening a directory: openat2 and the O_NOFOLLOW walk.
func eachWalk(t *testing.T, fn func(t *testing.T)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			forceWalk = walk
			t.Cleanup(func() { forceWalk = false })
			fn(t)
		})
	}
}

// A directory on a resolved path that is a link by the time it is opened
// is refused, never followed; a clean path opens.
func TestOpenDirRefusesLink(t *testing.T) {
	eachWalk(t, func(t *testing.T) {
		dir := t.TempDir()
		mk(t, dir, map[string]string{"etc/shadow": "root:x\n", "tmp/x/payload": "evil"}, map[string]string{"tmp/l": "../etc"})
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.OpenDir("tmp/l"); !errors.Is(err, ErrPathChanged) {
			t.Errorf("OpenDir through a link: %v", err)
		}
		d, err := r.OpenDir("tmp/x")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.Lstat("payload"); err != nil {
			t.Error(err)
		}
		if _, err := r.OpenDir("tmp/x/payload"); !errors.Is(err, ErrPathChanged) {
			t.Errorf("OpenDir of a file: %v", err)
		}
	})
}

// The held directory is acted on even after its path is swapped for a
// link: unlinking "shadow" in it never reaches etc/shadow.
func TestDirSurvivesParentSwap(t *testing.T) {
	eachWalk(t, func(t *testing.T) {
		dir := t.TempDir()
		mk(t, dir, map[string]string{"etc/shadow": "root:x\n", "tmp/x/shadow": "evil"}, nil)
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		d, base, err := r.OpenParentDir("/tmp/x/shadow")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		want, err := d.Lstat(base)
		if err != nil {
			t.Fatal(err)
		}
		// The malware moves its directory away and links the name to /etc.
		if err := os.Rename(filepath.Join(dir, "tmp/x"), filepath.Join(dir, "tmp/moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../etc", filepath.Join(dir, "tmp/x")); err != nil {
			t.Fatal(err)
		}
		if err := d.RemoveExact(base, want); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "etc/shadow")); err != nil {
			t.Errorf("etc/shadow: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "tmp/moved/shadow")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("payload still there: %v", err)
		}
	})
}

// RemoveExact never removes a file put in place of the one checked.
func TestRemoveExactReplaced(t *testing.T) {
	dir := t.TempDir()
	mk(t, dir, map[string]string{"d/f": "checked", "d/g": "other"}, nil)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := r.OpenDir("d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want, _ := d.Lstat("f")
	if err := os.Rename(filepath.Join(dir, "d/g"), filepath.Join(dir, "d/f")); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveExact("f", want); !errors.Is(err, ErrPathChanged) {
		t.Errorf("RemoveExact of a replaced name: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d/f")); err != nil || string(b) != "other" {
		t.Errorf("replacement: %q %v", b, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "d"))
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// A FIFO or link in place of a regular file: refused without blocking.
func TestDirOpenRegular(t *testing.T) {
	dir := t.TempDir()
	mk(t, dir, map[string]string{"d/f": "x"}, map[string]string{"d/l": "f"})
	if err := syscall.Mkfifo(filepath.Join(dir, "d/p"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(dir)
	defer r.Close()
	d, err := r.OpenDir("d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, n := range []string{"p", "l"} {
		if _, err := d.OpenRegular(n); !errors.Is(err, ErrNotRegular) {
			t.Errorf("OpenRegular(%s): %v", n, err)
		}
	}
	fh, err := d.OpenRegular("f")
	if err != nil {
		t.Fatal(err)
	}
	// Futimes keeps nanoseconds.
	mt := time.Date(2025, 4, 27, 14, 40, 2, 123456789, time.UTC)
	if err := Futimes(fh, mt, mt); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	fi, _ := os.Stat(filepath.Join(dir, "d/f"))
	if !fi.ModTime().Equal(mt) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), mt)
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if _, err := d.Lstat(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Lstat(%q): %v", bad, err)
		}
	}
}

// CopySparse keeps holes (leading, inner, trailing), copies every byte,
// and stops at the data cap.
func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	src, err := os.Create(filepath.Join(dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const size = 32 << 20
	if err := src.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1 << 20, 9 << 20} {
		if _, err := src.WriteAt([]byte("data at this offset"), off); err != nil {
			t.Fatal(err)
		}
	}
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	h1, h2 := sha256.New(), sha256.New()
	n, data, err := CopySparse(dst, src, 0, h1)
	if err != nil || n != size {
		t.Fatalf("CopySparse: %d %v", n, err)
	}
	if data >= 1<<20 {
		t.Errorf("%d data bytes copied for two small extents", data)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(h2, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
		t.Error("hash of the copy differs from the source's")
	}
	a, _ := os.ReadFile(filepath.Join(dir, "src"))
	b, _ := os.ReadFile(filepath.Join(dir, "dst"))
	if !bytes.Equal(a, b) {
		t.Error("copy differs")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "dst"), &st); err == nil && st.Blocks*512 > 1<<20 {
		t.Errorf("copy allocates %d bytes", st.Blocks*512)
	}
	if _, _, err := CopySparse(dst, src, 8, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
}
