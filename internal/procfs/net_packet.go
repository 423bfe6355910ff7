package procfs

import (
	"fmt"
	"strconv"
)

// PacketSocket is one line of /proc/net/packet: an AF_PACKET socket, as
// masscan and zmap use to send hand-built SYNs.
type PacketSocket struct {
	Type  uint16 // SOCK_RAW (3) or SOCK_DGRAM (2)
	Proto uint16 // ethertype in host order (0x0003 = ETH_P_ALL)
	Iface int    // interface index; 0 = all
	UID   uint32
	Inode uint64
}

// NetPacket reads /proc/net/packet as seen from the network namespace of
// process pid (pid 0: the reader's own).
func (fs FS) NetPacket(pid int) ([]PacketSocket, error) {
	var b []byte
	var err error
	if pid == 0 {
		b, err = fs.ReadFile("net", "packet")
	} else {
		b, err = fs.ReadFile(strconv.Itoa(pid), "net", "packet")
	}
	if err != nil {
		return nil, err
	}
	return parseNetPacket(b)
}

// parseNetPacket parses /proc/net/packet:
//
//	sk               RefCnt Type Proto  Iface R Rmem   User   Inode
//	ffff8880047e2000 3      3    0003   2     1 0      0      23456
func parseNetPacket(b []byte) ([]PacketSocket, error) {
	_, rest := nextLine(b)
	var out []PacketSocket
	n := 1
	for len(rest) > 0 {
		var line []byte
		line, rest = nextLine(rest)
		n++
		if len(line) == 0 {
			continue
		}
		it := fieldIter{b: line}
		var f [9][]byte
		for i := range f {
			v, ok := it.next()
			if !ok {
				return out, fmt.Errorf("%w: packet line %d: %d fields, want 9", ErrFileParse, n, i)
			}
			f[i] = v
		}
		typ, ok1 := parseUint(f[2], 10, 16)
		proto, ok2 := parseUint(f[3], 16, 16)
		iface, ok3 := parseUint(f[4], 10, 31)
		uid, ok4 := parseUint(f[7], 10, 32)
		ino, ok5 := parseUint(f[8], 10, 64)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return out, fmt.Errorf("%w: packet line %d: bad field in %q", ErrFileParse, n, line)
		}
		out = append(out, PacketSocket{Type: uint16(typ), Proto: uint16(proto), Iface: int(iface), UID: uint32(uid), Inode: ino})
	}
	return out, nil
}

// NetPacketHeader is the header line of /proc/net/packet.
const NetPacketHeader = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n"

// FormatNetPacketLine renders one /proc/net/packet line. Fake trees use it.
func FormatNetPacketLine(s PacketSocket) string {
	return fmt.Sprintf("ffff888004%06x 3      %-4d %04x   %-5d 1 0      %-6d %d\n", s.Inode&0xffffff, s.Type, s.Proto, s.Iface, s.UID, s.Inode)
}
