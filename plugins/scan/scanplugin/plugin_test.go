package scanplugin

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/scan"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
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
	if err := scantest.Write(dir, scantest.Host{Procs: []scantest.Proc{{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd"}, p}}); err != nil {
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
	plan, err := plugintest.Plan(ctx, acts["stop"], StopInput{PID: 4242, Root: root, EvidenceDir: "/evidence/x"})
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
		{StopInput{PID: 1, Root: root}, scan.ErrProtectedPID},
		{StopInput{PID: 4242, StartTicks: 1, Root: root}, scan.ErrIdentityChanged},
		{StopInput{PID: 999, Root: root}, scan.ErrProcessGone},
		{StopInput{PID: 4242, Root: root}, scan.ErrNotLive}, // apply on a fake root
	} {
		if _, err := plugintest.Apply[StopOutput](ctx, acts["stop"], tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%+v: err = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// TestStopActionLive stops a real process through the action.
func TestStopActionLive(t *testing.T) {
	if os.Geteuid() != 0 || !procfs.NewDefaultFS().IsLive() {
		t.Skip("needs root and the live /proc")
	}
	cmd := exec.Command("/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	st, err := procfs.NewDefaultFS().Stat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(t.TempDir(), "ev")
	out, err := plugintest.Apply[StopOutput](context.Background(), NewPlugin()["stop"],
		StopInput{PID: cmd.Process.Pid, StartTicks: st.StartTime, EvidenceDir: ev})
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
