package wire

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMTLSRoundTrip(t *testing.T) {
	host, err := NewIdentity("host")
	if err != nil {
		t.Fatal(err)
	}
	plug, err := NewIdentity("plugin")
	if err != nil {
		t.Fatal(err)
	}
	env, err := EncodeTLSEnv(host, plug)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServerTLS(env)
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(client *tls.Config) error {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		errc := make(chan error, 1)
		go func() {
			s := tls.Server(b, srv)
			s.SetDeadline(time.Now().Add(time.Second))
			errc <- s.Handshake()
		}()
		c := tls.Client(a, client)
		c.SetDeadline(time.Now().Add(time.Second))
		cerr := c.Handshake()
		if cerr == nil {
			// TLS 1.3: the server's verdict on the client arrives later.
			_, cerr = c.Read(make([]byte, 1))
			if ne, ok := cerr.(net.Error); ok && ne.Timeout() {
				cerr = nil
			}
		}
		serr := <-errc
		if serr != nil {
			return serr
		}
		return cerr
	}
	if err := handshake(ClientTLS(host, plug)); err != nil {
		t.Fatalf("host ↔ its plugin: %v", err)
	}
	stranger, _ := NewIdentity("stranger")
	if err := handshake(ClientTLS(stranger, plug)); err == nil {
		t.Error("a stranger's client certificate was accepted")
	}
	other, _ := NewIdentity("other-plugin")
	if err := handshake(ClientTLS(host, other)); err == nil {
		t.Error("the host accepted a plugin certificate it did not mint for this plugin")
	}
	for _, bad := range []string{"", "!!", "e30", strings.Repeat("A", 40)} {
		if _, err := ServerTLS(bad); err == nil {
			t.Errorf("ServerTLS(%q) accepted", bad)
		}
	}
}

type schemaIn struct {
	Name   string            `json:"name"`
	Skip   string            `json:"-"`
	Opt    *int              `json:"opt,omitempty"`
	When   time.Time         `json:"when"`
	Labels map[string]string `json:"labels"`
	Raw    []byte            `json:"raw"`
	Self   *schemaIn         `json:"self"`
	embedded
	unexported int
}

type embedded struct {
	Inner bool `json:"inner"`
}

func TestSchema(t *testing.T) {
	var got map[string]any
	if err := json.Unmarshal(Schema(reflect.TypeFor[schemaIn]()), &got); err != nil {
		t.Fatal(err)
	}
	props := got["properties"].(map[string]any)
	var names []string
	for k := range props {
		names = append(names, k)
	}
	want := map[string]string{"name": "string", "opt": "integer", "when": "string", "labels": "object", "raw": "string", "self": "object", "inner": "boolean"}
	if len(props) != len(want) {
		t.Errorf("properties %v, want %v", names, want)
	}
	for k, typ := range want {
		p, ok := props[k].(map[string]any)
		if !ok || p["type"] != typ {
			t.Errorf("property %s = %v, want type %s", k, props[k], typ)
		}
	}
}

func TestTLSPipeRoundTrip(t *testing.T) {
	material := strings.Repeat("m", 3000)
	r, err := TLSPipe(material)
	if err != nil {
		t.Fatal(err)
	}
	// ReadTLSFD owns and closes the descriptor, as in a plugin process.
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	got, err := ReadTLSFD(fmt.Sprintf("fd:%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	if got != material {
		t.Errorf("read %d bytes back, want %d", len(got), len(material))
	}
	for _, bad := range []string{"", "3", "fd:", "fd:x", "fd:2", "fd:-1", "AAAA"} {
		if _, err := ReadTLSFD(bad); err == nil {
			t.Errorf("ReadTLSFD(%q) accepted", bad)
		}
	}
	if _, err := TLSPipe(strings.Repeat("m", maxTLSMaterial+1)); err == nil {
		t.Error("TLSPipe took more than the pipe may carry")
	}
}

type textish struct{ v string }

func (t textish) MarshalText() ([]byte, error)  { return []byte(t.v), nil }
func (t *textish) UnmarshalText(b []byte) error { t.v = string(b); return nil }

type lenient int

func (l *lenient) UnmarshalJSON(b []byte) error { *l = lenient(len(b)); return nil }

// TestValidateAcceptsWhatDecodingAccepts: types that decode themselves
// (text or JSON unmarshalers) are not held to their Go kind's schema.
func TestValidateAcceptsWhatDecodingAccepts(t *testing.T) {
	type in struct {
		Addr    textish `json:"addr"`
		Loose   lenient `json:"loose"`
		Count   int     `json:"count" schema:"required,enum=1|2"`
		Mapping map[string]int
	}
	s := ParseSchema(Schema(reflect.TypeFor[in]()))
	var doc any
	json.Unmarshal([]byte(`{"addr":"10.0.0.1","loose":"5s","count":2,"Mapping":{"a":1}}`), &doc)
	if errs := s.Validate(doc, nil); len(errs) != 0 {
		t.Errorf("valid document refused: %v", errs)
	}
	json.Unmarshal([]byte(`{"addr":5,"count":3,"Mapping":{"a":"x"},"extra":1}`), &doc)
	got := fmt.Sprint(s.Validate(doc, nil))
	want := `[Mapping.a: want an integer, got string "x" addr: want a string, got number 5 count: 3 is not one of 1, 2 extra: unknown field (known: Mapping, addr, count, loose)]`
	if got != want {
		t.Errorf("misfits\n got %s\nwant %s", got, want)
	}
}

// FuzzValidate: a schema (which a plugin sends) and a document (which a
// playbook holds), both arbitrary, are checked, defaulted, redacted and
// looked up without a panic.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(Schema(reflect.TypeFor[struct {
		URL  string            `json:"url" schema:"required,format=uri"`
		N    int               `json:"n" schema:"enum=1|2,default=1"`
		Tok  string            `json:"tok" schema:"secret"`
		List []map[string]bool `json:"list"`
	}]())), []byte(`{"url":5,"n":3,"tok":"x","list":[{"a":"b"}],"z":1}`))
	f.Fuzz(func(t *testing.T, schema, doc []byte) {
		s := ParseSchema(schema)
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return
		}
		_ = s.Validate(v, nil)
		s.ApplyDefaults(v)
		s.Redact(v)
		_ = s.Lookup([]any{"url", 0, "x"})
	})
}

// TestDefaultsAreCopies: a default filled into one document is that
// document's own; changing it leaves the schema's default as it was.
func TestDefaultsAreCopies(t *testing.T) {
	s := ParseSchema([]byte(`{"type":"object","properties":{"o":{"type":"object","default":{"a":[1]}}}}`))
	first, second := map[string]any{}, map[string]any{}
	s.ApplyDefaults(first)
	first["o"].(map[string]any)["a"] = "changed"
	s.ApplyDefaults(second)
	if got := fmt.Sprint(second["o"]); got != "map[a:[1]]" {
		t.Errorf("second document's default = %s, want map[a:[1]]", got)
	}
}

// BenchmarkMTLSHandshake measures what one plugin start costs in TLS on
// both ends together: the host's and the plugin's configurations built
// from fresh identities, and one mutually authenticated handshake.
func BenchmarkMTLSHandshake(b *testing.B) {
	host, err := NewIdentity("host")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		plug, err := NewIdentity("plugin")
		if err != nil {
			b.Fatal(err)
		}
		env, err := EncodeTLSEnv(host, plug)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := ServerTLS(env)
		if err != nil {
			b.Fatal(err)
		}
		a, c := net.Pipe()
		errc := make(chan error, 1)
		go func() {
			s := tls.Server(c, srv)
			err := s.Handshake()
			if err == nil {
				_, err = s.Write([]byte{1}) // the client's certificate is checked by now
			}
			errc <- err
		}()
		cl := tls.Client(a, ClientTLS(host, plug))
		if err := cl.Handshake(); err != nil {
			b.Fatal(err)
		}
		if _, err := cl.Read(make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		a.Close()
		c.Close()
	}
}
