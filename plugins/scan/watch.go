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

	// loaded, when set, is called once the programs run, with why the
	// stratum program does not (nil when it does).
	loaded func(stratumErr error)
	// closing, in benchmarks, is called with the programs before they
	// are unloaded.
	closing func(w *watcher)
}

// ConnRate is what one process did on the network over one interval, as
// the kernel saw it happen: outbound TCP connection attempts, attributed
// when the kernel moved each socket to SYN_SENT (in the process's own
// connect call), so that attempts refused at once (RST) or never
// answered count as much as those that connect, which a snapshot of the
// socket table misses; their outcomes; packets from raw and packet
// sockets; UDP datagrams; and the first bytes of its TCP sends where they
// speak stratum.
type ConnRate struct {
	PID          int     `json:"pid"`
	Comm         string  `json:"comm"`
	Attempts     int     `json:"attempts"`
	PerSecond    float64 `json:"per_second"`
	Destinations int     `json:"destinations"` // distinct remote addresses
	Ports        int     `json:"ports"`        // distinct remote ports
	// Unrecorded are attempts (in Attempts) the ring buffer had no room
	// for, in a flood between two reads: counted in the kernel, without
	// their destinations, which Destinations and Ports leave out.
	Unrecorded int    `json:"unrecorded,omitempty"`
	Example    string `json:"example,omitempty"`
	// Outcomes of its attempts that ended in the interval, counted in the
	// kernel as each left SYN_SENT (for a RST, in whatever context it
	// arrived): Answered connected (SYN-ACK), Refused got a RST,
	// Unanswered timed out, met an unreachable, or was given up by the
	// process before any answer. An attempt still waiting is in none.
	Answered   int `json:"answered,omitempty"`
	Refused    int `json:"refused,omitempty"`
	Unanswered int `json:"unanswered,omitempty"`
	// RawPackets are packets it sent from raw IP or AF_PACKET sockets
	// (hand-built packets: masscan, zmap, hping3); a capturer such as
	// tcpdump holds the same sockets and sends none.
	RawPackets       int     `json:"raw_packets,omitempty"`
	RawPerSecond     float64 `json:"raw_per_second,omitempty"`
	FromPacketSocket bool    `json:"from_packet_socket,omitempty"`
	// ICMPPackets are packets it sent from raw IP sockets opened for ICMP
	// (ping, fping, monitoring agents): not in RawPackets.
	ICMPPackets int `json:"icmp_packets,omitempty"`
	// UDPDatagrams are the UDP datagrams it sent; UDPDestinations the
	// destinations (address and port) among them it had not sent to
	// before since Watch started (at most 65,536 remembered).
	UDPDatagrams    int    `json:"udp_datagrams,omitempty"`
	UDPDestinations int    `json:"udp_destinations,omitempty"`
	UDPExample      string `json:"udp_example,omitempty"`
	// Stratum is the stratum method (mining.subscribe, login, submit, …)
	// that began a TCP send of it to StratumPeer: a miner talking to its
	// pool, whatever it is called. Only the first send seen on each
	// connection is looked at, and not through TLS.
	Stratum     string    `json:"stratum,omitempty"`
	StratumPeer string    `json:"stratum_peer,omitempty"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
}

// Watch attributes every outbound TCP connection attempt of the host to its
// process in real time, with BPF programs (cilium/ebpf; the few kernel
// struct offsets they read come from the running kernel's BTF), and calls
// report every Interval with the processes that did anything in it, most
// attempts and packets first (nothing when none did). It runs until ctx is
// done and returns nil then; it wraps ErrWatchUnsupported when the
// programs cannot run.
//
// Besides attempts and their outcomes it counts, in the sender's own call
// (the net_dev_queue raw tracepoint), packets sent from raw IP and
// AF_PACKET sockets (a raw SYN sender transmits, a capturer holding the
// same kind of socket does not) and UDP datagrams with their new
// destinations; and, where the kernel has the tcp_sendmsg_locked
// tracepoint (Linux 6.10) or BPF trampolines (fentry on tcp_sendmsg), it
// reads the first bytes of the first send on each TCP socket and reports
// those that speak stratum.
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
	if beforeLoad != nil {
		beforeLoad()
	}
	w, err := loadWatch()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatchUnsupported, err)
	}
	defer w.close()
	if opts.closing != nil {
		defer opts.closing(w)
	}
	if w.stratumErr != nil {
		log.Info("scan: stratum first bytes not looked at", "err", w.stratumErr)
	}
	if opts.loaded != nil {
		opts.loaded(w.stratumErr)
	}
	log.Debug("scan: watching connection attempts", "tracepoints", "inet_sock_set_state, net_dev_queue", "stratum", w.stratumErr == nil)
	rd, err := ringbuf.NewReader(w.ring)
	if err != nil {
		return fmt.Errorf("%w: ring buffer reader: %w", ErrWatchUnsupported, err)
	}
	defer rd.Close()

	// One goroutine reads the ring and reports: the programs send without
	// waking the reader (BPF_RB_NO_WAKEUP), so records are read in
	// batches every watchPoll instead of one wake-up for each of tens of
	// thousands a second, and no lock is taken per record.
	fs := procfs.NewDefaultFS()
	agg := map[uint32]*connAgg{}
	prev := map[uint32]counted{}
	get := func(tgid uint32) *connAgg {
		a := agg[tgid]
		if a == nil {
			a = &connAgg{}
			agg[tgid] = a
		}
		return a
	}
	since := time.Now()
	next := since.Add(opts.Interval)
	flush := func(now time.Time) {
		w.addCounts(prev, get)
		if len(agg) > 0 {
			report(rates(fs, agg, since, now))
			agg = map[uint32]*connAgg{}
		}
		since = now
	}
	// The ring is drained every watchPoll on a Go timer, never in a
	// blocking system call: a thread blocked in epoll_wait keeps the Go
	// runtime's monitor waking (sysmon), which cost more than the reading.
	tick := time.NewTicker(watchPoll(opts.Interval))
	defer tick.Stop()
	var rec ringbuf.Record
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			w.drain(rd, &rec, get, nil)
			flush(time.Now()) // the interval cut short is reported too
			return nil
		case now = <-tick.C:
		}
		if err := w.drain(rd, &rec, get, func() {
			if now := time.Now(); !now.Before(next) { // a long drain
				flush(now)
				next = now.Add(opts.Interval)
			}
		}); err != nil {
			return fmt.Errorf("scan: watch: %w", err)
		}
		if !now.Before(next) {
			flush(now)
			for !next.After(now) {
				next = next.Add(opts.Interval)
			}
		}
	}
}

// drain reads the records the ring holds, without waiting, into the
// interval's aggregates; every 4,096 records it calls every (when set).
func (w *watcher) drain(rd *ringbuf.Reader, rec *ringbuf.Record, get func(uint32) *connAgg, every func()) error {
	if rd.AvailableBytes() == 0 {
		return nil
	}
	rd.SetDeadline(time.Now()) // past: the poll returns at once
	for n := 1; ; n++ {
		if err := rd.ReadInto(rec); errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		} else if err != nil {
			return err
		}
		if n%4096 == 0 && every != nil {
			every()
		}
		ev, ok := parseConnEvent(rec.RawSample)
		if !ok {
			continue
		}
		a := get(ev.tgid)
		switch ev.kind {
		case evUDP:
			a.udpNew++
			if a.udpExample == "" {
				a.udpExample = ev.dst.String()
			}
		case evStratum:
			if m, ok := stratumMethod(ev.payload); ok && a.stratum == "" {
				a.stratum, a.stratumPeer = m, ev.dst.String()
			}
		default:
			a.add(ev.dst)
		}
	}
}

// counted is what the kernel had counted for a thread group at the last
// read, and at which read that was.
type counted struct {
	vals [numCounters]uint64
	read uint64
}

// addCounts adds to the interval's aggregates what the kernel counted per
// thread group since the last call (prev holds the totals then; a thread
// group the kernel's map no longer holds is forgotten, so prev is no
// larger than the map).
func (w *watcher) addCounts(prev map[uint32]counted, get func(uint32) *connAgg) {
	w.reads++
	complete := w.readCounts(func(tgid uint32, cur [numCounters]uint64) {
		p := prev[tgid]
		prev[tgid] = counted{cur, w.reads}
		if p.vals == cur {
			return
		}
		var d [numCounters]int
		for i := range cur {
			if cur[i] >= p.vals[i] {
				d[i] = int(cur[i] - p.vals[i])
			} else {
				d[i] = int(cur[i]) // evicted and counted again from zero
			}
		}
		a := get(tgid)
		a.answered += d[cntAnswered]
		a.refused += d[cntRefused]
		a.unanswered += d[cntUnanswered]
		a.udp += d[cntUDP]
		a.rawTx += d[cntRawIP] + d[cntRawPacket]
		a.icmp += d[cntRawICMP]
		a.lost += d[cntLost]
		a.packetTx = a.packetTx || d[cntRawPacket] > 0
	})
	if !complete {
		return // those not read this time may be there still
	}
	for tgid, p := range prev {
		if p.read != w.reads {
			delete(prev, tgid)
		}
	}
}

// readCounts calls fn with every thread group's counters: a batch of
// entries per system call where the kernel has batch lookups (5.6+), else
// two calls per entry (next key, lookup). It reports whether it read them
// all.
func (w *watcher) readCounts(fn func(uint32, [numCounters]uint64)) bool {
	if !w.noBatch {
		if w.keys == nil {
			w.keys, w.vals = make([]uint32, 256), make([][numCounters]uint64, 256)
		}
		var cursor ebpf.MapBatchCursor
		for {
			n, err := w.counts.BatchLookup(&cursor, w.keys, w.vals, nil)
			for i := range n {
				fn(w.keys[i], w.vals[i])
			}
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return true
			}
			if err == nil {
				continue
			}
			if n > 0 || !errors.Is(err, ebpf.ErrNotSupported) {
				return false // read again at the next interval
			}
			w.noBatch = true
			break
		}
	}
	var tgid uint32
	var cur [numCounters]uint64
	it := w.counts.Iterate()
	for it.Next(&tgid, &cur) {
		fn(tgid, cur)
	}
	return it.Err() == nil
}

type connAgg struct {
	rawTx    int  // packets sent from raw IP or AF_PACKET sockets
	packetTx bool // some of them from AF_PACKET
	n        int
	dsts     map[netip.Addr]bool // bounded at 1<<16
	last     netip.Addr          // the address added last: most attempts repeat it
	ports    *[1 << 10]uint64    // a bit per port
	example  string

	answered, refused, unanswered int
	udp, udpNew                   int
	icmp                          int // packets from raw ICMP sockets
	lost                          int // attempts the ring had no room for
	udpExample                    string
	stratum, stratumPeer          string
}

func (a *connAgg) add(dst netip.AddrPort) {
	if a.n == 0 {
		a.example = dst.String()
		a.dsts = map[netip.Addr]bool{}
		a.ports = new([1 << 10]uint64)
	}
	a.n++
	if addr := dst.Addr(); addr != a.last || len(a.dsts) == 0 {
		a.last = addr
		if len(a.dsts) < 1<<16 {
			a.dsts[addr] = true
		}
	}
	p := dst.Port()
	a.ports[p>>6] |= 1 << (p & 63)
}

func (a *connAgg) nports() int {
	if a.ports == nil {
		return 0
	}
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
		r := ConnRate{PID: int(tgid), Attempts: a.n + a.lost, Unrecorded: a.lost, Destinations: len(a.dsts), Ports: a.nports(), Example: a.example, Since: since, Until: until,
			Answered: a.answered, Refused: a.refused, Unanswered: a.unanswered,
			RawPackets: a.rawTx, FromPacketSocket: a.packetTx, ICMPPackets: a.icmp,
			UDPDatagrams: a.udp, UDPDestinations: a.udpNew, UDPExample: a.udpExample,
			Stratum: a.stratum, StratumPeer: a.stratumPeer}
		if secs > 0 {
			r.PerSecond = float64(r.Attempts) / secs
			r.RawPerSecond = float64(a.rawTx) / secs
		}
		if st, err := fs.Stat(r.PID); err == nil {
			r.Comm = st.Comm
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ConnRate) int {
		return cmp.Or(cmp.Compare(b.Attempts+b.RawPackets, a.Attempts+a.RawPackets), cmp.Compare(b.UDPDestinations, a.UDPDestinations), cmp.Compare(a.PID, b.PID))
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

// beforeLoad, in tests, runs before Watch loads its programs: a test
// makes the load slow, as on a loaded host.
var beforeLoad func()

// watchPoll is how often the reader looks at the ring buffer: half the
// interval, at most 200 ms (each look wakes the process; 4 MiB of ring
// holds 100,000 records, 2 s at 50,000 attempts a second).
func watchPoll(interval time.Duration) time.Duration {
	return min(max(interval/2, 10*time.Millisecond), 200*time.Millisecond)
}

// connEvent is one ring buffer record: thread group id (4 bytes), family
// (2), destination port (2, network order), IPv4 destination (4), kind
// (4), IPv6 destination (16); for evStratum, stratumBytes of payload
// follow.
type connEvent struct {
	kind    uint32
	tgid    uint32
	dst     netip.AddrPort // evConnect, evUDP, evStratum
	payload []byte         // evStratum: the send's first bytes, trailing zeros cut
}

const connEventSize = 32

const (
	afInet  = 2
	afInet6 = 10
)

// parseConnEvent decodes one ring buffer record; ok is false for a record
// of the wrong size, kind or family. An evStratum payload points into b.
func parseConnEvent(b []byte) (connEvent, bool) {
	if len(b) < connEventSize {
		return connEvent{}, false
	}
	ev := connEvent{tgid: binary.NativeEndian.Uint32(b[0:]), kind: binary.NativeEndian.Uint32(b[12:])}
	switch ev.kind {
	case evConnect, evUDP:
	case evStratum:
		if len(b) < connEventSize+stratumBytes {
			return connEvent{}, false
		}
		p := b[connEventSize : connEventSize+stratumBytes]
		for len(p) > 0 && p[len(p)-1] == 0 {
			p = p[:len(p)-1]
		}
		ev.payload = p
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

// WatchSupported says whether Watch can run here: nil, or an error
// wrapping ErrWatchUnsupported with the reason. It loads and unloads the
// programs.
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

// watchDuring starts Watch in the background, and returns once its
// programs run (or could not be loaded); stop ends it and returns
// what it attributed, summed by PID (the port and destination counts are
// the largest of one interval), over how many seconds, and how. Where
// Watch cannot run, stop returns nil and says why.
func watchDuring(ctx context.Context, log *slog.Logger) (stop func() (map[int]ConnRate, float64, Attribution)) {
	wctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	totals := map[int]ConnRate{}
	start := time.Now()
	errc := make(chan error, 1)
	attr := Attribution{Live: true}
	ready := make(chan struct{})
	var once sync.Once
	loaded := func(stratumErr error) {
		mu.Lock()
		defer mu.Unlock()
		start = time.Now()
		attr.Stratum = stratumErr == nil
		if stratumErr != nil {
			attr.StratumWhy = stratumErr.Error()
		}
		once.Do(func() { close(ready) })
	}
	defer func() {
		// The window starts once the programs run (loading them parses
		// the kernel's BTF: 0.1 s, seconds on a loaded host), or once
		// they could not.
		select {
		case <-ready:
		case <-ctx.Done():
		}
	}()
	go func() {
		defer once.Do(func() { close(ready) })
		errc <- Watch(wctx, WatchOptions{Interval: time.Second, Logger: log, loaded: loaded}, func(rs []ConnRate) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				t := totals[r.PID]
				t.PID, t.Comm = r.PID, cmp.Or(r.Comm, t.Comm)
				t.Attempts += r.Attempts
				t.Unrecorded += r.Unrecorded
				t.Ports = max(t.Ports, r.Ports)
				t.Destinations = max(t.Destinations, r.Destinations)
				t.Example = cmp.Or(t.Example, r.Example)
				t.RawPackets += r.RawPackets
				t.ICMPPackets += r.ICMPPackets
				t.FromPacketSocket = t.FromPacketSocket || r.FromPacketSocket
				t.Answered += r.Answered
				t.Refused += r.Refused
				t.Unanswered += r.Unanswered
				t.UDPDatagrams += r.UDPDatagrams
				t.UDPDestinations += r.UDPDestinations // each counted once, the first time
				t.UDPExample = cmp.Or(t.UDPExample, r.UDPExample)
				if t.Stratum == "" {
					t.Stratum, t.StratumPeer = r.Stratum, r.StratumPeer
				}
				totals[r.PID] = t
			}
		})
	}()
	return func() (map[int]ConnRate, float64, Attribution) {
		cancel()
		if err := <-errc; err != nil {
			log.Info("scan: no live BPF attribution; connect rates come from sampling", "err", err)
			return nil, 0, Attribution{Why: err.Error()}
		}
		mu.Lock()
		defer mu.Unlock()
		return totals, time.Since(start).Seconds(), attr
	}
}
