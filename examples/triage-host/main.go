// Command triage-host finds the process behind an abuse report on this host
// and, when told to, stops it without losing evidence.
//
//	triage-host                          # suspects, one snapshot, human table
//	triage-host -window 5s -json         # sample 5 s; {"v":1,"type":"result","prog":"triage-host","kind":"suspects","data":{"suspects":[…]}}
//	triage-host -watch                   # live: print each process crossing 50 connection attempts/s, and miners
//	triage-host -report notice.eml       # correlate with the report's evidence
//	triage-host -report notice.eml -instance-addrs 172.31.5.9  # EC2: the private address behind the reported public one
//	triage-host -stop 4242               # show the plan to stop pid 4242 (dry run)
//	triage-host -stop 4242 -start-ticks 990000   # only if it is still the process detect listed
//	triage-host -stop 4242 -apply -evidence /var/lib/abusekit/evidence/case-1
//	triage-host -stop 4242 -tree         # with the shell loop or parent that respawns it
//
// Errors go to stderr and the exit status is non-zero.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/plugins/scan"
)

// detect is scan.DetectAll; tests replace it to see the options the flags
// make.
var detect = scan.DetectAll

// runWatch prints every process whose outbound connection attempts cross
// rate (per second, spread over 5 or more ports or hosts), or its packets
// from raw sockets or its new UDP destinations do, as soon as they do,
// once per process (again when the rate grows tenfold); and every process
// whose TCP send speaks stratum (a miner), once; until ctx is done or for
// has passed.
func runWatch(ctx context.Context, w io.Writer, rate float64, dur time.Duration, jsonOut bool, log *slog.Logger) error {
	if dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dur)
		defer cancel()
	}
	if !jsonOut {
		fmt.Fprintf(w, "watching outbound connection attempts (BPF); listing processes above %.0f/s\n", rate)
	}
	enc := json.NewEncoder(cli.Lines(w, prog, cli.TypeEvent, "watch"))
	shown := map[[2]int]bool{} // pid, and the rate's power of ten: shown again when it grows tenfold
	miners := map[int]bool{}
	return scan.Watch(ctx, scan.WatchOptions{Interval: 500 * time.Millisecond, Logger: log}, func(rs []scan.ConnRate) {
		for _, r := range rs {
			connects := r.PerSecond >= rate && (r.Ports >= 5 || r.Destinations >= 5)
			raw := r.RawPerSecond >= rate
			secs := r.Until.Sub(r.Since).Seconds()
			udpRate := 0.0
			if secs > 0 {
				udpRate = float64(r.UDPDestinations) / secs
			}
			udp := udpRate >= rate
			miner := r.Stratum != "" && !miners[r.PID]
			if !connects && !raw && !udp && !miner {
				continue
			}
			key := [2]int{r.PID, len(fmt.Sprintf("%.0f", max(r.PerSecond, r.RawPerSecond, udpRate)))}
			if shown[key] && !miner {
				continue
			}
			shown[key] = true
			if miner {
				miners[r.PID] = true
			}
			if jsonOut {
				enc.Encode(r)
				continue
			}
			if connects {
				fmt.Fprintf(w, "%s pid %d (%s): %.0f connection attempts/s to %d port(s) on %d host(s), e.g. %s (%d refused, %d unanswered, %d answered)\n",
					r.Until.UTC().Format(time.RFC3339), r.PID, r.Comm, r.PerSecond, r.Ports, r.Destinations, r.Example, r.Refused, r.Unanswered, r.Answered)
			}
			if udp {
				fmt.Fprintf(w, "%s pid %d (%s): UDP to %.0f new destinations/s (%d datagrams), e.g. %s\n",
					r.Until.UTC().Format(time.RFC3339), r.PID, r.Comm, udpRate, r.UDPDatagrams, r.UDPExample)
			}
			if miner {
				fmt.Fprintf(w, "%s pid %d (%s): speaks stratum (%q) to %s: a miner talking to its pool\n",
					r.Until.UTC().Format(time.RFC3339), r.PID, r.Comm, r.Stratum, r.StratumPeer)
			}
			if raw {
				kind := "raw IP"
				if r.FromPacketSocket {
					kind = "AF_PACKET"
				}
				fmt.Fprintf(w, "%s pid %d (%s): %.0f packets/s sent from %s sockets (hand-built packets)\n",
					r.Until.UTC().Format(time.RFC3339), r.PID, r.Comm, r.RawPerSecond, kind)
			}
		}
	})
}

const prog = "triage-host"

func main() {
	// Exit status, errors and -json follow internal/cli.
	os.Exit(cli.Exit(prog, os.Args[1:], os.Stdout, os.Stderr, run(os.Args[1:], os.Stdout, os.Stderr)))
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet(prog, flag.ContinueOnError)
	fl.SetOutput(stderr)
	jsonOut := fl.Bool("json", false, "print JSON on stdout")
	window := fl.Duration("window", 0, "sampling window for connect rates and CPU (0 = one snapshot)")
	watch := fl.Bool("watch", false, "keep watching outbound connection attempts, raw/packet socket sends and UDP live (BPF) and print each process as soon as it crosses -watch-rate, and each process speaking stratum (a miner)")
	watchRate := fl.Float64("watch-rate", 50, "with -watch: connection attempts/s (spread over 5 or more ports or hosts), packets/s sent from raw or packet sockets, or new UDP destinations/s, from which a process is printed")
	watchFor := fl.Duration("watch-for", 0, "with -watch: stop after this long (0 = until interrupted)")
	reportFile := fl.String("report", "", "abuse report to correlate with (mail, GuardDuty JSON, ARF, X-ARF, text)")
	stopPID := fl.Int("stop", 0, "plan stopping this PID (freeze, capture evidence, kill)")
	apply := fl.Bool("apply", false, "with -stop: carry the plan out (default: dry run)")
	evidence := fl.String("evidence", "", "with -stop: evidence directory (default /var/lib/abusekit/evidence/pid-PID-START)")
	mem := fl.Int64("mem", scan.DefaultMaxMemory, "with -stop: bytes of process memory to capture, anonymous memory, heap and stack first (negative = none)")
	tree := fl.Bool("tree", false, "with -stop: when the process has a supervisor (a shell loop, a parent respawning it), stop the supervisor's whole tree")
	startTicks := fl.Uint64("start-ticks", 0, "with -stop: refuse unless the process started at this tick (the suspect's start_ticks), so a reused PID is never stopped")
	instance := fl.String("instance-addrs", "", "comma-separated private addresses of this instance, matched as the report's source (on EC2 a report names the public IP)")
	root := fl.String("root", "/proc", "procfs mount point")
	minScore := fl.Int("min-score", scan.DefaultMinScore, "list processes scoring at least this (negative: any signal)")
	verbose := fl.Bool("v", false, "log progress to stderr")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return cli.Usagef("unexpected arguments %q", fl.Args())
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *stopPID != 0 {
		return runStop(ctx, stdout, *stopPID, *startTicks, *apply, *jsonOut, scan.StopOptions{
			Root: *root, EvidenceDir: *evidence, MaxMemory: memOpt(*mem), Supervisor: *tree, Logger: logger})
	}
	if *apply {
		return errors.New("-apply needs -stop PID")
	}
	if *watch {
		return runWatch(ctx, stdout, *watchRate, *watchFor, *jsonOut, logger)
	}
	if *window < 0 {
		return fmt.Errorf("-window %s: negative", *window)
	}
	opts := scan.Options{Root: *root, Window: *window, MinScore: *minScore, Logger: logger}
	for _, a := range strings.Split(*instance, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("-instance-addrs: %w", err)
		}
		opts.InstanceAddrs = append(opts.InstanceAddrs, ip)
	}
	if *reportFile != "" {
		rep, err := readReport(ctx, *reportFile)
		if err != nil {
			return err
		}
		opts.Report = rep
	}
	// Over a window on the live host, connection attempts are attributed
	// live with BPF where it runs (Detect does it); the output says how,
	// and why not when it could not.
	det, err := detect(ctx, opts)
	if err != nil {
		return err
	}
	sus, attribution := det.Suspects, ""
	if det.Attribution != nil {
		attribution = det.Attribution.String()
	}
	if sus == nil {
		sus = []scan.Suspect{}
	}
	if *jsonOut {
		return json.NewEncoder(cli.Lines(stdout, prog, cli.TypeResult, "suspects")).Encode(struct {
			Attribution string         `json:"attribution,omitempty"`
			Suspects    []scan.Suspect `json:"suspects"`
		}{attribution, sus})
	}
	if attribution != "" {
		fmt.Fprintf(stdout, "%s\n", attribution)
	}
	printSuspects(stdout, sus)
	return nil
}

// readReport parses a report file and merges what it holds into one
// report: every evidence record and address of every report in it.
func readReport(ctx context.Context, path string) (*abuse.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reps, err := abuse.Parse(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	if len(reps) == 0 {
		return nil, fmt.Errorf("report %s: no report found", path)
	}
	merged := reps[0]
	for _, r := range reps[1:] {
		merged.Evidence = append(merged.Evidence, r.Evidence...)
		merged.Resources.IPs = append(merged.Resources.IPs, r.Resources.IPs...)
		if merged.Kind == "" {
			merged.Kind = r.Kind
		}
	}
	return &merged, nil
}

func printSuspects(w io.Writer, sus []scan.Suspect) {
	if len(sus) == 0 {
		fmt.Fprintln(w, "no suspects")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tPID\tPPID\tUSER\tCPU%\tSOCKETS\tEXE\tCMDLINE")
	for _, s := range sus {
		exe := s.Exe
		if s.ExeDeleted {
			exe += " (deleted)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%.0f\t%d\t%s\t%s\n", s.Score, s.PID, s.PPID, s.User, s.CPUPercent, s.SocketCount, exe, trunc(strings.Join(s.Cmdline, " "), 60))
	}
	tw.Flush()
	for _, s := range sus {
		if s.PID == 0 {
			fmt.Fprintf(w, "\n%s:\n", s.Comm)
		} else {
			// The identity -stop checks: -start-ticks, and the executable.
			fmt.Fprintf(w, "\npid %d (%s), started %s, start ticks %d, exe %d:%d (dev:inode):\n",
				s.PID, s.Comm, s.StartTime.Format(time.RFC3339), s.StartTicks, s.ExeDev, s.ExeIno)
		}
		for _, r := range s.Reasons {
			fmt.Fprintf(w, "  %s\n", r)
		}
		if len(s.Parents) > 0 {
			var chain []string
			for _, p := range s.Parents {
				chain = append(chain, fmt.Sprintf("%d %s [%s]", p.PID, p.Comm, p.Kind))
			}
			fmt.Fprintf(w, "  parents: %s\n", strings.Join(chain, " <- "))
		}
		if s.Supervisor != nil {
			fmt.Fprintf(w, "  supervisor: pid %d (%s): %s; stop it with -stop %d -tree\n", s.Supervisor.PID, s.Supervisor.Comm, s.Supervisor.Why, s.PID)
		}
		remotes := map[netip.Addr]int{}
		for _, sk := range s.Sockets {
			if sk.Remote.IsValid() && !sk.Remote.Addr().IsUnspecified() {
				remotes[sk.Remote.Addr()]++
			}
		}
		if len(remotes) > 0 {
			fmt.Fprintf(w, "  remote hosts: %d (of %d sockets listed)\n", len(remotes), len(s.Sockets))
		}
	}
}

// memOpt maps the -mem flag to StopOptions.MaxMemory: 0 captures none
// there too.
func memOpt(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func runStop(ctx context.Context, w io.Writer, pid int, startTicks uint64, apply, jsonOut bool, so scan.StopOptions) error {
	plan, err := scan.PlanStop(ctx, pid, so)
	if err != nil {
		return err
	}
	// The identity checked is the process asked for (with -tree the
	// target is its supervisor, and it is in the tree).
	asked := plan.Target
	for _, t := range plan.Tree {
		if t.PID == pid {
			asked = t
		}
	}
	if startTicks != 0 && asked.StartTime != startTicks {
		return fmt.Errorf("%w: pid %d started at tick %d, not %d", scan.ErrIdentityChanged, pid, asked.StartTime, startTicks)
	}
	res, err := scan.Stop(ctx, plan, scan.ApplyOptions{Apply: apply, Logger: so.Logger})
	if jsonOut {
		if jerr := json.NewEncoder(cli.Lines(w, prog, cli.TypeResult, "stop")).Encode(res); jerr != nil {
			return jerr
		}
		return err
	}
	fmt.Fprintf(w, "plan to stop pid %d (%s, exe %s, start ticks %d, exe %d:%d):\n", plan.Target.PID, plan.Target.Comm, plan.Target.Exe,
		plan.Target.StartTime, plan.Target.ExeDev, plan.Target.ExeIno)
	for i, s := range plan.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	for _, wn := range plan.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	if startTicks == 0 {
		fmt.Fprintf(w, "identity (no -start-ticks given): taken from this fresh plan; Stop refuses if it changes before the kill\n")
	}
	if err != nil {
		return err
	}
	if res.DryRun {
		fmt.Fprintln(w, "dry run: nothing done; add -apply to carry it out")
		return nil
	}
	fmt.Fprintf(w, "frozen %v, killed %v\nevidence: %s\nmanifest: %s\n", res.Frozen, res.Killed, res.EvidenceDir, res.Manifest)
	for _, wn := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	return nil
}
