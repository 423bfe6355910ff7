package evidence

import (
	"bytes"
	"sync"
	"testing"

	"github.com/abusekit/abusekit/abuse/evidence/internal/loggen"
)

var (
	benchLogOnce sync.Once
	benchLog     []byte
)

// benchInput is the 1,000,000-line column log of bench/evidence.sh (~55 MB).
func benchInput(b *testing.B) []byte {
	benchLogOnce.Do(func() {
		var buf bytes.Buffer
		if err := loggen.Columns(&buf, 1_000_000); err != nil {
			b.Fatal(err)
		}
		benchLog = buf.Bytes()
	})
	return benchLog
}

// BenchmarkScanner reads the 1M-line log end to end and writes every record
// as JSON (to a buffer reused per line), as parse-report -json does.
func BenchmarkScanner(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		sc := NewScanner(bytes.NewReader(in), Options{Reference: loggen.Start})
		n := 0
		for sc.Scan() {
			r := sc.Record()
			out = r.AppendJSON(out[:0])
			out = append(out, '\n')
			n++
		}
		if sc.Err() != nil || n != 1_000_000 {
			b.Fatalf("read %d records, err %v", n, sc.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/record")
}

// BenchmarkScannerNoJSON is BenchmarkScanner without the JSON.
func BenchmarkScannerNoJSON(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		sc := NewScanner(bytes.NewReader(in), Options{Reference: loggen.Start})
		for sc.Scan() {
		}
	}
}

func BenchmarkParseLine(b *testing.B) {
	line := []byte("203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023")
	o := Options{Reference: loggen.Start}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseLine(line, o); !ok {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r, ok := ParseLine([]byte("203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"), Options{DefaultProto: "tcp"})
	if !ok {
		b.Fatal("not parsed")
	}
	out := r.AppendJSON(nil)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		out = r.AppendJSON(out[:0])
	}
}
