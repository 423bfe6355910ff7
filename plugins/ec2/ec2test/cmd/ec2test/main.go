// Command ec2test serves the ec2test AWS emulator on a loopback address,
// so the AWS CLI and other SDKs can be pointed at it:
//
//	go run ./plugins/ec2/ec2test/cmd/ec2test -addr 127.0.0.1:4599 &
//	aws --endpoint-url http://127.0.0.1:4599 --region us-east-1 ec2 describe-instances
//
// With -ssm-run local every running instance is a managed instance whose
// Run Command scripts run as processes on this machine (as the user the
// emulator runs as, with the SSM agent's environment, not the emulator's):
//
//	go run ./plugins/ec2/ec2test/cmd/ec2test -addr 127.0.0.1:4599 -ssm-run local &
//	aws --endpoint-url http://127.0.0.1:4599 ssm send-command --document-name AWS-RunShellScript \
//	    --instance-ids i-… --parameters '{"commands":["uname -a"]}'
//	aws --endpoint-url http://127.0.0.1:4599 ssm get-command-invocation --command-id … --instance-id i-…
//	aws --endpoint-url http://127.0.0.1:4599 s3 mb s3://evidence
//	aws --endpoint-url http://127.0.0.1:4599 s3 cp ./file s3://evidence/file
//
// It prints one JSON line with the URL, region and seeded resource ids
// on stdout once it is listening (-json), or a human summary otherwise,
// and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ec2test:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	opts, asJSON, err := parse(args)
	if err != nil {
		return err
	}
	return serve(opts, asJSON)
}

// parse turns the command line into server options.
func parse(args []string) ([]ec2test.Option, bool, error) {
	fs := flag.NewFlagSet("ec2test", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback `address` to listen on")
	region := fs.String("region", "us-east-1", "`region` of the emulated account")
	snapDelay := fs.Duration("snapshot-delay", 0, "how long snapshots stay pending")
	seed := fs.Uint64("seed", 0, "seed for ids and random faults")
	throttle := fs.Bool("throttle", false, "enable token-bucket throttling with the buckets of AWS's published EC2 table (per action, account and Region)")
	throttleFrac := fs.Float64("throttle-fraction", 0, "fraction of requests throttled at random")
	errFrac := fs.Float64("error-fraction", 0, "fraction of requests answered with a 5xx")
	ec := fs.Duration("eventual-consistency", 0, "how long new resources stay invisible")
	snapErr := fs.Float64("snapshot-error-fraction", 0, "fraction of new snapshots that end in state error")
	rateScale := fs.Float64("rate-scale", 1, "multiply every throttling bucket size and refill rate by this `factor`")
	imageDelay := fs.Duration("image-delay", 0, "how long new images stay pending")
	pending := fs.Duration("pending-delay", 0, "how long new or started instances stay pending")
	stopping := fs.Duration("stopping-delay", 0, "how long stopping instances stay stopping")
	shuttingDown := fs.Duration("shutting-down-delay", 0, "how long terminated instances stay shutting-down")
	statusDelay := fs.Duration("status-check-delay", 0, "how long a running instance's status checks stay initializing")
	ssmRun := fs.String("ssm-run", "", `run the commands sent over SSM Run Command to every running instance: "local" runs them as shell scripts on this machine (opt-in; default: no instance is managed)`)
	asJSON := fs.Bool("json", false, "print the ready line as JSON")
	verbose := fs.Bool("v", false, "log each request to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, d := range map[string]time.Duration{"snapshot-delay": *snapDelay, "image-delay": *imageDelay, "pending-delay": *pending,
		"stopping-delay": *stopping, "shutting-down-delay": *shuttingDown, "status-check-delay": *statusDelay, "eventual-consistency": *ec} {
		if d < 0 {
			return nil, false, fmt.Errorf("-%s %v: must not be negative", name, d)
		}
	}
	opts := []ec2test.Option{
		ec2test.WithAddr(*addr), ec2test.WithRegion(*region), ec2test.WithSnapshotDelay(*snapDelay), ec2test.WithSeed(*seed),
		ec2test.WithFaults(ec2test.Faults{Throttle: *throttle, ThrottleFraction: *throttleFrac,
			ServerErrorFraction: *errFrac, EventualConsistency: *ec, SnapshotErrorFraction: *snapErr}),
		ec2test.WithImageDelay(*imageDelay), ec2test.WithInstanceDelays(*pending, *stopping, *shuttingDown),
		ec2test.WithStatusCheckDelay(*statusDelay),
	}
	if *rateScale <= 0 {
		return nil, false, fmt.Errorf("-rate-scale %v: must be positive", *rateScale)
	}
	opts = append(opts, ec2test.WithRateLimits(ec2test.DefaultRateLimits().Scaled(*rateScale)))
	switch *ssmRun {
	case "":
	case "local":
		opts = append(opts, ec2test.WithSSMExecutor(ec2test.LocalExecutor{}))
	default:
		return nil, false, fmt.Errorf("-ssm-run %q: want \"local\" or nothing", *ssmRun)
	}
	if *verbose {
		opts = append(opts, ec2test.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	return opts, *asJSON, nil
}

func serve(opts []ec2test.Option, asJSON bool) error {
	srv, err := ec2test.Listen(opts...)
	if err != nil {
		return err
	}
	srv.Start()
	defer srv.Close()
	ready := map[string]any{
		"url": srv.URL, "region": srv.Region(), "vpc": srv.DefaultVPC(), "subnets": srv.DefaultSubnets(),
		"security_group": srv.DefaultSecurityGroup(),
		"images": map[string]string{
			"al2023": srv.ImageID(ec2test.ImageAmazonLinux2023), "ubuntu-24.04": srv.ImageID(ec2test.ImageUbuntu2404),
			"debian-12": srv.ImageID(ec2test.ImageDebian12),
		},
	}
	if asJSON {
		b, _ := json.Marshal(ready)
		fmt.Println(string(b))
	} else {
		fmt.Printf("ec2test listening on %s (region %s)\n  default VPC %s, security group %s\n  images: %v\n",
			srv.URL, srv.Region(), srv.DefaultVPC(), srv.DefaultSecurityGroup(), ready["images"])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
