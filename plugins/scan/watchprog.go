package scan

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// The BPF programs of Watch, written as instructions (no C compiler at
// build or run time); the few kernel struct offsets they read come from
// the running kernel's BTF.
//
//   - abk_connect, on the inet_sock_set_state raw tracepoint: a socket
//     moving to SYN_SENT is an attempt (an event, and the socket is
//     remembered with the thread group that made it); the same socket
//     leaving SYN_SENT is the attempt's outcome, counted for that thread
//     group in the kernel whichever context the answer arrives in
//     (softirq, for a RST): answered (to ESTABLISHED), refused (sk_err
//     ECONNREFUSED: a RST) or unanswered (timed out, unreachable, or
//     closed by the process before any answer).
//   - abk_xmit, on the net_dev_queue raw tracepoint: a packet queued by a
//     raw IP or AF_PACKET socket (counted, no event: a raw scanner sends
//     millions a second), or a UDP datagram (counted; an event only for a
//     destination the thread group had not sent to yet). The kernel's own
//     sockets are left out.
//   - abk_sendmsg, on the tcp_sendmsg_locked raw tracepoint (else fentry
//     on tcp_sendmsg): the first bytes (up to stratumBytes) of the first
//     send seen on each TCP socket, when they begin with '{' (JSON-RPC:
//     stratum's shape). Where the kernel has neither, Watch runs without
//     it.

// Event kinds in bytes 12-16 of a record.
const (
	evConnect = 0
	evRaw     = 1 // no longer sent: raw packets are counted in the kernel
	evStratum = 2
	evUDP     = 3
)

// stratumBytes is how many bytes of a send the stratum program copies.
const stratumBytes = 128

// Counters kept per thread group in the kernel (abk_counts), in this
// order: 8 bytes each.
const (
	cntAnswered = iota
	cntRefused
	cntUnanswered
	cntUDP
	cntRawIP     // packets sent from raw IP sockets
	cntRawPacket // packets sent from AF_PACKET sockets
	cntRawICMP   // packets sent from raw IP sockets opened for ICMP
	cntLost      // connection attempts the ring buffer had no room for
	numCounters
)

// Kernel constants the programs compare with.
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpClose       = 7
	tcpTimeWait    = 6
	tcpNewSynRecv  = 12
	eConnRefused   = 111
	sockDgram      = 2
	ipProtoUDP     = 17
	ipProtoICMP    = 1
	ipProtoICMPv6  = 58
	bpfAny         = 0
	bpfNoExist     = 1
)

// Socket families and types the transmit program tells apart.
const (
	afPacket = 17
	sockRaw  = 3
)

// bpfRBNoWakeup is BPF_RB_NO_WAKEUP: the record is queued without waking
// the reader, which polls every watchPoll.
const bpfRBNoWakeup = 1

// Map sizes. pending bounds the attempts awaiting an outcome (one made
// while it is full is not counted in the outcomes); counts the
// thread groups with counters; udpSeen the (thread group, UDP destination)
// pairs remembered; looked the TCP sockets whose first send was seen.
const (
	pendingEntries = 1 << 16
	countsEntries  = 1 << 14
	udpSeenEntries = 1 << 16
	lookedEntries  = 1 << 16
	ringBytes      = 1 << 22
)

// ringSize is the ring buffer's size: ringBytes; tests make it small.
var ringSize uint32 = ringBytes

// kernelOffsets are the offsets of what the programs read, from the
// kernel's BTF (struct sock starts with its sock_common).
type kernelOffsets struct {
	family, dport, daddr, v6daddr uint32
	state                         uint32 // sock_common's skc_state (one byte)
	skType, skErr, skProtocol     uint32 // struct sock's sk_type, sk_err, sk_protocol
	// The byte of struct sock holding the sk_kern_sock bit, and the bit:
	// the kernel's own sockets (the per-CPU control sockets that send
	// RSTs and ICMP errors are SOCK_RAW) are no process's.
	kernSockByte                 uint32
	kernSockMask                 int32
	skbSk, skbHead, skbNetHeader uint32 // struct sk_buff's sk, head, network_header

	// For the stratum program (stratum false when the kernel lacks one of
	// them): struct msghdr's msg_iter, in it iter_type and the union of
	// ubuf and __iov; the values of ITER_UBUF and ITER_IOVEC.
	stratum             bool
	msgIter, iterType   uint32
	iterPtr, iterCount  uint32
	iterUbuf, iterIovec int32
}

func kernelSockOffsets() (kernelOffsets, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return kernelOffsets{}, err
	}
	var sc *btf.Struct
	if err := spec.TypeByName("sock_common", &sc); err != nil {
		return kernelOffsets{}, err
	}
	var sk *btf.Struct
	if err := spec.TypeByName("sock", &sk); err != nil {
		return kernelOffsets{}, err
	}
	base, ok := memberOffset(sk, "__sk_common")
	if !ok {
		return kernelOffsets{}, errors.New("struct sock has no __sk_common")
	}
	var o kernelOffsets
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"skc_family", &o.family}, {"skc_dport", &o.dport}, {"skc_daddr", &o.daddr}, {"skc_v6_daddr", &o.v6daddr}, {"skc_state", &o.state}} {
		off, ok := memberOffset(sc, f.name)
		if !ok {
			return kernelOffsets{}, fmt.Errorf("struct sock_common has no %s", f.name)
		}
		*f.dst = base + off
	}
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"sk_type", &o.skType}, {"sk_err", &o.skErr}, {"sk_protocol", &o.skProtocol}} {
		off, ok := memberOffset(sk, f.name)
		if !ok || bitfield(sk, f.name) {
			return kernelOffsets{}, fmt.Errorf("struct sock has no plain %s", f.name)
		}
		*f.dst = off
	}
	if o.kernSockByte, o.kernSockMask, ok = bitOf(sk, "sk_kern_sock"); !ok {
		return kernelOffsets{}, errors.New("struct sock has no one-bit sk_kern_sock")
	}
	var skb *btf.Struct
	if err := spec.TypeByName("sk_buff", &skb); err != nil {
		return kernelOffsets{}, err
	}
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"sk", &o.skbSk}, {"head", &o.skbHead}, {"network_header", &o.skbNetHeader}} {
		if *f.dst, ok = memberOffset(skb, f.name); !ok {
			return kernelOffsets{}, fmt.Errorf("struct sk_buff has no %s", f.name)
		}
	}
	o.stratum = stratumOffsets(spec, &o) == nil
	return o, nil
}

// stratumOffsets fills what the stratum program reads.
func stratumOffsets(spec *btf.Spec, o *kernelOffsets) error {
	var msg, it *btf.Struct
	if err := spec.TypeByName("msghdr", &msg); err != nil {
		return err
	}
	if err := spec.TypeByName("iov_iter", &it); err != nil {
		return err
	}
	var ok bool
	if o.msgIter, ok = memberOffset(msg, "msg_iter"); !ok {
		return errors.New("struct msghdr has no msg_iter")
	}
	if o.iterType, ok = memberOffset(it, "iter_type"); !ok {
		return errors.New("struct iov_iter has no iter_type (kernel before 5.14)")
	}
	if sz, err := btf.Sizeof(memberType(it, "iter_type")); err != nil || sz != 1 {
		return errors.New("iov_iter.iter_type is not one byte")
	}
	if o.iterPtr, ok = memberOffset(it, "ubuf"); !ok {
		return errors.New("struct iov_iter has no ubuf")
	}
	if o.iterCount, ok = memberOffset(it, "count"); !ok {
		return errors.New("struct iov_iter has no count")
	}
	iov, ok := memberOffset(it, "__iov")
	if !ok {
		iov, ok = memberOffset(it, "iov")
	}
	if !ok || iov != o.iterPtr {
		return errors.New("iov_iter's ubuf and iovec pointers do not share a place")
	}
	var et *btf.Enum
	if err := spec.TypeByName("iter_type", &et); err != nil {
		return err
	}
	o.iterUbuf, o.iterIovec = -1, -1
	for _, v := range et.Values {
		switch v.Name {
		case "ITER_UBUF":
			o.iterUbuf = int32(v.Value)
		case "ITER_IOVEC":
			o.iterIovec = int32(v.Value)
		}
	}
	if o.iterUbuf < 0 || o.iterIovec < 0 {
		return errors.New("enum iter_type lacks ITER_UBUF or ITER_IOVEC")
	}
	return nil
}

// memberType returns the type of a direct member, or nil.
func memberType(s *btf.Struct, name string) btf.Type {
	for _, m := range s.Members {
		if m.Name == name {
			return m.Type
		}
	}
	return nil
}

// bitOf locates a one-bit member of s: the byte holding it and the bit's
// mask in that byte (bit offsets count from the least significant bit on
// little-endian machines, from the most significant on big-endian ones).
func bitOf(s *btf.Struct, name string) (byteOff uint32, mask int32, ok bool) {
	for _, m := range s.Members {
		if m.Name == name && m.BitfieldSize == 1 {
			bit := uint32(m.Offset)
			shift := bit % 8
			if !littleEndian() {
				shift = 7 - shift
			}
			return bit / 8, 1 << shift, true
		}
	}
	return 0, 0, false
}

func littleEndian() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
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

type watcher struct {
	progs []*ebpf.Program
	links []link.Link
	maps  []*ebpf.Map
	ring  *ebpf.Map
	// counts: thread group id → numCounters uint64 counters.
	counts *ebpf.Map
	// stratumErr says why the stratum program is not attached (nil when
	// it is).
	stratumErr error
	// Buffers for batch reads of counts; noBatch when the kernel has no
	// batch lookups.
	keys    []uint32
	vals    [][numCounters]uint64
	noBatch bool
	reads   uint64 // reads of counts so far
}

func (w *watcher) close() {
	for _, l := range w.links {
		l.Close()
	}
	for _, p := range w.progs {
		p.Close()
	}
	for _, m := range w.maps {
		m.Close()
	}
}

func (w *watcher) newMap(spec *ebpf.MapSpec) (*ebpf.Map, error) {
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", spec.Name, err)
	}
	w.maps = append(w.maps, m)
	return m, nil
}

// attach loads a program and attaches it: to a raw tracepoint, or
// (fentry) to the kernel function spec.AttachTo.
func (w *watcher) attach(spec *ebpf.ProgramSpec, tracepoint string) error {
	spec.License = "Dual MIT/GPL"
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return fmt.Errorf("load program %s: %w", spec.Name, err)
	}
	var l link.Link
	if tracepoint != "" {
		l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tracepoint, Program: prog})
	} else {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceFEntry})
	}
	if err != nil {
		prog.Close()
		return fmt.Errorf("attach %s: %w", spec.Name, err)
	}
	w.progs = append(w.progs, prog)
	w.links = append(w.links, l)
	return nil
}

func loadWatch() (*watcher, error) {
	off, err := kernelSockOffsets()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	w := &watcher{}
	fail := func(err error) (*watcher, error) {
		w.close()
		return nil, err
	}
	if w.ring, err = w.newMap(&ebpf.MapSpec{Name: "abk_conn", Type: ebpf.RingBuf, MaxEntries: ringSize}); err != nil {
		return fail(err)
	}
	// A plain (preallocated) hash, faster than an LRU one: every socket
	// put in leaves SYN_SENT, and is taken out, by the same program; when
	// it is full, further attempts go without an outcome.
	pending, err := w.newMap(&ebpf.MapSpec{Name: "abk_pending", Type: ebpf.Hash, KeySize: 8, ValueSize: 4, MaxEntries: pendingEntries})
	if err != nil {
		return fail(err)
	}
	if w.counts, err = w.newMap(&ebpf.MapSpec{Name: "abk_counts", Type: ebpf.LRUHash, KeySize: 4, ValueSize: 8 * numCounters, MaxEntries: countsEntries}); err != nil {
		return fail(err)
	}
	udpSeen, err := w.newMap(&ebpf.MapSpec{Name: "abk_udp_seen", Type: ebpf.LRUHash, KeySize: connEventSize, ValueSize: 4, MaxEntries: udpSeenEntries})
	if err != nil {
		return fail(err)
	}
	looked, err := w.newMap(&ebpf.MapSpec{Name: "abk_looked", Type: ebpf.LRUHash, KeySize: 8, ValueSize: 8, MaxEntries: lookedEntries})
	if err != nil {
		return fail(err)
	}
	fds := progFDs{ring: w.ring.FD(), pending: pending.FD(), counts: w.counts.FD(), udpSeen: udpSeen.FD(), looked: looked.FD()}
	if err := w.attach(&ebpf.ProgramSpec{Name: "abk_connect", Type: ebpf.RawTracepoint, Instructions: connProgram(off, fds)}, "inet_sock_set_state"); err != nil {
		return fail(err)
	}
	if err := w.attach(&ebpf.ProgramSpec{Name: "abk_xmit", Type: ebpf.RawTracepoint, Instructions: xmitProgram(off, fds)}, "net_dev_queue"); err != nil {
		return fail(err)
	}
	w.stratumErr = errors.New("the kernel's BTF lacks what the program reads")
	if off.stratum {
		// The tcp_sendmsg_locked tracepoint (Linux 6.10), else fentry on
		// tcp_sendmsg (BPF trampolines).
		err := w.attach(&ebpf.ProgramSpec{Name: "abk_sendmsg", Type: ebpf.RawTracepoint, Instructions: stratumProgram(off, fds)}, "tcp_sendmsg_locked")
		if err != nil {
			if ferr := w.attach(&ebpf.ProgramSpec{Name: "abk_sendmsg", Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry,
				AttachTo: "tcp_sendmsg", Instructions: stratumProgram(off, fds)}, ""); ferr != nil {
				err = fmt.Errorf("%w; %w", err, ferr)
			} else {
				err = nil
			}
		}
		w.stratumErr = err
	}
	return w, nil
}

// progFDs are the maps' descriptors, for the programs' map loads.
type progFDs struct {
	ring, pending, counts, udpSeen, looked int
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

// storeImm stores an immediate on the stack (asm.StoreImm refuses
// double words, which the instruction set has: the immediate is sign
// extended).
func storeImm(off int16, v int64, size asm.Size) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(size), Dst: asm.R10, Offset: off, Constant: v}
}

// zero stores n zero double words on the stack from off.
func zero(off int16, n int) asm.Instructions {
	var out asm.Instructions
	for i := range n {
		out = append(out, storeImm(off+int16(8*i), 0, asm.DWord))
	}
	return out
}

// mapCall calls a map helper with the map, a key on the stack and, for an
// update, a value on the stack and flags.
func mapCall(fn asm.BuiltinFunc, mapFD int, key int16, value int16, flags int32) asm.Instructions {
	out := asm.Instructions{
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, int32(key)),
	}
	if fn == asm.FnMapUpdateElem {
		out = append(out,
			asm.Mov.Reg(asm.R3, asm.R10),
			asm.Add.Imm(asm.R3, int32(value)),
			asm.Mov.Imm(asm.R4, flags),
		)
	}
	return append(out, fn.Call())
}

// ringOutput sends size bytes of the stack at off to the ring buffer,
// without waking the reader.
func ringOutput(ringFD int, off int16, size int32) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, ringFD),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, int32(off)),
		asm.Mov.Imm(asm.R3, size),
		asm.Mov.Imm(asm.R4, bpfRBNoWakeup),
		asm.FnRingbufOutput.Call(),
	}
}

// count adds one to the counter at byte offset R9 of the thread group
// whose id is on the stack at key, creating its counters (zeroed at
// zeroOff, 8*numCounters bytes of stack) when it has none. It jumps to
// "exit" when the entry cannot be made.
func count(countsFD int, key, zeroOff int16) asm.Instructions {
	return countAs(countsFD, key, zeroOff, "count_add")
}

// countAs is count with its own label (add), for a second use in one
// program.
func countAs(countsFD int, key, zeroOff int16, add string) asm.Instructions {
	out := mapCall(asm.FnMapLookupElem, countsFD, key, 0, 0)
	out = append(out, asm.JNE.Imm(asm.R0, 0, add))
	out = append(out, zero(zeroOff, numCounters)...)
	out = append(out, mapCall(asm.FnMapUpdateElem, countsFD, key, zeroOff, bpfNoExist)...)
	out = append(out, mapCall(asm.FnMapLookupElem, countsFD, key, 0, 0)...)
	return append(out,
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Add.Reg(asm.R0, asm.R9).WithSymbol(add),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
	)
}

// connEnd is the exit of every program.
var connEnd = asm.Instructions{
	asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
	asm.Return(),
}

// readDst reads a socket's family, destination port and addresses (base
// register sk) into the event at ev.
//
// The four fields lie within a few dozen bytes of struct sock_common: they
// are read in one probe into scratch (dstSpan bytes of stack, 8-aligned)
// and copied, one helper call instead of four; where they are farther
// apart or not aligned for the copy, each is read on its own.
func readDst(o kernelOffsets, ev, scratch int16, sk asm.Register) asm.Instructions {
	lo := min(o.family, o.dport, o.daddr, o.v6daddr)
	hi := max(o.family+2, o.dport+2, o.daddr+4, o.v6daddr+16)
	aligned := (o.family-lo)%2 == 0 && (o.dport-lo)%2 == 0 && (o.daddr-lo)%4 == 0 && (o.v6daddr-lo)%8 == 0
	if hi-lo > dstSpan || !aligned {
		var out asm.Instructions
		out = append(out, probeRead(ev+4, 2, sk, o.family)...)
		out = append(out, probeRead(ev+6, 2, sk, o.dport)...)
		out = append(out, probeRead(ev+8, 4, sk, o.daddr)...)
		return append(out, probeRead(ev+16, 16, sk, o.v6daddr)...)
	}
	at := func(off uint32) int16 { return scratch + int16(off-lo) }
	out := probeRead(scratch, int32(hi-lo), sk, lo)
	return append(out,
		asm.LoadMem(asm.R1, asm.R10, at(o.family), asm.Half),
		asm.StoreMem(asm.R10, ev+4, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.R10, at(o.dport), asm.Half),
		asm.StoreMem(asm.R10, ev+6, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.R10, at(o.daddr), asm.Word),
		asm.StoreMem(asm.R10, ev+8, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, at(o.v6daddr), asm.DWord),
		asm.StoreMem(asm.R10, ev+16, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, at(o.v6daddr)+8, asm.DWord),
		asm.StoreMem(asm.R10, ev+24, asm.R1, asm.DWord),
	)
}

// dstSpan bounds the bytes readDst reads in one probe.
const dstSpan = 96

// connProgram is the raw tracepoint program on inet_sock_set_state (args:
// sk, oldstate, newstate).
func connProgram(o kernelOffsets, fd progFDs) asm.Instructions {
	const (
		ev    = -connEventSize // the event: r10-32 … r10-1
		key   = ev - 8         // the socket's address, the pending map's key
		val   = key - 8        // the thread group id, its value
		errSl = val - 8        // sk_err
		ckey  = errSl - 8      // the counters' key
		zeros = ckey - 8*numCounters
		scr   = zeros - dstSpan // readDst's scratch
	)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R6, 0, asm.DWord),  // sk
		asm.LoadMem(asm.R8, asm.R6, 16, asm.DWord), // newstate
		asm.LoadMem(asm.R9, asm.R6, 8, asm.DWord),  // oldstate
		asm.StoreMem(asm.R10, key, asm.R7, asm.DWord),
		asm.JEq.Imm(asm.R8, tcpSynSent, "connect"),
		asm.JEq.Imm(asm.R9, tcpSynSent, "outcome"),
		// A socket closing: its address may name another socket next,
		// whose first send the stratum program must look at. (One that
		// never left SYN_SENT sent nothing.)
		asm.JNE.Imm(asm.R8, tcpClose, "exit"),
	}
	insns = append(insns, mapCall(asm.FnMapDeleteElem, fd.looked, key, 0, 0)...)
	insns = append(insns, asm.Ja.Label("exit"))
	out := mapCall(asm.FnMapLookupElem, fd.pending, key, 0, 0)
	out[0] = out[0].WithSymbol("outcome")
	insns = append(insns, out...)
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R9, asm.R0, 0, asm.Word),
		asm.StoreMem(asm.R10, ckey, asm.R9, asm.Word),
	)
	insns = append(insns, mapCall(asm.FnMapDeleteElem, fd.pending, key, 0, 0)...)
	insns = append(insns,
		asm.Mov.Imm(asm.R9, 8*cntAnswered),
		asm.JEq.Imm(asm.R8, tcpEstablished, "counted"),
		storeImm(errSl, 0, asm.DWord),
	)
	insns = append(insns, probeRead(errSl, 4, asm.R7, o.skErr)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, errSl, asm.Word),
		asm.Mov.Imm(asm.R9, 8*cntUnanswered),
		asm.JNE.Imm(asm.R1, eConnRefused, "counted"),
		asm.Mov.Imm(asm.R9, 8*cntRefused),
		asm.Ja.Label("counted"),
	)
	cnt := count(fd.counts, ckey, zeros)
	cnt[0] = cnt[0].WithSymbol("counted")
	insns = append(insns, cnt...)
	insns = append(insns, asm.Ja.Label("exit"))

	// An attempt: the event, and the socket remembered with its thread
	// group for the outcome.
	conn := zero(ev, 4)
	conn[0] = conn[0].WithSymbol("connect")
	insns = append(insns, conn...)
	insns = append(insns,
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ev, asm.R0, asm.Word),
		asm.StoreMem(asm.R10, val, asm.R0, asm.Word),
	)
	insns = append(insns, readDst(o, ev, scr, asm.R7)...)
	insns = append(insns, mapCall(asm.FnMapUpdateElem, fd.pending, key, val, bpfAny)...)
	insns = append(insns, ringOutput(fd.ring, ev, connEventSize)...)
	// No room in the ring (a flood between two reads): the attempt is
	// still counted, without its destination.
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R10, val, asm.Word),
		asm.StoreMem(asm.R10, ckey, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R9, 8*cntLost),
	)
	insns = append(insns, countAs(fd.counts, ckey, zeros, "lost_add")...)
	return append(insns, connEnd...)
}

// xmitProgram is the raw tracepoint program on net_dev_queue (args: skb),
// in the sending process's own call. A packet queued by a raw IP
// (SOCK_RAW) or AF_PACKET socket is counted for the thread group
// (cntRawIP, cntRawPacket). For a UDP datagram of an
// IPv4 or IPv6 datagram socket it counts the datagram for the thread
// group and, when the thread group had not sent to that address and port
// yet (abk_udp_seen), sends an evUDP event with them. Packets of other
// sockets, and those with no socket, are left out.
func xmitProgram(o kernelOffsets, fd progFDs) asm.Instructions {
	const (
		ev    = -connEventSize
		skSl  = ev - 8
		head  = skSl - 8
		nh    = head - 8
		iph   = nh - 40 // the IP header: 40 bytes
		udph  = iph - 8
		ckey  = udph - 8
		zeros = ckey - 8*numCounters
	)
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), // skb
		storeImm(skSl, 0, asm.DWord),
	}
	insns = append(insns, probeRead(skSl, 8, asm.R6, o.skbSk)...)
	insns = append(insns,
		asm.LoadMem(asm.R7, asm.R10, skSl, asm.DWord), // sk
		asm.JEq.Imm(asm.R7, 0, "exit"),
	)
	insns = append(insns, zero(ev, 4)...)
	insns = append(insns, probeRead(ev+4, 2, asm.R7, o.family)...)
	insns = append(insns, probeRead(ev+6, 2, asm.R7, o.skType)...)
	insns = append(insns,
		asm.LoadMem(asm.R8, asm.R10, ev+4, asm.Half),
		asm.JEq.Imm(asm.R8, afPacket, "kern"),
		asm.LoadMem(asm.R9, asm.R10, ev+6, asm.Half),
		asm.JEq.Imm(asm.R9, sockRaw, "kern"),
		asm.JNE.Imm(asm.R9, sockDgram, "exit"),
		asm.JEq.Imm(asm.R8, afInet, "kern"),
		asm.JNE.Imm(asm.R8, afInet6, "exit"),
	)
	// The kernel's own sockets are no process's: the per-CPU TCP and
	// ICMP control sockets (SOCK_RAW) send RSTs and ICMP errors in
	// softirq, in whatever process is current.
	// Nor is a socket that is no full one: a SYN-ACK's skb holds the
	// request sock (TCP_NEW_SYN_RECV), some replies a time-wait sock
	// (TCP_TIME_WAIT), both smaller than struct sock: sk_type was read
	// past their end, and may look like SOCK_RAW.
	kern := asm.Instructions{storeImm(head, 0, asm.DWord).WithSymbol("kern")}
	kern = append(kern, probeRead(head, 1, asm.R7, o.state)...)
	kern = append(kern,
		asm.LoadMem(asm.R1, asm.R10, head, asm.Byte),
		asm.JEq.Imm(asm.R1, tcpNewSynRecv, "exit"),
		asm.JEq.Imm(asm.R1, tcpTimeWait, "exit"),
	)
	kern = append(kern, probeRead(head, 1, asm.R7, o.kernSockByte)...)
	kern = append(kern,
		asm.LoadMem(asm.R1, asm.R10, head, asm.Byte),
		asm.And.Imm(asm.R1, o.kernSockMask),
		asm.JNE.Imm(asm.R1, 0, "exit"),
		asm.JEq.Imm(asm.R8, afPacket, "raw"),
		asm.JEq.Imm(asm.R9, sockRaw, "raw"),
	)
	insns = append(insns, kern...)
	// A datagram: its IP header, from the skb's head and network header.
	udp := asm.Instructions{
		storeImm(head, 0, asm.DWord).WithSymbol("udp"),
		storeImm(nh, 0, asm.DWord),
	}
	udp = append(udp, probeRead(head, 8, asm.R6, o.skbHead)...)
	udp = append(udp, probeRead(nh, 2, asm.R6, o.skbNetHeader)...)
	udp = append(udp,
		asm.LoadMem(asm.R9, asm.R10, head, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, nh, asm.Half),
		asm.Add.Reg(asm.R9, asm.R1), // the IP header
	)
	udp = append(udp, zero(iph, 5)...)
	udp = append(udp, probeRead(iph, 40, asm.R9, 0)...)
	udp = append(udp,
		asm.LoadMem(asm.R1, asm.R10, iph, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.JEq.Imm(asm.R1, 6, "v6"),
		asm.JNE.Imm(asm.R1, 4, "exit"),
		asm.LoadMem(asm.R1, asm.R10, iph+9, asm.Byte),
		asm.JNE.Imm(asm.R1, ipProtoUDP, "exit"),
		storeImm(ev+4, afInet, asm.Half),
		asm.LoadMem(asm.R1, asm.R10, iph+16, asm.Word),
		asm.StoreMem(asm.R10, ev+8, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, iph, asm.Byte),
		asm.And.Imm(asm.R1, 0xf),
		asm.LSh.Imm(asm.R1, 2),
		asm.Add.Reg(asm.R9, asm.R1), // the UDP header
		asm.Ja.Label("udph"),
		asm.LoadMem(asm.R1, asm.R10, iph+6, asm.Byte).WithSymbol("v6"),
		asm.JNE.Imm(asm.R1, ipProtoUDP, "exit"),
		storeImm(ev+4, afInet6, asm.Half),
		asm.LoadMem(asm.R1, asm.R10, iph+24, asm.DWord),
		asm.StoreMem(asm.R10, ev+16, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, iph+32, asm.DWord),
		asm.StoreMem(asm.R10, ev+24, asm.R1, asm.DWord),
		asm.Add.Imm(asm.R9, 40),
		storeImm(udph, 0, asm.DWord).WithSymbol("udph"),
	)
	udp = append(udp, probeRead(udph, 4, asm.R9, 0)...)
	udp = append(udp,
		asm.LoadMem(asm.R1, asm.R10, udph+2, asm.Half), // destination port, network order
		asm.StoreMem(asm.R10, ev+6, asm.R1, asm.Half),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ev, asm.R0, asm.Word),
		asm.StoreMem(asm.R10, ckey, asm.R0, asm.Word),
		storeImm(ev+12, evUDP, asm.Word),
		asm.Mov.Imm(asm.R9, 8*cntUDP),
	)
	udp = append(udp, count(fd.counts, ckey, zeros)...)
	// A destination it sent to before is counted only.
	udp = append(udp, mapCall(asm.FnMapLookupElem, fd.udpSeen, ev, 0, 0)...)
	udp = append(udp, asm.JNE.Imm(asm.R0, 0, "exit"))
	udp = append(udp, mapCall(asm.FnMapUpdateElem, fd.udpSeen, ev, ev, bpfAny)...)
	udp = append(udp, ringOutput(fd.ring, ev, connEventSize)...)
	udp = append(udp, asm.Ja.Label("exit"))
	insns = append(insns, udp...)

	// A packet of a raw or packet socket: counted in the kernel, whatever
	// the rate (masscan sends millions a second), no record.
	insns = append(insns,
		asm.FnGetCurrentPidTgid.Call().WithSymbol("raw"),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ckey, asm.R0, asm.Word),
		asm.Mov.Imm(asm.R9, 8*cntRawPacket),
		asm.JEq.Imm(asm.R8, afPacket, "raw_count"),
		asm.Mov.Imm(asm.R9, 8*cntRawIP),
	)
	// A raw socket opened for ICMP (ping, fping, monitoring) sends echo
	// requests, no hand-built TCP or UDP: counted apart.
	insns = append(insns, storeImm(head, 0, asm.DWord))
	insns = append(insns, probeRead(head, 2, asm.R7, o.skProtocol)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, head, asm.Half),
		asm.JEq.Imm(asm.R1, ipProtoICMP, "raw_icmp"),
		asm.JNE.Imm(asm.R1, ipProtoICMPv6, "raw_count"),
		asm.Mov.Imm(asm.R9, 8*cntRawICMP).WithSymbol("raw_icmp"),
	)
	cnt := countAs(fd.counts, ckey, zeros, "raw_add")
	cnt[0] = cnt[0].WithSymbol("raw_count")
	insns = append(insns, cnt...)
	return append(insns, connEnd...)
}

// stratumProgram is the program on the tcp_sendmsg_locked raw tracepoint
// (args: sk, msg, skb, size_goal), or fentry on tcp_sendmsg (sk, msg,
// size) where the kernel has no such tracepoint: for the first send it
// sees on a socket (abk_looked remembers the sockets; the connect program
// forgets one as it closes), it copies up to stratumBytes of the user's
// buffer (a single buffer, or the first of an iovec) and, when they begin
// with '{', sends them with the thread group id, the socket's destination
// and the kind evStratum.
func stratumProgram(o kernelOffsets, fd progFDs) asm.Instructions {
	const (
		ev   = -(connEventSize + stratumBytes)
		key  = ev - 8
		ptr  = key - 8
		cnt  = ptr - 8
		typ  = cnt - 8
		scr  = typ - dstSpan
		size = stratumBytes
	)
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), // sk
		asm.LoadMem(asm.R7, asm.R1, 8, asm.DWord), // msg
		asm.StoreMem(asm.R10, key, asm.R6, asm.DWord),
	}
	insns = append(insns, mapCall(asm.FnMapLookupElem, fd.looked, key, 0, 0)...)
	insns = append(insns, asm.JNE.Imm(asm.R0, 0, "exit"))
	insns = append(insns, mapCall(asm.FnMapUpdateElem, fd.looked, key, key, bpfAny)...)
	insns = append(insns, zero(cnt, 3)...)
	insns = append(insns, probeRead(typ, 1, asm.R7, o.msgIter+o.iterType)...)
	insns = append(insns, probeRead(ptr, 8, asm.R7, o.msgIter+o.iterPtr)...)
	insns = append(insns, probeRead(cnt, 8, asm.R7, o.msgIter+o.iterCount)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, typ, asm.Byte),
		asm.JEq.Imm(asm.R1, o.iterUbuf, "copy"),
		asm.JNE.Imm(asm.R1, o.iterIovec, "exit"),
		asm.LoadMem(asm.R9, asm.R10, ptr, asm.DWord), // the iovec array
		storeImm(typ, 0, asm.DWord),
	)
	insns = append(insns, probeRead(ptr, 8, asm.R9, 0)...) // its first iov_base
	insns = append(insns, probeRead(typ, 8, asm.R9, 8)...) // and iov_len
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, typ, asm.DWord),
		asm.LoadMem(asm.R2, asm.R10, cnt, asm.DWord),
		asm.JLE.Reg(asm.R2, asm.R1, "copy"),
		asm.StoreMem(asm.R10, cnt, asm.R1, asm.DWord),
	)
	cp := zero(ev, (connEventSize+stratumBytes)/8)
	cp[0] = cp[0].WithSymbol("copy")
	insns = append(insns, cp...)
	insns = append(insns,
		asm.LoadMem(asm.R8, asm.R10, cnt, asm.DWord),
		asm.JEq.Imm(asm.R8, 0, "exit"),
		asm.JLE.Imm(asm.R8, size, "sized"),
		asm.Mov.Imm(asm.R8, size),
		asm.Mov.Reg(asm.R1, asm.R10).WithSymbol("sized"),
		asm.Add.Imm(asm.R1, ev+connEventSize),
		asm.Mov.Reg(asm.R2, asm.R8),
		asm.LoadMem(asm.R3, asm.R10, ptr, asm.DWord),
		asm.FnProbeReadUser.Call(),
		asm.LoadMem(asm.R1, asm.R10, ev+connEventSize, asm.Byte),
		asm.JNE.Imm(asm.R1, '{', "exit"),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, ev, asm.R0, asm.Word),
		storeImm(ev+12, evStratum, asm.Word),
	)
	insns = append(insns, readDst(o, ev, scr, asm.R6)...)
	insns = append(insns, ringOutput(fd.ring, ev, connEventSize+stratumBytes)...)
	return append(insns, connEnd...)
}
