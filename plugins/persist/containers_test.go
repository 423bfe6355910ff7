package persist

import (
	"context"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

const (
	tntID     = "5f3b2a1c9d8e7f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
	healthyID = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

// containerTree: TeamTNT's privileged miner container (restart always)
// next to a healthy web container with the same policy.
func containerTree() hosttest.Tree {
	dir := "/var/lib/docker/containers/" + healthyID
	return hosttest.TeamTNT(hosttest.Debian12()).With(
		hosttest.Entry{Path: dir + "/config.v2.json", Mode: 0o600,
			Data: `{"State":{"Running":true,"Pid":812},"ID":"` + healthyID + `","Path":"/docker-entrypoint.sh","Args":["nginx","-g","daemon off;"],"Config":{"Image":"nginx:1.27","Cmd":["nginx","-g","daemon off;"],"Entrypoint":["/docker-entrypoint.sh"]},"Name":"/web","Driver":"overlay2"}` + "\n"},
		hosttest.Entry{Path: dir + "/hostconfig.json", Mode: 0o600,
			Data: `{"Binds":["/srv/www:/usr/share/nginx/html:ro"],"NetworkMode":"bridge","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"80"}]},"RestartPolicy":{"Name":"always","MaximumRetryCount":0}}` + "\n"},
	)
}

// Offline, the miner's container gets RestartPolicy "no" in its
// hostconfig.json (the rest of the file byte-identical); the healthy one
// is not touched; Restore puts the file back exactly.
func TestContainerStoppedOffline(t *testing.T) {
	needRoot(t, "chown of the container's files")
	ctx := context.Background()
	dir := build(t, containerTree())
	tnt := "/var/lib/docker/containers/" + tntID + "/hostconfig.json"
	healthy := "/var/lib/docker/containers/" + healthyID + "/hostconfig.json"
	orig := readAll(t, dir, tnt, healthy)
	before := snapshot(t, dir)
	p, _ := planFor(t, dir, hosttest.Window())
	c := planned(p, tnt)
	if c == nil || c.Op != OpStopContainer || c.Container == nil || c.Container.ID != tntID || c.Container.Restart != "always" || c.Container.Name != "tnt" {
		t.Fatalf("plan for the miner's container: %+v", c)
	}
	if c := planned(p, healthy); c != nil {
		t.Errorf("healthy container planned: %+v", c)
	}
	for _, c := range p.Changes {
		if strings.HasPrefix(c.Path, "/var/lib/docker/containers/"+healthyID) {
			t.Errorf("healthy container's %s planned: %s", c.Path, c.Op)
		}
	}
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir(), Run: func(_ context.Context, argv []string) error {
		t.Errorf("offline Apply ran %v", argv)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		tnt:     strings.Replace(orig[tnt], `"RestartPolicy":{"Name":"always"`, `"RestartPolicy":{"Name":"no"`, 1),
		healthy: orig[healthy],
	}
	if diff := cmp.Diff(want, readAll(t, dir, tnt, healthy)); diff != "" {
		t.Errorf("after Apply (-want +got):\n%s", diff)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	now := snapshot(t, dir)
	if diff := cmp.Diff(before[tnt], now[tnt]); diff != "" {
		t.Errorf("after Restore (-before +after):\n%s", diff)
	}
}

// On the live root dockerd owns the configuration: Apply asks docker to
// drop the restart policy and stop the container (the file is left to
// dockerd), Restore to put the policy back and start it.
func TestContainerStoppedLive(t *testing.T) {
	ctx := context.Background()
	dir := build(t, containerTree())
	treatAsLive(t, dir, nil)
	tnt := "/var/lib/docker/containers/" + tntID + "/hostconfig.json"
	orig := readAll(t, dir, tnt)
	p, _ := planFor(t, dir, hosttest.Window())
	var ran [][]string
	run := func(_ context.Context, argv []string) error {
		ran = append(ran, argv)
		return nil
	}
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir(), Run: run})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"docker", "update", "--restart=no", tntID}, {"docker", "stop", tntID}}, ran); diff != "" {
		t.Errorf("Apply ran (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig, readAll(t, dir, tnt)); diff != "" {
		t.Errorf("live Apply edited hostconfig.json (-want +got):\n%s", diff)
	}
	ran = nil
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{Run: run}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"docker", "update", "--restart=always", tntID}, {"docker", "start", tntID}}, ran); diff != "" {
		t.Errorf("Restore ran (-want +got):\n%s", diff)
	}
}
