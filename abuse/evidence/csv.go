package evidence

import (
	"bytes"
	"encoding/csv"
	"io"
	"strings"
	"time"
)

// csvState is what a Scanner knows of the CSV feed it is reading: the
// columns its header named. Rows are split by encoding/csv, one line at a
// time (a quoted field cannot span lines: such a row is skipped).
type csvState struct {
	on    bool
	comma rune
	// column indexes, -1 when the header has none
	time, src, dst, sport, dport, proto int
	date                                int // a date column apart from a time-of-day one (AbuseHub: event_date, event_time)
	// utc: the header says the times are UTC: a time column named
	// "…_utc", or Shadowserver's reports (header "timestamp","ip",…: its
	// timestamps are UTC by its documentation), whatever zone the
	// report around the CSV states.
	utc  bool
	src2 lineSource
	r    *csv.Reader
}

// lineSource hands encoding/csv one line at a time.
type lineSource struct{ b []byte }

func (l *lineSource) Read(p []byte) (int, error) {
	if len(l.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.b)
	l.b = l.b[n:]
	return n, nil
}

func (c *csvState) active() bool { return c.on }

// columnNames maps the normalised header names feeds use to a column.
var columnNames = map[string]string{
	"timestamp": "time", "time": "time", "date": "time", "datetime": "time", "date_time": "time",
	"event_time": "time", "ts": "time", "time_utc": "time", "timestamp_utc": "time",
	"reportdate": "time", "report_date": "time", "reported_at": "time", "date_utc": "time",
	"event_date": "date", "day": "date",
	"src": "src", "src_ip": "src", "source": "src", "source_ip": "src", "srcip": "src", "sourceip": "src",
	"attacker": "src", "attacker_ip": "src", "src_addr": "src", "source_address": "src",
	"ip": "src", "ip_address": "src", "offender": "src", "offender_ip": "src",
	"dst": "dst", "dst_ip": "dst", "destination": "dst", "destination_ip": "dst", "dstip": "dst",
	"target": "dst", "target_ip": "dst", "victim": "dst", "victim_ip": "dst", "dst_addr": "dst", "destination_address": "dst",
	"src_port": "sport", "sport": "sport", "source_port": "sport", "srcport": "sport",
	"dst_port": "dport", "dport": "dport", "port": "dport", "destination_port": "dport", "dstport": "dport", "target_port": "dport",
	"proto": "proto", "protocol": "proto",
}

// normName lower-cases a header name and spells separators as '_'.
func normName(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
	s = strings.Trim(s, "()[]#")
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '.' {
			return '_'
		}
		return r
	}, s)
}

// pickComma returns the separator a header line uses: the most frequent of
// ',', ';' and tab.
func pickComma(b []byte) rune {
	best, n := rune(0), 0
	for _, c := range []byte{',', ';', '\t'} {
		if k := bytes.Count(b, []byte{c}); k > n {
			best, n = rune(c), k
		}
	}
	return best
}

func (c *csvState) read(b []byte, comma rune) ([]string, bool) {
	if c.r == nil || c.r.Comma != comma {
		c.src2 = lineSource{}
		c.r = csv.NewReader(&c.src2)
		c.r.Comma = comma
		c.r.FieldsPerRecord = -1
		c.r.ReuseRecord = true
	}
	c.src2.b = b
	rec, err := c.r.Read()
	c.src2.b = nil
	if err != nil {
		c.r = nil // start afresh: nothing of a broken line is kept
		return nil, false
	}
	return rec, true
}

// header reads b as a CSV header; it reports whether b was one (and the
// state now follows it).
func (c *csvState) header(b []byte) bool {
	comma := pickComma(b)
	if comma == 0 {
		return false
	}
	fields, ok := c.read(b, comma)
	if !ok || len(fields) < 2 {
		return false
	}
	h := csvState{comma: comma, time: -1, src: -1, dst: -1, sport: -1, dport: -1, proto: -1, date: -1, r: c.r, src2: c.src2}
	for i, f := range fields {
		var p *int
		switch columnNames[normName(f)] {
		case "time":
			p = &h.time
		case "src":
			p = &h.src
		case "dst":
			p = &h.dst
		case "sport":
			p = &h.sport
		case "dport":
			p = &h.dport
		case "proto":
			p = &h.proto
		case "date":
			p = &h.date
		default:
			continue
		}
		if *p < 0 {
			*p = i
		}
	}
	if h.src < 0 || (h.dst < 0 && h.dport < 0 && h.time < 0) {
		return false
	}
	for _, i := range []int{h.time, h.date} {
		if i >= 0 && strings.HasSuffix(normName(fields[i]), "_utc") {
			h.utc = true
		}
	}
	if normName(fields[0]) == "timestamp" && normName(fields[1]) == "ip" {
		h.utc = true // Shadowserver
	}
	h.on = true
	*c = h
	return true
}

// parse reads a row of the feed.
func (c *csvState) parse(cfg *config, line []byte) (Record, bool) {
	line = trimLine(line)
	if bytes.IndexRune(line, c.comma) < 0 {
		return Record{}, false
	}
	fields, ok := c.read(line, c.comma)
	if !ok {
		return Record{}, false
	}
	field := func(i int) []byte {
		if i < 0 || i >= len(fields) {
			return nil
		}
		return []byte(strings.TrimSpace(fields[i]))
	}
	var r Record
	if r.SrcIP, ok = addr(field(c.src)); !ok {
		return Record{}, false
	}
	if f := field(c.dst); len(f) > 0 {
		if r.DstIP, ok = addr(f); !ok {
			return Record{}, false
		}
	}
	if f := field(c.sport); len(f) > 0 {
		if r.SrcPort, ok = port(f); !ok {
			return Record{}, false
		}
	}
	if f := field(c.dport); len(f) > 0 {
		if r.DstPort, ok = port(f); !ok {
			return Record{}, false
		}
	}
	if f := field(c.proto); len(f) > 0 {
		r.Proto = protoValue(f)
	}
	if r.Proto == "" {
		r.Proto = cfg.proto
	}
	if c.utc {
		loc := cfg.loc
		cfg.loc = time.UTC
		defer func() { cfg.loc = loc; cfg.lastZoneless = false }()
	}
	if f := field(c.time); len(f) > 0 {
		if d := field(c.date); len(d) > 0 && len(d)+len(f) < 64 {
			// A time of day with its date in another column.
			var buf [64]byte
			f = append(append(append(buf[:0], d...), ' '), f...)
		}
		if t, ok := cfg.fieldTime(f); ok {
			r.Time = t
		}
	} else if d := field(c.date); len(d) > 0 {
		if t, ok := cfg.fieldTime(d); ok {
			r.Time = t
		}
	}
	if cfg.raw != nil {
		r.Raw = cfg.raw.str(line)
	} else {
		r.Raw = string(line)
	}
	return r, true
}

// fieldTime reads a time column: any layout parseTimeAll knows, or Unix
// seconds (with a fraction) or milliseconds.
func (cfg *config) fieldTime(f []byte) (time.Time, bool) {
	var arr [8][]byte
	if t, ok := cfg.parseTimeAll(tokenize(f, arr[:0:8])); ok {
		return t, true
	}
	intPart, frac, _ := bytes.Cut(f, []byte("."))
	n := len(intPart)
	if n < 9 || n > 13 {
		return time.Time{}, false
	}
	var v int64
	for _, ch := range intPart {
		if !isDigit(ch) {
			return time.Time{}, false
		}
		v = v*10 + int64(ch-'0')
	}
	if n == 13 && len(frac) == 0 {
		return time.UnixMilli(v).UTC(), true
	}
	if n > 10 {
		return time.Time{}, false
	}
	ns, scale := 0, 100000000
	for _, ch := range frac {
		if !isDigit(ch) {
			return time.Time{}, false
		}
		ns += int(ch-'0') * scale
		scale /= 10
	}
	return time.Unix(v, int64(ns)).UTC(), true
}
