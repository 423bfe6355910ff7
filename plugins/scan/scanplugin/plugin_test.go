package scanplugin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/scan"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
	"golang.org/x/sys/unix"
)

func fakeRoot(t *testing.T) string {
	t.Helper()
	p := scantest.Proc{PID: 4242, PPID: 1, Comm: "work32", Exe: "/tmp/.x/work32 (deleted)", StartTime: 777}
	for i := range 20 {
		p.Sockets = append(p.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("172.31.5.9"), uint16(50000+i)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 22), State: procfs.TCPSynSent}})
	}
	dir := t.TempDir()
	if err := scantest.Write(dir, scantest.Host{Procs: []scantest.Proc{{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd"},
		{PID: 2, Comm: "kthreadd", KernelThr: true, StartTime: 2}, {PID: 3, PPID: 2, Comm: "kworker/0:1", KernelThr: true, StartTime: 3}, p}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDetectAction(t *testing.T) {
	ctx := context.Background()
	root := fakeRoot(t)
	acts := NewPlugin()
	plan, err := plugintest.Plan(ctx, acts["detect"], DetectInput{Root: root})
	if err != nil || len(plan.Changes) != 0 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	out, err := plugintest.Apply[DetectOutput](ctx, acts["detect"], DetectInput{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Suspects) != 1 || out.Suspects[0].PID != 4242 || out.Suspects[0].StartTicks != 777 {
		t.Fatalf("suspects: %+v", out.Suspects)
	}
	if _, err := plugintest.Plan(ctx, acts["detect"], DetectInput{Root: root, Window: "soon"}); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("bad window: %v", err)
	}
}

func TestStopAction(t *testing.T) {
	ctx := context.Background()
	root := fakeRoot(t)
	acts := NewPlugin()
	plan, err := plugintest.Plan(ctx, acts["stop"], StopInput{PID: 4242, StartTicks: 777, Root: root, EvidenceDir: "/evidence/x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 || plan.Changes[1].Target != "pid 4242" || plan.Changes[0].Target != "/evidence/x" {
		t.Errorf("plan: %+v", plan)
	}
	// Sentinels cross the plugin boundary.
	for _, tc := range []struct {
		in   StopInput
		want error
	}{
		{StopInput{PID: 1, StartTicks: 1, Root: root}, scan.ErrProtectedPID},
		{StopInput{PID: 2, StartTicks: 2, Root: root}, scan.ErrKernelThread},
		{StopInput{PID: 3, StartTicks: 3, Root: root}, scan.ErrKernelThread},
		{StopInput{PID: 4242, StartTicks: 1, Root: root}, scan.ErrIdentityChanged},
		{StopInput{PID: 4242, StartTicks: 777, ExeDev: 8, ExeIno: 1234, Root: root}, scan.ErrIdentityChanged}, // its exe is unreadable: 0:0
		{StopInput{PID: 999, StartTicks: 1, Root: root}, scan.ErrProcessGone},
		{StopInput{PID: 4242, StartTicks: 777, Root: root}, scan.ErrNotLive}, // apply on a fake root
		{StopInput{PID: 4242, Force: true, Root: root}, scan.ErrNotLive},     // forced: no start_ticks needed
		// What was approved must name the process, not only the PID.
		{StopInput{PID: 4242, Root: root}, plugin.ErrInvalidInput},
		{StopInput{PID: 0, Force: true, Root: root}, plugin.ErrInvalidInput},
	} {
		if _, err := plugintest.Apply[StopOutput](ctx, acts["stop"], tc.in); !errors.Is(err, tc.want) {
			t.Errorf("apply %+v: err = %v, want %v", tc.in, err, tc.want)
		}
		if tc.want == scan.ErrNotLive {
			continue // planning on a fake root is fine
		}
		if _, err := plugintest.Plan(ctx, acts["stop"], tc.in); !errors.Is(err, tc.want) {
			t.Errorf("plan %+v: err = %v, want %v", tc.in, err, tc.want)
		}
	}
	// The caller itself (and its ancestors), on the live /proc.
	fs := procfs.NewDefaultFS()
	if fs.IsLive() {
		st, err := fs.Stat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		in := StopInput{PID: os.Getpid(), StartTicks: st.StartTime}
		if _, err := plugintest.Apply[StopOutput](ctx, acts["stop"], in); !errors.Is(err, scan.ErrSelfOrAncestor) {
			t.Errorf("self: err = %v, want ErrSelfOrAncestor", err)
		}
	}
}

// TestStopActionLive stops a real process through the action.
func TestStopActionLive(t *testing.T) {
	if os.Geteuid() != 0 || !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "needs root and the live /proc")
	}
	// A copy of sleep under /tmp: a suspect (its location), with an
	// executable of its own.
	bin := filepath.Join(t.TempDir(), "sleeper")
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	st, err := procfs.NewDefaultFS().Stat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// The identity detect reports for it.
	sus, err := scan.Detect(context.Background(), scan.Options{MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	var exe unix.Stat_t
	if err := unix.Stat(bin, &exe); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s scan.Suspect) bool { return s.PID == cmd.Process.Pid })
	if i < 0 {
		t.Fatalf("sleeper %d not a suspect", cmd.Process.Pid)
	}
	if s := sus[i]; s.ExeDev != exe.Dev || s.ExeIno != exe.Ino || s.StartTicks != st.StartTime {
		t.Errorf("suspect identity %d:%d start %d, want %d:%d start %d", s.ExeDev, s.ExeIno, s.StartTicks, exe.Dev, exe.Ino, st.StartTime)
	}
	ev := filepath.Join(t.TempDir(), "ev")
	act := NewPlugin()["stop"]
	// Another executable than the one approved: refused, nothing done.
	in := StopInput{PID: cmd.Process.Pid, StartTicks: st.StartTime, ExeDev: exe.Dev, ExeIno: exe.Ino + 1, EvidenceDir: ev}
	if _, err := plugintest.Apply[StopOutput](context.Background(), act, in); !errors.Is(err, scan.ErrIdentityChanged) {
		t.Errorf("other executable: err = %v, want ErrIdentityChanged", err)
	}
	if _, err := os.Stat(ev); !os.IsNotExist(err) {
		t.Errorf("evidence directory made for a refused stop: %v", err)
	}
	in.ExeIno = exe.Ino
	out, err := plugintest.Apply[StopOutput](context.Background(), act, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Result.Killed) != 1 || out.Result.Manifest != filepath.Join(ev, "manifest.json") {
		t.Errorf("result: %+v", out.Result)
	}
	if err := cmd.Wait(); err == nil || err.Error() != "signal: killed" {
		t.Errorf("process: %v", err)
	}
}

// TestDetectActionAttribution: over a window on the live host, detect says
// how the window was watched: live with BPF where the kernel allows (and
// stratum looked for), sampled with the reason when told NoBPF or where
// BPF cannot run; the plan says which it will try. A fake root has nothing
// to watch live and says nothing. Before, the output did not say.
func TestDetectActionAttribution(t *testing.T) {
	ctx := context.Background()
	acts := NewPlugin()
	out, err := plugintest.Apply[DetectOutput](ctx, acts["detect"], DetectInput{Root: fakeRoot(t), Window: "300ms"})
	if err != nil || out.Attribution != nil {
		t.Fatalf("fake root: %+v %v", out.Attribution, err)
	}
	if os.Geteuid() != 0 || !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "needs root and the live /proc")
	}
	plan, err := plugintest.Plan(ctx, acts["detect"], DetectInput{Window: "300ms"})
	if err != nil || !strings.Contains(plan.Summary, "live with BPF") {
		t.Errorf("plan: %q %v", plan.Summary, err)
	}
	out, err = plugintest.Apply[DetectOutput](ctx, acts["detect"], DetectInput{Window: "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	if werr := scan.WatchSupported(); werr != nil {
		// No BPF here: the output says so, and why.
		if a := out.Attribution; a == nil || a.Live || a.Why == "" {
			t.Errorf("attribution without BPF (%v): %+v", werr, a)
		}
	} else if diff := cmp.Diff(&scan.Attribution{Live: true, Stratum: true}, out.Attribution); diff != "" {
		t.Errorf("attribution (-want +got):\n%s", diff)
	}
	out, err = plugintest.Apply[DetectOutput](ctx, acts["detect"], DetectInput{Window: "300ms", NoBPF: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&scan.Attribution{Why: "NoBPF is set"}, out.Attribution); diff != "" {
		t.Errorf("NoBPF attribution (-want +got):\n%s", diff)
	}
	if s := out.Attribution.String(); !strings.Contains(s, "not attributed live (NoBPF is set)") {
		t.Errorf("text %q", s)
	}
}

// TestStopActionSupervisor: a shell loop that starts its scanner again
// when it dies. Stop through the plugin with supervisor: true takes the
// loop's whole tree, so nothing is left to respawn it; without the input
// the plugin had no way to ask for it and the plan only warned.
func TestStopActionSupervisor(t *testing.T) {
	if os.Geteuid() != 0 || !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "needs root and the live /proc")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "work32")
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// The loop starts its child at least a clock tick after itself, so that
	// the identity check must look at the child, not at the supervisor the
	// plan targets (it compared the two, and passed only when both started
	// in the same tick).
	loop := exec.Command("/bin/sh", "-c", `sleep 0.05; while :; do "$0" 600; done`, bin)
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Process.Kill(); loop.Wait() })
	fs := procfs.NewDefaultFS()
	child := 0
	for i := 0; i < 500 && child == 0; i++ {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", loop.Process.Pid, loop.Process.Pid))
		if f := strings.Fields(string(children)); len(f) > 0 {
			if exe, _ := os.Readlink("/proc/" + f[0] + "/exe"); exe == bin {
				child, _ = strconv.Atoi(f[0])
			}
		}
		if child == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if child == 0 {
		t.Fatal("the loop's child never ran")
	}
	st, err := fs.Stat(child)
	if err != nil {
		t.Fatal(err)
	}
	var exe unix.Stat_t
	if err := unix.Stat(bin, &exe); err != nil {
		t.Fatal(err)
	}
	in := StopInput{PID: child, StartTicks: st.StartTime, ExeDev: exe.Dev, ExeIno: exe.Ino, EvidenceDir: filepath.Join(dir, "ev"), Freezer: "sigstop", Supervisor: true}
	out, err := plugintest.Apply[StopOutput](context.Background(), NewPlugin()["stop"], in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(out.Result.Killed, loop.Process.Pid) || !slices.Contains(out.Result.Killed, child) {
		t.Errorf("killed %v, want the loop %d and its child %d", out.Result.Killed, loop.Process.Pid, child)
	}
	if err := loop.Wait(); err == nil || err.Error() != "signal: killed" {
		t.Errorf("the loop: %v, want killed", err)
	}
}
