package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve plants up to three symbolic links with fuzzed targets and
// resolves a fuzzed name: the result is always a clean relative path that
// os.Root accepts (never an escape), or one of the sentinel errors.
func FuzzResolve(f *testing.F) {
	f.Add("a", "/etc", "b", "../../..", "c", "a/b", "c/x/../y")
	f.Add("lib", "usr/lib", "usr/lib/l", "/lib/l", "x", "/x", "lib/l/z")
	f.Add("w", "/etc/passwd", "v", "w", "u", "/../../..", "u/v/w")
	f.Fuzz(func(t *testing.T, n1, t1, n2, t2, n3, t3, name string) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][2]string{{n1, t1}, {n2, t2}, {n3, t3}} {
			rel := Rel(l[0])
			if rel == "." || l[1] == "" || strings.ContainsRune(l[0]+l[1], 0) || len(l[1]) > 200 || len(rel) > 200 {
				continue
			}
			full := filepath.Join(dir, rel)
			if os.MkdirAll(filepath.Dir(full), 0o755) != nil {
				continue
			}
			_ = os.Symlink(l[1], full)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if strings.ContainsRune(name, 0) || len(name) > 400 {
			return
		}
		for _, follow := range []bool{true, false} {
			got, err := r.Resolve(name, follow)
			if err != nil {
				if !errors.Is(err, ErrSymlinkEscape) && !errors.Is(err, ErrTooManyLinks) && !errors.Is(err, fs.ErrInvalid) && !strings.Contains(err.Error(), "readlink") {
					t.Fatalf("Resolve(%q): unexpected error %v", name, err)
				}
				continue
			}
			if strings.HasPrefix(got, "/") || got != "." && (filepath.Clean(got) != got || got == ".." || strings.HasPrefix(got, "../")) {
				t.Fatalf("Resolve(%q) = %q: not a clean relative path", name, got)
			}
			if _, err := r.Root().Lstat(got); err != nil && strings.Contains(err.Error(), "escapes") {
				t.Fatalf("Resolve(%q) = %q escapes per os.Root: %v", name, got, err)
			}
		}
	})
}
