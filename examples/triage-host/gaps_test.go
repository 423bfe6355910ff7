package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	"github.com/abusekit/abusekit/plugins/scan"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
)

// TestJSONTopFirst: two suspects come out highest score first.
func TestJSONTopFirst(t *testing.T) {
	small := scantest.Proc{PID: 300, PPID: 1, Comm: "a", Exe: "/tmp/.cache/a (deleted)", Cmdline: []string{"/tmp/.cache/a"}, StartTime: 777}
	big := scantest.Proc{PID: 4242, PPID: 1, Comm: "work32", Exe: "/tmp/.x/work32 (deleted)", Cmdline: []string{"/tmp/.x/work32"}}
	for i := range 20 {
		big.Sockets = append(big.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("172.31.5.9"), uint16(50000+i)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 22), State: procfs.TCPSynSent}})
	}
	dir := t.TempDir()
	// The bigger suspect has the higher PID: order is by score, not PID.
	if err := scantest.Write(dir, scantest.Host{Procs: []scantest.Proc{{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd"}, small, big}}); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var doc struct {
		Suspects []scan.Suspect `json:"suspects"`
	}
	if err := json.Unmarshal(envelopeData(t, out.Bytes(), "suspects"), &doc); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, s := range doc.Suspects {
		got = append(got, s.PID)
	}
	if !slices.Equal(got, []int{4242, 300}) || doc.Suspects[0].Score <= doc.Suspects[1].Score {
		t.Errorf("order %v (scores %+v), want [4242 300] by score", got, doc.Suspects)
	}
	// -start-ticks ties -stop to the suspect listed.
	out.Reset()
	if err := run([]string{"-root", dir, "-stop", "300", "-start-ticks", "776"}, &out, &errb); !errors.Is(err, scan.ErrIdentityChanged) {
		t.Errorf("-start-ticks 776 for a process started at 777: %v", err)
	}
	if err := run([]string{"-root", dir, "-stop", "300", "-start-ticks", "777"}, &out, &errb); err != nil || !strings.Contains(out.String(), "dry run") {
		t.Errorf("-start-ticks 777: %v\n%s", err, out.String())
	}
}

// TestFlagsReachOptions: -window, -report, -min-score, -instance-addrs and
// -root are what Detect is given.
func TestFlagsReachOptions(t *testing.T) {
	var got []scan.Options
	detect = func(ctx context.Context, o scan.Options) (scan.Detection, error) {
		got = append(got, o)
		return scan.Detection{}, nil
	}
	t.Cleanup(func() { detect = scan.DetectAll })
	rep := filepath.Join(t.TempDir(), "log.txt")
	if err := os.WriteFile(rep, []byte("(attacker's IP) (IP being scanned) (TCP port being scanned)\n54.1.2.3 198.51.100.3 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"-window", "2s", "-root", "/x", "-min-score", "7", "-instance-addrs", "172.31.5.9, 10.0.0.7"},
		{"-window", "0", "-json"},
		{"-report", rep},
	} {
		if err := run(args, &out, &errb); err != nil {
			if args[0] == "-report" && strings.Contains(err.Error(), "report") {
				t.Logf("report not parsed: %v", err)
				continue
			}
			t.Fatalf("%v: %v", args, err)
		}
	}
	if len(got) < 2 {
		t.Fatalf("detect called %d times", len(got))
	}
	o := got[0]
	if o.Window != 2*time.Second || o.Root != "/x" || o.MinScore != 7 ||
		!slices.Equal(o.InstanceAddrs, []netip.Addr{netip.MustParseAddr("172.31.5.9"), netip.MustParseAddr("10.0.0.7")}) || o.Report != nil {
		t.Errorf("options %+v", o)
	}
	if got[1].Window != 0 {
		t.Errorf("-window 0 gave %s", got[1].Window)
	}
	if len(got) == 3 && (got[2].Report == nil || len(got[2].Report.Evidence) == 0) {
		t.Errorf("-report: %+v", got[2].Report)
	}
	for _, bad := range [][]string{{"-window", "soon"}, {"-window", "-1s"}, {"-instance-addrs", "nope"}} {
		if err := run(bad, &out, &errb); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestStopApplyLive stops a real process through the binary's flags:
// -stop PID -apply -evidence DIR -json.
func TestStopApplyLive(t *testing.T) {
	if os.Geteuid() != 0 || !procfs.NewDefaultFS().IsLive() {
		testenv.Skipf(t, "needs root and the live /proc: stops a process")
	}
	cmd := exec.Command("/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	ev := filepath.Join(t.TempDir(), "ev")
	var out, errb bytes.Buffer
	// Without -apply: a plan, nothing done.
	if err := run([]string{"-stop", itoa(pid), "-evidence", ev}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ev); !os.IsNotExist(err) || !strings.Contains(out.String(), "dry run") {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run([]string{"-stop", itoa(pid), "-apply", "-evidence", ev, "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var res scan.StopResult
	if err := json.Unmarshal(envelopeData(t, out.Bytes(), "stop"), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.DryRun || !slices.Equal(res.Killed, []int{pid}) || !slices.Equal(res.Frozen, []int{pid}) || res.Manifest != filepath.Join(ev, "manifest.json") {
		t.Errorf("result %+v", res)
	}
	if err := cmd.Wait(); err == nil || err.Error() != "signal: killed" {
		t.Errorf("process: %v", err)
	}
	b, err := os.ReadFile(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m scan.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(exe)
	i := slices.IndexFunc(m.Files, func(f scan.ManifestFile) bool { return f.Path == "pid-"+itoa(pid)+"/exe" })
	if m.Target.PID != pid || i < 0 || m.Files[i].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest target %+v, exe entry %d of %+v, want sha %x", m.Target, i, m.Files, sum)
	}
	for _, f := range m.Files {
		c, err := os.ReadFile(filepath.Join(ev, f.Path))
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		if s := sha256.Sum256(c); hex.EncodeToString(s[:]) != f.SHA256 {
			t.Errorf("%s: hash differs from the manifest", f.Path)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
