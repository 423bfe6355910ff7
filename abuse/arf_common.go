package abuse

// Helpers shared by the structured formats (GuardDuty, X-ARF, ARF): bounded
// reading, JSON value streams with line numbers in errors, and the
// evidence/report sinks that honour WithMaxEvidence, WithEvidenceFunc and
// WithReportFunc.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// arfLimit fails with a *ParseError wrapping ErrTooLarge once r yields
// more than max bytes, instead of silently stopping as io.LimitReader does.
func arfLimit(r io.Reader, max int64, formatName string) io.Reader {
	return &arfLimited{r: r, left: max, max: max, format: formatName}
}

type arfLimited struct {
	r         io.Reader
	left, max int64
	format    string
}

func (l *arfLimited) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.err()
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, l.err()
	}
	return n, err
}

func (l *arfLimited) err() error {
	return &ParseError{Format: l.format, Err: fmt.Errorf("input larger than %d bytes: %w", l.max, ErrTooLarge)}
}

// arfLoc reads a JSON input and maps its byte offsets to 1-based lines. It
// keeps the offsets of the newlines it may still be asked about (those
// after the prune point), so a stream of any length costs memory for one
// value's worth of lines.
type arfLoc struct {
	r      io.Reader
	n      int64   // bytes read
	nl     []int64 // offsets of the newlines at or after the prune point
	pruned int     // newlines before the prune point
}

func arfNewLoc(r io.Reader) *arfLoc { return &arfLoc{r: r} }

func (l *arfLoc) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		l.nl = append(l.nl, l.n+int64(i+j))
		i += j + 1
	}
	l.n += int64(n)
	return n, err
}

// line is the line holding byte off (at or after the prune point).
func (l *arfLoc) line(off int64) int {
	i, _ := slices.BinarySearch(l.nl, off)
	return 1 + l.pruned + i
}

// prune forgets the newlines before off.
func (l *arfLoc) prune(off int64) {
	i, _ := slices.BinarySearch(l.nl, off)
	l.pruned += i
	l.nl = append(l.nl[:0], l.nl[i:]...)
}

// arfLineAt is the 1-based line of the input holding byte offset off.
func arfLineAt(l *arfLoc, off int64) int { return l.line(max(off, 0)) }

// arfTrimHead drops a UTF-8 byte-order mark and leading white space.
func arfTrimHead(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

// arfJSONError turns a JSON decoding error into a *ParseError naming the
// line: base is the offset in the input where the value being decoded
// starts.
func arfJSONError(formatName string, l *arfLoc, base int64, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return err
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &ParseError{Format: formatName, Line: arfLineAt(l, base+syn.Offset), Err: err}
	case errors.As(err, &typ):
		return &ParseError{Format: formatName, Line: arfLineAt(l, base+typ.Offset), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ParseError{Format: formatName, Line: arfLineAt(l, l.n), Err: fmt.Errorf("truncated JSON: %w", err)}
	}
	return &ParseError{Format: formatName, Line: arfLineAt(l, base), Err: err}
}

// arfJSONStream calls fn for every JSON value read from l: a single value,
// a sequence of values (JSON lines, concatenated documents), or the
// elements of a top-level array, streamed one by one: memory holds one
// value at a time. off is where the value starts in the input.
func arfJSONStream(ctx context.Context, formatName string, l *arfLoc, fn func(raw json.RawMessage, off int64) error) error {
	br := bufio.NewReader(l)
	var skipped int64
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
		skipped += 3
	}
	first := byte(0)
	for {
		b, err := br.Peek(1)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			break
		}
		if strings.IndexByte(" \t\r\n", b[0]) < 0 {
			first = b[0]
			break
		}
		br.Discard(1)
		skipped++
	}
	dec := json.NewDecoder(br)
	n := 0
	value := func(raw json.RawMessage) error {
		end := skipped + dec.InputOffset()
		start := end - int64(len(raw))
		if err := fn(raw, start); err != nil {
			return err
		}
		l.prune(end)
		n++
		return nil
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return arfJSONError(formatName, l, skipped, err)
		}
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return arfJSONError(formatName, l, skipped, err)
			}
			if err := value(raw); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return arfJSONError(formatName, l, skipped, err)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return arfJSONError(formatName, l, skipped, err)
		}
		if err := value(raw); err != nil {
			return err
		}
	}
	if n == 0 {
		return &ParseError{Format: formatName, Line: arfLineAt(l, l.n), Err: errors.New("no JSON value in input")}
	}
	return nil
}

// arfSink collects reports and evidence under the parser options.
type arfSink struct {
	o       *options
	format  string
	reports []Report
	n       int
}

func arfNewSink(o *options, formatName string) *arfSink { return &arfSink{o: o, format: formatName} }

// evidence adds e to r, or streams it to the caller's evidence function.
func (s *arfSink) evidence(r *Report, e Evidence) error {
	r.EvidenceCount++
	if s.o.evidenceFn != nil {
		return s.o.evidenceFn(e)
	}
	if s.o.maxEvidence < 0 || len(r.Evidence) < s.o.maxEvidence {
		r.Evidence = append(r.Evidence, e)
	}
	return nil
}

// report hands r to the caller's report function or keeps it.
func (s *arfSink) report(r Report) error {
	s.n++
	if s.n > s.o.limits.MaxReports {
		return &ParseError{Format: s.format, Err: fmt.Errorf("more than %d reports: %w", s.o.limits.MaxReports, ErrTooLarge)}
	}
	arfNormalize(&r)
	if s.o.reportFn != nil {
		return s.o.reportFn(r)
	}
	s.reports = append(s.reports, r)
	return nil
}

// arfNormalize gives every list a non-nil value, so a report marshals with
// [] rather than null, whatever format it came from.
func arfNormalize(r *Report) {
	if r.Resources.InstanceIDs == nil {
		r.Resources.InstanceIDs = []string{}
	}
	if r.Resources.IPs == nil {
		r.Resources.IPs = []netip.Addr{}
	}
	if r.Resources.SecurityGroups == nil {
		r.Resources.SecurityGroups = []string{}
	}
	if r.Resources.Exposures == nil {
		r.Resources.Exposures = []Exposure{}
	}
	if r.Evidence == nil {
		r.Evidence = []Evidence{}
	}
	if r.Mitigations == nil {
		r.Mitigations = []Mitigation{}
	}
	if r.RequiredActions == nil {
		r.RequiredActions = []string{}
	}
}

// arfAppendUnique appends s to list unless it is empty or already there.
func arfAppendUnique(list []string, s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// arfAppendAddr appends a to list unless it is invalid or already there.
func arfAppendAddr(list []netip.Addr, a netip.Addr) []netip.Addr {
	if !a.IsValid() {
		return list
	}
	a = a.Unmap()
	for _, x := range list {
		if x == a {
			return list
		}
	}
	return append(list, a)
}

// arfParseAddr parses an IP address, tolerating white space, brackets and a
// zone; it returns the zero Addr for anything else.
func arfParseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// arfPort converts a port number, rejecting values outside 0-65535.
func arfPort(n int64, field string) (uint16, error) {
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("%s: port %d out of range", field, n)
	}
	return uint16(n), nil
}
