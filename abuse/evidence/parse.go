package evidence

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strings"
	"time"
	"unsafe"
)

// maxTokens bounds how many whitespace-separated tokens of a line are
// looked at; the rest of a longer line is ignored (Raw keeps it all).
const maxTokens = 64

// ParseLine reads one evidence line in any layout that needs no context
// (every layout but CSV, whose rows need their header: use Scanner). It
// reports false for a line that is not evidence. Mail quote markers ("> ")
// and surrounding white space are removed first; Raw is what remains.
func ParseLine(line []byte, o Options) (Record, bool) {
	c := newConfig(o)
	var r Record
	_, ok := c.parseLine(&r, line, "")
	return r, ok
}

// trimLine removes the line ending, white space around the line, and the
// quote markers of a forwarded or replied-to mail.
func trimLine(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', ' ', '\t', '\v', '\f':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	for len(b) > 0 && (b[0] == '>' || b[0] == ' ' || b[0] == '\t' || b[0] == '|') {
		b = b[1:]
	}
	return b
}

// tokenize splits b at runs of white space (and other bytes below '!',
// control characters included) into at most cap(dst) tokens.
func tokenize(b []byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	n := cap(dst)
	i := 0
	for i < len(b) {
		if b[i] <= ' ' {
			i++
			continue
		}
		if len(dst) == n {
			break
		}
		j := i + 1
		// Find the token's end 8 bytes at a time: the lowest byte below
		// '!' (bytes >= 0x80 are not separators).
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			if t := (x - lsb*0x21) & ^x & msb; t != 0 {
				j += bits.TrailingZeros64(t) / 8
				goto end
			}
			j += 8
		}
		for j < len(b) && b[j] > ' ' {
			j++
		}
	end:
		dst = append(dst, b[i:j])
		i = j
	}
	return dst
}

// nbsp is U+00A0 NO-BREAK SPACE in UTF-8.
var nbsp = []byte("\u00a0")

// fastTokens is how many tokens the fast path looks at: enough for any
// column-log line; other layouts are tokenized again, up to maxTokens.
const fastTokens = 16

// parseLine recognises the layout of one line. hint is the proto a column
// log's header named ("tcp" for "TCP port being scanned"), if any.
//
// The record is written to *r (zeroed first, and left zero when the line
// is not evidence), so that the fast path copies no Record around.
func (c *config) parseLine(r *Record, line []byte, hint string) (Layout, bool) {
	l, ok := c.parseLine1(r, line, hint)
	if ok && c.zoneless != nil && c.lastZoneless && !r.Time.IsZero() {
		*c.zoneless++
	}
	return l, ok
}

func (c *config) parseLine1(r *Record, line []byte, hint string) (Layout, bool) {
	*r = Record{}
	c.lastZoneless = false
	line = trimLine(line)
	if len(line) < 7 { // "::1 ::2" is shorter than any evidence with a port
		return LayoutUnknown, false
	}
	if bytes.IndexByte(line, 0xc2) >= 0 && bytes.Contains(line, nbsp) {
		// No-break spaces (a notice's HTML, a mail client) separate
		// columns as spaces do.
		line = bytes.ReplaceAll(line, nbsp, []byte("  "))
	}
	// Tokens live on the stack (no write barriers while the GC marks); the
	// fast path's array is small, so that clearing it costs little.
	var arr [fastTokens][]byte
	toks := tokenize(line, arr[:0:fastTokens])
	if len(toks) >= 3 && len(toks) < fastTokens && startsColumns(toks, r) {
		// The fast path: a column log line with the addresses first.
		if len(toks) > 3 && c.cachedTime(r, line, toks[3:]) {
			toks = toks[:3] // the rest was the time
		}
		c.columnsRest(r, toks, 0, 3, hint)
		c.setRaw(r, line)
		return LayoutColumns, true
	}
	if len(toks) < 2 {
		return LayoutUnknown, false
	}
	l, ok := c.parseOther(r, line, hint)
	if !ok {
		*r = Record{}
		return LayoutUnknown, false
	}
	c.setRaw(r, line)
	return l, true
}

// cachedTime reads the time that the tokens after a line's columns spell,
// remembering the last one: in a log, runs of lines share a time. Tokens
// are subslices of line, so their offsets come from their capacities.
func (c *config) cachedTime(r *Record, line []byte, after [][]byte) bool {
	first, last := after[0], after[len(after)-1]
	start := cap(line) - cap(first)
	end := cap(line) - cap(last) + len(last)
	if start < 0 || end > len(line) || start >= end || end-start > len(c.tcache.key) {
		return false
	}
	text := line[start:end]
	if c.tcache.n > 0 && string(c.tcache.key[:c.tcache.n]) == string(text) {
		r.Time = c.tcache.t
		c.lastZoneless = c.tcache.zoneless
		return true
	}
	t, n, ok := c.parseTime(after)
	if !ok || n != len(after) {
		return false
	}
	c.tcache.n = copy(c.tcache.key[:], text)
	c.tcache.t = t
	c.tcache.zoneless = c.lastZoneless
	r.Time = t
	return true
}

func (c *config) setRaw(r *Record, line []byte) {
	if c.raw != nil {
		r.Raw = c.raw.str(line)
	} else {
		r.Raw = string(line)
	}
}

// parseOther reads the layouts off the fast path.
func (c *config) parseOther(r *Record, line []byte, hint string) (l Layout, ok bool) {
	var arr [maxTokens][]byte
	toks := tokenize(line, arr[:0:maxTokens])
	switch {
	case len(toks) >= 3 && startsColumns(toks, r):
		c.columnsRest(r, toks, 0, 3, hint)
		return LayoutColumns, true
	case bytes.IndexByte(line, '=') >= 0 && bytes.Contains(line, []byte("SRC=")):
		*r, l, ok = c.parseNetfilter(line, toks)
	case bytes.Contains(line, []byte("fail2ban")):
		*r, ok = c.parseFail2ban(toks)
		l = LayoutFail2ban
	case isSSHD(line):
		*r, ok = c.parseSSHD(toks)
		l = LayoutSSHD
	}
	if ok {
		return l, true
	}
	// Not what its keywords suggested (or none): arrows, then columns
	// after a time.
	if *r, ok = c.parseArrow(line, toks); ok {
		return LayoutArrow, true
	}
	if *r, ok = c.parseColumns(toks, hint); ok {
		return LayoutColumns, true
	}
	return LayoutUnknown, false
}

// rawChunk is the size of the blocks a Scanner carves Raw strings from.
const rawChunk = 32 << 10

// rawArena hands out strings carved from shared blocks, so that a
// Scanner makes one allocation per few hundred records rather than one per
// record. A block stays alive while any string carved from it does. Blocks
// start at 1 KiB and double, so a short log costs little. A block is a
// strings.Builder: it allocates without zeroing, and the bytes already
// written never change, so the strings carved from it are immutable.
type rawArena struct{ b strings.Builder }

func (a *rawArena) str(line []byte) string {
	if len(line) == 0 {
		return ""
	}
	if len(line) > rawChunk/16 {
		return string(line)
	}
	if a.b.Cap()-a.b.Len() < len(line) {
		size := min(max(2*a.b.Cap(), 1<<10), rawChunk)
		a.b = strings.Builder{}
		a.b.Grow(size)
	}
	start := a.b.Len()
	a.b.Write(line)
	return a.b.String()[start:]
}

// startsColumns reports whether toks begin "ADDR ADDR PORT", and if so
// sets them in r.
func startsColumns(toks [][]byte, r *Record) bool {
	p, ok := port(toks[2])
	if !ok {
		return false
	}
	src, ok := addr(toks[0])
	if !ok {
		return false
	}
	dst, ok := addr(toks[1])
	if !ok {
		return false
	}
	r.SrcIP, r.DstIP, r.DstPort = src, dst, p
	return true
}

// prefixTime reads the time a log line starts with, after an RFC 5424
// "<PRI>VERSION" token if there is one.
func (c *config) prefixTime(toks [][]byte) (time.Time, bool) {
	if len(toks) > 1 && len(toks[0]) > 2 && toks[0][0] == '<' {
		toks = toks[1:]
	}
	t, _, ok := c.parseTime(toks)
	return t, ok
}

// bstr views b as a string without copying, for calls that do not keep it.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// addr parses an IPv4 or IPv6 address; IPv4-mapped IPv6 addresses are
// unmapped (sshd on a dual-stack socket logs "::ffff:192.0.2.1").
func addr(b []byte) (netip.Addr, bool) {
	if len(b) < 2 || len(b) > 64 {
		return netip.Addr{}, false
	}
	// Cheap reject before netip: an address starts with a hex digit or ':'.
	if c := b[0]; !isDigit(c) && c != ':' && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
		return netip.Addr{}, false
	}
	if a, ok := ipv4(b); ok {
		return a, true
	}
	s := bstr(b)
	if bytes.IndexByte(b, '%') >= 0 {
		s = string(b) // the zone is kept: give netip a string of its own
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ipv4 parses dotted-quad IPv4 the way netip.ParseAddr does (no leading
// zeros, each part 0..255), faster. It reports false for anything else,
// which then goes to netip.
func ipv4(b []byte) (netip.Addr, bool) {
	var ip uint32 // accumulated in a register: no store-to-load stall
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		if i >= len(b) || b[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		v := uint(b[i] - '0')
		i++
		if v != 0 { // "0" stands alone: no leading zeros
			for k := 0; k < 2 && i < len(b) && b[i]-'0' <= 9; k++ {
				v = v*10 + uint(b[i]-'0')
				i++
			}
			if v > 255 {
				return netip.Addr{}, false
			}
		}
		ip = ip<<8 | uint32(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// port parses a decimal port number 0..65535.
func port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// protoName maps a protocol name or number, any case, with trailing
// punctuation, to the lower-case name used in Record.Proto; "" if b is not
// one. TCP flag words (SYN, ACK, …) name tcp.
func protoName(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == ',' || b[len(b)-1] == ':' || b[len(b)-1] == ';') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 9 {
		return ""
	}
	var low [9]byte
	for i, c := range b {
		low[i] = lower(c)
	}
	switch string(low[:len(b)]) {
	case "tcp", "6", "syn", "ack", "syn-ack", "fin", "rst", "tcp6", "tcp4":
		return "tcp"
	case "udp", "17", "udp6", "udp4":
		return "udp"
	case "icmp", "1":
		return "icmp"
	case "icmpv6", "ipv6-icmp", "icmp6", "58":
		return "icmpv6"
	case "sctp", "132":
		return "sctp"
	case "gre", "47":
		return "gre"
	case "esp", "50":
		return "esp"
	case "ah", "51":
		return "ah"
	case "igmp", "2":
		return "igmp"
	}
	return ""
}

// protoWord is protoName for a word of free text, where a bare number is
// a port or a count, never a protocol.
func protoWord(b []byte) string {
	if len(b) == 0 || isDigit(b[0]) {
		return ""
	}
	return protoName(b)
}

// protoValue is protoName, keeping any other value lower-cased.
func protoValue(b []byte) string {
	if p := protoName(b); p != "" {
		return p
	}
	if len(b) == 0 || len(b) > 16 {
		return ""
	}
	return strings.ToLower(string(b))
}

// parseColumns reads the column log of port-scan reporters:
//
//	SRC DST DPORT [PROTO] [TIME]      TIME SRC DST DPORT
//	SRC SPORT DST DPORT [TIME]
func (c *config) parseColumns(toks [][]byte, hint string) (Record, bool) {
	var r Record
	for i := 0; i+2 < len(toks) && i <= 8; i++ {
		src, ok := addr(toks[i])
		if !ok {
			continue
		}
		j := 0
		if dst, ok := addr(toks[i+1]); ok {
			if p, ok := port(toks[i+2]); ok {
				r.SrcIP, r.DstIP, r.DstPort, j = src, dst, p, i+3
			}
		} else if sp, ok := port(toks[i+1]); ok && i+3 < len(toks) {
			if dst, ok := addr(toks[i+2]); ok {
				if dp, ok := port(toks[i+3]); ok {
					r.SrcIP, r.SrcPort, r.DstIP, r.DstPort, j = src, sp, dst, dp, i+4
				}
			}
		}
		if j == 0 {
			continue
		}
		before, saved := toks[:i], r
		if !c.timeBefore(&r, before) {
			// Perhaps a row number first ("12. TIME SRC DST PORT").
			r = saved
			if b := skipCounter(before); len(b) == len(before) || !c.timeBefore(&r, b) {
				return Record{}, false // prose that happens to hold addresses
			} else {
				before = b
			}
		}
		c.columnsRest(&r, toks, len(before), j, hint)
		return r, true
	}
	return Record{}, false
}

// skipCounter drops a leading row number ("1", "12.", "3)", "#4") from
// the tokens before a row's columns.
func skipCounter(before [][]byte) [][]byte {
	if len(before) == 0 {
		return before
	}
	t := before[0]
	if len(t) > 1 && t[0] == '#' {
		t = t[1:]
	} else if n := len(t); n > 1 && (t[n-1] == '.' || t[n-1] == ')' || t[n-1] == ':') {
		t = t[:n-1]
	}
	if _, ok := digits(t); !ok {
		return before
	}
	return before[1:]
}

// timeBefore reads the tokens before the columns (a time, perhaps a
// protocol word after it) into r.
func (c *config) timeBefore(r *Record, before [][]byte) bool {
	if len(before) == 0 {
		return true
	}
	if p := protoWord(before[len(before)-1]); p != "" {
		r.Proto, before = p, before[:len(before)-1]
		if len(before) == 0 {
			return true
		}
	}
	t, ok := c.parseTimeAll(before)
	r.Time = t
	return ok
}

// columnsRest completes a column record whose columns end at toks[j]: a
// protocol word and a time after them (when no time came before, i == 0),
// and the default protocol.
func (c *config) columnsRest(r *Record, toks [][]byte, i, j int, hint string) {
	after := toks[j:]
	if i == 0 && len(after) > 0 {
		// The common case first: only a time follows.
		if t, n, ok := c.parseTime(after); ok && n == len(after) {
			r.Time, after = t, nil
		}
	}
	if len(after) > 0 {
		if p := protoWord(after[0]); p != "" {
			r.Proto, after = p, after[1:]
		}
	}
	if i == 0 && len(after) > 0 {
		if p := protoWord(after[len(after)-1]); p != "" && r.Proto == "" {
			r.Proto, after = p, after[:len(after)-1]
		}
		if t, ok := c.parseTimeAll(after); ok {
			r.Time = t
		}
	}
	if r.Proto == "" {
		r.Proto = hint
	}
	if r.Proto == "" {
		r.Proto = c.proto
	}
}

// isArrow reports whether b is an arrow between two endpoints.
func isArrow(b []byte) bool {
	switch string(b) {
	case "->", ">", "=>", "-->", "→":
		return true
	}
	return false
}

// endpoint parses "a:p", "[a]:p", tcpdump's "a.p" (IPv4 and IPv6), or a
// bare address, with trailing ':' or ',' ignored.
func endpoint(b []byte) (netip.Addr, uint16, bool) {
	for len(b) > 0 && (b[len(b)-1] == ':' || b[len(b)-1] == ',' || b[len(b)-1] == ';') {
		b = b[:len(b)-1]
	}
	if len(b) < 2 {
		return netip.Addr{}, 0, false
	}
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, 0, false
		}
		a, ok := addr(b[1:end])
		if !ok {
			return netip.Addr{}, 0, false
		}
		rest := b[end+1:]
		if len(rest) == 0 {
			return a, 0, true
		}
		if rest[0] != ':' && rest[0] != '.' {
			return netip.Addr{}, 0, false
		}
		p, ok := port(rest[1:])
		return a, p, ok
	}
	if a, ok := addr(b); ok {
		// A bare address. "2001:db8::1:22" is read as an address, never as
		// an address and a port: IPv6 with a port needs brackets or a dot.
		return a, 0, true
	}
	if colon := bytes.IndexByte(b, ':'); colon >= 0 && colon == bytes.LastIndexByte(b, ':') {
		a, ok1 := addr(b[:colon])
		p, ok2 := port(b[colon+1:])
		if ok1 && ok2 && a.Is4() {
			return a, p, true
		}
	}
	if dot := bytes.LastIndexByte(b, '.'); dot > 0 {
		a, ok1 := addr(b[:dot])
		p, ok2 := port(b[dot+1:])
		if ok1 && ok2 {
			return a, p, true
		}
	}
	return netip.Addr{}, 0, false
}

// splitArrow finds "a:p->b:q" written as one token.
func splitArrow(t []byte) (l, r []byte, ok bool) {
	if i := bytes.Index(t, []byte("->")); i > 0 && i+2 < len(t) {
		return t[:i], t[i+2:], true
	}
	return nil, nil, false
}

// parseArrow reads "[TIME] [PROTO…] a:p -> b:q [words]", tcpdump's
// "TIME IP a.p > b.q: Flags [S], …" and the IPv6 forms of both.
func (c *config) parseArrow(line []byte, toks [][]byte) (Record, bool) {
	var r Record
	if bytes.IndexByte(line, '>') < 0 && !bytes.Contains(line, []byte("→")) {
		return Record{}, false
	}
	// The first arrow between two endpoints; "x > y" in prose before it
	// does not count. An endpoint is one token ("a:p", "[a]:p", "a.p", "a")
	// or an address and its port as the next word: "a p -> b q" (Hetzner's
	// netscan tables), "a -> b : p", "a -> b: p", "a -> b :p".
	var before, after [][]byte
	found := false
	for i, t := range toks {
		if i > 0 && i+1 < len(toks) && isArrow(t) {
			srcStart, dstEnd := i-1, i+1
			var ok bool
			if r.SrcIP, r.SrcPort, ok = endpoint(toks[i-1]); !ok {
				p, pok := port(toks[i-1])
				if i < 2 || !pok {
					continue
				}
				a, aok := addr(toks[i-2])
				if !aok {
					continue
				}
				r.SrcIP, r.SrcPort, srcStart = a.Unmap(), p, i-2
			}
			if r.DstIP, r.DstPort, ok = endpoint(toks[i+1]); !ok {
				continue
			}
			if r.DstPort == 0 && toks[i+1][0] != '[' {
				r.DstPort, dstEnd = portAfter(toks, i+2, dstEnd)
			}
			before, after = toks[:srcStart], toks[dstEnd+1:]
			found = true
			break
		}
		left, right, split := splitArrow(t)
		if !split {
			continue
		}
		var ok bool
		if r.SrcIP, r.SrcPort, ok = endpoint(left); !ok {
			continue
		}
		if r.DstIP, r.DstPort, ok = endpoint(right); !ok {
			continue
		}
		before, after = toks[:i], toks[i+1:]
		found = true
		break
	}
	if !found {
		return Record{}, false
	}
	if n := len(before); n > 0 && len(before[n-1]) > 1 && before[n-1][len(before[n-1])-1] == ':' {
		// "Thu Nov 13 18:14:27 2013:   a => b:   p" (Hetzner)
		before = append(before[:n-1:n-1], before[n-1][:len(before[n-1])-1])
	}
	n := 0
	if t, used, ok := c.parseTime(before); ok {
		r.Time, n = t, used
	} else if len(before) > 0 {
		if t, ok := c.timeOfDay(before[0]); ok {
			r.Time, n = t, 1
		}
	}
	for _, w := range before[n:] {
		if p := protoWord(w); p != "" && r.Proto == "" {
			r.Proto = p
		}
	}
	if r.Time.IsZero() && len(after) > 0 {
		if t, _, ok := c.parseTime(after); ok {
			r.Time = t
		}
	}
	if r.Proto == "" {
		for _, w := range after {
			if p := protoWord(w); p != "" {
				r.Proto = p
				break
			}
			if string(w) == "Flags" {
				r.Proto = "tcp"
				break
			}
		}
	}
	return r, true
}

// portAfter reads the port written after a bare destination address at
// toks[j]: ": p", ":p" or "p" (the address's own trailing ':' was
// dropped). It returns the port and the index of its last token, or 0 and
// end when there is none.
func portAfter(toks [][]byte, j, end int) (uint16, int) {
	if j >= len(toks) {
		return 0, end
	}
	t := toks[j]
	switch {
	case len(t) == 1 && t[0] == ':':
		if j+1 < len(toks) {
			if p, ok := port(toks[j+1]); ok && p != 0 {
				return p, j + 1
			}
		}
	case len(t) > 1 && t[0] == ':':
		if p, ok := port(t[1:]); ok && p != 0 {
			return p, j
		}
	default:
		if p, ok := port(t); ok && p != 0 {
			return p, j
		}
	}
	return 0, end
}

// timeOfDay reads tcpdump's "14:46:47.123456" on the Reference's date, or
// the day before when that would put it after the Reference.
func (c *config) timeOfDay(b []byte) (time.Time, bool) {
	k, ok := parseClock(b)
	if !ok {
		return time.Time{}, false
	}
	y, m, d := c.ref.In(c.loc).Date()
	t := c.makeTime(y, int(m), d, k, false, 0)
	if t.After(c.ref) {
		y, m, d = c.ref.In(c.loc).AddDate(0, 0, -1).Date()
		t = c.makeTime(y, int(m), d, k, false, 0)
	}
	return t, true
}
