package mailmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned (wrapped in a *LimitError) when a message exceeds
// one of its Limits.
var ErrTooLarge = errors.New("mailmsg: message exceeds limit")

// Limits bound what Read keeps and how far it recurses. Zero fields take
// the defaults of DefaultLimits.
type Limits struct {
	MaxBytes     int64 // raw bytes read from the input; default 256 MiB
	MaxLineBytes int   // one raw line (header or body); default 1 MiB
	MaxParts     int   // leaf parts plus forwarded messages, over the whole tree; default 1,000
	MaxDepth     int   // nesting of multiparts and message/rfc822; default 16
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{
	MaxBytes:     256 << 20,
	MaxLineBytes: 1 << 20,
	MaxParts:     1000,
	MaxDepth:     16,
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultLimits.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	return l
}

// LimitError says which limit a message exceeded and where.
type LimitError struct {
	Limit string // "bytes", "line", "parts", "depth"
	Max   int64
	Line  int // 1-based raw line where the limit was hit, 0 if unknown
}

func (e *LimitError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("mailmsg: line %d: more than %d %s", e.Line, e.Max, e.unit())
	}
	return fmt.Sprintf("mailmsg: more than %d %s", e.Max, e.unit())
}

func (e *LimitError) unit() string {
	switch e.Limit {
	case "bytes":
		return "bytes in message"
	case "line":
		return "bytes in one line"
	case "parts":
		return "MIME parts"
	case "depth":
		return "levels of MIME nesting"
	}
	return e.Limit
}

func (e *LimitError) Unwrap() error { return ErrTooLarge }

// guardReader passes bytes through while counting them and the length of
// the current line, failing with a *LimitError as soon as either limit is
// passed, so that nothing downstream ever buffers an over-long line or an
// over-long input.
type guardReader struct {
	r       io.Reader
	maxB    int64
	maxLine int
	n       int64
	lineLen int
	line    int // lines completed so far
	err     error
}

func newGuardReader(r io.Reader, l Limits) *guardReader {
	return &guardReader{r: r, maxB: l.MaxBytes, maxLine: l.MaxLineBytes}
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if rem := g.maxB - g.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	for off := 0; off < n; {
		i := bytes.IndexByte(p[off:n], '\n')
		seg := i
		if i < 0 {
			seg = n - off
		}
		if g.lineLen+seg > g.maxLine {
			g.err = &LimitError{Limit: "line", Max: int64(g.maxLine), Line: g.line + 1}
			return off, g.err
		}
		if i < 0 {
			g.lineLen += seg
			break
		}
		g.line++
		g.lineLen = 0
		off += i + 1
	}
	g.n += int64(n)
	if err != nil && err != io.EOF {
		g.err = err // the input's own error, never taken for broken MIME
	}
	if g.n > g.maxB {
		g.err = &LimitError{Limit: "bytes", Max: g.maxB, Line: g.line + 1}
		return n - int(g.n-g.maxB), g.err
	}
	return n, err
}

// Line is the 1-based line the reader is on.
func (g *guardReader) Line() int { return g.line + 1 }
