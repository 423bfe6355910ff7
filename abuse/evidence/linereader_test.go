package evidence

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestLineReaderMatchesBufioScanner(t *testing.T) {
	// Lines of many lengths, across the 32 KiB initial buffer and its growth.
	var in bytes.Buffer
	for i := 0; i < 150; i++ {
		in.WriteString(strings.Repeat(string(rune('a'+i%26)), (i*i*37)%70000))
		if i%7 == 0 {
			in.WriteByte('\r')
		}
		in.WriteByte('\n')
	}
	in.WriteString("last line without newline")
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(in.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	for name, r := range map[string]io.Reader{
		"whole":     bytes.NewReader(in.Bytes()),
		"odd reads": &chunkReader{r: bytes.NewReader(in.Bytes()), n: 4093},
		"half":      iotest.HalfReader(bytes.NewReader(in.Bytes())),
	} {
		lr := newLineReader(r, 80000)
		var got []string
		for {
			line, err := lr.readLine()
			if len(line) > 0 {
				got = append(got, strings.TrimRight(string(line), "\r\n"))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-bufio +lineReader):\n%s", name, diff)
		}
		if len(lr.buf) > 80002 {
			t.Errorf("%s: buffer grew to %d, past the longest line allowed", name, len(lr.buf))
		}
	}
}

// chunkReader reads at most n bytes at a time.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderNoProgress(t *testing.T) {
	sc := NewScanner(zeroReader{}, Options{})
	if sc.Scan() {
		t.Fatal("Scan() = true on a reader that never yields")
	}
	if err := sc.Err(); !strings.Contains(err.Error(), io.ErrNoProgress.Error()) {
		t.Errorf("Err() = %v, want io.ErrNoProgress", err)
	}
}
