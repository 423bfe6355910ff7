package scan

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/procfs"
)

// DefaultMinScore is the score from which Detect lists a process. It is set
// so that no single weak signal (an executable under /tmp, a cron parent, a
// busy CPU, a packet socket) lists a process on its own; two do.
const DefaultMinScore = 30

// DefaultInterval is the time between samples within a sampling window.
const DefaultInterval = 250 * time.Millisecond

// Options configure Sockets and Detect. The zero value reads the live host
// in one snapshot.
type Options struct {
	// Root is the procfs mount point to read; "" means "/proc". A root
	// that is not the live procfs of the caller's PID namespace (a fake
	// tree, a mount from elsewhere) is read through /proc files only.
	Root string
	// Window is how long Detect samples for connect rates and CPU; 0 takes
	// one snapshot.
	Window time.Duration
	// Interval is the time between samples within Window; default
	// DefaultInterval.
	Interval time.Duration
	// Report, when given, is correlated with the sockets seen: its
	// evidence (destination IPs and ports, the instance's own addresses)
	// weighs most.
	Report *abuse.Report
	// InstanceAddrs are this instance's own addresses as its sockets show
	// them, matched like the report's source addresses. On EC2 a report
	// names the public (or Elastic) IP, which the internet gateway
	// translates: the instance's sockets show its private address, so
	// give the private addresses of the interfaces the public one maps
	// to (instance metadata: local-ipv4, or DescribeInstances).
	InstanceAddrs []netip.Addr
	// MinScore is the score from which a process is listed; default
	// DefaultMinScore. Negative lists every process with any signal.
	MinScore int
	// MaxSockets caps the sockets listed per suspect (the counts in the
	// reasons cover all of them); default 64.
	MaxSockets int
	// NoNetlink reads sockets from /proc/PID/net files even on the live
	// host. By default the live host's TCP and UDP sockets come through
	// netlink sock_diag, namespace by namespace.
	NoNetlink bool
	// NoBPF reads each process's descriptors from /proc/PID/fd even on
	// the live host. By default a large host (256 processes, 2,048 open
	// files, or 1,024 sockets in use in the caller's network namespace)
	// is read in one pass of a BPF task_file iterator where the kernel
	// runs one (root, kernel BTF): a readlink per descriptor costs ~3 µs
	// of kernel time, tens of milliseconds on a busy host. Loading the
	// program leaves a trace where the kernel audits BPF loads (prog-id,
	// op=LOAD/UNLOAD); set NoBPF to leave none.
	NoBPF bool
	// Workers bounds the goroutines reading /proc; default 2×GOMAXPROCS.
	Workers int
	// Logger receives debug records; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests on fake trees set it so
	// that CPU shares and start times are deterministic.
	Now func() time.Time

	// afterSample, in tests, runs after each sample (0 = the first).
	afterSample func(n int)
	// hidden is set by Detect: PIDs hidden by mounts over /proc/PID.
	hidden map[int][]procfs.Mount
	// watched is set by Detect: connection attempts per PID over
	// watchSecs, from Watch (nil when it did not run).
	watched   map[int]ConnRate
	watchSecs float64
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/proc"
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MinScore == 0 {
		o.MinScore = DefaultMinScore
	}
	if o.MaxSockets <= 0 {
		o.MaxSockets = 64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
