package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// envRespondMain makes the test binary the respond command (TestMain).
const envRespondMain = "RESPOND_TEST_MAIN"

// gate is an SSM agent that holds the commands whose comment starts with
// a prefix until released, then runs them on this machine.
type gate struct {
	prefix   string
	local    ec2test.LocalExecutor
	held     chan struct{} // closed when the first held command arrives
	release  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	received int
}

func (g *gate) Execute(ctx context.Context, c ec2test.Command) ec2test.CommandResult {
	if strings.HasPrefix(c.Comment, g.prefix) {
		g.mu.Lock()
		g.received++
		g.mu.Unlock()
		g.once.Do(func() { close(g.held) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return ec2test.CommandResult{ExitCode: -1}
		}
	}
	return g.local.Execute(ctx, c)
}

// TestResumeAfterSIGKILLMidSSMCommand runs respond as a process of its own
// against an emulator that outlives it, with the host steps over SSM; it
// kills respond with SIGKILL while detect's command is on the instance,
// lets the command finish, and runs respond again on the same journal:
// the resumed run finds the command the killed one sent, waits for it, and
// completes; the command was sent once (the emulator's own record).
func TestResumeAfterSIGKILLMidSSMCommand(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Skipf(t, "the SSM staging script fetches with curl: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notice, err := demoFiles.ReadFile("demo/notice.eml")
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "notice.eml")
	os.WriteFile(report, notice, 0o600)
	root := filepath.Join(dir, "root") // an empty root: nothing to clean; not live: nothing on this machine is stopped
	os.Mkdir(root, 0o755)

	const region, incident = "ap-northeast-2", "INC-SIGKILL-1"
	srv := ec2test.NewServer(ec2test.WithRegion(region))
	t.Cleanup(srv.Close)
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	token := playbook.IdempotencyToken(incident, "portscan-response", "detect")
	g := &gate{prefix: "abusekit " + token + "/apply/", local: ec2test.LocalExecutor{Dir: t.TempDir(), KillGrace: time.Second},
		held: make(chan struct{}), release: make(chan struct{})}
	if err := srv.ManageInstance(ids[0], g, ec2test.ManagedInstance{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.WaitCommands)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(g.release) }) }
	t.Cleanup(release)
	srv.AddBucket("stage")

	start := func() (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(exe, "-report", report, "-instance", ids[0], "-incident", incident, "-endpoint", srv.URL, "-region", region,
			"-root", root, "-transport", "ssm", "-stage-bucket", "stage", "-stage-dir", filepath.Join(dir, "instance-stage"),
			"-journal", filepath.Join(dir, "journal"), "-out", filepath.Join(dir, "out"), "-recheck", "0", "-apply", "-yes", "-json")
		cmd.Env = []string{envRespondMain + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + dir, "ABUSEKIT_STATE_DIR=" + filepath.Join(dir, "state"),
			"AWS_ACCESS_KEY_ID=" + ec2test.TestAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ec2test.TestSecretAccessKey,
			"AWS_REGION=" + region, "AWS_EC2_METADATA_DISABLED=true"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stdout, &stderr
	}

	first, _, stderr1 := start()
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case <-g.held:
	case err := <-exited:
		t.Fatalf("respond exited before detect's command reached the instance: %v\n%s", err, stderr1)
	case <-time.After(2 * time.Minute):
		first.Process.Kill()
		t.Fatalf("detect's command never reached the instance\n%s", stderr1)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	// The command goes on without its runner, and ends.
	release()
	sent := detectCommands(t, srv, token)
	if len(sent) != 1 {
		t.Fatalf("detect's apply sent %d times before the kill, want 1: %v", len(sent), sent)
	}

	second, stdout2, stderr2 := start()
	if err := second.Wait(); err != nil {
		t.Fatalf("resumed respond: %v\n%s", err, stderr2)
	}
	var run playbook.Run
	for _, line := range strings.Split(stdout2.String(), "\n") {
		var doc struct {
			Kind string          `json:"kind"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal([]byte(line), &doc) == nil && doc.Kind == "run" {
			if err := json.Unmarshal(doc.Data, &run); err != nil {
				t.Fatal(err)
			}
		}
	}
	if run.Status != playbook.StatusSucceeded {
		t.Fatalf("resumed run %s\n%s", run.Status, stderr2)
	}
	again := detectCommands(t, srv, token)
	if len(again) != 1 {
		t.Errorf("detect's apply was sent %d times in all, want 1: %v", len(again), again)
		dumpComments(t, srv)
	}
	g.mu.Lock()
	received := g.received
	g.mu.Unlock()
	if received != 1 {
		t.Errorf("the instance received detect's apply %d times, want 1", received)
	}
	for _, s := range run.Steps {
		switch s.ID {
		case "parse", "contain", "snapshot":
			if !s.Resumed {
				t.Errorf("step %s ran again after the resume", s.ID)
			}
		case "detect":
			if s.Resumed || s.Status != playbook.StatusSucceeded || s.Transport != "ssm" || s.CommandID != again[0] {
				t.Errorf("detect after the resume: %+v (the command sent before the kill: %s)", s, again[0])
			}
		}
	}
}

// detectCommands are the ids of the commands sent for detect's apply.
func detectCommands(t *testing.T, srv *ec2test.Server, token string) []string {
	t.Helper()
	c := ssm.NewFromConfig(srv.Config())
	out, err := c.ListCommands(context.Background(), &ssm.ListCommandsInput{MaxResults: aws.Int32(50)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, cmd := range out.Commands {
		if strings.HasPrefix(aws.ToString(cmd.Comment), "abusekit "+token+"/apply/") {
			ids = append(ids, aws.ToString(cmd.CommandId))
		}
	}
	return ids
}

func dumpComments(t *testing.T, srv *ec2test.Server) {
	c := ssm.NewFromConfig(srv.Config())
	out, _ := c.ListCommands(context.Background(), &ssm.ListCommandsInput{MaxResults: aws.Int32(50)})
	for _, cmd := range out.Commands {
		t.Logf("%s %s %s", aws.ToString(cmd.CommandId), aws.ToString(cmd.Comment), cmd.Status)
	}
}
