package procfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// direntBufs recycles getdents buffers between SocketInodes calls, which
// run concurrently for every process on the host.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// SocketInodes appends to dst the inodes of the sockets process pid holds
// open, and returns the number of descriptors it looked at. It reads the
// fd directory with getdents and resolves each entry with readlinkat
// relative to the open directory: one system call per descriptor and no
// allocation per descriptor. A process that exits meanwhile gives
// os.ErrNotExist (wrapped); descriptors listed but not readable (EACCES)
// give that error after the pass, with what could be read.
func (fs FS) SocketInodes(pid int, dst []uint64) ([]uint64, int, error) {
	path := fs.PIDPath(pid, "fd")
	dfd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return dst, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(dfd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var link [64]byte
	nfd := 0
	var denied unix.Errno
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return dst, nfd, &os.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n <= 0 {
			break
		}
		for off := 0; off+19 < n; {
			name, next, ok := nextDirent(buf[:n], off)
			if !ok {
				return dst, nfd, fmt.Errorf("%w: %s: bad dirent", ErrFileParse, path)
			}
			off = next
			if name[0] == '.' || name[0] == 0 {
				continue // "." and ".."
			}
			nfd++
			// name is NUL-terminated inside buf: hand it to readlinkat as
			// is. A raw system call (no scheduler hand-off, a tenth of
			// the call's cost): a procfs readlink reads kernel memory
			// under short locks and does not block.
			r, _, e := unix.RawSyscall6(unix.SYS_READLINKAT, uintptr(dfd),
				uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&link[0])), uintptr(len(link)), 0, 0)
			if e != 0 {
				if e != unix.ENOENT && denied == 0 {
					denied = e // unreadable (EACCES): said after the pass
				}
				continue // closed meanwhile
			}
			if ino, ok := parseSocketLink(link[:r]); ok {
				dst = append(dst, ino)
			}
		}
		// Read to the end (a getdents that returns nothing): a short
		// answer does not mean the end, as procfs stops filling the
		// buffer early when a signal is pending (SIGPROF, SIGCHLD, the
		// Go runtime's preemption signal).
	}
	if denied != 0 {
		// Listed, but some links unreadable (a process the caller may not
		// inspect, even as root in a container): what is returned is
		// partial.
		return dst, nfd, &os.PathError{Op: "readlinkat", Path: path, Err: denied}
	}
	return dst, nfd, nil
}

// nextDirent decodes the linux_dirent64 record at buf[off:] (d_ino 8,
// d_off 8, d_reclen 2, d_type 1, then the name): its name with the NUL
// terminator and padding kept (handed to readlinkat as is) and the offset
// of the next record. ok is false for a record that does not fit buf or
// whose name is unterminated.
func nextDirent(buf []byte, off int) (name []byte, next int, ok bool) {
	if off < 0 || off+19 >= len(buf) {
		return nil, off, false
	}
	reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
	if reclen < 20 || off+reclen > len(buf) {
		return nil, off, false
	}
	name = buf[off+19 : off+reclen]
	if bytes.IndexByte(name, 0) < 0 {
		return nil, off, false
	}
	return name, off + reclen, true
}

// parseSocketLink parses an fd link target "socket:[12345]".
func parseSocketLink(b []byte) (uint64, bool) {
	const prefix = "socket:["
	if len(b) < len(prefix)+2 || string(b[:len(prefix)]) != prefix || b[len(b)-1] != ']' {
		return 0, false
	}
	return parseUint(b[len(prefix):len(b)-1], 10, 64)
}

// FD is one open descriptor of a process.
type FD struct {
	Num    int    `json:"fd"`
	Target string `json:"target"` // the link: a path (maybe " (deleted)"), "socket:[N]", "pipe:[N]", "anon_inode:…"
}

// FDs lists the descriptors of process pid, in numeric order.
func (fs FS) FDs(pid int) ([]FD, error) {
	dir := fs.PIDPath(pid, "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]FD, 0, len(ents))
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		out = append(out, FD{Num: n, Target: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}
