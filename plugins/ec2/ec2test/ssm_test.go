package ec2test_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// ssmWorld is an emulator with one running instance, managed with a
// LocalExecutor, and SSM and S3 clients of the real SDK.
type ssmWorld struct {
	srv      *ec2test.Server
	ssm      *ssm.Client
	s3       *s3.Client
	instance string
}

func newSSMWorld(t *testing.T, opts ...ec2test.Option) *ssmWorld {
	t.Helper()
	srv := ec2test.NewServer(opts...)
	t.Cleanup(srv.Close)
	t.Cleanup(srv.WaitCommands) // no script outlives its test
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ManageInstance(ids[0], ec2test.LocalExecutor{Dir: t.TempDir(), KillGrace: 200 * time.Millisecond}, ec2test.ManagedInstance{}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	return &ssmWorld{srv: srv, ssm: ssm.NewFromConfig(cfg),
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), instance: ids[0]}
}

func (w *ssmWorld) send(t *testing.T, in *ssm.SendCommandInput) string {
	t.Helper()
	if in.DocumentName == nil {
		in.DocumentName = aws.String("AWS-RunShellScript")
	}
	if in.InstanceIds == nil {
		in.InstanceIds = []string{w.instance}
	}
	out, err := w.ssm.SendCommand(context.Background(), in)
	if err != nil {
		t.Fatalf("SendCommand: %v", err)
	}
	return aws.ToString(out.Command.CommandId)
}

// wait polls GetCommandInvocation until the invocation has ended.
func (w *ssmWorld) wait(t *testing.T, id string) *ssm.GetCommandInvocationOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := w.ssm.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{CommandId: &id, InstanceId: &w.instance})
		if err != nil {
			t.Fatalf("GetCommandInvocation: %v", err)
		}
		switch out.Status {
		case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress,
			ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling:
		default:
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("command %s still %s after 30 s", id, out.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func commands(lines ...string) map[string][]string { return map[string][]string{"commands": lines} }

type invocationView struct {
	Status, Details, Stdout, Stderr string
	Code                            int32
}

func view(o *ssm.GetCommandInvocationOutput) invocationView {
	return invocationView{Status: string(o.Status), Details: aws.ToString(o.StatusDetails), Stdout: aws.ToString(o.StandardOutputContent),
		Stderr: aws.ToString(o.StandardErrorContent), Code: o.ResponseCode}
}

func TestSSMRunShellScript(t *testing.T) {
	w := newSSMWorld(t)
	for _, tc := range []struct {
		name  string
		lines []string
		want  invocationView
	}{
		{"success", []string{"echo hello", "echo to-stderr >&2"}, invocationView{"Success", "Success", "hello\n", "to-stderr\n", 0}},
		{"exit status", []string{"echo partial", "exit 3"}, invocationView{"Failed", "Failed", "partial\n", "", 3}},
		{"one script", []string{"x=41", "echo $((x+1))"}, invocationView{"Success", "Success", "42\n", "", 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := w.send(t, &ssm.SendCommandInput{Parameters: commands(tc.lines...)})
			if diff := cmp.Diff(tc.want, view(w.wait(t, id))); diff != "" {
				t.Errorf("invocation (-want +got):\n%s", diff)
			}
		})
	}
}

// The script sees the agent's environment, never the caller's cloud
// credentials.
func TestSSMScriptEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
	w := newSSMWorld(t)
	id := w.send(t, &ssm.SendCommandInput{Parameters: commands("env")})
	out := w.wait(t, id)
	if out.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("status %s: %s", out.Status, aws.ToString(out.StandardErrorContent))
	}
	if env := aws.ToString(out.StandardOutputContent); strings.Contains(env, "AWS_") || !strings.Contains(env, "PATH=") {
		t.Errorf("script environment:\n%s", env)
	}
}

// Output past 24,000 characters is cut in GetCommandInvocation and kept
// whole in the output bucket.
func TestSSMOutputTruncatedAndInS3(t *testing.T) {
	w := newSSMWorld(t)
	w.srv.AddBucket("evidence")
	id := w.send(t, &ssm.SendCommandInput{Parameters: commands("head -c 30000 /dev/zero | tr '\\0' x", "echo é >&2"),
		OutputS3BucketName: aws.String("evidence"), OutputS3KeyPrefix: aws.String("incident-1/")})
	out := w.wait(t, id)
	if got := len(aws.ToString(out.StandardOutputContent)); got != 24000 {
		t.Errorf("StandardOutputContent has %d characters, want 24000", got)
	}
	key := "incident-1/" + id + "/" + w.instance + "/awsrunShellScript/0.awsrunShellScript/stdout"
	if want := "https://s3.us-east-1.amazonaws.com/evidence/" + key; aws.ToString(out.StandardOutputUrl) != want {
		t.Errorf("StandardOutputUrl = %q, want %q", aws.ToString(out.StandardOutputUrl), want)
	}
	obj, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("evidence"), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	b, _ := io.ReadAll(obj.Body)
	if len(b) != 30000 || strings.Trim(string(b), "x") != "" {
		t.Errorf("stdout object: %d bytes", len(b))
	}
}

func TestSSMErrors(t *testing.T) {
	w := newSSMWorld(t)
	other, err := w.srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = w.ssm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"),
		InstanceIds: other, Parameters: commands("true")})
	if apiCode(t, err) != "InvalidInstanceId" {
		t.Errorf("SendCommand to an unmanaged instance: %v, want InvalidInstanceId", err)
	}
	_, err = w.ssm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunPowerShellScript"),
		InstanceIds: []string{w.instance}, Parameters: commands("true")})
	if apiCode(t, err) != "InvalidDocument" {
		t.Errorf("SendCommand with another document: %v, want InvalidDocument", err)
	}
	_, err = w.ssm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String("00000000-0000-4000-8000-000000000000"), InstanceId: &w.instance})
	var inv *ssmtypes.InvalidCommandId
	if !errors.As(err, &inv) {
		t.Errorf("GetCommandInvocation of an unknown command: %v, want *types.InvalidCommandId", err)
	}
	id := w.send(t, &ssm.SendCommandInput{Parameters: commands("true")})
	_, err = w.ssm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: &id, InstanceId: &other[0]})
	var dne *ssmtypes.InvocationDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("GetCommandInvocation on another instance: %v, want *types.InvocationDoesNotExist", err)
	}
	w.wait(t, id)
}

// pidOf waits for a script to write its PID to file.
func pidOf(t *testing.T, file string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

func gone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
	}
	return false
}

// CancelCommand and executionTimeout end the script and the processes it
// started.
func TestSSMCancelAndTimeout(t *testing.T) {
	w := newSSMWorld(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		timeout string
		cancel  bool
		want    invocationView
	}{
		{"cancel", "", true, invocationView{"Cancelled", "Cancelled", "", "", -1}},
		{"execution timeout", "1", false, invocationView{"TimedOut", "ExecutionTimedOut", "", "", -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			params := commands("sleep 60 & echo $! > "+pidFile, "wait")
			if tc.timeout != "" {
				params["executionTimeout"] = []string{tc.timeout}
			}
			id := w.send(t, &ssm.SendCommandInput{Parameters: params})
			child := pidOf(t, pidFile)
			if tc.cancel {
				if _, err := w.ssm.CancelCommand(context.Background(), &ssm.CancelCommandInput{CommandId: &id}); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, view(w.wait(t, id))); diff != "" {
				t.Errorf("invocation (-want +got):\n%s", diff)
			}
			if !gone(child) {
				syscall.Kill(child, syscall.SIGKILL)
				t.Errorf("the script's child %d outlived the command", child)
			}
		})
	}
}

// A command to an instance whose agent is offline stays Pending, then
// times out undelivered; one sent before the agent comes back runs.
func TestSSMAgentOffline(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	w := newSSMWorld(t, ec2test.WithClock(clock))
	if err := w.srv.SetAgentOnline(w.instance, false); err != nil {
		t.Fatal(err)
	}
	info, err := w.ssm.DescribeInstanceInformation(context.Background(), &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{w.instance}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.InstanceInformationList) != 1 || info.InstanceInformationList[0].PingStatus != ssmtypes.PingStatusConnectionLost {
		t.Fatalf("DescribeInstanceInformation: %+v", info.InstanceInformationList)
	}
	late := w.send(t, &ssm.SendCommandInput{Parameters: commands("echo late"), TimeoutSeconds: aws.Int32(60)})
	lost := w.send(t, &ssm.SendCommandInput{Parameters: commands("echo lost"), TimeoutSeconds: aws.Int32(30)})
	got, err := w.ssm.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{CommandId: &late, InstanceId: &w.instance})
	if err != nil || got.Status != ssmtypes.CommandInvocationStatusPending {
		t.Fatalf("offline: %v %v, want Pending", got.Status, err)
	}
	advance(45 * time.Second)
	if err := w.srv.SetAgentOnline(w.instance, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(invocationView{"TimedOut", "DeliveryTimedOut", "", "", -1}, view(w.wait(t, lost))); diff != "" {
		t.Errorf("undelivered command (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(invocationView{"Success", "Success", "late\n", "", 0}, view(w.wait(t, late))); diff != "" {
		t.Errorf("command delivered late (-want +got):\n%s", diff)
	}
}

// ListCommands finds a command by instance and shows its comment: how a
// caller that must not send a command twice finds the one it sent.
func TestSSMListCommands(t *testing.T) {
	w := newSSMWorld(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, w.send(t, &ssm.SendCommandInput{Parameters: commands("true"), Comment: aws.String("abusekit step " + strconv.Itoa(i))}))
	}
	for _, id := range ids {
		w.wait(t, id)
	}
	var got []string
	p := ssm.NewListCommandsPaginator(w.ssm, &ssm.ListCommandsInput{InstanceId: &w.instance, MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Commands {
			got = append(got, aws.ToString(c.CommandId)+" "+aws.ToString(c.Comment)+" "+string(c.Status))
		}
	}
	want := []string{ids[2] + " abusekit step 2 Success", ids[1] + " abusekit step 1 Success", ids[0] + " abusekit step 0 Success"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListCommands (-want +got):\n%s", diff)
	}
	inv, err := w.ssm.ListCommandInvocations(context.Background(), &ssm.ListCommandInvocationsInput{CommandId: &ids[0], Details: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.CommandInvocations) != 1 || len(inv.CommandInvocations[0].CommandPlugins) != 1 ||
		aws.ToString(inv.CommandInvocations[0].CommandPlugins[0].Name) != "aws:runShellScript" {
		t.Errorf("ListCommandInvocations: %+v", inv.CommandInvocations)
	}
}

func TestS3Objects(t *testing.T) {
	w := newSSMWorld(t)
	ctx := context.Background()
	if _, err := w.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stage")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("abusekit "), 1000)
	if _, err := w.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stage"), Key: aws.String("bin/abusekit"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if got, ok := w.srv.Object("stage", "bin/abusekit"); !ok || !bytes.Equal(got, body) {
		t.Fatalf("stored object: %d bytes, want %d", len(got), len(body))
	}
	head, err := w.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("stage"), Key: aws.String("bin/abusekit")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
		t.Fatalf("HeadObject: %v, %v", head, err)
	}
	part, err := w.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stage"), Key: aws.String("bin/abusekit"), Range: aws.String("bytes=9-17")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(part.Body)
	part.Body.Close()
	if string(b) != "abusekit " {
		t.Errorf("ranged GetObject = %q", b)
	}
	_, err = w.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stage"), Key: aws.String("missing")})
	if apiCode(t, err) != "NoSuchKey" {
		t.Errorf("GetObject of a missing key: %v, want NoSuchKey", err)
	}
	list, err := w.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("stage"), Prefix: aws.String("bin/")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "bin/abusekit" {
		t.Errorf("ListObjectsV2: %+v %v", list, err)
	}

	// A presigned URL fetched with plain HTTP, as a script on the
	// instance does with curl; expired, it is refused.
	pre := s3.NewPresignClient(w.s3)
	req, err := pre.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stage"), Key: aws.String("bin/abusekit")},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, body) {
		t.Errorf("presigned GET: %s, %d bytes", resp.Status, len(b))
	}
	u, _ := url.Parse(req.URL)
	q := u.Query()
	q.Set("X-Amz-Date", "20200101T000000Z")
	u.RawQuery = q.Encode()
	expired := u.String()
	resp, err = http.Get(expired)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("expired presigned GET: %s, want 403", resp.Status)
	}
	putReq, err := pre.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stage"), Key: aws.String("evidence/tar")})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequest(http.MethodPut, putReq.URL, strings.NewReader("evidence"))
	resp, err = http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := w.srv.Object("stage", "evidence/tar"); resp.StatusCode != 200 || string(got) != "evidence" {
		t.Errorf("presigned PUT: %s, stored %q", resp.Status, got)
	}
}
