package abuse

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzProviderLines feeds lines to the readers of the other providers'
// notices and the feeds read line by line (Azure, OVH, Linode fields and
// mitigations, OVH's anti-spam records, SpamCop's summary and alert rows):
// no panic, and what they read is bounded and well formed.
func FuzzProviderLines(f *testing.F) {
	f.Add("[SpamCop] summary report", " 54.210.3.4       Nov 20 14h/3     51     2     0     1\n")
	f.Fuzz(func(t *testing.T, subject, text string) {
		o := buildOptions([]Option{WithLimits(fuzzLimits), WithMaxEvidence(10)})
		n := newNoticeReader(&o, mailFormatName)
		n.plain = true
		n.rep.Subject = subject
		for _, l := range strings.Split(text, "\n") {
			if len(l) > 4096 {
				l = l[:4096]
			}
			if err := n.line([]byte(l)); err != nil {
				return
			}
		}
		n.providerFields(subject, strings.ToLower(subject))
		r := n.finish()
		fillReport(&r)
		if len(r.Resources.Hosts) > 16 || len(r.Resources.IPs) > maxResourceIPs || len(r.Evidence) > 10 {
			t.Fatalf("unbounded: %d hosts, %d IPs, %d records", len(r.Resources.Hosts), len(r.Resources.IPs), len(r.Evidence))
		}
		for _, h := range r.Resources.Hosts {
			if h == "" || !utf8.ValidString(h) {
				t.Fatalf("bad host %q", h)
			}
		}
		for _, m := range r.Mitigations {
			switch m.Action {
			case MitigationBlock, MitigationIsolate, MitigationStop, MitigationTerminate:
			default:
				t.Fatalf("mitigation action %q", m.Action)
			}
		}
		if !r.AbuseTime.IsZero() && !saneTime(r.AbuseTime) {
			t.Fatalf("abuse time %v out of range", r.AbuseTime)
		}
	})
}

// FuzzReportTypeKind reads AbuseHUB-style CSVs for their report_type
// column: no panic, a kind of the known ones or "".
func FuzzReportTypeKind(f *testing.F) {
	f.Add([]byte("report_type,src_ip,event_date,event_time\nShadowserver Botnet Drone,192.0.2.1,2026-11-20,22:14:05\n"))
	f.Add([]byte("\ufeffreport_type\n\"Spamhaus Bot Report\"\n\"unterminated\n"))
	f.Add([]byte("a,b\n1,2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		switch k := reportTypeKind(b); k {
		case "", KindPortScan, KindIntrusion, KindDDoS, KindSpam, KindMalware, KindPhishing, KindCopyright, KindOther:
		default:
			t.Fatalf("kind %q", k)
		}
	})
}
