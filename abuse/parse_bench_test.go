package abuse

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// forwardedLog is a column log of n lines, as in the seed notice.
func forwardedLog(n int) []byte {
	var b bytes.Buffer
	b.WriteString("---- log of TCP port scans (time zone is UTC) ----\n(attacker's IP) (IP being scanned) (TCP port being scanned)\n>>>\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "13.125.40.201  10.%d.%d.%d  %d  Thu Apr 27 14:%02d:%02d 2023\n", i>>16&255, i>>8&255, i&255, 1+i%1024, i/60%60, i%60)
	}
	return b.Bytes()
}

func benchParse(b *testing.B, in []byte) {
	b.Helper()
	var out []byte
	n := 0
	opts := []Option{
		WithEvidenceFunc(func(e Evidence) error {
			out = e.AppendJSON(out[:0])
			n++
			return nil
		}),
		WithReportFunc(func(Report) error { return nil }),
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(context.Background(), bytes.NewReader(in), opts...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/float64(b.N), "records/op")
}

// BenchmarkParseForwardedLog: a bare forwarded log of 100,000 lines.
func BenchmarkParseForwardedLog(b *testing.B) {
	benchParse(b, forwardedLog(100000))
}

// BenchmarkParseNoticeWithLog: a Trust & Safety mail forwarding the same
// log (the notice's text read line by line, the log streamed).
func BenchmarkParseNoticeWithLog(b *testing.B) {
	notice := string(readSample(b, "trust-and-safety/initial-notice.eml"))
	head := notice[:strings.Index(notice, "---Beginning")]
	in := append([]byte(head+"---Beginning of forwarded report(s)---\n\n"), forwardedLog(100000)...)
	benchParse(b, in)
}

// BenchmarkParseNoticeLogAttachment: a Trust & Safety notice with the
// same log as a base64 text attachment (streamed, not read whole).
func BenchmarkParseNoticeLogAttachment(b *testing.B) {
	benchParse(b, []byte(attachedLogMail(`"AWS Trust & Safety" <ec2-abuse@amazon.com>`, "base64", 100000)))
}
