package evidence

import (
	"bytes"
	"strings"
	"time"
)

// This file reads the times evidence lines carry, without time.Parse for
// the layouts that appear on almost every line (ctime, RFC 1123, ISO 8601 /
// RFC 3339, syslog). Times are read from whitespace-separated tokens, so
// that "Apr  7" and "Apr 7" are the same. Rare layouts fall back to
// time.Parse (see fallbackLayouts).

var longMonths = [...]string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

// pack3 packs the first three bytes of b, lower-cased, into a uint32.
func pack3(b []byte) uint32 {
	return uint32(b[0]|0x20)<<16 | uint32(b[1]|0x20)<<8 | uint32(b[2]|0x20)
}

// month returns 1..12 for a three-letter (or full) English month name, any
// case, optionally followed by '.'; else 0.
func month(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	var m int
	switch pack3(b) {
	case 0x6a616e: // jan
		m = 1
	case 0x666562: // feb
		m = 2
	case 0x6d6172: // mar
		m = 3
	case 0x617072: // apr
		m = 4
	case 0x6d6179: // may
		m = 5
	case 0x6a756e: // jun
		m = 6
	case 0x6a756c: // jul
		m = 7
	case 0x617567: // aug
		m = 8
	case 0x736570: // sep
		m = 9
	case 0x6f6374: // oct
		m = 10
	case 0x6e6f76: // nov
		m = 11
	case 0x646563: // dec
		m = 12
	default:
		return 0
	}
	if len(b) == 3 || (len(b) == 4 && b[3] == '.') || fullName(b, longMonths[m-1]) {
		return m
	}
	return 0
}

var dayNames = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// weekday reports whether b is an English day name, short or long, any
// case, with an optional trailing comma.
func weekday(b []byte) bool {
	if n := len(b); n > 0 && b[n-1] == ',' {
		b = b[:n-1]
	}
	if len(b) < 3 {
		return false
	}
	var d int
	switch pack3(b) {
	case 0x73756e: // sun
		d = 0
	case 0x6d6f6e: // mon
		d = 1
	case 0x747565: // tue
		d = 2
	case 0x776564: // wed
		d = 3
	case 0x746875: // thu
		d = 4
	case 0x667269: // fri
		d = 5
	case 0x736174: // sat
		d = 6
	default:
		return false
	}
	return len(b) == 3 || fullName(b, dayNames[d])
}

func fullName(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := range b {
		if lower(b[i]) != name[i] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits parses b, which must be 1..9 ASCII digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// clock is a time of day read from "15:04:05[.999999999][zone]".
type clock struct {
	h, m, s, ns int
	off         int  // zone offset in seconds, when hasZone
	hasZone     bool // a zone followed the clock in the same token
}

// parseClock reads "H:MM:SS" or "HH:MM:SS", an optional fraction after '.'
// or ',' (fail2ban, Python logging), and an optional zone (Z, ±hh:mm,
// ±hhmm, ±hh) in the same token.
func parseClock(b []byte) (clock, bool) {
	var c clock
	i := 0
	for i < len(b) && i < 2 && isDigit(b[i]) {
		c.h = c.h*10 + int(b[i]-'0')
		i++
	}
	if i == 0 || len(b) < i+6 || b[i] != ':' || b[i+3] != ':' ||
		!isDigit(b[i+1]) || !isDigit(b[i+2]) || !isDigit(b[i+4]) || !isDigit(b[i+5]) {
		return c, false
	}
	c.m = int(b[i+1]-'0')*10 + int(b[i+2]-'0')
	c.s = int(b[i+4]-'0')*10 + int(b[i+5]-'0')
	if c.h > 23 || c.m > 59 || c.s > 60 {
		return c, false
	}
	rest := b[i+6:]
	if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') && isDigit(rest[1]) {
		j, scale := 1, 100000000
		for j < len(rest) && isDigit(rest[j]) {
			if scale > 0 {
				c.ns += int(rest[j]-'0') * scale
				scale /= 10
			}
			j++
		}
		rest = rest[j:]
	}
	if len(rest) > 0 {
		off, ok := parseZone(rest)
		if !ok {
			return c, false
		}
		c.off, c.hasZone = off, true
	}
	return c, true
}

// namedZone returns the offset of the zone abbreviations of RFC 822 and a
// few more that are not ambiguous (upper-case). Other names are not zones
// to this parser.
func namedZone(up string) (int, bool) {
	const h = 3600
	switch up {
	case "UT", "UTC", "GMT", "Z":
		return 0, true
	case "EST":
		return -5 * h, true
	case "EDT":
		return -4 * h, true
	case "CST":
		return -6 * h, true
	case "CDT":
		return -5 * h, true
	case "MST":
		return -7 * h, true
	case "MDT":
		return -6 * h, true
	case "PST":
		return -8 * h, true
	case "PDT":
		return -7 * h, true
	case "CET":
		return h, true
	case "CEST", "EET":
		return 2 * h, true
	case "EEST":
		return 3 * h, true
	case "KST", "JST":
		return 9 * h, true
	}
	return 0, false
}

// parseZone reads Z, UTC, GMT (and the names above), ±hh:mm, ±hhmm or ±hh,
// optionally in parentheses as in "(UTC)".
func parseZone(b []byte) (int, bool) {
	if n := len(b); n > 2 && b[0] == '(' && b[n-1] == ')' {
		b = b[1 : n-1]
	}
	if len(b) == 0 {
		return 0, false
	}
	if b[0] == '+' || b[0] == '-' {
		var h, m int
		switch {
		case len(b) == 3 && isDigit(b[1]) && isDigit(b[2]):
			h = int(b[1]-'0')*10 + int(b[2]-'0')
		case len(b) == 5 && isDigit(b[1]) && isDigit(b[2]) && isDigit(b[3]) && isDigit(b[4]):
			h = int(b[1]-'0')*10 + int(b[2]-'0')
			m = int(b[3]-'0')*10 + int(b[4]-'0')
		case len(b) == 6 && isDigit(b[1]) && isDigit(b[2]) && b[3] == ':' && isDigit(b[4]) && isDigit(b[5]):
			h = int(b[1]-'0')*10 + int(b[2]-'0')
			m = int(b[4]-'0')*10 + int(b[5]-'0')
		default:
			return 0, false
		}
		if h > 23 || m > 59 {
			return 0, false
		}
		off := h*3600 + m*60
		if b[0] == '-' {
			off = -off
		}
		return off, true
	}
	if len(b) > 4 || isDigit(b[0]) {
		return 0, false
	}
	// Upper-case for the map look-up without allocating.
	var up [4]byte
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	return namedZone(string(up[:len(b)]))
}

// parseDate reads "2006-01-02" or "2006/01/02" at the start of b.
func parseDate(b []byte) (y, m, d int, ok bool) {
	if len(b) < 10 || (b[4] != '-' && b[4] != '/') || b[7] != b[4] {
		return 0, 0, 0, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// validDate checks what time.Date would otherwise silently normalise.
func validDate(y, m, d int) bool {
	return y >= 1000 && y <= 9998 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y)
}

// makeTime builds the UTC time of a wall clock reading. With no zone in the
// text, the wall clock is read in c.loc.
func (c *config) makeTime(y, m, d int, k clock, zone bool, off int) time.Time {
	if !zone && k.hasZone {
		zone, off = true, k.off
	}
	c.lastZoneless = !zone
	if !zone {
		if c.loc == time.UTC {
			return time.Date(y, time.Month(m), d, k.h, k.m, k.s, k.ns, time.UTC)
		}
		return time.Date(y, time.Month(m), d, k.h, k.m, k.s, k.ns, c.loc).UTC()
	}
	return time.Date(y, time.Month(m), d, k.h, k.m, k.s, k.ns, time.UTC).Add(-time.Duration(off) * time.Second)
}

// zoneAt reads an optional zone token at toks[i].
func zoneAt(toks [][]byte, i int) (off int, ok bool) {
	if i < len(toks) {
		return parseZone(toks[i])
	}
	return 0, false
}

// year4 reads a four-digit year token.
func year4(b []byte) (int, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return digits(b)
}

// parseTime reads a time from the first tokens of toks and reports how many
// it used. Recognised, with an optional zone after the clock or the year:
//
//	2023-04-27T14:46:47.123Z   2023-04-27 14:46:47,123 +0000   (ISO 8601 / RFC 3339)
//	Thu Apr 27 14:46:47 2023   Thu Apr 27 14:46:47 UTC 2023     (ctime, date(1))
//	Thu, 27 Apr 2023 14:46:47 GMT   27 Apr 2023 14:46:47 +0000  (RFC 1123 / 5322)
//	Apr 27 14:46:47            Apr 27 14:46:47 2023             (syslog; year from the reference)
func (c *config) parseTime(toks [][]byte) (time.Time, int, bool) {
	if len(toks) == 0 || len(toks[0]) == 0 {
		return time.Time{}, 0, false
	}
	t0 := toks[0]
	// ISO 8601.
	if isDigit(t0[0]) && len(t0) >= 10 {
		y, m, d, ok := parseDate(t0)
		if !ok || !validDate(y, m, d) {
			return time.Time{}, 0, false
		}
		var k clock
		n := 1
		switch rest := t0[10:]; {
		case len(rest) > 1 && (rest[0] == 'T' || rest[0] == 't' || rest[0] == '_'):
			if k, ok = parseClock(rest[1:]); !ok {
				return time.Time{}, 0, false
			}
		case len(rest) == 0 && len(toks) > 1:
			if k, ok = parseClock(toks[1]); !ok {
				return time.Time{}, 0, false
			}
			n = 2
		default:
			return time.Time{}, 0, false
		}
		if !k.hasZone {
			if off, ok := zoneAt(toks, n); ok {
				return c.makeTime(y, m, d, k, true, off), n + 1, true
			}
		}
		return c.makeTime(y, m, d, k, false, 0), n, true
	}
	i := 0
	if weekday(t0) {
		i = 1
	}
	if i >= len(toks) {
		return time.Time{}, 0, false
	}
	if m := month(toks[i]); m > 0 {
		// Mon D HH:MM:SS [zone] [YYYY] [zone]
		if i+2 >= len(toks) {
			return time.Time{}, 0, false
		}
		d, ok := digits(toks[i+1])
		if !ok || len(toks[i+1]) > 2 {
			return time.Time{}, 0, false
		}
		k, ok := parseClock(toks[i+2])
		if !ok {
			return time.Time{}, 0, false
		}
		n := i + 3
		zone, off := k.hasZone, k.off
		if !zone {
			if o, ok := zoneAt(toks, n); ok && n+1 < len(toks) {
				if _, isYear := year4(toks[n+1]); isYear {
					zone, off = true, o
					n++
				}
			}
		}
		if n < len(toks) {
			if y, ok := year4(toks[n]); ok {
				n++
				if !zone {
					if o, ok := zoneAt(toks, n); ok {
						zone, off = true, o
						n++
					}
				}
				if !validDate(y, m, d) {
					return time.Time{}, 0, false
				}
				return c.makeTime(y, m, d, k, zone, off), n, true
			}
		}
		if !zone {
			if o, ok := zoneAt(toks, n); ok {
				zone, off = true, o
				n++
			}
		}
		if !c.syslogValid(m, d) {
			return time.Time{}, 0, false
		}
		return c.syslogTime(m, d, k, zone, off), n, true
	}
	// D Mon YYYY HH:MM:SS [zone]
	if i+3 >= len(toks) {
		return time.Time{}, 0, false
	}
	d, ok := digits(toks[i])
	if !ok || len(toks[i]) > 2 {
		return time.Time{}, 0, false
	}
	m := month(toks[i+1])
	y, ok2 := year4(toks[i+2])
	if m == 0 || !ok2 || !validDate(y, m, d) {
		return time.Time{}, 0, false
	}
	k, ok := parseClock(toks[i+3])
	if !ok {
		return time.Time{}, 0, false
	}
	n := i + 4
	if !k.hasZone {
		if off, ok := zoneAt(toks, n); ok {
			return c.makeTime(y, m, d, k, true, off), n + 1, true
		}
	}
	return c.makeTime(y, m, d, k, false, 0), n, true
}

func (c *config) syslogValid(m, d int) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, 2000) // Feb 29 exists in some year
}

// syslogTime places a time without a year in the year of the reference,
// or the year before when that would put it more than a day after the
// reference (a log from December read in January).
func (c *config) syslogTime(m, d int, k clock, zone bool, off int) time.Time {
	for y := c.refYear; y > c.refYear-9; y-- {
		if d > daysIn(m, y) {
			continue // Feb 29 outside a leap year
		}
		if t := c.makeTime(y, m, d, k, zone, off); t.Sub(c.ref) <= 24*time.Hour {
			return t
		}
	}
	return c.makeTime(c.refYear-1, m, d, k, zone, off)
}

// fallbackLayouts are tried with time.Parse, on the remaining tokens joined
// by single spaces, when the fast path above does not know a layout.
var fallbackLayouts = []string{
	"02/Jan/2006:15:04:05 -0700", // Apache/nginx access logs
	time.RFC850,
	"Monday, 02-Jan-06 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700 MST", // Go's Time.String
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Jan 2, 2006 15:04:05",
	"January 2, 2006 15:04:05",
	"02.01.2006 15:04:05",
}

// parseTimeAll reads toks as one time, using every token: the fast path,
// then the fallback layouts.
func (c *config) parseTimeAll(toks [][]byte) (time.Time, bool) {
	if t, n, ok := c.parseTime(toks); ok && n == len(toks) {
		return t, true
	}
	if len(toks) == 0 || len(toks) > 8 {
		return time.Time{}, false
	}
	var buf [128]byte
	s := buf[:0]
	for i, t := range toks {
		if i > 0 {
			s = append(s, ' ')
		}
		s = append(s, t...)
	}
	s = bytes.TrimSuffix(bytes.TrimPrefix(s, []byte("[")), []byte("]"))
	str := string(s)
	for _, l := range fallbackLayouts {
		if t, err := time.ParseInLocation(l, str, c.loc); err == nil {
			if y := t.Year(); y < 1000 || y > 9998 {
				return time.Time{}, false
			}
			c.lastZoneless = !strings.Contains(l, "-07") && !strings.Contains(l, "MST")
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
