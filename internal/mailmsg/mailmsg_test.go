package mailmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestReadSinglePart(t *testing.T) {
	for _, tc := range []struct {
		name, msg, want string
		notes           int
	}{
		{"plain", "Subject: x\n\nhello\nworld\n", "hello\nworld\n", 0},
		{"crlf", crlf("Subject: x\n\nhello\n"), "hello\r\n", 0},
		{"no content-type is us-ascii text", "From: a@b\n\nplain\n", "plain\n", 0},
		{"quoted-printable", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nAbuse=20Time: 27 Apr=\n 2023 caf=C3=A9\n", "Abuse Time: 27 Apr 2023 café\n", 0},
		{"base64 with junk spaces", "Content-Type: text/plain\nContent-Transfer-Encoding: Base64\n\nQWJ1c2Ug\n VGltZQ==\n", "Abuse Time", 0},
		{"base64 unpadded", "Content-Transfer-Encoding: base64\n\nYWJj\nZA\n", "abcd", 0},
		{"iso-8859-1", "Content-Type: text/plain; charset=ISO-8859-1\n\ncaf\xe9 \xa3\n", "café £\n", 0},
		{"windows-1252", "Content-Type: text/plain; charset=\"windows-1252\"\n\n\x93quoted\x94 \x80\n", "\u201cquoted\u201d €\n", 0},
		{"unknown charset but utf-8", "Content-Type: text/plain; charset=x-klingon\n\ncafé\n", "café\n", 1},
		{"unknown charset latin bytes", "Content-Type: text/plain; charset=x-klingon\n\ncaf\xe9\n", "café\n", 1},
		{"utf-8 declared but invalid", "Content-Type: text/plain; charset=utf-8\n\nab\xffcd\n", "ab\uFFFDcd\n", 1},
		{"shift_jis via htmlindex", "Content-Type: text/plain; charset=Shift_JIS\n\n\x82\xa0\n", "あ\n", 0},
		{"bad content-type", "Content-Type: ;;;\n\nbody\n", "body\n", 1},
		{"html only", "Content-Type: text/html\n\n<html><head><title>T</title><style>p{}</style></head><body><p>AWS ID: 1 <b>Region</b>: r</p>line<br>two<table><tr><td>ALL</td><td>0.0.0.0/0</td></tr></table><script>x()</script><pre>a  b\n c</pre></body></html>", "AWS ID: 1 Region: r\n\nline\ntwo\nALL 0.0.0.0/0\na  b\n c\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(strings.NewReader(tc.msg), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, m.Text()); diff != "" {
				t.Errorf("Text() -want +got:\n%s", diff)
			}
			if len(m.Notes) != tc.notes {
				t.Errorf("notes = %q, want %d", m.Notes, tc.notes)
			}
		})
	}
}

const multi = `From: "AWS Trust & Safety" <EC2-Abuse@amazon.com>
Subject: =?UTF-8?Q?Your_EC2_Abuse_Report_=E2=80=93_case?= [17001234567]
Date: Thu, 27 Apr 2023 16:20:31 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/html; charset=utf-8

<p>html version</p>
--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

plain version caf=E9
--alt--
--outer
Content-Type: text/plain; name="log.txt"
Content-Disposition: attachment; filename="=?utf-8?q?scan=5Flog.txt?="

1.2.3.4 5.6.7.8 22
--outer
Content-Type: message/rfc822

From: someone@example.net
Subject: inner

inner body
--outer--
epilogue
`

func TestReadMultipart(t *testing.T) {
	m, err := Read(strings.NewReader(crlf(multi)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Subject(), "Your EC2 Abuse Report – case [17001234567]"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := m.From(), "ec2-abuse@amazon.com"; got != want {
		t.Errorf("From = %q, want %q", got, want)
	}
	if got, want := m.Date(), time.Date(2023, 4, 27, 16, 20, 31, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Date = %v, want %v", got, want)
	}
	if diff := cmp.Diff("plain version café", m.Text()); diff != "" {
		t.Errorf("Text -want +got\n%s", diff)
	}
	type sum struct {
		MediaType, Filename, Disposition string
		Alternative, Depth               int
		Body                             string
	}
	var got []sum
	for _, p := range m.Parts {
		got = append(got, sum{p.MediaType, p.Filename, p.Disposition, p.Alternative, p.Depth, string(p.Body)})
	}
	want := []sum{
		{"text/html", "", "", 1, 2, "<p>html version</p>"},
		{"text/plain", "", "", 1, 2, "plain version café"},
		{"text/plain", "scan_log.txt", "attachment", 0, 1, "1.2.3.4 5.6.7.8 22"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parts -want +got\n%s", diff)
	}
	if len(m.Forwarded) != 1 {
		t.Fatalf("forwarded = %d, want 1", len(m.Forwarded))
	}
	if f := m.Forwarded[0]; f.Subject() != "inner" || f.Text() != "inner body" {
		t.Errorf("forwarded = %q %q", f.Subject(), f.Text())
	}
}

func TestHTMLOnlyAlternativeFallsBackToHTML(t *testing.T) {
	msg := "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<div>one</div><div>two</div>\n--b--\n"
	m, err := Read(strings.NewReader(msg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Text(); got != "one\ntwo\n" {
		t.Errorf("Text = %q", got)
	}
}

// genReader yields n bytes produced by fill, without holding them.
type genReader struct {
	n    int64
	fill byte
}

func (g *genReader) Read(p []byte) (int, error) {
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

func TestLimits(t *testing.T) {
	var many strings.Builder
	many.WriteString("Content-Type: multipart/mixed; boundary=x\n\n")
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&many, "--x\n\npart %d\n", i)
	}
	many.WriteString("--x--\n")

	deep := "Content-Type: message/rfc822\n\n"
	nested := strings.Repeat(deep, 40) + "\nbody\n"

	for _, tc := range []struct {
		name  string
		r     io.Reader
		l     Limits
		limit string
		line  int
	}{
		{"1 GB line in the body", io.MultiReader(strings.NewReader("Subject: x\n\n"), &genReader{n: 1 << 30, fill: 'a'}), Limits{}, "line", 3},
		{"1 GB header line", io.MultiReader(strings.NewReader("Subject: "), &genReader{n: 1 << 30, fill: 'a'}), Limits{}, "line", 1},
		{"100k parts", strings.NewReader(many.String()), Limits{}, "parts", 0},
		{"bytes", io.MultiReader(strings.NewReader("Subject: x\n\n"), &genReader{n: 1 << 30, fill: '\n'}), Limits{MaxBytes: 1 << 20}, "bytes", 0},
		{"depth", strings.NewReader(nested), Limits{}, "depth", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.r, tc.l)
			var le *LimitError
			if !errors.As(err, &le) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want *LimitError", err)
			}
			if le.Limit != tc.limit || (tc.line != 0 && le.Line != tc.line) {
				t.Errorf("limit %q line %d, want %q line %d", le.Limit, le.Line, tc.limit, tc.line)
			}
		})
	}
}

func TestDegradedInput(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		wantText  string
		wantErr   bool
	}{
		{"truncated multipart keeps read parts", "Content-Type: multipart/mixed; boundary=x\n\n--x\n\nfirst\n--x\n\nsecond part cut", "first\nsecond part cut", false},
		{"boundary never seen", "Content-Type: multipart/mixed; boundary=x\n\nno parts at all\n", "", false},
		{"multipart without boundary", "Content-Type: multipart/mixed\n\ntext\n", "text\n", false},
		{"broken base64", "Content-Transfer-Encoding: base64\n\n!!!!\n", "!!!!\n", false},
		{"broken quoted-printable", "Content-Transfer-Encoding: quoted-printable\n\nok =ZZ bad\n", "ok =ZZ bad\n", false},
		{"truncated header", "Subject: x\nFrom", "", true},
		{"binary junk", "\x00\x01\x02\xff\xfe\x89PNG\r\n\x1a\n", "", true},
		{"empty", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(strings.NewReader(tc.msg), Limits{})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; text %q", m.Text())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Text(); got != tc.wantText {
				t.Errorf("Text = %q, want %q (notes %q)", got, tc.wantText, m.Notes)
			}
		})
	}
}

func TestMbox(t *testing.T) {
	in := "From a@b Thu Apr 27 16:20:31 2023\nSubject: one\n\n>From the start\n>>From twice\nbody\n\n" +
		"From c@d Fri Apr 28 10:00:00 2023\r\nSubject: two\r\n\r\nsecond\r\n" +
		"From e@f Sat Apr 29 10:00:00 2023\n"
	mr := NewMboxReader(strings.NewReader(in), 0)
	type msg struct {
		Line      int
		Separator string
		Body      string
	}
	var got []msg
	for {
		r, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msg{mr.Line(), mr.Separator(), string(b)})
	}
	want := []msg{
		{1, "From a@b Thu Apr 27 16:20:31 2023", "Subject: one\n\nFrom the start\n>From twice\nbody\n\n"},
		{8, "From c@d Fri Apr 28 10:00:00 2023", "Subject: two\r\n\r\nsecond\r\n"},
		{12, "From e@f Sat Apr 29 10:00:00 2023", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}

func TestMboxSkipsUnreadAndLimits(t *testing.T) {
	in := "\nFrom a\nSubject: 1\n\nx\nFrom b\nSubject: 2\n\ny\n"
	mr := NewMboxReader(strings.NewReader(in), 0)
	n := 0
	for {
		_, err := mr.Next() // never read: Next must skip the rest
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d messages, want 2", n)
	}

	if _, err := NewMboxReader(strings.NewReader("Subject: not an mbox\n"), 0).Next(); !errors.Is(err, ErrNotMbox) {
		t.Errorf("err = %v, want ErrNotMbox", err)
	}
	long := NewMboxReader(io.MultiReader(strings.NewReader("From x\n"), &genReader{n: 1 << 30, fill: 'z'}), 1<<20)
	r, err := long.Next()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	var le *LimitError
	if !errors.As(err, &le) || le.Line != 1 {
		t.Errorf("err = %v, want line limit at line 1 of the message", err)
	}
}

func TestMboxMessagesParse(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "From x Thu Apr 27 16:20:31 2023\nSubject: n%d\n\nbody %d\n\n", i, i)
	}
	mr := NewMboxReader(&b, 0)
	for i := 0; ; i++ {
		r, err := mr.Next()
		if err == io.EOF {
			if i != 3 {
				t.Errorf("%d messages", i)
			}
			break
		}
		m, err := Read(r, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Subject(); got != fmt.Sprintf("n%d", i) {
			t.Errorf("subject %q", got)
		}
	}
}

func TestReadStream(t *testing.T) {
	long := strings.Repeat("1.2.3.4 5.6.7.8 22\n", 10000)
	for _, tc := range []struct {
		name, msg string
		want      string
		stream    bool
	}{
		{"plain", "Subject: x\n\n" + long, long, true},
		{"quoted-printable latin-1", "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 =\nlong line\n" + long, "café long line\n" + long, true},
		{"base64 with junk and no padding", "Content-Transfer-Encoding: base64\n\nYWJj\n ZGVm\nZw\n", "abcdefg", true},
		{"base64 junk after padding", "Content-Transfer-Encoding: base64\n\nYWI=\nZZZZ\n", "ab", true},
		// Longer than head: the decoder asks for less than a group at the
		// edge of the preview (the filter once failed there).
		{"base64 longer than head", "Content-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString([]byte(long)) + "\n", long, true},
		{"multipart is read whole", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b--\n", "first", false},
		{"html is read whole", "Content-Type: text/html\n\n<p>x</p>", "x\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, r, err := ReadStream(strings.NewReader(tc.msg), Limits{}, 1024)
			if err != nil {
				t.Fatal(err)
			}
			if (r != nil) != tc.stream {
				t.Fatalf("stream = %v, want %v", r != nil, tc.stream)
			}
			if !tc.stream {
				if got := m.Text(); got != tc.want {
					t.Errorf("Text = %q, want %q", got, tc.want)
				}
				return
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("stream -want +got\n%s", diff)
			}
			p := m.Parts[0]
			if p.Truncated != (len(tc.want) > 1024) || !strings.HasPrefix(tc.want, string(p.Body)) {
				t.Errorf("preview truncated=%v %q", p.Truncated, p.Body)
			}
		})
	}
	_, r, err := ReadStream(io.MultiReader(strings.NewReader("Subject: x\n\nshort\n"), &genReader{n: 1 << 30, fill: 'a'}), Limits{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "line" || le.Line != 4 {
		t.Errorf("err = %v, want line limit at line 4", err)
	}
}

// TestReadStreamParts: a large text attachment of a multipart/mixed
// message streams, and once it is read and Rest called, the message is the
// one Read gives (the streamed part's Body aside, which holds its head).
func TestReadStreamParts(t *testing.T) {
	log := strings.Repeat("13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n", 2000)
	qp := strings.ReplaceAll(log, "  ", " =20") // quoted-printable of the same text
	b64 := base64.StdEncoding.EncodeToString([]byte(log))
	var b64Lines strings.Builder
	for len(b64) > 76 {
		b64Lines.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	b64Lines.WriteString(b64 + "\r\n")
	msg := func(attHeaders, attBody string) string {
		return "From: a@b.example\nSubject: notice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n" +
			"--b1\nContent-Type: text/plain; charset=utf-8\n\nHello,\nsee the attached log.\n" +
			"--b1\nContent-Type: text/plain\nContent-Disposition: attachment; filename=log.txt\n" + attHeaders + "\n" + attBody +
			"\n--b1\nContent-Type: text/plain\n\nAfter the log.\n" +
			"--b1\nContent-Type: message/rfc822\n\nFrom: c@d.example\nSubject: fwd\n\nforwarded\n" +
			"--b1--\n"
	}
	for _, tc := range []struct {
		name, msg string
		stream    bool
	}{
		{"8bit", msg("", log), true},
		{"quoted-printable", msg("Content-Transfer-Encoding: quoted-printable\n", qp), true},
		{"base64", msg("Content-Transfer-Encoding: base64\n", b64Lines.String()), true},
		{"small attachment read whole", msg("", "1.2.3.4 5.6.7.8 22\n"), false},
		{"not an attachment", strings.Replace(msg("", log), "Content-Disposition: attachment; filename=log.txt\n", "", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Read(strings.NewReader(tc.msg), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := ReadStreamParts(strings.NewReader(tc.msg), Limits{}, 4096)
			if err != nil {
				t.Fatal(err)
			}
			if (s.Body != nil) != tc.stream || s.Attachment != tc.stream {
				t.Fatalf("streamed = %v (attachment %v), want %v", s.Body != nil, s.Attachment, tc.stream)
			}
			if tc.stream {
				if n := len(s.Message.Parts); n != 2 || s.Part != s.Message.Parts[1] || !s.Part.Truncated || len(s.Part.Body) != 4096 {
					t.Fatalf("before Rest: %d parts, streamed part truncated=%v with %d bytes", n, s.Part.Truncated, len(s.Part.Body))
				}
				got, err := io.ReadAll(s.Body)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.ReplaceAll(string(got), "\r\n", "\n"); strings.TrimRight(got, "\n") != strings.TrimRight(log, "\n") {
					t.Fatalf("streamed %d bytes, want the %d of the log", len(got), len(log))
				}
				s.Part.Body, s.Part.Truncated = want.Parts[1].Body, false
			}
			if err := s.Rest(); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, s.Message); d != "" {
				t.Errorf("message differs from Read's (-Read +ReadStreamParts):\n%s", d)
			}
		})
	}
	// The limits hold inside the streamed attachment.
	long := msg("", log+strings.Repeat("x", 10000)+"\n")
	s, err := ReadStreamParts(strings.NewReader(long), Limits{MaxLineBytes: 8192}, 4096)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, s.Body)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "line" {
		t.Errorf("err = %v, want the line limit", err)
	}
}
