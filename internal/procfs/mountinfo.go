package procfs

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one line of /proc/PID/mountinfo (proc(5)): "36 35 98:0 /mnt1
// /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
type Mount struct {
	ID         int    `json:"id"`
	Parent     int    `json:"parent"`
	Root       string `json:"root"`        // the part of the source file system mounted
	MountPoint string `json:"mount_point"` // where, in the reader's mount namespace
	FSType     string `json:"fstype"`
	Source     string `json:"source"`
}

// Mounts reads the mount table of the process reading the tree
// (self/mountinfo).
func (fs FS) Mounts() ([]Mount, error) {
	b, err := fs.ReadFile("self", "mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountinfo(b), nil
}

// PIDMounts lists, by PID, the mounts on or below a process directory of
// this procfs (/proc/PID, /proc/PID/fd, …): what `mount --bind /empty
// /proc/PID` leaves to hide a process from every tool that reads /proc.
// The mount points are matched against the tree's own path, so only a
// procfs mounted where the reader sees it (the live /proc) can have any.
func (fs FS) PIDMounts() (map[int][]Mount, error) {
	ms, err := fs.Mounts()
	if err != nil {
		return nil, err
	}
	return pidMounts(ms, fs.root), nil
}

func pidMounts(ms []Mount, root string) map[int][]Mount {
	var out map[int][]Mount
	prefix := path.Clean(root) + "/"
	for _, m := range ms {
		rest, ok := strings.CutPrefix(m.MountPoint, prefix)
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		pid, err := strconv.Atoi(first)
		if err != nil || pid <= 0 || strconv.Itoa(pid) != first {
			continue
		}
		if out == nil {
			out = map[int][]Mount{}
		}
		out[pid] = append(out[pid], m)
	}
	return out
}

// parseMountinfo parses mountinfo. A line without the " - " separator or
// with fewer than five fields before it is skipped; paths have the
// kernel's octal escapes decoded.
func parseMountinfo(b []byte) []Mount {
	var out []Mount
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || id < 0 || parent < 0 {
			continue
		}
		m := Mount{ID: id, Parent: parent, Root: unescapeMountinfo(f[3]), MountPoint: unescapeMountinfo(f[4])}
		if g := strings.Fields(post); len(g) >= 1 {
			m.FSType = g[0]
			if len(g) >= 2 {
				m.Source = unescapeMountinfo(g[1])
			}
		}
		out = append(out, m)
	}
	return out
}

// OpenFresh mounts a new instance of procfs for the caller's PID namespace,
// detached (fsopen and fsmount: it is in no mount table, nothing can be
// mounted over it, and it goes when closed), and returns it as an FS rooted
// at /proc/self/fd/N. Processes hidden by a mount over /proc/PID are whole
// in it. close unmounts it.
func OpenFresh() (FS, func() error, error) {
	fd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return FS{}, nil, fmt.Errorf("procfs: fsopen proc: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.FsconfigCreate(fd); err != nil {
		return FS{}, nil, fmt.Errorf("procfs: fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return FS{}, nil, fmt.Errorf("procfs: fsmount: %w", err)
	}
	fs, err := NewFS("/proc/self/fd/" + strconv.Itoa(mfd))
	if err != nil {
		unix.Close(mfd)
		return FS{}, nil, err
	}
	fs.procfs = true
	return fs, func() error { return unix.Close(mfd) }, nil
}
