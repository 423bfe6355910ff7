package evidence

import (
	"bytes"
	"errors"
	"io"
)

// errTooLong is lineReader's signal that a line does not fit in max bytes.
var errTooLong = errors.New("line too long")

// lineReader splits a stream into lines without copying them: its buffer
// starts small (so that a Scanner over a short input costs little) and
// grows, by doubling, up to the longest line allowed — never further,
// whatever the input.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
	scanned    int // buf[start:scanned] holds no '\n'
	max        int // longest line, with its "\r\n"
	err        error
}

const initialBuffer = 32 << 10

func newLineReader(r io.Reader, maxLine int) *lineReader {
	max := maxLine + 2
	size := initialBuffer
	if size > max {
		size = max
	}
	return &lineReader{r: r, buf: make([]byte, size), max: max}
}

// readLine returns the next line, with its '\n' if it had one, valid until
// the next call. At the end of the input it returns the last, unterminated
// line (if any) with the reader's error (io.EOF). A line longer than max
// gives errTooLong.
func (l *lineReader) readLine() ([]byte, error) {
	empty := 0
	for {
		if i := bytes.IndexByte(l.buf[l.scanned:l.end], '\n'); i >= 0 {
			end := l.scanned + i + 1
			line := l.buf[l.start:end]
			l.start, l.scanned = end, end
			if len(line) > l.max {
				return nil, errTooLong
			}
			return line, nil
		}
		l.scanned = l.end
		if l.end-l.start >= l.max {
			return nil, errTooLong
		}
		if l.err != nil {
			line := l.buf[l.start:l.end]
			l.start, l.scanned = l.end, l.end
			return line, l.err
		}
		if l.start > 0 && l.end == len(l.buf) {
			n := copy(l.buf, l.buf[l.start:l.end])
			l.start, l.end, l.scanned = 0, n, n
		}
		if l.end == len(l.buf) {
			size := 2 * len(l.buf)
			if size > l.max {
				size = l.max
			}
			nb := make([]byte, size)
			copy(nb, l.buf[l.start:l.end])
			l.end -= l.start
			l.scanned, l.start, l.buf = l.end, 0, nb
		}
		n, err := l.r.Read(l.buf[l.end:])
		if n < 0 || n > len(l.buf)-l.end {
			l.err = errors.New("evidence: reader returned an invalid count")
			continue
		}
		l.end += n
		if err != nil {
			l.err = err
		} else if n == 0 {
			if empty++; empty >= 100 {
				l.err = io.ErrNoProgress
			}
		}
	}
}
