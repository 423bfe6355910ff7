package evidence

import "testing"

// TestParseLinePortWords: logs that write the port as its own word
// ("a p => b q", Hetzner's netscan tables "a p -> b q size PROTO", UDP
// too), the seed reporter's "DATE TIME SRC -> DST : PORT" with any spacing
// around the colon, and Hetzner's "TIME:   a =>   b:   p".
func TestParseLinePortWords(t *testing.T) {
	src, dst := ip("13.125.40.201"), ip("192.0.2.15")
	arrow := func(name, line string, r Record) lineCase {
		return lineCase{name: name, line: line, want: r, lay: LayoutArrow, ok: true}
	}
	runLineCases(t, Options{Reference: ref}, []lineCase{
		arrow("ip port => ip port", "13.125.40.201 58644 => 192.0.2.15 22",
			Record{SrcIP: src, SrcPort: 58644, DstIP: dst, DstPort: 22}),
		arrow("netscan tcp", "13.125.40.201 58644 -> 192.0.2.15 22 60 TCP",
			Record{SrcIP: src, SrcPort: 58644, DstIP: dst, DstPort: 22, Proto: "tcp"}),
		arrow("netscan udp", "13.125.40.201 5353 -> 192.0.2.15 1900 120 UDP",
			Record{SrcIP: src, SrcPort: 5353, DstIP: dst, DstPort: 1900, Proto: "udp"}),
		arrow("netscan with time", "2023-04-27 14:46:47  13.125.40.201  5353  ->  192.0.2.15  1900  120  UDP",
			Record{Time: seedTime, SrcIP: src, SrcPort: 5353, DstIP: dst, DstPort: 1900, Proto: "udp"}),
		arrow("space colon space", "2023-04-27 14:46:47 13.125.40.201 -> 192.0.2.15 : 22",
			Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22}),
		arrow("space colon", "2023-04-27 14:46:47 13.125.40.201 -> 192.0.2.15 :22",
			Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22}),
		arrow("colon space", "2023-04-27 14:46:47 13.125.40.201 -> 192.0.2.15: 22",
			Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22}),
		arrow("tabs", "2023-04-27\t14:46:47\t13.125.40.201\t->\t192.0.2.15\t:\t22",
			Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22}),
		arrow("hetzner netscan", "Thu Apr 27 14:46:47 2023:   13.125.40.201 =>         192.0.2.15:   22",
			Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22}),
		arrow("ipv6 port word", "2001:db8::7 50123 -> 2001:db8:1::15 22 TCP",
			Record{SrcIP: ip("2001:db8::7"), SrcPort: 50123, DstIP: ip("2001:db8:1::15"), DstPort: 22, Proto: "tcp"}),
		{name: "no-break spaces", line: "13.125.40.201\u00a0\u00a0192.0.2.15\u00a0\u00a022\u00a0\u00a0Thu Apr 27 14:46:47 2023",
			want: Record{Time: seedTime, SrcIP: src, DstIP: dst, DstPort: 22, Raw: "13.125.40.201    192.0.2.15    22    Thu Apr 27 14:46:47 2023"}, lay: LayoutColumns, ok: true},
		{name: "port word not a port", line: "13.125.40.201 99999 -> 192.0.2.15 22"},
	})
}
