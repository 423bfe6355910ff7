package mailmsg

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// lookupCharset finds the decoder for a MIME charset name; nil if unknown.
// UTF-8 and US-ASCII give (nil, true): no conversion needed beyond
// replacing invalid bytes.
func lookupCharset(name string) (enc encoding.Encoding, utf8ish bool) {
	n := strings.ToLower(strings.TrimSpace(strings.Trim(name, `"'`)))
	switch n {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968":
		return nil, true
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		// WHATWG maps Latin-1 to Windows-1252; mail means real Latin-1.
		return charmap.ISO8859_1, false
	}
	if e, err := htmlindex.Get(n); err == nil && e != nil {
		return e, false
	}
	if e, err := ianaindex.MIME.Encoding(n); err == nil && e != nil {
		return e, false
	}
	if e, err := ianaindex.IANA.Encoding(n); err == nil && e != nil {
		return e, false
	}
	return nil, false
}

// toUTF8 converts b from charset to valid UTF-8. An unknown charset or a
// conversion error never fails: the text is kept (invalid bytes read as
// Windows-1252 when the body is not UTF-8) and a note says what happened.
func toUTF8(b []byte, charset string) ([]byte, string) {
	enc, utf8ish := lookupCharset(charset)
	if utf8ish {
		if utf8.Valid(b) {
			return b, ""
		}
		return bytes.ToValidUTF8(b, []byte("\uFFFD")), fmt.Sprintf("invalid %s bytes replaced", orUTF8(charset))
	}
	if enc == nil {
		if utf8.Valid(b) {
			return b, fmt.Sprintf("unknown charset %q: body kept as UTF-8", charset)
		}
		out, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err != nil {
			return bytes.ToValidUTF8(b, []byte("\uFFFD")), fmt.Sprintf("unknown charset %q: invalid bytes replaced", charset)
		}
		return out, fmt.Sprintf("unknown charset %q: body read as windows-1252", charset)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return bytes.ToValidUTF8(b, []byte("\uFFFD")), fmt.Sprintf("charset %q: %v: invalid bytes replaced", charset, err)
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return out, ""
}

func orUTF8(s string) string {
	if s == "" {
		return "utf-8"
	}
	return s
}

// charsetReader is a mime.WordDecoder CharsetReader backed by x/text.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, utf8ish := lookupCharset(charset)
	if utf8ish {
		return input, nil
	}
	if enc == nil {
		return nil, fmt.Errorf("mailmsg: unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(input), nil
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// DecodeHeader decodes RFC 2047 encoded-words in a header value. Words in an
// unknown charset are left as they are.
func DecodeHeader(v string) string {
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return strings.ToValidUTF8(v, "\uFFFD")
	}
	return strings.ToValidUTF8(d, "\uFFFD")
}
