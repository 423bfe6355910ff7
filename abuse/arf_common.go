package abuse

// Helpers shared by the structured formats (GuardDuty, X-ARF, ARF): bounded
// reading, JSON value streams with line numbers in errors, and the
// evidence/report sinks that honour WithMaxEvidence, WithEvidenceFunc and
// WithReportFunc.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// arfReadAll reads all of r, failing with an error that wraps ErrTooLarge
// when r holds more than limit bytes. It never reads more than limit+1.
func arfReadAll(r io.Reader, limit int64, formatName string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &ParseError{Format: formatName, Err: fmt.Errorf("read: %w", err)}
	}
	if int64(len(data)) > limit {
		return nil, &ParseError{Format: formatName, Err: fmt.Errorf("input larger than %d bytes: %w", limit, ErrTooLarge)}
	}
	return data, nil
}

// arfLineAt is the 1-based line of data holding byte offset off.
func arfLineAt(data []byte, off int64) int {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// arfTrimHead drops a UTF-8 byte-order mark and leading white space.
func arfTrimHead(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

// arfJSONError turns a JSON decoding error into a *ParseError naming the
// line: base is the offset in data where the value being decoded starts.
func arfJSONError(formatName string, data []byte, base int64, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return err
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &ParseError{Format: formatName, Line: arfLineAt(data, base+syn.Offset), Err: err}
	case errors.As(err, &typ):
		return &ParseError{Format: formatName, Line: arfLineAt(data, base+typ.Offset), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ParseError{Format: formatName, Line: arfLineAt(data, int64(len(data))), Err: fmt.Errorf("truncated JSON: %w", err)}
	}
	return &ParseError{Format: formatName, Line: arfLineAt(data, base), Err: err}
}

// arfJSONStream calls fn for every JSON value in data: a single value, a
// sequence of values (JSON lines, concatenated documents), or the elements
// of a top-level array (streamed one by one). off is where the value starts.
func arfJSONStream(ctx context.Context, formatName string, data []byte, fn func(raw json.RawMessage, off int64) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	next := func() int64 {
		off := dec.InputOffset()
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
			off++
		}
		return off
	}
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := next()
		if start >= int64(len(data)) {
			break
		}
		if data[start] == '[' {
			if _, err := dec.Token(); err != nil {
				return arfJSONError(formatName, data, 0, err)
			}
			for dec.More() {
				if err := ctx.Err(); err != nil {
					return err
				}
				var raw json.RawMessage
				off := next()
				if err := dec.Decode(&raw); err != nil {
					return arfJSONError(formatName, data, 0, err)
				}
				if err := fn(raw, off); err != nil {
					return err
				}
				n++
			}
			if _, err := dec.Token(); err != nil {
				return arfJSONError(formatName, data, 0, err)
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return arfJSONError(formatName, data, 0, err)
		}
		if err := fn(raw, start); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return &ParseError{Format: formatName, Line: arfLineAt(data, int64(len(data))), Err: errors.New("no JSON value in input")}
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
