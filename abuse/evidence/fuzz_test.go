package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// addSamples seeds f with every line of the sample logs.
func addSamples(f *testing.F, perLine bool) {
	files, _ := filepath.Glob("testdata/logs/*")
	files = append(files, "testdata/seed-notice.eml")
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if !perLine {
			f.Add(b)
			continue
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
}

// checkRecord holds for every record the parsers return.
func checkRecord(t *testing.T, r Record, line []byte) {
	t.Helper()
	if !r.SrcIP.IsValid() {
		t.Errorf("record without a source address from %q", line)
	}
	if !r.Time.IsZero() {
		if r.Time.Location() != time.UTC {
			t.Errorf("time %v not in UTC from %q", r.Time, line)
		}
		if y := r.Time.Year(); y < 0 || y > 9999 {
			t.Errorf("time %v out of range from %q", r.Time, line)
		}
	}
	if !bytes.Contains(line, []byte(r.Raw)) {
		t.Errorf("Raw %q is not part of the line %q", r.Raw, line)
	}
	std, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if got := r.AppendJSON(nil); !bytes.Equal(got, std) {
		t.Errorf("AppendJSON %s != encoding/json %s", got, std)
	}
}

func FuzzParseLine(f *testing.F) {
	addSamples(f, true)
	f.Fuzz(func(t *testing.T, line []byte) {
		r, ok := ParseLine(line, Options{Reference: ref})
		if ok {
			checkRecord(t, r, line)
		}
		// The hand-written IPv4 parser agrees with netip on every token.
		for _, tok := range bytes.Fields(line) {
			a, ok := ipv4(tok)
			b, err := netip.ParseAddr(string(tok))
			if ok != (err == nil && b.Is4()) || (ok && a != b) {
				t.Errorf("ipv4(%q) = %v %v; netip: %v %v", tok, a, ok, b, err)
			}
		}
		// AppendJSON escapes any Raw as encoding/json does.
		checkJSON := Record{Raw: string(line), Proto: string(line)}
		std, _ := json.Marshal(checkJSON)
		if got := checkJSON.AppendJSON(nil); !bytes.Equal(got, std) {
			t.Errorf("AppendJSON %s != encoding/json %s", got, std)
		}
	})
}

func FuzzScanner(f *testing.F) {
	addSamples(f, false)
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := NewScanner(bytes.NewReader(in), Options{Reference: ref, MaxLineBytes: 256})
		lines := bytes.Split(in, []byte("\n"))
		last := 0
		for sc.Scan() {
			ln := sc.Line()
			if ln <= last || ln > len(lines) {
				t.Fatalf("line %d after %d, input has %d", ln, last, len(lines))
			}
			last = ln
			rec := sc.Record()
			// The Scanner's caches change nothing: the line alone gives
			// the same record (but for a proto named by a header), or,
			// for a wrapped line, the line joined with the next.
			text := lines[ln-1]
			if sc.Layout() != LayoutCSV {
				alone, ok := ParseLine(text, Options{Reference: ref})
				alone.Proto = rec.Proto
				if !ok || !cmp.Equal(alone, rec, cmpRecord) {
					joinedOK := false
					if ln < len(lines) {
						j := append(append(append([]byte(nil), trimLine(lines[ln-1])...), ' '), trimLine(lines[ln])...)
						joined, ok := ParseLine(j, Options{Reference: ref})
						joined.Proto = rec.Proto
						if ok && cmp.Equal(joined, rec, cmpRecord) {
							joinedOK, text = true, j
						}
					}
					if !joinedOK {
						t.Errorf("line %d: Scanner %+v, ParseLine %+v %v", ln, rec, alone, ok)
					}
				}
			}
			checkRecord(t, rec, text)
			if sc.Layout() == LayoutUnknown {
				t.Errorf("record with no layout at line %d", ln)
			}
		}
		if err := sc.Err(); err != nil && err != io.EOF {
			var le *LineError
			if !bytesErrIsLineTooLong(err, &le) {
				t.Errorf("unexpected error %v", err)
			}
		}
	})
}

func bytesErrIsLineTooLong(err error, le **LineError) bool {
	return errors.As(err, le) && errors.Is(err, ErrLineTooLong)
}
