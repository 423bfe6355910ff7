package procfs

import "bytes"

// SocketCounts is what /proc/PID/net/sockstat and sockstat6 count as in
// use in a network namespace: the TCP and UDP sockets that are in the
// kernel's lookup tables (bound, listening or connected; not TIME_WAIT),
// which are exactly those a sock_diag dump can list.
type SocketCounts struct {
	TCP, UDP, TCP6, UDP6 int
	// NoIPv6 is set when sockstat6 is missing (IPv6 disabled): TCP6 and
	// UDP6 are then zero for want of a count, not counted zero.
	NoIPv6 bool
}

// Total is the sum of the counts.
func (c SocketCounts) Total() int { return c.TCP + c.UDP + c.TCP6 + c.UDP6 }

// SocketCounts reads the counts of the network namespace of process pid.
func (fs FS) SocketCounts(pid int) (SocketCounts, error) {
	var c SocketCounts
	for _, name := range []string{"sockstat", "sockstat6"} {
		bp := smallBufs.Get().(*[]byte)
		b, err := readSmall(fs.PIDPath(pid, "net", name), *bp)
		if err == nil {
			parseSockstat(b, &c)
		}
		smallBufs.Put(bp)
		if err != nil {
			if name == "sockstat" {
				return SocketCounts{}, err
			}
			c.NoIPv6 = true
		}
	}
	return c, nil
}

// parseSockstat adds the "inuse" counts of the TCP, UDP, TCP6 and UDP6
// lines of a sockstat file ("TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1")
// to c. Lines it does not know, and numbers it cannot parse, count zero.
func parseSockstat(b []byte, c *SocketCounts) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		proto, rest, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		var dst *int
		switch string(proto) {
		case "TCP":
			dst = &c.TCP
		case "UDP":
			dst = &c.UDP
		case "TCP6":
			dst = &c.TCP6
		case "UDP6":
			dst = &c.UDP6
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 2 || string(f[0]) != "inuse" {
			continue
		}
		if v, ok := parseUint(f[1], 10, 31); ok {
			*dst = int(min(uint64(*dst)+v, 1<<31-1))
		}
	}
}
