package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
)

func needLiveRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: stopping and capturing processes")
	}
	if !procfs.NewDefaultFS().IsLive() {
		t.Skip("/proc is not this PID namespace's procfs")
	}
}

// copyBinary copies a system binary under a scanner-like name.
func copyBinary(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skip("no", src)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func startCmd(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

func state(pid int) byte {
	st, err := procfs.NewDefaultFS().Stat(pid)
	if err != nil {
		return 0
	}
	return st.State
}

// TestStopRealProcess stops a real process running from a copied binary
// that was then deleted, holding a deleted file open, with a child, with
// each freezer.
func TestStopRealProcess(t *testing.T) {
	needLiveRoot(t)
	t.Run("sigstop", func(t *testing.T) { testStopReal(t, FreezeSignal) })
	t.Run("cgroup", func(t *testing.T) {
		if cgroup2Mount(procfs.NewDefaultFS()) == "" {
			t.Skip("no cgroup v2 hierarchy mounted")
		}
		testStopReal(t, FreezeCgroup)
	})
}

func testStopReal(t *testing.T, freezer string) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "work32")
	sum := copyBinary(t, "/bin/sh", exe)
	copyBinary(t, "/bin/sleep", filepath.Join(dir, "sleep"))
	secret := filepath.Join(dir, "payload.conf")
	if err := os.WriteFile(secret, []byte("pool=stratum+tcp://pool.example:3333\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(exe, "-c", filepath.Join(dir, "sleep")+" 600 & wait")
	cmd.Stdin = in
	startCmd(t, cmd)
	// Wait for the child, then delete the binaries and the file from disk.
	pid := cmd.Process.Pid
	var child int
	for i := 0; i < 200 && child == 0; i++ {
		if d := descendants(procfs.NewDefaultFS(), pid); len(d) > 0 {
			child = d[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("child never started")
	}
	for _, f := range []string{exe, secret, filepath.Join(dir, "sleep")} {
		os.Remove(f)
	}

	ev := filepath.Join(dir, "evidence")
	plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, MaxMemory: 1 << 20, Freezer: freezer})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(plan.Target.Exe, "work32 (deleted)") || len(plan.Tree) != 1 || plan.Tree[0].PID != child {
		t.Fatalf("plan = %+v", plan)
	}
	// A dry run touches nothing.
	res, err := Stop(context.Background(), plan, ApplyOptions{})
	if err != nil || !res.DryRun || len(res.Killed) != 0 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := os.Stat(ev); !os.IsNotExist(err) || state(pid) == 'T' {
		t.Fatalf("dry run touched something: %v, state %c", err, state(pid))
	}

	res, err = Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Killed, []int{pid, child}) || res.Freeze != freezer {
		t.Errorf("killed %v with %s, want [%d %d] with %s (warnings %v)", res.Killed, res.Freeze, pid, child, freezer, res.Warnings)
	}
	if plan.CgroupDir != "" {
		if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
			t.Errorf("freezer cgroup %s left behind: %v", plan.CgroupDir, err)
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.String() != "signal: killed" {
		t.Errorf("process exit: %v", err)
	}
	// The child, reparented, is gone or a zombie waiting for its reaper.
	if s := state(child); s != 0 && s != 'Z' && s != 'X' {
		t.Errorf("child %d still running, state %c", child, s)
	}

	// The evidence: the executable, copied although deleted, hashes as the
	// original; the deleted file held open is there; the manifest's
	// hashes are those of the files.
	b, err := os.ReadFile(filepath.Join(ev, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	files := map[string]ManifestFile{}
	for _, f := range m.Files {
		files[f.Path] = f
		got := fileSHA(t, filepath.Join(ev, f.Path))
		if got != f.SHA256 {
			t.Errorf("%s: manifest sha %s, file %s", f.Path, f.SHA256, got)
		}
	}
	p := "pid-" + itoa(pid)
	if f, ok := files[p+"/exe"]; !ok || f.SHA256 != sum {
		t.Errorf("exe copy: %+v, want sha %s", f, sum)
	}
	if c, err := os.ReadFile(filepath.Join(ev, p, "deleted-fds", "0")); err != nil || !strings.Contains(string(c), "stratum") {
		t.Errorf("deleted file held open: %q %v", c, err)
	}
	for _, want := range []string{"sockets.json", p + "/fds.json", p + "/maps", p + "/cmdline", p + "/environ", p + "/status", p + "/links.json", "parents.json", "pid-" + itoa(child) + "/cmdline"} {
		if _, ok := files[want]; !ok {
			t.Errorf("manifest lacks %s", want)
		}
	}
	// Most volatile first: sockets before memory before the executable.
	order := func(name string) int {
		return slices.IndexFunc(m.Files, func(f ManifestFile) bool { return f.Path == name })
	}
	if !(order("sockets.json") < order(p+"/maps") && order(p+"/maps") < order(p+"/environ") && order(p+"/environ") < order(p+"/exe")) {
		t.Errorf("capture order wrong: %v", m.Files)
	}
	var mem int64
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, p+"/mem/") {
			mem += f.Size
		}
	}
	if mem == 0 || mem > 1<<20 {
		t.Errorf("memory captured: %d bytes, want (0, 1 MiB]", mem)
	}
	if m.Target.PID != pid || len(m.Tree) != 1 {
		t.Errorf("manifest target %+v tree %+v", m.Target, m.Tree)
	}
}

func fileSHA(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStopRefusals checks each refusal with errors.Is.
func TestStopRefusals(t *testing.T) {
	needLiveRoot(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		pid  int
		want error
	}{
		{"pid 1", 1, ErrProtectedPID},
		{"self", os.Getpid(), ErrSelfOrAncestor},
		{"parent", os.Getppid(), ErrSelfOrAncestor},
		{"gone", 1 << 22, ErrProcessGone},
	} {
		if _, err := PlanStop(ctx, tc.pid, StopOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if k := kernelThread(); k > 0 {
		if _, err := PlanStop(ctx, k, StopOptions{}); !errors.Is(err, ErrKernelThread) {
			t.Errorf("kernel thread %d: err = %v", k, err)
		}
	} else {
		t.Log("no kernel thread visible in this PID namespace; that refusal is tested on a fake tree")
	}

	// Identity changed: the plan is for another process than the one now
	// behind the PID (as after PID reuse). Nothing is stopped or killed.
	cmd := exec.Command("/bin/sleep", "600")
	startCmd(t, cmd)
	plan, err := PlanStop(ctx, cmd.Process.Pid, StopOptions{EvidenceDir: filepath.Join(t.TempDir(), "ev")})
	if err != nil {
		t.Fatal(err)
	}
	reused := plan
	reused.Target.StartTime--
	if _, err := Stop(ctx, reused, ApplyOptions{Apply: true}); !errors.Is(err, ErrIdentityChanged) {
		t.Errorf("changed start time: err = %v", err)
	}
	other := plan
	other.Target.ExeIno++
	if _, err := Stop(ctx, other, ApplyOptions{Apply: true}); !errors.Is(err, ErrIdentityChanged) {
		t.Errorf("changed executable: err = %v", err)
	}
	if s := state(cmd.Process.Pid); s != 'S' {
		t.Errorf("process state %c after refused stops, want S", s)
	}
	// A planted symlink or a shared directory is refused as evidence
	// directory, and nothing is killed.
	victim := t.TempDir()
	link := filepath.Join(t.TempDir(), "ev")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777)
	for _, dir := range []string{link, shared} {
		p := plan
		p.EvidenceDir = dir
		if _, err := Stop(ctx, p, ApplyOptions{Apply: true}); err == nil || !strings.Contains(err.Error(), "evidence directory") {
			t.Errorf("evidence dir %s: err = %v", dir, err)
		}
		if s := state(cmd.Process.Pid); s != 'S' && s != 'R' {
			t.Errorf("after refused evidence dir %s: state %c", dir, s)
		}
	}
	// Gone between plan and stop.
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := Stop(ctx, plan, ApplyOptions{Apply: true}); !errors.Is(err, ErrProcessGone) {
		t.Errorf("gone: err = %v", err)
	}
	// A fake root can be planned on but never acted on.
	root := writeHost(t, benignHost())
	fplan, err := PlanStop(ctx, 500, StopOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Stop(ctx, fplan, ApplyOptions{Apply: true}); !errors.Is(err, ErrNotLive) {
		t.Errorf("fake root: err = %v", err)
	}
	if _, err := PlanStop(ctx, 3, StopOptions{Root: root}); !errors.Is(err, ErrKernelThread) {
		t.Errorf("fake kernel thread: err = %v", err)
	}
}

func kernelThread() int {
	fs := procfs.NewDefaultFS()
	pids, _ := fs.PIDs()
	for _, p := range pids {
		if st, err := fs.Stat(p); err == nil && st.IsKernelThread() {
			return p
		}
	}
	return 0
}

// TestCgroupFreezer freezes a real process in a cgroup v2 freezer, checks
// that it is frozen there, and releases it back where it was.
func TestCgroupFreezer(t *testing.T) {
	needLiveRoot(t)
	fs := procfs.NewDefaultFS()
	mount := cgroup2Mount(fs)
	if mount == "" {
		t.Skip("no cgroup v2 hierarchy mounted")
	}
	cmd := exec.Command("/bin/sleep", "600")
	startCmd(t, cmd)
	pid := cmd.Process.Pid
	before := cgroupPath(fs, pid)
	dir := filepath.Join(mount, "abusekit-test-"+itoa(os.Getpid()))
	fz, err := newCgroupFreezer(fs, mount, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fz.release() })
	if err := fz.add(pid); err != nil {
		t.Fatal(err)
	}
	if err := fz.set(true); err != nil {
		t.Fatal(err)
	}
	if err := fz.wait(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := cgroupPath(fs, pid); got != "/"+filepath.Base(dir) {
		t.Errorf("cgroup while frozen = %q", got)
	}
	fz.release()
	if got := cgroupPath(fs, pid); got != before {
		t.Errorf("cgroup after release = %q, want %q", got, before)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("freezer cgroup not removed: %v", err)
	}
	if s := state(pid); s != 'S' && s != 'R' {
		t.Errorf("state after release %c, want S or R (thawed)", s)
	}
}
