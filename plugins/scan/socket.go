package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan/internal/taskfiles"
	"golang.org/x/sys/unix"
)

// Protocols a Socket can have.
const (
	ProtoTCP    = "tcp"
	ProtoUDP    = "udp"
	ProtoRaw    = "raw"
	ProtoPacket = "packet"
)

// protoOrder is the protocols in the order of their names.
var protoOrder = []string{ProtoPacket, ProtoRaw, ProtoTCP, ProtoUDP}

// Socket is one socket and the processes holding it.
type Socket struct {
	Proto  string         `json:"proto"`            // "tcp", "udp", "raw", "packet"
	Family int            `json:"family,omitempty"` // 4 or 6; 0 for packet
	Local  netip.AddrPort `json:"local,omitzero"`   // for raw sockets the port is the IP protocol
	Remote netip.AddrPort `json:"remote,omitzero"`
	State  string         `json:"state,omitempty"` // TCP: "SYN_SENT", "ESTABLISHED", …; UDP: "UNCONN"/"ESTABLISHED"
	UID    uint32         `json:"uid"`
	Inode  uint64         `json:"inode"`
	NetNS  uint64         `json:"netns"`           // inode of the network namespace
	PIDs   []int          `json:"pids,omitempty"`  // processes holding it, ascending
	Iface  int            `json:"iface,omitempty"` // packet: interface index (0 = any)
	// EtherType is a packet socket's protocol (0x0003 = all).
	EtherType uint16 `json:"ethertype,omitempty"`
}

func (s Socket) String() string {
	switch s.Proto {
	case ProtoPacket:
		return fmt.Sprintf("packet iface=%d proto=0x%04x inode=%d", s.Iface, s.EtherType, s.Inode)
	case ProtoRaw:
		return fmt.Sprintf("raw%d %s proto=%d inode=%d", s.Family, s.Local.Addr(), s.Local.Port(), s.Inode)
	}
	return fmt.Sprintf("%s%d %s -> %s %s", s.Proto, s.Family, s.Local, s.Remote, s.State)
}

// proc is what one pass learns about a process.
type proc struct {
	pid     int
	stat    procfs.ProcStat
	exe     string // link target, "" if unreadable
	netns   uint64
	inodes  []uint64
	nfd     int
	kthread bool
	fdErr   bool // its descriptors could not be read
	// unlisted: running, seen by the BPF iterator, but missing from the
	// /proc listing (hidden from getdents, as kernel rootkits do).
	unlisted bool
}

// snapshot is one pass over the host.
type snapshot struct {
	at    time.Time
	procs map[int]*proc
	socks map[uint64]*Socket // by inode; socket inodes are unique host-wide
	held  int                // sockets of socks with a holder
}

// Sockets returns every TCP, UDP, raw and packet socket of the host, in
// every network namespace a process is in, each with the processes that
// hold it. Sockets no process holds (orphans) are listed with no PIDs;
// TIME_WAIT and request mini-sockets, which have no inode, are left out.
// The order is by namespace, protocol, then inode (creation order).
func Sockets(ctx context.Context, opts Options) ([]Socket, error) {
	o := opts.withDefaults()
	fs, err := procfs.NewFS(o.Root)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	fs, _, done := liveView(fs, o.Logger)
	defer done()
	snap, err := take(ctx, fs, o, false)
	if err != nil {
		return nil, err
	}
	return sortedSockets(snap.socks), nil
}

// sortedSockets copies the sockets out in the order of Sockets.
func sortedSockets(socks map[uint64]*Socket) []Socket {
	// Sort numbers, not sockets: moving a Socket costs more than comparing
	// a number, and there may be tens of thousands of them. The order
	// (namespace, protocol, inode) and the socket's place in ptrs pack
	// into one number: rank of the namespace (10 bits), of the protocol
	// (2 bits), the inode (32 bits on Linux) and the place (20 bits); a
	// table where one does not fit is sorted field by field.
	const placeBits, inodeBits, protoBits = 20, 32, 2
	ptrs := make([]*Socket, 0, len(socks))
	var nss []uint64 // namespaces, usually one or a few
	last := uint64(0)
	for _, s := range socks {
		ptrs = append(ptrs, s)
		if s.NetNS != last || len(nss) == 0 {
			if last = s.NetNS; !slices.Contains(nss, last) {
				nss = append(nss, last)
			}
		}
	}
	slices.Sort(nss)
	packed := len(ptrs) < 1<<placeBits && len(nss) <= 1<<(64-placeBits-inodeBits-protoBits)
	keys := make([]uint64, 0, len(ptrs))
	lastNS, lastRank := uint64(0), uint64(0)
	if len(nss) > 0 {
		lastNS = nss[0]
	}
	for i, s := range ptrs {
		if !packed {
			break
		}
		var pr uint64
		switch s.Proto { // the order of protoOrder
		case ProtoPacket:
			pr = 0
		case ProtoRaw:
			pr = 1
		case ProtoTCP:
			pr = 2
		case ProtoUDP:
			pr = 3
		default:
			packed = false
		}
		if s.Inode >= 1<<inodeBits {
			packed = false
		}
		if s.NetNS != lastNS {
			r, _ := slices.BinarySearch(nss, s.NetNS)
			lastNS, lastRank = s.NetNS, uint64(r)
		}
		keys = append(keys, lastRank<<(protoBits+inodeBits+placeBits)|pr<<(inodeBits+placeBits)|s.Inode<<placeBits|uint64(i))
	}
	out := make([]Socket, len(ptrs))
	if packed {
		slices.Sort(keys)
		for i, k := range keys {
			out[i] = *ptrs[k&(1<<placeBits-1)]
		}
		return out
	}
	slices.SortFunc(ptrs, func(a, b *Socket) int {
		return cmp.Or(cmp.Compare(a.NetNS, b.NetNS), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Inode, b.Inode))
	})
	for i, s := range ptrs {
		out[i] = *s
	}
	return out
}

// take makes one pass: processes (in parallel), then the socket tables of
// each network namespace that a process holding sockets is in. Without
// full, only what the socket table needs is read of each process.
func take(ctx context.Context, fs procfs.FS, o Options, full bool) (*snapshot, error) {
	pids, err := listPIDs(fs)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	// The TCP and UDP tables of this process's own namespace, where most
	// sockets usually are, are dumped while the processes are read: the
	// dump is one thread's work, the process pass keeps the others busy.
	// Only a large table is worth it: a small one is dumped after the
	// pass, and only when a process in the namespace holds a socket.
	isLive := fs.IsLive()
	live := !o.NoNetlink && isLive
	var pre *selfDump
	// The BPF pass pays on a large host: many processes, or many open
	// files (a readlink each) on the whole host.
	many := len(pids) >= iterMinProcs
	if isLive && !many {
		n, err := fs.FileHandles()
		many = err == nil && n >= iterMinFiles
	}
	if isLive {
		if c, err := fs.SocketCounts(os.Getpid()); err == nil && c.Total() >= prefetchMin {
			many = true
			if live {
				pre = startSelfDump(fs, c)
				defer pre.wait() // also on the error paths: no goroutine outlives take
			}
		}
	}
	procs := make([]proc, len(pids))
	// On a large host, every descriptor of every process in one pass of
	// a BPF iterator, instead of a readlink per descriptor; processes it
	// does not list (kernel threads, any the kernel hides from it) are
	// read through /proc.
	var known []bool
	var extra []int // processes the iterator saw that /proc did not list
	if isLive && many && !o.NoBPF {
		var err error
		var unlisted []int
		if known, unlisted, err = iterFiles(pids, procs); err != nil {
			o.Logger.Debug("scan: BPF descriptor pass failed, reading /proc/PID/fd", "err", err)
		}
		extra = hiddenFromListing(fs, unlisted)
		if len(extra) > 0 {
			// Read like the others (by name: hiding from the listing
			// does not hide /proc/PID itself), descriptors through /proc.
			pids = append(pids, extra...)
			procs = append(procs, make([]proc, len(extra))...)
			known = append(known, make([]bool, len(extra))...)
		}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(pids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(pids) {
					return
				}
				readProc(fs, pids[i], &procs[i], full, known != nil && known[i])
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := &snapshot{at: o.Now(), procs: make(map[int]*proc, len(pids))}
	for i := len(pids) - len(extra); i < len(pids); i++ {
		procs[i].unlisted = procs[i].pid != 0
	}
	nsRep := map[uint64][]int{} // netns → the first few pids in it holding sockets
	nsOrder := []uint64{}
	nsock := 0
	for i := range procs {
		p := &procs[i]
		if p.pid == 0 {
			continue // vanished
		}
		snap.procs[p.pid] = p
		if len(p.inodes) == 0 {
			continue
		}
		nsock += len(p.inodes)
		if reps, ok := nsRep[p.netns]; !ok {
			nsRep[p.netns] = []int{p.pid}
			nsOrder = append(nsOrder, p.netns)
		} else if len(reps) < maxNetNSReps {
			nsRep[p.netns] = append(reps, p.pid)
		}
	}
	snap.socks = nil
	if pre != nil {
		pre.wait()
		if _, ok := nsRep[pre.ns]; ok && pre.err == nil {
			snap.socks = pre.socks // taken over, not copied
		} else if pre.err != nil {
			o.Logger.Debug("scan: netlink sock_diag of own namespace failed", "err", pre.err)
		}
	}
	if snap.socks == nil {
		snap.socks = make(map[uint64]*Socket, nsock)
	}
	for _, ns := range nsOrder {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dumped := pre != nil && pre.err == nil && ns == pre.ns
		// Through the eyes of the first process in it that is still
		// there: one that exits between the process pass and now would
		// leave the whole namespace's tables unread.
		for _, rep := range nsRep[ns] {
			err := readNetNS(fs, rep, ns, live, dumped, snap.socks, o)
			if errors.Is(err, errRepGone) {
				o.Logger.Debug("scan: socket tables of namespace: process gone, trying another", "netns", ns, "pid", rep)
				continue
			}
			if err != nil {
				o.Logger.Debug("scan: socket tables of namespace", "netns", ns, "pid", rep, "err", err)
			}
			break
		}
	}
	// Holders, straight from each process's inodes into the table. One
	// holder is the rule: those share one block of one-element slices
	// (capacity 1, so that adding a second holder copies). Processes are
	// visited one at a time, so a socket a process holds twice (dup) has
	// that process last.
	one := make([]int, 0, nsock)
	var shared []*Socket
	for i := range procs {
		p := &procs[i]
		if p.pid == 0 {
			continue
		}
		for _, ino := range p.inodes {
			s, ok := snap.socks[ino]
			if !ok {
				continue
			}
			switch n := len(s.PIDs); {
			case n == 0:
				snap.held++
				one = append(one, p.pid)
				s.PIDs = one[len(one)-1 : len(one) : len(one)]
			case s.PIDs[n-1] != p.pid:
				if n == 1 {
					shared = append(shared, s)
				}
				s.PIDs = append(s.PIDs, p.pid)
			}
		}
	}
	for _, s := range shared {
		slices.Sort(s.PIDs) // the listing order of a fake tree is not numeric
	}
	return snap, nil
}

// readProc fills p; when the process exited meanwhile it leaves p.pid
// zero. Each read is skipped when its answer cannot matter: kernel threads
// have no descriptors or executable, and the namespace is read only for
// processes holding sockets. With known, p.inodes and p.nfd are filled
// already (from the BPF pass).
func readProc(fs procfs.FS, pid int, p *proc, full, known bool) {
	if full {
		st, err := fs.Stat(pid)
		if err != nil {
			return
		}
		p.stat = st
		if st.IsKernelThread() {
			p.pid, p.kthread = pid, true
			return
		}
		p.exe, _ = fs.Readlink(pid, "exe")
	}
	if !known {
		var err error
		p.inodes, p.nfd, err = fs.SocketInodes(pid, nil)
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
			// There, but its descriptors unreadable (permission): a
			// socket it holds has no holder in the table.
			p.fdErr = true
		} else if err != nil && !full {
			return
		}
	}
	if len(p.inodes) > 0 {
		p.netns, _ = fs.NetNS(pid)
	}
	p.pid = pid
}

// iterMinProcs and iterMinFiles are the numbers of processes, and of open
// files on the host, from which take reads descriptors through the BPF
// iterator: its fixed cost (the kernel's BTF, loading the program: ~2-3
// ms) is then less than reading /proc/PID/fd (~10 µs a process, ~3 µs a
// descriptor).
var (
	iterMinProcs = 256 // variables for tests
	iterMinFiles = 2048
)

// readFiles is taskfiles.Read; tests wrap it.
var readFiles = taskfiles.Read

// iterFiles fills the inodes and descriptor counts of procs (one per pid)
// from one pass of the BPF task_file iterator, and says which pids it
// listed; it fails when the iterator cannot run here.
//
// unlisted are the thread group ids it saw that pids lacks: started after
// the listing, or hidden from it (see hiddenFromListing).
func iterFiles(pids []int, procs []proc) (known []bool, unlisted []int, err error) {
	index := func(pid int) int {
		if i, ok := slices.BinarySearch(pids, pid); ok {
			return i
		}
		return -1
	}
	if !slices.IsSorted(pids) { // not from a live procfs, but to be safe
		m := make(map[int]int, len(pids))
		for i, pid := range pids {
			m[pid] = i
		}
		index = func(pid int) int {
			if i, ok := m[pid]; ok {
				return i
			}
			return -1
		}
	}
	files, err := readFiles(nil)
	if err != nil {
		return nil, nil, err
	}
	// Which proc each file is of: the iterator goes by thread id, so
	// files come grouped by process in ascending order, but for threads
	// with a descriptor table of their own.
	at := make([]int32, len(files))
	nsock := make([]int32, len(pids))
	lastPID, last := -1, -1
	for k, f := range files {
		if int(f.PID) != lastPID {
			lastPID = int(f.PID)
			last = index(lastPID)
		}
		at[k] = int32(last)
		if last < 0 && (len(unlisted) == 0 || unlisted[len(unlisted)-1] != lastPID) {
			unlisted = append(unlisted, lastPID)
		}
		if last >= 0 && f.Inode != 0 {
			nsock[last]++
		}
	}
	total := 0
	for _, n := range nsock {
		total += int(n)
	}
	block := make([]uint64, total) // one block for every process's inodes
	known = make([]bool, len(pids))
	for k, f := range files {
		i := at[k]
		if i < 0 {
			continue // started after the listing
		}
		p := &procs[i]
		if !known[i] {
			known[i] = true
			p.inodes = block[:0:nsock[i]]
			block = block[nsock[i]:]
		}
		p.nfd++
		if f.Inode != 0 {
			p.inodes = append(p.inodes, uint64(f.Inode))
		}
	}
	return known, unlisted, nil
}

// listPIDs lists the processes of a procfs; tests replace it to stand for
// a kernel that hides a process from the listing.
var listPIDs = func(fs procfs.FS) ([]int, error) { return fs.PIDs() }

// hiddenFromListing keeps, of the thread group ids the BPF iterator saw
// and the /proc listing lacked, those that a second listing still lacks
// while the process runs (its pidfd opens): a process started between the
// listing and the iterator is in the second listing.
func hiddenFromListing(fs procfs.FS, unlisted []int) []int {
	if len(unlisted) == 0 {
		return nil
	}
	again, err := listPIDs(fs)
	if err != nil {
		return nil
	}
	listed := make(map[int]bool, len(again))
	for _, p := range again {
		listed[p] = true
	}
	var out []int
	for _, p := range unlisted {
		if p <= 0 || listed[p] || slices.Contains(out, p) {
			continue
		}
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			continue // gone
		}
		unix.Close(fd)
		out = append(out, p)
	}
	return out
}

// selfDump is the netlink dump of the caller's own network namespace,
// taken in the background.
type selfDump struct {
	ns    uint64
	socks map[uint64]*Socket
	err   error
	done  chan struct{}
}

// prefetchMin is the number of sockets in use in the caller's own
// namespace from which take dumps it during the process pass.
var prefetchMin = 1024 // a variable for tests

// startSelfDump dumps the caller's own namespace, where counts (from its
// sockstat) says the sockets in use are.
func startSelfDump(fs procfs.FS, counts procfs.SocketCounts) *selfDump {
	d := &selfDump{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		// Sized from the kernel's count: growing a map of tens of
		// thousands costs as much again as filling it.
		d.socks = make(map[uint64]*Socket, min(counts.Total()+64, 1<<20))
		d.ns, d.err = fs.NetNS(os.Getpid())
		if d.err == nil {
			d.err = dumpSockDiag(fs, os.Getpid(), d.ns, d.socks, &counts)
		}
	}()
	return d
}

func (d *selfDump) wait() { <-d.done }

// maxNetNSReps is how many processes of a network namespace Sockets keeps
// to read its tables through, in case the first ones exit.
const maxNetNSReps = 4

// errRepGone: the process a namespace's tables were to be read through
// has no tables any more (it exited).
var errRepGone = errors.New("scan: process gone before its namespace's socket tables were read")

// readNetNS reads the socket tables of one network namespace, through the
// eyes of process rep, into socks. With dumped, its TCP and UDP sockets
// are in socks already (from netlink). It returns errRepGone, having
// added nothing, when rep's IPv4 TCP table (which every namespace has)
// cannot be found.
func readNetNS(fs procfs.FS, rep int, ns uint64, live, dumped bool, socks map[uint64]*Socket, o Options) error {
	var errs []error
	viaNetlink := dumped
	if live && !dumped {
		var counts *procfs.SocketCounts
		if c, err := fs.SocketCounts(rep); err == nil {
			counts = &c
		}
		if err := dumpSockDiag(fs, rep, ns, socks, counts); err != nil {
			o.Logger.Debug("scan: netlink sock_diag failed, reading /proc", "pid", rep, "err", err)
		} else {
			viaNetlink = true
		}
	}
	tables := []struct {
		name   string
		proto  string
		family int
	}{
		{"tcp", ProtoTCP, 4}, {"tcp6", ProtoTCP, 6}, {"udp", ProtoUDP, 4}, {"udp6", ProtoUDP, 6},
		{"raw", ProtoRaw, 4}, {"raw6", ProtoRaw, 6},
	}
	for _, t := range tables {
		if viaNetlink && t.proto != ProtoRaw {
			continue
		}
		lines, err := fs.NetIP(rep, t.name)
		if err != nil {
			if t.name == "tcp" && errors.Is(err, os.ErrNotExist) {
				return errRepGone
			}
			if !errors.Is(err, procfs.ErrFileParse) && len(lines) == 0 {
				// Missing tables (no IPv6) are normal.
				continue
			}
			errs = append(errs, err)
		}
		for i := range lines {
			l := &lines[i]
			if _, ok := socks[l.Inode]; ok || l.Inode == 0 {
				continue
			}
			s := &Socket{Proto: t.proto, Family: t.family, Local: unmapPort(l.Local), Remote: unmapPort(l.Remote),
				UID: l.UID, Inode: l.Inode, NetNS: ns}
			s.State = stateName(t.proto, l.State)
			socks[l.Inode] = s
		}
	}
	pk, err := fs.NetPacket(rep)
	if err != nil && errors.Is(err, procfs.ErrFileParse) {
		errs = append(errs, err)
	}
	for _, l := range pk {
		if _, ok := socks[l.Inode]; ok || l.Inode == 0 {
			continue
		}
		socks[l.Inode] = &Socket{Proto: ProtoPacket, UID: l.UID, Inode: l.Inode, NetNS: ns, Iface: l.Iface, EtherType: l.Proto}
	}
	return errors.Join(errs...)
}

func stateName(proto string, st uint8) string {
	switch proto {
	case ProtoTCP:
		return procfs.TCPStateName(st)
	case ProtoUDP:
		if st == procfs.TCPEstablished {
			return "ESTABLISHED"
		}
		return "UNCONN"
	}
	return ""
}

// unmapPort turns an IPv4-mapped IPv6 address into the IPv4 one, so that a
// dual-stack socket compares with reported IPv4 addresses.
func unmapPort(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}
