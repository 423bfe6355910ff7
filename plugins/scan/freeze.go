package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
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
type cgroupFreezer struct {
	fs     procfs.FS
	mount  string
	dir    string
	before map[int]string // pid → v2 cgroup path before the move
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

// add moves a process into the freezer cgroup (frozen at once if the
// cgroup already is).
func (f *cgroupFreezer) add(pid int) error {
	if _, ok := f.before[pid]; ok {
		return nil
	}
	f.before[pid] = cgroupPath(f.fs, pid)
	if err := os.WriteFile(filepath.Join(f.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		delete(f.before, pid)
		return fmt.Errorf("move pid %d into freezer cgroup: %w", pid, err)
	}
	return nil
}

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

// release thaws the cgroup and moves every process back where it was.
func (f *cgroupFreezer) release() {
	f.set(false)
	for pid, path := range f.before {
		if path == "" {
			continue
		}
		os.WriteFile(filepath.Join(f.mount, path, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	}
	f.remove(time.Second)
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
