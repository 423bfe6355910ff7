package persist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// TestTimestomp: on the live root, a cron file rewritten and then dated
// back (touch -r) has its ctime inside the window while its mtime claims
// the image's build day: its lines are medium with the reason. Offline
// (a copied root, where every ctime is the copy's) ctime is not used.
func TestTimestomp(t *testing.T) {
	old := hosttest.Epoch
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/cron.d/backup", Data: "17 3 * * * root /usr/bin/logger nightly\n", Mtime: old}))
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	p := filepath.Join(dir, "etc/cron.d/backup")
	if err := os.WriteFile(p, []byte("17 3 * * * root /usr/bin/logger nightly\n*/7 * * * * root /usr/bin/logger x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	for _, live := range []bool{true, false} {
		saved := isLiveRoot
		isLiveRoot = func(string) bool { return live }
		fs := find(t, dir, since)
		isLiveRoot = saved
		n := 0
		for _, f := range fs {
			if f.Path != "/etc/cron.d/backup" {
				if live && f.Severity > Info && strings.Contains(strings.Join(f.Reasons, ";"), "timestomped") {
					t.Errorf("untouched file reported: %s", f)
				}
				continue
			}
			stomped := strings.Contains(strings.Join(f.Reasons, ";"), "timestomped")
			if live && (f.Severity < Medium || !stomped) {
				t.Errorf("live: %s", f)
			}
			if !live && (f.Severity > Info || stomped) {
				t.Errorf("offline: %s", f)
			}
			n++
		}
		if n != 2 {
			t.Errorf("live=%v: %d findings for the two lines", live, n)
		}
	}
}

// TestSinceRaisesCronLines: a cron file of no package changed inside the
// window has its lines raised to medium, however harmless they read; the
// same file older than the window stays info.
func TestSinceRaisesCronLines(t *testing.T) {
	for _, tt := range []struct {
		mtime time.Time
		want  Severity
	}{{hosttest.InfectionTime, Medium}, {hosttest.Epoch, Info}} {
		dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/etc/cron.d/sync", Data: "*/5 * * * * root /usr/bin/logger sync\n", Mtime: tt.mtime}))
		if got := sevAt(find(t, dir, hosttest.Window()), "/etc/cron.d/sync"); got != tt.want {
			t.Errorf("mtime %v: %v, want %v", tt.mtime, got, tt.want)
		}
	}
}

// TestTempELFInWindow: an ELF in /tmp (not hidden, run by nothing Find
// reads) is medium; written inside the incident window it is high, and
// the default plan quarantines it.
func TestTempELFInWindow(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/tmp/kdevtmpfsi", Data: hosttest.FakeELF("miner"), Mode: 0o755, Mtime: hosttest.InfectionTime},
		hosttest.Entry{Path: "/tmp/build/a.out", Data: hosttest.FakeELF("old build"), Mode: 0o755, Mtime: hosttest.Epoch},
	))
	win := find(t, dir, hosttest.Window())
	none := find(t, dir, time.Time{})
	for _, c := range []struct {
		fs   []Finding
		path string
		want Severity
	}{{win, "/tmp/kdevtmpfsi", High}, {none, "/tmp/kdevtmpfsi", Medium}, {win, "/tmp/build/a.out", Medium}} {
		if got := sevAt(c.fs, c.path); got != c.want {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
}
