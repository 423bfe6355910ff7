package procfs

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCgroup(t *testing.T) {
	in := "12:cpu,cpuacct:/user.slice\n1:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\nnot a line\n-1::/x\n0::/odd:path\n"
	want := []Cgroup{
		{ID: 12, Controllers: []string{"cpu", "cpuacct"}, Path: "/user.slice"},
		{ID: 1, Controllers: []string{"name=systemd"}, Path: "/system.slice/cron.service"},
		{ID: 0, Path: "/system.slice/cron.service"},
		{ID: 0, Path: "/odd:path"},
	}
	got := parseCgroup([]byte(in))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if p := CgroupV2Path(got); p != "/system.slice/cron.service" {
		t.Errorf("v2 path %q", p)
	}
	if p := CgroupV2Path(parseCgroup([]byte("1:name=systemd:/a\n"))); p != "" {
		t.Errorf("v1 only: v2 path %q", p)
	}
}

func TestParseCgroup2Mounts(t *testing.T) {
	in := "22 1 0:21 / /proc rw,nosuid - proc proc rw\n" +
		"30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n" +
		"31 25 0:27 / /mnt/with\\040space\\134x rw - cgroup2 none rw\n" +
		"32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
		"33 25 0:29 / /bad\\9zz rw - cgroup2 none rw\n"
	want := []string{"/sys/fs/cgroup", `/mnt/with space\x`, `/bad\9zz`}
	if d := cmp.Diff(want, parseCgroup2Mounts([]byte(in))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestCgroupsLive(t *testing.T) {
	fs := NewDefaultFS()
	if !fs.IsLive() {
		t.Skip("/proc is not this process's procfs")
	}
	cgs, err := fs.Cgroups(os.Getpid())
	if err != nil || len(cgs) == 0 {
		t.Fatalf("own cgroups: %v %v", cgs, err)
	}
	if _, err := fs.Cgroup2Mounts(); err != nil {
		t.Fatal(err)
	}
}
