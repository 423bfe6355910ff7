package evidence

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends the JSON object of r to b and returns the extended
// buffer. The output is byte for byte what encoding/json.Marshal gives for
// r (same field names and order, same string escaping, including of HTML
// characters, control characters, U+2028/U+2029 and invalid UTF-8), without
// reflection and, for records read by this package, without allocating.
//
// encoding/json refuses times whose year is outside 0..9999; AppendJSON
// writes them as Time.AppendFormat with time.RFC3339Nano does. The parsers
// of this package never produce such times.
func (r Record) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = appendTime(b, r.Time)
		b = append(b, `",`...)
	}
	b = append(b, `"src_ip":"`...)
	b = appendAddr(b, r.SrcIP)
	b = append(b, '"')
	if r.SrcPort != 0 {
		b = append(b, `,"src_port":`...)
		b = strconv.AppendUint(b, uint64(r.SrcPort), 10)
	}
	b = append(b, `,"dst_ip":"`...)
	b = appendAddr(b, r.DstIP)
	b = append(b, '"')
	if r.DstPort != 0 {
		b = append(b, `,"dst_port":`...)
		b = strconv.AppendUint(b, uint64(r.DstPort), 10)
	}
	if r.Proto != "" {
		b = append(b, `,"proto":"`...)
		b = appendEscaped(b, r.Proto)
		b = append(b, '"')
	}
	b = append(b, `,"raw":"`...)
	b = appendEscaped(b, r.Raw)
	return append(b, `"}`...)
}

// decimal holds "0" … "255".
var decimal = func() (d [256]string) {
	for i := range d {
		d[i] = strconv.Itoa(i)
	}
	return d
}()

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		q := a.As4()
		b = append(b, decimal[q[0]]...)
		b = append(b, '.')
		b = append(b, decimal[q[1]]...)
		b = append(b, '.')
		b = append(b, decimal[q[2]]...)
		b = append(b, '.')
		return append(b, decimal[q[3]]...)
	}
	if a.Zone() == "" {
		return a.AppendTo(b)
	}
	return appendEscaped(b, a.String())
}

// appendTime writes t as encoding/json does (RFC 3339 with nanoseconds,
// trailing zeros of the fraction dropped), quickly when t is in UTC.
func appendTime(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	sec := t.Unix()
	// 0000-01-01 .. 9999-12-31 in Unix seconds.
	if sec < -62167219200 || sec > 253402300799 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	y, m, d := civil(floorDiv(sec, 86400))
	sod := int(sec - floorDiv(sec, 86400)*86400)
	hh, mm, ss := sod/3600, sod/60%60, sod%60
	b = append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':',
		byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil, inverted).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

const hexDigits = "0123456789abcdef"

// safe[c] is true for the ASCII bytes encoding/json writes unescaped
// (with its default HTML escaping).
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes of x needs escaping: none a
// control character, >= 0x80, or one of " \\ < > &. (A byte-wise "x has a
// byte below n" or "equal to c" test; its false positives only happen
// beside a true hit, and the byte-wise loop then decides.)
func plain8(x uint64) bool {
	// With no byte >= 0x80 (checked last), a byte's high bit after the
	// subtraction is set only by a byte below 0x20, a zero (a byte equal to
	// the one xored in), or a borrow from such a byte below it.
	t := (x - lsb*0x20) | (x ^ lsb*'"' - lsb) | (x ^ lsb*'\\' - lsb) |
		(x ^ lsb*'<' - lsb) | (x ^ lsb*'>' - lsb) | (x ^ lsb*'&' - lsb)
	return (t|x)&msb == 0
}

// appendEscaped writes s as the inside of a JSON string, escaping exactly
// as encoding/json does.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	sb := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	for i := 0; i < len(s); {
		// Skip 8 plain bytes at a time: none a control character, >= 0x80,
		// or one of " \\ < > &. (A byte-wise "x has a byte below n" or
		// "equal to c" test; its false positives only happen beside a true
		// hit, and the byte-wise loop below then decides.)
		for i+8 <= len(sb) && plain8(binary.LittleEndian.Uint64(sb[i:])) {
			i += 8
		}
		// The tail: one overlapping load of the last 8 bytes.
		if i < len(sb) && i+8 > len(sb) && len(sb) >= 8 && plain8(binary.LittleEndian.Uint64(sb[len(sb)-8:])) {
			i = len(sb)
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
