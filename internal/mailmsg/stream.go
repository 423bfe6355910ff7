package mailmsg

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
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
	s, err := readStream(r, l, head, false)
	if err != nil {
		return nil, nil, err
	}
	return s.Message, s.Body, nil
}

// Stream is a message being read by ReadStreamParts.
type Stream struct {
	// Message holds the header and the parts read so far.
	Message *Message
	// Body, when not nil, streams the decoded text (transfer encoding
	// removed, UTF-8) of Part, the last of Message.Parts, whose Body holds
	// only its first bytes (Truncated set).
	Body io.Reader
	Part *Part
	// Attachment says Part is a text attachment of a multipart/mixed
	// message, not the body of a single-part one: parts after it are read
	// by Rest.
	Attachment bool
	rest       func() error
}

// Rest reads what follows the streamed part (the rest of Body, which it
// discards, then the parts after it, appended to Message.Parts and
// Message.Forwarded) within the same limits. Call it once Body is read.
func (s *Stream) Rest() error {
	if s.rest == nil {
		return nil
	}
	rest := s.rest
	s.rest = nil
	return rest()
}

// ReadStreamParts is ReadStream that also streams the first text/plain
// attachment larger than head bytes of a multipart/mixed message (a log
// attached to a notice): the parts before it are read whole into
// Message, the attachment streams from Body, and Rest reads the rest of the
// message once Body is read. Smaller attachments and other messages are
// read whole as by Read (Body nil).
func ReadStreamParts(r io.Reader, l Limits, head int) (*Stream, error) {
	return readStream(r, l, head, true)
}

func readStream(r io.Reader, l Limits, head int, parts bool) (*Stream, error) {
	l = l.withDefaults()
	if head <= 0 {
		head = 64 << 10
	}
	g := newGuardReader(r, l)
	rd := &reader{l: l, g: g}
	mm, err := mail.ReadMessage(bufio.NewReader(g))
	if err != nil {
		if g.err != nil {
			return nil, g.err
		}
		return nil, fmt.Errorf("mailmsg: header: %w", err)
	}
	m := &Message{Header: mm.Header}
	h := textproto.MIMEHeader(mm.Header)
	mt, params := mediaType(h)
	drain := func() error {
		if _, err := io.Copy(io.Discard, g); err != nil {
			return rd.wrap(err)
		}
		return nil
	}
	if parts && mt == "multipart/mixed" && params["boundary"] != "" && l.MaxDepth >= 1 {
		return rd.mixedStream(m, mm.Body, params["boundary"], head, drain)
	}
	if mt != "text/plain" {
		if err := rd.entity(m, h, mm.Body, 0, 0); err != nil {
			return nil, err
		}
		if err := drain(); err != nil {
			return nil, err
		}
		return &Stream{Message: m}, nil
	}
	p, body := rd.textStream(m, h, mt, params, mm.Body, head, 0)
	if g.err != nil {
		return nil, g.err
	}
	m.Parts = append(m.Parts, p)
	rd.parts++
	return &Stream{Message: m, Body: body, Part: p}, nil
}

// mediaType is the Content-Type of h, lower-case, with its parameters;
// "" for one that does not parse (Read's path notes it).
func mediaType(h textproto.MIMEHeader) (string, map[string]string) {
	mt, params := "text/plain", map[string]string{}
	if ct := h.Get("Content-Type"); ct != "" {
		t, p, err := mime.ParseMediaType(ct)
		if err == nil || errors.Is(err, mime.ErrInvalidMediaParameter) {
			mt, params = strings.ToLower(t), p
		} else {
			mt = ""
		}
	}
	if params == nil {
		params = map[string]string{}
	}
	return mt, params
}

// textStream decodes a text/plain body as it streams: the part, with the
// first head bytes as its Body, and the reader of the whole decoded text.
func (rd *reader) textStream(m *Message, h textproto.MIMEHeader, mt string, params map[string]string, raw io.Reader, head, depth int) (*Part, io.Reader) {
	body := raw
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
		rd.note(m, NoteCharset, "unknown charset %q: body kept as it is", params["charset"])
	}
	body = &encodingErrReader{r: body, g: rd.g}
	br := bufio.NewReaderSize(body, head)
	peek, err := br.Peek(head)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) && rd.g.err == nil {
		// Broken encoding early on: keep what decoded; the stream will
		// give the same error to its reader.
		rd.note(m, NoteUnreadable, "text/plain: %v", err)
	}
	p := rd.leaf(h, mt, params, bytes.ToValidUTF8(bytes.Clone(peek), []byte("\uFFFD")), depth, 0)
	p.Truncated = len(peek) == head
	return p, br
}

// mixedStream reads the parts of a multipart/mixed body whole until a
// text/plain attachment of more than head bytes, which it streams.
func (rd *reader) mixedStream(m *Message, body io.Reader, boundary string, head int, drain func() error) (*Stream, error) {
	mr := multipart.NewReader(newPartHeaderFixer(body, boundary), boundary)
	// next reads parts into m; with stream, it stops at a large text
	// attachment and returns its stream.
	next := func(stream bool) (*Part, io.Reader, error) {
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil, nil, drain()
			}
			if err != nil {
				if rd.g.err != nil {
					return nil, nil, rd.g.err
				}
				rd.note(m, NoteUnreadable, "multipart/mixed: %v: parts after line %d lost", err, rd.g.Line())
				return nil, nil, drain()
			}
			var raw io.Reader = p
			if mt, params := mediaType(p.Header); stream && mt == "text/plain" && isAttachment(p.Header) {
				// Small ones are read whole as Read does; a large one
				// streams.
				br := bufio.NewReaderSize(p, head)
				if _, err := br.Peek(head); err == nil {
					if err := rd.countPart(); err != nil {
						return nil, nil, err
					}
					part, text := rd.textStream(m, p.Header, mt, params, br, head, 1)
					if rd.g.err != nil {
						return nil, nil, rd.g.err
					}
					m.Parts = append(m.Parts, part)
					return part, text, nil
				}
				raw = br
			}
			if err := rd.entity(m, p.Header, raw, 1, 0); err != nil {
				return nil, nil, err
			}
		}
	}
	part, text, err := next(true)
	if err != nil {
		return nil, err
	}
	if text == nil {
		return &Stream{Message: m}, nil
	}
	s := &Stream{Message: m, Body: text, Part: part, Attachment: true}
	s.rest = func() error {
		if _, err := io.Copy(io.Discard, text); err != nil && rd.g.err != nil {
			return rd.g.err
		}
		_, _, err := next(false)
		return err
	}
	return s, nil
}

// ErrBrokenEncoding is wrapped by the error of a stream (ReadStream,
// ReadStreamParts) whose transfer encoding or charset turned out broken
// while the input itself read fine: what was decoded before it is good, as
// Read keeps it.
var ErrBrokenEncoding = errors.New("mailmsg: broken encoding")

// encodingErrReader marks the errors of a decoding chain that did not come
// from the input (the guard) as ErrBrokenEncoding.
type encodingErrReader struct {
	r io.Reader
	g *guardReader
}

func (e *encodingErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.g.err == nil {
		err = fmt.Errorf("%w: %w", ErrBrokenEncoding, err)
	}
	return n, err
}

// isAttachment reports whether a part's Content-Disposition is attachment.
func isAttachment(h textproto.MIMEHeader) bool {
	d, _, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	return (err == nil || errors.Is(err, mime.ErrInvalidMediaParameter)) && strings.EqualFold(d, "attachment")
}

// base64Filter drops what is not base64 (line breaks, spaces, junk) from a
// stream, stops after the padding, and pads an unpadded end, as mail
// readers do.
type base64Filter struct {
	r       io.Reader
	n       int // characters passed on
	pad     bool
	done    bool
	small   [4]byte // for reads of fewer than 4 bytes (the decoder asks for the rest of a group)
	pending []byte  // what of small is still to be passed on
}

func (f *base64Filter) Read(p []byte) (int, error) {
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) < 4 {
		n, err := f.read(f.small[:])
		c := copy(p, f.small[:n])
		if f.pending = f.small[c:n]; len(f.pending) > 0 && err == io.EOF {
			err = nil // after the pending bytes
		}
		return c, err
	}
	return f.read(p)
}

// read is Read for len(p) >= 4.
func (f *base64Filter) read(p []byte) (int, error) {
	for {
		if f.done {
			return 0, io.EOF
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
