package scan

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// holdDeleted starts `sh -c "sleep 600 & wait"` holding each file on
// every descriptor from 3 on (ExtraFiles), waits for the child, and
// deletes the files: a tree that holds deleted files open, as malware
// does with its payload.
func holdDeleted(t *testing.T, files ...string) (pid, child int) {
	t.Helper()
	var extra []*os.File
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		extra = append(extra, fh)
	}
	cmd := exec.Command("/bin/sh", "-c", "/bin/sleep 600 & wait")
	cmd.ExtraFiles = extra
	startCmd(t, cmd)
	pid = cmd.Process.Pid
	for i := 0; i < 200 && child == 0; i++ {
		if d := descendants(procfs.NewDefaultFS(), pid); len(d) > 0 {
			child = d[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("child never started")
	}
	for _, f := range files {
		os.Remove(f)
	}
	return pid, child
}

func randomFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated is the disk space a file takes (st_blocks), not its size.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// evidenceSize sums the disk space of an evidence directory.
func evidenceSize(t *testing.T, dir string) (files int, bytes int64) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files++
			bytes += allocated(t, p)
		}
		return nil
	})
	return files, bytes
}

// TestCaptureDeletedOncePerInode: one deleted file held on three
// descriptors of a process and of its child is copied once; every
// descriptor names that copy in deleted-fds.json. Before, it was copied
// once per descriptor (eight copies here).
func TestCaptureDeletedOncePerInode(t *testing.T) {
	needLiveRoot(t)
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload")
	want := randomFile(t, payload, 1<<20)
	pid, child := holdDeleted(t, payload, payload, payload)
	ev := filepath.Join(dir, "ev")
	plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, Freezer: FreezeSignal})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Stop(context.Background(), plan, ApplyOptions{Apply: true}); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	readJSON(t, filepath.Join(ev, "manifest.json"), &m)
	var copies []ManifestFile
	for _, f := range m.Files {
		if strings.Contains(f.Path, "/deleted-fds/") {
			copies = append(copies, f)
		}
	}
	sum := sha256.Sum256(want)
	if len(copies) != 1 || copies[0].SHA256 != hex.EncodeToString(sum[:]) || copies[0].Size != int64(len(want)) {
		t.Fatalf("deleted file copies %+v, want one of %d bytes with sha %x", copies, len(want), sum)
	}
	for _, p := range []int{pid, child} {
		var held map[int]string
		readJSON(t, filepath.Join(ev, "pid-"+itoa(p), "deleted-fds.json"), &held)
		for _, fd := range []int{3, 4, 5} {
			if held[fd] != copies[0].Path {
				t.Errorf("pid %d fd %d → %q, want %q (%v)", p, fd, held[fd], copies[0].Path, held)
			}
		}
	}
}

// TestCaptureSparse: a deleted sparse file (64 MiB, two 4 KiB extents) is
// copied with its holes: the copy has the same size and hash and takes
// about its data on disk. Before, it was written densely (64 MiB).
func TestCaptureSparse(t *testing.T) {
	needLiveRoot(t)
	dir := t.TempDir()
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	data := make([]byte, 4096)
	rand.Read(data)
	f.WriteAt(data, 0)
	f.WriteAt(data, 32<<20)
	f.Truncate(size)
	f.Close()
	if a := allocated(t, sparse); a > 1<<20 {
		t.Skipf("the test filesystem does not keep holes (%d bytes allocated)", a)
	}
	h := sha256.New()
	in, _ := os.Open(sparse)
	buf := make([]byte, 1<<20)
	for {
		n, err := in.Read(buf)
		h.Write(buf[:n])
		if err != nil {
			break
		}
	}
	in.Close()
	sum := hex.EncodeToString(h.Sum(nil))
	pid, _ := holdDeleted(t, sparse)
	ev := filepath.Join(dir, "ev")
	plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, Freezer: FreezeSignal, NoTree: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Stop(context.Background(), plan, ApplyOptions{Apply: true}); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	readJSON(t, filepath.Join(ev, "manifest.json"), &m)
	i := slices.IndexFunc(m.Files, func(f ManifestFile) bool { return strings.HasSuffix(f.Path, "/deleted-fds/3") })
	if i < 0 {
		t.Fatalf("no copy of the sparse file: %+v", m.Files)
	}
	got := m.Files[i]
	if got.Size != size || got.SHA256 != sum || got.Truncated {
		t.Errorf("copy %+v, want %d bytes with sha %s", got, size, sum)
	}
	p := filepath.Join(ev, got.Path)
	if fi, err := os.Stat(p); err != nil || fi.Size() != size {
		t.Errorf("copy on disk: %v %v", fi, err)
	}
	if a := allocated(t, p); a > 1<<20 {
		t.Errorf("the copy takes %d bytes on disk for 8 KiB of data: holes filled", a)
	}
	if fileSHA(t, p) != sum {
		t.Error("the copy's content differs from the original")
	}
}

// TestCaptureBudget: with MaxEvidence at 4 MiB, a tree holding three
// deleted 3 MiB files writes at most 4 MiB of evidence; what is cut is
// flagged and said. Before, every copy was bounded only by MaxFileSize.
func TestCaptureBudget(t *testing.T) {
	needLiveRoot(t)
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"a", "b", "c"} {
		p := filepath.Join(dir, n)
		randomFile(t, p, 3<<20)
		files = append(files, p)
	}
	pid, _ := holdDeleted(t, files...)
	ev := filepath.Join(dir, "ev")
	const budget = 4 << 20
	plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, Freezer: FreezeSignal, MaxEvidence: budget})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Killed, pid) {
		t.Errorf("killed %v: the budget must not stop the kill", res.Killed)
	}
	var m Manifest
	readJSON(t, filepath.Join(ev, "manifest.json"), &m)
	var total int64
	truncated := false
	for _, f := range m.Files {
		total += f.Size
		truncated = truncated || f.Truncated
	}
	// manifest.json itself is written after the budget is spent.
	if total > budget {
		t.Errorf("%d bytes of evidence listed, budget %d", total, budget)
	}
	if _, disk := evidenceSize(t, ev); disk > budget+1<<20 {
		t.Errorf("%d bytes on disk, budget %d", disk, budget)
	}
	if !truncated || !slices.ContainsFunc(m.Errors, func(e string) bool { return strings.Contains(e, "budget") }) {
		t.Errorf("budget exhaustion not recorded: truncated %v, errors %v", truncated, m.Errors)
	}
}

// TestStopRefusesFullDisk: an evidence directory on a filesystem without
// room (a 32 MiB tmpfs: less than the reserve and the minimum budget) is
// refused with ErrEvidenceSpace before anything is frozen or killed.
// Before, Stop froze, filled the disk and killed.
func TestStopRefusesFullDisk(t *testing.T) {
	needLiveRoot(t)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=32m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	cmd := exec.Command("/bin/sleep", "600")
	startCmd(t, cmd)
	ev := filepath.Join(mnt, "ev")
	plan, err := PlanStop(context.Background(), cmd.Process.Pid, StopOptions{EvidenceDir: ev})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if !errors.Is(err, ErrEvidenceSpace) {
		t.Fatalf("err = %v, want ErrEvidenceSpace", err)
	}
	if len(res.Frozen) != 0 || len(res.Killed) != 0 {
		t.Errorf("frozen %v killed %v with no room for the evidence", res.Frozen, res.Killed)
	}
	if s := state(cmd.Process.Pid); s != 'S' {
		t.Errorf("process state %c, want S (untouched)", s)
	}
	if plan.CgroupDir != "" {
		if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
			t.Errorf("freezer cgroup made: %v", err)
		}
	}
	// On a 96 MiB tmpfs the budget is lowered to what is free above the
	// reserve, with a warning.
	big := t.TempDir()
	if err := unix.Mount("tmpfs", big, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=96m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(big, unix.MNT_DETACH) })
	var st syscall.Statfs_t
	if err := syscall.Statfs(big, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	got, warn, err := evidenceBudget(big, DefaultMaxEvidence)
	if err != nil || got != free-EvidenceReserve || !strings.Contains(warn, "lowered") {
		t.Errorf("budget on a 96 MiB tmpfs: %d %q %v, want %d", got, warn, err, free-EvidenceReserve)
	}
}

// TestStopMemoryDefault: with no MaxMemory the plan captures up to
// DefaultMaxMemory; the regions come anonymous (heap, stack, anonymous
// mappings) first, file-backed writable next, file-backed code last, each
// in its own file hashed in the manifest; a small budget is spent on
// anonymous memory only. Before, memory was off by default and went in
// address order (the executable's own code first).
func TestStopMemoryDefault(t *testing.T) {
	needLiveRoot(t)
	rank := func(src string) int {
		// Source is "/proc/PID/mem@ADDR (PERMS PATH)".
		i := strings.LastIndex(src, " (")
		perms, path, _ := strings.Cut(strings.TrimSuffix(src[i+2:], ")"), " ")
		switch {
		case path == "" || strings.HasPrefix(path, "["):
			return 0
		case perms[1] == 'w' || strings.HasSuffix(path, " (deleted)"):
			return 1
		}
		return 2
	}
	for _, tc := range []struct {
		max      int64
		maxRank  int
		wantPlan int64
	}{
		{0, 2, DefaultMaxMemory},
		{64 << 10, 0, 64 << 10},
	} {
		cmd := exec.Command("/bin/sleep", "600")
		startCmd(t, cmd)
		ev := filepath.Join(t.TempDir(), "ev")
		plan, err := PlanStop(context.Background(), cmd.Process.Pid, StopOptions{EvidenceDir: ev, MaxMemory: tc.max, Freezer: FreezeSignal})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Options.MaxMemory != tc.wantPlan {
			t.Errorf("MaxMemory %d planned as %d, want %d", tc.max, plan.Options.MaxMemory, tc.wantPlan)
		}
		if _, err := Stop(context.Background(), plan, ApplyOptions{Apply: true}); err != nil {
			t.Fatal(err)
		}
		var m Manifest
		readJSON(t, filepath.Join(ev, "manifest.json"), &m)
		last, total, n := 0, int64(0), 0
		var ranks []int
		for _, f := range m.Files {
			if !strings.Contains(f.Path, "/mem/") {
				continue
			}
			n++
			total += f.Size
			r := rank(f.Source)
			ranks = append(ranks, r)
			if r < last {
				t.Errorf("MaxMemory %d: region %s (rank %d) after rank %d", tc.max, f.Source, r, last)
			}
			last = max(last, r)
			if len(f.SHA256) != 64 || fileSHA(t, filepath.Join(ev, f.Path)) != f.SHA256 {
				t.Errorf("region %s: hash %q does not match the file", f.Path, f.SHA256)
			}
		}
		if n == 0 || total > tc.wantPlan || last > tc.maxRank || ranks[0] != 0 {
			t.Errorf("MaxMemory %d: %d regions, %d bytes, ranks %v", tc.max, n, total, ranks)
		}
	}
}
