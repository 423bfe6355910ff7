package abuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"time"
)

// xarfJSONCase: the X-ARF JSON samples in testdata/xarf, each with a
// golden parse beside it.
var xarfJSONCase = formatCase{
	dir:     "xarf",
	samples: []string{"abusix-v2-portscan.json", "abusix-v4-loginattack.json", "xarf4-port-scan.json", "xarf3-ddos.json", "mixed-stream.jsonl", "xarf4-ports-scanned.json"},
	parse:   ParseXARF,
	formats: []string{xarfFormat},
	sources: []Source{SourceXARF},
}

// Parse detects the JSON samples as X-ARF and reads them as ParseXARF does.
func TestParseXARFJSONGolden(t *testing.T) { checkFormatGolden(t, xarfJSONCase, true) }

// TestParseXARFJSONFields checks the facts that matter on each sample,
// independently of the golden files.
func TestParseXARFJSONFields(t *testing.T) {
	type want struct {
		kind      Kind
		caseID    string
		reporter  string
		abuseTime time.Time
		ips       string
		evidence  int
		first     string // the first evidence record, "src:port dst:port proto"
	}
	tests := map[string][]want{
		"abusix-v2-portscan.json": {{KindPortScan, "HN-2023-04-27-0091", `"Example Honeynet" <abuse-reports@honeynet.example>`,
			time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), "13.125.40.201", 3, "13.125.40.201:0 192.0.2.15:22 tcp"}},
		"abusix-v4-loginattack.json": {{KindIntrusion, "", `"SSH Trap Collective" <reports@sshtrap.example>`,
			time.Date(2026, 11, 2, 8, 51, 9, 0, time.UTC), "52.12.34.56", 2, "52.12.34.56:51544 198.51.100.23:22 tcp"}},
		"xarf4-port-scan.json": {{KindPortScan, "5cb60abc-119f-4f7d-a81d-26f89eed942b", `"Network Security Monitoring" <alerts@netsec-mon.example>`,
			time.Date(2025, 1, 11, 11, 26, 1, 0, time.UTC), "198.51.100.150", 3, "198.51.100.150:61001 203.0.113.50:22 tcp"}},
		"xarf3-ddos.json": {{KindDDoS, "", `"Example CERT" <incident@cert.example>`,
			time.Date(2024, 1, 15, 8, 15, 45, 0, time.UTC), "172.16.254.10", 1, "172.16.254.10:53 203.0.113.100:80 udp"}},
		"mixed-stream.jsonl": {
			{KindSpam, "", `"Spamtrap Inc" <traps@spamtrap.example>`, time.Date(2026, 11, 4, 6, 41, 10, 0, time.UTC), "52.12.34.56", 1, "52.12.34.56:39022 198.51.100.25:25 "},
			{KindPhishing, "0d5c2e8e-3a5f-4b52-9a44-6d3c1a0e9f11", `"PhishWatch" <takedown@phishwatch.example>`, time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC), "203.0.113.77", 1, "203.0.113.77:0 invalid IP:0 "},
			{KindCopyright, "", `"Rights Co" <dmca@rights.example>`, time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC), "", 1, "invalid IP:0 invalid IP:0 "},
		},
	}
	for name, wants := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "xarf", name))
			if err != nil {
				t.Fatal(err)
			}
			reps, err := ParseXARF(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != len(wants) {
				t.Fatalf("%d reports, want %d", len(reps), len(wants))
			}
			for i, w := range wants {
				r := reps[i]
				var ips []string
				for _, a := range r.Resources.IPs {
					ips = append(ips, a.String())
				}
				if r.Source != SourceXARF || r.Kind != w.kind || r.CaseID != w.caseID || r.Reporter != w.reporter ||
					!r.AbuseTime.Equal(w.abuseTime) || strings.Join(ips, ",") != w.ips || r.EvidenceCount != w.evidence {
					t.Errorf("report %d: source %q kind %q case %q reporter %q time %v ips %v evidence %d; want %+v",
						i, r.Source, r.Kind, r.CaseID, r.Reporter, r.AbuseTime, ips, r.EvidenceCount, w)
				}
				e := r.Evidence[0]
				if got := e.SrcIP.String() + ":" + itoa(e.SrcPort) + " " + e.DstIP.String() + ":" + itoa(e.DstPort) + " " + e.Proto; got != w.first {
					t.Errorf("report %d: first evidence %q, want %q", i, got, w.first)
				}
			}
		})
	}
}

func itoa(p uint16) string {
	b := []byte{}
	if p == 0 {
		return "0"
	}
	for p > 0 {
		b = append([]byte{byte('0' + p%10)}, b...)
		p /= 10
	}
	return string(b)
}

func TestXARFKind(t *testing.T) {
	tests := []struct {
		class, typ string
		want       Kind
	}{
		{"Activity", "PortScan", KindPortScan},
		{"Activity", "LoginAttack", KindIntrusion},
		{"Activity", "DOS", KindDDoS},
		{"Activity", "Spam/Trap", KindSpam},
		{"Content", "Malware", KindMalware},
		{"Content", "Phishing", KindPhishing},
		{"Content", "Copyright", KindCopyright},
		{"Content", "Trademark", KindCopyright},
		{"Activity", "Botnet", KindMalware},
		{"Vulnerability", "OpenService", KindOther},
		{"connection", "port_scan", KindPortScan},
		{"connection", "login_attack", KindIntrusion},
		{"connection", "ddos_amplification", KindDDoS},
		{"messaging", "bulk_messaging", KindSpam},
		{"messaging", "newsletter", KindSpam},
		{"infrastructure", "compromised_server", KindMalware},
		{"copyright", "p2p", KindCopyright},
		{"copyright", "something_new", KindCopyright},
		{"reputation", "blocklist", KindOther},
		{"abuse", "login-attack", KindIntrusion},
		{"abuse", "malware-attack", KindMalware},
		{"abuse", "portscan", KindPortScan},
		{"abuse", "ddos", KindDDoS},
		{"fraud", "phishing", KindPhishing},
		{"fraud", "", KindPhishing},
		{"info", "dnsbl", KindOther},
		{"", "", KindOther},
		// Blocklist.de's report types are the attacked services.
		{"abuse", "regbot", KindSpam},
		{"abuse", "ssh", KindIntrusion},
		{"abuse", "mail", KindSpam},
		{"abuse", "apacheddos", KindDDoS},
		{"abuse", "bruteforcelogin", KindIntrusion},
		{"info", "harvesting", KindSpam}, // Clean-MX
	}
	for _, tt := range tests {
		if got := XARFKind(tt.class, tt.typ); got != tt.want {
			t.Errorf("XARFKind(%q, %q) = %q, want %q", tt.class, tt.typ, got, tt.want)
		}
	}
}

func TestXARFTime(t *testing.T) {
	want := time.Date(2014, 2, 3, 1, 13, 35, 0, time.UTC)
	for _, s := range []string{
		"2014-02-03T02:13:35+01:00",
		"2014-02-03T02:13:35+0100",
		"Feb  3 2014 02:13:35 +0100",
		"Mon, 03 Feb 2014 02:13:35 +0100",
		"3 Feb 2014 02:13:35 +0100",
		"2014-02-03 01:13:35",
		"2014-02-03 02:13:35 +0100",
	} {
		got, err := xarfTime("Date", s)
		if err != nil || !got.Equal(want) {
			t.Errorf("xarfTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := xarfTime("Date", "last tuesday"); err == nil {
		t.Error("xarfTime accepted garbage")
	}
}

func TestParseXARFJSONBadInput(t *testing.T) {
	tests := []struct {
		name, in, errText string
		line              int
	}{
		{"truncated", "{\"Version\":\"2\",\n\"Report\":{\"ReportType\":\"Spam\"", "truncated", 2},
		{"not xarf", `{"hello":"world"}`, "not X-ARF", 1},
		{"port type", "{\"Version\":\"2\",\n\"Report\":{\"ReportType\":\"Spam\",\n\"SourcePort\":\"25\"}}", "SourcePort", 3},
		{"port range", `{"Version":"2","Report":{"ReportType":"Spam","SourcePort":99999}}`, "out of range", 1},
		{"bad date", `{"Version":"2","Report":{"ReportType":"Spam","Date":"soon"}}`, "unrecognised date", 1},
		{"bad base64", `{"xarf_version":"4.0.0","category":"connection","type":"port_scan","evidence":[{"content_type":"text/plain","payload":"!!!"}]}`, "base64", 1},
		{"samples wrong type", `{"Version":"2","Report":{"ReportType":"Spam","Samples":{"a":1}}}`, "Samples", 1},
		{"source wrong type", `{"Version":"3","Report":{"ReportType":"ddos","Source":[1]}}`, "Report.Source", 1},
		{"array of numbers", `[1]`, "expected a JSON object", 1},
		{"empty", ``, "not X-ARF", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseXARF(context.Background(), strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Format != "x-arf" || pe.Line != tt.line || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %v; want an x-arf *ParseError at line %d containing %q", err, tt.line, tt.errText)
			}
		})
	}
}

func TestParseXARFJSONLimits(t *testing.T) {
	data, err := os.ReadFile("testdata/xarf/abusix-v2-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reps, err := ParseXARF(ctx, bytes.NewReader(data), WithMaxEvidence(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps[0].Evidence) != 2 || reps[0].EvidenceCount != 3 {
		t.Errorf("kept %d of %d; want 2 of 3", len(reps[0].Evidence), reps[0].EvidenceCount)
	}
	if _, err := ParseXARF(ctx, bytes.NewReader(data), WithLimits(Limits{MaxBytes: 64})); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	// A sample line longer than MaxLineBytes.
	long := `{"Version":"2","Report":{"ReportType":"PortScan","SourceIp":"192.0.2.1","Samples":[{"ContentType":"text/plain","Payload":"` + strings.Repeat("x", 5000) + `"}]}}`
	if _, err := ParseXARF(ctx, strings.NewReader(long), WithLimits(Limits{MaxLineBytes: 1024})); !errors.Is(err, ErrTooLarge) {
		t.Errorf("long sample line: err = %v, want ErrTooLarge", err)
	}
}

func TestXARFSniffJSON(t *testing.T) {
	for _, name := range xarfJSONCase.samples {
		data := xarfJSONCase.read(t, name)
		if !xarfSniffJSON(data) {
			t.Errorf("%s: not sniffed as X-ARF", name)
		}
		if gdSniff(data) {
			t.Errorf("%s: sniffed as GuardDuty", name)
		}
	}
	gd, err := os.ReadFile("testdata/guardduty/finding-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	if xarfSniffJSON(gd) {
		t.Error("GuardDuty finding sniffed as X-ARF")
	}
}

func FuzzXARF(f *testing.F) { fuzzFormat(f, xarfJSONCase, Limits{MaxBytes: 1 << 20}, nil) }

// BenchmarkParseXARFJSON parses an X-ARF report whose sample carries a
// 10,000-line column log.
func BenchmarkParseXARFJSON(b *testing.B) {
	var log strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&log, "13.125.40.201  192.0.%d.%d  22  Thu Apr 27 14:46:47 2023\\n", i/250, i%250)
	}
	data := []byte(`{"Version":"2","Report":{"ReportClass":"Activity","ReportType":"PortScan","Date":"2023-04-27T14:46:47Z","SourceIp":"13.125.40.201","Samples":[{"ContentType":"text/plain","Payload":"` + log.String() + `"}]}}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := ParseXARF(context.Background(), bytes.NewReader(data), WithEvidenceFunc(func(Evidence) error { n++; return nil })); err != nil || n != 10000 {
			b.Fatalf("%d records, err %v", n, err)
		}
	}
}

// TestXARF4PortsScanned: a XARF 4 port scan lists its ports in
// ports_scanned (numbers, or strings from some senders) instead of logging
// them: one record per port; a value that is no port is an error.
func TestXARF4PortsScanned(t *testing.T) {
	data, err := os.ReadFile("testdata/xarf/xarf4-ports-scanned.json")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := ParseXARF(context.Background(), bytes.NewReader(data))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%d reports, err %v", len(reps), err)
	}
	var ports []uint16
	for _, e := range reps[0].Evidence {
		ports = append(ports, e.DstPort)
	}
	if d := cmp.Diff([]uint16{22, 23, 2375, 6379}, ports); d != "" || reps[0].Kind != KindPortScan {
		t.Errorf("kind %s, ports (-want +got):\n%s", reps[0].Kind, d)
	}
	for _, bad := range []string{`[70000]`, `["ssh"]`, `[22.5]`, `[{}]`} {
		in := `{"xarf_version":"4.0.0","category":"connection","type":"port_scan","source_identifier":"192.0.2.1","ports_scanned":` + bad + `}`
		if _, err := ParseXARF(context.Background(), strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "ports_scanned[0]") {
			t.Errorf("ports_scanned %s: err %v", bad, err)
		}
	}
}
