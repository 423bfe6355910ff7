package mailmsg

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFiles adds the repository's sample mails as fuzz seeds.
func seedFiles(f *testing.F) {
	f.Helper()
	for _, pat := range []string{"../../abuse/testdata/*/*.eml", "../../abuse/testdata/*/*.mbox"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(multi))
	f.Add([]byte("Content-Type: text/html; charset=windows-1252\n\n<p>caf\xe9<br>x</p>"))
}

func FuzzRead(f *testing.F) {
	seedFiles(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		l := Limits{MaxBytes: 1 << 20, MaxLineBytes: 4 << 10, MaxParts: 50, MaxDepth: 5}
		m, err := Read(strings.NewReader(string(b)), l)
		if err != nil {
			return
		}
		_ = m.Text()
		_ = m.Subject()
		_ = m.From()
		_ = m.Date()
		if len(m.Parts)+len(m.Forwarded) > 50*2 {
			t.Fatalf("%d parts past the limit", len(m.Parts))
		}
	})
}

func FuzzMbox(f *testing.F) {
	seedFiles(f)
	f.Add([]byte("From a\nSubject: 1\n\n>From x\nFrom b\n\ny"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mr := NewMboxReader(strings.NewReader(string(b)), 4<<10)
		for i := 0; i < 10000; i++ {
			r, err := mr.Next()
			if err != nil {
				return
			}
			if i%2 == 0 {
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
			}
		}
		t.Fatal("more messages than lines")
	})
}

func FuzzHTMLText(f *testing.F) {
	f.Add([]byte("<p>a<br>b</p><script>x</script><pre> a\n b</pre><table><tr><td>1</td><td>2</td></tr></table>"))
	f.Add([]byte("<<<>>></p></pre></script>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = HTMLText(b)
	})
}

func FuzzReadStream(f *testing.F) {
	seedFiles(f)
	f.Add([]byte("Content-Transfer-Encoding: base64\n\nYW=Jj\n ZGVm\nZw"))
	f.Add([]byte("Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: quoted-printable\n\n=FF=FEa=00=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := Limits{MaxBytes: 1 << 20, MaxLineBytes: 4 << 10, MaxParts: 50, MaxDepth: 5}
		m, r, err := ReadStream(strings.NewReader(string(b)), l, 256)
		if err != nil {
			return
		}
		if r == nil {
			_ = m.Text()
			return
		}
		n, _ := io.Copy(io.Discard, r)
		if n > 8<<20 {
			t.Fatalf("%d bytes decoded from %d", n, len(b))
		}
	})
}

// FuzzReadStreamParts: whatever the input, a streamed attachment reads to
// its end, Rest reads the rest, and both stay within the limits.
func FuzzReadStreamParts(f *testing.F) {
	seedFiles(f)
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhi\n--b\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n" + strings.Repeat("YWJjZGVm\n", 60) + "--b\nContent-Type: message/rfc822\n\nSubject: x\n\ny\n--b--\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := Limits{MaxBytes: 1 << 20, MaxLineBytes: 4 << 10, MaxParts: 50, MaxDepth: 5}
		s, err := ReadStreamParts(strings.NewReader(string(b)), l, 256)
		if err != nil {
			return
		}
		if s.Body != nil {
			n, _ := io.Copy(io.Discard, s.Body)
			if n > 8<<20 {
				t.Fatalf("%d bytes decoded from %d", n, len(b))
			}
			if s.Part != s.Message.Parts[len(s.Message.Parts)-1] {
				t.Fatal("streamed part is not the last part read")
			}
		}
		if err := s.Rest(); err != nil {
			return
		}
		_ = s.Message.Text()
		if len(s.Message.Parts) > l.MaxParts {
			t.Fatalf("%d parts, limit %d", len(s.Message.Parts), l.MaxParts)
		}
	})
}
