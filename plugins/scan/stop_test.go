package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/internal/testenv"
	"golang.org/x/sys/unix"
)

func needLiveRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "stopping and capturing processes")
	if !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "/proc is not this PID namespace's procfs")
	}
}

// copyBinary copies a system binary under a scanner-like name.
func copyBinary(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		testenv.Skipf(t, "no %s", src)
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
	// It holds a loopback listener (fd 3), shared with its child.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lnFile, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lnFile.Close()
	lnAddr := netip.MustParseAddrPort(ln.Addr().String())
	cmd := exec.Command(exe, "-c", filepath.Join(dir, "sleep")+" 600 & wait")
	cmd.Stdin = in
	cmd.Dir = dir
	cmd.Env = []string{"ABUSEKIT_TEST_MARK=evidence-" + freezer}
	cmd.ExtraFiles = []*os.File{lnFile}
	startCmd(t, cmd)
	lnFile.Close()
	ln.Close()
	// Wait for the child, then delete the binaries and the file from disk.
	pid := cmd.Process.Pid
	var child int
	for i := 0; i < 200 && child == 0; i++ {
		// The child once it runs sleep: removed before its exec, the
		// binary would be missing and the child gone (as on a busy
		// machine it was, now and then).
		if d := descendants(procfs.NewDefaultFS(), pid); len(d) > 0 {
			if exe, _ := os.Readlink("/proc/" + itoa(d[0]) + "/exe"); strings.HasSuffix(exe, "/sleep") {
				child = d[0]
			}
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

	// Right before the kill, the whole tree must be frozen: stopped
	// (SIGSTOP) or in the frozen freezer cgroup.
	checked := false
	setBeforeKill(t, func(members []pidfd) {
		checked = true
		fs := procfs.NewDefaultFS()
		for _, p := range []int{pid, child} {
			switch freezer {
			case FreezeSignal:
				if s := state(p); s != 'T' {
					t.Errorf("before the kill pid %d is in state %c, want T (stopped)", p, s)
				}
			case FreezeCgroup:
				if got := cgroupPath(fs, p); got != "/"+filepath.Base(plan.CgroupDir) {
					t.Errorf("before the kill pid %d is in cgroup %q, want the freezer %s", p, got, plan.CgroupDir)
				}
			}
		}
		if freezer == FreezeCgroup {
			if b, err := os.ReadFile(filepath.Join(plan.CgroupDir, "cgroup.events")); err != nil || !strings.Contains(string(b), "frozen 1") {
				t.Errorf("freezer cgroup events %q %v, want frozen 1", b, err)
			}
		}
	})
	res, err = Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Error("the re-check before the kill never ran")
	}
	if !slices.Equal(res.Killed, []int{pid, child}) || res.Freeze != freezer {
		t.Errorf("killed %v with %s, want [%d %d] with %s (warnings %v)", res.Killed, res.Freeze, pid, child, freezer, res.Warnings)
	}
	if !slices.Equal(res.Frozen, []int{pid, child}) {
		t.Errorf("frozen %v, want [%d %d]", res.Frozen, pid, child)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "not stopped") || strings.Contains(w, "SIGSTOP") || strings.Contains(w, "skipped") || strings.Contains(w, "not frozen") {
			t.Errorf("unexpected warning: %s", w)
		}
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

	// What the files say. Captured while frozen: stopped (SIGSTOP), or
	// in the freezer cgroup, with where each process was recorded.
	for _, p := range []int{pid, child} {
		d := filepath.Join(ev, "pid-"+itoa(p))
		switch freezer {
		case FreezeSignal:
			if b, err := os.ReadFile(filepath.Join(d, "status")); err != nil || !strings.Contains(string(b), "State:\tT (stopped)") {
				t.Errorf("pid %d status captured not stopped: %v\n%s", p, err, b)
			}
		case FreezeCgroup:
			if b, err := os.ReadFile(filepath.Join(d, "cgroup")); err != nil || !strings.Contains(string(b), "0::/"+filepath.Base(plan.CgroupDir)+"\n") {
				t.Errorf("pid %d cgroup captured outside the freezer %s: %v\n%s", p, plan.CgroupDir, err, b)
			}
		}
	}
	if freezer == FreezeCgroup {
		if _, ok := files["cgroups-before-freeze.json"]; !ok {
			t.Error("manifest lacks cgroups-before-freeze.json")
		}
		var before map[int]string
		readJSON(t, filepath.Join(ev, "cgroups-before-freeze.json"), &before)
		if len(before) != 2 || before[pid] == "" || before[child] == "" || strings.Contains(before[pid], "abusekit-freeze") {
			t.Errorf("cgroups before freeze = %v", before)
		}
	} else if _, ok := files["cgroups-before-freeze.json"]; ok {
		t.Error("cgroups-before-freeze.json written without a cgroup freezer")
	}
	// The listener it held, in sockets.json with its holders.
	var socks []Socket
	readJSON(t, filepath.Join(ev, "sockets.json"), &socks)
	if i := slices.IndexFunc(socks, func(s Socket) bool { return s.Local == lnAddr && s.State == "LISTEN" }); i < 0 {
		t.Errorf("sockets.json lacks the listener %s: %+v", lnAddr, socks)
	} else if !slices.Contains(socks[i].PIDs, pid) || !slices.Contains(socks[i].PIDs, child) {
		t.Errorf("listener held by %v, want %d and %d", socks[i].PIDs, pid, child)
	}
	if b, err := os.ReadFile(filepath.Join(ev, p, "cmdline")); err != nil || !strings.Contains(string(b), "work32\x00-c\x00") {
		t.Errorf("cmdline %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(ev, p, "environ")); err != nil || string(b) != "ABUSEKIT_TEST_MARK=evidence-"+freezer+"\x00" {
		t.Errorf("environ %q %v", b, err)
	}
	var links map[string]string
	readJSON(t, filepath.Join(ev, p, "links.json"), &links)
	if links["cwd"] != dir || !strings.HasSuffix(links["exe"], "work32 (deleted)") {
		t.Errorf("links = %v, want cwd %s", links, dir)
	}
	var chain []Identity
	readJSON(t, filepath.Join(ev, "parents.json"), &chain)
	if len(chain) == 0 || chain[0].PID != os.Getpid() || chain[len(chain)-1].PID != 1 {
		t.Errorf("parent chain %+v, want this test (%d) first and PID 1 last", chain, os.Getpid())
	}
	var fds []procfs.FD
	readJSON(t, filepath.Join(ev, p, "fds.json"), &fds)
	if !slices.ContainsFunc(fds, func(f procfs.FD) bool { return f.Num == 3 && strings.HasPrefix(f.Target, "socket:[") }) {
		t.Errorf("fds.json lacks the socket on fd 3: %+v", fds)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// setBeforeKill sets the test hook Stop runs before its last identity
// check, for this test only.
func setBeforeKill(t *testing.T, f func([]pidfd)) {
	t.Helper()
	beforeKill = f
	t.Cleanup(func() { beforeKill = nil })
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
	t.Cleanup(func() { fz.release(time.Second) })
	id, _, err := identify(fs, pid)
	if err != nil {
		t.Fatal(err)
	}
	m, err := openChecked(fs, id)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(m.fd)
	if err := fz.add(m); err != nil {
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
	if w := fz.release(time.Second); len(w) != 0 {
		t.Errorf("release warnings: %v", w)
	}
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

// TestStopIdentityChangedBeforeKill: if, after the capture, the target is
// no longer the process planned (its PID reused while the evidence was
// written), Stop kills nothing, says so with ErrIdentityChanged, and thaws
// the tree, which runs again.
func TestStopIdentityChangedBeforeKill(t *testing.T) {
	needLiveRoot(t)
	for _, freezer := range []string{FreezeSignal, FreezeCgroup} {
		t.Run(freezer, func(t *testing.T) {
			if freezer == FreezeCgroup && cgroup2Mount(procfs.NewDefaultFS()) == "" {
				t.Skip("no cgroup v2 hierarchy mounted")
			}
			dir := t.TempDir()
			beat := filepath.Join(dir, "beat")
			// A heartbeat: it rewrites a file every 20 ms while it runs.
			cmd := exec.Command("/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.02; done`, beat)
			startCmd(t, cmd)
			pid := cmd.Process.Pid
			waitBeat(t, beat, "")
			ev := filepath.Join(dir, "ev")
			plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, Freezer: freezer, NoTree: true})
			if err != nil {
				t.Fatal(err)
			}
			var frozenBeat string
			setBeforeKill(t, func(members []pidfd) {
				b, _ := os.ReadFile(beat)
				frozenBeat = string(b)
				members[0].id.StartTime++ // as if the PID now named another process
			})
			res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
			if !errors.Is(err, ErrIdentityChanged) {
				t.Fatalf("err = %v, want ErrIdentityChanged", err)
			}
			if len(res.Killed) != 0 || !slices.Equal(res.Frozen, []int{pid}) {
				t.Errorf("killed %v frozen %v, want nothing killed and [%d] frozen", res.Killed, res.Frozen, pid)
			}
			// The evidence was captured; only the kill was called off.
			if _, err := os.Stat(filepath.Join(ev, "manifest.json")); err != nil {
				t.Errorf("manifest: %v", err)
			}
			if plan.CgroupDir != "" {
				if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
					t.Errorf("freezer cgroup left behind: %v", err)
				}
			}
			// Thawed: the heartbeat moves on.
			waitBeat(t, beat, frozenBeat)
			if s := state(pid); s == 'T' || s == 0 || s == 'Z' {
				t.Errorf("state after the called-off kill: %c", s)
			}
		})
	}
}

// waitBeat waits for the heartbeat file to hold something other than old.
func waitBeat(t *testing.T, path, old string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && string(b) != old {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("heartbeat %s stuck at %q: the process does not run", path, old)
}

// TestStopHandBuiltPlan: Stop checks the refusals itself, whatever plan it
// is given: a kernel thread, PID 1 in the tree, the caller.
func TestStopHandBuiltPlan(t *testing.T) {
	needLiveRoot(t)
	ctx := context.Background()
	fs := procfs.NewDefaultFS()
	ev := filepath.Join(t.TempDir(), "ev")
	if k := kernelThread(); k > 0 {
		id, _, err := identify(fs, k)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Stop(ctx, StopPlan{Target: id, Freeze: FreezeSignal, EvidenceDir: ev}, ApplyOptions{Apply: true})
		if !errors.Is(err, ErrKernelThread) {
			t.Errorf("kernel thread %d: err = %v, want ErrKernelThread", k, err)
		}
		if _, err := os.Stat(ev); !os.IsNotExist(err) {
			t.Errorf("evidence directory made for a refused plan: %v", err)
		}
	} else {
		testenv.Skipf(t, "no kernel thread visible in this PID namespace")
	}
	self, _, err := identify(fs, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Stop(ctx, StopPlan{Target: self, Freeze: FreezeSignal, EvidenceDir: ev}, ApplyOptions{Apply: true}); !errors.Is(err, ErrSelfOrAncestor) {
		t.Errorf("self: err = %v", err)
	}
	cmd := exec.Command("/bin/sleep", "600")
	startCmd(t, cmd)
	plan, err := PlanStop(ctx, cmd.Process.Pid, StopOptions{EvidenceDir: ev})
	if err != nil {
		t.Fatal(err)
	}
	init1, _, err := identify(fs, 1)
	if err != nil {
		t.Fatal(err)
	}
	withInit := plan
	withInit.Tree = append(withInit.Tree, init1)
	if _, err := Stop(ctx, withInit, ApplyOptions{Apply: true}); !errors.Is(err, ErrProtectedPID) {
		t.Errorf("PID 1 in the tree: err = %v", err)
	}
	if s := state(cmd.Process.Pid); s != 'S' {
		t.Errorf("after refused plans the process is in state %c", s)
	}
}

// TestStopCgroupFallbackAndTruncation: a freezer cgroup that cannot be made
// (here a plan pointing it outside the hierarchy) falls back to SIGSTOP
// with a warning; a file bigger than MaxFileSize is kept truncated, hashed
// as kept, and flagged.
func TestStopCgroupFallbackAndTruncation(t *testing.T) {
	needLiveRoot(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "sleeper")
	copyBinary(t, "/bin/sleep", exe)
	cmd := exec.Command(exe, "600")
	startCmd(t, cmd)
	pid := cmd.Process.Pid
	ev := filepath.Join(dir, "ev")
	const limit = 4096
	plan, err := PlanStop(context.Background(), pid, StopOptions{EvidenceDir: ev, MaxFileSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	plan.Freeze = FreezeCgroup
	plan.CgroupDir = filepath.Join(dir, "not-a-cgroup")
	res, err := Stop(context.Background(), plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Freeze != FreezeSignal || !slices.Equal(res.Killed, []int{pid}) || !slices.Equal(res.Frozen, []int{pid}) {
		t.Errorf("freeze %s frozen %v killed %v, want SIGSTOP fallback killing %d", res.Freeze, res.Frozen, res.Killed, pid)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "cgroup freezer unavailable, using SIGSTOP") }) {
		t.Errorf("no fallback warning: %v", res.Warnings)
	}
	if _, err := os.Stat(plan.CgroupDir); !os.IsNotExist(err) {
		t.Errorf("directory made outside the cgroup hierarchy: %v", err)
	}
	p := "pid-" + itoa(pid)
	if b, err := os.ReadFile(filepath.Join(ev, p, "status")); err != nil || !strings.Contains(string(b), "State:\tT (stopped)") {
		t.Errorf("status not captured stopped: %v\n%s", err, b)
	}
	var m Manifest
	readJSON(t, filepath.Join(ev, "manifest.json"), &m)
	i := slices.IndexFunc(m.Files, func(f ManifestFile) bool { return f.Path == p+"/exe" })
	if i < 0 {
		t.Fatalf("no exe in manifest %+v", m.Files)
	}
	orig, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(orig[:limit])
	f := m.Files[i]
	if !f.Truncated || f.Size != limit || f.SHA256 != hex.EncodeToString(sum[:]) || fileSHA(t, filepath.Join(ev, f.Path)) != f.SHA256 {
		t.Errorf("exe copy %+v, want truncated to %d bytes with sha %x", f, limit, sum)
	}
	if !slices.ContainsFunc(m.Errors, func(e string) bool { return strings.Contains(e, "truncated to 4096 bytes") }) {
		t.Errorf("truncation not recorded in the manifest errors: %v", m.Errors)
	}
}
