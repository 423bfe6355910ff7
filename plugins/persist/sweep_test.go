package persist

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

// sevAt returns the highest severity Find reports at path (-1: none).
func sevAt(fs []Finding, path string) Severity {
	s := Severity(-1)
	for _, f := range fs {
		if f.Path == path && f.Severity > s {
			s = f.Severity
		}
	}
	return s
}

// TestSweep: what the sweep of program and library directories reports,
// by place, owner, mode, name and time, with and without the window.
func TestSweep(t *testing.T) {
	old := hosttest.Epoch
	in := hosttest.InfectionTime
	deb := hosttest.Debian12()
	// A packaged PAM module replaced (the package's md5sums still name the
	// stock copy).
	tree := deb.With(
		hosttest.Entry{Path: "/usr/lib/x86_64-linux-gnu/security/pam_unix.so", Data: hosttest.FakeELF("pam_unix that logs passwords"), Mode: 0o644, Mtime: old},
		hosttest.Entry{Path: "/usr/bin/.sshd", Data: hosttest.FakeELF("bash copy"), Mode: fs.ModeSetuid | 0o755, Mtime: old},
		hosttest.Entry{Path: "/usr/bin/ps ", Data: hosttest.FakeELF("ps with a blank"), Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/usr/bin/admin-tool", Data: hosttest.FakeELF("an operator's own tool"), Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/usr/bin/new-in-window", Data: hosttest.FakeELF("dropped"), Mode: 0o755, Mtime: in},
		hosttest.Entry{Path: "/usr/lib/x86_64-linux-gnu/libold.so.1", Data: hosttest.FakeELF("old lib"), Mode: 0o644, Mtime: old},
		hosttest.Entry{Path: "/usr/local/bin/backup", Data: "#!/bin/sh\ntar czf /var/backups/x.tgz /srv\n", Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/usr/local/bin/fresh", Data: hosttest.FakeELF("fresh"), Mode: 0o755, Mtime: in},
		hosttest.Entry{Path: "/etc/ssl/certs/helper", Data: hosttest.FakeELF("elf in etc"), Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/home/admin/.local/bin/top", Data: hosttest.FakeELF("top wrapper"), Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/home/admin/.cargo/bin/rustc", Data: hosttest.FakeELF("rustc"), Mode: 0o755, Mtime: old},
		hosttest.Entry{Path: "/home/admin/.x/y/z", Data: hosttest.FakeELF("hidden"), Mode: 0o755, Mtime: old},
	)
	dir := build(t, tree)
	type row struct{ Path, NoWindow, Window string }
	var got []row
	paths := []string{
		"/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "/usr/bin/.sshd", "/usr/bin/ps ", "/usr/bin/admin-tool", "/usr/bin/new-in-window",
		"/usr/lib/x86_64-linux-gnu/libold.so.1", "/usr/local/bin/backup", "/usr/local/bin/fresh", "/etc/ssl/certs/helper",
		"/home/admin/.local/bin/top", "/home/admin/.cargo/bin/rustc", "/home/admin/.x/y/z",
		"/usr/bin/sudo", "/usr/bin/ps", "/usr/lib/x86_64-linux-gnu/security/pam_env.so",
	}
	none := find(t, dir, time.Time{})
	win := find(t, dir, hosttest.Window())
	name := func(s Severity) string {
		if s < 0 {
			return "-"
		}
		return s.String()
	}
	for _, p := range paths {
		got = append(got, row{p, name(sevAt(none, p)), name(sevAt(win, p))})
	}
	want := []row{
		{"/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "high", "high"}, // digest differs from libpam-modules
		{"/usr/bin/.sshd", "high", "high"},                                 // SUID root, unowned
		{"/usr/bin/ps ", "high", "high"},                                   // a blank made to pass for ps
		{"/usr/bin/admin-tool", "medium", "medium"},                        // unowned ELF, older than the window
		{"/usr/bin/new-in-window", "medium", "high"},
		{"/usr/lib/x86_64-linux-gnu/libold.so.1", "-", "-"}, // counted in /usr/lib's summary finding
		{"/usr/local/bin/backup", "-", "-"},                 // administrators' own place, old
		{"/usr/local/bin/fresh", "-", "high"},
		{"/etc/ssl/certs/helper", "high", "high"},
		{"/home/admin/.local/bin/top", "high", "high"},
		{"/home/admin/.cargo/bin/rustc", "-", "-"}, // a toolchain directory: not walked
		{"/home/admin/.x/y/z", "medium", "medium"},
		{"/usr/bin/sudo", "-", "-"}, // packaged SUID, unchanged
		{"/usr/bin/ps", "-", "-"},
		{"/usr/lib/x86_64-linux-gnu/security/pam_env.so", "-", "-"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sweep severities (-want +got):\n%s", diff)
	}
}

// BenchmarkSweep measures the sweep on this machine's real "/" (read
// only): the directories walked, one stat per file, the first bytes of
// files no package owns.
func BenchmarkSweep(b *testing.B) {
	r, err := os.Stat("/var/lib/dpkg/info")
	if err != nil || !r.IsDir() {
		b.Skip("no dpkg database on this host")
	}
	benchSweep(b, "/")
}

// benchSweep loads the package db once, then times the sweep alone.
func benchSweep(b *testing.B, root string) {
	ctx := context.Background()
	r, err := rootfs.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	o := Options{Root: root}.withDefaults()
	db := loadPkgDB(ctx, r, o.MaxFileBytes)
	n, entries := 0, 0
	cpu0 := cpuTime()
	for b.Loop() {
		f := &finder{ctx: ctx, fs: r, o: o, db: db, refs: map[string]refSource{}}
		f.findSweep()
		n, entries = len(f.out), f.swept
	}
	b.ReportMetric(float64(n), "findings")
	b.ReportMetric(float64(entries), "entries")
	// CPU time of the process per op: on a shared machine the wall time
	// moves with the load, this does not (much).
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if entries > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(entries), "ns/entry")
	}
}

// BenchmarkSweepStock measures the sweep on the stock Debian fixture.
func BenchmarkSweepStock(b *testing.B) {
	dir := b.TempDir()
	if err := hosttest.Write(dir, hosttest.Debian12()); err != nil {
		b.Fatal(err)
	}
	benchSweep(b, filepath.Clean(dir))
}

// cpuTime is the user+system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
