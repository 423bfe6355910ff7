package procfs

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// mountinfoSample is in the shape of proc(5)'s example and of a live host's
// /proc/self/mountinfo: optional fields (shared:N, master:N) before the
// " - " separator, an escaped space, and a bind mount of a directory over
// /proc/4242 as process-hiding malware leaves it.
const mountinfoSample = `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
31 25 0:27 / /mnt/with\040space rw - tmpfs none rw
1501 22 253:1 /tmp/.empty /proc/4242 rw,relatime shared:1 - ext4 /dev/vda1 rw
1502 22 253:1 /tmp/.x /proc/77/fd rw,relatime - ext4 /dev/vda1 rw
1503 22 0:21 / /proc/sys rw - proc proc rw
1504 22 0:21 / /proc/0042 rw - proc proc rw
garbage line
`

func TestParseMountinfo(t *testing.T) {
	ms := parseMountinfo([]byte(mountinfoSample))
	if len(ms) != 8 {
		t.Fatalf("%d mounts, want 8: %+v", len(ms), ms)
	}
	if d := cmp.Diff(Mount{ID: 36, Parent: 35, Root: "/mnt1", MountPoint: "/mnt2", FSType: "ext3", Source: "/dev/root"}, ms[2]); d != "" {
		t.Errorf("mount 36 (-want +got):\n%s", d)
	}
	if ms[3].MountPoint != "/mnt/with space" {
		t.Errorf("escaped mount point %q", ms[3].MountPoint)
	}
	got := pidMounts(ms, "/proc")
	want := map[int][]Mount{
		4242: {{ID: 1501, Parent: 22, Root: "/tmp/.empty", MountPoint: "/proc/4242", FSType: "ext4", Source: "/dev/vda1"}},
		77:   {{ID: 1502, Parent: 22, Root: "/tmp/.x", MountPoint: "/proc/77/fd", FSType: "ext4", Source: "/dev/vda1"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pid mounts (-want +got):\n%s", d)
	}
	if got := pidMounts(ms, "/srv/proc"); got != nil {
		t.Errorf("pid mounts of another root: %v", got)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(mountinfoSample))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseMountinfo(b) {
			if len(m.MountPoint) > len(b) || len(m.Root) > len(b) || len(m.Source) > len(b) {
				t.Fatalf("field longer than the input: %+v", m)
			}
		}
		for pid, ms := range pidMounts(parseMountinfo(b), "/proc") {
			if pid <= 0 || len(ms) == 0 {
				t.Fatalf("pid %d: %v", pid, ms)
			}
		}
	})
}

// TestOpenFresh hides a process this test started with a real bind mount
// of an empty directory over /proc/PID: /proc shows an empty directory,
// PIDMounts names the mount, and the fresh procfs shows the process whole.
func TestOpenFresh(t *testing.T) {
	testenv.NeedRoot(t, "mounts over /proc/PID")
	cmd := exec.Command("/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	empty := t.TempDir()
	dir := "/proc/" + strconv.Itoa(pid)
	if err := unix.Mount(empty, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount over %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	fs := NewDefaultFS()
	if _, err := fs.Stat(pid); !os.IsNotExist(err) {
		t.Fatalf("stat through the hidden /proc/%d: %v, want not found", pid, err)
	}
	hidden, err := fs.PIDMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(hidden[pid]) != 1 || hidden[pid][0].MountPoint != dir {
		t.Fatalf("PIDMounts()[%d] = %+v", pid, hidden[pid])
	}
	fresh, closeFresh, err := OpenFresh()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFresh()
	st, err := fresh.Stat(pid)
	if err != nil || st.Comm != "sleep" || st.PPID != os.Getpid() {
		t.Fatalf("fresh procfs: stat %+v %v", st, err)
	}
	if !fresh.IsLive() {
		t.Error("the fresh procfs is not live")
	}
	if got, _ := fresh.PIDMounts(); len(got) != 0 {
		t.Errorf("mounts matched against the fresh root: %v", got)
	}
	if exe, err := fresh.Readlink(pid, "exe"); err != nil || exe == "" {
		t.Errorf("exe through the fresh procfs: %q %v", exe, err)
	}
}
