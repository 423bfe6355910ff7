package mailmsg

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// ReadStream is Read for messages that may be huge: when the message is a
// single text/plain part (a notice with a long forwarded log, typically), it
// reads only the header and returns a reader of the whole decoded body
// (transfer encoding removed, converted to UTF-8) that streams from r, and
// the message with the body's first head bytes in Parts[0].Body (Truncated
// set when there is more). Any other message is read whole, as by Read, and
// the returned reader is nil.
//
// The limits apply to the stream too: reading it fails with a *LimitError
// at an over-long line or past MaxBytes.
func ReadStream(r io.Reader, l Limits, head int) (*Message, io.Reader, error) {
	l = l.withDefaults()
	if head <= 0 {
		head = 64 << 10
	}
	g := newGuardReader(r, l)
	rd := &reader{l: l, g: g}
	mm, err := mail.ReadMessage(bufio.NewReader(g))
	if err != nil {
		if g.err != nil {
			return nil, nil, g.err
		}
		return nil, nil, fmt.Errorf("mailmsg: header: %w", err)
	}
	m := &Message{Header: mm.Header}
	h := textproto.MIMEHeader(mm.Header)
	mt, params := "text/plain", map[string]string{}
	if ct := h.Get("Content-Type"); ct != "" {
		t, p, err := mime.ParseMediaType(ct)
		if err == nil || errors.Is(err, mime.ErrInvalidMediaParameter) {
			mt, params = strings.ToLower(t), p
		} else {
			mt = "" // let Read's path note it
		}
	}
	if mt != "text/plain" {
		if err := rd.entity(m, h, mm.Body, 0, 0); err != nil {
			return nil, nil, err
		}
		if _, err := io.Copy(io.Discard, g); err != nil {
			return nil, nil, rd.wrap(err)
		}
		return m, nil, nil
	}
	if params == nil {
		params = map[string]string{}
	}
	var body io.Reader = mm.Body
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &base64Filter{r: body})
	}
	enc, utf8ish := lookupCharset(params["charset"])
	switch {
	case enc != nil:
		body = enc.NewDecoder().Reader(body)
	case !utf8ish:
		rd.note(m, "unknown charset %q: body kept as it is", params["charset"])
	}
	br := bufio.NewReaderSize(body, head)
	peek, err := br.Peek(head)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		if g.err != nil {
			return nil, nil, g.err
		}
		// Broken encoding early on: keep what decoded; the stream will
		// give the same error to its reader.
		rd.note(m, "text/plain: %v", err)
	}
	p := rd.leaf(h, mt, params, bytes.ToValidUTF8(bytes.Clone(peek), []byte("\uFFFD")), 0, 0)
	p.Truncated = len(peek) == head
	m.Parts = append(m.Parts, p)
	rd.parts++
	return m, br, nil
}

// base64Filter drops what is not base64 (line breaks, spaces, junk) from a
// stream, stops after the padding, and pads an unpadded end, as mail
// readers do.
type base64Filter struct {
	r    io.Reader
	n    int // characters passed on
	pad  bool
	done bool
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		if f.done {
			return 0, io.EOF
		}
		if len(p) < 4 {
			return 0, io.ErrShortBuffer
		}
		n, err := f.r.Read(p[:len(p)-3]) // room for padding at the end
		out := p[:0]
		for _, c := range p[:n] {
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				if f.pad {
					continue // junk after the padding
				}
			case c == '=':
				f.pad = true
			default:
				continue
			}
			out = append(out, c)
			f.n++
			if f.pad && f.n%4 == 0 {
				f.done = true
				break
			}
		}
		if err == io.EOF && !f.done {
			switch f.n % 4 {
			case 2:
				out = append(out, '=', '=')
			case 3:
				out = append(out, '=')
			case 1:
				out = append(out, 'A', '=', '=')
			}
			f.done = true
		}
		if f.done {
			return len(out), io.EOF
		}
		if len(out) > 0 || err != nil {
			return len(out), err
		}
	}
}
