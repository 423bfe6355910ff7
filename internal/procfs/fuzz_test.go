package procfs

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// Each fuzz target checks that a parser never panics and that what it
// accepts is consistent; seeds come from testdata samples and the corpora
// under testdata/fuzz.

func FuzzParseNetIP(f *testing.F) {
	for _, name := range []string{"net_tcp", "net_tcp6", "net_udp", "net_raw"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := parseNetIP(b)
		if err != nil {
			return
		}
		// What parses must survive formatting and parsing again unchanged.
		text := NetIPHeader
		for i, s := range socks {
			text += FormatNetIPLine(i, s)
		}
		again, err := parseNetIP([]byte(text))
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, text)
		}
		if len(again) != len(socks) {
			t.Fatalf("reparse: %d sockets, want %d", len(again), len(socks))
		}
		for i := range socks {
			a, b := socks[i], again[i]
			// A v4 address in a v6 table stays 16 bytes; compare unmapped.
			if a.Local.Addr().Unmap() != b.Local.Addr().Unmap() || a.Remote.Port() != b.Remote.Port() || a.Inode != b.Inode || a.State != b.State {
				t.Fatalf("reparse %d: %+v != %+v", i, a, b)
			}
		}
	})
}

func FuzzParseNetPacket(f *testing.F) {
	f.Add(readTestdata(f, "net_packet"))
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := parseNetPacket(b)
		if err != nil {
			return
		}
		text := NetPacketHeader
		for _, s := range socks {
			text += FormatNetPacketLine(s)
		}
		again, err := parseNetPacket([]byte(text))
		if err != nil || len(again) != len(socks) {
			t.Fatalf("reparse: %v (%d, want %d)", err, len(again), len(socks))
		}
	})
}

func FuzzParseProcStat(f *testing.F) {
	f.Add(readTestdata(f, "proc_stat"))
	f.Add([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 25"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseProcStat(b)
		if err == nil && s.PID <= 0 {
			t.Fatalf("accepted pid %d", s.PID)
		}
	})
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add(readTestdata(f, "proc_status"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseProcStatus(b) })
}

func FuzzParseMaps(f *testing.F) {
	f.Add(readTestdata(f, "proc_maps"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := parseMaps(b)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.End < r.Start {
				t.Fatalf("accepted end < start: %+v", r)
			}
		}
	})
}

func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte("/tmp/.x/work32\x00-c\x00"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = parseCmdline(b) })
}

func FuzzParseKernelStat(f *testing.F) {
	f.Add(readTestdata(f, "stat"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseKernelStat(b) })
}

func FuzzParseLinks(f *testing.F) {
	f.Add("socket:[4026]")
	f.Add("net:[4026531840]")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseSocketLink([]byte(s))
		_, _ = parseNSLink(s, "net")
	})
}

func FuzzParseHexAddrPort(f *testing.F) {
	f.Add("0100007F:0277")
	f.Add("0000000000000000FFFF00000100007F:A1B2")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseHexAddrPort([]byte(s))
		if err != nil {
			return
		}
		b, err := parseHexAddrPort([]byte(FormatHexAddrPort(a)))
		if err != nil || b != a {
			t.Fatalf("%q: round trip %v -> %v (%v)", s, a, b, err)
		}
		_ = netip.AddrPort(a)
	})
}

func FuzzParseSockstat(f *testing.F) {
	f.Add(readTestdata(f, "net_sockstat"))
	f.Add(readTestdata(f, "net_sockstat6"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c SocketCounts
		parseSockstat(b, &c)
		if c.TCP < 0 || c.UDP < 0 || c.TCP6 < 0 || c.UDP6 < 0 {
			t.Fatalf("negative count %+v", c)
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	f.Add([]byte("12:cpu,cpuacct:/user.slice\n0::/system.slice/cron.service\n"))
	f.Add([]byte("0::/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range parseCgroup(b) {
			if c.ID < 0 {
				t.Fatalf("negative hierarchy id: %+v", c)
			}
			for _, ctl := range c.Controllers {
				if strings.Contains(ctl, ",") || strings.Contains(ctl, "\n") {
					t.Fatalf("controller %q not split", ctl)
				}
			}
		}
	})
}

func FuzzParseCgroup2Mounts(f *testing.F) {
	f.Add([]byte("30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n31 25 0:27 / /mnt/a\\040b rw - cgroup2 none rw\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseCgroup2Mounts(b) {
			if len(m) > len(b) {
				t.Fatalf("mount point %q longer than the input", m)
			}
		}
	})
}

func FuzzNextDirent(f *testing.F) {
	// Two records as getdents lays them out: ".", then "3".
	rec := func(name string) []byte {
		n := (19 + len(name) + 1 + 7) &^ 7
		b := make([]byte, n)
		b[16], b[17] = byte(n), byte(n>>8) // little-endian d_reclen (amd64, arm64)
		copy(b[19:], name)
		return b
	}
	f.Add(append(rec("."), rec("3")...))
	f.Add(rec("12345"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		for off := 0; off+19 < len(buf); {
			name, next, ok := nextDirent(buf, off)
			if !ok {
				return
			}
			if next <= off || next > len(buf) || len(name) == 0 || bytes.IndexByte(name, 0) < 0 {
				t.Fatalf("record at %d: next %d, name %q", off, next, name)
			}
			off = next
		}
	})
}
