package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// FreezeCgroup freezes through a cgroup v2 freezer: the tree is moved into
// a cgroup of its own, which is then frozen. Unlike SIGSTOP the processes
// cannot see it (no SIGCHLD to a parent, no state a watchdog could notice),
// and a child forked meanwhile is born frozen in the same cgroup.
const FreezeCgroup = "cgroup-v2"

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted, from the
// mount table of the process reading the procfs root.
func cgroup2Mount(fs procfs.FS) string {
	mounts, err := fs.Cgroup2Mounts()
	if err != nil {
		return ""
	}
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, "cgroup.procs")); err == nil {
			return m
		}
	}
	return ""
}

// cgroupPath is the v2 ("0::") path of a process's cgroup.
func cgroupPath(fs procfs.FS, pid int) string {
	cgs, err := fs.Cgroups(pid)
	if err != nil {
		return ""
	}
	return procfs.CgroupV2Path(cgs)
}

// cgroupFreezer is one freezer cgroup made for one Stop.
//
// The kernel moves a process into a cgroup by PID number only (there is no
// pidfd for cgroup.procs), so add brackets each write with a liveness check
// on the process's pidfd: a PID cannot be reused while the process holding
// it exists (a zombie included), so if the pidfd's process is still there
// after the write, the write moved that process and no other. If it is gone,
// the PID may already name a newcomer: add looks for the PID in the
// freezer's cgroup.procs and moves it straight out to where the PID was
// before. The window that remains is that one: a process that took the PID
// of a member that exited and was reaped around the write can sit in the
// frozen cgroup for the few system calls until it is moved out (which thaws
// it), and is moved to the cgroup the member was in (where a process forked
// on the same host part usually is, but not always).
type cgroupFreezer struct {
	fs     procfs.FS
	mount  string
	dir    string
	before map[int]string // pid → v2 cgroup path before the move
	moved  []pidfd        // the processes moved in, in order
	home   string         // the first one's cgroup: where strays go back
}

func newCgroupFreezer(fs procfs.FS, mount, dir string) (*cgroupFreezer, error) {
	if mount == "" || dir == "" {
		return nil, errors.New("no cgroup v2 hierarchy")
	}
	// A plan can be edited after approval: the freezer is made nowhere
	// but directly under the hierarchy's root.
	if filepath.Dir(filepath.Clean(dir)) != filepath.Clean(mount) {
		return nil, fmt.Errorf("freezer cgroup %s is not directly under the cgroup v2 mount %s", dir, mount)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create freezer cgroup: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cgroup freezer unavailable (kernel before 5.2?): %w", err)
	}
	return &cgroupFreezer{fs: fs, mount: mount, dir: dir, before: map[int]string{}}, nil
}

// alive reports whether the process of a pidfd still exists (a zombie
// does: it still holds its PID).
func alive(fd int) bool {
	return unix.PidfdSendSignal(fd, 0, nil, 0) == nil
}

// add moves the process of a pidfd into the freezer cgroup (frozen at once
// if the cgroup already is). It returns ErrProcessGone, having moved
// nothing else in, when the process exited before or during the move.
func (f *cgroupFreezer) add(m pidfd) error {
	pid := m.id.PID
	if _, ok := f.before[pid]; ok {
		return nil
	}
	path := cgroupPath(f.fs, pid)
	// Read by number: only ours if the process still holds the PID after.
	if !alive(m.fd) {
		return fmt.Errorf("%w: pid %d exited before it was frozen", ErrProcessGone, pid)
	}
	if beforeMove != nil {
		beforeMove(pid)
	}
	werr := f.write(f.dir, pid)
	if !alive(m.fd) {
		msg := ""
		if f.contains(pid) {
			// The PID names a newcomer, now in the freezer: out it goes.
			if err := f.write(f.cgroupDir(path), pid); err != nil {
				msg = fmt.Sprintf("; the process now behind the PID is in the freezer cgroup and could not be moved out: %v", err)
			} else {
				msg = fmt.Sprintf("; the process now behind the PID was moved back out to %s", path)
			}
		}
		return fmt.Errorf("%w: pid %d exited while it was moved into the freezer%s", ErrProcessGone, pid, msg)
	}
	if werr != nil {
		return fmt.Errorf("move pid %d into freezer cgroup: %w", pid, werr)
	}
	f.before[pid] = path
	f.moved = append(f.moved, m)
	if f.home == "" {
		f.home = path
	}
	return nil
}

func (f *cgroupFreezer) write(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// cgroupDir is the directory of a v2 cgroup path ("" or one that leaves the
// hierarchy is the root cgroup).
func (f *cgroupFreezer) cgroupDir(path string) string {
	d := filepath.Join(f.mount, filepath.Clean("/"+path))
	if path == "" || filepath.Clean(d) == filepath.Clean(f.dir) {
		return f.mount
	}
	return d
}

// procs lists the processes in the freezer cgroup.
func (f *cgroupFreezer) procs() []int {
	b, err := os.ReadFile(filepath.Join(f.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, l := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(l); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func (f *cgroupFreezer) contains(pid int) bool { return slices.Contains(f.procs(), pid) }

func (f *cgroupFreezer) set(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	return os.WriteFile(filepath.Join(f.dir, "cgroup.freeze"), []byte(v), 0)
}

// wait waits for the cgroup to report itself frozen.
func (f *cgroupFreezer) wait(ctx context.Context, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		b, err := os.ReadFile(filepath.Join(f.dir, "cgroup.events"))
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("frozen 1")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("freezer cgroup not frozen after %s", max)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// release runs on every way out of Stop once the freezer exists: it thaws
// the cgroup, moves every process still in it back (the ones Stop moved in
// to where each was, identified by pidfd as in add; any other, born in the
// freezer or put there, to the target's cgroup, with a warning), and removes
// the cgroup. It returns what it could not do.
func (f *cgroupFreezer) release(max time.Duration) []string {
	var warns []string
	if err := f.set(false); err != nil {
		warns = append(warns, fmt.Sprintf("thaw freezer cgroup %s: %v", f.dir, err))
	}
	for _, m := range f.moved {
		if !alive(m.fd) {
			continue // killed and reaped
		}
		pid := m.id.PID
		if err := f.write(f.cgroupDir(f.before[pid]), pid); err != nil && alive(m.fd) && f.contains(pid) {
			warns = append(warns, fmt.Sprintf("move pid %d back to cgroup %s: %v", pid, f.before[pid], err))
		}
	}
	for _, pid := range f.procs() {
		if err := f.write(f.cgroupDir(f.home), pid); err != nil {
			warns = append(warns, fmt.Sprintf("pid %d left in the (thawed) freezer cgroup: %v", pid, err))
			continue
		}
		warns = append(warns, fmt.Sprintf("pid %d was in the freezer cgroup without being stopped (born there?); thawed and moved to %s", pid, f.cgroupDir(f.home)))
	}
	if err := f.remove(max); err != nil {
		warns = append(warns, err.Error())
	}
	return warns
}

// remove deletes the cgroup once it is empty.
func (f *cgroupFreezer) remove(max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		err := os.Remove(f.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove freezer cgroup %s: %w", f.dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// beforeMove, in tests, runs right before a PID is written to the
// freezer's cgroup.procs; a test reuses the PID in it.
var beforeMove func(pid int)
