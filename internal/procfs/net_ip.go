package procfs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// TCP states as the kernel numbers them (include/net/tcp_states.h).
const (
	TCPEstablished uint8 = 1
	TCPSynSent     uint8 = 2
	TCPSynRecv     uint8 = 3
	TCPFinWait1    uint8 = 4
	TCPFinWait2    uint8 = 5
	TCPTimeWait    uint8 = 6
	TCPClose       uint8 = 7
	TCPCloseWait   uint8 = 8
	TCPLastAck     uint8 = 9
	TCPListen      uint8 = 10
	TCPClosing     uint8 = 11
	TCPNewSynRecv  uint8 = 12
)

var tcpStateNames = [...]string{
	"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
}

// TCPStateName names a TCP state as netstat and ss do ("SYN_SENT").
func TCPStateName(s uint8) string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "UNKNOWN(" + strconv.Itoa(int(s)) + ")"
}

// NetIPSocket is one line of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}. For raw
// sockets the local port is the IP protocol number.
type NetIPSocket struct {
	Local   netip.AddrPort
	Remote  netip.AddrPort
	State   uint8
	TxQueue uint32
	RxQueue uint32
	UID     uint32
	Inode   uint64
}

// NetIP reads one of the IP socket tables ("tcp", "tcp6", "udp", "udp6",
// "raw", "raw6") as seen from the network namespace of process pid; pid 0
// reads /proc/net, the namespace of whoever reads it.
func (fs FS) NetIP(pid int, table string) ([]NetIPSocket, error) {
	var b []byte
	var err error
	if pid == 0 {
		b, err = fs.ReadFile("net", table)
	} else {
		b, err = fs.ReadFile(strconv.Itoa(pid), "net", table)
	}
	if err != nil {
		return nil, err
	}
	s, err := parseNetIP(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	return s, nil
}

// parseNetIP parses a /proc/net/{tcp,udp,raw}{,6} table. The header line is
// skipped; every other non-empty line must parse.
func parseNetIP(b []byte) ([]NetIPSocket, error) {
	line, rest := nextLine(b)
	if len(line) == 0 && len(rest) == 0 {
		return nil, nil
	}
	// Each entry line is ~150 bytes (tcp) or ~180 (tcp6); preallocate.
	out := make([]NetIPSocket, 0, len(rest)/150+1)
	n := 1
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		n++
		if len(line) == 0 {
			continue
		}
		s, err := parseNetIPLine(line)
		if err != nil {
			return out, fmt.Errorf("%w: line %d: %v", ErrFileParse, n, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func parseNetIPLine(line []byte) (NetIPSocket, error) {
	var s NetIPSocket
	it := fieldIter{b: line}
	var f [10][]byte
	for i := range f {
		v, ok := it.next()
		if !ok {
			return s, fmt.Errorf("%d fields, want at least 10", i)
		}
		f[i] = v
	}
	var err error
	if s.Local, err = parseHexAddrPort(f[1]); err != nil {
		return s, fmt.Errorf("local address: %v", err)
	}
	if s.Remote, err = parseHexAddrPort(f[2]); err != nil {
		return s, fmt.Errorf("remote address: %v", err)
	}
	st, ok := parseUint(f[3], 16, 8)
	if !ok {
		return s, fmt.Errorf("bad state %q", f[3])
	}
	s.State = uint8(st)
	tx, rx, ok := cutByte(f[4], ':')
	if !ok {
		return s, fmt.Errorf("bad queues %q", f[4])
	}
	t, ok1 := parseUint(tx, 16, 32)
	r, ok2 := parseUint(rx, 16, 32)
	if !ok1 || !ok2 {
		return s, fmt.Errorf("bad queues %q", f[4])
	}
	s.TxQueue, s.RxQueue = uint32(t), uint32(r)
	uid, ok := parseUint(f[7], 10, 32)
	if !ok {
		return s, fmt.Errorf("bad uid %q", f[7])
	}
	s.UID = uint32(uid)
	if s.Inode, ok = parseUint(f[9], 10, 64); !ok {
		return s, fmt.Errorf("bad inode %q", f[9])
	}
	return s, nil
}

func cutByte(b []byte, sep byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// parseHexAddrPort parses "0100007F:0277" (IPv4) or 32 hex digits and a port
// (IPv6). The kernel prints each 32-bit word of the address in host byte order.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	a, p, ok := cutByte(b, ':')
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", b)
	}
	port, ok := parseUint(p, 16, 16)
	if !ok || len(p) > 4 {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", p)
	}
	var addr netip.Addr
	switch len(a) {
	case 8:
		w, ok := parseUint(a, 16, 32)
		if !ok {
			return netip.AddrPort{}, fmt.Errorf("bad address %q", a)
		}
		var ip [4]byte
		binary.NativeEndian.PutUint32(ip[:], uint32(w))
		addr = netip.AddrFrom4(ip)
	case 32:
		var ip [16]byte
		for i := 0; i < 4; i++ {
			w, ok := parseUint(a[i*8:i*8+8], 16, 32)
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("bad address %q", a)
			}
			binary.NativeEndian.PutUint32(ip[i*4:], uint32(w))
		}
		addr = netip.AddrFrom16(ip)
	default:
		return netip.AddrPort{}, fmt.Errorf("bad address length %d", len(a))
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// FormatHexAddrPort is the inverse of the kernel's formatting: it renders an
// address and port as a /proc/net table does. Fake trees use it.
func FormatHexAddrPort(ap netip.AddrPort) string {
	a := ap.Addr()
	var s string
	if a.Is4() {
		ip := a.As4()
		s = fmt.Sprintf("%08X", binary.NativeEndian.Uint32(ip[:]))
	} else {
		ip := a.As16()
		for i := 0; i < 4; i++ {
			s += fmt.Sprintf("%08X", binary.NativeEndian.Uint32(ip[i*4:]))
		}
	}
	return fmt.Sprintf("%s:%04X", s, ap.Port())
}

// FormatNetIPLine renders one table line as the kernel would (fields the
// parser ignores are zero). Fake trees use it.
func FormatNetIPLine(i int, s NetIPSocket) string {
	return fmt.Sprintf("%4d: %s %s %02X %08X:%08X 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n",
		i, FormatHexAddrPort(s.Local), FormatHexAddrPort(s.Remote), s.State, s.TxQueue, s.RxQueue, s.UID, s.Inode)
}

// NetIPHeader is the header line of the tcp tables; the parser skips
// whatever the first line is.
const NetIPHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
