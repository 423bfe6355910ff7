package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLineTooLong is wrapped by the error of a Scanner that met a line
// longer than Options.MaxLineBytes.
var ErrLineTooLong = errors.New("evidence: line too long")

// LineError is an error at a line of the input.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("evidence: line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Scanner reads the evidence records of a log, one line at a time, in any
// mix of layouts, skipping the lines that are not evidence (prose, headers,
// separators). Its memory is one read buffer, which starts at 32 KiB and
// grows only as far as the longest line met (at most MaxLineBytes).
//
//	sc := evidence.NewScanner(r, evidence.Options{})
//	for sc.Scan() {
//		rec := sc.Record()
//		…
//	}
//	if err := sc.Err(); err != nil { … }
type Scanner struct {
	lr     *lineReader
	c      config
	line   int // lines read
	recLn  int // line of rec
	rec    Record
	layout Layout
	err    error
	hint   string // proto named by a column log's header
	csv    csvState
	raw    rawArena
	// wrap holds the last line when it was no evidence and long enough to
	// be the first half of a line a mail client wrapped (see scanLine).
	wrap []byte
}

// minWrapped is the shortest first half of a wrapped line: mail clients
// wrap at 72 to 78 columns, so a shorter line ended where its writer did.
const minWrapped = 60

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader, o Options) *Scanner {
	c := newConfig(o)
	s := &Scanner{lr: newLineReader(r, c.maxLine), c: c}
	s.c.raw = &s.raw
	return s
}

// Scan advances to the next evidence record. It returns false at the end
// of the input or on an error (see Err).
func (s *Scanner) Scan() bool {
	if s.err != nil {
		return false
	}
	for {
		b, err := s.lr.readLine()
		if err == errTooLong || (len(b) > s.c.maxLine && len(bytes.TrimRight(b, "\r\n")) > s.c.maxLine) {
			s.line++
			s.err = &LineError{Line: s.line, Err: fmt.Errorf("%w (limit %d bytes)", ErrLineTooLong, s.c.maxLine)}
			return false
		}
		if err != nil && err != io.EOF {
			// A line cut short by a read error is not trusted.
			s.err = &LineError{Line: s.line + 1, Err: err}
			return false
		}
		if len(b) > 0 {
			s.line++
			if s.scanLine(b) {
				return true
			}
		}
		if err == io.EOF {
			s.err = io.EOF
			return false
		}
	}
}

// scanLine reads one line into s.rec; it reports whether it was evidence.
func (s *Scanner) scanLine(b []byte) bool {
	if s.csv.active() {
		s.c.lastZoneless = false
		if r, ok := s.csv.parse(&s.c, b); ok {
			s.rec, s.layout, s.recLn = r, LayoutCSV, s.line
			if s.c.zoneless != nil && s.c.lastZoneless && !r.Time.IsZero() {
				*s.c.zoneless++
			}
			return true
		}
	}
	if l, ok := s.c.parseLine(&s.rec, b, s.hint); ok {
		s.layout, s.recLn = l, s.line
		s.wrap = s.wrap[:0]
		return true
	}
	// A line a mail client wrapped: neither half is evidence, the two
	// joined are ("… Failed password for root from" / "52.18.77.140 port
	// 40112 ssh2").
	t := trimLine(b)
	if len(s.wrap) > 0 && len(t) > 0 {
		joined := append(append(s.wrap, ' '), t...)
		if l, ok := s.c.parseLine(&s.rec, joined, s.hint); ok {
			s.layout, s.recLn = l, s.line-1
			s.wrap = s.wrap[:0]
			return true
		}
	}
	s.wrap = s.wrap[:0]
	if n := len(t); n >= minWrapped && n <= 1024 {
		s.wrap = append(s.wrap, t...)
	}
	s.notEvidence(b)
	return false
}

// notEvidence learns from a line that is not evidence: a CSV header, or
// a column log's header naming the protocol ("TCP port being scanned").
func (s *Scanner) notEvidence(b []byte) {
	b = trimLine(b)
	if len(b) == 0 {
		return
	}
	if s.csv.header(b) {
		return
	}
	switch {
	case containsFold(b, "tcp port"):
		s.hint = "tcp"
	case containsFold(b, "udp port"):
		s.hint = "udp"
	}
}

// Record returns the current record, after Scan returned true.
//
// Its Raw shares a block of up to 32 KiB with the Raw of neighbouring
// records (one allocation per few hundred records): keeping one record
// keeps its block. A caller that keeps a few records out of very many, and
// wants the rest freed, can strings.Clone their Raw.
func (s *Scanner) Record() Record { return s.rec }

// Line returns the 1-based line of the current record.
func (s *Scanner) Line() int { return s.recLn }

// Layout returns the layout of the current record.
func (s *Scanner) Layout() Layout { return s.layout }

// Err returns the first error the Scanner met, nil at the end of the input.
// A line longer than Options.MaxLineBytes gives a *LineError wrapping
// ErrLineTooLong.
func (s *Scanner) Err() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}
