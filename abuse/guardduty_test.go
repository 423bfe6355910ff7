package abuse

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/mailmsg"
	"github.com/google/go-cmp/cmp"
)

// gdCase: the GuardDuty samples in testdata/guardduty, each with a golden
// parse beside it (<name>.golden.json).
var gdCase = formatCase{
	dir: "guardduty",
	samples: []string{
		"getfindings-sshbruteforce.json",
		"getfindings-probe-and-dos.json",
		"finding-portscan.json",
		"eventbridge-bitcoin-dns.json",
		"eventbridge-stream.jsonl",
		"array-c2-and-apicall.json",
		"eventbridge-runtime-cryptominer.json",
		"s3-export.jsonl.gz",
		"sns-notification.json",
	},
	parse:   ParseGuardDuty,
	formats: []string{gdFormat},
	sources: []Source{SourceGuardDuty},
}

// arfMarshalReports is the golden form of a parse: indented JSON.
func arfMarshalReports(t *testing.T, reps []Report) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(reps); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gdGoldenName(sample string) string {
	return strings.TrimSuffix(strings.TrimSuffix(sample, ".gz"), filepath.Ext(strings.TrimSuffix(sample, ".gz"))) + ".golden.json"
}

// Parse detects every GuardDuty sample and reads it as ParseGuardDuty does.
func TestParseGuardDutyGolden(t *testing.T) { checkFormatGolden(t, gdCase, true) }

// TestParseGuardDutyFields checks the mapping field by field on the shared
// corpus sample, independently of the golden file.
func TestParseGuardDutyFields(t *testing.T) {
	data, err := os.ReadFile("testdata/guardduty/getfindings-sshbruteforce.json")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := ParseGuardDuty(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Report{{
		Provider:  "aws",
		Source:    SourceGuardDuty,
		Kind:      KindIntrusion,
		CaseID:    "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7",
		AccountID: "123456789012",
		AbuseTime: time.Date(2026, 11, 2, 8, 51, 9, 0, time.UTC),
		Resources: Resources{
			InstanceIDs:    []string{"i-0fedcba9876543210"},
			Region:         "us-west-2",
			IPs:            []netip.Addr{netip.MustParseAddr("52.12.34.56"), netip.MustParseAddr("10.0.1.25")},
			SecurityGroups: []string{"sg-0123abcd4567ef890"},
			Exposures:      []Exposure{},
		},
		Evidence: []Evidence{{
			Time:    time.Date(2026, 11, 2, 8, 51, 9, 0, time.UTC),
			SrcIP:   netip.MustParseAddr("10.0.1.25"),
			SrcPort: 51544,
			DstIP:   netip.MustParseAddr("198.51.100.23"),
			DstPort: 22,
			Proto:   "tcp",
			Raw:     "UnauthorizedAccess:EC2/SSHBruteForce OUTBOUND TCP 10.0.1.25:51544 -> 198.51.100.23:22 count=212 first_seen=2026-11-02T08:51:09Z last_seen=2026-11-02T09:10:44Z",
		}},
		Mitigations:     []Mitigation{},
		RequiredActions: []string{},
		Reporter:        "Amazon GuardDuty",
		Subject:         "i-0fedcba9876543210 is performing SSH brute force attacks.",
		Received:        time.Date(2026, 11, 2, 9, 14, 22, 511000000, time.UTC),
		Activity:        "UnauthorizedAccess:EC2/SSHBruteForce",
		EvidenceCount:   1,
		Warnings:        []Warning{},
		Role:            RoleActor,
		Severity:        Severity{Score: 2, Label: "low"},
	}}
	if d := cmp.Diff(want, reps, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

// TestParseGuardDutyShapes checks that the three shapes of the same finding
// (PascalCase GetFindings, raw camelCase, EventBridge) parse the same.
func TestParseGuardDutyShapes(t *testing.T) {
	raw, err := os.ReadFile("testdata/guardduty/getfindings-sshbruteforce.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base, err := ParseGuardDuty(ctx, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// camelCase: lower the first letter of every key.
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	camel, err := json.Marshal(gdCamel(v))
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]string{
		"getfindings": `{"Findings":[` + string(raw) + `],"UnprocessedFindings":[]}`,
		"camel":       string(camel),
		"eventbridge": `{"version":"0","id":"x","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"123456789012","time":"2026-11-02T09:14:22.511Z","region":"us-west-2","resources":[],"detail":` + string(camel) + `}`,
		"array":       "[" + string(camel) + "]",
		"bom+spaces":  "\xef\xbb\xbf\n\n  " + string(raw) + "\n\n",
		"wrapped":     `{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"findings":[` + string(camel) + `]}}`,
	}
	for name, in := range shapes {
		t.Run(name, func(t *testing.T) {
			got, err := ParseGuardDuty(ctx, strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(base, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("(-getfindings +%s):\n%s", name, d)
			}
		})
	}
}

func gdCamel(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[strings.ToLower(k[:1])+k[1:]] = gdCamel(e)
		}
		return m
	case []any:
		for i := range x {
			x[i] = gdCamel(x[i])
		}
	}
	return v
}

func TestGuardDutyKind(t *testing.T) {
	tests := map[string]Kind{
		"Recon:EC2/Portscan":                           KindPortScan,
		"Recon:EC2/PortProbeUnprotectedPort":           KindPortScan,
		"Recon:EC2/PortProbeEMRUnprotectedPort":        KindPortScan,
		"Impact:EC2/PortSweep":                         KindPortScan,
		"UnauthorizedAccess:EC2/SSHBruteForce":         KindIntrusion,
		"UnauthorizedAccess:EC2/RDPBruteForce":         KindIntrusion,
		"Impact:EC2/WinRMBruteForce":                   KindIntrusion,
		"Backdoor:EC2/DenialOfService.Tcp":             KindDDoS,
		"Backdoor:EC2/DenialOfService.UdpOnTcpPorts":   KindDDoS,
		"Backdoor:EC2/Spambot":                         KindSpam,
		"CryptoCurrency:EC2/BitcoinTool.B!DNS":         KindMalware,
		"CryptoCurrency:EC2/BitcoinTool.B":             KindMalware,
		"Impact:EC2/BitcoinDomainRequest.Reputation":   KindMalware,
		"Impact:EC2/MaliciousDomainRequest.Reputation": KindMalware,
		"Trojan:EC2/DNSDataExfiltration":               KindMalware,
		"Backdoor:EC2/C&CActivity.B!DNS":               KindMalware,
		"Impact:Runtime/CryptoMinerExecuted":           KindMalware,
		"UnauthorizedAccess:EC2/TorClient":             KindOther,
		"Behavior:EC2/NetworkPortUnusual":              KindOther,
		"Policy:IAMUser/RootCredentialUsage":           KindOther,
		"":                                             KindOther,
		"garbage":                                      KindOther,
		// Not in the table: classified by purpose and family.
		"Trojan:Lambda/NewDropper":                      KindMalware,
		"Backdoor:Lambda/C&CActivity.B":                 KindMalware,
		"CryptoCurrency:Lambda/BitcoinTool.B":           KindMalware,
		"UnauthorizedAccess:Lambda/SSHBruteForce":       KindIntrusion,
		"Recon:ECS/Portscan":                            KindPortScan,
		"Backdoor:Runtime/DenialOfService.Tcp":          KindDDoS,
		"Execution:Runtime/MaliciousFileExecuted.Other": KindMalware,
	}
	for typ, want := range tests {
		if got := GuardDutyKind(typ); got != want {
			t.Errorf("GuardDutyKind(%q) = %q, want %q", typ, got, want)
		}
	}
}

// TestParseGuardDutyDirections checks who is src and who is dst.
func TestParseGuardDutyDirections(t *testing.T) {
	ctx := context.Background()
	f, err := os.Open("testdata/guardduty/getfindings-probe-and-dos.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reps, err := ParseGuardDuty(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("got %d reports, want 2", len(reps))
	}
	probe := reps[0]
	if probe.Kind != KindPortScan || len(probe.Evidence) != 2 {
		t.Fatalf("probe: kind %q, %d evidence", probe.Kind, len(probe.Evidence))
	}
	// The instance is the TARGET: remote → instance; a probe without
	// localIpDetails falls back on the instance's private address.
	for i, want := range [][3]string{{"192.0.2.99", "172.16.0.10", "3389"}, {"198.51.100.7", "172.16.0.10", "22"}} {
		e := probe.Evidence[i]
		if got := [3]string{e.SrcIP.String(), e.DstIP.String(), fmt.Sprint(e.DstPort)}; got != want {
			t.Errorf("probe evidence %d = %v, want %v", i, got, want)
		}
	}
	dos := reps[1]
	if dos.Kind != KindDDoS || dos.Evidence[0].SrcIP.String() != "172.16.4.21" || dos.Evidence[0].DstIP.String() != "203.0.113.10" || dos.Evidence[0].DstPort != 443 {
		t.Errorf("dos: %+v", dos.Evidence)
	}
	stream, err := os.ReadFile("testdata/guardduty/eventbridge-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	reps, err = ParseGuardDuty(ctx, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	in := reps[0].Evidence[0] // INBOUND SSH brute force against the instance
	if in.SrcIP.String() != "192.0.2.201" || in.SrcPort != 58112 || in.DstPort != 22 || in.DstIP.String() != "10.0.1.25" {
		t.Errorf("inbound: %+v", in)
	}
}

func TestParseGuardDutyOptions(t *testing.T) {
	data, err := os.ReadFile("testdata/guardduty/getfindings-probe-and-dos.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("max evidence", func(t *testing.T) {
		reps, err := ParseGuardDuty(ctx, bytes.NewReader(data), WithMaxEvidence(1))
		if err != nil {
			t.Fatal(err)
		}
		if len(reps[0].Evidence) != 1 || reps[0].EvidenceCount != 2 {
			t.Errorf("kept %d, counted %d; want 1, 2", len(reps[0].Evidence), reps[0].EvidenceCount)
		}
	})
	t.Run("evidence and report funcs", func(t *testing.T) {
		var order []string
		reps, err := ParseGuardDuty(ctx, bytes.NewReader(data),
			WithEvidenceFunc(func(e Evidence) error { order = append(order, "e:"+e.SrcIP.String()); return nil }),
			WithReportFunc(func(r Report) error {
				order = append(order, fmt.Sprintf("r:%s:%d:%d", r.Kind, len(r.Evidence), r.EvidenceCount))
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != 0 {
			t.Errorf("with a report func, got %d reports back", len(reps))
		}
		want := []string{"e:192.0.2.99", "e:198.51.100.7", "r:portscan:0:2", "e:172.16.4.21", "r:ddos:0:1"}
		if d := cmp.Diff(want, order); d != "" {
			t.Errorf("order (-want +got):\n%s", d)
		}
	})
	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		_, err := ParseGuardDuty(ctx, bytes.NewReader(data), WithReportFunc(func(Report) error { n++; return stop }))
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("err %v after %d reports; want stop after 1", err, n)
		}
	})
	t.Run("too large", func(t *testing.T) {
		_, err := ParseGuardDuty(ctx, bytes.NewReader(data), WithLimits(Limits{MaxBytes: 100}))
		var pe *ParseError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) || pe.Format != "guardduty" {
			t.Errorf("err = %v; want a guardduty *ParseError wrapping ErrTooLarge", err)
		}
	})
	t.Run("max reports", func(t *testing.T) {
		_, err := ParseGuardDuty(ctx, bytes.NewReader(data), WithLimits(Limits{MaxReports: 1}))
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v; want ErrTooLarge", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := ParseGuardDuty(cctx, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
	})
}

// TestParseGuardDutyManyFindings parses a large array within limits: one
// report per element, evidence streamed.
func TestParseGuardDutyManyFindings(t *testing.T) {
	raw, err := os.ReadFile("testdata/guardduty/finding-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500
	var b bytes.Buffer
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(bytes.Replace(raw, []byte(`"id": "a4c1f29e8b7d6c5e4f3a2b1c0d9e8f7a"`), fmt.Appendf(nil, `"id": "f%d"`, i), 1))
	}
	b.WriteString("]")
	count, ev := 0, 0
	_, err = ParseGuardDuty(context.Background(), &b,
		WithEvidenceFunc(func(Evidence) error { ev++; return nil }),
		WithReportFunc(func(r Report) error {
			if r.CaseID != fmt.Sprintf("f%d", count) {
				return fmt.Errorf("report %d has case %q", count, r.CaseID)
			}
			count++
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if count != n || ev != n {
		t.Errorf("%d reports, %d evidence; want %d each", count, ev, n)
	}
}

func TestParseGuardDutyBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/guardduty/finding-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		line    int
		errText string
	}{
		{"empty", "", 1, "no JSON value"},
		{"spaces", "  \n\n ", 3, "no JSON value"},
		{"truncated", string(good[:len(good)/2]), strings.Count(string(good[:len(good)/2]), "\n") + 1, "truncated"},
		{"syntax", "{\n\"type\": \"Recon:EC2/Portscan\",\n\"service\": {,}\n}", 3, "invalid character"},
		{"severity string", "{\"type\":\"Recon:EC2/Portscan\",\n\"service\":{},\n\"severity\":\"high\"}", 3, "severity"},
		{"port string", `{"type":"Recon:EC2/Portscan","service":{"action":{"networkConnectionAction":{"localPortDetails":{"port":"22"}}}}}`, 1, "port"},
		{"port range", `{"type":"Recon:EC2/Portscan","service":{"action":{"networkConnectionAction":{"localPortDetails":{"port":70000}}}}}`, 1, "out of range"},
		{"bad time", `{"type":"Recon:EC2/Portscan","service":{"eventFirstSeen":"yesterday"}}`, 1, "eventFirstSeen"},
		{"not object", `[1, 2]`, 1, "expected a JSON object"},
		{"unrelated object", `{"hello": "world"}`, 1, "not a GuardDuty finding"},
		{"list findings", `{"FindingIds": ["abc"]}`, 1, "ListFindings"},
		{"other event", `{"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {"state": "running"}}`, 1, "detail-type"},
		{"findings not array", `{"Findings": {"Type": "x"}}`, 1, "expected an array"},
		{"second finding bad", "{\"Findings\": [\n{\"Type\":\"Recon:EC2/Portscan\",\"Service\":{}},\n{\"Type\":\"Recon:EC2/Portscan\",\"Service\":{}},\n{\"Type\":\"Recon:EC2/Portscan\",\n\"Service\":{\"Count\":\"x\"}}]}", 5, "service.count"},
		{"findings truncated", "{\"Findings\": [\n{\"Type\":\"Recon:EC2/Portscan\",\"Service\":{}},\n{\"Type\":", 3, "truncated"},
		{"second line bad", `{"type":"Recon:EC2/Portscan","service":{}}` + "\n" + `{"type":"Recon:EC2/Portscan","service":{"count":"many"}}`, 2, "count"},
		{"deep detail chain", strings.Repeat(`{"detail":`, 50) + `{"type":"Recon:EC2/Portscan","service":{}}` + strings.Repeat("}", 50), 1, "envelopes"},
		{"trailing junk", string(good) + "\n}", strings.Count(string(good), "\n") + 2, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := ParseGuardDuty(context.Background(), strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%d reports); want *ParseError", err, len(reps))
			}
			if pe.Format != "guardduty" || pe.Line != tt.line || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %v (format %q, line %d); want line %d containing %q", err, pe.Format, pe.Line, tt.line, tt.errText)
			}
		})
	}
}

func TestGuardDutySniff(t *testing.T) {
	for _, name := range gdCase.samples {
		data := gdCase.read(t, name)
		if !gdSniff(data) {
			t.Errorf("%s: not sniffed as GuardDuty", name)
		}
	}
	for _, s := range []string{"", "From: a@b\n", `{"Version":"2","ReporterInfo":{},"Report":{}}`, `{"hello":"guardduty"}`, "Hello,\nWe have observed"} {
		if gdSniff([]byte(s)) {
			t.Errorf("%q sniffed as GuardDuty", s)
		}
	}
}

func FuzzGuardDuty(f *testing.F) {
	f.Add([]byte(`{"Findings":[{"Type":"Recon:EC2/Portscan","Service":{"Action":{"PortProbeAction":{"PortProbeDetails":[{}]}}}}]}`))
	fuzzFormat(f, gdCase, Limits{MaxBytes: 1 << 20}, func(t *testing.T, r Report) {
		if r.Provider != ProviderAWS {
			t.Fatalf("provider %q", r.Provider)
		}
	})
}

// BenchmarkParseGuardDuty parses a GetFindings output of 1,000 findings.
func BenchmarkParseGuardDuty(b *testing.B) {
	one, err := os.ReadFile("testdata/guardduty/getfindings-sshbruteforce.json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"Findings":[`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(one)
	}
	buf.WriteString(`]}`)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := ParseGuardDuty(context.Background(), bytes.NewReader(data), WithReportFunc(func(Report) error { n++; return nil })); err != nil || n != 1000 {
			b.Fatalf("%d reports, err %v", n, err)
		}
	}
}

func TestParseGuardDutyGzip(t *testing.T) {
	ctx := context.Background()
	gz, err := os.ReadFile("testdata/guardduty/s3-export.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := ParseGuardDuty(ctx, bytes.NewReader(gz))
	if err != nil || len(reps) != 3 {
		t.Fatalf("%d reports, err %v", len(reps), err)
	}
	if reps[0].Kind != KindIntrusion || reps[1].Kind != KindSpam || reps[2].Kind != KindPortScan {
		t.Errorf("kinds %s %s %s", reps[0].Kind, reps[1].Kind, reps[2].Kind)
	}
	// Inflating past MaxBytes stops with ErrTooLarge (a gzip bomb).
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte("["))
	zw.Write(bytes.Repeat([]byte(" "), 4<<20))
	zw.Close()
	if _, err := ParseGuardDuty(ctx, &bomb, WithLimits(Limits{MaxBytes: 1 << 20})); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bomb: err = %v, want ErrTooLarge", err)
	}
	// Corrupt and truncated gzip: a guardduty *ParseError.
	for _, in := range [][]byte{gz[:len(gz)/2], append([]byte{0x1f, 0x8b, 9}, gz[3:]...)} {
		_, err := ParseGuardDuty(ctx, bytes.NewReader(in))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Format != "guardduty" {
			t.Errorf("err = %v, want a guardduty *ParseError", err)
		}
	}
}

// TestParseGuardDutyMail reads a finding mailed by an SNS email
// subscription: JSON body, unsubscribe footer.
func TestParseGuardDutyMail(t *testing.T) {
	data, err := os.ReadFile("testdata/guardduty/sns-email.eml")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := Parse(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "guardduty/sns-email.golden.json", arfMarshalReports(t, reps))
	if len(reps) != 1 || reps[0].Source != SourceGuardDuty || reps[0].Kind != KindPortScan || reps[0].CaseID != "a4c1f29e8b7d6c5e4f3a2b1c0d9e8f7a" ||
		!reps[0].Received.Equal(time.Date(2023, 4, 27, 15, 41, 0, 0, time.UTC)) {
		t.Errorf("got %+v", reps)
	}
	// A mail whose body is not GuardDuty JSON is left to the other formats.
	bad := []byte("From: AWS Notifications <no-reply@sns.amazonaws.com>\r\nSubject: AWS Notification Message\r\n\r\n" +
		`{"version":"0","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"instance-id":"i-0123456789abcdef0","state":"stopped"}}` + "\r\n")
	if gdMailMatch(mustReadMail(t, bad)) {
		t.Error("EC2 state-change mail matched as GuardDuty")
	}
	if reps, err := Parse(context.Background(), bytes.NewReader(bad)); err == nil && len(reps) > 0 && reps[0].Source == SourceGuardDuty {
		t.Errorf("non-GuardDuty JSON mail read as GuardDuty")
	}
}

func mustReadMail(t *testing.T, b []byte) *mailmsg.Message {
	t.Helper()
	m, err := mailmsg.Read(bytes.NewReader(b), mailmsg.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// gdStream yields n copies of a finding as JSON lines, generated as it is
// read: the input never exists whole in memory.
type gdStream struct {
	line []byte
	n    int
	buf  []byte
}

func (s *gdStream) Read(p []byte) (int, error) {
	if len(s.buf) == 0 {
		if s.n == 0 {
			return 0, io.EOF
		}
		s.n--
		s.buf = s.line
	}
	k := copy(p, s.buf)
	s.buf = s.buf[k:]
	return k, nil
}

// TestParseGuardDutyStreamsMemory parses 12 MB of JSON lines with
// WithReportFunc and checks that the heap never holds the input: findings
// are decoded one at a time.
func TestParseGuardDutyStreamsMemory(t *testing.T) {
	raw, err := os.ReadFile("testdata/guardduty/finding-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatal(err)
	}
	line := append(compact.Bytes(), '\n')
	n := (12 << 20) / len(line)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	count := 0
	_, err = ParseGuardDuty(context.Background(), &gdStream{line: line, n: n},
		WithLimits(Limits{MaxBytes: 1 << 30}),
		WithEvidenceFunc(func(Evidence) error { return nil }),
		WithReportFunc(func(Report) error {
			count++
			if count%500 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("%d reports, want %d", count, n)
	}
	grown := int64(peak) - int64(base)
	t.Logf("%d findings, %d MB of input; heap grew by at most %.1f MB", n, n*len(line)>>20, float64(grown)/(1<<20))
	if grown > 6<<20 {
		t.Errorf("heap grew by %d MB parsing a 12 MB stream: the input is being buffered", grown>>20)
	}
}

// TestParseGuardDutyRoleSeverity: service.resourceRole gives Role (the
// inbound brute force and the port probe: target; the outbound ones:
// actor) and severity its label on GuardDuty's scale.
func TestParseGuardDutyRoleSeverity(t *testing.T) {
	type rs struct {
		Type, Role string
		Severity   Severity
	}
	tests := map[string][]rs{
		"getfindings-sshbruteforce.json": {{"UnauthorizedAccess:EC2/SSHBruteForce", RoleActor, Severity{2, "low"}}},
		"getfindings-probe-and-dos.json": {
			{"Recon:EC2/PortProbeUnprotectedPort", RoleTarget, Severity{2, "low"}},
			{"Backdoor:EC2/DenialOfService.Tcp", RoleActor, Severity{8, "high"}},
		},
		"eventbridge-stream.jsonl": {
			{"UnauthorizedAccess:EC2/SSHBruteForce", RoleTarget, Severity{2, "low"}},
			{"Backdoor:EC2/Spambot", RoleActor, Severity{5, "medium"}},
		},
	}
	for name, want := range tests {
		reps, err := ParseGuardDuty(context.Background(), bytes.NewReader(gdCase.read(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		var got []rs
		for _, r := range reps {
			got = append(got, rs{r.Activity, r.Role, r.Severity})
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
	for _, tt := range []struct {
		score float64
		want  Severity
	}{
		{0, Severity{}}, {0.9, Severity{}}, {1, Severity{1, "low"}}, {3.9, Severity{3.9, "low"}}, {4, Severity{4, "medium"}},
		{6.9, Severity{6.9, "medium"}}, {7, Severity{7, "high"}}, {8.9, Severity{8.9, "high"}}, {9, Severity{9, "critical"}},
		{10, Severity{10, "critical"}}, {10.5, Severity{}}, {-3, Severity{}}, {math.NaN(), Severity{}},
	} {
		if got := gdSeverity(tt.score); got != tt.want {
			t.Errorf("gdSeverity(%v) = %+v, want %+v", tt.score, got, tt.want)
		}
	}
}
