package scan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netlinkSockets dumps the TCP and UDP sockets of the network namespace of
// process rep through netlink sock_diag (INET_DIAG). For the caller's own
// namespace the socket is opened in place; for another, netlink opens it in
// that namespace (setns on a locked thread) and returns.
func netlinkSockets(fs procfs.FS, rep int, ns uint64, socks map[uint64]*Socket) error {
	self, err := fs.NetNS(os.Getpid())
	if err != nil {
		return err
	}
	var h *netlink.Handle
	if ns == self {
		h, err = netlink.NewHandle(unix.NETLINK_INET_DIAG)
	} else {
		var nsh netns.NsHandle
		nsh, err = netns.GetFromPath(fs.PIDPath(rep, "ns", "net"))
		if err != nil {
			return fmt.Errorf("open netns of pid %d: %w", rep, err)
		}
		defer nsh.Close()
		h, err = netlink.NewHandleAt(nsh, unix.NETLINK_INET_DIAG)
	}
	if err != nil {
		return fmt.Errorf("netlink handle: %w", err)
	}
	defer h.Close()
	for _, q := range []struct {
		proto  string
		family uint8
	}{{ProtoTCP, unix.AF_INET}, {ProtoTCP, unix.AF_INET6}, {ProtoUDP, unix.AF_INET}, {ProtoUDP, unix.AF_INET6}} {
		var list []*netlink.Socket
		if q.proto == ProtoTCP {
			list, err = h.SocketDiagTCP(q.family)
		} else {
			list, err = h.SocketDiagUDP(q.family)
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return fmt.Errorf("sock_diag %s/%d: %w", q.proto, q.family, err)
		}
		fam := 4
		if q.family == unix.AF_INET6 {
			fam = 6
		}
		for _, ns2 := range list {
			ino := uint64(ns2.INode)
			if ino == 0 {
				continue
			}
			if _, ok := socks[ino]; ok {
				continue
			}
			socks[ino] = &Socket{Proto: q.proto, Family: fam,
				Local:  netip.AddrPortFrom(ipAddr(ns2.ID.Source), ns2.ID.SourcePort),
				Remote: netip.AddrPortFrom(ipAddr(ns2.ID.Destination), ns2.ID.DestinationPort),
				State:  stateName(q.proto, ns2.State), UID: ns2.UID, Inode: ino, NetNS: ns}
		}
	}
	return nil
}

func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
