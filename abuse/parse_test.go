package abuse

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/mailmsg"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func readSample(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDetectsFormat(t *testing.T) {
	for p, want := range map[string]Source{
		"trust-and-safety/initial-notice.eml":     SourceTrustAndSafety,
		"mbox/notices.mbox":                       SourceTrustAndSafety,
		"plain/pasted-followup.txt":               SourceTrustAndSafety,
		"plain/instance-list.txt":                 SourcePlain,
		"plain/column-log.txt":                    SourceFirewallLog,
		"plain/sshd-auth.log":                     SourceFirewallLog,
		"mail/operator-note.eml":                  SourcePlain,
		"trust-and-safety/followup-html-only.eml": SourceTrustAndSafety,
	} {
		reps, err := Parse(context.Background(), bytes.NewReader(readSample(t, p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if reps[0].Source != want {
			t.Errorf("%s: source %q, want %q", p, reps[0].Source, want)
		}
	}
}

func TestEachParserAlone(t *testing.T) {
	ctx := context.Background()
	notice := readSample(t, "trust-and-safety/followup-no-response.eml")
	if reps, err := ParseMail(ctx, bytes.NewReader(notice)); err != nil || len(reps) != 1 || reps[0].EvidenceCount != 5 {
		t.Errorf("ParseMail: %v %+v", err, reps)
	}
	if reps, err := ParseMbox(ctx, bytes.NewReader(readSample(t, "mbox/notices.mbox"))); err != nil || len(reps) != 3 {
		t.Errorf("ParseMbox: %v, %d reports", err, len(reps))
	}
	if reps, err := ParseTrustAndSafety(ctx, bytes.NewReader(readSample(t, "plain/pasted-followup.txt"))); err != nil || reps[0].Activity != "Port Scanning" {
		t.Errorf("ParseTrustAndSafety: %v %+v", err, reps)
	}
	if reps, err := ParsePlain(ctx, bytes.NewReader(readSample(t, "plain/pasted-followup.txt"))); err != nil || reps[0].Source != SourcePlain || reps[0].CaseID != "17001234567" {
		t.Errorf("ParsePlain: %v %+v", err, reps)
	}
	if reps, err := ParseLog(ctx, bytes.NewReader(readSample(t, "plain/column-log.txt"))); err != nil || reps[0].EvidenceCount != 3 {
		t.Errorf("ParseLog: %v %+v", err, reps)
	}
	// Each parser rejects what is not its format with ErrUnknownFormat.
	junk := "nothing to see here\n"
	for name, fn := range map[string]func(context.Context, io.Reader, ...Option) ([]Report, error){
		"ParseMbox": ParseMbox, "ParseTrustAndSafety": ParseTrustAndSafety, "ParsePlain": ParsePlain, "ParseLog": ParseLog, "ParseMail": ParseMail,
	} {
		_, err := fn(ctx, strings.NewReader(junk))
		var pe *ParseError
		if name == "ParseMail" {
			// "nothing to see here" is a mail with a bad header for net/mail.
			if !errors.As(err, &pe) || pe.Format != "mail" {
				t.Errorf("%s: err = %v, want a mail *ParseError", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnknownFormat) || !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want *ParseError wrapping ErrUnknownFormat", name, err)
		}
	}
}

func TestParseUnknownFormat(t *testing.T) {
	for name, in := range map[string]string{
		"empty":       "",
		"blank":       "\n\n  \n",
		"binary junk": "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00\x00\x00\xff\xfe",
		"prose":       "Dear team, thanks for lunch.\n",
	} {
		_, err := Parse(context.Background(), strings.NewReader(in))
		if !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("%s: err = %v, want ErrUnknownFormat", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "mbox, mail, trust-and-safety, firewall-log, plain") {
			t.Errorf("%s: error does not name the formats tried: %v", name, err)
		}
	}
}

func TestParseEvidenceFuncAndReportFunc(t *testing.T) {
	in := readSample(t, "mbox/notices.mbox")
	var events []string
	reps, err := Parse(context.Background(), bytes.NewReader(in),
		WithEvidenceFunc(func(e Evidence) error {
			events = append(events, "evidence "+e.DstIP.String())
			return nil
		}),
		WithReportFunc(func(r Report) error {
			if len(r.Evidence) != 0 {
				t.Errorf("report keeps %d evidence records with WithEvidenceFunc", len(r.Evidence))
			}
			events = append(events, fmt.Sprintf("report %s %d", r.Received.Format("01-02"), r.EvidenceCount))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 0 {
		t.Errorf("Parse returned %d reports with WithReportFunc", len(reps))
	}
	want := "evidence 192.0.2.15,evidence 192.0.2.16,evidence 192.0.2.40,report 04-27 3," +
		"evidence 192.0.2.15,evidence 192.0.2.16,evidence 192.0.2.40,evidence 198.51.100.7,evidence 198.51.100.9,report 04-28 5," +
		"report 04-29 0"
	if got := strings.Join(events, ","); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}

	stop := errors.New("stop here")
	_, err = Parse(context.Background(), bytes.NewReader(in), WithEvidenceFunc(func(Evidence) error { return stop }))
	if !errors.Is(err, stop) {
		t.Errorf("evidence func error not returned: %v", err)
	}
	_, err = Parse(context.Background(), bytes.NewReader(in), WithReportFunc(func(Report) error { return stop }))
	if !errors.Is(err, stop) {
		t.Errorf("report func error not returned: %v", err)
	}
}

func TestParseMaxEvidence(t *testing.T) {
	in := readSample(t, "trust-and-safety/followup-no-response.eml")
	for max, want := range map[int]int{2: 2, 0: 0, -1: 5, 100: 5} {
		reps, err := Parse(context.Background(), bytes.NewReader(in), WithMaxEvidence(max))
		if err != nil {
			t.Fatal(err)
		}
		if len(reps[0].Evidence) != want || reps[0].EvidenceCount != 5 {
			t.Errorf("max %d: kept %d (count %d), want %d (count 5)", max, len(reps[0].Evidence), reps[0].EvidenceCount, want)
		}
	}
}

// lineGen yields prefix, then n bytes of fill without holding them.
type lineGen struct {
	prefix []byte
	n      int64
	fill   byte
}

func (g *lineGen) Read(p []byte) (int, error) {
	if len(g.prefix) > 0 {
		n := copy(p, g.prefix)
		g.prefix = g.prefix[n:]
		return n, nil
	}
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	for i := range p {
		p[i] = g.fill
	}
	g.n -= int64(len(p))
	return len(p), nil
}

func TestParseLimits(t *testing.T) {
	notice := string(readSample(t, "trust-and-safety/initial-notice.eml"))
	var many strings.Builder
	many.WriteString("From: ec2-abuse@amazon.com\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&many, "--b\n\n%d\n", i)
	}
	many.WriteString("--b--\n")
	for _, tc := range []struct {
		name   string
		r      io.Reader
		opts   []Option
		format string
		line   int
	}{
		{"1 GB line in a mail body", &lineGen{prefix: []byte(notice), n: 1 << 30, fill: 'x'}, nil, "trust-and-safety", 41},
		{"1 GB line in a pasted notice", &lineGen{prefix: []byte("AWS Trust & Safety\nAWS ID: 123456789012\n"), n: 1 << 30, fill: 'x'}, nil, "trust-and-safety", 3},
		{"1 GB line in a log", &lineGen{prefix: []byte(strings.Repeat("1.2.3.4 5.6.7.8 22\n", 10)), n: 1 << 30, fill: '9'}, nil, "firewall-log", 11},
		{"1 GB line in an mbox", &lineGen{prefix: []byte("From x\n" + notice), n: 1 << 30, fill: 'x'}, nil, "mbox", 42},
		{"100k-part multipart", strings.NewReader(many.String()), nil, "mail", 0},
		{"max bytes", &lineGen{prefix: []byte("AWS Trust & Safety\n"), n: 1 << 30, fill: '\n'}, []Option{WithLimits(Limits{MaxBytes: 1 << 20})}, "input", 0},
		{"max reports", strings.NewReader(strings.Repeat("From x\n"+notice+"\n", 5)), []Option{WithLimits(Limits{MaxReports: 3})}, "mbox", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(context.Background(), tc.r, tc.opts...)
			var pe *ParseError
			if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError wrapping ErrTooLarge", err)
			}
			if pe.Format != tc.format || (tc.line != 0 && pe.Line != tc.line) {
				t.Errorf("err = %v: format %q line %d, want %q line %d", err, pe.Format, pe.Line, tc.format, tc.line)
			}
		})
	}
}

func TestParseDegradedMail(t *testing.T) {
	notice := string(readSample(t, "trust-and-safety/initial-notice.eml"))
	for _, tc := range []struct {
		name, mail string
		evidence   int
	}{
		{"truncated MIME", strings.Replace(notice, "Content-Type: text/plain; charset=UTF-8", "Content-Type: multipart/mixed; boundary=zz", 1)[:0] +
			"From: ec2-abuse@amazon.com\nSubject: Your EC2 Abuse Report [17001234567]\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\n" +
			notice[strings.Index(notice, "Hello,"):strings.Index(notice, "13.125.40.201  192.0.2.40")], 2},
		{"wrong charset", strings.Replace(notice, "charset=UTF-8", "charset=x-no-such-charset", 1), 3},
		{"lying charset", strings.Replace(notice, "charset=UTF-8", "charset=utf-16", 1), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reps, err := Parse(context.Background(), strings.NewReader(tc.mail))
			if tc.name == "lying charset" {
				// UTF-16 decoding of ASCII text yields junk: the notice is
				// no longer readable, which must be an error, not a panic.
				if err == nil && reps[0].CaseID != "17001234567" {
					t.Errorf("case %q", reps[0].CaseID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := reps[0]; r.CaseID != "17001234567" || r.EvidenceCount != tc.evidence || r.Source != SourceTrustAndSafety {
				t.Errorf("case %q evidence %d source %q", r.CaseID, r.EvidenceCount, r.Source)
			}
		})
	}
}

func TestParseContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log := &lineGen{n: 64 << 20, fill: '\n', prefix: []byte(strings.Repeat("1.2.3.4 5.6.7.8 22\n", 100))}
	_, err := Parse(ctx, log)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestParseMailStreams checks a notice's forwarded log is parsed while the
// mail is still arriving: the writer waits for the first record before it
// writes the rest, which would deadlock a parser that read the whole mail
// first.
func TestParseMailStreams(t *testing.T) {
	notice := string(readSample(t, "trust-and-safety/initial-notice.eml"))
	head := notice[:strings.Index(notice, "13.125.40.201  192.0.2.15")]
	for _, tc := range []struct{ name, headers string }{
		{"8bit", ""},
		{"quoted-printable", "Content-Transfer-Encoding: quoted-printable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := strings.Replace(head, "MIME-Version: 1.0\n", "MIME-Version: 1.0\n"+tc.headers, 1)
			const lines = 50000
			n, got, err := parseWhileWriting(h, "", lines)
			if err != nil {
				t.Fatal(err)
			}
			if n != lines || got.EvidenceCount != lines || got.CaseID != "17001234567" || len(got.Evidence) != 0 {
				t.Errorf("records %d, report count %d case %q kept %d", n, got.EvidenceCount, got.CaseID, len(got.Evidence))
			}
		})
	}
}

func TestParseMboxSkipsBrokenMessage(t *testing.T) {
	notice := string(readSample(t, "trust-and-safety/initial-notice.eml"))
	in := "From a\n" + notice + "\nFrom b\nthis is no header at all\n\nbody\n\nFrom c\n" + notice
	reps, err := ParseMbox(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2 (the broken message skipped)", len(reps))
	}
	// The skipped message is said on the report before it, not on the one
	// after; a message that holds no report is said too.
	want := []Warning{{Code: WarnUnreadablePart, Part: "mbox message 2 (line 43)", Message: "message skipped, its header is unreadable: unreadable mail header: mailmsg: header: malformed header line: this is no header at all"}}
	if d := cmp.Diff(want, reps[0].Warnings); d != "" {
		t.Errorf("first report's warnings (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]Warning{}, reps[1].Warnings); d != "" {
		t.Errorf("second report's warnings (-want +got):\n%s", d)
	}
	// Skipped before any report (an operator's note, a broken header):
	// said on the first report after them.
	in = "From x\nFrom: ops@example.com\nSubject: hi\nDate: Tue, 17 Nov 2026 09:12:00 +0000\n\nplease look at the mails below\n\nFrom b\nno header\n\nbody\n\nFrom c\n" + notice
	reps, err = ParseMbox(context.Background(), strings.NewReader(in))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	var codes []WarningCode
	for _, w := range reps[0].Warnings {
		codes = append(codes, w.Code)
	}
	if d := cmp.Diff([]WarningCode{WarnSkippedMessage, WarnUnreadablePart}, codes); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	// Streaming hands over the same reports.
	var streamed []Report
	if _, err := ParseMbox(context.Background(), strings.NewReader(in), WithReportFunc(func(r Report) error { streamed = append(streamed, r); return nil })); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(reps, streamed, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("streamed (-batch +stream):\n%s", d)
	}
	_, err = ParseMail(context.Background(), strings.NewReader("this is no header at all\n\nbody\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Format != "mail" || !strings.Contains(err.Error(), "unreadable mail header") {
		t.Errorf("err = %v", err)
	}
}

// attachedLogMail is a Trust & Safety notice (or, with from, another mail)
// whose log of n lines is a text attachment in the given transfer
// encoding, followed by an inline text part and a forwarded message.
func attachedLogMail(from, cte string, n int) string {
	var log strings.Builder
	for i := range n {
		fmt.Fprintf(&log, "13.125.40.201  192.0.%d.%d  %d  Thu Apr 27 14:46:47 2023\n", i/250%250, i%250, 1+i%1000)
	}
	body := log.String()
	switch cte {
	case "base64":
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		body = b.String() + enc + "\n"
	case "quoted-printable":
		body = strings.ReplaceAll(body, "  ", " =20")
	}
	hdr := ""
	if cte != "" {
		hdr = "Content-Transfer-Encoding: " + cte + "\n"
	}
	return "From: " + from + "\nTo: admin@example.com\nSubject: Your EC2 Abuse Report [17007778889]\nDate: Sat, 06 May 2023 04:00:00 +0000\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"mix\"\n\n" +
		"--mix\nContent-Type: text/plain\n\nHello,\n\nEC2 Instance Id: i-0d0d0d0d0d0d0d0d0\n\nactivity which resembles Port Scanning. The log is attached.\n" +
		"--mix\nContent-Type: text/plain; name=\"scan.log\"\nContent-Disposition: attachment; filename=\"scan.log\"\n" + hdr + "\n" + body +
		"--mix\nContent-Type: text/plain\n\nRequired Actions: investigate root cause\n" +
		"--mix\nContent-Type: message/rfc822\n\nFrom: honeypot@example.net\nSubject: scan\n\n13.125.40.201  192.0.2.99  23  Thu Apr 27 14:50:00 2023\n" +
		"--mix--\n"
}

// TestParseMailAttachmentStreamsLikeWhole: a mail whose large text
// attachment streams gives the reports the mail read whole gives.
func TestParseMailAttachmentStreamsLikeWhole(t *testing.T) {
	for _, tc := range []struct{ name, from, cte string }{
		{"notice 8bit", `"AWS Trust & Safety" <ec2-abuse@amazon.com>`, ""},
		{"notice quoted-printable", `"AWS Trust & Safety" <ec2-abuse@amazon.com>`, "quoted-printable"},
		{"notice base64", `"AWS Trust & Safety" <ec2-abuse@amazon.com>`, "base64"},
		{"plain mail base64", "noc@isp.example", "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mail := attachedLogMail(tc.from, tc.cte, 5000) // ~270 KB: past the 64 KiB preview
			o := buildOptions(nil)
			m, err := mailmsg.Read(strings.NewReader(mail), mailLimits(&o))
			if err != nil {
				t.Fatal(err)
			}
			want, err := parseMailMessage(context.Background(), m, &o)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				fillReport(&want[i])
			}
			got, err := ParseMail(context.Background(), strings.NewReader(mail))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("streamed differs from whole (-whole +streamed):\n%s", d)
			}
			if strings.Contains(tc.from, "ec2-abuse") && (len(got) != 1 || got[0].EvidenceCount != 5001 || len(got[0].RequiredActions) != 1) {
				t.Errorf("%d reports; %+v", len(got), got)
			}
		})
	}
}

// TestParseMailAttachmentStreams: the log attached to a notice is read as
// it arrives: the first record reaches the caller before the rest of the
// mail is written (a parser that read the mail whole would wait forever).
func TestParseMailAttachmentStreams(t *testing.T) {
	mail := attachedLogMail(`"AWS Trust & Safety" <ec2-abuse@amazon.com>`, "base64", 1)
	i := strings.Index(mail, "--mix\nContent-Type: text/plain\n\nRequired")
	head, tail := mail[:i], mail[i:]
	head = strings.Replace(head, "Content-Transfer-Encoding: base64\n", "", 1)
	head = head[:strings.Index(head, "filename=\"scan.log\"\n")+len("filename=\"scan.log\"\n")+1]
	const lines = 50000
	n, got, err := parseWhileWriting(head, tail, lines)
	if err != nil {
		t.Fatal(err)
	}
	// The forwarded message after the attachment adds one record.
	if n != lines+1 || got.EvidenceCount != lines+1 || got.CaseID != "17007778889" || got.Source != SourceTrustAndSafety || len(got.RequiredActions) != 1 {
		t.Errorf("records %d, report %d records, case %q source %q required %v", n, got.EvidenceCount, got.CaseID, got.Source, got.RequiredActions)
	}
}

// parseWhileWriting parses head, one evidence line, filler past what the
// parsers read ahead, then (only once the first record has reached the
// caller) lines-1 more evidence lines and tail. A parser that read its
// input whole before handing out records would wait 20 s and then see the
// input end early. It returns the records streamed and the report.
func parseWhileWriting(head, tail string, lines int) (int, Report, error) {
	pr, pw := io.Pipe()
	first := make(chan struct{})
	go func() {
		defer pw.Close()
		io.WriteString(pw, head+"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n")
		io.WriteString(pw, strings.Repeat("filler line that is not evidence\n", 3000)) // past the sniffing and the preview
		select {
		case <-first:
		case <-time.After(20 * time.Second):
			return // the parser never got to the first record
		}
		for i := 1; i < lines; i++ {
			fmt.Fprintf(pw, "13.125.40.201  192.0.2.%d  %d  Thu Apr 27 14:46:47 2023\n", i%250, 1+i%1000)
		}
		io.WriteString(pw, tail)
	}()
	n := 0
	var got Report
	_, err := Parse(context.Background(), pr,
		WithEvidenceFunc(func(Evidence) error {
			if n++; n == 1 {
				close(first)
			}
			return nil
		}),
		WithReportFunc(func(r Report) error { got = r; return nil }))
	return n, got, err
}

// TestParseMboxErrorHandsOverHeld: with WithReportFunc, a report held back
// (to carry the warnings of messages skipped after it) is still handed
// over when a later message stops parsing with an error.
func TestParseMboxErrorHandsOverHeld(t *testing.T) {
	notice := string(readSample(t, "trust-and-safety/initial-notice.eml"))
	in := "From a\n" + notice + "\nFrom b\nFrom: x@example.com\nSubject: big\n\n" + strings.Repeat("x", 2000) + "\n"
	var got []string
	_, err := ParseMbox(context.Background(), strings.NewReader(in), WithLimits(Limits{MaxLineBytes: 1000}),
		WithReportFunc(func(r Report) error { got = append(got, r.CaseID); return nil }))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if d := cmp.Diff([]string{"17001234567"}, got); d != "" {
		t.Errorf("reports handed over (-want +got):\n%s", d)
	}
}
