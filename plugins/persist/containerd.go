package persist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// containerd keeps its containers in a BoltDB file, the metadata plugin's
// meta.db: bucket v1, one bucket per namespace ("default" for ctr and
// nerdctl, "k8s.io" for the CRI, "moby" for dockerd 23+ with the
// containerd image store), in it a bucket "containers", in it one bucket
// per container id with the keys image, spec (the OCI runtime spec in a
// protobuf Any: type_url field 1, JSON value field 2), the bucket runtime
// (key name) and the bucket labels. containerd's restart plugin
// (io.containerd.monitor.v1.restart, built in) starts again, at every
// start of containerd and every few seconds, each container whose label
// containerd.io/restart.status is "running", under the policy of its
// label containerd.io/restart.policy (always, unless-stopped,
// on-failure[:N], no; no label is always). nerdctl run --restart writes
// both labels, and its own nerdctl/name.
//
// Find reads a private copy of meta.db (at most maxContainerdDB bytes),
// opened read only with bbolt, never the root's file: containerd holds
// the root's file locked and rewrites it. A file bbolt cannot read is a
// low finding, never a panic: bbolt panics on some corrupt pages, and a
// fault in its memory map is turned into one; both are recovered. The
// read stops at maxContainerdRows containers and after
// containerdReadTimeout.

const (
	containerdDB          = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"
	maxContainerdDB       = 128 << 20
	maxContainerdRows     = 10000
	maxContainerdSpec     = 4 << 20
	containerdReadTimeout = 10 * time.Second

	labelRestartStatus = "containerd.io/restart.status"
	labelRestartPolicy = "containerd.io/restart.policy"
	labelNerdctlName   = "nerdctl/name"
)

// ErrContainerdDB is returned for a meta.db that cannot be read.
var ErrContainerdDB = errors.New("persist: containerd metadata")

// ctrdContainer is what Find reads of one containerd container.
type ctrdContainer struct {
	Namespace, ID string
	Image         string
	Runtime       string
	Labels        map[string]string
	Spec          []byte // the OCI spec's JSON (the Any's value)
	SpecType      string // the Any's type_url
}

// decodeAny splits a marshalled google.protobuf.Any into its type_url and
// value.
func decodeAny(b []byte) (string, []byte, error) {
	var typ string
	var val []byte
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, fmt.Errorf("%w: spec: %v", ErrContainerdDB, protowire.ParseError(n))
		}
		b = b[n:]
		if wt == protowire.BytesType && (num == 1 || num == 2) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return "", nil, fmt.Errorf("%w: spec: %v", ErrContainerdDB, protowire.ParseError(m))
			}
			if num == 1 {
				typ = string(v)
			} else {
				val = v
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, wt, b)
		if m < 0 {
			return "", nil, fmt.Errorf("%w: spec: %v", ErrContainerdDB, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return typ, val, nil
}

// ociProcess is what the judge reads of an OCI spec.
type ociProcess struct {
	Command    string
	HostRoot   bool // a bind mount of the host's /
	Privileged bool // CAP_SYS_ADMIN in the bounding set
}

// parseOCISpec reads the process and mounts of an OCI runtime spec.
func parseOCISpec(data []byte) (ociProcess, error) {
	var s struct {
		Process *struct {
			Args         []string `json:"args"`
			Capabilities *struct {
				Bounding []string `json:"bounding"`
			} `json:"capabilities"`
		} `json:"process"`
		Mounts []struct {
			Destination string   `json:"destination"`
			Source      string   `json:"source"`
			Type        string   `json:"type"`
			Options     []string `json:"options"`
		} `json:"mounts"`
	}
	var p ociProcess
	if len(data) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return p, fmt.Errorf("%w: spec: %w", ErrContainerdDB, err)
	}
	if s.Process != nil {
		p.Command = shellJoin(s.Process.Args)
		if s.Process.Capabilities != nil {
			for _, c := range s.Process.Capabilities.Bounding {
				if c == "CAP_SYS_ADMIN" {
					p.Privileged = true
				}
			}
		}
	}
	for _, m := range s.Mounts {
		if m.Source != "/" {
			continue
		}
		bind := m.Type == "bind"
		for _, o := range m.Options {
			if o == "bind" || o == "rbind" {
				bind = true
			}
		}
		if bind {
			p.HostRoot = true
		}
	}
	return p, nil
}

// readContainerdDB copies meta.db out of the root into a private
// directory and reads every container of every namespace, sorted by
// namespace and id.
func readContainerdDB(ctx context.Context, r *rootfs.FS) ([]ctrdContainer, error) {
	dir, err := os.MkdirTemp("", "containerd-meta-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "meta.db")
	if _, err := copyOut(ctx, r, containerdDB, dst, maxContainerdDB); err != nil {
		return nil, err
	}
	return readContainerdFile(ctx, dst)
}

// readContainerdFile reads the containers of a private meta.db, within
// containerdReadTimeout (a corrupt file must not hang Find: the read is
// abandoned, the file stays open until bbolt returns).
func readContainerdFile(ctx context.Context, name string) ([]ctrdContainer, error) {
	ctx, cancel := context.WithTimeout(ctx, containerdReadTimeout)
	defer cancel()
	type result struct {
		cs  []ctrdContainer
		err error
	}
	done := make(chan result, 1)
	go func() {
		cs, err := readContainerdBolt(ctx, name)
		done <- result{cs, err}
	}()
	select {
	case res := <-done:
		return res.cs, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrContainerdDB, ctx.Err())
	}
}

func readContainerdBolt(ctx context.Context, name string) (cs []ctrdContainer, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			cs, err = nil, fmt.Errorf("%w: corrupt file: %v", ErrContainerdDB, p)
		}
	}()
	db, err := bolt.Open(name, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContainerdDB, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		v1 := tx.Bucket([]byte("v1"))
		if v1 == nil {
			return nil
		}
		return v1.ForEachBucket(func(ns []byte) error {
			nb := v1.Bucket(ns)
			if nb == nil {
				return nil
			}
			cb := nb.Bucket([]byte("containers"))
			if cb == nil {
				return nil
			}
			return cb.ForEachBucket(func(id []byte) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				if len(cs) >= maxContainerdRows {
					return fmt.Errorf("%w: more than %d containers", ErrContainerdDB, maxContainerdRows)
				}
				b := cb.Bucket(id)
				if b == nil {
					return nil
				}
				c := ctrdContainer{Namespace: string(ns), ID: string(id), Image: string(b.Get([]byte("image")))}
				if rb := b.Bucket([]byte("runtime")); rb != nil {
					c.Runtime = string(rb.Get([]byte("name")))
				}
				if lb := b.Bucket([]byte("labels")); lb != nil {
					c.Labels = map[string]string{}
					if err := lb.ForEach(func(k, v []byte) error {
						if len(c.Labels) < 1000 {
							c.Labels[string(k)] = string(v)
						}
						return nil
					}); err != nil {
						return err
					}
				}
				if spec := b.Get([]byte("spec")); len(spec) > 0 {
					if len(spec) > maxContainerdSpec {
						return fmt.Errorf("%w: container %s/%s: spec over %d bytes", ErrContainerdDB, ns, id, maxContainerdSpec)
					}
					typ, val, err := decodeAny(spec)
					if err != nil {
						return fmt.Errorf("container %s/%s: %w", ns, id, err)
					}
					c.SpecType, c.Spec = typ, append([]byte(nil), val...)
				}
				cs = append(cs, c)
				return nil
			})
		})
	})
	if err != nil {
		if !errors.Is(err, ErrContainerdDB) {
			err = fmt.Errorf("%w: %w", ErrContainerdDB, err)
		}
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Namespace != cs[j].Namespace {
			return cs[i].Namespace < cs[j].Namespace
		}
		return cs[i].ID < cs[j].ID
	})
	return cs, nil
}

// restartPersistent reports whether containerd's restart plugin starts
// the container again, and its policy as the labels say it.
func restartPersistent(labels map[string]string) (bool, string) {
	status, policy := labels[labelRestartStatus], labels[labelRestartPolicy]
	if policy == "" && status != "" {
		policy = "always" // the plugin's default when only the status is set
	}
	return status == "running" && policy != "no", policy
}

// findContainerd judges the containers in containerd's metadata on the
// root like Docker's: one whose restart labels make containerd start it
// again, running a command judged high, is critical.
func (f *finder) findContainerd() {
	if _, err := f.fs.Lstat(containerdDB); err != nil {
		return
	}
	cs, err := readContainerdDB(f.ctx, f.fs)
	if err != nil {
		f.add(Finding{Path: containerdDB, Kind: KindContainer, Severity: Low, Reasons: []string{"containerd's metadata cannot be read: " + err.Error()}})
		return
	}
	for i, c := range cs {
		name := c.Labels[labelNerdctlName]
		if name == "" {
			name = shortID(c.ID)
		}
		where := fmt.Sprintf("containerd container %s (namespace %s, id %s, image %s)", name, c.Namespace, shortID(c.ID), c.Image)
		p, err := parseOCISpec(c.Spec)
		if err != nil {
			f.add(Finding{Path: containerdDB, Line: i + 1, Kind: KindContainer, Severity: Low, Reasons: []string{where + ": " + err.Error()}, Container: c.ID})
			continue
		}
		v := analyzeCommand(p.Command)
		if p.HostRoot {
			v.add(Medium, "mounts the host's / into the container")
			if p.Privileged {
				v.add(High, "a privileged container with the host's / mounted: root on the host")
			}
		}
		persistent, policy := restartPersistent(c.Labels)
		switch {
		case persistent:
			v.reasons = append(v.reasons, "labels "+labelRestartStatus+"=running, "+labelRestartPolicy+"="+policy+": containerd's restart plugin starts it again whenever containerd runs")
		case v.sev > Medium:
			v.sev = Medium
			v.reasons = append(v.reasons, "does not come back by itself (restart status "+orNone(c.Labels[labelRestartStatus])+", policy "+orNone(policy)+")")
		}
		if v.sev == Info {
			v.reasons = []string{where}
		} else {
			v.reasons = append(v.reasons, where)
		}
		fd := Finding{Path: containerdDB, Line: i + 1, Kind: KindContainer, Severity: v.sev, Reasons: v.reasons, Content: p.Command, Referenced: v.refs, Container: c.Namespace + "/" + c.ID}
		if persistent && v.sev >= High {
			how := "offline: not acted on, meta.db is containerd's and is not rewritten"
			if f.live {
				fd.Action = ActionStopContainer
				how = "live: done by the plan while its task runs"
			}
			fd.Reasons = append(fd.Reasons, fmt.Sprintf("fix: ctr -n %s containers label %s %s=stopped; ctr -n %s task kill -s SIGKILL %s (not removed: its snapshot and image stay); %s", c.Namespace, c.ID, labelRestartStatus, c.Namespace, c.ID, how))
		}
		f.add(fd)
	}
}

// containerdTasks is where containerd's v2 runtime keeps the bundle of a
// running task, <namespace>/<id>: present only while the task exists.
const containerdTasks = "/run/containerd/io.containerd.runtime.v2.task"

// reCtrdIdent is containerd's identifier syntax (namespaces and container
// ids): never an option to ctr.
var reCtrdIdent = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// stopContainerd plans stopping a containerd container on the live root:
// the change's path is the OCI spec in its task's bundle (config.json),
// which is left alone.
func (p *planner) stopContainerd(f Finding) {
	ns, id, ok := strings.Cut(f.Container, "/")
	if !ok || len(ns) > 76 || len(id) > 76 || !reCtrdIdent.MatchString(ns) || !reCtrdIdent.MatchString(id) {
		p.log.Warn("persist: plan: containerd finding without its namespace and id; left alone", "container", f.Container)
		return
	}
	if !p.plan.Live {
		p.log.Warn("persist: plan: containerd container on an offline root: reported, not acted on", "container", f.Container)
		return
	}
	bundle := containerdTasks + "/" + ns + "/" + id + "/config.json"
	if fi, err := p.fs.Lstat(bundle); err != nil || !fi.Mode().IsRegular() {
		p.log.Warn("persist: plan: containerd container without a running task; left alone", "container", f.Container, "bundle", bundle)
		return
	}
	cf := f
	cf.Reasons = append(append([]string{}, f.Reasons...), "stopped through ctr, "+labelRestartStatus+" running -> stopped")
	c := p.change(bundle, OpStopContainer, cf)
	if c.Op != OpStopContainer {
		return
	}
	c.Container = &ContainerStop{Runtime: "containerd", Namespace: ns, ID: id, Restart: "running"}
}

// containerdArgv is what Apply (stop) and Restore (start) run for a
// containerd container: the restart plugin's status label, then (stop)
// the task killed. Restore only sets the label back to running: the
// restart plugin then starts a new task itself.
func containerdArgv(c *ContainerStop, stop bool) ([][]string, error) {
	if c == nil || c.Runtime != "containerd" || !reCtrdIdent.MatchString(c.Namespace) || !reCtrdIdent.MatchString(c.ID) || len(c.Namespace) > 76 || len(c.ID) > 76 {
		return nil, fmt.Errorf("%w: containerd stop without a namespace and id", ErrBadManifest)
	}
	if !stop {
		return [][]string{{"ctr", "-n", c.Namespace, "containers", "label", c.ID, labelRestartStatus + "=running"}}, nil
	}
	return [][]string{
		{"ctr", "-n", c.Namespace, "containers", "label", c.ID, labelRestartStatus + "=stopped"},
		{"ctr", "-n", c.Namespace, "task", "kill", "-s", "SIGKILL", c.ID},
	}, nil
}
