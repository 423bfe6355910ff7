package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// demo is the seed incident laid out in a temporary directory, with an
// EC2 emulator serving the instance on loopback.
type demo struct {
	dir, report, proc, root string
	rep                     abuse.Report // the notice, parsed
	instance, endpoint      string
	region                  string
	group                   string    // the world-open security group the instance starts in
	ssmEndpointGroup        string    // the security group of the VPC's SSM interface endpoints
	privateAddr             string    // the instance's private address, behind the report's public one
	since                   time.Time // the incident window of the demo root (its infection time, less an hour)
	awsEnv                  []string
	bucket                  string // the emulator's S3 bucket the binary is staged in
	srv                     *ec2test.Server
	scan                    *demoScan // the real scanner the demo started
}

// newDemo builds the seed incident: the provider's notice, a real
// scanner process (work32, run from a deleted binary in a hidden tmp
// directory) holding SYN_SENT sockets to loopback listeners that never
// answer, a Debian 12 root carrying work32's persistence, and the
// instance behind a launch-wizard group open to the world on all traffic.
func newDemo(ctx context.Context) (_ *demo, err error) {
	dir, err := os.MkdirTemp("", "respond-demo-")
	if err != nil {
		return nil, err
	}
	w := &demo{dir: dir, report: filepath.Join(dir, "notice.eml"), proc: "/proc", root: filepath.Join(dir, "root")}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	notice, err := demoFiles.ReadFile("demo/notice.eml")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.report, notice, 0o600); err != nil {
		return nil, err
	}
	rep, err := readReport(ctx, w.report)
	if err != nil {
		return nil, err
	}
	w.rep = rep
	if err := os.Mkdir(w.root, 0o755); err != nil {
		return nil, err
	}

	// A real scanner, started by the demo and stopped by the response.
	if w.scan, err = startDemoScanner(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("scanner: %w", err)
	}
	w.privateAddr = "127.0.0.1" // the address the scanner's sockets show, as a private one behind the public

	// The fixture's files carry their own dates (stock image, then the
	// infection); its window starts an hour before the infection.
	w.since = hosttest.InfectionTime.Add(-time.Hour)
	tree := hosttest.Work32(hosttest.Debian12(), "/home/admin")
	// Not root, or a file system without inode flags: Write has written
	// the rest of the tree, so the infection is there without chattr +i.
	if err := hosttest.Write(w.root, tree); err != nil && !errors.Is(err, hosttest.ErrUnsupported) {
		return nil, err
	}

	region := rep.Resources.Region
	if region == "" {
		region = "us-east-1"
	}
	w.srv = ec2test.NewServer(ec2test.WithRegion(region))
	sg, err := w.srv.AddSecurityGroup("launch-wizard-1", "launch-wizard-1 created by the EC2 console", "",
		ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"})
	if err != nil {
		return nil, err
	}
	ids, err := w.srv.AddInstances(1, ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}, KeyName: "ops",
		Tags: map[string]string{"Name": "work32-victim"}})
	if err != nil {
		return nil, err
	}
	w.instance, w.endpoint, w.region, w.group = ids[0], w.srv.URL, region, sg
	// The VPC's SSM interface endpoints (ssm, ssmmessages, ec2messages)
	// share a security group admitting HTTPS from the VPC: the only place
	// contain lets the quarantined instance reach, so that the host steps
	// still reach it over SSM Run Command.
	if w.ssmEndpointGroup, err = w.srv.AddSecurityGroup("ssm-endpoints", "SSM interface endpoints (ssm, ssmmessages, ec2messages)", "",
		ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "172.31.0.0/16"}); err != nil {
		return nil, err
	}
	// The instance is a managed instance whose SSM agent runs the commands
	// it is sent as processes on this machine (the host steps go over SSM
	// Run Command as they would to a real instance), and the account has a
	// bucket to stage the binary in and receive the host steps' outputs.
	agentDir := filepath.Join(dir, "agent")
	if err := os.Mkdir(agentDir, 0o700); err != nil {
		return nil, err
	}
	if err := w.srv.ManageInstance(w.instance, ec2test.LocalExecutor{Dir: agentDir, KillGrace: time.Second}, ec2test.ManagedInstance{}); err != nil {
		return nil, err
	}
	w.bucket = "abusekit-demo-stage"
	w.srv.AddBucket(w.bucket)
	w.awsEnv = []string{
		"AWS_ACCESS_KEY_ID=" + ec2test.TestAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ec2test.TestSecretAccessKey,
		"AWS_REGION=" + region, "AWS_EC2_METADATA_DISABLED=true",
	}
	return w, nil
}

// Close stops the emulator and removes the demo's files.
func (w *demo) Close() {
	if w.scan != nil {
		w.scan.Close()
	}
	if w.srv != nil {
		w.srv.Close()
		w.srv.WaitCommands()
	}
	hosttest.ClearImmutable(w.root)
	if err := os.RemoveAll(w.dir); err != nil {
		fmt.Fprintln(os.Stderr, "respond: demo cleanup:", err)
	}
}
