package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrPathChanged is returned (wrapped) when a directory on a resolved,
// link-free path is a symbolic link or no directory by the time it is
// opened: the tree changed under the caller (a parent swapped for a link).
var ErrPathChanged = errors.New("rootfs: a directory on the path changed (now a link or not a directory)")

// Dir is a directory inside the root, held open. Every call on it is an
// *at system call relative to the open directory, on one final name: a
// path string is never walked again between a check and the action, so a
// parent swapped for a link after the Dir was opened changes nothing.
type Dir struct {
	f *os.File
	// Rel is the link-free path of the directory relative to the root
	// when it was opened ("." for the root).
	Rel string
}

// forceWalk makes OpenDir use the userspace walk even where openat2 works
// (tests of the fallback).
var forceWalk bool

// OpenDir opens the directory at the link-free relative path rel (as
// Resolve returns it) without following any link: openat2 with
// RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS where the
// kernel has it (Linux 5.6), else a walk that opens each component with
// O_NOFOLLOW|O_DIRECTORY relative to the one before. A component that is
// now a link is ErrPathChanged.
func (f *FS) OpenDir(rel string) (*Dir, error) {
	rel = Rel(rel)
	if !forceWalk {
		how := unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		for {
			fd, err := unix.Openat2(int(f.rfd.Fd()), rel, &how)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if err == nil {
				return &Dir{f: os.NewFile(uintptr(fd), path.Join(f.dir, rel)), Rel: rel}, nil
			}
			if err != unix.ENOSYS && err != unix.EPERM {
				return nil, dirErr(rel, err)
			}
			break // no openat2 (old kernel, seccomp): walk
		}
	}
	cur, err := unix.Openat(int(f.rfd.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, dirErr(".", err)
	}
	if rel != "." {
		for _, c := range strings.Split(rel, "/") {
			if c == "" || c == "." || c == ".." {
				unix.Close(cur)
				return nil, fmt.Errorf("rootfs: open dir %s: not a clean path: %w", rel, fs.ErrInvalid)
			}
			next, err := unix.Openat(cur, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			unix.Close(cur)
			if err != nil {
				return nil, dirErr(rel, err)
			}
			cur = next
		}
	}
	return &Dir{f: os.NewFile(uintptr(cur), path.Join(f.dir, rel)), Rel: rel}, nil
}

func dirErr(rel string, err error) error {
	switch err {
	case unix.ELOOP, unix.ENOTDIR:
		return fmt.Errorf("%w: %s: %w", ErrPathChanged, Abs(rel), err)
	case unix.EXDEV:
		return fmt.Errorf("%w: %s: %w", ErrSymlinkEscape, Abs(rel), err)
	}
	return &fs.PathError{Op: "openat2", Path: Abs(rel), Err: err}
}

// OpenParentDir resolves the directory holding name within the root
// (links above the final component followed as if chrooted) and opens it
// with OpenDir. It returns the open directory and the final component.
func (f *FS) OpenParentDir(name string) (*Dir, string, error) {
	rel := Rel(name)
	if rel == "." {
		return nil, "", fmt.Errorf("rootfs: the root has no parent: %w", fs.ErrInvalid)
	}
	dir, base := path.Split("/" + rel)
	drel, err := f.Resolve(dir, true)
	if err != nil {
		return nil, "", err
	}
	d, err := f.OpenDir(drel)
	if err != nil {
		return nil, "", err
	}
	return d, base, nil
}

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// File is the open directory.
func (d *Dir) File() *os.File { return d.f }

// Sync flushes the directory (its entries) to disk.
func (d *Dir) Sync() error { return d.f.Sync() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

func (d *Dir) pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: Abs(path.Join(d.Rel, name)), Err: err}
}

// checkName accepts one path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("rootfs: %q is not one path component: %w", name, fs.ErrInvalid)
	}
	return nil
}

// Lstat stats name in the directory without following a link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, d.pathErr("fstatat", name, err)
	}
	return newInfo(name, &st), nil
}

// Stat stats the directory itself.
func (d *Dir) Stat() (fs.FileInfo, error) { return d.f.Stat() }

// Readlink reads the link name in the directory.
func (d *Dir) Readlink(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	for n := 256; n <= 1<<16; n *= 4 {
		buf := make([]byte, n)
		l, err := unix.Readlinkat(d.fd(), name, buf)
		if err != nil {
			return "", d.pathErr("readlinkat", name, err)
		}
		if l < n {
			return string(buf[:l]), nil
		}
	}
	return "", d.pathErr("readlinkat", name, syscall.ENAMETOOLONG)
}

// OpenFile opens name in the directory with O_NOFOLLOW and O_CLOEXEC
// added: a final link is never followed.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.fd(), name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, d.pathErr("openat", name, err)
	}
	return os.NewFile(uintptr(fd), path.Join(d.f.Name(), name)), nil
}

// OpenRegular opens name for reading only if it is a regular file: the
// open is non-blocking and does not follow a link (a FIFO or device
// swapped in neither blocks nor is armed by a blocking open), O_NOATIME
// where permitted, and the type is checked on the open file.
func (d *Dir) OpenRegular(name string) (*os.File, error) {
	fh, err := d.OpenFile(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		fh, err = d.OpenFile(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symbolic link", ErrNotRegular, Abs(path.Join(d.Rel, name)))
		}
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, Abs(path.Join(d.Rel, name)), typeName(fi.Mode()))
	}
	return fh, nil
}

// OpenDirAt opens the subdirectory name without following a link.
func (d *Dir) OpenDirAt(name string) (*Dir, error) {
	fh, err := d.OpenFile(name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%w: %w", ErrPathChanged, err)
		}
		return nil, err
	}
	return &Dir{f: fh, Rel: path.Join(d.Rel, name)}, nil
}

// Mkdir creates the directory name.
func (d *Dir) Mkdir(name string, perm fs.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Mkdirat(d.fd(), name, uint32(perm.Perm())); err != nil {
		return d.pathErr("mkdirat", name, err)
	}
	return nil
}

// Symlink creates the link name pointing to target.
func (d *Dir) Symlink(target, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, d.fd(), name); err != nil {
		return d.pathErr("symlinkat", name, err)
	}
	return nil
}

// Unlink removes the non-directory name.
func (d *Dir) Unlink(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, 0); err != nil {
		return d.pathErr("unlinkat", name, err)
	}
	return nil
}

// Rmdir removes the empty directory name.
func (d *Dir) Rmdir(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); err != nil {
		return d.pathErr("unlinkat", name, err)
	}
	return nil
}

// Rename renames old in d to new in to (renameat2 with flags:
// unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE or 0).
func (d *Dir) Rename(old string, to *Dir, new string, flags uint) error {
	if err := checkName(old); err != nil {
		return err
	}
	if err := checkName(new); err != nil {
		return err
	}
	if err := unix.Renameat2(d.fd(), old, to.fd(), new, flags); err != nil {
		return &os.LinkError{Op: "renameat2", Old: Abs(path.Join(d.Rel, old)), New: Abs(path.Join(to.Rel, new)), Err: err}
	}
	return nil
}

// Lchown changes the owner of name without following a link.
func (d *Dir) Lchown(name string, uid, gid int) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Fchownat(d.fd(), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return d.pathErr("fchownat", name, err)
	}
	return nil
}

// Lutimes sets the times of name without following a link.
func (d *Dir) Lutimes(name string, atime, mtime time.Time) error {
	if err := checkName(name); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(d.fd(), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return d.pathErr("utimensat", name, err)
	}
	return nil
}

// Futimes sets the access and modification times of an open file (or
// directory) with nanosecond precision.
func Futimes(fh *os.File, atime, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	// utimensat(fd, NULL, ts, 0) acts on fd itself (futimens).
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, fh.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return &fs.PathError{Op: "futimens", Path: fh.Name(), Err: e}
	}
	return nil
}

// TempName returns a fresh name for a file of this package's own in a
// directory being changed (".abusekit-<what>-<random>").
func TempName(what string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return ".abusekit-" + what + "-" + hex.EncodeToString(b)
}

// RemoveExact removes name from d only if it is the file want describes
// (same device and inode): it renames name to a fresh private name,
// checks what it moved, and removes that, or moves it back and reports
// ErrPathChanged when it was another file (the name was replaced in the
// meantime). Unlike a check followed by an unlink of name, no file put
// in place of the checked one is ever removed.
func (d *Dir) RemoveExact(name string, want fs.FileInfo) error {
	tmp := TempName("rm")
	if err := d.Rename(name, d, tmp, unix.RENAME_NOREPLACE); err != nil {
		return err
	}
	got, err := d.Lstat(tmp)
	if err == nil && SameFile(got, want) {
		if err := d.Unlink(tmp); err != nil {
			_ = d.Rename(tmp, d, name, unix.RENAME_NOREPLACE)
			return err
		}
		return nil
	}
	if berr := d.Rename(tmp, d, name, unix.RENAME_NOREPLACE); berr != nil {
		return fmt.Errorf("%w: %s was replaced; the replacement is left at %s: %w", ErrPathChanged, name, tmp, berr)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s was replaced by another file", ErrPathChanged, Abs(path.Join(d.Rel, name)))
}

// SameFile reports whether two FileInfos from this package or package os
// describe the same file (device and inode).
func SameFile(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// info is an fs.FileInfo from fstatat, with a *syscall.Stat_t underneath
// like package os's.
type info struct {
	name string
	st   syscall.Stat_t
}

func newInfo(name string, u *unix.Stat_t) *info {
	i := &info{name: name}
	i.st = syscall.Stat_t{Dev: u.Dev, Ino: u.Ino, Nlink: u.Nlink, Mode: u.Mode, Uid: u.Uid, Gid: u.Gid, Rdev: u.Rdev,
		Size: u.Size, Blksize: u.Blksize, Blocks: u.Blocks,
		Atim: syscall.Timespec{Sec: u.Atim.Sec, Nsec: u.Atim.Nsec},
		Mtim: syscall.Timespec{Sec: u.Mtim.Sec, Nsec: u.Mtim.Nsec},
		Ctim: syscall.Timespec{Sec: u.Ctim.Sec, Nsec: u.Ctim.Nsec}}
	return i
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.st.Size }
func (i *info) ModTime() time.Time { return time.Unix(i.st.Mtim.Sec, i.st.Mtim.Nsec) }
func (i *info) IsDir() bool        { return i.Mode().IsDir() }
func (i *info) Sys() any           { return &i.st }
func (i *info) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	}
	if i.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// OpenHostDir opens a directory named by a host path the caller trusts
// (a quarantine directory outside the root) as a Dir.
func OpenHostDir(name string) (*Dir, error) {
	fh, err := os.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Dir{f: fh, Rel: name}, nil
}
