// Package scantest writes fake procfs trees for testing code that reads a
// host through scan.Options.Root, the way net/http/httptest sits beside
// net/http. A Host lists processes with their sockets; Write lays out
// /PID/{stat,status,cmdline,exe,fd/,ns/net,net/*,cgroup} and /stat as the
// kernel would, so that the same readers run on it as on a live /proc.
package scantest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
)

// DefaultNetNS is the network namespace inode processes get by default.
const DefaultNetNS = 4026531840

// Host is a fake host.
type Host struct {
	BootTime time.Time // written as btime in /stat; zero means 2026-01-01 UTC
	Procs    []Proc
}

// Proc is one fake process.
type Proc struct {
	PID, PPID  int
	Comm       string
	Exe        string   // link target; append " (deleted)" for a deleted executable; "" for none
	Cmdline    []string // NUL-joined into cmdline
	UID        uint32
	State      byte   // default 'S'
	UTime      uint64 // clock ticks
	STime      uint64
	StartTime  uint64 // ticks after boot
	KernelThr  bool   // sets PF_KTHREAD
	NetNS      uint64 // default DefaultNetNS
	Cgroup     string // contents of /PID/cgroup; default "0::/user.slice\n"
	Sockets    []Sock
	OtherFDs   []string // extra non-socket fd targets ("/dev/null", "pipe:[1]")
	StatusName string   // Name: in status; default Comm
}

// Sock is one socket a fake process holds. Table is "tcp", "tcp6", "udp",
// "udp6", "raw", "raw6" (IP is used) or "packet" (Packet is used). A zero
// inode gets a fresh one; the same inode in two processes is one socket
// shared by both.
type Sock struct {
	Table  string
	IP     procfs.NetIPSocket
	Packet procfs.PacketSocket
}

// Write lays the host out under dir, which should be empty.
func Write(dir string, h Host) error {
	boot := h.BootTime
	if boot.IsZero() {
		boot = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), fmt.Appendf(nil, "cpu  1 2 3 4 5 6 7 8 0 0\nctxt 1\nbtime %d\nprocesses 1\n", boot.Unix()), 0o644); err != nil {
		return err
	}
	nextIno := uint64(100000)
	type table map[string][]string
	nets := map[uint64]table{}
	written := map[uint64]bool{}
	for i := range h.Procs {
		p := &h.Procs[i]
		if p.NetNS == 0 {
			p.NetNS = DefaultNetNS
		}
		if nets[p.NetNS] == nil {
			nets[p.NetNS] = table{}
		}
		for j := range p.Sockets {
			s := &p.Sockets[j]
			ino := &s.IP.Inode
			if s.Table == "packet" {
				ino = &s.Packet.Inode
			}
			if *ino == 0 {
				nextIno++
				*ino = nextIno
			}
			if written[*ino] {
				continue
			}
			written[*ino] = true
			t := nets[p.NetNS]
			if s.Table == "packet" {
				t[s.Table] = append(t[s.Table], procfs.FormatNetPacketLine(s.Packet))
			} else {
				t[s.Table] = append(t[s.Table], procfs.FormatNetIPLine(len(t[s.Table]), s.IP))
			}
		}
	}
	for _, p := range h.Procs {
		pd := filepath.Join(dir, strconv.Itoa(p.PID))
		for _, d := range []string{"fd", "ns", "net"} {
			if err := os.MkdirAll(filepath.Join(pd, d), 0o755); err != nil {
				return err
			}
		}
		state := p.State
		if state == 0 {
			state = 'S'
		}
		var flags uint64 = 4194304
		if p.KernelThr {
			flags |= procfs.PFKthread
		}
		stat := fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 %d 0 0 0 0 %d %d 0 0 20 0 1 0 %d 1000000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			p.PID, p.Comm, state, p.PPID, p.PID, p.PID, flags, p.UTime, p.STime, p.StartTime)
		name := p.StatusName
		if name == "" {
			name = p.Comm
		}
		status := fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\t%c (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nVmRSS:\t  1000 kB\n",
			name, state, p.PID, p.PID, p.PPID, p.UID, p.UID, p.UID, p.UID, p.UID, p.UID, p.UID, p.UID)
		cgroup := p.Cgroup
		if cgroup == "" {
			cgroup = "0::/user.slice\n"
		}
		files := map[string]string{
			"stat":    stat,
			"status":  status,
			"cmdline": strings.Join(p.Cmdline, "\x00") + "\x00",
			"cgroup":  cgroup,
			"environ": "PATH=/usr/bin\x00",
			"maps":    "00400000-00401000 r-xp 00000000 08:01 1234 " + p.Exe + "\n",
		}
		if len(p.Cmdline) == 0 {
			files["cmdline"] = ""
		}
		for t, lines := range nets[p.NetNS] {
			hdr := procfs.NetIPHeader
			if t == "packet" {
				hdr = procfs.NetPacketHeader
			}
			files["net/"+t] = hdr + strings.Join(lines, "")
		}
		for _, t := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6"} {
			if _, ok := files["net/"+t]; !ok {
				files["net/"+t] = procfs.NetIPHeader
			}
		}
		if _, ok := files["net/packet"]; !ok {
			files["net/packet"] = procfs.NetPacketHeader
		}
		for n, c := range files {
			if err := os.WriteFile(filepath.Join(pd, n), []byte(c), 0o644); err != nil {
				return err
			}
		}
		if p.KernelThr {
			continue
		}
		if p.Exe != "" {
			if err := os.Symlink(p.Exe, filepath.Join(pd, "exe")); err != nil {
				return err
			}
		}
		if err := os.Symlink(fmt.Sprintf("net:[%d]", p.NetNS), filepath.Join(pd, "ns", "net")); err != nil {
			return err
		}
		fd := 0
		for _, t := range p.OtherFDs {
			if err := os.Symlink(t, filepath.Join(pd, "fd", strconv.Itoa(fd))); err != nil {
				return err
			}
			fd++
		}
		fd = max(fd, 3)
		for _, s := range p.Sockets {
			ino := s.IP.Inode
			if s.Table == "packet" {
				ino = s.Packet.Inode
			}
			if err := os.Symlink(fmt.Sprintf("socket:[%d]", ino), filepath.Join(pd, "fd", strconv.Itoa(fd))); err != nil {
				return err
			}
			fd++
		}
	}
	return nil
}
