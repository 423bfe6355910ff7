package persist

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // podman's db.sql

	"github.com/abusekit/abusekit/internal/rootfs"
)

// Podman keeps its containers in SQLite (/var/lib/containers/storage/
// db.sql, the default since podman 5; table ContainerConfig: ID, Name,
// PodID, JSON with libpod's ContainerConfig: "spec" (the OCI spec, whose
// process.args is what runs), "restart_policy", "rootfsImageName",
// "privileged"). A container with restart_policy always or
// unless-stopped is started again at boot by podman-restart.service when
// that unit is enabled. Find reads a private copy of the database (with
// its write-ahead log), never the root's file; the older BoltDB state
// (libpod/bolt_state.db) is not read. Podman's containers are reported,
// not acted on: the fix (podman update --restart=no, podman stop) is in
// the finding's reasons.

const (
	podmanDB        = "/var/lib/containers/storage/db.sql"
	maxPodmanDB     = 64 << 20
	maxPodmanRows   = 10000
	podmanRestartSv = "podman-restart.service"
)

// podmanContainer is what Find reads of one podman container.
type podmanContainer struct {
	ID, Name, Image string
	Command         string
	Restart         string
	Privileged      bool
	HostRoot        bool
}

// parsePodmanConfig reads libpod's ContainerConfig JSON.
func parsePodmanConfig(data []byte) (podmanContainer, error) {
	var c struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Image string `json:"rootfsImageName"`
		Spec  *struct {
			Process *struct {
				Args []string `json:"args"`
			} `json:"process"`
			Mounts []struct {
				Source string `json:"source"`
				Type   string `json:"type"`
			} `json:"mounts"`
		} `json:"spec"`
		Command    []string `json:"command"`
		Entrypoint []string `json:"entrypoint"`
		Restart    string   `json:"restart_policy"`
		Privileged bool     `json:"privileged"`
	}
	var pc podmanContainer
	if err := json.Unmarshal(data, &c); err != nil {
		return pc, fmt.Errorf("persist: podman container config: %w", err)
	}
	pc.ID, pc.Name, pc.Image, pc.Restart, pc.Privileged = c.ID, c.Name, c.Image, c.Restart, c.Privileged
	argv := append(append([]string{}, c.Entrypoint...), c.Command...)
	if c.Spec != nil {
		if c.Spec.Process != nil && len(c.Spec.Process.Args) > 0 {
			argv = c.Spec.Process.Args
		}
		for _, m := range c.Spec.Mounts {
			if m.Source == "/" && m.Type == "bind" {
				pc.HostRoot = true
			}
		}
	}
	pc.Command = shellJoin(argv)
	return pc, nil
}

// findPodman judges the podman containers recorded on the root.
func (f *finder) findPodman() {
	if _, err := f.fs.Lstat(podmanDB); err != nil {
		return
	}
	rows, err := readPodmanDB(f.ctx, f.fs)
	if err != nil {
		f.add(Finding{Path: podmanDB, Kind: KindContainer, Severity: Low, Reasons: []string{"podman's database cannot be read: " + err.Error()}})
		return
	}
	enabled := false
	for _, w := range []string{"/etc/systemd/system/default.target.wants/", "/etc/systemd/system/multi-user.target.wants/"} {
		if _, err := f.fs.Lstat(w + podmanRestartSv); err == nil {
			enabled = true
		}
	}
	for i, row := range rows {
		pc, err := parsePodmanConfig(row)
		if err != nil {
			f.add(Finding{Path: podmanDB, Line: i + 1, Kind: KindContainer, Severity: Low, Reasons: []string{err.Error()}})
			continue
		}
		v := analyzeCommand(pc.Command)
		if pc.HostRoot {
			v.add(Medium, "mounts the host's / into the container")
			if pc.Privileged {
				v.add(High, "a privileged container with the host's / mounted: root on the host")
			}
		}
		persistent := (pc.Restart == "always" || pc.Restart == "unless-stopped") && enabled
		switch {
		case persistent:
			v.reasons = append(v.reasons, "restart policy "+pc.Restart+" and "+podmanRestartSv+" enabled: podman starts it again at every boot")
		case v.sev > Medium:
			v.sev = Medium
			v.reasons = append(v.reasons, "does not come back at boot by itself (restart policy "+orNone(pc.Restart)+", "+podmanRestartSv+" enabled: "+fmt.Sprint(enabled)+")")
		}
		if v.sev == Info {
			v.reasons = []string{"podman container " + pc.Name + " (" + pc.Image + ")"}
		} else {
			v.reasons = append(v.reasons, fmt.Sprintf("podman container %s %s, image %s (row %d of ContainerConfig): fix by hand: podman update --restart=no %s; podman stop %s (not acted on)", pc.Name, shortID(pc.ID), pc.Image, i+1, shortID(pc.ID), shortID(pc.ID)))
		}
		f.add(Finding{Path: podmanDB, Line: i + 1, Kind: KindContainer, Severity: v.sev, Reasons: v.reasons, Content: pc.Command, Referenced: v.refs, Container: pc.ID})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// readPodmanDB copies podman's database (and its write-ahead log) out of
// the root into a private directory and returns the JSON of every row of
// ContainerConfig, by ID.
func readPodmanDB(ctx context.Context, r *rootfs.FS) ([][]byte, error) {
	dir, err := os.MkdirTemp("", "podmandb-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "db.sql")
	budget := int64(maxPodmanDB)
	n, err := copyOut(ctx, r, podmanDB, dst, budget)
	if err != nil {
		return nil, err
	}
	if _, err := copyOut(ctx, r, podmanDB+"-wal", dst+"-wal", budget-n); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+dst+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT JSON FROM ContainerConfig ORDER BY ID LIMIT ?", maxPodmanRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if len(b) > 4<<20 {
			continue
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// copyOut copies a regular file inside the root to the host path dst, at
// most max bytes (rootfs.ErrTooLarge beyond).
func copyOut(ctx context.Context, r *rootfs.FS, name, dst string, max int64) (int64, error) {
	rel, err := r.Resolve(name, true)
	if err != nil {
		return 0, err
	}
	src, err := r.OpenRegular(rel)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(src, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = fmt.Errorf("%w: %s is over %d bytes", rootfs.ErrTooLarge, name, max)
	}
	if err == nil {
		err = ctx.Err()
	}
	return n, err
}
