package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
)

var errHostSide = errors.New("remotetest: host side refused")

func init() { plugin.RegisterError("remotetest.refused", errHostSide) }

type hostIn struct {
	Refuse bool `json:"refuse,omitempty"`
}

type hostOut struct {
	PID int      `json:"pid"`
	Env []string `json:"env"`
}

// hostActions is a host-side plugin this test binary serves, as a host's
// executable serves its built-ins (TestMain).
var hostActions = plugin.Actions{"look": plugin.NewAction("look at the host", nil,
	func(_ context.Context, req plugin.ApplyRequest[hostIn], resp *plugin.ApplyResponse[hostOut]) error {
		if req.Input.Refuse {
			return errHostSide
		}
		resp.Output = hostOut{PID: os.Getpid(), Env: os.Environ()}
		return nil
	})}

// A playbook step whose plugin runs over SSH to a real sshd: the step runs
// as a process on the far host (not the local plugin process), says it ran
// over ssh, its environment has no cloud credentials, and its error keeps
// its identity.
func TestPlaybookStepOverSSH(t *testing.T) {
	h := startSSHD(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
	pb, err := playbook.New("ssh-steps",
		playbook.Step{ID: "look", Plugin: "host", Action: "look"},
		playbook.Step{ID: "refuse", Plugin: "host", Action: "look", Input: map[string]any{"refuse": true}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "INC-ssh",
		Plugins: []playbook.PluginSpec{{Name: "host", Remote: &playbook.Remote{Transport: h.transport(t), Name: "ssh"}}},
		Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(context.Background())
	if !errors.Is(err, errHostSide) {
		t.Fatalf("err = %v, want the host side's errHostSide", err)
	}
	if len(run.Steps) != 2 || run.Steps[0].Status != playbook.StatusSucceeded || run.Steps[0].Transport != "ssh" || run.Steps[1].Transport != "ssh" {
		t.Fatalf("steps %+v", run.Steps)
	}
	var out hostOut
	if err := json.Unmarshal(run.Steps[0].Output, &out); err != nil {
		t.Fatal(err)
	}
	p, _ := r.Host().Plugin("host")
	if out.PID == 0 || out.PID == p.PID() {
		t.Errorf("the step ran in pid %d, the local plugin is %d", out.PID, p.PID())
	}
	for _, kv := range out.Env {
		if strings.HasPrefix(kv, "AWS_") {
			t.Errorf("the host side got %s", kv)
		}
	}
}
