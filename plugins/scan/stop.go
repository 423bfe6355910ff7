package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// Refusals and failures of PlanStop and Stop, testable with errors.Is.
var (
	ErrProtectedPID    = errors.New("scan: refusing to stop PID 1")
	ErrKernelThread    = errors.New("scan: refusing to stop a kernel thread")
	ErrSelfOrAncestor  = errors.New("scan: refusing to stop the calling process or one of its ancestors")
	ErrIdentityChanged = errors.New("scan: process identity changed since the plan (PID reused?)")
	ErrProcessGone     = errors.New("scan: process no longer exists")
	ErrNotLive         = errors.New("scan: can only stop processes of the live /proc of this PID namespace")
	ErrEvidenceSpace   = errors.New("scan: not enough free space for the evidence")
)

// Freezer methods.
const (
	FreezeSignal = "sigstop" // SIGSTOP through a pidfd to every process of the tree
)

// DefaultMaxFileSize caps each file Stop copies (the executable, deleted
// files held open) unless StopOptions says otherwise.
const DefaultMaxFileSize = 512 << 20

// DefaultMaxMemory is the memory Stop captures unless StopOptions says
// otherwise.
const DefaultMaxMemory = 64 << 20

// DefaultMaxEvidence caps everything one Stop writes into its evidence
// directory unless StopOptions says otherwise. Stop also never plans to
// leave less than EvidenceReserve free on the evidence filesystem.
const DefaultMaxEvidence = 1 << 30

// StopOptions configure PlanStop.
type StopOptions struct {
	// Root is the procfs mount point; "" means "/proc". Stop acts only on
	// the live one.
	Root string
	// EvidenceDir is where Stop writes the evidence; default
	// /var/lib/abusekit/evidence/pid-<PID>-<start ticks>. It must not
	// exist or be empty.
	EvidenceDir string
	// NoTree stops only the process, not its descendants.
	NoTree bool
	// Supervisor, when the process has a supervisor (a shell loop, or a
	// parent running several processes of its executable: see
	// Suspect.Supervisor), stops the supervisor and its whole tree, the
	// process included; without it the plan warns that the supervisor
	// stays alive.
	Supervisor bool
	// MaxMemory is how many bytes of the tree's readable memory regions
	// Stop copies from /proc/PID/mem (the target's first; anonymous memory,
	// heap and stack before file-backed regions); 0 means
	// DefaultMaxMemory, negative none.
	MaxMemory int64
	// MaxFileSize caps each copied file; default DefaultMaxFileSize.
	MaxFileSize int64
	// MaxEvidence caps the bytes written into EvidenceDir in all (files,
	// memory, JSON); default DefaultMaxEvidence. Stop lowers it to what the
	// filesystem has free above EvidenceReserve, and refuses with
	// ErrEvidenceSpace, before touching the process, when that is less
	// than MinEvidence.
	MaxEvidence int64
	// FreezeWait bounds the wait for the tree to stop; default 5 s.
	FreezeWait time.Duration
	// Freezer picks how the tree is frozen: FreezeCgroup, FreezeSignal,
	// or "" for the cgroup v2 freezer when the host has a cgroup v2
	// hierarchy and SIGSTOP otherwise (and when the cgroup cannot be made).
	Freezer string
	// Logger receives progress records; default discards.
	Logger *slog.Logger `json:"-"`
}

// Identity is what tells a process apart from a later one with the same
// PID: its start time and its executable's device and inode.
type Identity struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_ticks"` // clock ticks after boot
	ExeDev    uint64 `json:"exe_dev"`
	ExeIno    uint64 `json:"exe_ino"`
	Comm      string `json:"comm"`
	Exe       string `json:"exe"` // the link target, " (deleted)" included
}

// StopPlan is what Stop will do. PlanStop makes it without touching
// anything; it serializes to JSON for approval.
type StopPlan struct {
	Target    Identity   `json:"target"`
	Tree      []Identity `json:"tree"`                 // descendants, frozen and killed with it
	Freeze    string     `json:"freeze"`               // FreezeCgroup or FreezeSignal
	CgroupDir string     `json:"cgroup_dir,omitempty"` // the freezer cgroup Stop creates
	// Hidden lists the processes of the tree hidden by mounts over their
	// /proc/PID directory, with those mounts.
	Hidden      map[int][]procfs.Mount `json:"hidden,omitempty"`
	EvidenceDir string                 `json:"evidence_dir"`
	// Supervisor is the supervisor found for the process asked for: with
	// StopOptions.Supervisor it is the Target, and the process asked for
	// is in the Tree.
	Supervisor *Identity `json:"supervisor,omitempty"`
	// Warnings are what the plan leaves undone, such as a supervisor left
	// alive.
	Warnings []string    `json:"warnings,omitempty"`
	Steps    []string    `json:"steps"`
	Options  StopOptions `json:"options"`
}

// PlanStop checks that pid may be stopped and describes how. It refuses
// (errors.Is) ErrProtectedPID, ErrKernelThread, ErrSelfOrAncestor and
// ErrProcessGone.
func PlanStop(ctx context.Context, pid int, opts StopOptions) (StopPlan, error) {
	if opts.Root == "" {
		opts.Root = "/proc"
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.MaxEvidence <= 0 {
		opts.MaxEvidence = DefaultMaxEvidence
	}
	if opts.MaxMemory == 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.FreezeWait <= 0 {
		opts.FreezeWait = 5 * time.Second
	}
	fs, err := procfs.NewFS(opts.Root)
	if err != nil {
		return StopPlan{}, fmt.Errorf("scan: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A process hidden by a mount over /proc/PID is read, planned and
	// stopped through a fresh procfs instance.
	fs, hidden, done := liveView(fs, log)
	defer done()
	if pid == 1 {
		return StopPlan{}, fmt.Errorf("%w: pid %d", ErrProtectedPID, pid)
	}
	if pid <= 0 {
		return StopPlan{}, fmt.Errorf("%w: pid %d", ErrProcessGone, pid)
	}
	id, st, err := identify(fs, pid)
	if err != nil {
		return StopPlan{}, err
	}
	if err := kernelThreadErr(pid, st); err != nil {
		return StopPlan{}, err
	}
	if err := refuseSelf(fs, pid); err != nil {
		return StopPlan{}, err
	}
	var supervisor *Identity
	var supWarn string
	if sup, why, ok := supervisorOf(fs, pid); ok {
		supervisor = &sup
		if opts.Supervisor {
			if opts.NoTree {
				return StopPlan{}, errors.New("scan: Supervisor needs the tree (NoTree is set)")
			}
			if err := refuseSelf(fs, sup.PID); err != nil {
				return StopPlan{}, fmt.Errorf("supervisor of pid %d: %w", pid, err)
			}
			pid, id = sup.PID, sup
			supWarn = fmt.Sprintf("stopping the supervising tree: pid %d (%s) supervises the process asked for (%s)", sup.PID, sup.Comm, why)
		} else {
			supWarn = fmt.Sprintf("WARNING: pid %d (%s) supervises pid %d (%s) and would be left alive to start it again; plan with Supervisor (triage-host -tree) to stop its tree", sup.PID, sup.Comm, pid, why)
		}
	}
	plan := StopPlan{Target: id, Freeze: FreezeSignal, Options: opts, Supervisor: supervisor}
	if supervisor != nil && !opts.Supervisor {
		plan.Warnings = append(plan.Warnings, supWarn)
	}
	switch opts.Freezer {
	case "", FreezeCgroup:
		if m := cgroup2Mount(fs); m != "" {
			plan.Freeze = FreezeCgroup
			plan.CgroupDir = filepath.Join(m, fmt.Sprintf("abusekit-freeze-%d-%d", pid, id.StartTime))
		} else if opts.Freezer == FreezeCgroup {
			return StopPlan{}, errors.New("scan: no cgroup v2 hierarchy for the cgroup freezer")
		}
	case FreezeSignal:
	default:
		return StopPlan{}, fmt.Errorf("scan: unknown freezer %q", opts.Freezer)
	}
	if !opts.NoTree {
		for _, d := range descendants(fs, pid) {
			did, dst, err := identify(fs, d)
			if err != nil || dst.IsKernelThread() {
				continue
			}
			if refuseSelf(fs, d) != nil {
				return StopPlan{}, fmt.Errorf("%w: pid %d is an ancestor of this process", ErrSelfOrAncestor, d)
			}
			plan.Tree = append(plan.Tree, did)
		}
	}
	for _, p := range treePIDs(plan) {
		if ms := hidden[p]; ms != nil {
			if plan.Hidden == nil {
				plan.Hidden = map[int][]procfs.Mount{}
			}
			plan.Hidden[p] = ms
		}
	}
	plan.EvidenceDir = opts.EvidenceDir
	if plan.EvidenceDir == "" {
		plan.EvidenceDir = filepath.Join("/var/lib/abusekit/evidence", fmt.Sprintf("pid-%d-%d", pid, id.StartTime))
	}
	n := len(plan.Tree) + 1
	mem := "no memory regions"
	if opts.MaxMemory > 0 {
		mem = fmt.Sprintf("memory regions up to %d bytes (anonymous, heap and stack first, each hashed)", opts.MaxMemory)
	}
	plan.Steps = []string{}
	if supWarn != "" {
		plan.Steps = append(plan.Steps, supWarn)
	}
	for _, p := range treePIDs(plan) {
		if ms := plan.Hidden[p]; ms != nil {
			plan.Steps = append(plan.Steps, fmt.Sprintf("pid %d is %s: read and stopped through a fresh procfs instance and its pidfd; the mount is left in place and recorded in hidden-mounts.json", p, hiddenText(p, ms)))
		}
	}
	plan.Steps = append(plan.Steps,
		fmt.Sprintf("re-check identity of pid %d (%s, start %d, exe %s inode %d)", pid, id.Comm, id.StartTime, id.Exe, id.ExeIno),
		freezeStep(plan, n),
		fmt.Sprintf("capture evidence into %s (at most %d bytes, each file at most %d, each inode once, holes kept): sockets, fds, maps, %s, environ, cmdline, status, cwd, parent chain, executable (SHA-256), deleted files held open; manifest.json", plan.EvidenceDir, opts.MaxEvidence, opts.MaxFileSize, mem),
		"re-check identity of every frozen process",
		fmt.Sprintf("SIGKILL %d process(es) and wait for them to exit", n),
	)
	return plan, nil
}

func freezeStep(p StopPlan, n int) string {
	if p.Freeze == FreezeCgroup {
		return fmt.Sprintf("freeze %d process(es) %v in cgroup %s (cgroup v2 freezer; SIGSTOP if it cannot be made)", n, treePIDs(p), p.CgroupDir)
	}
	return fmt.Sprintf("freeze %d process(es) with SIGSTOP through pidfds: %v", n, treePIDs(p))
}

func treePIDs(p StopPlan) []int {
	out := []int{p.Target.PID}
	for _, t := range p.Tree {
		out = append(out, t.PID)
	}
	return out
}

// identify reads a process's identity.
func identify(fs procfs.FS, pid int) (Identity, procfs.ProcStat, error) {
	st, err := fs.Stat(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return Identity{}, st, fmt.Errorf("%w: pid %d", ErrProcessGone, pid)
		}
		return Identity{}, st, fmt.Errorf("scan: pid %d: %w", pid, err)
	}
	id := Identity{PID: pid, StartTime: st.StartTime, Comm: st.Comm}
	if st.IsKernelThread() {
		return id, st, nil
	}
	id.Exe, _ = fs.Readlink(pid, "exe")
	var s unix.Stat_t
	if err := unix.Stat(fs.PIDPath(pid, "exe"), &s); err == nil {
		id.ExeDev, id.ExeIno = s.Dev, s.Ino
	}
	return id, st, nil
}

// same reports whether the live process has the planned identity.
func same(fs procfs.FS, want Identity) error {
	got, _, err := identify(fs, want.PID)
	if err != nil {
		return err
	}
	if got.StartTime != want.StartTime || got.ExeDev != want.ExeDev || got.ExeIno != want.ExeIno {
		return fmt.Errorf("%w: pid %d was %s (start %d, exe %d:%d), is %s (start %d, exe %d:%d)", ErrIdentityChanged,
			want.PID, want.Comm, want.StartTime, want.ExeDev, want.ExeIno, got.Comm, got.StartTime, got.ExeDev, got.ExeIno)
	}
	return nil
}

// refuseSelf refuses the calling process and its ancestors. On a root that
// is not the live /proc the caller has no PID there, so only the root's
// view of "self" is checked.
func refuseSelf(fs procfs.FS, pid int) error {
	self := os.Getpid()
	if !fs.IsLive() {
		l, err := os.Readlink(fs.Path("self"))
		if err != nil {
			return nil
		}
		if n, err := strconv.Atoi(l); err == nil {
			self = n
		} else {
			return nil
		}
	}
	seen := map[int]bool{}
	for p := self; p > 0 && !seen[p]; {
		if p == pid {
			if p == self {
				return fmt.Errorf("%w: pid %d is this process", ErrSelfOrAncestor, pid)
			}
			return fmt.Errorf("%w: pid %d is an ancestor of this process", ErrSelfOrAncestor, pid)
		}
		seen[p] = true
		st, err := fs.Stat(p)
		if err != nil {
			break
		}
		p = st.PPID
	}
	return nil
}

// descendants lists pid's descendants, breadth first: the children the
// kernel lists for each of their threads (/proc/PID/task/TID/children),
// which a process hidden from the /proc listing (a getdents hook) or by a
// mount over its own directory is still in, and the processes of the
// listing whose parent they are.
func descendants(fs procfs.FS, pid int) []int {
	children := map[int][]int{}
	if pids, err := listPIDs(fs); err == nil {
		for _, p := range pids {
			if st, err := fs.Stat(p); err == nil {
				children[st.PPID] = append(children[st.PPID], p)
			}
		}
	}
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range append(kernelChildren(fs, p), children[p]...) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// kernelChildren reads the children the kernel lists for each thread of
// pid (Linux 3.5+, CONFIG_PROC_CHILDREN; nil where it has none).
func kernelChildren(fs procfs.FS, pid int) []int {
	tasks, err := os.ReadDir(fs.PIDPath(pid, "task"))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(fs.PIDPath(pid, "task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil && c > 0 {
				out = append(out, c)
			}
		}
	}
	return out
}

// ApplyOptions say whether Stop acts. The zero value is a dry run.
type ApplyOptions struct {
	// Apply carries the plan out; without it Stop only reports the plan.
	Apply bool
	// Logger receives progress records; default the plan's, else discards.
	Logger *slog.Logger
}

// StopResult is what Stop did.
type StopResult struct {
	DryRun      bool     `json:"dry_run"`
	Freeze      string   `json:"freeze,omitempty"` // the freezer used
	Plan        StopPlan `json:"plan"`
	Frozen      []int    `json:"frozen"`
	Killed      []int    `json:"killed"`
	EvidenceDir string   `json:"evidence_dir,omitempty"`
	Manifest    string   `json:"manifest,omitempty"` // path of manifest.json
	Warnings    []string `json:"warnings,omitempty"` // evidence that could not be captured
}

// Stop carries out a plan: it re-checks the identity, freezes the tree,
// captures evidence into plan.EvidenceDir with a manifest of SHA-256
// hashes, re-checks every identity and kills the tree. Without
// ApplyOptions.Apply it is a dry run and touches nothing. If an identity
// changed it kills nothing and returns ErrIdentityChanged. Whichever way it
// returns (killed, refused, failed, cancelled), nothing stays frozen: the
// freezer cgroup is thawed, every process left in it is moved back and it is
// removed; a process stopped with SIGSTOP and not killed is continued. A
// member that exits before it is frozen is neither captured nor killed (the
// move into the freezer is checked through its pidfd; see cgroupFreezer).
func Stop(ctx context.Context, plan StopPlan, ao ApplyOptions) (res StopResult, err error) {
	res = StopResult{Plan: plan, DryRun: !ao.Apply}
	if !ao.Apply {
		return res, nil
	}
	log := ao.Logger
	if log == nil {
		log = plan.Options.Logger
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs, err := procfs.NewFS(plan.Options.Root)
	if err != nil {
		return res, fmt.Errorf("scan: %w", err)
	}
	if !fs.IsLive() {
		return res, fmt.Errorf("%w: %s", ErrNotLive, plan.Options.Root)
	}
	fs, hidden, done := liveView(fs, log)
	defer done()
	// The refusals of PlanStop again: a plan may be hand-built or edited
	// between approval and apply.
	if plan.Target.PID == 1 {
		return res, ErrProtectedPID
	}
	if plan.Target.PID <= 0 {
		return res, fmt.Errorf("%w: pid %d", ErrProcessGone, plan.Target.PID)
	}
	if err := refuseKernelThread(fs, plan.Target.PID); err != nil {
		return res, err
	}
	if err := refuseSelf(fs, plan.Target.PID); err != nil {
		return res, err
	}
	for _, t := range plan.Tree {
		if t.PID == 1 {
			return res, fmt.Errorf("%w: in the tree", ErrProtectedPID)
		}
		if err := refuseSelf(fs, t.PID); err != nil {
			return res, err
		}
	}
	// The evidence directory is checked before the process is touched.
	if err := prepareEvidenceDir(plan.EvidenceDir); err != nil {
		return res, fmt.Errorf("scan: %w", err)
	}
	budget, warn, err := evidenceBudget(plan.EvidenceDir, plan.Options.MaxEvidence)
	if err != nil {
		return res, err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	// Open pidfds first and check identities through them: once open, a
	// pidfd names this process even if the PID is reused.
	target, err := openChecked(fs, plan.Target)
	if err != nil {
		return res, err
	}
	defer unix.Close(target.fd)
	members := []pidfd{target}
	for _, t := range plan.Tree {
		m, err := openChecked(fs, t)
		if err == nil {
			if kerr := refuseKernelThread(fs, t.PID); kerr != nil {
				unix.Close(m.fd)
				err = kerr
			}
		}
		if err != nil {
			log.Warn("scan: tree member skipped", "pid", t.PID, "err", err)
			res.Warnings = append(res.Warnings, fmt.Sprintf("tree member %d skipped: %v", t.PID, err))
			continue
		}
		defer unix.Close(m.fd)
		members = append(members, m)
	}

	// Freeze: the target first so it cannot fork more, then the tree,
	// then any child born in between.
	var fz *cgroupFreezer
	if plan.Freeze == FreezeCgroup {
		fz, err = newCgroupFreezer(fs, cgroup2Mount(fs), plan.CgroupDir)
		if err != nil {
			fz = nil
			if plan.Options.Freezer == FreezeCgroup {
				return res, fmt.Errorf("scan: %w", err)
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("cgroup freezer unavailable, using SIGSTOP: %v", err))
		}
	}
	res.Freeze = FreezeSignal
	if fz != nil {
		res.Freeze = FreezeCgroup
	}
	var stopped []pidfd // frozen with SIGSTOP
	killed := map[int]bool{}
	// Whatever way Stop leaves from here (success, error, cancellation,
	// identity changed), nothing it froze stays frozen: the freezer cgroup
	// is thawed, emptied back where each process was and removed; a process
	// stopped with SIGSTOP and not killed gets SIGCONT.
	defer func() {
		if fz != nil {
			res.Warnings = append(res.Warnings, fz.release(5*time.Second)...)
		}
		for _, m := range stopped {
			if !killed[m.fd] {
				_ = unix.PidfdSendSignal(m.fd, unix.SIGCONT, nil, 0)
			}
		}
	}()
	frozen := map[int]bool{}
	gone := map[int]bool{} // exited before it could be frozen
	cgroupFrozen := false
	freeze := func(m pidfd) {
		if fz != nil {
			err := fz.add(m)
			if errors.Is(err, ErrProcessGone) {
				gone[m.id.PID] = true
				res.Warnings = append(res.Warnings, err.Error())
				return
			}
			if err == nil {
				if !cgroupFrozen {
					if err = fz.set(true); err == nil {
						cgroupFrozen = true
					}
				}
				if err == nil {
					frozen[m.id.PID] = true
					res.Frozen = append(res.Frozen, m.id.PID)
					return
				}
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("pid %d: %v; using SIGSTOP", m.id.PID, err))
		}
		if err := unix.PidfdSendSignal(m.fd, unix.SIGSTOP, nil, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				gone[m.id.PID] = true
				res.Warnings = append(res.Warnings, fmt.Sprintf("%v: pid %d exited before it was frozen", ErrProcessGone, m.id.PID))
				return
			}
			log.Warn("scan: SIGSTOP failed", "pid", m.id.PID, "err", err)
			return
		}
		stopped = append(stopped, m)
		frozen[m.id.PID] = true
		res.Frozen = append(res.Frozen, m.id.PID)
	}
	for round := 0; round < 3; round++ {
		for _, m := range members {
			if !frozen[m.id.PID] && !gone[m.id.PID] {
				freeze(m)
			}
		}
		if gone[plan.Target.PID] {
			return res, fmt.Errorf("%w: pid %d exited before it was frozen; nothing killed", ErrProcessGone, plan.Target.PID)
		}
		if plan.Options.NoTree {
			break
		}
		added := false
		for _, d := range descendants(fs, plan.Target.PID) {
			if frozen[d] || slices.ContainsFunc(members, func(m pidfd) bool { return m.id.PID == d }) {
				continue
			}
			id, st, err := identify(fs, d)
			if err != nil || st.IsKernelThread() {
				continue
			}
			m, err := openChecked(fs, id)
			if err != nil {
				continue
			}
			defer unix.Close(m.fd)
			members = append(members, m)
			res.Warnings = append(res.Warnings, fmt.Sprintf("pid %d (%s) was born after the plan; frozen and killed with the tree", d, id.Comm))
			added = true
		}
		if !added {
			break
		}
	}
	// A member that exited before it was frozen is neither captured nor
	// killed: its PID may name another process by now.
	members = slices.DeleteFunc(members, func(m pidfd) bool { return gone[m.id.PID] })
	if fz != nil && len(stopped) < len(res.Frozen) {
		if err := fz.wait(ctx, plan.Options.FreezeWait); err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	if err := waitStopped(ctx, fs, stopped, plan.Options.FreezeWait); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	log.Info("scan: frozen", "pids", res.Frozen, "freezer", res.Freeze)
	if afterFreeze != nil {
		afterFreeze()
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("scan: stop cancelled after the freeze (tree resumed, nothing killed): %w", err)
	}

	// Capture, most volatile first.
	res.EvidenceDir = plan.EvidenceDir
	var before map[int]string
	if fz != nil {
		before = fz.before
	}
	manifest, warns, err := capture(ctx, fs, plan, members, before, budget, hidden)
	res.Warnings = append(res.Warnings, warns...)
	if err != nil {
		return res, fmt.Errorf("scan: capture evidence (tree resumed, nothing killed): %w", err)
	}
	res.Manifest = manifest

	// Right before the kill: is every process still the one planned?
	if beforeKill != nil {
		beforeKill(members)
	}
	for _, m := range members {
		if err := same(fs, m.id); err != nil {
			if m.id.PID == plan.Target.PID {
				return res, err
			}
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	for _, m := range members {
		if err := unix.PidfdSendSignal(m.fd, unix.SIGKILL, nil, 0); err != nil {
			if !errors.Is(err, unix.ESRCH) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("SIGKILL pid %d: %v", m.id.PID, err))
			}
			continue
		}
		killed[m.fd] = true
		res.Killed = append(res.Killed, m.id.PID)
	}
	if err := waitGone(ctx, fs, members, 5*time.Second); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	log.Info("scan: killed", "pids", res.Killed, "evidence", res.EvidenceDir)
	return res, nil
}

// beforeKill, in tests, runs after the capture and before the identity
// re-check that precedes the kill; a test changes an identity in it to
// stand for a PID reused meanwhile.
var beforeKill func(members []pidfd)

// afterFreeze, in tests, runs once the tree is frozen, before the capture.
var afterFreeze func()

// refuseKernelThread refuses a kernel thread (PF_KTHREAD, kthreadd or one
// of its children).
func refuseKernelThread(fs procfs.FS, pid int) error {
	st, err := fs.Stat(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("%w: pid %d", ErrProcessGone, pid)
		}
		return fmt.Errorf("scan: pid %d: %w", pid, err)
	}
	return kernelThreadErr(pid, st)
}

func kernelThreadErr(pid int, st procfs.ProcStat) error {
	if st.IsKernelThread() || pid == 2 || st.PPID == 2 {
		return fmt.Errorf("%w: pid %d (%s)", ErrKernelThread, pid, st.Comm)
	}
	return nil
}

type pidfd struct {
	fd int
	id Identity
}

// openChecked opens a pidfd and checks, after it is open, that the PID
// still has the planned identity.
func openChecked(fs procfs.FS, id Identity) (pidfd, error) {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return pidfd{}, fmt.Errorf("%w: pid %d", ErrProcessGone, id.PID)
		}
		return pidfd{}, fmt.Errorf("scan: pidfd_open %d: %w", id.PID, err)
	}
	if err := same(fs, id); err != nil {
		unix.Close(fd)
		return pidfd{}, err
	}
	return pidfd{fd: fd, id: id}, nil
}

func waitStopped(ctx context.Context, fs procfs.FS, ms []pidfd, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		var running []int
		for _, m := range ms {
			st, err := fs.Stat(m.id.PID)
			if err != nil {
				continue
			}
			if st.State != 'T' && st.State != 't' && st.State != 'Z' && st.State != 'X' {
				running = append(running, m.id.PID)
			}
		}
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v not stopped after %s (uninterruptible?)", running, max)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func waitGone(ctx context.Context, fs procfs.FS, ms []pidfd, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		var alive []int
		for _, m := range ms {
			st, err := fs.Stat(m.id.PID)
			if err != nil || st.StartTime != m.id.StartTime || st.State == 'Z' || st.State == 'X' {
				continue
			}
			alive = append(alive, m.id.PID)
		}
		if len(alive) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still alive %s after SIGKILL", alive, max)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// deletedSuffix marks link targets of files removed from disk.
const deletedSuffix = " (deleted)"

func isDeleted(target string) bool { return strings.HasSuffix(target, deletedSuffix) }
