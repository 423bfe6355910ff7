package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// The test binary is the program staged on the "instance": with
// REMOTE_HELPER=1 in its (cleared) environment it acts on its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("REMOTE_HELPER") == "1" {
		os.Exit(helper(os.Args[1:]))
	}
	if os.Getenv("REMOTE_RUNNER") == "1" {
		os.Exit(runner())
	}
	plugin.ServeIfPlugin(map[string]plugin.Actions{"host": hostActions})
	os.Exit(m.Run())
}

func helper(args []string) int {
	switch args[0] {
	case "echo": // standard input, then the arguments and the environment
		in, _ := io.ReadAll(os.Stdin)
		env := os.Environ() // in any order
		sort.Strings(env)
		fmt.Printf("stdin=%s\nargs=%q\nenv=%q\n", in, args[1:], env)
	case "digest": // the digest of standard input
		in, _ := io.ReadAll(os.Stdin)
		sum := sha256.Sum256(in)
		fmt.Printf("%d %x\n", len(in), sum)
	case "big": // 100,000 bytes of output
		os.Stdout.WriteString(strings.Repeat("0123456789", 10000))
	case "fail":
		fmt.Fprintln(os.Stderr, "detect: no such process")
		return 3
	case "sleep":
		d, _ := time.ParseDuration(args[1])
		time.Sleep(d)
	case "once": // append a line to a file, then wait
		f, _ := os.OpenFile(args[1], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		f.WriteString("ran\n")
		f.Close()
		d, _ := time.ParseDuration(args[2])
		time.Sleep(d)
		fmt.Println("done")
	}
	return 0
}

type world struct {
	srv      *ec2test.Server
	ssm      *ssm.Client
	s3       *s3.Client
	instance string
	bin      remote.Binary
	stage    string
}

const bucket = "abusekit-staging"

func clientsFor(url string) (*ssm.Client, *s3.Client, *ec2.Client) {
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(ec2test.TestAccessKeyID, ec2test.TestSecretAccessKey, "")}
	return ssm.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), ec2.NewFromConfig(cfg)
}

func newWorld(t testing.TB) *world {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Skipf(t, "the staging script fetches with curl or wget: %v", err)
	}
	srv := ec2test.NewServer()
	t.Cleanup(srv.Close)
	t.Cleanup(srv.WaitCommands)
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ManageInstance(ids[0], ec2test.LocalExecutor{Dir: t.TempDir(), KillGrace: 200 * time.Millisecond}, ec2test.ManagedInstance{}); err != nil {
		t.Fatal(err)
	}
	srv.AddBucket(bucket)
	w := &world{srv: srv, instance: ids[0], stage: t.TempDir()}
	w.ssm, w.s3, _ = clientsFor(srv.URL)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w.bin, err = remote.Stage(context.Background(), w.s3, s3.NewPresignClient(w.s3), bucket, "abusekit/INC-1", exe, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) transport() *remote.SSM {
	return &remote.SSM{SSM: w.ssm, S3: w.s3, Presign: s3.NewPresignClient(w.s3), Instance: w.instance, Binary: w.bin,
		Bucket: bucket, Prefix: "abusekit/INC-1", StageDir: w.stage, MinPoll: 10 * time.Millisecond, MaxPoll: 100 * time.Millisecond}
}

var helperEnv = []string{"REMOTE_HELPER=1"}

func TestRunStagedBinary(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-secret") // the runner's; never the host step's
	w := newWorld(t)
	res, err := w.transport().Run(context.Background(), remote.Request{Key: "INC-1/detect", Args: []string{"echo", "it's", "a b"},
		Stdin: []byte(`{"pid":2314}`), Env: helperEnv, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := "stdin={\"pid\":2314}\nargs=[\"it's\" \"a b\"]\nenv=[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\" \"REMOTE_HELPER=1\"]\n"
	if diff := cmp.Diff(want, string(res.Stdout)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256([]byte(want))
	if res.Transport != "ssm" || res.CommandID == "" || res.StdoutSHA256 != hex.EncodeToString(sum[:]) || res.Resumed {
		t.Errorf("result: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(w.stage, "abusekit-"+w.bin.SHA256)); err != nil {
		t.Errorf("staged binary not kept on the instance: %v", err)
	}
	// A second step finds the binary staged and does not fetch it again:
	// the URL is made unusable and the run still works.
	tr := w.transport()
	tr.Binary.URL = w.srv.URL + "/" + bucket + "/nothing-here"
	if _, err := tr.Run(context.Background(), remote.Request{Key: "INC-1/find", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Errorf("second step with the binary already staged: %v", err)
	}
}

// A staging directory with "=" in its path (Go's test directories have
// them) is still where the program runs from: env does not take the
// program's path for one more variable.
func TestRunStageDirWithEquals(t *testing.T) {
	w := newWorld(t)
	tr := w.transport()
	tr.StageDir = filepath.Join(t.TempDir(), "mode=ssm")
	res, err := tr.Run(context.Background(), remote.Request{Key: "INC-1/equals", Args: []string{"echo", "x=y"}, Env: helperEnv})
	if err != nil {
		t.Fatal(err)
	}
	if want := "stdin=\nargs=[\"x=y\"]\nenv=[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\" \"REMOTE_HELPER=1\"]\n"; string(res.Stdout) != want {
		t.Errorf("output %q, want %q", res.Stdout, want)
	}
}

// Output past Run Command's 24,000 characters comes whole from the output
// bucket; without one it is an error, never a silently cut result.
func TestRunLargeOutputAndRequest(t *testing.T) {
	w := newWorld(t)
	res, err := w.transport().Run(context.Background(), remote.Request{Key: "INC-1/big", Args: []string{"big"}, Env: helperEnv})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("0123456789", 10000); string(res.Stdout) != want {
		t.Errorf("output: %d bytes, want %d", len(res.Stdout), len(want))
	}
	tr := w.transport()
	tr.Bucket = ""
	if _, err := tr.Run(context.Background(), remote.Request{Key: "INC-1/big-nobucket", Args: []string{"big"}, Env: helperEnv}); !errors.Is(err, remote.ErrOutputTruncated) {
		t.Errorf("large output without a bucket: %v, want ErrOutputTruncated", err)
	}
	// A request too large to embed in the script is staged and verified.
	req := bytes.Repeat([]byte("evidence "), 20000)
	res, err = w.transport().Run(context.Background(), remote.Request{Key: "INC-1/large-request", Args: []string{"digest"}, Stdin: req, Env: helperEnv})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(req)
	if want := fmt.Sprintf("%d %x\n", len(req), sum); string(res.Stdout) != want {
		t.Errorf("large request arrived as %q, want %q", res.Stdout, want)
	}
}

func TestRunErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/fail", Args: []string{"fail"}, Env: helperEnv})
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(err.Error(), "detect: no such process") {
		t.Errorf("failing program: %v, want *ExitError 3 with its stderr", err)
	}
	_, err = w.transport().Run(ctx, remote.Request{Key: "INC-1/slow", Args: []string{"sleep", "30s"}, Env: helperEnv, Timeout: time.Second})
	if !errors.Is(err, remote.ErrTimedOut) {
		t.Errorf("program past its timeout: %v, want ErrTimedOut", err)
	}
	if _, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/aws", Args: []string{"echo"}, Env: []string{"AWS_PROFILE=admin"}}); err == nil {
		t.Error("a request carrying AWS_* variables to the host was sent")
	}

	other, err := w.srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	tr := w.transport()
	tr.Instance = other[0]
	if _, err := tr.Run(ctx, remote.Request{Key: "INC-1/x", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrNotManaged) {
		t.Errorf("unmanaged instance: %v, want ErrNotManaged", err)
	}
	if err := w.srv.SetAgentOnline(w.instance, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/y", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrAgentOffline) {
		t.Errorf("offline agent: %v, want ErrAgentOffline", err)
	}
}

// A binary that does not match its digest never runs: a replaced staged
// copy is fetched again, a tampered object or installed file is refused.
func TestRunTampered(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	marker := filepath.Join(t.TempDir(), "ran")
	if _, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/a", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(w.stage, "abusekit-"+w.bin.SHA256)
	evil := "#!/bin/sh\ntouch " + marker + "\n"
	if err := os.WriteFile(staged, []byte(evil), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/b", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Errorf("run after the staged copy was replaced: %v (it should be fetched again)", err)
	}
	// The staged object itself replaced in the bucket.
	if err := w.srv.PutObject(bucket, "abusekit/INC-1/bin/abusekit-"+w.bin.SHA256, []byte(evil)); err != nil {
		t.Fatal(err)
	}
	os.Remove(staged)
	_, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/c", Args: []string{"echo"}, Env: helperEnv})
	if !errors.Is(err, remote.ErrTampered) {
		t.Errorf("tampered object: %v, want ErrTampered", err)
	}
	// An installed path that does not match.
	installed := filepath.Join(t.TempDir(), "abusekit")
	os.WriteFile(installed, []byte(evil), 0o700)
	tr := w.transport()
	tr.Binary = remote.Binary{SHA256: w.bin.SHA256, Path: installed}
	if _, err := tr.Run(ctx, remote.Request{Key: "INC-1/d", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrTampered) {
		t.Errorf("tampered installed binary: %v, want ErrTampered", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a binary that did not match its SHA-256 ran")
	}
}

func TestRunCancelled(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(w.srv.SentCommands()) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	_, err := w.transport().Run(ctx, remote.Request{Key: "INC-1/cancel", Args: []string{"sleep", "30s"}, Env: helperEnv})
	if !errors.Is(err, remote.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	w.srv.WaitCommands()
	out, err := w.ssm.ListCommands(context.Background(), &ssm.ListCommandsInput{InstanceId: &w.instance})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Commands) != 1 || out.Commands[0].Status != "Cancelled" {
		t.Errorf("the command was not cancelled on the instance: %+v", out.Commands)
	}
}

// runner is a responder process that sends one step and waits for it; the
// test kills it with SIGKILL mid-command.
func runner() int {
	ssmc, s3c, _ := clientsFor(os.Getenv("REMOTE_URL"))
	tr := &remote.SSM{SSM: ssmc, S3: s3c, Presign: s3.NewPresignClient(s3c), Instance: os.Getenv("REMOTE_INSTANCE"),
		Binary: remote.Binary{SHA256: os.Getenv("REMOTE_SHA"), URL: os.Getenv("REMOTE_BIN_URL")}, Bucket: bucket,
		Prefix: "abusekit/INC-1", StageDir: os.Getenv("REMOTE_STAGE"), MinPoll: 10 * time.Millisecond}
	_, err := tr.Run(context.Background(), remote.Request{Key: "INC-1/stop", Args: []string{"once", os.Getenv("REMOTE_COUNT"), "2s"}, Env: helperEnv})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// SIGKILL of the runner in the middle of a command, then a resumed run:
// the command is not sent twice, and the resumed run gets its result.
func TestRunResumeAfterRunnerKilled(t *testing.T) {
	w := newWorld(t)
	count := filepath.Join(t.TempDir(), "count")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REMOTE_RUNNER=1", "REMOTE_URL="+w.srv.URL, "REMOTE_INSTANCE="+w.instance, "REMOTE_SHA="+w.bin.SHA256,
		"REMOTE_BIN_URL="+w.bin.URL, "REMOTE_STAGE="+w.stage, "REMOTE_COUNT="+count)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(count); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the runner's command never started")
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	tr := w.transport()
	res, err := tr.Run(context.Background(), remote.Request{Key: "INC-1/stop", Args: []string{"once", count, "2s"}, Env: helperEnv})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || string(res.Stdout) != "done\n" {
		t.Errorf("resumed run: %+v", res)
	}
	if n := len(w.srv.SentCommands()); n != 1 {
		t.Errorf("%d commands sent, want 1", n)
	}
	if b, _ := os.ReadFile(count); string(b) != "ran\n" {
		t.Errorf("the step ran %d times", strings.Count(string(b), "ran"))
	}
}

func TestInstancePlatform(t *testing.T) {
	srv := ec2test.NewServer()
	defer srv.Close()
	_, _, ec := clientsFor(srv.URL)
	ctx := context.Background()
	x86, err := srv.AddInstances(1, ec2test.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	vols, err := ec.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: x86}}})
	if err != nil || len(vols.Volumes) == 0 {
		t.Fatalf("volumes of %s: %v", x86[0], err)
	}
	snap, err := ec.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vols.Volumes[0].VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ec.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("al2023-arm64"), Architecture: ec2types.ArchitectureValuesArm64,
		RootDeviceName: aws.String("/dev/xvda"), BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.EbsBlockDevice{SnapshotId: snap.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	arm, err := srv.AddInstances(1, ec2test.InstanceSpec{ImageID: aws.ToString(img.ImageId)})
	if err != nil {
		t.Fatal(err)
	}
	bins := remote.Binaries{"linux/amd64": "/build/abusekit-linux-amd64"}
	for _, tc := range []struct {
		id   string
		want remote.Platform
		bin  string
		err  error
	}{
		{x86[0], remote.Platform{OS: "linux", Arch: "amd64"}, "/build/abusekit-linux-amd64", nil},
		{arm[0], remote.Platform{OS: "linux", Arch: "arm64"}, "", remote.ErrPlatformMismatch},
	} {
		p, err := remote.InstancePlatform(ctx, ec, tc.id)
		if err != nil || p != tc.want {
			t.Errorf("InstancePlatform(%s) = %v, %v; want %v", tc.id, p, err, tc.want)
		}
		bin, err := bins.For(p)
		if bin != tc.bin || !errors.Is(err, tc.err) {
			t.Errorf("Binaries.For(%v) = %q, %v; want %q, %v", p, bin, err, tc.bin, tc.err)
		}
	}
}

// Stage signs its upload with the digest it computed (S3 checks the body
// against it) and adds no checksum of its own to compute.
func TestStageSignsWithItsDigest(t *testing.T) {
	var headers http.Header
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case http.MethodPut:
			headers = r.Header.Clone()
			io.Copy(io.Discard, r.Body)
		}
	}))
	defer fake.Close()
	_, s3c, _ := clientsFor(fake.URL)
	file := filepath.Join(t.TempDir(), "abusekit")
	data := bytes.Repeat([]byte("abusekit"), 1<<16)
	os.WriteFile(file, data, 0o700)
	bin, err := remote.Stage(context.Background(), s3c, s3.NewPresignClient(s3c), "b", "p", file, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if bin.SHA256 != hex.EncodeToString(sum[:]) || headers.Get("X-Amz-Content-Sha256") != bin.SHA256 {
		t.Errorf("staged %s, signed payload %q", bin.SHA256, headers.Get("X-Amz-Content-Sha256"))
	}
	for k := range headers {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum") || strings.EqualFold(k, "X-Amz-Trailer") {
			t.Errorf("upload carries %s: %q", k, headers.Get(k))
		}
	}
}
