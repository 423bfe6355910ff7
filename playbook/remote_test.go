package playbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// ssmWorld is an emulated managed instance whose SSM agent runs commands
// as processes on this machine, with this test binary staged for it.
type ssmWorld struct {
	srv      *ec2test.Server
	ssm      *ssm.Client
	instance string
	tr       *remote.SSM
}

func newSSMWorld(t testing.TB) *ssmWorld {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Skipf(t, "the SSM staging script fetches with curl: %v", err)
	}
	srv := ec2test.NewServer()
	t.Cleanup(srv.Close)
	t.Cleanup(srv.WaitCommands)
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ManageInstance(ids[0], ec2test.LocalExecutor{Dir: t.TempDir(), KillGrace: 500 * time.Millisecond}, ec2test.ManagedInstance{}); err != nil {
		t.Fatal(err)
	}
	srv.AddBucket("stage")
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(ec2test.TestAccessKeyID, ec2test.TestSecretAccessKey, "")}
	ssmc := ssm.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	exe, _ := selfExe(t)
	bin, err := remote.Stage(context.Background(), s3c, s3.NewPresignClient(s3c), "stage", "abusekit/t", exe, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tr := &remote.SSM{SSM: ssmc, S3: s3c, Presign: s3.NewPresignClient(s3c), Instance: ids[0], Binary: bin, Bucket: "stage",
		Prefix: "abusekit/t", StageDir: t.TempDir(), MinPoll: 5 * time.Millisecond, MaxPoll: 50 * time.Millisecond}
	return &ssmWorld{srv: srv, ssm: ssmc, instance: ids[0], tr: tr}
}

// commentsSent are the comments of the commands sent, in order.
func (w *ssmWorld) commentsSent(t *testing.T) []string {
	t.Helper()
	out, err := w.ssm.ListCommands(context.Background(), &ssm.ListCommandsInput{InstanceId: aws.String(w.instance)})
	if err != nil {
		t.Fatal(err)
	}
	var c []string
	for _, cmd := range out.Commands {
		c = append(c, aws.ToString(cmd.Comment))
	}
	slices.Sort(c)
	return c
}

// A playbook whose plugin runs over SSM: Plan and Apply are processes on
// the instance (another process than the local plugin, which only
// describes), each step says where it ran and under which command, and
// the remote process's environment has no cloud credentials.
func TestRemoteSSMSteps(t *testing.T) {
	w := newSSMWorld(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "must-not-reach-the-instance")
	rm := &playbook.Remote{Transport: w.tr, Name: "ssm"}
	pb, err := playbook.New("remote",
		playbook.Step{ID: "hello", Plugin: "util", Action: "greet", Input: map[string]any{"name": "ops"}},
		playbook.Step{ID: "env", Plugin: "util", Action: "env"},
		playbook.Step{ID: "steps", Plugin: "util", Action: "progress"},
	)
	if err != nil {
		t.Fatal(err)
	}
	var progress []string
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "INC-remote",
		Plugins: []playbook.PluginSpec{{Name: "util", Env: []string{"GREETING=1"}, Remote: rm}},
		Approve: playbook.AutoApprove,
		OnEvent: func(e playbook.Event) {
			if e.Kind == playbook.EventStepProgress {
				progress = append(progress, e.Message)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan, err := r.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Steps[0].Summary != "greet ops" {
		t.Errorf("plan summary %q", plan.Steps[0].Summary)
	}
	run, err := r.Apply(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	sent := w.srv.SentCommands()
	// Three plans and three applies, each one command.
	if len(sent) != 6 {
		t.Fatalf("%d commands sent, want 6: %v", len(sent), sent)
	}
	p, _ := r.Host().Plugin("util")
	var where [][2]string
	for _, s := range run.Steps {
		where = append(where, [2]string{s.Transport, s.CommandID})
	}
	want := [][2]string{{"ssm", sent[3]}, {"ssm", sent[4]}, {"ssm", sent[5]}}
	if diff := cmp.Diff(want, where); diff != "" {
		t.Errorf("where the steps ran (-want +got):\n%s", diff)
	}
	var hello struct {
		Message string `json:"message"`
		PID     int    `json:"pid"`
	}
	json.Unmarshal(run.Steps[0].Output, &hello)
	if hello.Message != "hello, ops" || hello.PID == p.PID() || hello.PID == 0 {
		t.Errorf("greet output %s (local plugin pid %d)", run.Steps[0].Output, p.PID())
	}
	var env struct{ Env []string }
	json.Unmarshal(run.Steps[1].Output, &env)
	for _, kv := range env.Env {
		if strings.HasPrefix(kv, "AWS_") {
			t.Errorf("the remote process got %s", kv)
		}
	}
	if !slices.Contains(env.Env, "GREETING=1") {
		t.Errorf("the spec's environment did not reach the remote process: %q", env.Env)
	}
	if diff := cmp.Diff([]string{"part 1", "part 2", "part 3"}, progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	calls := rm.Calls()
	if len(calls) != 6 || calls[5].StdoutSHA256 == "" || calls[5].Instance != w.instance {
		t.Errorf("calls %+v", calls)
	}
}

// An action's error keeps its identity over SSM as over go-plugin.
func TestRemoteSSMErrorIdentity(t *testing.T) {
	w := newSSMWorld(t)
	pb, _ := playbook.New("remote-fail", playbook.Step{ID: "f", Plugin: "util", Action: "fail", Input: map[string]any{"why": "test"}})
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "INC-fail",
		Plugins: []playbook.PluginSpec{{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}}},
		Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(context.Background())
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want errBoom", err)
	}
	if run.Steps[0].Transport != "ssm" || run.Steps[0].CommandID == "" {
		t.Errorf("step result %+v", run.Steps[0])
	}
}

// The same Apply (same step, attempt, input) sent again, as by a runner
// resumed after a crash, waits for the command already sent: one command.
func TestRemoteSSMApplyNotSentTwice(t *testing.T) {
	w := newSSMWorld(t)
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	if err := host.Start(context.Background(), playbook.PluginSpec{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := host.Plugin("util")
	in, _ := json.Marshal(map[string]any{"ledger": ledger})
	c := playbook.Call{Action: "ledger", Input: in, Incident: "INC-1", Playbook: "pb", Step: "s",
		IdempotencyToken: playbook.IdempotencyToken("INC-1", "pb", "s"), Attempt: 1}
	for range 2 {
		if _, err := p.Apply(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.srv.SentCommands()); n != 1 {
		t.Errorf("%d commands sent for one apply sent twice, want 1", n)
	}
	b, _ := os.ReadFile(ledger)
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("the action ran %d times, want 1", n)
	}
	// Another attempt, or another input, is another command.
	c.Attempt = 2
	if _, err := p.Apply(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(w.srv.SentCommands()); n != 2 {
		t.Errorf("%d commands after a second attempt, want 2", n)
	}
}

// A remote plugin never gets cloud credentials: a spec that would give it
// any AWS_* variable is refused before anything starts.
func TestRemoteRefusesCloudCredentials(t *testing.T) {
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	err := host.Start(context.Background(), playbook.PluginSpec{Name: "util", Env: []string{"AWS_ACCESS_KEY_ID=AKIA"},
		Remote: &playbook.Remote{Transport: &remote.SSM{}, Name: "ssm"}})
	var pe *playbook.PluginError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("err = %v", err)
	}
}

// Cancelling a step that runs over SSM cancels its command on the instance
// (CancelCommand: the agent ends the process) and the step's error says
// so, with the context's error.
func TestRemoteSSMCancel(t *testing.T) {
	w := newSSMWorld(t)
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	if err := host.Start(context.Background(), playbook.PluginSpec{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := host.Plugin("util")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Apply(ctx, playbook.Call{Action: "sleep", Input: json.RawMessage(`{}`), Step: "s", IdempotencyToken: "tok", Attempt: 1}, nil)
		done <- err
	}()
	var id string
	for deadline := time.Now().Add(time.Minute); id == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		out, err := w.ssm.ListCommands(context.Background(), &ssm.ListCommandsInput{InstanceId: aws.String(w.instance)})
		if err == nil && len(out.Commands) == 1 && out.Commands[0].Status == "InProgress" {
			id = aws.ToString(out.Commands[0].CommandId)
		}
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, remote.ErrCancelled) {
		t.Fatalf("err = %v, want context.Canceled and remote.ErrCancelled", err)
	}
	// The step returns once the command has ended on the instance (its
	// program had the agent's grace to clean up), not while it still runs.
	inv, err := w.ssm.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(w.instance)})
	if err != nil || inv.Status != "Cancelled" {
		t.Errorf("the command on the instance when the step returned: %v, %v; want Cancelled", inv.Status, err)
	}
}

// A note an action keeps on the far host comes back with its answer and is
// journaled (a step_note record) before the step's end, and a later
// attempt of the step gets it back: over a one-shot transport the note is
// durable in the command's output (and the host's synced stream) while
// the action goes on, and in the runner's journal once the answer is read.
func TestRemoteSSMNotesJournaled(t *testing.T) {
	w := newSSMWorld(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.WriteFile(state, []byte("original"), 0o600)
	pb, _ := playbook.New("remote-notes", playbook.Step{ID: "n", Plugin: "util", Action: "noted", Input: map[string]any{"state": state}})
	r, err := playbook.NewRunner(pb, playbook.Options{Incident: "INC-notes", JournalDir: filepath.Join(dir, "journal"),
		Plugins: []playbook.PluginSpec{{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}}},
		Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := readJournalFile(t, playbook.JournalPath(filepath.Join(dir, "journal"), "INC-notes"))
	got := journalSummary(recs)
	want := []string{"run_started", "plan_approved", "step_started n", "step_note n", "step_finished n succeeded", "run_finished"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	for _, rec := range recs {
		if rec.Type == playbook.RecordStepNote && (rec.Note == nil || rec.Note.Key != "original" || string(rec.Note.Value) != `"original"`) {
			t.Errorf("note record %+v", rec.Note)
		}
	}

	// Run again: the step is done, and the resumed run still says where it
	// ran and which command it was (from the journal), sending nothing.
	r.Close()
	sent := len(w.srv.SentCommands())
	r2, err := playbook.NewRunner(pb, playbook.Options{Incident: "INC-notes", JournalDir: filepath.Join(dir, "journal"),
		Plugins: []playbook.PluginSpec{{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}}},
		Approve: playbook.AutoApprove})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	run, err := r2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var finished playbook.Record
	for _, rec := range recs {
		if rec.Type == playbook.RecordStepFinished {
			finished = rec
		}
	}
	if len(run.Steps) != 1 || !run.Steps[0].Resumed || run.Steps[0].Transport != "ssm" || run.Steps[0].CommandID == "" ||
		run.Steps[0].CommandID != finished.CommandID || len(w.srv.SentCommands()) != sent {
		t.Errorf("resumed: %+v (journal's command %q; %d commands sent, were %d)", run.Steps, finished.CommandID, len(w.srv.SentCommands()), sent)
	}
}

// An output past Run Command's 24,000 characters comes whole through the
// output bucket, hashed by the runner.
func TestRemoteSSMLargeOutput(t *testing.T) {
	w := newSSMWorld(t)
	rm := &playbook.Remote{Transport: w.tr, Name: "ssm"}
	host := playbook.NewHost(playbook.HostOptions{})
	defer host.Close()
	if err := host.Start(context.Background(), playbook.PluginSpec{Name: "util", Remote: rm}); err != nil {
		t.Fatal(err)
	}
	p, _ := host.Plugin("util")
	out, err := p.Apply(context.Background(), playbook.Call{Action: "big", Input: json.RawMessage(`{"bytes":100000}`), Step: "big", IdempotencyToken: "tok", Attempt: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(out, &s); err != nil || len(s) != 100000 {
		t.Fatalf("output of %d bytes (%v), want 100000", len(s), err)
	}
	calls := rm.Calls()
	if len(calls) != 1 || len(calls[0].StdoutSHA256) != 64 {
		t.Errorf("calls %+v", calls)
	}
}
