// Command respond answers a port-scan abuse report end to end with the
// playbook in respond.yaml, every step served by a built-in plugin out of
// process, in the order AWS's incident response guidance gives for a
// compromised EC2 instance: parse the report; contain the instance and
// snapshot its volumes before anything on it changes; then on the host
// find the process behind the report and freeze, capture and kill it, and
// quarantine the malware's persistence; close the world-open security
// group rules, launch a clean replacement with alarms, terminate the old
// instance if asked (only once its snapshots completed); look again for
// the scanner later (the reinfection check); draft the reply to the
// provider and write it, with an incident report, to files.
//
//	respond -demo                  # plan it all against a demo incident: no AWS account, no root
//	respond -demo -apply           # carry it out on the demo incident and print the drafted reply
//	respond -report notice.eml -instance i-0abc… -stage-bucket B [-apply] [-terminate] [-recheck 10m]
//
// respond runs where the cloud credentials are (a workstation, a bastion);
// the cloud steps run here. The host steps (detect, stop, find, clean, the
// reinfection check) run on the instance, each Plan and Apply one process
// there (the plugin SDK's one-shot mode), through a transport (-transport):
//
//   - ssm (the default): SSM Run Command. This binary, or one for the
//     instance's platform (DescribeInstances: Graviton instances are
//     arm64) given with -host-binary OS/ARCH=PATH or cross-compiled with
//     the local Go toolchain, is staged in -stage-bucket and checked on the
//     instance against its SHA-256 before every command; outputs over Run
//     Command's 24,000 characters come back through that bucket, and the
//     stop step's evidence is PUT there by the instance and fetched and
//     hashed here. A command's key derives from incident, step, attempt and
//     input: a respond killed mid-command and run again waits for the
//     command it sent instead of sending it twice.
//   - ssh: -ssh-host, the host key checked against -known-hosts or
//     -ssh-fingerprint, never accepted blindly.
//   - local: on this machine, the default when this machine is the
//     instance (its DMI board asset tag is the instance ID) or when -root
//     is a mounted snapshot.
//
// Host steps never see cloud credentials on any transport. Each step's
// result says where it ran ("transport", and "command_id" for ssm), and
// the incident report's timeline lists them with every command sent.
//
// -demo builds the seed incident in a temporary directory: the provider's
// notice; an in-process emulator whose instance is a managed instance
// (its SSM agent runs the commands it is sent as processes on this
// machine), so that the host steps go over SSM Run Command as they would
// to a real instance; a real scanner process (work32, run from a deleted binary in a
// hidden tmp directory) whose SYNs to loopback listeners with full accept
// queues go unanswered, so its sockets sit in SYN_SENT as an infected
// instance's do and no packet leaves the machine; a Debian root with
// work32's crontab, binary and ssh key; and an in-process EC2 emulator
// holding the instance behind a security group open to the world. detect
// reads this machine's /proc but looks at the demo's scanner alone; stop
// freezes, captures and kills it.
//
// The stop step runs only on the live host (-proc /proc and -root /): with
// -root at a mounted snapshot nothing on this machine is stopped.
//
// By default it only plans. -apply acts. -json prints one JSON document per
// line on stdout: the plan, where the host steps run (host_steps), each
// event, the run, the reply and the files
// written. Errors go to stderr with exit status 1; bad usage exits 2.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/abuse/abuseplugin"
	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/abusekit/abusekit/plugins/persist/persistplugin"
	"github.com/abusekit/abusekit/plugins/scan/scanplugin"
)

//go:embed respond.yaml
var playbookYAML []byte

//go:embed demo/notice.eml
var demoFiles embed.FS

// inspectDemo, when set (by tests), sees the demo world after the run and
// before it is removed.
var inspectDemo func(*demo)

// builtins are the plugins this executable serves when a host re-executes
// it (a playbook step here, or one over SSM or SSH on the instance).
func builtins() map[string]func() plugin.Builtin {
	return map[string]func() plugin.Builtin{
		"abuse":   abuseplugin.NewBuiltin,
		"scan":    scanplugin.NewBuiltin,
		"persist": persistplugin.NewBuiltin,
		"ec2":     ec2plugin.NewBuiltin,
	}
}

func main() {
	// The demo's scanner is this executable too, run from a hidden tmp dir.
	serveDemoScanner()
	// Built-in plugins are this executable, re-executed by the host.
	plugin.ServeBuiltinIfPlugin(builtins())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	demo, apply, jsonOut, terminate, verbose bool
	yes, replan                              bool
	report, instance, root, proc             string
	endpoint, region, journal, evidence      string
	quarantine, adminCIDRs, incident         string
	instanceAddrs, since                     string
	out, planOut                             string
	recheck                                  time.Duration

	// Where the host steps run (see transport.go).
	transport, stageBucket, stageDir string
	installed                        string
	hostBinaries                     hostBinaries
	sshHost, sshUser, sshKey         string
	knownHosts, sshFingerprint       string
	ssmEndpointSGs, ssmPrefixLists   string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{hostBinaries: hostBinaries{}}
	fs := flag.NewFlagSet("respond", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.demo, "demo", false, "run on a demo incident (temporary tree and an in-process EC2 emulator)")
	fs.BoolVar(&c.apply, "apply", false, "act (default: plan only); a step whose inputs come from earlier steps is planned once they are known and shown and asked for again before it acts")
	fs.BoolVar(&c.yes, "yes", false, "with -apply: do not ask again for the steps planned during the run (the demo's default)")
	fs.BoolVar(&c.replan, "replan", false, "resume an incident whose playbook or inputs changed, re-planning the steps the change affects (default: refuse, naming what changed)")
	fs.BoolVar(&c.jsonOut, "json", false, "one JSON document per line on stdout")
	fs.BoolVar(&c.terminate, "terminate", false, "terminate the old instance once its snapshots are verified complete")
	fs.BoolVar(&c.verbose, "v", false, "log (plugins' logs included) to stderr")
	fs.StringVar(&c.report, "report", "", "the abuse report file")
	fs.StringVar(&c.instance, "instance", "", "EC2 instance to act on (default: the report's first)")
	fs.StringVar(&c.root, "root", "/", "root of the host's file system")
	fs.StringVar(&c.proc, "proc", "/proc", "procfs of the host (the live one to stop a process)")
	fs.StringVar(&c.endpoint, "endpoint", "", "AWS endpoint override for every service (an emulator)")
	fs.StringVar(&c.region, "region", "", "AWS region (default: the report's, else the SDK's)")
	fs.StringVar(&c.journal, "journal", "", "journal directory; a re-run of the same incident with the same one resumes (default: /var/lib/abusekit/journal as root, else $XDG_STATE_HOME/abusekit/journal, or under $ABUSEKIT_STATE_DIR; the demo's: a temporary one)")
	fs.StringVar(&c.planOut, "plan-out", "", "write the whole plan as JSON to this file")
	fs.StringVar(&c.evidence, "evidence", "", "evidence directory for the stopped process, on the host where stop runs (a copy comes back to the runner over ssm and ssh)")
	fs.StringVar(&c.quarantine, "quarantine", "", "quarantine directory for removed persistence (default: inside the root)")
	fs.StringVar(&c.instanceAddrs, "instance-addr", "", "comma-separated private addresses of the instance (the report names its public one)")
	fs.StringVar(&c.since, "since", "", "start of the incident window, RFC 3339: files and keys changed after it are suspect (default: 24h before the report's abuse time)")
	fs.StringVar(&c.adminCIDRs, "admin-cidr", "", "comma-separated CIDRs that keep SSH/RDP access when world-open rules close")
	fs.StringVar(&c.incident, "incident", "", "incident id (default: the report's case id)")
	fs.StringVar(&c.out, "out", "", "directory for reply.txt and incident-report.md (default: ./abusekit-INCIDENT; the demo's: a new temporary one)")
	fs.DurationVar(&c.recheck, "recheck", 10*time.Minute, "look for the scanner again this long after cleaning (the reinfection check); 0 skips it (the demo's default: 1s)")
	fs.StringVar(&c.transport, "transport", "", "where the host steps run: ssm (SSM Run Command; the default unless this machine is the instance), ssh, or local (this machine; the default on the instance itself or with -root at a mounted snapshot)")
	fs.Var(c.hostBinaries, "host-binary", "OS/ARCH=PATH: the abusekit binary to stage for instances of that platform (repeatable; default: this one when it matches, else cross-compiled with the local Go toolchain)")
	fs.StringVar(&c.stageBucket, "stage-bucket", "", "S3 bucket the binary is staged in and the host steps' outputs go to (-transport ssm)")
	fs.StringVar(&c.stageDir, "stage-dir", "", "where the instance keeps the staged binary (default /var/lib/abusekit/bin)")
	fs.StringVar(&c.installed, "installed", "", "the abusekit binary is already installed on the instance at this path: it is checked there against the SHA-256 of the binary for its platform (-host-binary, or this one) and not staged (-transport ssm)")
	fs.StringVar(&c.ssmEndpointSGs, "ssm-endpoint-sg", "", "comma-separated security groups of the VPC's SSM interface endpoints: contain lets the quarantined instance reach them (tcp 443) and nothing else (-transport ssm)")
	fs.StringVar(&c.ssmPrefixLists, "ssm-prefix-list", "", "comma-separated prefix lists of the SSM endpoints, as -ssm-endpoint-sg (-transport ssm)")
	fs.StringVar(&c.sshHost, "ssh-host", "", "HOST[:PORT] of the instance (-transport ssh)")
	fs.StringVar(&c.sshUser, "ssh-user", "ec2-user", "SSH login; not root: the host steps run with sudo -n")
	fs.StringVar(&c.sshKey, "ssh-key", "", "private key file for SSH")
	fs.StringVar(&c.knownHosts, "known-hosts", "", "known_hosts file the instance's host key is checked against")
	fs.StringVar(&c.sshFingerprint, "ssh-fingerprint", "", "the instance's host key fingerprint, SHA256:… as ssh-keygen -lf prints it")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if c.demo {
		c.yes = true
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "recheck" })
		if !set {
			c.recheck = time.Second
		}
	}
	if c.recheck < 0 {
		return nil, errors.New("-recheck: a duration, 0 to skip")
	}
	if fs.NArg() != 0 || (c.demo == (c.report != "")) {
		return nil, errors.New("usage: respond -demo [-apply] [-json] | respond -report FILE [-instance ID] [-root DIR] [-proc DIR] [-apply] [-terminate] [-json]")
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Exit status, errors and -json follow internal/cli.
	c, err := parseFlags(args, stderr)
	if err != nil {
		var ue *cli.UsageError
		if !errors.Is(err, flag.ErrHelp) && !errors.As(err, &ue) {
			err = &cli.UsageError{Err: err}
		}
		return cli.Exit("respond", args, stdout, stderr, err)
	}
	return cli.Exit("respond", args, stdout, stderr, respond(ctx, c, stdout, stderr))
}

func respond(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Only this machine's own processes can be stopped: examining a
	// mounted snapshot (-root) or another procfs (-proc) stops nothing.
	live := filepath.Clean(c.proc) == "/proc" && filepath.Clean(c.root) == "/"
	// The runner's state (journal, the quarantine manifests' key, contain's
	// saved configuration) lives outside any root being cleaned.
	stateDir := cli.StateDir()
	ec2Env := playbook.HostEnv(playbook.AWSEnv...)
	var rep abuse.Report
	pids := []any{}
	var static *[2]string // the demo's emulator credentials, for the runner's own clients
	attachDir := ""
	if c.demo {
		w, err := newDemo(ctx)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer func() {
			if inspectDemo != nil {
				inspectDemo(w)
			}
			w.Close()
		}()
		c.report, c.proc, c.root, c.instance, c.endpoint, c.region = w.report, w.proc, w.root, w.instance, w.endpoint, w.region
		c.evidence, c.quarantine = filepath.Join(w.dir, "evidence"), filepath.Join(w.dir, "quarantine")
		c.instanceAddrs = w.privateAddr
		c.since = w.since.Format(time.RFC3339)
		// The demo's scanner is a real process on this machine: detect
		// reads the live /proc, looking at that process alone, and stop
		// freezes, captures and kills it.
		live = true
		pids = []any{w.scan.PID()}
		c.terminate = true // the demo's own emulated instance, once its snapshots completed
		ec2Env = w.awsEnv
		stateDir = filepath.Join(w.dir, "state")
		rep = w.rep
		c.stageBucket, c.stageDir = w.bucket, filepath.Join(w.dir, "instance-stage")
		c.ssmEndpointSGs = w.ssmEndpointGroup
		static = &[2]string{ec2test.TestAccessKeyID, ec2test.TestSecretAccessKey}
		attachDir = filepath.Join(w.dir, "shipped")
	} else {
		var err error
		if rep, err = readReport(ctx, c.report); err != nil {
			return err
		}
	}
	if c.instance == "" {
		if len(rep.Resources.InstanceIDs) == 0 {
			return errors.New("the report names no EC2 instance: give -instance")
		}
		c.instance = rep.Resources.InstanceIDs[0]
	}
	if c.region == "" {
		c.region = rep.Resources.Region
	}
	if c.incident == "" {
		c.incident = rep.CaseID
	}
	var since any // null: no window
	switch {
	case c.since != "":
		t, err := time.Parse(time.RFC3339, c.since)
		if err != nil {
			return fmt.Errorf("-since: %w", err)
		}
		since = t.UTC().Format(time.RFC3339)
	case !rep.AbuseTime.IsZero():
		since = rep.AbuseTime.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	}
	if c.incident == "" {
		c.incident = "respond-" + time.Now().UTC().Format("20060102T150405")
	}
	switch {
	case c.journal != "":
	case c.demo: // the demo's world is new each run: nothing to resume
		dir, err := os.MkdirTemp("", "respond-journal-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.journal = dir
	default:
		c.journal = filepath.Join(stateDir, "journal")
	}
	stateEnv := "ABUSEKIT_STATE_DIR=" + stateDir
	ec2Plugin := playbook.Builtin("ec2", append(ec2Env, stateEnv)...)
	if attachDir == "" {
		attachDir = filepath.Join(stateDir, "evidence", safeName(c.incident))
	}
	hs, err := newHostSide(ctx, c, c.incident, static, filepath.Join(stateDir, "cache"), attachDir)
	if err != nil {
		return fmt.Errorf("host steps: %w", err)
	}
	scanPlugin, persistPlugin := playbook.Builtin("scan"), playbook.Builtin("persist", stateEnv)
	if hs.remote != nil {
		scanPlugin.Remote, persistPlugin.Remote = hs.remote, hs.remote
		if !c.demo {
			// The instance's own state directory, not this machine's.
			persistPlugin.Env = nil
		}
	}
	recheck := ""
	if c.recheck > 0 {
		recheck = c.recheck.String()
	}
	pb, err := playbook.Parse("respond.yaml", playbookYAML)
	if err != nil {
		return err
	}
	list := func(csv string) []any {
		var out []any
		for _, s := range strings.Split(csv, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	where := map[string]string{"scan": transportLocal, "persist": transportLocal}
	if hs.remote != nil {
		where["scan"], where["persist"] = hs.transport, hs.transport
	}
	out := newPrinter(stdout, c.jsonOut)
	asker := cli.New("respond", stdout, stderr, c.jsonOut) // the questions of -apply without -yes, on stderr
	tl := newTimeline()
	onEvent := func(e playbook.Event) {
		tl.event(e)
		out.event(e)
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident: c.incident,
		Inputs: map[string]any{
			"report": c.report, "proc": c.proc, "root": c.root, "live": live,
			"evidence_dir": c.evidence, "quarantine_dir": c.quarantine,
			"instance": c.instance, "endpoint": c.endpoint, "region": c.region,
			"admin_cidrs": list(c.adminCIDRs), "terminate": c.terminate, "instance_addrs": list(c.instanceAddrs), "since": since,
			"pids": pids, "recheck": recheck,
			"host_steps_over_ssm":    hs.transport == transportSSM,
			"ssm_endpoint_group_ids": list(c.ssmEndpointSGs), "ssm_prefix_list_ids": list(c.ssmPrefixLists),
		},
		Plugins: []playbook.PluginSpec{
			playbook.Builtin("abuse"), scanPlugin, persistPlugin, ec2Plugin,
		},
		JournalDir: c.journal,
		Logger:     logger,
		OnEvent:    onEvent,
		Replan:     c.replan,
		// -apply approves the plan shown; a step planned during the run is
		// shown when its inputs are known and asked for again (-yes: not).
		ApproveStep: func(ctx context.Context, sp *playbook.StepPlan) (bool, error) {
			out.stepPlan(sp, where)
			if c.yes {
				return true, nil
			}
			return asker.Ask(ctx, os.Stdin, fmt.Sprintf("apply step %s?", sp.Step))
		},
	})
	if err != nil {
		return err
	}
	defer r.Close()
	plan, err := r.Plan(ctx)
	if err != nil {
		return err
	}
	out.plan(plan, c.demo, where)
	out.hostSide(hs, c.instance)
	if c.planOut != "" {
		b, err := json.MarshalIndent(plan, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.planOut, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("-plan-out: %w", err)
		}
	}
	if !c.demo {
		out.note(fmt.Sprintf("journal: %s (run again with -incident %s to resume)", c.journal, c.incident))
	}
	if !c.apply {
		out.note("dry run: nothing changed (-apply acts)")
		return nil
	}
	res, err := r.Apply(ctx, plan)
	if res != nil {
		out.run(res)
	}
	if err != nil {
		return err
	}
	reply, err := draftReply(rep, res, tl.finished)
	if err != nil {
		return err
	}
	out.reply(reply)
	dir := c.out
	switch {
	case dir != "":
	case c.demo:
		if dir, err = os.MkdirTemp("", "abusekit-demo-"+safeName(c.incident)+"-"); err != nil {
			return err
		}
	default:
		dir = "abusekit-" + safeName(c.incident)
	}
	scope := ""
	if len(pids) > 0 {
		scope = fmt.Sprintf("processes %v only", pids)
	}
	var calls []playbook.RemoteCall
	if hs.remote != nil {
		calls = hs.remote.Calls()
	}
	files, err := writeReport(dir, rep, reply, res, tl, scope, hs, calls)
	if err != nil {
		return err
	}
	out.files(files)
	return nil
}

func readReport(ctx context.Context, path string) (abuse.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return abuse.Report{}, err
	}
	defer f.Close()
	reps, err := abuse.Parse(ctx, f)
	if err != nil {
		return abuse.Report{}, fmt.Errorf("%s: %w", path, err)
	}
	return reps[0], nil
}

// printer writes the human view or JSON lines.
type printer struct {
	w    io.Writer
	json bool
	enc  *json.Encoder
}

func newPrinter(w io.Writer, jsonOut bool) *printer {
	return &printer{w: w, json: jsonOut, enc: json.NewEncoder(w)}
}

// doc writes one -json document in internal/cli's envelope: the plan
// (type plan), an event (type event, kind its kind), a note (type info),
// or an outcome (type result: kind run, reply or files).
func (p *printer) doc(kind string, v any) {
	t, k := cli.TypeResult, kind
	switch kind {
	case "plan":
		t = cli.TypePlan
	case "event":
		t = cli.TypeEvent
		if e, ok := v.(playbook.Event); ok {
			k = string(e.Kind)
		}
	case "note":
		t = cli.TypeInfo
	}
	_ = cli.New("respond", p.w, io.Discard, true).Emit(t, k, v)
}

func (p *printer) note(s string) {
	if p.json {
		p.doc("note", cli.Message{Message: s})
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *printer) plan(plan *playbook.Plan, demo bool, where map[string]string, stepsOnly ...bool) {
	if p.json {
		p.doc("plan", plan)
		return
	}
	if len(stepsOnly) == 0 {
		fmt.Fprintf(p.w, "plan for incident %s (%s)\n", plan.Incident, plan.Playbook)
	}
	for _, s := range plan.Steps {
		fmt.Fprintf(p.w, "  %-9s %-7s %-5s %-9s %s\n", s.Step, s.Plugin, firstNonEmpty(where[s.Plugin], transportLocal), s.Status, printable(firstNonEmpty(s.Summary, s.Reason)))
		for i, ch := range s.Changes {
			if i == 8 {
				fmt.Fprintf(p.w, "              … and %d more (-plan-out FILE writes the whole plan)\n", len(s.Changes)-i)
				break
			}
			fmt.Fprintf(p.w, "              %s %s %s\n", ch.Kind, printable(ch.Target), printable(ch.Detail))
		}
	}
	if demo {
		fmt.Fprintln(p.w, "  (demo: the scanner is a real process this demo started; detect looks at it alone, stop freezes, captures and kills it)")
	}
}

// stepPlan shows the plan of a step planned during the run (with -json,
// the step_planned event carries it).
func (p *printer) stepPlan(sp *playbook.StepPlan, where map[string]string) {
	if p.json {
		return
	}
	fmt.Fprintf(p.w, "planned now that its inputs are known:\n")
	p.plan(&playbook.Plan{Steps: []playbook.StepPlan{*sp}}, false, where, true)
}

// hostSide says where the host steps run.
func (p *printer) hostSide(hs *hostSide, instance string) {
	if p.json {
		p.doc("host_steps", map[string]any{"transport": hs.transport, "instance": instance, "platform": hs.platform.String(),
			"binary": hs.binary, "binary_sha256": hs.sha256})
		return
	}
	switch hs.transport {
	case transportLocal:
		fmt.Fprintln(p.w, "host steps (detect, stop, find, clean, recheck): on this machine (-transport local)")
	default:
		fmt.Fprintf(p.w, "host steps (detect, stop, find, clean, recheck): on %s over %s, binary for %s staged with sha256 %s\n", instance, hs.transport, hs.platform, hs.sha256)
		if hs.transport == transportSSM && !hs.ssmEgress {
			fmt.Fprintln(p.w, "  note: no -ssm-endpoint-sg or -ssm-prefix-list: contain's quarantine group allows no egress, SSM endpoints included, so on AWS the host steps wait for an agent that cannot reach SSM (contain's plan says so too)")
		}
	}
}

func (p *printer) files(f reportFiles) {
	if p.json {
		p.doc("files", f)
		return
	}
	fmt.Fprintf(p.w, "\nwrote %s\n      %s\n", f.Reply, f.Report)
}

func (p *printer) event(e playbook.Event) {
	if p.json {
		p.doc("event", e)
		return
	}
	if e.Step != "" && e.Message != "" {
		fmt.Fprintf(p.w, "  [%s] %s\n", e.Step, printable(e.Message))
	}
}

func (p *printer) run(res *playbook.Run) {
	if p.json {
		p.doc("run", res)
		return
	}
	fmt.Fprintf(p.w, "run %s: %s in %s\n", res.Incident, res.Status, res.Duration.Round(time.Millisecond))
	for _, s := range res.Steps {
		line := fmt.Sprintf("  %-9s %-9s", s.ID, s.Status)
		if s.Transport != "" {
			line += " " + s.Transport
		}
		if s.CommandID != "" {
			line += " command " + s.CommandID
		}
		if s.Error != "" {
			line += " " + printable(s.Error)
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *printer) reply(r abuse.Reply) {
	if p.json {
		p.doc("reply", r)
		return
	}
	fmt.Fprintf(p.w, "\n---- reply to the provider ----\nSubject: %s\n\n%s", r.Subject, r.Text)
}

// printable is s with control characters shown as \xNN: what a plan, a
// progress message or an error says comes from the host being cleaned,
// and must not drive the operator's terminal (escape sequences).
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
