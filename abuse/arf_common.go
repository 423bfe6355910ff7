package abuse

// Helpers shared by the structured formats (GuardDuty, X-ARF, ARF): JSON
// value streams with line numbers in errors, and the address, port and list
// helpers. Bounded reading (limitedReader) and the report and evidence sinks
// (reportSink, addEvidence) are those of every format, in sink.go.

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
		err := arfJSONElements(ctx, formatName, l, skipped, dec, func(raw json.RawMessage, _ int64) error { return value(raw) })
		if err != nil {
			return err
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

// arfJSONElements streams the elements of the JSON array dec is at, one
// value in memory at a time: fn gets each with its offset in dec's input.
// base is the offset of dec's input in l, for errors.
func arfJSONElements(ctx context.Context, formatName string, l *arfLoc, base int64, dec *json.Decoder, fn func(raw json.RawMessage, start int64) error) error {
	if _, err := dec.Token(); err != nil {
		return arfJSONError(formatName, l, base, err)
	}
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return arfJSONError(formatName, l, base, err)
		}
		if err := fn(raw, dec.InputOffset()-int64(len(raw))); err != nil {
			return err
		}
	}
	return nil
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
