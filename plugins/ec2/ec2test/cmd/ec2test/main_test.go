package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
)

// The test binary is the standalone emulator when EC2TEST_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("EC2TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const awsCLI = "/usr/bin/aws"

// startStandalone runs this package's main with args and returns its URL.
func startStandalone(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-addr", "127.0.0.1:0", "-json"}, args...)...)
	cmd.Env = append(os.Environ(), "EC2TEST_MAIN=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("ready line: %v", err)
	}
	var ready struct {
		URL    string            `json:"url"`
		Images map[string]string `json:"images"`
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return ready.URL
}

// aws runs the Debian AWS CLI v2 against url and returns its standard output.
func aws(t *testing.T, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--endpoint-url", url, "--region", "us-east-1", "--no-cli-pager", "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, awsCLI, full...)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKIDEC2TEST", "AWS_SECRET_ACCESS_KEY=ec2test", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(b)
}

// The AWS CLI drives the standalone emulator's Run Command and S3: a
// script sent with ssm send-command really runs and get-command-invocation
// returns its output; s3 cp round-trips a file large enough for a
// multipart upload.
func TestStandaloneSSMAndS3WithAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		testenv.Skipf(t, "needs the AWS CLI v2 from Debian's awscli package at %s (apt-get install awscli): %v", awsCLI, err)
	}
	url := startStandalone(t, "-ssm-run", "local")
	var images struct {
		Images []struct{ ImageId string }
	}
	if err := json.Unmarshal([]byte(aws(t, url, "ec2", "describe-images", "--owners", "amazon")), &images); err != nil || len(images.Images) == 0 {
		t.Fatalf("describe-images: %v", err)
	}
	var run struct {
		Instances []struct{ InstanceId string }
	}
	if err := json.Unmarshal([]byte(aws(t, url, "ec2", "run-instances", "--image-id", images.Images[0].ImageId,
		"--instance-type", "t3.micro", "--count", "1")), &run); err != nil || len(run.Instances) != 1 {
		t.Fatalf("run-instances: %v", err)
	}
	id := run.Instances[0].InstanceId
	aws(t, url, "ec2", "wait", "instance-running", "--instance-ids", id)

	marker := filepath.Join(t.TempDir(), "ran")
	var sent struct{ Command struct{ CommandId string } }
	params := `{"commands":["echo hello from $(uname -s)","touch ` + marker + `","echo warn >&2"]}`
	if err := json.Unmarshal([]byte(aws(t, url, "ssm", "send-command", "--document-name", "AWS-RunShellScript",
		"--instance-ids", id, "--parameters", params, "--comment", "cli test")), &sent); err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Status, StandardOutputContent, StandardErrorContent string
		ResponseCode                                        int
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal([]byte(aws(t, url, "ssm", "get-command-invocation", "--command-id", sent.Command.CommandId,
			"--instance-id", id)), &inv); err != nil {
			t.Fatal(err)
		}
		if inv.Status != "Pending" && inv.Status != "InProgress" || time.Now().After(deadline) {
			break
		}
	}
	if inv.Status != "Success" || inv.ResponseCode != 0 || inv.StandardOutputContent != "hello from Linux\n" || inv.StandardErrorContent != "warn\n" {
		t.Errorf("get-command-invocation: %+v", inv)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the script did not run on this machine: %v", err)
	}
	var info struct {
		InstanceInformationList []struct{ InstanceId, PingStatus string }
	}
	json.Unmarshal([]byte(aws(t, url, "ssm", "describe-instance-information")), &info)
	if len(info.InstanceInformationList) != 1 || info.InstanceInformationList[0].InstanceId != id || info.InstanceInformationList[0].PingStatus != "Online" {
		t.Errorf("describe-instance-information: %+v", info)
	}

	dir := t.TempDir()
	src, back := filepath.Join(dir, "evidence.tar"), filepath.Join(dir, "back.tar")
	data := strings.Repeat("evidence bytes\n", 700000) // 10.5 MB: the CLI uploads it in parts
	if err := os.WriteFile(src, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	aws(t, url, "s3", "mb", "s3://incident-evidence")
	aws(t, url, "s3", "cp", src, "s3://incident-evidence/i-1/evidence.tar")
	aws(t, url, "s3", "cp", "s3://incident-evidence/i-1/evidence.tar", back)
	if got, err := os.ReadFile(back); err != nil || string(got) != data {
		t.Errorf("s3 cp round trip: %d bytes, %v", len(got), err)
	}
	if ls := aws(t, url, "s3", "ls", "s3://incident-evidence/i-1/"); !strings.Contains(ls, "10500000 evidence.tar") {
		t.Errorf("s3 ls: %q", ls)
	}
}
