package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// diagStates asks for every TCP state but TIME_WAIT and NEW_SYN_RECV:
// those are kernel-only mini sockets, held by no process (inode 0).
const diagStates = 0xfff &^ (1 << procfs.TCPTimeWait) &^ (1 << procfs.TCPNewSynRecv)

// inetDiagReq is struct inet_diag_req_v2 with a zero socket id: a dump
// of one family and protocol, no extensions (no tcp_info: the table
// needs only the base message, a fraction of the bytes).
type inetDiagReq struct {
	family, protocol uint8
	states           uint32
}

func (r *inetDiagReq) Len() int { return 56 }

func (r *inetDiagReq) Serialize() []byte {
	b := make([]byte, 56)
	b[0], b[1] = r.family, r.protocol
	binary.NativeEndian.PutUint32(b[4:], r.states)
	return b
}

// netlinkSockets dumps the TCP and UDP sockets of the network namespace of
// process rep through netlink sock_diag (INET_DIAG), using the request
// machinery of github.com/vishvananda/netlink. For the caller's own
// namespace the netlink socket is opened in place; for another it is opened
// in that namespace (setns on a locked thread, then back).
//
// counts, when not nil, is what the namespace's sockstat says is in use:
// a family and protocol it counts none of is not dumped (the dump would
// walk the whole TCP hash table, every IPv4 socket included, to find no
// IPv6 one).
// dumpSockDiag is the dump Sockets uses; tests replace it to count its use
// or to make it fail.
var dumpSockDiag = netlinkSockets

func netlinkSockets(fs procfs.FS, rep int, ns uint64, socks map[uint64]*Socket, counts *procfs.SocketCounts) error {
	self, err := fs.NetNS(os.Getpid())
	if err != nil {
		return err
	}
	var sock *nl.NetlinkSocket
	if ns == self {
		sock, err = nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_INET_DIAG)
	} else {
		var nsh netns.NsHandle
		nsh, err = netns.GetFromPath(fs.PIDPath(rep, "ns", "net"))
		if err != nil {
			return fmt.Errorf("open netns of pid %d: %w", rep, err)
		}
		defer nsh.Close()
		cur, cerr := netns.Get()
		if cerr != nil {
			return fmt.Errorf("current netns: %w", cerr)
		}
		defer cur.Close()
		sock, err = nl.GetNetlinkSocketAt(nsh, cur, unix.NETLINK_INET_DIAG)
	}
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer sock.Close()
	if err := sock.SetReceiveTimeout(&nl.SocketTimeoutTv); err != nil {
		return err
	}
	handle := map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: {Socket: sock}}
	var slab []Socket // sockets are allocated in blocks, not one by one
	for _, q := range []struct {
		proto  string
		family uint8
		ipp    uint8
	}{{ProtoTCP, unix.AF_INET, unix.IPPROTO_TCP}, {ProtoTCP, unix.AF_INET6, unix.IPPROTO_TCP},
		{ProtoUDP, unix.AF_INET, unix.IPPROTO_UDP}, {ProtoUDP, unix.AF_INET6, unix.IPPROTO_UDP}} {
		if counts != nil && inUse(counts, q.proto, q.family) == 0 {
			continue
		}
		req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
		req.Sockets = handle
		states := uint32(diagStates)
		if q.proto == ProtoUDP {
			states = 0xfff
		}
		req.AddData(&inetDiagReq{family: q.family, protocol: q.ipp, states: states})
		fam := 4
		if q.family == unix.AF_INET6 {
			fam = 6
		}
		var perr error
		err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
			s, ok := parseDiagMsg(msg)
			if !ok {
				perr = fmt.Errorf("short inet_diag message (%d bytes)", len(msg))
				return false
			}
			if s.Inode == 0 {
				return true
			}
			// No look-up first: inodes are unique host-wide and a dump
			// lists each socket once, unless the kernel restarted it
			// (NLM_F_DUMP_INTR), when the later listing wins.
			s.Proto, s.Family, s.NetNS = q.proto, fam, ns
			s.State = stateName(q.proto, s.state)
			if len(slab) == cap(slab) {
				slab = make([]Socket, 0, 1024)
			}
			slab = append(slab, s.Socket)
			socks[s.Inode] = &slab[len(slab)-1]
			return true
		})
		if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
			return fmt.Errorf("sock_diag %s%d: %w", q.proto, fam, err)
		}
		if perr != nil {
			return perr
		}
	}
	return nil
}

// inUse is the count of one family and protocol; -1 when unknown.
func inUse(c *procfs.SocketCounts, proto string, family uint8) int {
	v6 := family == unix.AF_INET6
	switch {
	case v6 && c.NoIPv6:
		return -1
	case proto == ProtoTCP && v6:
		return c.TCP6
	case proto == ProtoTCP:
		return c.TCP
	case proto == ProtoUDP && v6:
		return c.UDP6
	case proto == ProtoUDP:
		return c.UDP
	}
	return -1
}

type diagSocket struct {
	Socket
	state uint8
}

// parseDiagMsg decodes struct inet_diag_msg without allocating addresses.
func parseDiagMsg(b []byte) (diagSocket, bool) {
	var s diagSocket
	if len(b) < 72 {
		return s, false
	}
	family := b[0]
	s.state = b[1]
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	var src, dst netip.Addr
	if family == unix.AF_INET {
		src = netip.AddrFrom4([4]byte(b[8:12]))
		dst = netip.AddrFrom4([4]byte(b[24:28]))
	} else {
		src = netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		dst = netip.AddrFrom16([16]byte(b[24:40])).Unmap()
	}
	s.Local = netip.AddrPortFrom(src, sport)
	s.Remote = netip.AddrPortFrom(dst, dport)
	s.UID = binary.NativeEndian.Uint32(b[64:])
	s.Inode = uint64(binary.NativeEndian.Uint32(b[68:]))
	return s, true
}
