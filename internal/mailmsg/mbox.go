package mailmsg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrNotMbox is returned by MboxReader.Next when the input does not start
// with a "From " separator line.
var ErrNotMbox = errors.New("mailmsg: not an mbox: no \"From \" line at the start")

// MboxReader splits an mbox (mboxo or mboxrd) into messages, streaming: it
// holds one line of the mbox at a time. A line starting with "From " ends
// one message and starts the next; in a message, a line ">From ", ">>From "
// … loses one '>' (mboxrd unquoting, also right for mboxo's ">From ").
type MboxReader struct {
	br      *bufio.Reader
	maxLine int
	line    int    // raw lines read so far
	sepLine int    // line of the current message's separator
	sep     string // current separator line
	next    []byte // separator read ahead, nil if none
	nextAt  int    // its line
	cur     *mboxMessage
	started bool
	eof     bool
	err     error
	scratch []byte
}

// NewMboxReader reads an mbox from r; a line longer than maxLineBytes
// (0: DefaultLimits.MaxLineBytes) is an error.
func NewMboxReader(r io.Reader, maxLineBytes int) *MboxReader {
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultLimits.MaxLineBytes
	}
	return &MboxReader{br: bufio.NewReaderSize(r, 64<<10), maxLine: maxLineBytes}
}

// Next returns a reader of the next message (without its "From " line,
// unquoted), or io.EOF after the last. Reading a new message discards what
// was left unread of the previous one. A *LimitError from the message's
// reader numbers lines from the message's first line (as Read does); one
// from Next numbers the lines of the mbox.
func (mr *MboxReader) Next() (io.Reader, error) {
	if mr.err != nil {
		return nil, mr.err
	}
	if mr.cur != nil {
		if _, err := io.Copy(io.Discard, mr.cur); err != nil {
			if mr.err != nil {
				return nil, mr.err // with the line number in the mbox
			}
			return nil, err
		}
		mr.cur = nil
	}
	if !mr.started {
		mr.started = true
		for {
			l, err := mr.readLine()
			if err == io.EOF {
				mr.err = ErrNotMbox
				return nil, mr.err
			}
			if err != nil {
				return nil, err
			}
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			if !bytes.HasPrefix(l, []byte("From ")) {
				mr.err = ErrNotMbox
				return nil, mr.err
			}
			mr.next = append([]byte(nil), l...)
			mr.nextAt = mr.line
			break
		}
	}
	if mr.next == nil {
		mr.err = io.EOF
		return nil, io.EOF
	}
	mr.sep = string(bytes.TrimRight(mr.next, "\r\n"))
	mr.sepLine = mr.nextAt
	mr.next = nil
	mr.cur = &mboxMessage{mr: mr}
	return mr.cur, nil
}

// Line is the 1-based line of the current message's "From " separator.
func (mr *MboxReader) Line() int { return mr.sepLine }

// Separator is the current message's "From " line.
func (mr *MboxReader) Separator() string { return mr.sep }

// readLine returns the next line with its newline; the slice is valid until
// the next call. Lines over the limit are an error, never buffered whole.
func (mr *MboxReader) readLine() ([]byte, error) {
	if mr.eof {
		return nil, io.EOF
	}
	l, err := mr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		mr.scratch = append(mr.scratch[:0], l...)
		for err == bufio.ErrBufferFull {
			if len(mr.scratch) > mr.maxLine {
				mr.err = &LimitError{Limit: "line", Max: int64(mr.maxLine), Line: mr.line + 1}
				return nil, mr.err
			}
			l, err = mr.br.ReadSlice('\n')
			mr.scratch = append(mr.scratch, l...)
		}
		l = mr.scratch
	}
	if len(l) > mr.maxLine+2 {
		mr.err = &LimitError{Limit: "line", Max: int64(mr.maxLine), Line: mr.line + 1}
		return nil, mr.err
	}
	if err == io.EOF {
		mr.eof = true
		if len(l) == 0 {
			return nil, io.EOF
		}
		err = nil
	}
	if err != nil {
		mr.err = fmt.Errorf("mailmsg: mbox: %w", err)
		return nil, mr.err
	}
	mr.line++
	return l, nil
}

type mboxMessage struct {
	mr   *MboxReader
	buf  []byte // rest of the current line (in the reader's buffer)
	done bool
	err  error // met after some bytes were returned
}

// Read fills p with as many lines of the message as fit.
func (m *mboxMessage) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(m.buf) == 0 {
			if m.done || m.err != nil {
				break
			}
			if err := m.next(); err != nil {
				m.err = err
				break
			}
			continue
		}
		c := copy(p[n:], m.buf)
		m.buf = m.buf[c:]
		n += c
	}
	if n > 0 {
		return n, nil
	}
	if m.err != nil {
		return 0, m.err
	}
	return 0, io.EOF
}

// next reads the message's next line into buf, or marks the message done.
func (m *mboxMessage) next() error {
	l, err := m.mr.readLine()
	if err == io.EOF {
		m.done = true
		return nil
	}
	var le *LimitError
	if errors.As(err, &le) {
		// Lines of a message count from its first line, as they do
		// for Read.
		rel := *le
		rel.Line -= m.mr.sepLine
		return &rel
	}
	if err != nil {
		return err
	}
	if bytes.HasPrefix(l, []byte("From ")) {
		m.mr.next = append(m.mr.next[:0], l...)
		m.mr.nextAt = m.mr.line
		m.done = true
		return nil
	}
	if i := bytes.IndexFunc(l, func(r rune) bool { return r != '>' }); i > 0 && bytes.HasPrefix(l[i:], []byte("From ")) {
		l = l[1:]
	}
	m.buf = l
	return nil
}
