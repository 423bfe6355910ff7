package abuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var xarfMailCase = formatCase{
	dir:     "xarf",
	samples: []string{"v02-login-attack.eml", "v01-portscan-headerstyle.eml", "v02-malware-uri.eml"},
	parse:   ParseXARF,
	formats: []string{xarfFormat},
	sources: []Source{SourceXARF},
}

func TestParseXARFMailGolden(t *testing.T) { checkFormatGolden(t, xarfMailCase, true) }

func TestParseXARFMailFields(t *testing.T) {
	ctx := context.Background()
	read := func(name string) Report {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("testdata", "xarf", name))
		if err != nil {
			t.Fatal(err)
		}
		reps, err := ParseXARF(ctx, bytes.NewReader(data))
		if err != nil || len(reps) != 1 {
			t.Fatalf("%s: %d reports, err %v", name, len(reps), err)
		}
		return reps[0]
	}

	r := read("v02-login-attack.eml")
	if r.Kind != KindIntrusion || r.CaseID != "4711@honeypot.example" || r.Reporter != "xarf-reports@honeypot.example" ||
		!r.AbuseTime.Equal(time.Date(2026, 11, 4, 5, 58, 0, 0, time.UTC)) || r.Activity != "abuse/login-attack" ||
		r.Subject != "abuse report about 52.12.34.56 - 2026-11-04T05:58:00+0000" || r.EvidenceCount != 3 {
		t.Errorf("login attack: %+v", r)
	}
	// sshd lines: the attacker is the source, port 58112; the year comes
	// from the report's date.
	if e := r.Evidence[0]; e.SrcIP.String() != "52.12.34.56" || e.SrcPort != 58112 || e.Time.Year() != 2026 {
		t.Errorf("first sshd record: %+v", e)
	}

	// YAML that is not YAML ("User-Agent: ScanWatch: collector/2.1") is
	// read as key-value lines.
	r = read("v01-portscan-headerstyle.eml")
	if r.Kind != KindPortScan || r.CaseID != "SW-88412" || !r.AbuseTime.Equal(time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC)) || r.EvidenceCount != 2 {
		t.Errorf("portscan: %+v", r)
	}

	// A URI source without logs: one record naming it; Port is the source's.
	r = read("v02-malware-uri.eml")
	if r.Kind != KindMalware || len(r.Resources.IPs) != 0 || r.EvidenceCount != 1 ||
		r.Evidence[0].Raw != "abuse/malware-attack http://203.0.113.77:8080/update.exe" {
		t.Errorf("malware uri: %+v", r)
	}
}

func TestXARFFields(t *testing.T) {
	yamlPart := []byte("Reported-From: a@b.example\nReport-Type: login-attack\nPort: 22\nDate: 2014-02-03T02:13:35+01:00\nReport-ID: '1234567'\n")
	f, err := xarfFields(yamlPart)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Reported-From": "a@b.example", "Report-Type": "login-attack", "Port": "22", "Report-Id": "1234567"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if d, err := xarfTime("Date", f["Date"]); err != nil || !d.Equal(time.Date(2014, 2, 3, 1, 13, 35, 0, time.UTC)) {
		t.Errorf("Date %q → %v, %v", f["Date"], d, err)
	}
	// Not YAML: key-value lines.
	f, err = xarfFields([]byte("Report-Type: portscan\nUser-Agent: a: b\n"))
	if err != nil || f["User-Agent"] != "a: b" || f["Report-Type"] != "portscan" {
		t.Errorf("fallback: %v, %v", f, err)
	}
	if _, err := xarfFields([]byte("  \n")); err == nil {
		t.Error("empty part accepted")
	}
}

func TestParseXARFMailBadInput(t *testing.T) {
	hdr := "From: a@b.example\r\nSubject: x\r\nX-XARF: PLAIN\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	tests := []struct {
		name, in, errText string
	}{
		{"no machine part", hdr + "--q--\r\n", "without a machine-readable part"},
		{"bad port", hdr + "--q\r\nContent-Type: text/plain\r\n\r\nReport-Type: portscan\r\nReported-From: a@b.example\r\nPort: twenty-two\r\n--q--\r\n", "Port"},
		{"bad date", hdr + "--q\r\nContent-Type: text/plain\r\n\r\nReport-Type: portscan\r\nReported-From: a@b.example\r\nDate: someday\r\n--q--\r\n", "Date"},
		{"plain mail", "From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n", "neither X-ARF JSON nor an X-ARF mail"},
		{"empty", "", "empty input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseXARF(context.Background(), strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Format != "x-arf" || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %v; want an x-arf *ParseError containing %q", err, tt.errText)
			}
		})
	}
}

func FuzzXARFMail(f *testing.F) {
	fuzzFormat(f, xarfMailCase, Limits{MaxBytes: 1 << 20, MaxParts: 100}, nil)
}

// TestXARFFieldsAliasBomb feeds a "billion laughs" part: aliases must not be
// expanded (the last level would be 9^8 strings).
func TestXARFFieldsAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("Report-Type: &rt login-attack\nReported-From: *rt\nl0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	f, err := xarfFields([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if f["Report-Type"] != "login-attack" || f["L8"] != "" || f["Reported-From"] != "" {
		t.Errorf("fields: Report-Type %q, len(L8) %d, Reported-From %q", f["Report-Type"], len(f["L8"]), f["Reported-From"])
	}
}

// TestXARFFieldsDeep feeds deeply nested YAML, whose parse time would grow
// with the square of the depth: it is read as key-value lines instead.
func TestXARFFieldsDeep(t *testing.T) {
	for _, in := range []string{
		"Report-Type: portscan\nk: " + strings.Repeat("[", 200000) + "\n",
		"Report-Type: portscan\nk:\n" + strings.Repeat(" - ", 200000) + "x\n",
		"Report-Type: portscan\nk: " + strings.Repeat("{a: ", 100000) + "\n",
	} {
		f, err := xarfFields([]byte(in))
		if err != nil || f["Report-Type"] != "portscan" {
			t.Errorf("fields %v, err %v", len(f), err)
		}
	}
}

func FuzzXARFFields(f *testing.F) {
	f.Add([]byte("Reported-From: a@b.example\nReport-Type: login-attack\nPort: 22\nDate: 2014-02-03T02:13:35+01:00\n"))
	f.Add([]byte("Report-Type: &a x\nb: *a\nc: !!str 5\nd: [1, {e: f}]\n"))
	f.Add([]byte("User-Agent: a: b\nReport-Type: portscan\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := xarfFields(data)
		if err == nil && len(fields) == 0 {
			t.Fatal("no error and no fields")
		}
		// A key or value is text of the part: it never grows, except a
		// YAML timestamp or number written out again ("1e5" → "100000",
		// "2001-1-1" → "2001-01-01T00:00:00Z").
		for k, v := range fields {
			if len(k) > len(data)+32 || len(v) > len(data)+32 {
				t.Fatalf("field %q (%d bytes) = %q (%d bytes) from %d bytes of input", k, len(k), v, len(v), len(data))
			}
		}
	})
}

// TestParseXARFMailJSONPart reads an X-XARF mail whose report is a JSON
// attachment rather than key-value fields.
func TestParseXARFMailJSONPart(t *testing.T) {
	js, err := os.ReadFile("testdata/xarf/xarf4-port-scan.json")
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: NSM <alerts@netsec-mon.example>\r\nSubject: X-ARF report [NSM-7731]\r\nDate: Sat, 11 Jan 2025 11:30:00 +0000\r\nX-XARF: PLAIN\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"j\"\r\n\r\n--j\r\nContent-Type: text/plain\r\n\r\nPort scan from your network, report attached.\r\n" +
		"--j\r\nContent-Type: application/json; name=\"report.json\"\r\nContent-Disposition: attachment; filename=\"report.json\"\r\n\r\n" + string(js) + "\r\n--j--\r\n"
	want, err := ParseXARF(context.Background(), bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	for _, parse := range []func(context.Context, io.Reader, ...Option) ([]Report, error){ParseXARF, Parse} {
		got, err := parse(context.Background(), strings.NewReader(msg))
		if err != nil || len(got) != 1 {
			t.Fatalf("%d reports, err %v", len(got), err)
		}
		r := got[0]
		if r.Kind != KindPortScan || r.CaseID != want[0].CaseID || r.EvidenceCount != want[0].EvidenceCount ||
			r.Subject != "X-ARF report [NSM-7731]" || !r.Received.Equal(time.Date(2025, 1, 11, 11, 30, 0, 0, time.UTC)) {
			t.Errorf("got %+v", r)
		}
	}
}

// TestXARFFieldsInvalidUTF8: a part that is not UTF-8 keeps its bytes (the
// YAML parser made each invalid byte a three-byte U+FFFD, so a key grew 3×);
// a line whose key is no header name ends the fields.
func TestXARFFieldsInvalidUTF8(t *testing.T) {
	key := strings.Repeat("\xff", 200)
	f, err := xarfFields([]byte("Report-Type: portscan\nComment: caf\xe9\n" + key + ": v\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Report-Type": "portscan", "Comment": "caf\xe9"}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
