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
	"time"
)

// Message is one mail message, decoded.
type Message struct {
	Header mail.Header
	// Parts are the leaf parts in document order (a single-part message has
	// one). message/rfc822 parts are not among them: see Forwarded.
	Parts []*Part
	// Forwarded are the message/rfc822 parts, read recursively.
	Forwarded []*Message
	// Notes say what was degraded while reading (unknown charset, broken
	// encoding, truncated multipart, …), in the order met.
	Notes []Note
}

// Part is one leaf MIME part.
type Part struct {
	Header    textproto.MIMEHeader
	MediaType string            // lower-case, e.g. "text/plain"
	Params    map[string]string // Content-Type parameters, lower-case keys
	// Body is transfer-decoded (base64, quoted-printable); text/* bodies are
	// converted to UTF-8.
	Body        []byte
	Charset     string // declared charset of a text part, as written
	Filename    string // from Content-Disposition or the Content-Type name
	Disposition string // "inline", "attachment" or "" as declared
	// Alternative is non-zero for parts inside a multipart/alternative: all
	// parts of one alternative share the number.
	Alternative int
	Depth       int // 0 for the body of a single-part message
	// Truncated says Body holds only the first bytes of the part (see
	// ReadStream); the rest was streamed, not kept.
	Truncated bool
}

// IsText reports whether the part is text (text/*).
func (p *Part) IsText() bool { return strings.HasPrefix(p.MediaType, "text/") }

// Text is the part's readable text: an HTML body's extracted text, another
// text body as is, and "" for non-text parts.
func (p *Part) Text() string {
	switch {
	case p.MediaType == "text/html":
		return HTMLText(p.Body)
	case p.IsText():
		return string(p.Body)
	}
	return ""
}

// Text is the best readable text of the message's body (forwarded messages
// excluded): each inline text part in order, and of each multipart/alternative
// only the text/plain version when there is one, else the HTML version.
// Attachments are left out.
func (m *Message) Text() string {
	best := map[int]*Part{}
	for _, p := range m.Parts {
		if p.Alternative == 0 || !p.IsText() || p.Disposition == "attachment" {
			continue
		}
		cur := best[p.Alternative]
		if cur == nil || (cur.MediaType != "text/plain" && p.MediaType == "text/plain") {
			best[p.Alternative] = p
		}
	}
	var b strings.Builder
	for _, p := range m.Parts {
		if !p.IsText() || p.Disposition == "attachment" {
			continue
		}
		if p.Alternative != 0 && best[p.Alternative] != p {
			continue
		}
		t := p.Text()
		if t == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(t)
	}
	return b.String()
}

// Subject is the decoded Subject header.
func (m *Message) Subject() string { return DecodeHeader(m.Header.Get("Subject")) }

// Date is the Date header; zero if absent or unreadable.
func (m *Message) Date() time.Time {
	t, err := m.Header.Date()
	if err != nil {
		return time.Time{}
	}
	return t
}

// From is the first From address, lower-cased, or "" when there is none
// that parses.
func (m *Message) From() string {
	v := m.Header.Get("From")
	if v == "" {
		return ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if list, err := p.ParseList(v); err == nil && len(list) > 0 {
		return strings.ToLower(list[0].Address)
	}
	// Fall back to an address in angle brackets.
	if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		return strings.ToLower(strings.TrimSpace(v[i+1 : j]))
	}
	return ""
}

// Read reads one message from r within l (zero fields: DefaultLimits). It
// reads r to the end of the message; with an mbox, give it one message of
// MboxReader.
func Read(r io.Reader, l Limits) (*Message, error) {
	l = l.withDefaults()
	g := newGuardReader(r, l)
	rd := &reader{l: l, g: g}
	m, err := rd.message(bufio.NewReader(g), 0)
	if err != nil {
		return nil, err
	}
	// Drain what is left (an epilogue), so the byte limit covers it too.
	if _, err := io.Copy(io.Discard, g); err != nil {
		return nil, rd.wrap(err)
	}
	return m, nil
}

type reader struct {
	l      Limits
	g      *guardReader
	parts  int
	altSeq int
}

// wrap prefers the guard's limit error, which is what caused err when set.
func (rd *reader) wrap(err error) error {
	if rd.g.err != nil {
		return rd.g.err
	}
	return err
}

func (rd *reader) message(r io.Reader, depth int) (*Message, error) {
	if depth > rd.l.MaxDepth {
		return nil, &LimitError{Limit: "depth", Max: int64(rd.l.MaxDepth)}
	}
	mm, err := mail.ReadMessage(r)
	if err != nil {
		if rd.g.err != nil {
			return nil, rd.g.err
		}
		return nil, fmt.Errorf("mailmsg: header: %w", err)
	}
	m := &Message{Header: mm.Header}
	if err := rd.entity(m, textproto.MIMEHeader(mm.Header), mm.Body, depth, 0); err != nil {
		return nil, err
	}
	return m, nil
}

func (rd *reader) note(m *Message, kind NoteKind, format string, args ...any) {
	m.AddNote(kind, fmt.Sprintf(format, args...))
}

// NoteKind classifies what a Note says was degraded.
type NoteKind string

// Kinds of notes.
const (
	// NoteUnreadable: (part of) a part could not be read: broken base64
	// or quoted-printable, a part or multipart cut short (parts after it
	// lost), a forwarded message whose header is unreadable.
	NoteUnreadable NoteKind = "unreadable"
	// NoteCharset: text in an unknown or wrong charset, kept as it is or
	// with invalid bytes replaced.
	NoteCharset NoteKind = "charset"
	// NoteStructure: a bad Content-Type or a multipart without boundary,
	// read as text/plain.
	NoteStructure NoteKind = "structure"
)

// Note is one thing degraded while reading a message.
type Note struct {
	Kind NoteKind
	Text string // human-readable, e.g. "broken base64 body (kept 12 decoded bytes): …"
}

func (n Note) String() string { return n.Text }

// maxNotes bounds the notes of one message.
const maxNotes = 100

// AddNote records a degradation (up to 100 per message).
func (m *Message) AddNote(kind NoteKind, text string) {
	if len(m.Notes) < maxNotes {
		m.Notes = append(m.Notes, Note{Kind: kind, Text: text})
	}
}

func (rd *reader) countPart() error {
	rd.parts++
	if rd.parts > rd.l.MaxParts {
		return &LimitError{Limit: "parts", Max: int64(rd.l.MaxParts), Line: rd.g.Line()}
	}
	return nil
}

func (rd *reader) entity(m *Message, h textproto.MIMEHeader, body io.Reader, depth, alt int) error {
	ct := h.Get("Content-Type")
	mt, params := "text/plain", map[string]string{}
	if ct != "" {
		t, p, err := mime.ParseMediaType(ct)
		switch {
		case err == nil || errors.Is(err, mime.ErrInvalidMediaParameter):
			mt, params = strings.ToLower(t), p
		default:
			rd.note(m, NoteStructure, "bad Content-Type %q read as text/plain: %v", ct, err)
		}
	}
	if params == nil {
		params = map[string]string{}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		if depth+1 > rd.l.MaxDepth {
			return &LimitError{Limit: "depth", Max: int64(rd.l.MaxDepth), Line: rd.g.Line()}
		}
		if mt == "multipart/alternative" && alt == 0 {
			rd.altSeq++
			alt = rd.altSeq
		}
		mr := multipart.NewReader(newPartHeaderFixer(body, params["boundary"]), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if rd.g.err != nil {
					return rd.g.err
				}
				rd.note(m, NoteUnreadable, "%s: %v: parts after line %d lost", mt, err, rd.g.Line())
				return nil
			}
			if err := rd.entity(m, p.Header, p, depth+1, alt); err != nil {
				return err
			}
		}
	case mt == "message/rfc822" || mt == "message/global":
		if err := rd.countPart(); err != nil {
			return err
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			if rd.g.err != nil {
				return rd.g.err
			}
			rd.note(m, NoteUnreadable, "forwarded message truncated: %v", err)
		}
		raw = rd.decodeTransfer(m, h, raw)
		// The forwarded message counts against the same limits; its bytes
		// were already counted by the guard.
		fm, err := rd.message(bytes.NewReader(raw), depth+1)
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return err
			}
			rd.note(m, NoteUnreadable, "forwarded message unreadable (kept as attachment): %v", err)
			m.Parts = append(m.Parts, rd.leaf(h, mt, params, raw, depth, alt))
			return nil
		}
		m.Forwarded = append(m.Forwarded, fm)
		return nil
	default:
		if strings.HasPrefix(mt, "multipart/") {
			rd.note(m, NoteStructure, "%s without boundary read as text/plain", mt)
			mt = "text/plain"
		}
		if err := rd.countPart(); err != nil {
			return err
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			if rd.g.err != nil {
				return rd.g.err
			}
			rd.note(m, NoteUnreadable, "%s part truncated: %v", mt, err)
		}
		raw = rd.decodeTransfer(m, h, raw)
		p := rd.leaf(h, mt, params, raw, depth, alt)
		if p.IsText() {
			var note string
			p.Body, note = toUTF8(p.Body, p.Charset)
			if note != "" {
				rd.note(m, NoteCharset, "%s: %s", mt, note)
			}
		}
		m.Parts = append(m.Parts, p)
		return nil
	}
}

func (rd *reader) leaf(h textproto.MIMEHeader, mt string, params map[string]string, body []byte, depth, alt int) *Part {
	p := &Part{Header: h, MediaType: mt, Params: params, Body: body, Charset: params["charset"], Alternative: alt, Depth: depth}
	if cd := h.Get("Content-Disposition"); cd != "" {
		d, dp, err := mime.ParseMediaType(cd)
		if err == nil || errors.Is(err, mime.ErrInvalidMediaParameter) {
			p.Disposition = strings.ToLower(d)
			p.Filename = DecodeHeader(dp["filename"])
		}
	}
	if p.Filename == "" && params["name"] != "" {
		p.Filename = DecodeHeader(params["name"])
	}
	return p
}

// decodeTransfer removes the Content-Transfer-Encoding; on broken input it
// keeps the raw bytes and notes why.
func (rd *reader) decodeTransfer(m *Message, h textproto.MIMEHeader, raw []byte) []byte {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	var dec io.Reader
	switch cte {
	case "quoted-printable":
		dec = quotedprintable.NewReader(bytes.NewReader(raw))
	case "base64":
		dec = base64.NewDecoder(base64.StdEncoding, bytes.NewReader(base64Clean(raw)))
	default:
		return raw
	}
	out, err := io.ReadAll(dec)
	if err == nil && len(out) == 0 && len(bytes.TrimSpace(raw)) > 0 {
		err = errors.New("no decodable data")
	}
	if err != nil {
		rd.note(m, NoteUnreadable, "broken %s body (kept %d decoded bytes): %v", cte, len(out), err)
		if len(out) == 0 {
			return raw
		}
	}
	return out
}

// base64Clean drops everything outside the base64 alphabet (line breaks,
// spaces, junk) and anything after the padding, as mail readers do.
func base64Clean(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			out = append(out, c)
		case c == '=':
			out = append(out, c)
			if len(out)%4 == 0 {
				return out
			}
		}
	}
	// Unpadded input: pad so the decoder accepts the last group.
	switch len(out) % 4 {
	case 2:
		out = append(out, '=', '=')
	case 3:
		out = append(out, '=')
	case 1:
		out = out[:len(out)-1]
	}
	return out
}
