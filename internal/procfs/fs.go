package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrFileParse is wrapped by every error about a /proc file's contents.
var ErrFileParse = errors.New("procfs: cannot parse file")

// DefaultMountPoint is where procfs is mounted on a live host.
const DefaultMountPoint = "/proc"

// maxFileSize bounds how much of any one /proc file a reader takes in, so a
// hostile or corrupt tree cannot exhaust memory.
const maxFileSize = 64 << 20

// FS is a procfs tree rooted at a mount point.
type FS struct {
	root   string
	procfs bool // the tree is a kernel procfs (statfs), not a fake
}

// NewFS returns the FS mounted at mountPoint. It fails when mountPoint is not
// a directory.
func NewFS(mountPoint string) (FS, error) {
	if mountPoint == "" {
		mountPoint = DefaultMountPoint
	}
	fi, err := os.Stat(mountPoint)
	if err != nil {
		return FS{}, fmt.Errorf("procfs: %w", err)
	}
	if !fi.IsDir() {
		return FS{}, fmt.Errorf("procfs: %s is not a directory", mountPoint)
	}
	var st unix.Statfs_t
	isProc := unix.Statfs(mountPoint, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
	return FS{root: filepath.Clean(mountPoint), procfs: isProc}, nil
}

// NewDefaultFS returns the FS at /proc.
func NewDefaultFS() FS {
	var st unix.Statfs_t
	isProc := unix.Statfs(DefaultMountPoint, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
	return FS{root: DefaultMountPoint, procfs: isProc}
}

// Root is the mount point the FS was built from.
func (fs FS) Root() string { return fs.root }

// Path joins elems below the mount point.
func (fs FS) Path(elems ...string) string {
	return filepath.Join(append([]string{fs.root}, elems...)...)
}

// PIDPath joins elems below the directory of process pid.
func (fs FS) PIDPath(pid int, elems ...string) string {
	return filepath.Join(append([]string{fs.root, strconv.Itoa(pid)}, elems...)...)
}

// IsLive reports whether the FS is the kernel's procfs for the calling
// process's own PID namespace (so that netlink and signals see the same
// processes), as opposed to a fake tree or another namespace's mount.
func (fs FS) IsLive() bool {
	var st unix.Statfs_t
	if err := unix.Statfs(fs.root, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	self, err := os.Readlink(fs.Path("self"))
	if err != nil {
		return false
	}
	return self == strconv.Itoa(os.Getpid())
}

// ReadFile reads a file below the mount point, up to a size bound.
func (fs FS) ReadFile(elems ...string) ([]byte, error) {
	return readFile(fs.Path(elems...))
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	buf.Grow(4096)
	n, err := buf.ReadFrom(limitReader{f, maxFileSize + 1})
	if err != nil {
		return nil, fmt.Errorf("procfs: read %s: %w", path, err)
	}
	if n > maxFileSize {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrFileParse, path, maxFileSize)
	}
	return buf.Bytes(), nil
}

type limitReader struct {
	f *os.File
	n int64
}

func (l limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	return l.f.Read(p)
}

// smallBufs recycles buffers for the small per-process files read for
// every process on the host.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// readSmall reads a small file with plain system calls (open, read, close:
// no poller registration, no second read when the first one came back
// short, as procfs returns a small file whole). It falls back to readFile
// when the file fills buf.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if n == len(buf) {
		return readFile(path)
	}
	return buf[:n], nil
}

// PIDs lists the numeric entries of the mount point: every process (thread
// group) it shows. The order is the kernel's (ascending on a live host).
func (fs FS) PIDs() ([]int, error) {
	d, err := os.Open(fs.root)
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("procfs: list %s: %w", fs.root, err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, ok := atoiPositive([]byte(n)); ok {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// atoiPositive parses a decimal number without sign; it rejects anything else.
func atoiPositive(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// Readlink reads a symbolic link below the directory of process pid
// ("exe", "cwd", "ns/net", "fd/3").
func (fs FS) Readlink(pid int, elems ...string) (string, error) {
	return os.Readlink(fs.PIDPath(pid, elems...))
}
