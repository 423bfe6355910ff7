package mailmsg

import (
	"bufio"
	"bytes"
	"io"
)

// partHeaderFixer puts the blank line that ends a body part's header where
// the sender left it out. fail2ban's xarf-login-attack template writes its
// log part's Content-Type and then, with no blank line, "Note: Local
// timezone is +0100 (CET)" and the log lines; mime/multipart would read
// all of them as header fields ("Nov 16 04: 11:52 …") and the part as
// empty. In a body part only Content-* fields, MIME-Version and X-* fields
// mean anything (RFC 2045, 2046), and senders add some mail fields (Date,
// Received, …), so the first line of a part's header that is none of them,
// nor a continuation, starts its body.
type partHeaderFixer struct {
	r        *bufio.Reader
	delim    []byte // "--" + boundary
	inHeader bool   // between a delimiter line and the blank line after it
	midLine  bool   // the last read ended inside a long line
	pending  []byte
	err      error
}

func newPartHeaderFixer(r io.Reader, boundary string) *partHeaderFixer {
	return &partHeaderFixer{r: bufio.NewReaderSize(r, 4096), delim: []byte("--" + boundary)}
}

var partCRLF = []byte("\r\n")

func (f *partHeaderFixer) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		line, err := f.r.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			// A long line: pass it on; only whole lines are looked at.
			if !f.midLine && f.inHeader {
				f.inHeader = false // no header line is this long
				f.pending = append(append([]byte(nil), partCRLF...), line...)
			} else {
				f.pending = line
			}
			f.midLine = true
			continue
		case err != nil:
			f.err = err
		}
		if len(line) == 0 {
			continue
		}
		start := !f.midLine
		f.midLine = false
		if !start {
			f.pending = line
			continue
		}
		f.pending = line
		t := bytes.TrimRight(line, "\r\n")
		switch {
		case bytes.HasPrefix(t, f.delim):
			f.inHeader = true
		case !f.inHeader:
		case len(t) == 0:
			f.inHeader = false
		case t[0] == ' ' || t[0] == '\t':
		case !partHeaderField(t):
			f.inHeader = false
			f.pending = append(append([]byte(nil), partCRLF...), line...)
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// mailFields are the RFC 5322 fields senders also put in body parts'
// headers (MIME::Lite writes Date and X-Mailer in each part).
var mailFields = map[string]bool{
	"date": true, "received": true, "message-id": true, "from": true, "to": true, "cc": true,
	"subject": true, "return-path": true, "sender": true, "reply-to": true, "references": true,
	"in-reply-to": true, "comments": true, "keywords": true, "dkim-signature": true,
	"authentication-results": true, "user-agent": true, "organization": true,
}

// partHeaderField reports whether line is a header field a body part
// carries: Content-*, MIME-Version, X-* or a mail field (Date, Received,
// …); "Note: …" or a log line is not.
func partHeaderField(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	l := bytes.ToLower(name)
	return bytes.HasPrefix(l, []byte("content-")) || bytes.Equal(l, []byte("mime-version")) || bytes.HasPrefix(l, []byte("x-")) || mailFields[string(l)]
}
