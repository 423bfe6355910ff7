package scan

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// ErrWatchUnsupported is returned by Watch where the kernel cannot run its
// BPF program (no root, no BTF, no raw tracepoints, another PID
// namespace); callers fall back to sampling (Detect with a Window).
var ErrWatchUnsupported = errors.New("scan: live BPF attribution unavailable here")

// WatchOptions configure Watch.
type WatchOptions struct {
	// Interval is how often Watch reports; default 1 s.
	Interval time.Duration
	// Logger receives debug records; default discards.
	Logger *slog.Logger
}

// ConnRate is one process's outbound TCP connection attempts over one
// interval, attributed when the kernel moved each socket to SYN_SENT (in
// the process's own connect call): attempts that are refused at once (RST)
// or never answered count as much as those that connect, which a snapshot
// of the socket table misses.
type ConnRate struct {
	PID          int     `json:"pid"`
	Comm         string  `json:"comm"`
	Attempts     int     `json:"attempts"`
	PerSecond    float64 `json:"per_second"`
	Destinations int     `json:"destinations"` // distinct remote addresses
	Ports        int     `json:"ports"`        // distinct remote ports
	Example      string  `json:"example,omitempty"`
	// RawPackets are packets it sent from raw IP or AF_PACKET sockets
	// (hand-built packets: masscan, zmap, hping3); a capturer such as
	// tcpdump holds the same sockets and sends none.
	RawPackets       int       `json:"raw_packets,omitempty"`
	RawPerSecond     float64   `json:"raw_per_second,omitempty"`
	FromPacketSocket bool      `json:"from_packet_socket,omitempty"`
	Since            time.Time `json:"since"`
	Until            time.Time `json:"until"`
}

// Watch attributes every outbound TCP connection attempt of the host to its
// process in real time, with a BPF program on the inet_sock_set_state raw
// tracepoint (cilium/ebpf; the few struct sock_common field offsets it
// reads come from the running kernel's BTF), and calls report every
// Interval with the processes that made attempts in it, most attempts
// first (nothing when none did). It runs until ctx is done and returns
// nil then; it wraps ErrWatchUnsupported when the program cannot run.
//
// Packets sent from raw IP and AF_PACKET sockets are attributed too (a
// second program, on the net_dev_queue raw tracepoint, in the sender's own
// call): a raw SYN sender transmits, a capturer holding the same kind of
// socket does not. Stratum's first bytes are not looked at.
func Watch(ctx context.Context, opts WatchOptions, report func([]ConnRate)) error {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !initialPIDNS() {
		return fmt.Errorf("%w: not in the initial PID namespace (the kernel's PIDs would not be this /proc's)", ErrWatchUnsupported)
	}
	w, err := loadWatch()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatchUnsupported, err)
	}
	defer w.close()
	log.Debug("scan: watching connection attempts", "tracepoint", "inet_sock_set_state")

	var mu sync.Mutex
	agg := map[uint32]*connAgg{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rec ringbuf.Record
		// The program sends without waking the reader (BPF_RB_NO_WAKEUP):
		// records are read in batches, every watchPoll, instead of one
		// wake-up for each of tens of thousands a second.
		w.rd.SetDeadline(time.Now().Add(watchPoll))
		for {
			if err := w.rd.ReadInto(&rec); errors.Is(err, os.ErrDeadlineExceeded) {
				w.rd.SetDeadline(time.Now().Add(watchPoll))
				continue
			} else if err != nil {
				return // closed
			}
			ev, ok := parseConnEvent(rec.RawSample)
			if !ok {
				continue
			}
			mu.Lock()
			a := agg[ev.tgid]
			if a == nil {
				a = &connAgg{dsts: map[netip.Addr]bool{}}
				agg[ev.tgid] = a
			}
			if ev.raw {
				a.rawTx++
				a.packetTx = a.packetTx || ev.packet
			} else {
				a.add(ev.dst)
			}
			mu.Unlock()
		}
	}()
	fs := procfs.NewDefaultFS()
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			w.rd.Close()
			<-done
			// The interval cut short is reported too.
			if len(agg) > 0 {
				report(rates(fs, agg, since, time.Now()))
			}
			return nil
		case now := <-tick.C:
			mu.Lock()
			cur := agg
			agg = map[uint32]*connAgg{}
			mu.Unlock()
			if len(cur) > 0 {
				report(rates(fs, cur, since, now))
			}
			since = now
		}
	}
}

type connAgg struct {
	rawTx    int  // packets sent from raw IP or AF_PACKET sockets
	packetTx bool // some of them from AF_PACKET
	n        int
	dsts     map[netip.Addr]bool // bounded at 1<<16
	last     netip.Addr          // the address added last: most attempts repeat it
	ports    [1 << 10]uint64     // a bit per port
	example  string
}

func (a *connAgg) add(dst netip.AddrPort) {
	if a.n == 0 {
		a.example = dst.String()
	}
	a.n++
	if addr := dst.Addr(); addr != a.last {
		a.last = addr
		if len(a.dsts) < 1<<16 {
			a.dsts[addr] = true
		}
	}
	p := dst.Port()
	a.ports[p>>6] |= 1 << (p & 63)
}

func (a *connAgg) nports() int {
	n := 0
	for _, w := range a.ports {
		n += bits.OnesCount64(w)
	}
	return n
}

func rates(fs procfs.FS, agg map[uint32]*connAgg, since, until time.Time) []ConnRate {
	secs := until.Sub(since).Seconds()
	out := make([]ConnRate, 0, len(agg))
	for tgid, a := range agg {
		r := ConnRate{PID: int(tgid), Attempts: a.n, Destinations: len(a.dsts), Ports: a.nports(), Example: a.example, Since: since, Until: until,
			RawPackets: a.rawTx, FromPacketSocket: a.packetTx}
		if secs > 0 {
			r.PerSecond = float64(a.n) / secs
			r.RawPerSecond = float64(a.rawTx) / secs
		}
		if st, err := fs.Stat(r.PID); err == nil {
			r.Comm = st.Comm
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ConnRate) int {
		return cmp.Or(cmp.Compare(b.Attempts+b.RawPackets, a.Attempts+a.RawPackets), cmp.Compare(a.PID, b.PID))
	})
	return out
}

// initialPIDNS reports whether the caller is in the initial PID namespace:
// its NSpid has one entry.
func initialPIDNS() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "NSpid:"); ok {
			return len(strings.Fields(rest)) == 1
		}
	}
	return false
}

// connEvent is what the program sends for each attempt: tgid (4 bytes),
// family (2), destination port (2, network order), IPv4 destination (4),
// padding (4), IPv6 destination (16).
type connEvent struct {
	tgid uint32
	dst  netip.AddrPort // a connect attempt
	// A packet sent from a raw IP (SOCK_RAW) or AF_PACKET socket: kind 1
	// in bytes 12-16, the family and socket type in place of family and
	// port.
	raw    bool
	packet bool // AF_PACKET rather than raw IP
}

const connEventSize = 32

const (
	afInet  = 2
	afInet6 = 10
)

// parseConnEvent decodes one ring buffer record; ok is false for a record
// of the wrong size or family.
func parseConnEvent(b []byte) (connEvent, bool) {
	if len(b) < connEventSize {
		return connEvent{}, false
	}
	ev := connEvent{tgid: binary.NativeEndian.Uint32(b[0:])}
	switch binary.NativeEndian.Uint32(b[12:]) {
	case 0:
	case 1:
		fam, typ := binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint16(b[6:])
		if fam != afPacket && typ != sockRaw {
			return connEvent{}, false
		}
		ev.raw, ev.packet = true, fam == afPacket
		return ev, true
	default:
		return connEvent{}, false
	}
	port := binary.BigEndian.Uint16(b[6:])
	switch binary.NativeEndian.Uint16(b[4:]) {
	case afInet:
		ev.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), port)
	case afInet6:
		ev.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[16:32])).Unmap(), port)
	default:
		return connEvent{}, false
	}
	return ev, true
}

type watcher struct {
	prog, xprog *ebpf.Program
	m           *ebpf.Map
	l, xl       link.Link
	rd          *ringbuf.Reader
}

func (w *watcher) close() {
	if w.rd != nil {
		w.rd.Close()
	}
	for _, l := range []link.Link{w.l, w.xl} {
		if l != nil {
			l.Close()
		}
	}
	for _, p := range []*ebpf.Program{w.prog, w.xprog} {
		if p != nil {
			p.Close()
		}
	}
	if w.m != nil {
		w.m.Close()
	}
}

// sockOffsets are the offsets in struct sock of what the program reads,
// from the kernel's BTF (struct sock starts with its sock_common).
type sockOffsets struct {
	family, dport, daddr, v6daddr uint32
	skType                        uint32 // struct sock's sk_type
	skbSk                         uint32 // struct sk_buff's sk
}

func kernelSockOffsets() (sockOffsets, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return sockOffsets{}, err
	}
	var sc *btf.Struct
	if err := spec.TypeByName("sock_common", &sc); err != nil {
		return sockOffsets{}, err
	}
	var sk *btf.Struct
	if err := spec.TypeByName("sock", &sk); err != nil {
		return sockOffsets{}, err
	}
	base, ok := memberOffset(sk, "__sk_common")
	if !ok {
		return sockOffsets{}, errors.New("struct sock has no __sk_common")
	}
	var o sockOffsets
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"skc_family", &o.family}, {"skc_dport", &o.dport}, {"skc_daddr", &o.daddr}, {"skc_v6_daddr", &o.v6daddr}} {
		off, ok := memberOffset(sc, f.name)
		if !ok {
			return sockOffsets{}, fmt.Errorf("struct sock_common has no %s", f.name)
		}
		*f.dst = base + off
	}
	off, ok := memberOffset(sk, "sk_type")
	if !ok || bitfield(sk, "sk_type") {
		return sockOffsets{}, errors.New("struct sock has no plain sk_type")
	}
	o.skType = off
	var skb *btf.Struct
	if err := spec.TypeByName("sk_buff", &skb); err != nil {
		return sockOffsets{}, err
	}
	if o.skbSk, ok = memberOffset(skb, "sk"); !ok {
		return sockOffsets{}, errors.New("struct sk_buff has no sk")
	}
	return o, nil
}

// bitfield reports whether a direct member of s is a bit field.
func bitfield(s *btf.Struct, name string) bool {
	for _, m := range s.Members {
		if m.Name == name {
			return m.BitfieldSize != 0
		}
	}
	return false
}

// memberOffset finds a member by name in a struct or union, looking into
// anonymous members, and returns its byte offset.
func memberOffset(t btf.Type, name string) (uint32, bool) {
	var members []btf.Member
	switch c := t.(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return uint32(m.Offset.Bytes()), true
		}
		if m.Name == "" {
			if off, ok := memberOffset(btf.UnderlyingType(m.Type), name); ok {
				return uint32(m.Offset.Bytes()) + off, true
			}
		}
	}
	return 0, false
}

// tcpSynSent is TCP_SYN_SENT.
const tcpSynSent = 2

// bpfRBNoWakeup is BPF_RB_NO_WAKEUP: the record is queued without waking
// the reader, which polls every watchPoll.
const (
	bpfRBNoWakeup = 1
	watchPoll     = 50 * time.Millisecond
)

// attachRaw loads a raw tracepoint program and attaches it to tracepoint.
func attachRaw(name, tracepoint string, insns asm.Instructions) (*ebpf.Program, link.Link, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: name, Type: ebpf.RawTracepoint, License: "Dual MIT/GPL", Instructions: insns})
	if err != nil {
		return nil, nil, fmt.Errorf("load program %s: %w", name, err)
	}
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: tracepoint, Program: prog})
	if err != nil {
		prog.Close()
		return nil, nil, fmt.Errorf("attach %s: %w", tracepoint, err)
	}
	return prog, l, nil
}

func loadWatch() (*watcher, error) {
	off, err := kernelSockOffsets()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	w := &watcher{}
	w.m, err = ebpf.NewMap(&ebpf.MapSpec{Name: "abk_conn", Type: ebpf.RingBuf, MaxEntries: 1 << 22})
	if err != nil {
		return nil, fmt.Errorf("ring buffer: %w", err)
	}
	if w.prog, w.l, err = attachRaw("abk_connect", "inet_sock_set_state", connProgram(off, w.m.FD())); err != nil {
		w.close()
		return nil, err
	}
	if w.xprog, w.xl, err = attachRaw("abk_xmit", "net_dev_queue", xmitProgram(off, w.m.FD())); err != nil {
		w.close()
		return nil, err
	}
	w.rd, err = ringbuf.NewReader(w.m)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("ring buffer reader: %w", err)
	}
	return w, nil
}

// probeRead reads size bytes at base+fieldOff into the stack at stackOff.
func probeRead(stackOff int16, size int32, base asm.Register, fieldOff uint32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, int32(stackOff)),
		asm.Mov.Imm(asm.R2, size),
		asm.Mov.Reg(asm.R3, base),
		asm.Add.Imm(asm.R3, int32(fieldOff)),
		asm.FnProbeReadKernel.Call(),
	}
}

// Socket families and types the transmit program tells apart.
const (
	afPacket = 17
	sockRaw  = 3
)

// xmitProgram is the raw tracepoint program on net_dev_queue (args: skb):
// for a packet queued by a raw IP socket (SOCK_RAW) or an AF_PACKET socket,
// in the sending process's own call, it sends the current thread group id,
// the socket's family and type, and the kind 1 to the ring buffer. Packets
// of stream and datagram sockets, and those with no socket, are left out.
func xmitProgram(o sockOffsets, ringFD int) asm.Instructions {
	const ev = -connEventSize
	const skSlot = ev - 8
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), // skb
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R10, skSlot, asm.R1, asm.DWord),
	}
	insns = append(insns, probeRead(skSlot, 8, asm.R6, o.skbSk)...)
	insns = append(insns,
		asm.LoadMem(asm.R7, asm.R10, skSlot, asm.DWord), // sk
		asm.JEq.Imm(asm.R7, 0, "exit"),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R10, ev, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+8, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+16, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+24, asm.R1, asm.DWord),
	)
	insns = append(insns, probeRead(ev+4, 2, asm.R7, o.family)...)
	insns = append(insns, probeRead(ev+6, 2, asm.R7, o.skType)...)
	insns = append(insns,
		asm.LoadMem(asm.R8, asm.R10, ev+4, asm.Half),
		asm.JEq.Imm(asm.R8, afPacket, "send"),
		asm.LoadMem(asm.R8, asm.R10, ev+6, asm.Half),
		asm.JEq.Imm(asm.R8, sockRaw, "send"),
		asm.Ja.Label("exit"),
		asm.FnGetCurrentPidTgid.Call().WithSymbol("send"),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ev, asm.R0, asm.Word),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreMem(asm.R10, ev+12, asm.R1, asm.Word),
		asm.LoadMapPtr(asm.R1, ringFD),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, ev),
		asm.Mov.Imm(asm.R3, connEventSize),
		asm.Mov.Imm(asm.R4, bpfRBNoWakeup),
		asm.FnRingbufOutput.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return insns
}

// connProgram is the raw tracepoint program: for a socket moving to
// SYN_SENT (args: sk, oldstate, newstate), it sends the current thread
// group id, the family, destination port and address to the ring buffer.
func connProgram(o sockOffsets, ringFD int) asm.Instructions {
	const ev = -connEventSize // the event on the stack: r10-32 … r10-1
	read := func(stackOff int16, size int32, fieldOff uint32) asm.Instructions {
		return probeRead(stackOff, size, asm.R7, fieldOff)
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R8, asm.R6, 16, asm.DWord), // newstate
		asm.JNE.Imm(asm.R8, tcpSynSent, "exit"),
		asm.LoadMem(asm.R7, asm.R6, 0, asm.DWord), // sk
		// Zero the event.
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R10, ev, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+8, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+16, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, ev+24, asm.R1, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ev, asm.R0, asm.Word),
	}
	insns = append(insns, read(ev+4, 2, o.family)...)
	insns = append(insns, read(ev+6, 2, o.dport)...)
	insns = append(insns, read(ev+8, 4, o.daddr)...)
	insns = append(insns, read(ev+16, 16, o.v6daddr)...)
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, ringFD),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, ev),
		asm.Mov.Imm(asm.R3, connEventSize),
		asm.Mov.Imm(asm.R4, bpfRBNoWakeup),
		asm.FnRingbufOutput.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return insns
}

// WatchSupported says whether Watch can run here: nil, or an error
// wrapping ErrWatchUnsupported with the reason. It loads and unloads the
// program.
func WatchSupported() error {
	if !initialPIDNS() {
		return fmt.Errorf("%w: not in the initial PID namespace", ErrWatchUnsupported)
	}
	w, err := loadWatch()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatchUnsupported, err)
	}
	w.close()
	return nil
}

// watchDuring starts Watch in the background; stop ends it and returns
// what it attributed, summed by PID (the port and destination counts are
// the largest of one interval), and over how many seconds. Where Watch
// cannot run, stop returns nil.
func watchDuring(ctx context.Context, log *slog.Logger) (stop func() (map[int]ConnRate, float64)) {
	wctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	totals := map[int]ConnRate{}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- Watch(wctx, WatchOptions{Interval: 250 * time.Millisecond, Logger: log}, func(rs []ConnRate) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				t := totals[r.PID]
				t.PID, t.Comm = r.PID, cmp.Or(r.Comm, t.Comm)
				t.Attempts += r.Attempts
				t.Ports = max(t.Ports, r.Ports)
				t.Destinations = max(t.Destinations, r.Destinations)
				t.Example = cmp.Or(t.Example, r.Example)
				t.RawPackets += r.RawPackets
				t.FromPacketSocket = t.FromPacketSocket || r.FromPacketSocket
				totals[r.PID] = t
			}
		})
	}()
	return func() (map[int]ConnRate, float64) {
		cancel()
		if err := <-errc; err != nil {
			log.Info("scan: no live BPF attribution; connect rates come from sampling", "err", err)
			return nil, 0
		}
		mu.Lock()
		defer mu.Unlock()
		return totals, time.Since(start).Seconds()
	}
}
