package evidence

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ref is the reference time of the table tests: a few days after the
// seed incident.
var ref = time.Date(2023, 5, 1, 9, 0, 0, 0, time.UTC)

// cmpRecord compares Records: addresses by value.
var cmpRecord = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func utc(y int, m time.Month, d, hh, mm, ss, ns int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
}

var seedTime = utc(2023, 4, 27, 14, 46, 47, 0)

type lineCase struct {
	name string
	line string
	want Record // Raw is filled from line when empty and ok
	lay  Layout
	ok   bool
}

func runLineCases(t *testing.T, o Options, cases []lineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig(o)
			var got Record
			lay, ok := c.parseLine(&got, []byte(tc.line), "")
			if ok != tc.ok {
				t.Fatalf("parseLine(%q) ok = %v, want %v (got %+v)", tc.line, ok, tc.ok, got)
			}
			if !ok {
				return
			}
			want := tc.want
			if want.Raw == "" {
				want.Raw = string(trimLine([]byte(tc.line)))
			}
			if !got.Time.IsZero() && got.Time.Location() != time.UTC {
				t.Errorf("time %v is not in UTC", got.Time)
			}
			if diff := cmp.Diff(want, got, cmpRecord); diff != "" {
				t.Errorf("parseLine(%q) (-want +got):\n%s", tc.line, diff)
			}
			if lay != tc.lay {
				t.Errorf("layout = %q, want %q", lay, tc.lay)
			}
			// ParseLine is the same parser.
			if r, ok := ParseLine([]byte(tc.line), o); !ok || !cmp.Equal(r, got, cmpRecord) {
				t.Errorf("ParseLine differs from parseLine: %+v %v", r, ok)
			}
		})
	}
}

func TestParseLineColumns(t *testing.T) {
	src, dst := ip("13.125.40.201"), ip("192.0.2.15")
	rec := func(tm time.Time) Record { return Record{Time: tm, SrcIP: src, DstIP: dst, DstPort: 22} }
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "seed ctime", line: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "ctime single-digit day", line: "13.125.40.201 192.0.2.15 22 Thu Apr  7 04:06:07 2023", want: rec(utc(2023, 4, 7, 4, 6, 7, 0)), lay: LayoutColumns, ok: true},
		{name: "date(1) with zone", line: "13.125.40.201 192.0.2.15 22 Thu Apr 27 23:46:47 KST 2023", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "time first ctime", line: "Thu Apr 27 14:46:47 2023 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "rfc1123 GMT", line: "13.125.40.201\t192.0.2.15\t22\tThu, 27 Apr 2023 14:46:47 GMT", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "rfc1123z first", line: "Thu, 27 Apr 2023 16:46:47 +0200 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "abuse time style", line: "27 Apr 2023 14:46:47 GMT 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "rfc3339 Z", line: "13.125.40.201 192.0.2.15 22 2023-04-27T14:46:47Z", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "rfc3339 frac offset", line: "13.125.40.201 192.0.2.15 22 2023-04-27T23:46:47.250+09:00", want: rec(utc(2023, 4, 27, 14, 46, 47, 250e6)), lay: LayoutColumns, ok: true},
		{name: "iso no zone", line: "2023-04-27 14:46:47 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "iso space zone", line: "2023-04-27 14:46:47.000001 UTC 13.125.40.201 192.0.2.15 22", want: rec(utc(2023, 4, 27, 14, 46, 47, 1000)), lay: LayoutColumns, ok: true},
		{name: "syslog no year", line: "Apr 27 14:46:47 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "syslog after", line: "13.125.40.201 192.0.2.15 22 Apr 27 14:46:47", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "syslog from last year", line: "13.125.40.201 192.0.2.15 22 Dec 31 23:59:59", want: rec(utc(2022, 12, 31, 23, 59, 59, 0)), lay: LayoutColumns, ok: true},
		{name: "syslog tomorrow stays", line: "13.125.40.201 192.0.2.15 22 May 2 08:00:00", want: rec(utc(2023, 5, 2, 8, 0, 0, 0)), lay: LayoutColumns, ok: true},
		{name: "apache time via fallback", line: "[27/Apr/2023:14:46:47 +0000] 13.125.40.201 192.0.2.15 22", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "no time", line: "13.125.40.201 192.0.2.15 22", want: rec(time.Time{}), lay: LayoutColumns, ok: true},
		{name: "proto word", line: "13.125.40.201 192.0.2.15 53 UDP 2023-04-27T14:46:47Z",
			want: Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 53, Proto: "udp"}, lay: LayoutColumns, ok: true},
		{name: "src port too", line: "13.125.40.201 50123 192.0.2.15 22 2023-04-27T14:46:47Z",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22}, lay: LayoutColumns, ok: true},
		{name: "ipv6", line: "2001:db8::7  2001:db8:1::15  22  Thu Apr 27 14:46:47 2023",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::7"), DstIP: ip("2001:db8:1::15"), DstPort: 22}, lay: LayoutColumns, ok: true},
		{name: "v4-mapped unmapped", line: "::ffff:13.125.40.201 192.0.2.15 22", want: rec(time.Time{}), lay: LayoutColumns, ok: true},
		{name: "mail quoted", line: "> > 13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\r\n", want: rec(seedTime), lay: LayoutColumns, ok: true},
		{name: "seed header", line: "(attacker's IP) (IP being scanned) (TCP port being scanned)"},
		{name: "separator", line: "-------------------------------------------------------------------------------"},
		{name: "quote marks", line: ">>>"},
		{name: "prose with addresses", line: "we saw 13.125.40.201 192.0.2.15 22 times"},
		{name: "port out of range", line: "13.125.40.201 192.0.2.15 65536"},
		{name: "one address", line: "13.125.40.201 Thu Apr 27 14:46:47 2023"},
		{name: "bad day", line: "Thu Apr 31 14:46:47 2023 13.125.40.201 192.0.2.15 22"},
		{name: "bad hour", line: "2023-04-27T24:46:47Z 13.125.40.201 192.0.2.15 22"},
		{name: "empty", line: ""},
	})
}

func TestParseLineArrow(t *testing.T) {
	src, dst := ip("13.125.40.201"), ip("192.0.2.15")
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "colon ports", line: "13.125.40.201:50123 -> 192.0.2.15:22",
			want: Record{SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22}, lay: LayoutArrow, ok: true},
		{name: "time and proto", line: "2023-04-27T14:46:47Z TCP 13.125.40.201:50123 -> 192.0.2.15:22",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22, Proto: "tcp"}, lay: LayoutArrow, ok: true},
		{name: "syslog time SYN", line: "Apr 27 14:46:47 SYN 13.125.40.201:50123 -> 192.0.2.15:22",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22, Proto: "tcp"}, lay: LayoutArrow, ok: true},
		{name: "compact", line: "13.125.40.201:50123->192.0.2.15:22 UDP",
			want: Record{SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22, Proto: "udp"}, lay: LayoutArrow, ok: true},
		{name: "tcpdump", line: "14:46:47.123456 IP 13.125.40.201.50123 > 192.0.2.15.22: Flags [S], seq 1, win 64240, length 0",
			want: Record{Time: utc(2023, 4, 30, 14, 46, 47, 123456000), SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22, Proto: "tcp"}, lay: LayoutArrow, ok: true},
		{name: "tcpdump tttt udp", line: "2023-04-27 14:46:47.000000 IP 13.125.40.201.53 > 192.0.2.15.33000: UDP, length 40",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 53, DstIP: dst, DstPort: 33000, Proto: "udp"}, lay: LayoutArrow, ok: true},
		{name: "tcpdump ipv6", line: "2023-04-27 14:46:47 IP6 2001:db8::7.50123 > 2001:db8:1::15.22: Flags [S], seq 1",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::7"), SrcPort: 50123, DstIP: ip("2001:db8:1::15"), DstPort: 22, Proto: "tcp"}, lay: LayoutArrow, ok: true},
		{name: "brackets ipv6", line: "[2001:db8::7]:50123 -> [2001:db8:1::15]:22 2023-04-27T14:46:47Z",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::7"), SrcPort: 50123, DstIP: ip("2001:db8:1::15"), DstPort: 22}, lay: LayoutArrow, ok: true},
		{name: "bare addresses", line: "13.125.40.201 -> 192.0.2.15",
			want: Record{SrcIP: src, DstIP: dst}, lay: LayoutArrow, ok: true},
		{name: "not endpoints", line: "cost -> benefit"},
		{name: "arrow first", line: "-> 192.0.2.15:22"},
		{name: "port too big", line: "13.125.40.201:70000 -> 192.0.2.15:22"},
	})
}

func TestIPv4MatchesNetip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "255.255.255.255", "1.2.3.4", "203.0.113.201", "10.0.0.1",
		"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.00", "1..2.3", ".1.2.3",
		"1.2.3.4.", "1.2.3.-4", "1.2.3.4a", "1234.1.1.1", "", "1", "::1", "1.2.3.4:22", "1.2.3.25x", "1.2.3.2555",
	} {
		a, ok := ipv4([]byte(s))
		b, err := netip.ParseAddr(s)
		if ok != (err == nil && b.Is4()) || (ok && a != b) {
			t.Errorf("ipv4(%q) = %v, %v; netip says %v, %v", s, a, ok, b, err)
		}
	}
}

func TestParseLineKeywordsFallThrough(t *testing.T) {
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "sshd phrase in an arrow line", line: "Connection from 203.0.113.7:50123 -> 192.0.2.15:22",
			want: Record{SrcIP: ip("203.0.113.7"), SrcPort: 50123, DstIP: ip("192.0.2.15"), DstPort: 22}, lay: LayoutArrow, ok: true},
		{name: "fail2ban word in a column line", line: "2023-04-27T14:46:47Z 203.0.113.7 192.0.2.15 22 fail2ban",
			want: Record{Time: seedTime, SrcIP: ip("203.0.113.7"), DstIP: ip("192.0.2.15"), DstPort: 22}, lay: LayoutColumns, ok: true},
	})
}

func TestParseLineNumberedRows(t *testing.T) {
	rec := Record{Time: seedTime, SrcIP: ip("203.0.113.7"), DstIP: ip("192.0.2.15"), DstPort: 22}
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "number", line: "1 203.0.113.7 192.0.2.15 22 2023-04-27T14:46:47Z", want: rec, lay: LayoutColumns, ok: true},
		{name: "number dot", line: "12. 203.0.113.7 192.0.2.15 22 Thu Apr 27 14:46:47 2023", want: rec, lay: LayoutColumns, ok: true},
		{name: "hash", line: "#3 2023-04-27T14:46:47Z 203.0.113.7 192.0.2.15 22", want: rec, lay: LayoutColumns, ok: true},
		{name: "paren then time", line: "4) Thu Apr 27 14:46:47 2023 203.0.113.7 192.0.2.15 22", want: rec, lay: LayoutColumns, ok: true},
		{name: "word is not a counter", line: "see 203.0.113.7 192.0.2.15 22"},
	})
}

func TestParseLineArrowAfterProse(t *testing.T) {
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "prose arrow first", line: "cost > benefit: 203.0.113.7:50123 -> 192.0.2.15:22",
			want: Record{SrcIP: ip("203.0.113.7"), SrcPort: 50123, DstIP: ip("192.0.2.15"), DstPort: 22}, lay: LayoutArrow, ok: true},
		{name: "icmp tcpdump", line: "14:46:47.000000 IP 203.0.113.7 > 192.0.2.15: ICMP echo request, id 1, seq 1, length 64",
			want: Record{Time: utc(2023, 4, 30, 14, 46, 47, 0), SrcIP: ip("203.0.113.7"), DstIP: ip("192.0.2.15"), Proto: "icmp"}, lay: LayoutArrow, ok: true},
	})
}
