package evidence

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/abusekit/abusekit/abuse/evidence/internal/loggen"
	"github.com/google/go-cmp/cmp"
)

type scanned struct {
	Line   int
	Layout Layout
	Rec    Record
}

func scanAll(t *testing.T, r io.Reader, o Options) ([]scanned, error) {
	t.Helper()
	sc := NewScanner(r, o)
	var out []scanned
	for sc.Scan() {
		out = append(out, scanned{sc.Line(), sc.Layout(), sc.Record()})
	}
	return out, sc.Err()
}

func TestScannerSeedNotice(t *testing.T) {
	f, err := os.Open("testdata/seed-notice.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := scanAll(t, f, Options{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	src := ip("13.125.40.201")
	want := []scanned{
		{36, LayoutColumns, Record{Time: seedTime, SrcIP: src, DstIP: ip("192.0.2.15"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"}},
		{37, LayoutColumns, Record{Time: utc(2023, 4, 27, 14, 46, 48, 0), SrcIP: src, DstIP: ip("192.0.2.16"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.16  22  Thu Apr 27 14:46:48 2023"}},
		{38, LayoutColumns, Record{Time: utc(2023, 4, 27, 14, 46, 55, 0), SrcIP: src, DstIP: ip("192.0.2.40"), DstPort: 23, Proto: "tcp", Raw: "13.125.40.201  192.0.2.40  23  Thu Apr 27 14:46:55 2023"}},
	}
	if diff := cmp.Diff(want, got, cmpRecord); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestScannerProtoFromHeaderOrOption(t *testing.T) {
	in := "10.0.0.1 10.0.0.2 53\n(attacker's IP) (IP being scanned) (UDP port being scanned)\n10.0.0.1 10.0.0.2 53\n"
	got, err := scanAll(t, strings.NewReader(in), Options{Reference: ref, DefaultProto: "TCP"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Rec.Proto != "tcp" || got[1].Rec.Proto != "udp" {
		t.Errorf("protos: %+v", got)
	}
}

// endless yields b forever: a line that never ends.
type endless struct {
	b    byte
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	e.read += int64(len(p))
	return len(p), nil
}

func TestScannerLineTooLongIsBounded(t *testing.T) {
	// A 1 GB line, generated: the Scanner must stop at MaxLineBytes without
	// buffering it.
	head := strings.NewReader("10.0.0.1 10.0.0.2 22\n")
	gen := &endless{b: 'x'}
	body := io.LimitReader(gen, 1<<30)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sc := NewScanner(io.MultiReader(head, body), Options{})
	n := 0
	for sc.Scan() {
		n++
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	err := sc.Err()
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("Err() = %v, want ErrLineTooLong", err)
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("Err() = %#v, want a *LineError at line 2", err)
	}
	if n != 1 {
		t.Errorf("read %d records before the long line, want 1", n)
	}
	if gen.read > 4*DefaultMaxLineBytes {
		t.Errorf("read %d bytes of the long line, want at most a few MiB", gen.read)
	}
	if grow := after.TotalAlloc - before.TotalAlloc; grow > 16<<20 {
		t.Errorf("allocated %d bytes for a 1 GB line", grow)
	}
}

func TestScannerMaxLineBytesOption(t *testing.T) {
	in := "10.0.0.1 10.0.0.2 22\n" + strings.Repeat("y", 200) + "\n10.0.0.1 10.0.0.2 23\n"
	got, err := scanAll(t, strings.NewReader(in), Options{MaxLineBytes: 100})
	if !errors.Is(err, ErrLineTooLong) || len(got) != 1 {
		t.Errorf("got %d records, err %v; want 1 and ErrLineTooLong", len(got), err)
	}
	// Exactly at the limit is fine, with or without CRLF.
	line := "10.0.0.1 10.0.0.2 22 " + strings.Repeat("z", 79)
	got, err = scanAll(t, strings.NewReader(line+"\r\n"+line), Options{MaxLineBytes: 100})
	if err != nil || len(got) != 2 {
		t.Errorf("got %d records, err %v; want 2 and no error", len(got), err)
	}
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("10.0.0.1 10.0.0.2 22\n10.0.0.1 10.0.0.2 23"), iotest.ErrReader(boom))
	got, err := scanAll(t, r, Options{})
	if !errors.Is(err, boom) {
		t.Errorf("Err() = %v, want boom", err)
	}
	if len(got) != 1 {
		t.Errorf("got %d records, want 1 (the unfinished line is not trusted)", len(got))
	}
}

func TestScannerNoFinalNewlineAndOneByteReads(t *testing.T) {
	in := "hello\n\n10.0.0.1 10.0.0.2 22\r\n>>>\n10.0.0.3 10.0.0.4 23"
	got, err := scanAll(t, iotest.OneByteReader(strings.NewReader(in)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Line != 3 || got[1].Line != 5 || got[1].Rec.DstPort != 23 {
		t.Errorf("got %+v", got)
	}
}

func TestScannerBinaryJunk(t *testing.T) {
	junk := make([]byte, 1<<16)
	for i := range junk {
		junk[i] = byte(i*7 + i>>8)
	}
	in := string(junk) + "\n10.0.0.1 10.0.0.2 22\n"
	got, err := scanAll(t, strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1].Rec.DstPort != 22 {
		t.Errorf("the record after the junk was lost: %+v", got)
	}
}

func TestScannerTimeCacheMatchesParseLine(t *testing.T) {
	lines := []string{
		"203.0.113.1 192.0.2.1 22 Thu Apr 27 14:46:47 2023",
		"203.0.113.2 192.0.2.2 23 Thu Apr 27 14:46:47 2023",
		"203.0.113.3 192.0.2.3 24 Thu Apr 27 14:46:48 2023",
		"203.0.113.4 192.0.2.4 25 Thu Apr  27 14:46:48 2023",
		"203.0.113.5 192.0.2.5 26 Apr 27 14:46:48",
		"203.0.113.6 192.0.2.6 27 Apr 27 14:46:48",
		"203.0.113.7 192.0.2.7 28 Thu Apr 27 14:46:48 2023 extra",
		"203.0.113.8 192.0.2.8 29 Thu Apr 27 14:46:48 2023",
		"203.0.113.9 192.0.2.9 30",
		"203.0.113.9 192.0.2.9 31 Thu Apr 27 14:46:48 2023",
	}
	got, err := scanAll(t, strings.NewReader(strings.Join(lines, "\n")), Options{Reference: ref})
	if err != nil || len(got) != len(lines) {
		t.Fatalf("got %d records, err %v", len(got), err)
	}
	for i, g := range got {
		want, _ := ParseLine([]byte(lines[i]), Options{Reference: ref})
		if diff := cmp.Diff(want, g.Rec, cmpRecord); diff != "" {
			t.Errorf("line %d (-ParseLine +Scanner):\n%s", i+1, diff)
		}
	}
}

func TestScannerMemoryStaysBounded(t *testing.T) {
	// A 200,000-line log (~11 MB), generated into a pipe and never held
	// whole: after a GC, the heap must hold far less than the log.
	const lines = 200_000
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(loggen.Columns(pw, lines)) }()
	sc := NewScanner(pr, Options{})
	n := 0
	var peak uint64
	for sc.Scan() {
		if n++; n%50_000 == 0 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
	}
	if err := sc.Err(); err != nil || n != lines {
		t.Fatalf("read %d records, err %v", n, err)
	}
	t.Logf("peak heap after GC: %d KiB", peak>>10)
	if peak > 4<<20 {
		t.Errorf("heap reached %d bytes while streaming a %d-line log", peak, lines)
	}
}
