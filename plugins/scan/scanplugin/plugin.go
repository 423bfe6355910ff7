// Package scanplugin serves plugins/scan as abusekit plugin actions
// (playbook/plugin): "detect" and "stop". It only converts between the
// typed API and requests; the logic lives in package scan. Importing it
// registers scan's sentinel errors, so that errors.Is works on the host for
// an error a plugin returned.
package scanplugin

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/scan"
)

func init() {
	plugin.RegisterError("scan.protected_pid", scan.ErrProtectedPID)
	plugin.RegisterError("scan.kernel_thread", scan.ErrKernelThread)
	plugin.RegisterError("scan.self_or_ancestor", scan.ErrSelfOrAncestor)
	plugin.RegisterError("scan.identity_changed", scan.ErrIdentityChanged)
	plugin.RegisterError("scan.process_gone", scan.ErrProcessGone)
	plugin.RegisterError("scan.not_live", scan.ErrNotLive)
}

// DetectInput is the input of "detect".
type DetectInput struct {
	Root     string        `json:"root,omitempty" schema:"default=/proc" description:"procfs mount point to read; only the live /proc is watched with BPF and read through netlink"`
	Window   string        `json:"window,omitempty" description:"how long to watch connection attempts and CPU, a Go duration (\"5s\"); empty or \"0\" takes one snapshot"`
	MinScore int           `json:"min_score,omitempty" schema:"default=30" description:"score from which a process is listed (0: the default); negative lists every process with any signal"`
	Report   *abuse.Report `json:"report,omitempty" description:"the parsed abuse report (abuse parse's reports[0]) whose evidence, addresses and ports weigh most; absent: behaviour only"`
	// InstanceAddrs are the instance's private addresses when the report
	// names its public one (EC2): see scan.Options.InstanceAddrs.
	InstanceAddrs []netip.Addr `json:"instance_addrs,omitempty" description:"the instance's own addresses as its sockets show them (on EC2 the private addresses behind the reported public IP), matched like the report's source addresses"`
	// PIDs, when given, limits the suspects to these processes (a
	// responder who already knows the PID; the demo's own scanner).
	PIDs []int `json:"pids,omitempty" description:"only list these processes (still scored and subject to min_score); empty: every process"`
	// Delay waits this long before looking ("10m"): the reinfection
	// check, run after the host was cleaned.
	Delay string `json:"delay,omitempty" description:"wait this long before looking, a Go duration up to 24h (\"10m\": the reinfection check after cleaning); empty: at once"`
	// NoBPF samples the window instead of watching it live with BPF
	// (scan.Options.NoBPF): on a host that audits BPF loads.
	NoBPF bool `json:"no_bpf,omitempty" description:"never load BPF programs (no audit trace): sample the window and read descriptors from /proc instead"`
}

// DetectOutput is the output of "detect": suspects, top first, and, for a
// window on the live host, how it was watched: live with BPF (connection
// attempts, raw packets, UDP, stratum) or sampled, and why.
type DetectOutput struct {
	Suspects    []scan.Suspect    `json:"suspects" description:"processes scoring at least min_score, highest score first; empty when none"`
	Attribution *scan.Attribution `json:"attribution,omitempty" description:"for a window on the live host: whether it was watched live with BPF or sampled, and why; absent for one snapshot"`
}

// StopInput is the input of "stop". What was approved is a process, not a
// PID: StartTicks (detect's suspect's start_ticks) is required, and must
// match the process's start time at plan and at apply, so the step never
// acts on a later process that got the same PID. ExeDev and ExeIno (the
// suspect's exe_dev and exe_ino), when given, must match its executable
// too. Force acts on whatever process has the PID when planned.
//
//	input:
//	  pid: ${{ steps.detect.suspects[0].pid }}
//	  start_ticks: ${{ steps.detect.suspects[0].start_ticks }}
//	  exe_dev: ${{ steps.detect.suspects[0].exe_dev }}
//	  exe_ino: ${{ steps.detect.suspects[0].exe_ino }}
type StopInput struct {
	PID         int    `json:"pid" schema:"required" description:"the process to stop (detect's suspects[].pid); must be positive"`
	StartTicks  uint64 `json:"start_ticks,omitempty" description:"the process's start time in clock ticks after boot (detect's suspects[].start_ticks), checked at plan and apply; required unless force"`
	ExeDev      uint64 `json:"exe_dev,omitempty" description:"device of the process's executable (detect's suspects[].exe_dev), checked with exe_ino when either is non-zero"`
	ExeIno      uint64 `json:"exe_ino,omitempty" description:"inode of the process's executable (detect's suspects[].exe_ino), checked with exe_dev when either is non-zero"`
	Force       bool   `json:"force,omitempty" description:"stop whatever process has pid when planned, without start_ticks"`
	Root        string `json:"root,omitempty" schema:"default=/proc" description:"procfs mount point; stop acts only on the live one"`
	EvidenceDir string `json:"evidence_dir,omitempty" description:"new or empty directory for the evidence and its SHA-256 manifest; empty: /var/lib/abusekit/evidence/<incident>/pid-<pid>-<start_ticks>"`
	MaxMemory   int64  `json:"max_memory,omitempty" description:"bytes of the tree's readable memory regions to copy; 0: 64 MiB, negative: none"`
	MaxEvidence int64  `json:"max_evidence,omitempty" description:"bytes of evidence written in all, lowered to the free space; 0 or negative: 1 GiB"`
	NoTree      bool   `json:"no_tree,omitempty" description:"freeze and kill only the process, not its descendants"`
	Supervisor  bool   `json:"supervisor,omitempty" description:"when the process has a supervisor (a shell loop, or a parent that respawned it), stop the supervisor's whole tree, the process included (triage-host -tree); without it the plan warns that the supervisor would start it again"`
	Freezer     string `json:"freezer,omitempty" schema:"enum=|cgroup-v2|sigstop" description:"how the tree is frozen before capture: cgroup-v2 (a freezer cgroup) or sigstop; empty: cgroup-v2 where the host has it, else sigstop"`
}

// StopOutput is the output of "stop".
type StopOutput struct {
	Result scan.StopResult `json:"result" description:"what was frozen, captured and killed, with the plan it followed"`
}

// NewPlugin returns the actions.
func NewPlugin() plugin.Actions {
	return plugin.Actions{
		"detect": plugin.NewAction("find the processes behind an abuse report (sockets, behaviour, report evidence); read-only",
			func(ctx context.Context, req plugin.PlanRequest[DetectInput], resp *plugin.PlanResponse) error {
				if _, err := detectOptions(req.Input); err != nil {
					return err
				}
				resp.Summary = "read-only: score the processes and sockets of " + orDefault(req.Input.Root, "/proc")
				if req.Input.Delay != "" {
					resp.Summary += " after " + req.Input.Delay
				}
				if len(req.Input.PIDs) > 0 {
					resp.Summary += fmt.Sprintf(" (only pids %v)", req.Input.PIDs)
				}
				if o, _ := detectOptions(req.Input); o.Window > 0 {
					if req.Input.NoBPF {
						resp.Summary += fmt.Sprintf("; sampling for %s (no BPF)", o.Window)
					} else {
						resp.Summary += fmt.Sprintf("; watching %s live with BPF where the kernel allows (loads BPF programs), else sampling", o.Window)
					}
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[DetectInput], resp *plugin.ApplyResponse[DetectOutput]) error {
				o, err := detectOptions(req.Input)
				if err != nil {
					return err
				}
				o.Logger = req.Logger
				if d, _ := time.ParseDuration(req.Input.Delay); d > 0 {
					req.Progress.Report(fmt.Sprintf("waiting %s before looking again", d), 0, 0)
					t := time.NewTimer(d)
					select {
					case <-ctx.Done():
						t.Stop()
						return ctx.Err()
					case <-t.C:
					}
				}
				det, err := scan.DetectAll(ctx, o)
				sus := det.Suspects
				if a := det.Attribution; a != nil {
					resp.Output.Attribution = a
					req.Progress.Report(a.String(), 0, 0)
					if !a.Live {
						req.Logger.Warn("scan: window sampled, not watched live", "why", a.Why)
					}
				}
				if len(req.Input.PIDs) > 0 {
					keep := sus[:0]
					for _, s := range sus {
						if slices.Contains(req.Input.PIDs, s.PID) {
							keep = append(keep, s)
						}
					}
					sus = keep
				}
				if sus == nil {
					sus = []scan.Suspect{}
				}
				resp.Output.Suspects = sus
				return err
			}, plugin.FieldDocs(detectInputDocs, detectOutputDocs)),
		"stop": plugin.NewAction("freeze a process tree, capture its evidence with a SHA-256 manifest, re-check its identity, kill it",
			func(ctx context.Context, req plugin.PlanRequest[StopInput], resp *plugin.PlanResponse) error {
				plan, err := planStop(ctx, req.Input, req.Incident)
				if err != nil {
					return err
				}
				resp.Summary = fmt.Sprintf("stop pid %d (%s) and %d descendant(s); evidence into %s", plan.Target.PID, plan.Target.Comm, len(plan.Tree), plan.EvidenceDir)
				resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: plan.EvidenceDir, Detail: "evidence and manifest.json"})
				for _, id := range append([]scan.Identity{plan.Target}, plan.Tree...) {
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeDelete, Target: fmt.Sprintf("pid %d", id.PID),
						Detail: fmt.Sprintf("%s (%s), frozen with %s, then SIGKILL", id.Comm, id.Exe, plan.Freeze)})
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[StopInput], resp *plugin.ApplyResponse[StopOutput]) error {
				plan, err := planStop(ctx, req.Input, req.Incident)
				if err != nil {
					return err
				}
				plan.Options.Logger = req.Logger
				req.Progress.Report("freezing and capturing", 0, 0)
				res, err := scan.Stop(ctx, plan, scan.ApplyOptions{Apply: true, Logger: req.Logger})
				resp.Output.Result = res
				if err == nil {
					req.Progress.Report(fmt.Sprintf("killed %v", res.Killed), int64(len(res.Killed)), int64(len(res.Killed)))
				}
				return err
			}, plugin.FieldDocs(nil, stopOutputDocs)),
	}
}

func detectOptions(in DetectInput) (scan.Options, error) {
	o := scan.Options{Root: in.Root, MinScore: in.MinScore, Report: in.Report, InstanceAddrs: in.InstanceAddrs, NoBPF: in.NoBPF}
	if in.Delay != "" {
		if d, err := time.ParseDuration(in.Delay); err != nil || d < 0 || d > 24*time.Hour {
			return o, fmt.Errorf("%w: delay %q (a duration up to 24h)", plugin.ErrInvalidInput, in.Delay)
		}
	}
	if in.Window != "" && in.Window != "0" {
		d, err := time.ParseDuration(in.Window)
		if err != nil || d < 0 {
			return o, fmt.Errorf("%w: window %q", plugin.ErrInvalidInput, in.Window)
		}
		o.Window = d
	}
	return o, nil
}

func planStop(ctx context.Context, in StopInput, incident string) (scan.StopPlan, error) {
	if in.PID <= 0 {
		return scan.StopPlan{}, fmt.Errorf("%w: pid %d", plugin.ErrInvalidInput, in.PID)
	}
	if in.StartTicks == 0 && !in.Force {
		return scan.StopPlan{}, fmt.Errorf("%w: start_ticks is required (the suspect's start_ticks from detect), so that only the process that was approved is stopped; \"force\": true stops whatever process has pid %d", plugin.ErrInvalidInput, in.PID)
	}
	so := scan.StopOptions{Root: in.Root, EvidenceDir: in.EvidenceDir, MaxMemory: in.MaxMemory, MaxEvidence: in.MaxEvidence, NoTree: in.NoTree, Supervisor: in.Supervisor, Freezer: in.Freezer}
	plan, err := scan.PlanStop(ctx, in.PID, so)
	if err != nil {
		return plan, err
	}
	// The identity detect saw is the process asked for: the plan's target,
	// or, when the plan takes its supervising tree, a member of the tree.
	asked := plan.Target
	if asked.PID != in.PID {
		i := slices.IndexFunc(plan.Tree, func(id scan.Identity) bool { return id.PID == in.PID })
		if i < 0 {
			return scan.StopPlan{}, fmt.Errorf("%w: pid %d is not in the tree of its supervisor %d", scan.ErrIdentityChanged, in.PID, plan.Target.PID)
		}
		asked = plan.Tree[i]
	}
	if in.StartTicks != 0 && in.StartTicks != asked.StartTime {
		return scan.StopPlan{}, fmt.Errorf("%w: pid %d started at tick %d, detect saw %d", scan.ErrIdentityChanged, in.PID, asked.StartTime, in.StartTicks)
	}
	if (in.ExeDev != 0 || in.ExeIno != 0) && (in.ExeDev != asked.ExeDev || in.ExeIno != asked.ExeIno) {
		return scan.StopPlan{}, fmt.Errorf("%w: pid %d runs executable %d:%d (%s), detect saw %d:%d", scan.ErrIdentityChanged, in.PID,
			asked.ExeDev, asked.ExeIno, asked.Exe, in.ExeDev, in.ExeIno)
	}
	if in.EvidenceDir == "" && incident != "" {
		// One directory per incident: plan again with it, so that the
		// plan's steps name it.
		so.EvidenceDir = filepath.Join("/var/lib/abusekit/evidence", filepath.Base(filepath.Clean("/"+incident)),
			fmt.Sprintf("pid-%d-%d", plan.Target.PID, plan.Target.StartTime))
		again, err := scan.PlanStop(ctx, in.PID, so)
		if err != nil {
			return again, err
		}
		if again.Target != plan.Target {
			return scan.StopPlan{}, fmt.Errorf("%w: pid %d changed while planning", scan.ErrIdentityChanged, in.PID)
		}
		plan = again
	}
	return plan, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
