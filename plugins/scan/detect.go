package scan

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os/user"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// Signal names a kind of evidence that adds to a suspect's score.
type Signal string

// Signals Detect weighs. A Reason carries one, with its weight.
const (
	SignalReport       Signal = "report"        // sockets matching the abuse report's evidence
	SignalSynFanout    Signal = "syn-fanout"    // SYN_SENT to many hosts or ports
	SignalConnectRate  Signal = "connect-rate"  // new outbound connections per second over the window
	SignalRawSend      Signal = "raw-send"      // packets sent from raw or packet sockets over the window (live BPF)
	SignalRawSocket    Signal = "raw-socket"    // raw IP socket
	SignalPacketSocket Signal = "packet-socket" // AF_PACKET socket (masscan, zmap)
	SignalExeDeleted   Signal = "exe-deleted"   // executable deleted from disk
	SignalExeLocation  Signal = "exe-location"  // executable under /tmp, /dev/shm, /var/tmp or a hidden directory
	SignalCommMismatch Signal = "comm-mismatch" // process name and executable disagree
	SignalKnownName    Signal = "known-name"    // a scanner or miner name
	SignalCPU          Signal = "cpu"           // high CPU use
	SignalCron         Signal = "cron"          // started by cron or at
	SignalConnectFail  Signal = "connect-fail"  // most connection attempts refused or unanswered (live BPF)
	SignalUDPFanout    Signal = "udp-fanout"    // UDP datagrams to many destinations (live BPF)
)

// Weights of the signals. The report correlation weighs most: a socket to
// an address in the report's evidence, or from the reported source address
// to a reported port (reports list a sample of the targets, so the rest of
// a scan goes to addresses they do not name), each outweighs any one
// behavioural signal and a known name with high CPU together.
const (
	weightReportDst      = 80 // remote address in the report's evidence
	weightReportFlow     = 70 // outbound from a reported source address to a reported destination port
	weightReportPort     = 25 // outbound to a reported destination port (from another address)
	weightReportSrc      = 20 // outbound from a reported source address (to another port)
	weightReportPacket   = 20 // a packet socket that can send any frame, or a raw TCP socket, when the report is a port scan
	weightFanout         = 25 // ≥ 5 distinct destinations in SYN_SENT
	weightFanoutHigh     = 35 // ≥ 16
	weightFanoutMassive  = 50 // ≥ 64
	weightRate           = 25 // ≥ 5 new outbound connections/s
	weightRateHigh       = 40 // ≥ 50/s
	weightRateMassive    = 55 // ≥ 500/s (counted by the live BPF attribution)
	weightRawSend        = 40 // ≥ 10 packets/s sent from raw or packet sockets (live BPF attribution)
	weightConnectFail    = 10 // ≥ 20 attempts ended, ≥ 80 % of them refused or unanswered (with a connect rate)
	weightUDPFanout      = 25 // UDP to ≥ 64 distinct destinations over the window
	weightUDPFanoutHigh  = 35 // ≥ 1024
	weightRaw            = 20
	weightPacket         = 25
	weightExeDeleted     = 25
	weightExeLocation    = 20
	weightExeHiddenInTmp = 30
	weightCommMismatch   = 10
	weightKnownName      = 45
	weightCPU            = 15 // ≥ 50 % of one CPU
	weightCPUHigh        = 20 // ≥ 90 %
	weightCron           = 15
)

// Reason is one signal's contribution to a score.
type Reason struct {
	Signal Signal `json:"signal"`
	Weight int    `json:"weight"`
	Text   string `json:"text"`
}

func (r Reason) String() string { return fmt.Sprintf("+%d %s", r.Weight, r.Text) }

// Parent is one process up a suspect's parent chain.
type Parent struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe,omitempty"`
	// Kind is what it is: KindInit, KindSSHD, KindCron, KindTerminal,
	// KindContainer, KindShell, KindSupervisor or KindProgram.
	Kind string `json:"kind,omitempty"`
	// Why says what makes it a supervisor.
	Why string `json:"why,omitempty"`
}

// Suspect is a process Detect scored at or above Options.MinScore.
type Suspect struct {
	PID        int    `json:"pid"`
	PPID       int    `json:"ppid"`
	UID        uint32 `json:"uid"`
	User       string `json:"user"`
	Comm       string `json:"comm"`
	Exe        string `json:"exe"` // without the " (deleted)" suffix
	ExeDeleted bool   `json:"exe_deleted"`
	// ExeDev and ExeIno identify the executable (stat of /proc/PID/exe,
	// 0 when unreadable): with PID and StartTicks, what the scanplugin
	// "stop" action checks before acting.
	ExeDev    uint64    `json:"exe_dev"`
	ExeIno    uint64    `json:"exe_ino"`
	Cmdline   []string  `json:"cmdline"`
	StartTime time.Time `json:"start_time,omitzero"`
	// StartTicks is the start time as the kernel counts it (clock ticks
	// after boot): with PID, the identity StopInput and PlanStop check.
	StartTicks uint64   `json:"start_ticks"`
	CPUPercent float64  `json:"cpu_percent"` // of one CPU, over the window or, in one snapshot, the process's life
	Score      int      `json:"score"`
	Reasons    []Reason `json:"reasons"`
	Parents    []Parent `json:"parents,omitempty"` // parent first, up to PID 1
	// Supervisor is the parent that respawns it (a shell loop, or a
	// parent that forked the same executable again during the window or
	// runs several of it), which stopping the suspect alone leaves alive.
	Supervisor *Parent `json:"supervisor,omitempty"`
	NetNS      uint64  `json:"netns"`
	// Exited is set for a process seen during the window that was gone
	// by its end; what it held is still listed.
	Exited bool `json:"exited,omitempty"`
	// Sockets it holds (and, with a window, held during it), at most
	// Options.MaxSockets of them; SocketCount counts all.
	Sockets     []Socket `json:"sockets"`
	SocketCount int      `json:"socket_count"`
}

// Detect finds the processes most likely behind an abuse report: it reads
// every process and socket of the host (sampling for Options.Window), scores
// each process on the signals above and returns those scoring at least
// Options.MinScore, highest first. DetectAll says besides how connection
// attempts over the window were counted.
func Detect(ctx context.Context, opts Options) ([]Suspect, error) {
	d, err := DetectAll(ctx, opts)
	return d.Suspects, err
}

// Attribution says how Detect counted what processes did on the network
// over its window.
type Attribution struct {
	// Live is true when Watch attributed every connection attempt, raw
	// packet and UDP datagram as it happened (BPF); false when connect
	// rates come from the samples' new sockets alone.
	Live bool `json:"live"`
	// Why says why not, when Live is false.
	Why string `json:"why,omitempty"`
	// Stratum is true when the first bytes of TCP sends were looked at
	// for stratum; StratumWhy says why not.
	Stratum    bool   `json:"stratum"`
	StratumWhy string `json:"stratum_why,omitempty"`
}

// String is a line for a human: what was attributed live, or why not.
func (a Attribution) String() string {
	if !a.Live {
		return fmt.Sprintf("connection attempts sampled every %s, not attributed live (%s)", DefaultInterval, a.Why)
	}
	if !a.Stratum {
		return fmt.Sprintf("connection attempts attributed live with BPF; stratum not looked for (%s)", a.StratumWhy)
	}
	return "connection attempts attributed live with BPF; first bytes of TCP sends looked at for stratum"
}

// Detection is what DetectAll found.
type Detection struct {
	Suspects []Suspect `json:"suspects"`
	// Attribution is how the window was watched; nil for one snapshot or
	// a root other than the live /proc (nothing to watch live there).
	Attribution *Attribution `json:"attribution,omitempty"`
}

// DetectAll is Detect, saying besides how connection attempts over the
// window were counted: live with BPF, or from the samples where Watch
// could not run (and why).
func DetectAll(ctx context.Context, opts Options) (Detection, error) {
	o := opts.withDefaults()
	fs, err := procfs.NewFS(o.Root)
	if err != nil {
		return Detection{}, fmt.Errorf("scan: %w", err)
	}
	fs, hidden, done := liveView(fs, o.Logger)
	defer done()
	o.hidden = hidden
	// Over a window on the live host, every connection attempt is
	// attributed as it happens (Watch); where that cannot run, the
	// samples' new sockets stand for it.
	var stopWatch func() (map[int]ConnRate, float64, Attribution)
	var attr *Attribution
	if o.Window > 0 && fs.IsLive() {
		attr = &Attribution{Why: "NoBPF is set"}
		if !o.NoBPF {
			stopWatch = watchDuring(ctx, o.Logger)
			defer func() { // on the error paths
				if stopWatch != nil {
					stopWatch()
				}
			}()
		}
	}
	first, err := take(ctx, fs, o, true)
	if err != nil {
		return Detection{}, err
	}
	h := newHistory(first)
	last := first
	if o.afterSample != nil {
		o.afterSample(0)
	}
	if o.Window > 0 {
		n := 0
		deadline := time.Now().Add(o.Window) // real time, whatever o.Now says
		for {
			wait := min(o.Interval, time.Until(deadline))
			if wait <= 0 {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return Detection{}, ctx.Err()
			case <-t.C:
			}
			s, err := take(ctx, fs, o, true)
			if err != nil {
				return Detection{}, err
			}
			h.add(s)
			last = s
			if o.afterSample != nil {
				n++
				o.afterSample(n)
			}
		}
	}
	if stopWatch != nil {
		var a Attribution
		o.watched, o.watchSecs, a = stopWatch()
		*attr = a
		stopWatch = nil
	}
	boot, err := fs.BootTime()
	if err != nil {
		o.Logger.Debug("scan: no boot time; start times and lifetime CPU unknown", "err", err)
	}
	rep := newReportIndex(o)
	if rep != nil {
		rep.listeners = h.listeners(last)
	}
	procs := last.procs
	if h.multi {
		procs = h.latest // including processes that exited during the window
	}
	var out []Suspect
	for pid, p := range procs {
		if p.kthread {
			continue
		}
		s := score(fs, o, h, first, last, p, boot, rep)
		if (s.Score <= 0 || (o.MinScore > 0 && s.Score < o.MinScore)) && o.hidden[pid] == nil && !p.unlisted {
			continue
		}
		s.Exited = last.procs[pid] == nil
		fill(fs, o, last, p, h.sockets(last, p), &s, boot)
		markSupervisor(h, last, p, &s)
		out = append(out, s)
	}
	// Sockets no process holds: checked again in a second pass (a
	// socket opened between the process pass and the dump has a holder
	// then), unless the finding could not be listed anyway.
	if cand, unread := unheld(last), unreadable(last); len(cand) > 0 && (len(unread) == 0 || o.MinScore <= weightUnheldUnsure) {
		rest, err := stillUnheld(ctx, fs, o, cand)
		if err != nil {
			return Detection{}, err
		}
		if len(rest) > 0 {
			out = append(out, unheldSuspect(rest, unread, o.MaxSockets))
		}
	}
	slices.SortFunc(out, func(a, b Suspect) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.PID, b.PID))
	})
	return Detection{Suspects: out, Attribution: attr}, nil
}

// history accumulates what each process held across the samples. With a
// single sample it keeps nothing and reads the snapshot directly.
type history struct {
	first  *snapshot
	multi  bool
	seen   map[int]map[uint64]*Socket // pid → inode → socket, every sample
	latest map[int]*proc              // pid → as last seen
	fresh  map[int]int                // pid → outbound TCP sockets that appeared after the first sample
	start  map[int]uint64             // pid → start time, to tell a reused PID
	listen map[*snapshot]listeners    // each sample's listening ports, made when needed
}

func newHistory(s *snapshot) *history {
	return &history{first: s}
}

func (h *history) add(s *snapshot) {
	if !h.multi {
		h.multi = true
		h.seen, h.fresh, h.start, h.latest = map[int]map[uint64]*Socket{}, map[int]int{}, map[int]uint64{}, map[int]*proc{}
		h.listen = map[*snapshot]listeners{}
		h.merge(h.first, false)
	}
	h.merge(s, true)
}

// sockets returns what process p held: in any sample, or in the one.
func (h *history) sockets(s *snapshot, p *proc) []*Socket {
	if !h.multi {
		out := make([]*Socket, 0, len(p.inodes))
		for _, ino := range p.inodes {
			if sk, ok := s.socks[ino]; ok {
				out = append(out, sk)
			}
		}
		return out
	}
	return mapValues(h.seen[p.pid])
}

func (h *history) merge(s *snapshot, later bool) {
	var ls listeners
	if later {
		ls = h.listeners(s)
	}
	for pid, p := range s.procs {
		if st, ok := h.start[pid]; ok && st != p.stat.StartTime {
			delete(h.seen, pid) // PID reused: forget the old process
			delete(h.fresh, pid)
		}
		h.start[pid] = p.stat.StartTime
		h.latest[pid] = p
		m := h.seen[pid]
		for _, ino := range p.inodes {
			sk, ok := s.socks[ino]
			if !ok {
				continue
			}
			if m == nil {
				m = map[uint64]*Socket{}
				h.seen[pid] = m
			}
			if _, had := m[ino]; had {
				continue
			}
			m[ino] = sk
			if later && outbound(sk, ls) {
				h.fresh[pid]++
			}
		}
	}
}

// listeners are the TCP ports listened on, by network namespace.
type listeners map[listenKey]bool

type listenKey struct {
	netns uint64
	port  uint16
}

// listeners returns (and keeps) the listening ports of a sample.
func (h *history) listeners(s *snapshot) listeners {
	if ls, ok := h.listen[s]; ok {
		return ls
	}
	ls := listenersOf(s)
	if h.listen == nil {
		h.listen = map[*snapshot]listeners{}
	}
	h.listen[s] = ls
	return ls
}

func listenersOf(s *snapshot) listeners {
	ls := listeners{}
	for _, sk := range s.socks {
		if sk.Proto == ProtoTCP && sk.State == "LISTEN" {
			ls[listenKey{sk.NetNS, sk.Local.Port()}] = true
		}
	}
	return ls
}

// outbound reports whether a TCP socket is a connection this host opened
// to a non-loopback peer (connect rate and the report's source and port
// count those). A connection whose local port is listened on in its
// namespace was accepted, not opened, whatever the port: a server on a
// port of the ephemeral range is no dialer.
func outbound(s *Socket, ls listeners) bool {
	if s.Proto != ProtoTCP || !s.Remote.IsValid() || s.Remote.Addr().IsUnspecified() || s.Remote.Addr().IsLoopback() {
		return false
	}
	switch s.State {
	case "SYN_SENT":
		return true
	case "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE", "LAST_ACK", "CLOSING", "CLOSE_WAIT":
		if ls[listenKey{s.NetNS, s.Local.Port()}] {
			return false
		}
		// A listener closed since still leaves its accepted connections
		// on its port: below the ephemeral range they count as accepted.
		return s.Local.Port() >= 32768
	}
	return false
}

// ethPAll is ETH_P_ALL, the EtherType of a packet socket taking every
// protocol.
const ethPAll = 0x0003

// framePacket reports whether a packet socket can send and see any frame:
// bound to every protocol (ETH_P_ALL, how libpcap, masscan and zmap open
// theirs) or to none (send-only). One bound to a single protocol (IP, ARP,
// LLDP: DHCP clients, systemd-networkd, lldpd) is not counted.
func framePacket(sk *Socket) bool {
	return sk.Proto == ProtoPacket && (sk.EtherType == ethPAll || sk.EtherType == 0)
}

// rawTCP reports whether a socket is a raw IP socket that sends TCP
// segments by hand (IPPROTO_TCP or IPPROTO_RAW), as SYN scanners do.
func rawTCP(sk *Socket) bool {
	return sk.Proto == ProtoRaw && (sk.Local.Port() == 6 || sk.Local.Port() == 255)
}

// dhcpClient reports whether a process is a DHCP client from the system:
// it holds the DHCP client port (UDP 68, or 546 for DHCPv6) and runs an
// executable from a system directory that is still on disk. dhclient's
// packet socket takes every protocol (with a filter /proc does not show).
func dhcpClient(socks []*Socket, exe string) bool {
	deleted := strings.HasSuffix(exe, " (deleted)")
	if deleted || exe == "" {
		return false
	}
	sys := false
	for _, d := range []string{"/sbin/", "/usr/sbin/", "/bin/", "/usr/bin/", "/usr/lib/", "/lib/", "/usr/libexec/"} {
		if strings.HasPrefix(exe, d) {
			sys = true
		}
	}
	return sys && slices.ContainsFunc(socks, func(sk *Socket) bool {
		return sk.Proto == ProtoUDP && (sk.Local.Port() == 68 || sk.Local.Port() == 546)
	})
}

// reportIndex holds what of a report can be matched against sockets.
type reportIndex struct {
	dst   map[netip.Addr]bool
	ports map[uint16]bool
	src   map[netip.Addr]bool
	// portScan: the report is about port scanning, which raw-packet
	// scanners do without any TCP socket to match.
	portScan bool
	// listeners of the last sample: connections accepted on them are
	// not outbound.
	listeners listeners
}

func newReportIndex(o Options) *reportIndex {
	r := o.Report
	if r == nil {
		return nil
	}
	x := &reportIndex{dst: map[netip.Addr]bool{}, ports: map[uint16]bool{}, src: map[netip.Addr]bool{},
		portScan: r.Kind == abuse.KindPortScan}
	for _, ip := range o.InstanceAddrs {
		x.src[ip.Unmap()] = true
	}
	for _, ip := range r.Resources.IPs {
		x.src[ip.Unmap()] = true
	}
	for _, e := range r.Evidence {
		if e.DstIP.IsValid() {
			x.dst[e.DstIP.Unmap()] = true
		}
		if e.DstPort != 0 {
			x.ports[e.DstPort] = true
		}
		if e.SrcIP.IsValid() {
			x.src[e.SrcIP.Unmap()] = true
		}
	}
	return x
}

// score weighs the signals for one process.
func score(fs procfs.FS, o Options, h *history, first, last *snapshot, p *proc, boot time.Time, rep *reportIndex) Suspect {
	s := Suspect{PID: p.pid, PPID: p.stat.PPID, Comm: p.stat.Comm, NetNS: p.netns}
	add := func(sig Signal, w int, format string, args ...any) {
		s.Reasons = append(s.Reasons, Reason{Signal: sig, Weight: w, Text: fmt.Sprintf(format, args...)})
		s.Score += w
	}
	socks := h.sockets(last, p)

	if ms := o.hidden[p.pid]; ms != nil {
		add(SignalHidden, weightHidden, "%s", hiddenText(p.pid, ms))
	}
	if p.unlisted {
		add(SignalHidden, weightHidden, "missing from the /proc listing while it runs (seen by the BPF task iterator, not listed twice): hidden from getdents, as kernel rootkits do")
	}

	// DHCP clients hold packet sockets that take every protocol.
	dhcp := dhcpClient(socks, p.exe)

	// The report first: it weighs most.
	if rep != nil {
		var dstHits, flowHits, portHits, srcHits int
		var example, flowExample string
		for _, sk := range socks {
			if sk.Proto != ProtoTCP && sk.Proto != ProtoUDP {
				continue
			}
			ra := sk.Remote.Addr()
			if ra.IsValid() && rep.dst[ra] {
				dstHits++
				if example == "" {
					example = sk.Remote.String()
				}
			}
			// Sockets this host opened: TCP in any state of a connection
			// it made (SYN_SENT, or established or closing since), a
			// connected UDP socket.
			out := outbound(sk, rep.listeners)
			if sk.Proto == ProtoUDP {
				out = ra.IsValid() && !ra.IsUnspecified() && !ra.IsLoopback() && sk.Remote.Port() != 0
			}
			if !out {
				continue
			}
			port, src := rep.ports[sk.Remote.Port()], rep.src[sk.Local.Addr().Unmap()]
			switch {
			case port && src:
				flowHits++
				if flowExample == "" {
					flowExample = sk.Local.String() + " -> " + sk.Remote.String()
				}
			case port:
				portHits++
			case src:
				srcHits++
			}
		}
		if dstHits > 0 {
			add(SignalReport, weightReportDst, "%d socket(s) to addresses in the report's evidence (e.g. %s)", dstHits, example)
		}
		if flowHits > 0 {
			add(SignalReport, weightReportFlow, "%d outbound socket(s) from the reported source address to ports in the report's evidence (e.g. %s)", flowHits, flowExample)
		} else {
			if portHits > 0 {
				add(SignalReport, weightReportPort, "%d outbound socket(s) to ports in the report's evidence", portHits)
			}
			if srcHits > 0 {
				add(SignalReport, weightReportSrc, "%d outbound socket(s) from the reported source address", srcHits)
			}
		}
		if rep.portScan && !dhcp && slices.ContainsFunc(socks, framePacket) {
			add(SignalReport, weightReportPacket, "holds an AF_PACKET socket taking every protocol and the report is about port scanning (masscan and zmap send SYNs that way)")
		} else if rep.portScan && slices.ContainsFunc(socks, rawTCP) {
			add(SignalReport, weightReportPacket, "holds a raw TCP socket and the report is about port scanning (SYN scanners send that way)")
		}
	}

	// SYN_SENT fan-out, raw and packet sockets (in any sample).
	var hosts map[netip.Addr]bool
	var ports map[uint16]bool
	synSent, raw, packet := 0, 0, 0
	for _, sk := range socks {
		switch sk.Proto {
		case ProtoTCP:
			if sk.State == "SYN_SENT" {
				if hosts == nil {
					hosts, ports = map[netip.Addr]bool{}, map[uint16]bool{}
				}
				synSent++
				hosts[sk.Remote.Addr()] = true
				ports[sk.Remote.Port()] = true
			}
		case ProtoRaw:
			raw++
		case ProtoPacket:
			if framePacket(sk) && !dhcp {
				packet++
			}
		}
	}
	if n := max(len(hosts), len(ports)); synSent >= 5 && n >= 5 {
		w := weightFanout
		switch {
		case n >= 64:
			w = weightFanoutMassive
		case n >= 16:
			w = weightFanoutHigh
		}
		add(SignalSynFanout, w, "%d SYN_SENT sockets to %d distinct hosts and %d distinct ports", synSent, len(hosts), len(ports))
	}
	if raw > 0 {
		add(SignalRawSocket, weightRaw, "%d raw IP socket(s)", raw)
	}
	if packet > 0 {
		add(SignalPacketSocket, weightPacket, "%d AF_PACKET socket(s) taking every protocol: can send hand-built packets (masscan, zmap)", packet)
	}

	// Packets it sent from raw IP or AF_PACKET sockets (live BPF
	// attribution): a raw scanner transmits, a capturer does not.
	if r, ok := o.watched[p.pid]; ok && o.watchSecs > 0 && r.RawPackets > 0 {
		if rate := float64(r.RawPackets) / o.watchSecs; rate >= 10 {
			kind := "raw IP"
			if r.FromPacketSocket {
				kind = "AF_PACKET"
			}
			add(SignalRawSend, weightRawSend, "sent %d packets (%.0f/s) from %s sockets: hand-built packets, a raw scanner rather than a capturer (live BPF attribution)", r.RawPackets, rate, kind)
		}
	}

	// UDP to many destinations, and stratum in a TCP send (live BPF
	// attribution).
	if r, ok := o.watched[p.pid]; ok {
		switch n := r.UDPDestinations; {
		case n >= 1024:
			add(SignalUDPFanout, weightUDPFanoutHigh, "UDP datagrams to %d distinct destinations (%d datagrams, e.g. %s; live BPF attribution)", n, r.UDPDatagrams, r.UDPExample)
		case n >= 64:
			add(SignalUDPFanout, weightUDPFanout, "UDP datagrams to %d distinct destinations (%d datagrams, e.g. %s; live BPF attribution)", n, r.UDPDatagrams, r.UDPExample)
		}
		if r.Stratum != "" {
			add(SignalStratum, weightStratum, "a TCP send to %s began with the stratum request %q: a miner talking to its pool (live BPF attribution)", r.StratumPeer, r.Stratum)
		}
	}

	// Connect rate over the window: every attempt, from the live BPF
	// attribution where it ran, else new sockets between samples.
	if o.watched != nil {
		// Reconnecting to one or two services (a pool, a client) is not a
		// scan: attempts count once they spread over 5 ports or hosts.
		if r, ok := o.watched[p.pid]; ok && o.watchSecs > 0 && (r.Ports >= 5 || r.Destinations >= 5) {
			rate := float64(r.Attempts) / o.watchSecs
			how := fmt.Sprintf("%d outbound connection attempts in %.1f s (%.0f/s, %d ports, e.g. %s; %d refused, %d unanswered, %d answered; live BPF attribution)",
				r.Attempts, o.watchSecs, rate, r.Ports, r.Example, r.Refused, r.Unanswered, r.Answered)
			switch {
			case rate >= 500:
				add(SignalConnectRate, weightRateMassive, "%s", how)
			case rate >= 50:
				add(SignalConnectRate, weightRateHigh, "%s", how)
			case rate >= 5:
				add(SignalConnectRate, weightRate, "%s", how)
			}
			// A client of real services is mostly answered; a prober
			// mostly hears RSTs or nothing.
			if failed, ended := r.Refused+r.Unanswered, r.Refused+r.Unanswered+r.Answered; failed >= 20 && failed*5 >= ended*4 {
				add(SignalConnectFail, weightConnectFail, "%d of the %d attempts that ended were refused (%d) or unanswered (%d): probing, not using services", failed, ended, r.Refused, r.Unanswered)
			}
		}
	} else if el := last.at.Sub(first.at).Seconds(); el > 0 {
		if n := h.fresh[p.pid]; h.multi && n > 0 {
			rate := float64(n) / el
			switch {
			case rate >= 50:
				add(SignalConnectRate, weightRateHigh, "%.0f new outbound connections/s over %s", rate, last.at.Sub(first.at).Round(time.Millisecond))
			case rate >= 5:
				add(SignalConnectRate, weightRate, "%.1f new outbound connections/s over %s", rate, last.at.Sub(first.at).Round(time.Millisecond))
			}
		}
	}

	// The executable.
	exe, deleted := strings.CutSuffix(p.exe, " (deleted)")
	switch {
	case deleted && strings.HasPrefix(exe, "/memfd:"):
		add(SignalExeDeleted, weightExeDeleted, "executable is an anonymous memory file %s (fileless execution)", exe)
	case deleted:
		add(SignalExeDeleted, weightExeDeleted, "executable %s was deleted from disk", exe)
	}
	if exe != "" {
		tmp, hidden := exeLocation(exe)
		switch {
		case tmp != "" && hidden != "":
			add(SignalExeLocation, weightExeHiddenInTmp, "executable in hidden directory %s under %s", hidden, tmp)
		case tmp != "":
			add(SignalExeLocation, weightExeLocation, "executable under %s", tmp)
		case hidden != "":
			add(SignalExeLocation, weightExeLocation, "executable in hidden directory %s", hidden)
		}
	}
	base := path.Base(exe)
	if exe != "" && !isInterpreter(base) && !commMatches(p.stat.Comm, base) {
		add(SignalCommMismatch, weightCommMismatch, "process name %q does not match executable %q", p.stat.Comm, base)
	}
	if k := knownName(p.stat.Comm); k != "" {
		add(SignalKnownName, weightKnownName, "process name %q is a known scanner/miner name (%s)", p.stat.Comm, k)
	} else if k := knownName(base); exe != "" && k != "" {
		add(SignalKnownName, weightKnownName, "executable %q is a known scanner/miner name (%s)", base, k)
	}

	// CPU: over the window when sampled, else over the process's life.
	s.CPUPercent = cpuPercent(first, last, p, boot)
	switch {
	case s.CPUPercent >= 90:
		add(SignalCPU, weightCPUHigh, "%.0f%% CPU", s.CPUPercent)
	case s.CPUPercent >= 50:
		add(SignalCPU, weightCPU, "%.0f%% CPU", s.CPUPercent)
	}

	// Kernel-thread impostors (only user processes get this far: kernel
	// threads are skipped), pool ports and a miner's shape.
	if p.exe != "" {
		cmd, _ := fs.Cmdline(p.pid)
		if n := impostorName(p.stat.Comm, cmd); n != "" {
			add(SignalImpostor, weightImpostor, "a user process named like a kernel thread (%q), with executable %s: kernel threads have neither", n, p.exe)
		}
	}
	// The host's listeners (to tell outbound connections) are made only
	// for a process that could show a miner's signals.
	minerLike := s.CPUPercent >= 90
	for _, sk := range socks {
		if minerLike = minerLike || (sk.Proto == ProtoTCP && PoolPorts[sk.Remote.Port()]); minerLike {
			break
		}
	}
	var ls listeners
	if minerLike {
		ls = h.listeners(last)
	}
	var pool, long int
	var poolExample string
	listening := false
	for _, sk := range socks {
		if !minerLike {
			break
		}
		if sk.Proto == ProtoTCP && sk.State == "LISTEN" {
			listening = true
		}
		if !outbound(sk, ls) {
			continue
		}
		if PoolPorts[sk.Remote.Port()] {
			pool++
			if poolExample == "" {
				poolExample = sk.Remote.String()
			}
		}
		if sk.State == "ESTABLISHED" {
			long++
		}
	}
	if pool > 0 {
		add(SignalPoolPort, weightPoolPort, "%d outbound connection(s) to mining pool ports (e.g. %s)", pool, poolExample)
	}
	if s.CPUPercent >= 90 && long >= 1 && long <= 3 && !listening {
		add(SignalMinerShape, weightMinerShape, "%.0f%% CPU with %d outbound connection(s) and no listener: a miner's shape", s.CPUPercent, long)
	}

	// Started by cron or at: the parent chain, or the cgroup systemd put
	// the job in (which survives the job daemonizing).
	if c := cronAncestor(last, p); c != "" {
		add(SignalCron, weightCron, "started by %s", c)
	} else if s.Score+weightCron < o.MinScore {
		// Reading the cgroup could not change the outcome: skip it.
	} else if c := cronCgroup(fs, p.pid); c != "" {
		add(SignalCron, weightCron, "runs in cgroup of %s", c)
	}
	return s
}

// exeLocation says whether an executable path is under a world-writable
// scratch directory and whether a directory on its path is hidden.
func exeLocation(exe string) (tmp, hidden string) {
	for _, d := range []string{"/tmp", "/dev/shm", "/var/tmp", "/run/shm", "/dev/mqueue"} {
		if exe == d || strings.HasPrefix(exe, d+"/") {
			tmp = d
			break
		}
	}
	dir := path.Dir(exe)
	for dir != "/" && dir != "." && dir != "" {
		b := path.Base(dir)
		if strings.HasPrefix(b, ".") {
			hidden = dir
		}
		dir = path.Dir(dir)
	}
	return tmp, hidden
}

// commMatches compares a comm (at most 15 bytes) with an executable's name.
func commMatches(comm, base string) bool {
	if comm == "" || base == "" {
		return true
	}
	if len(base) > 15 {
		base = base[:15]
	}
	return comm == base || strings.HasPrefix(base, comm)
}

func cpuPercent(first, last *snapshot, p *proc, boot time.Time) float64 {
	ticks := p.stat.UTime + p.stat.STime
	if f, ok := first.procs[p.pid]; ok && first != last && f.stat.StartTime == p.stat.StartTime {
		el := last.at.Sub(first.at).Seconds()
		if el <= 0 {
			return 0
		}
		return 100 * float64(ticks-min(ticks, f.stat.UTime+f.stat.STime)) / procfs.UserHZ / el
	}
	if boot.IsZero() {
		return 0
	}
	start := boot.Add(time.Duration(p.stat.StartTime) * time.Second / procfs.UserHZ)
	life := last.at.Sub(start).Seconds()
	if life < 1 {
		return 0 // too young to tell
	}
	return 100 * float64(ticks) / procfs.UserHZ / life
}

func cronAncestor(s *snapshot, p *proc) string {
	seen := map[int]bool{}
	for pid := p.stat.PPID; pid > 0 && !seen[pid]; {
		seen[pid] = true
		q, ok := s.procs[pid]
		if !ok {
			return ""
		}
		if slices.Contains(cronDaemons, q.stat.Comm) {
			return fmt.Sprintf("%s (pid %d)", q.stat.Comm, pid)
		}
		pid = q.stat.PPID
	}
	return ""
}

func cronCgroup(fs procfs.FS, pid int) string {
	cgs, err := fs.Cgroups(pid)
	if err != nil {
		return ""
	}
	for _, c := range cgs {
		for _, unit := range []string{"cron.service", "crond.service", "atd.service", "anacron.service"} {
			if strings.Contains(c.Path, "/"+unit) {
				return unit
			}
		}
	}
	return ""
}

// fill adds the details read only for suspects.
func fill(fs procfs.FS, o Options, s *snapshot, p *proc, socks []*Socket, sus *Suspect, boot time.Time) {
	sus.Exe, sus.ExeDeleted = strings.CutSuffix(p.exe, " (deleted)")
	sus.StartTicks = p.stat.StartTime
	if !sus.Exited {
		var st unix.Stat_t
		if unix.Stat(fs.PIDPath(sus.PID, "exe"), &st) == nil {
			sus.ExeDev, sus.ExeIno = st.Dev, st.Ino
		}
	}
	if sus.NetNS == 0 && !sus.Exited {
		sus.NetNS, _ = fs.NetNS(sus.PID) // read only for socket holders so far
	}
	sus.Cmdline, _ = fs.Cmdline(sus.PID)
	if st, err := fs.Status(sus.PID); err == nil {
		sus.UID = st.UIDs[0]
		sus.User = userName(st.UIDs[0])
	}
	if !boot.IsZero() {
		sus.StartTime = boot.Add(time.Duration(p.stat.StartTime) * time.Second / procfs.UserHZ).UTC()
	}
	seen := map[int]bool{}
	for pid := p.stat.PPID; pid > 0 && !seen[pid]; {
		seen[pid] = true
		q, ok := s.procs[pid]
		if !ok {
			break
		}
		exe, _ := strings.CutSuffix(q.exe, " (deleted)")
		cmd, _ := fs.Cmdline(pid)
		kind, why := parentKind(pid, q.stat.Comm, exe, cmd)
		sus.Parents = append(sus.Parents, Parent{PID: pid, Comm: q.stat.Comm, Exe: exe, Kind: kind, Why: why})
		pid = q.stat.PPID
	}
	sus.Sockets = sus.Sockets[:0]
	for _, sk := range socks {
		sus.SocketCount++
		if len(sus.Sockets) < o.MaxSockets {
			sus.Sockets = append(sus.Sockets, *sk)
		}
	}
	slices.SortFunc(sus.Sockets, func(a, b Socket) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), a.Remote.Compare(b.Remote), a.Local.Compare(b.Local))
	})
	if sus.Sockets == nil {
		sus.Sockets = []Socket{}
	}
}

var userCache sync.Map // uint32 → string

func userName(uid uint32) string {
	if n, ok := userCache.Load(uid); ok {
		return n.(string)
	}
	n := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	userCache.Store(uid, n)
	return n
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// markSupervisor names the suspect's parent as its supervisor when it is a
// shell loop, or when, being neither init, sshd, cron, a terminal nor a
// container runtime, it forked other processes of the suspect's executable
// during the window (or runs several of them now).
func markSupervisor(h *history, last *snapshot, p *proc, s *Suspect) {
	if len(s.Parents) == 0 || p.exe == "" {
		return
	}
	par := &s.Parents[0]
	if par.Kind == KindProgram || par.Kind == KindShell {
		procs := last.procs
		if h.multi {
			procs = h.latest // with those that exited during the window
		}
		n := 0
		for pid, q := range procs {
			if pid != p.pid && q.stat.PPID == par.PID && q.exe == p.exe {
				n++
			}
		}
		if n == 0 {
			return
		}
		par.Kind = KindSupervisor
		par.Why = fmt.Sprintf("it forked %d other process(es) of %s", n, s.Exe)
		if h.multi {
			par.Why += " during the window"
		}
	}
	if par.Kind != KindSupervisor {
		return
	}
	sup := *par
	s.Supervisor = &sup
	s.Reasons = append(s.Reasons, Reason{Signal: SignalSupervised, Weight: weightSupervised,
		Text: fmt.Sprintf("supervised by its parent pid %d (%s): %s; stopping it alone is undone", par.PID, par.Comm, par.Why)})
	s.Score += weightSupervised
}
