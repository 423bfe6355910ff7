// Command snapshot-rebuild answers the cloud side of an abuse report on
// one EC2 instance: contain it, snapshot every volume, harden its security
// groups, launch a hardened replacement, put alarms on the replacement, and
// (with -terminate) terminate the old instance once its snapshots are
// verified complete.
//
// By default it only plans: every step prints what it would change.
// -apply acts. -json prints one JSON document per step on stdout.
//
//	snapshot-rebuild -demo                      # plan against an in-process emulator
//	snapshot-rebuild -demo -apply -terminate    # and act on it
//	snapshot-rebuild -instance i-0abc… -incident case-1234 -admin-cidr 198.51.100.0/24
//
// Credentials and region come from the AWS SDK's default chain; -endpoint
// (or the SDK's AWS_ENDPOINT_URL) points it at an emulator such as
// `go run ./plugins/ec2/ec2test/cmd/ec2test`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

const prog = "snapshot-rebuild"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type flags struct {
	instance, incident, abuseTime, region, endpoint string
	adminCIDRs, ports, sns, launchTemplate, ami     string
	stateDir                                        string
	apply, jsonOut, demo, terminate, inPlace, image bool
	maxWait, dwell                                  time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("snapshot-rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.instance, "instance", "", "instance id to act on")
	fs.StringVar(&f.incident, "incident", "", "incident id (the report's case number); seeds tags and idempotency tokens")
	fs.StringVar(&f.abuseTime, "abuse-time", "", "abuse time from the report (RFC 3339), tagged on snapshots")
	fs.StringVar(&f.region, "region", "", "AWS region (default: the SDK's chain)")
	fs.StringVar(&f.endpoint, "endpoint", "", "endpoint URL for every service (default: AWS_ENDPOINT_URL or AWS)")
	fs.StringVar(&f.adminCIDRs, "admin-cidr", "", "comma-separated CIDRs that replace 0.0.0.0/0 and ::/0 in open rules (none: the rules are removed)")
	fs.StringVar(&f.ports, "ports", "", "comma-separated ports to close to the world besides 22, 3389 and all-traffic rules")
	fs.StringVar(&f.sns, "sns", "", "SNS topic ARN for the alarms")
	fs.StringVar(&f.launchTemplate, "launch-template", "", "launch the replacement from this launch template (id lt-… or name)")
	fs.StringVar(&f.ami, "ami", "", "launch the replacement from this AMI (default: the old instance's AMI)")
	fs.BoolVar(&f.apply, "apply", false, "act (default: plan only)")
	fs.BoolVar(&f.jsonOut, "json", false, "one JSON document per step on stdout")
	fs.BoolVar(&f.demo, "demo", false, "run against an in-process emulator seeded with an infected-looking instance")
	fs.BoolVar(&f.terminate, "terminate", false, "terminate the old instance after its snapshots are verified complete")
	fs.BoolVar(&f.inPlace, "in-place", false, "fix shared security groups in place instead of copying them")
	fs.BoolVar(&f.image, "forensic-image", true, "register an AMI from the snapshots for isolated forensics")
	fs.DurationVar(&f.maxWait, "max-wait", 2*time.Hour, "maximum wait for snapshots and for the replacement's status checks")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory of contain's record of the original configuration, saved (fsynced) before the first change "+
		"(default $ABUSEKIT_STATE_DIR/ec2, $XDG_STATE_HOME/abusekit/ec2 or ~/.local/state/abusekit/ec2; -demo: a temporary one)")
	fs.DurationVar(&f.dwell, "dwell", 0, "ignored (kept for scripts written for earlier versions: contain no longer passes through an all-traffic group)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected arguments: %v", fs.Args())
	}
	return f, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Exit status, errors and -json follow internal/cli.
	f, err := parseFlags(args, stderr)
	if err != nil {
		var ue *cli.UsageError
		if !errors.Is(err, flag.ErrHelp) && !errors.As(err, &ue) {
			err = &cli.UsageError{Err: err}
		}
		return cli.Exit(prog, args, stdout, stderr, err)
	}
	return cli.Exit(prog, args, stdout, stderr, runSteps(ctx, f, stdout, stderr))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	dry  bool
	// live rewrites one progress line per resource in place (stderr is a
	// terminal); open is the resource whose line is still open.
	live bool
	open string
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// finalState is a state after which a resource's progress line is closed.
func finalState(s string) bool {
	switch s {
	case "completed", "error", "terminated", "running", "stopped", "status ok/ok":
		return true
	}
	return strings.HasPrefix(s, "status ") && strings.Contains(s, "impaired")
}

// progress prints one progress report of a long wait: a "progress"
// document (kind: the step) on stdout, or a live line on stderr.
func (p *printer) progress(stderr io.Writer, pr ec2.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		_ = cli.New(prog, p.w, io.Discard, true).Emit(cli.TypeProgress, pr.Step, map[string]any{"step": pr.Step, "progress": pr})
		return
	}
	var line string
	if pr.Volume == "" { // an instance's state
		line = fmt.Sprintf("  %s %s: %s", pr.Step, pr.Resource, pr.State)
	} else {
		line = fmt.Sprintf("  %s %s of %s: %s %3d%%", pr.Step, pr.Resource, pr.Volume, pr.State, pr.Percent)
		if pr.TotalBytes > 0 {
			line += fmt.Sprintf(" (%.1f of %.1f GiB", float64(pr.Bytes)/(1<<30), float64(pr.TotalBytes)/(1<<30))
			if pr.ETA > 0 {
				line += ", ETA " + pr.ETA.String()
			}
			line += ")"
		}
	}
	if !p.live {
		fmt.Fprintln(stderr, line)
		return
	}
	// A live line: rewritten in place while the same resource reports,
	// closed when another one reports or its state is final.
	if p.open != "" && p.open != pr.Resource {
		fmt.Fprintln(stderr)
	}
	fmt.Fprint(stderr, "\r\x1b[K"+line)
	p.open = pr.Resource
	if finalState(pr.State) {
		fmt.Fprintln(stderr)
		p.open = ""
	}
}

// step prints one step: a JSON line, or a short human view.
func (p *printer) step(name string, plan, result any, note string) error {
	if isNil(result) {
		result = nil
	}
	if isNil(plan) {
		plan = nil
	}
	if p.json {
		doc := map[string]any{"step": name, "dry_run": p.dry}
		if plan != nil {
			doc["plan"] = plan
		}
		if result != nil {
			doc["result"] = result
		}
		if note != "" {
			doc["note"] = note
		}
		// A "plan" document in a dry run, a "result" once applied; the
		// kind is the step.
		t := cli.TypePlan
		if !p.dry {
			t = cli.TypeResult
		}
		return cli.New(prog, p.w, io.Discard, true).Emit(t, name, doc)
	}
	mode := "plan"
	if !p.dry {
		mode = "done"
	}
	fmt.Fprintf(p.w, "== %s (%s)\n", name, mode)
	if note != "" {
		fmt.Fprintf(p.w, "   note: %s\n", note)
	}
	for _, line := range human(name, plan, result) {
		fmt.Fprintf(p.w, "   %s\n", line)
	}
	return nil
}

func human(name string, plan, result any) []string {
	var out []string
	switch p := plan.(type) {
	case *ec2.ContainPlan:
		for _, g := range p.Groups {
			if g.GroupID == "" {
				out = append(out, fmt.Sprintf("create %s group %q in %s", g.Role, g.Name, g.VPCID))
			} else if len(g.Converge) > 0 {
				out = append(out, fmt.Sprintf("fix %d rule(s) of %s group %s", len(g.Converge), g.Role, g.GroupID))
			}
		}
		for _, ic := range p.Instances {
			if ic.AlreadyContained {
				out = append(out, ic.InstanceID+": already contained")
				continue
			}
			for _, e := range ic.Interfaces {
				out = append(out, fmt.Sprintf("%s %s: %v -> quarantine", ic.InstanceID, e.NetworkInterfaceID, e.Groups))
			}
			out = append(out, ic.InstanceID+": termination and stop protection on, tagged with the incident")
			if ic.AutoScalingGroup != "" {
				out = append(out, fmt.Sprintf("%s: %s from Auto Scaling group %s (decrement desired: %v)", ic.InstanceID, ic.ASGAction, ic.AutoScalingGroup, ic.DecrementDesired))
			}
			for _, t := range ic.TargetGroups {
				out = append(out, fmt.Sprintf("%s: deregister from %s", ic.InstanceID, t.TargetGroupARN))
			}
		}
	case *ec2.SnapshotPlan:
		for _, ip := range p.Instances {
			for _, v := range ip.Volumes {
				s := "snapshot"
				if v.Existing != "" && v.ExistingState != "error" {
					s = "have " + v.Existing + " (" + v.ExistingState + ")"
				}
				out = append(out, fmt.Sprintf("%s %s %s (%d GiB): %s", ip.InstanceID, v.Device, v.VolumeID, v.SizeGiB, s))
			}
			if ip.Image != nil {
				out = append(out, fmt.Sprintf("%s: register forensic AMI %q", ip.InstanceID, ip.Image.Name))
			}
		}
	case *ec2.HardenPlan:
		if len(p.Groups) == 0 {
			out = append(out, "no world-open rules on the watched ports")
		}
		for _, g := range p.Groups {
			line := fmt.Sprintf("%s (%s): %s", g.GroupID, g.Name, g.Action)
			if g.Shared {
				line += fmt.Sprintf(", shared with %s", strings.Join(g.SharedWith, ", "))
			}
			out = append(out, line)
			for _, r := range g.Add {
				out = append(out, "  + "+r.String())
			}
			for _, r := range g.Open {
				out = append(out, "  - "+r.String())
			}
		}
	case *ec2.RebuildPlan:
		src := "AMI " + p.ImageID
		if p.LaunchTemplate != nil {
			src = "launch template " + p.LaunchTemplate.ID + p.LaunchTemplate.Name
		}
		out = append(out, fmt.Sprintf("launch %s %s in %s with groups %v (token %s)", src, p.InstanceType, p.SubnetID, p.SecurityGroupIDs, p.ClientToken))
	case *ec2.AlarmsPlan:
		for _, a := range p.Alarms {
			out = append(out, fmt.Sprintf("%s: %s %s %s %g over %ds x%d", a.Name, a.Metric, a.Statistic, a.Comparison, a.Threshold, a.Period, a.EvaluationPeriods))
		}
	case *ec2.TerminatePlan:
		for _, s := range p.Covered {
			out = append(out, fmt.Sprintf("%s %s covered by %s", s.Device, s.VolumeID, s.SnapshotID))
		}
	}
	switch r := result.(type) {
	case *ec2.ContainUndo:
		out = append(out, fmt.Sprintf("undo record: %d instance(s), %d group(s) created", len(r.Instances), len(r.CreatedGroups)))
	case []ec2.CompletedSnapshots:
		for _, cs := range r {
			s := cs.Set()
			for _, v := range s.Snapshots {
				out = append(out, fmt.Sprintf("%s %s -> %s %s", s.InstanceID, v.Device, v.SnapshotID, v.State))
			}
			if s.ImageID != "" {
				out = append(out, s.InstanceID+": forensic AMI "+s.ImageID)
			}
		}
	case *ec2.HardenResult:
		for o, n := range r.Groups {
			out = append(out, fmt.Sprintf("%s -> %s", o, n))
		}
	case *ec2.RebuildResult:
		out = append(out, fmt.Sprintf("replacement %s %s, status checks %s/%s", r.InstanceID, r.State, r.InstanceStatus, r.SystemStatus))
	case *ec2.TerminateResult:
		out = append(out, fmt.Sprintf("%s %s -> %s", r.InstanceID, r.PreviousState, r.CurrentState))
	}
	return out
}

func runSteps(ctx context.Context, f *flags, stdout, stderr io.Writer) error {
	var cfg aws.Config
	if f.demo {
		srv, victim, err := startDemo()
		if err != nil {
			return err
		}
		defer srv.Close()
		cfg = srv.Config()
		if f.instance == "" {
			f.instance = victim
		}
		if f.incident == "" {
			f.incident = "demo-case-0001"
		}
		if f.abuseTime == "" {
			f.abuseTime = "2026-11-24T03:12:00Z"
		}
		if f.adminCIDRs == "" {
			f.adminCIDRs = "198.51.100.0/24"
		}
		f.dwell = min(f.dwell, 100*time.Millisecond)
	} else {
		var opts []func(*config.LoadOptions) error
		if f.region != "" {
			opts = append(opts, config.WithRegion(f.region))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return fmt.Errorf("load AWS config: %w", err)
		}
	}
	if f.instance == "" || f.incident == "" {
		return errors.New("-instance and -incident are required (or -demo)")
	}
	inc := ec2.Incident{ID: f.incident}
	if f.abuseTime != "" {
		t, err := time.Parse(time.RFC3339, f.abuseTime)
		if err != nil {
			return fmt.Errorf("-abuse-time: %w", err)
		}
		inc.AbuseTime = t
	}
	var ports []int32
	for _, p := range splitList(f.ports) {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("-ports: %q: %w", p, err)
		}
		ports = append(ports, int32(n))
	}
	c := ec2.New(cfg, func(o *ec2.ClientOptions) {
		if f.endpoint != "" {
			o.EC2 = append(o.EC2, func(x *awsec2.Options) { x.BaseEndpoint = aws.String(f.endpoint) })
			o.AutoScaling = append(o.AutoScaling, func(x *autoscaling.Options) { x.BaseEndpoint = aws.String(f.endpoint) })
			o.ELBv2 = append(o.ELBv2, func(x *elbv2.Options) { x.BaseEndpoint = aws.String(f.endpoint) })
			o.CloudWatch = append(o.CloudWatch, func(x *cloudwatch.Options) { x.BaseEndpoint = aws.String(f.endpoint) })
		}
	})
	opts := []ec2.Option{ec2.WithMaxWait(f.maxWait), ec2.WithDwell(f.dwell), ec2.WithLogger(slog.New(slog.DiscardHandler))}
	if f.demo {
		opts = append(opts, ec2.WithPoll(50*time.Millisecond, 200*time.Millisecond))
	}
	p := &printer{w: stdout, json: f.jsonOut, dry: !f.apply, live: isTerminal(stderr)}
	opts = append(opts, ec2.WithProgress(func(pr ec2.Progress) { p.progress(stderr, pr) }))

	// 1. Contain.
	cplan, err := ec2.PlanContain(ctx, c, ec2.ContainInput{Incident: inc, InstanceIDs: []string{f.instance}}, opts...)
	if err != nil {
		return err
	}
	var original []string
	for _, e := range cplan.Instances[0].Interfaces {
		original = append(original, e.Groups...)
	}
	var undo *ec2.ContainUndo
	if f.apply {
		dir := f.stateDir
		if dir == "" && f.demo {
			tmp, err := os.MkdirTemp("", "snapshot-rebuild-state-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		if dir, err = ec2plugin.StateDir(dir); err != nil {
			return err
		}
		store, err := ec2.NewFileContainStore(dir)
		if err != nil {
			return err
		}
		undo, err = ec2.ApplyContain(ctx, c, cplan, append(opts, ec2.WithContainStore(store))...)
		if err != nil {
			_ = p.step("contain", cplan, undo, "failed part-way; the undo record lists what changed")
			return err
		}
		if g := undo.OriginalGroups(f.instance); len(g) > 0 {
			original = g
		}
	}
	if err := p.step("contain", cplan, undo, ""); err != nil {
		return err
	}

	// 2. Snapshot.
	splan, err := ec2.PlanSnapshot(ctx, c, ec2.SnapshotInput{Incident: inc, InstanceIDs: []string{f.instance}, RegisterImage: f.image}, opts...)
	if err != nil {
		return err
	}
	var sets []ec2.CompletedSnapshots
	if f.apply {
		if sets, err = ec2.ApplySnapshot(ctx, c, splan, opts...); err != nil {
			return err
		}
	}
	if err := p.step("snapshot", splan, resultOrNil(f.apply, sets), ""); err != nil {
		return err
	}

	// 3. Harden the original groups (the old instance sits in quarantine,
	// so copies are not swapped onto it; the replacement gets them).
	hplan, err := ec2.PlanHarden(ctx, c, ec2.HardenInput{Incident: inc, GroupIDs: original, Ports: ports, AdminCIDRs: splitList(f.adminCIDRs), InPlace: f.inPlace})
	if err != nil {
		return err
	}
	hardened := original
	var hres *ec2.HardenResult
	if f.apply {
		if hres, err = ec2.ApplyHarden(ctx, c, hplan); err != nil {
			return err
		}
		hardened = hres.Hardened(original)
	}
	if err := p.step("harden", hplan, hres, ""); err != nil {
		return err
	}

	// 4. Rebuild.
	rin := ec2.RebuildInput{Incident: inc, InstanceID: f.instance, ImageID: f.ami, SecurityGroupIDs: hardened}
	if f.launchTemplate != "" {
		rin.LaunchTemplate = &ec2.LaunchTemplateRef{Name: f.launchTemplate}
		if strings.HasPrefix(f.launchTemplate, "lt-") {
			rin.LaunchTemplate = &ec2.LaunchTemplateRef{ID: f.launchTemplate}
		}
	}
	note := ""
	if !f.apply {
		rin.AllowOpenGroups = true // the groups are hardened before launch when applying
		note = "security groups shown before hardening; the replacement gets the hardened ones"
	}
	rplan, err := ec2.PlanRebuild(ctx, c, rin)
	if err != nil {
		return err
	}
	var rres *ec2.RebuildResult
	target := f.instance
	if f.apply {
		if rres, err = ec2.ApplyRebuild(ctx, c, rplan, opts...); err != nil {
			return err
		}
		target = rres.InstanceID
	}
	if err := p.step("rebuild", rplan, rres, note); err != nil {
		return err
	}

	// 5. Alarms on the replacement.
	aplan, err := ec2.PlanAlarms(ctx, c, ec2.AlarmsInput{Incident: inc, InstanceID: target, SNSTopicARN: f.sns})
	if err != nil {
		return err
	}
	note = ""
	if !f.apply {
		note = "shown for the old instance id; applied to the replacement"
	} else if err := ec2.ApplyAlarms(ctx, c, aplan); err != nil {
		return err
	}
	if err := p.step("alarms", aplan, nil, note); err != nil {
		return err
	}

	// 6. Terminate the old instance, only against verified snapshots.
	if f.terminate {
		if !f.apply {
			return p.step("terminate", nil, nil, "after the snapshots complete; coverage of every attached volume is re-verified before any call")
		}
		tplan, err := ec2.PlanTerminate(ctx, c, sets[0])
		if err != nil {
			return err
		}
		tres, err := ec2.Terminate(ctx, c, sets[0], opts...)
		if err != nil {
			return err
		}
		return p.step("terminate", tplan, tres, "")
	}
	return nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return (r.Kind() == reflect.Pointer || r.Kind() == reflect.Slice) && r.IsNil()
}

func resultOrNil(apply bool, sets []ec2.CompletedSnapshots) any {
	if !apply {
		return nil
	}
	return sets
}

// startDemo starts the emulator with the seed incident: a security group
// open to the world on all traffic (and 443), an instance with a root and
// a data volume in it, behind a target group, and a neighbour sharing the
// group.
func startDemo() (*ec2test.Server, string, error) {
	srv := ec2test.NewServer(ec2test.WithSnapshotDelay(500*time.Millisecond), ec2test.WithInstanceDelays(200*time.Millisecond, 0, 200*time.Millisecond),
		ec2test.WithStatusCheckDelay(300*time.Millisecond))
	sg, err := srv.AddSecurityGroup("launch-wizard-1", "launch-wizard-1 created 2026-01-05", "",
		ec2test.Rule{Protocol: "-1", CIDR: "0.0.0.0/0"},
		ec2test.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"})
	if err != nil {
		srv.Close()
		return nil, "", err
	}
	ids, err := srv.AddInstances(2, ec2test.InstanceSpec{SecurityGroupIDs: []string{sg}, KeyName: "ops",
		DataVolumes: map[string]int32{"/dev/sdf": 20}, Tags: map[string]string{"Name": "web-1"}})
	if err != nil {
		srv.Close()
		return nil, "", err
	}
	if _, err := srv.AddTargetGroup("web", 80, ids[0]); err != nil {
		srv.Close()
		return nil, "", err
	}
	return srv, ids[0], nil
}
