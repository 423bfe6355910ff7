// Package rootfs reads and writes a directory tree that may be hostile (a
// compromised host's / or a snapshot volume mounted elsewhere) without ever
// leaving it.
//
// Every operation goes through an [os.Root]. os.Root refuses absolute
// symbolic links and links that climb out of the root; an offline root is
// full of legitimate absolute links (systemd's *.wants/ links,
// /etc/alternatives, /lib -> usr/lib), so [FS.Resolve] resolves links itself,
// component by component, as if chrooted into the root: an absolute target
// restarts at the root, never at the host's /. The result is a link-free
// path that os.Root opens, and the final component is opened with
// O_NOFOLLOW, so a link swapped in after resolution cannot redirect the
// access either.
//
// Changes go through a [Dir]: the parent directory, resolved as above and
// then opened with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS) (or, on a
// kernel without openat2, a walk opening each component O_NOFOLLOW from
// the one before, as cyphar/filepath-securejoin does), so a directory
// swapped for a link after resolution is refused (ErrPathChanged). Every
// check and action is then an *at call on one name relative to that open
// directory (fstatat, openat, renameat2, unlinkat): no path is walked again
// between a check and the act. [Dir.RemoveExact] removes a name only if it
// is still the inode checked; [CopySparse] copies keeping holes, bounded.
// Hand-written on x/sys/unix rather than importing filepath-securejoin:
// the few calls needed are thin wrappers, and Dir adds the same-inode
// removal the library does not have.
package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSymlinkEscape is returned (wrapped) when a symbolic link inside the
// root points above it with "..", or when the kernel refuses an access
// because it would leave the root.
var ErrSymlinkEscape = errors.New("rootfs: symbolic link escapes the root")

// ErrTooManyLinks is returned (wrapped) when resolving a name takes more
// than MaxHops symbolic links (a loop).
var ErrTooManyLinks = errors.New("rootfs: too many levels of symbolic links")

// ErrTooLarge is returned (wrapped) by ReadFile when a file exceeds the
// limit given.
var ErrTooLarge = errors.New("rootfs: file exceeds read limit")

// MaxHops bounds the symbolic links followed while resolving one name (the
// kernel's own limit is 40).
const MaxHops = 40

// FS is a directory tree opened as a root.
type FS struct {
	root *os.Root
	rfd  *os.File // the root directory, for openat2 (OpenDir)
	dir  string
}

// Open opens dir as a root.
func Open(dir string) (*FS, error) {
	if dir == "" {
		dir = "/"
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs: open root: %w", err)
	}
	rfd, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("rootfs: open root: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &FS{root: r, rfd: rfd, dir: abs}, nil
}

// Close releases the root.
func (f *FS) Close() error {
	f.rfd.Close()
	return f.root.Close()
}

// Dir is the host path of the root.
func (f *FS) Dir() string { return f.dir }

// Root is the underlying os.Root.
func (f *FS) Root() *os.Root { return f.root }

// Rel turns a path as seen inside the root ("/etc/crontab") into the
// relative form os.Root takes ("etc/crontab"); the root itself is ".".
func Rel(name string) string {
	c := path.Clean("/" + name)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// Abs is the inverse of Rel: the path as seen inside the root.
func Abs(rel string) string { return path.Clean("/" + rel) }

// Resolve resolves name (absolute inside the root, or relative to it) to
// a path free of symbolic links, relative to the root, that os.Root can
// open. Links are followed as if chrooted into the root; the last
// component is followed only when followLast is true. A component that
// does not exist is kept as a plain name (the caller's open reports
// fs.ErrNotExist); the rest is still resolved, so the result is always a
// clean path inside the root ("missing/.." is the directory above it).
func (f *FS) Resolve(name string, followLast bool) (string, error) {
	todo := splitPath(Rel(name))
	var done []string
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", fmt.Errorf("%w: %s", ErrSymlinkEscape, name)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := strings.Join(append(done, c), "/")
		if len(todo) == 0 && !followLast {
			done = append(done, c)
			break
		}
		fi, err := f.root.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			// Not a link: kept. A missing component is kept as a plain
			// name too (the caller's open reports the error).
			// Resolution goes on so that a ".." after it (from a link
			// target) is applied, and the result stays clean.
			done = append(done, c)
			continue
		}
		hops++
		if hops > MaxHops {
			return "", fmt.Errorf("%w: %s", ErrTooManyLinks, name)
		}
		target, err := f.root.Readlink(cur)
		if err != nil {
			if errors.Is(err, syscall.EINVAL) {
				// A link a moment ago, something else now.
				return "", fmt.Errorf("%w: readlink %s: %w", ErrPathChanged, Abs(cur), err)
			}
			return "", fmt.Errorf("rootfs: readlink %s: %w", Abs(cur), err)
		}
		if target == "" {
			return "", fmt.Errorf("rootfs: empty link target at %s: %w", Abs(cur), fs.ErrInvalid)
		}
		if strings.HasPrefix(target, "/") {
			// As in a chroot, "/.." is "/": clean an absolute target.
			done = nil
			target = path.Clean(target)
		}
		todo = append(splitPath(target), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Lstat stats name without following a final symbolic link (links in the
// directories above it are resolved within the root).
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	rel, err := f.Resolve(name, false)
	if err != nil {
		return nil, err
	}
	return f.root.Lstat(rel)
}

// Stat stats name, following links within the root.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	rel, err := f.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	return f.root.Lstat(rel)
}

// Readlink reads the target of the link name (links above it resolved
// within the root).
func (f *FS) Readlink(name string) (string, error) {
	rel, err := f.Resolve(name, false)
	if err != nil {
		return "", err
	}
	return f.root.Readlink(rel)
}

// OpenRel opens a resolved (link-free) relative path with O_NOFOLLOW added,
// and O_NOATIME when the kernel permits it (reading evidence should not
// change its access time).
func (f *FS) OpenRel(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	fl := flag | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		if fh, err := f.root.OpenFile(rel, fl|unix.O_NOATIME, perm); err == nil {
			return fh, nil
		} else if !errors.Is(err, syscall.EPERM) {
			return nil, wrapEscape(err)
		}
	}
	fh, err := f.root.OpenFile(rel, fl, perm)
	return fh, wrapEscape(err)
}

func wrapEscape(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %w", ErrSymlinkEscape, err)
	}
	return err
}

// ErrNotRegular is returned (wrapped) by OpenRegular and ReadFile for
// anything but a regular file.
var ErrNotRegular = errors.New("rootfs: not a regular file")

// Open opens the regular file name for reading, following links within
// the root (see OpenRegular).
func (f *FS) Open(name string) (*os.File, error) {
	rel, err := f.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	return f.OpenRegular(rel)
}

// OpenRegular opens a resolved relative path for reading only if it is a
// regular file. Device nodes on a mounted snapshot are the host's devices
// (opening /dev/watchdog arms it), and a FIFO blocks an open for reading:
// the type is checked before opening, the open is non-blocking, and the
// type is checked again on the open file against a swap in between.
func (f *FS) OpenRegular(rel string) (*os.File, error) {
	li, err := f.root.Lstat(rel)
	if err != nil {
		return nil, wrapEscape(err)
	}
	if !li.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, Abs(rel), typeName(li.Mode()))
	}
	fh, err := f.OpenRel(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("%w: %s changed type while opening", ErrNotRegular, Abs(rel))
	}
	return fh, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// ReadFile reads name (following links within the root), at most max
// bytes (max <= 0: no limit); a larger file is ErrTooLarge. Only regular
// files are read: a FIFO or device planted in place of a config file would
// otherwise block or feed endless data.
func (f *FS) ReadFile(name string, max int64) ([]byte, error) {
	fh, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadAll(fh, name, max)
}

// ReadAll reads an open regular file, at most max bytes.
func ReadAll(fh *os.File, name string, max int64) ([]byte, error) {
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("rootfs: %s: not a regular file (%s): %w", name, fi.Mode().Type(), fs.ErrInvalid)
	}
	var r io.Reader = fh
	if max > 0 {
		if fi.Size() > max {
			return nil, fmt.Errorf("%w: %s is %d bytes (limit %d)", ErrTooLarge, name, fi.Size(), max)
		}
		r = io.LimitReader(fh, max+1)
	}
	var buf bytes.Buffer
	if fi.Size() > 0 && fi.Size() < 1<<30 {
		buf.Grow(int(fi.Size()) + 1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if max > 0 && int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w: %s grew past %d bytes", ErrTooLarge, name, max)
	}
	return buf.Bytes(), nil
}

// ReadDir lists the directory name (following links within the root),
// sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	rel, err := f.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	fh, err := f.OpenRel(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	ents, err := fh.ReadDir(-1)
	sortEntries(ents)
	return ents, err
}

func sortEntries(e []fs.DirEntry) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].Name() < e[j-1].Name(); j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// OpenParent resolves the directory holding name and opens it, returning
// the open directory and the final component, for *at system calls that
// must not follow a final link (utimensat, fchownat).
func (f *FS) OpenParent(name string) (*os.File, string, error) {
	rel := Rel(name)
	if rel == "." {
		return nil, "", fmt.Errorf("rootfs: the root has no parent: %w", fs.ErrInvalid)
	}
	dir, base := path.Split("/" + rel)
	drel, err := f.Resolve(dir, true)
	if err != nil {
		return nil, "", err
	}
	d, err := f.OpenRel(drel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, "", err
	}
	return d, base, nil
}

// Lutimes sets the access and modification times of name without
// following a final link.
func (f *FS) Lutimes(name string, atime, mtime time.Time) error {
	d, base, err := f.OpenParent(name)
	if err != nil {
		return err
	}
	defer d.Close()
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(int(d.Fd()), base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimensat", Path: name, Err: err}
	}
	return nil
}

// Lchown changes the owner of name without following a final link.
func (f *FS) Lchown(name string, uid, gid int) error {
	d, base, err := f.OpenParent(name)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Fchownat(int(d.Fd()), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "fchownat", Path: name, Err: err}
	}
	return nil
}

// Times returns the access and modification times from a FileInfo that
// came from this package (a *syscall.Stat_t underneath).
func Times(fi fs.FileInfo) (atime, mtime time.Time) {
	mtime = fi.ModTime()
	atime = mtime
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		atime = time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return atime, mtime
}

// Owner returns uid and gid from a FileInfo (-1, -1 if unknown).
func Owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// Nlink returns the link count from a FileInfo (1 if unknown).
func Nlink(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
