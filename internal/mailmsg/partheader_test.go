package mailmsg

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestPartHeaderWithoutBlankLine: a body part whose header runs straight
// into its text (fail2ban's xarf-login-attack log part) keeps the text as
// its body instead of turning each log line into a header field.
func TestPartHeaderWithoutBlankLine(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf8; name=\"logfile.log\";\r\nNote: Local timezone is +0100 (CET)\r\n" +
		"Nov 16 04:11:52 mx1 sshd[30311]: Invalid user oracle from 52.18.77.140 port 51870\r\n--b--\r\n"
	for _, name := range []string{"Read", "ReadStreamParts"} {
		var m *Message
		var err error
		if name == "Read" {
			m, err = Read(strings.NewReader(msg), Limits{})
		} else {
			var st *Stream
			st, err = ReadStreamParts(strings.NewReader(msg), Limits{}, 64)
			if err == nil {
				if st.Body != nil {
					io.Copy(io.Discard, st.Body)
					err = st.Rest()
				}
				m = st.Message
			}
		}
		if err != nil || len(m.Parts) != 2 {
			t.Fatalf("%s: %v, %d parts", name, err, len(m.Parts))
		}
		p := m.Parts[1]
		want := "Note: Local timezone is +0100 (CET)\r\nNov 16 04:11:52 mx1 sshd[30311]: Invalid user oracle from 52.18.77.140 port 51870"
		if got := strings.TrimRight(string(p.Body), "\r\n"); got != want || p.Filename != "logfile.log" || p.Header.Get("Note") != "" {
			t.Errorf("%s: body %q, filename %q, header %v", name, got, p.Filename, p.Header)
		}
	}
}

// FuzzPartHeaderFixer: the fixer only inserts line breaks; every input
// byte comes out, in order.
func FuzzPartHeaderFixer(f *testing.F) {
	f.Add([]byte("--b\r\nContent-Type: text/plain\r\nNote: x\r\nlog line\r\n--b--\r\n"))
	f.Add([]byte("--b\nX-A: 1\n continued\n\nbody\n--b\nno header\n"))
	f.Add(append([]byte("--b\r\n"), bytes.Repeat([]byte("y"), 5000)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(newPartHeaderFixer(bytes.NewReader(in), "b"))
		if err != nil {
			t.Fatal(err)
		}
		if (len(out)-len(in))%2 != 0 || len(out) < len(in) {
			t.Fatalf("%d bytes in, %d out", len(in), len(out))
		}
		i := 0
		for _, c := range out {
			if i < len(in) && c == in[i] {
				i++
			}
		}
		if i != len(in) {
			t.Fatalf("input not kept in order: %q → %q", in, out)
		}
	})
}

// TestPartHeaderMailFields: mail fields some senders write in part headers
// (MIME::Lite: Date, X-Mailer) stay header fields.
func TestPartHeaderMailFields(t *testing.T) {
	msg := "Content-Type: multipart/report; boundary=b; report-type=feedback-report\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Disposition: inline\r\nContent-Type: message/feedback-report\r\nX-Mailer: MIME::Lite 3.030\r\nDate: Mon, 24 Oct 2022 09:32:04 +0000\r\n\r\n" +
		"Feedback-Type: xarf\r\nVersion: 1\r\n--b--\r\n"
	m, err := Read(strings.NewReader(msg), Limits{})
	if err != nil || len(m.Parts) != 2 {
		t.Fatalf("%v, %d parts", err, len(m.Parts))
	}
	if p := m.Parts[1]; !strings.HasPrefix(string(p.Body), "Feedback-Type: xarf") || p.Header.Get("Date") == "" {
		t.Errorf("body %q, header %v", p.Body, p.Header)
	}
}
