package persist

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"strings"
)

// Containers with a restart policy come back with dockerd at every boot.
// A container whose command is judged high (a miner, a download piped to
// a shell) is stopped for good by the plan, never removed: its image,
// its files and its logs stay for the investigation.
//
//   - On the live root dockerd holds the container's configuration in
//     memory and writes it back: Apply runs docker update --restart=no
//     and docker stop (ApplyOptions.Run), and Restore runs docker update
//     --restart=<the old policy> and docker start.
//   - On an offline root (a snapshot volume) the RestartPolicy of the
//     container's hostconfig.json is set to "no", the rest of the file
//     byte-identical, through the same atomic replace as a line removal;
//     dockerd on the rebuilt host then leaves the container stopped.
//     Restore puts the file back from the quarantine.
//
// A container whose command is harmless is never stopped, whatever its
// age. containerd's containers are read in containerd.go, podman's in
// podman.go.

// OpStopContainer stops a container and sets its restart policy to "no".
const OpStopContainer Op = "stop-container"

// ActionStopContainer: stop the container and keep it from coming back.
const ActionStopContainer Action = "stop-container"

// ContainerStop is the container a stop-container change acts on.
type ContainerStop struct {
	Runtime   string `json:"runtime"`             // "docker" or "containerd"
	Namespace string `json:"namespace,omitempty"` // containerd's namespace
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Restart   string `json:"restart"` // the restart policy before
}

var reRestartPolicy = regexp.MustCompile(`("RestartPolicy"\s*:\s*\{\s*"Name"\s*:\s*")([^"\\]*)(")`)

// restartNo returns line with its RestartPolicy's Name set to "no", and
// the old name; ok is false when the line holds no such policy.
func restartNo(line string) (string, string, bool) {
	m := reRestartPolicy.FindStringSubmatchIndex(line)
	if m == nil {
		return line, "", false
	}
	return line[:m[4]] + "no" + line[m[5]:], line[m[4]:m[5]], true
}

var reContainerID = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// stopContainer plans a stop-container finding (Path: the container's
// config.v2.json).
func (p *planner) stopContainer(f Finding) {
	if f.Path == containerdDB {
		p.stopContainerd(f)
		return
	}
	if !reContainerID.MatchString(f.Container) || path.Base(path.Dir(f.Path)) != f.Container {
		p.log.Warn("persist: plan: container finding without its id; left alone", "path", f.Path)
		return
	}
	hc := path.Dir(f.Path) + "/hostconfig.json"
	data, err := p.fs.ReadFile(hc, maxLineFile)
	if err != nil {
		p.log.Warn("persist: plan: cannot read the container's hostconfig.json", "path", hc, "err", err)
		return
	}
	for i, l := range splitLines(data) {
		next, old, ok := restartNo(l)
		if !ok {
			continue
		}
		if old == "no" || old == "" {
			return // stopped for good already
		}
		cf := f
		cf.Reasons = append(append([]string{}, f.Reasons...), "stopped, restart policy "+old+" -> no")
		c := p.change(hc, OpStopContainer, cf)
		if c.Op != OpStopContainer {
			return
		}
		c.Container = &ContainerStop{Runtime: "docker", ID: f.Container, Restart: old}
		if cfg, err := p.fs.ReadFile(f.Path, maxLineFile); err == nil {
			if ci, err := parseContainer(cfg, nil); err == nil {
				c.Container.Name = ci.Name
			}
		}
		if !p.plan.Live {
			c.Lines = []LineChange{{Line: i + 1, Content: l, New: &next}}
		}
		return
	}
	p.log.Warn("persist: plan: no RestartPolicy in hostconfig.json; container left alone", "path", hc)
}

// stopLive stops a container through docker on the live root.
func (a *applier) stopLive(e *Entry, c Change) error {
	argvs := [][]string{}
	switch {
	case c.Container != nil && c.Container.Runtime == "containerd":
		var err error
		if argvs, err = containerdArgv(c.Container, true); err != nil {
			return fmt.Errorf("stop-container: %w: %w", fs.ErrInvalid, err)
		}
	case c.Container == nil || !reContainerID.MatchString(c.Container.ID):
		return fmt.Errorf("stop-container without a container id: %w", fs.ErrInvalid)
	default:
		argvs = [][]string{{"docker", "update", "--restart=no", c.Container.ID}, {"docker", "stop", c.Container.ID}}
	}
	e.Container = c.Container
	if err := a.record(e); err != nil {
		return err
	}
	for _, argv := range argvs {
		if err := a.run(a.ctx, argv); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	return nil
}

// restoreContainerLive gives a container stopped on the live root its
// restart policy back and starts it again.
func restoreContainerLive(ctx context.Context, e Entry, run func(context.Context, []string) error, log *slog.Logger) error {
	var argvs [][]string
	switch {
	case e.Container != nil && e.Container.Runtime == "containerd":
		var err error
		if argvs, err = containerdArgv(e.Container, false); err != nil {
			return err
		}
	case e.Container == nil || !reContainerID.MatchString(e.Container.ID) || !reRestartName.MatchString(e.Container.Restart):
		return fmt.Errorf("%w: stop-container entry without a container", ErrBadManifest)
	default:
		argvs = [][]string{{"docker", "update", "--restart=" + e.Container.Restart, e.Container.ID}, {"docker", "start", e.Container.ID}}
	}
	if run == nil {
		run = execRun
	}
	for _, argv := range argvs {
		if err := run(ctx, argv); err != nil {
			log.Warn("persist: restore: container command failed", "command", argv, "err", err)
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	return nil
}

var reRestartName = regexp.MustCompile(`^(always|unless-stopped|on-failure(:[0-9]{1,6})?|no)$`)
