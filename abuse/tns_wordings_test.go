package abuse

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTnsWordings reads the notices in the wordings AWS Trust & Safety
// uses besides the seed's: "AWS ID … EC2 Instance Id: i-… [ip]" with
// "attempts to access remote hosts … without authorization" (intrusion),
// the HTML-only windows-1252 quoted-printable form of the same notice,
// "from account N", "Account: N", and "Blocked all traffic, allowing
// administrative access only" (an isolation).
func TestTnsWordings(t *testing.T) {
	type facts struct {
		Kind        Kind
		CaseID      string
		AccountID   string
		Region      string
		Instances   []string
		IPs         []netip.Addr
		AbuseTime   time.Time
		Deadline    time.Time
		Evidence    int
		Mitigations []Mitigation
	}
	ip := netip.MustParseAddr("52.18.77.140")
	intrusion := facts{Kind: KindIntrusion, CaseID: "17009876543", AccountID: "123456789012", Region: "eu-west-1",
		Instances: []string{"i-0c29aa11bb22cc33d"}, IPs: []netip.Addr{ip}, AbuseTime: time.Date(2026, 11, 14, 3, 12, 40, 0, time.UTC),
		Evidence: 3, Mitigations: []Mitigation{}}
	tests := []struct {
		file string
		want facts
	}{
		{"intrusion-notice.eml", intrusion},
		{"intrusion-notice-html-cp1252.eml", intrusion},
		{"followup-from-account.eml", facts{Kind: KindIntrusion, CaseID: "17009876543", AccountID: "123456789012",
			Instances: []string{"i-0c29aa11bb22cc33d"}, IPs: []netip.Addr{}, Deadline: time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC), Mitigations: []Mitigation{}}},
		{"mitigation-isolate.eml", facts{Kind: KindOther, CaseID: "17009876543", AccountID: "123456789012",
			Instances: []string{"i-0c29aa11bb22cc33d"}, IPs: []netip.Addr{},
			Mitigations: []Mitigation{{Action: MitigationIsolate, Direction: "all", Proto: "all"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := parseOneFile(t, "testdata/trust-and-safety/"+tt.file)
			got := facts{Kind: r.Kind, CaseID: r.CaseID, AccountID: r.AccountID, Region: r.Resources.Region, Instances: r.Resources.InstanceIDs,
				IPs: r.Resources.IPs, AbuseTime: r.AbuseTime, Deadline: r.Deadline, Evidence: r.EvidenceCount, Mitigations: r.Mitigations}
			if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if r.Source != SourceTrustAndSafety || len(r.Warnings) != 0 {
				t.Errorf("source %s, warnings %v", r.Source, r.Warnings)
			}
		})
	}
}

// TestTnsHypotheticalMitigation: what AWS may do is no mitigation.
func TestTnsHypotheticalMitigation(t *testing.T) {
	for _, line := range []string{
		"If you do not respond, we may block outbound traffic on port 22.",
		"Failure to respond could lead to blocked all traffic to the instance.",
		"AWS will block inbound and outbound traffic if the activity continues.",
	} {
		reps, err := ParseTrustAndSafety(context.Background(), stringsReader("AWS Trust & Safety\nInstance: i-0c29aa11bb22cc33d\n"+line+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if m := reps[0].Mitigations; len(m) != 0 {
			t.Errorf("%q: mitigations %+v", line, m)
		}
	}
	reps, err := ParseTrustAndSafety(context.Background(), stringsReader("AWS Trust & Safety\nBlocked INBOUND and OUTBOUND UDP traffic on port 123\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Mitigation{{Action: MitigationBlock, Direction: "all", Proto: "udp", Port: 123}}, reps[0].Mitigations); d != "" {
		t.Errorf("inbound and outbound (-want +got):\n%s", d)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestTnsLegacyBullets: the older notice ("Dear Amazon EC2 Customer",
// "Instance Id:", "IP Address:", "Case number:") lists the reporter's
// fields as bullets ("* Abuse Time: …").
func TestTnsLegacyBullets(t *testing.T) {
	r := parseOneFile(t, "testdata/trust-and-safety/legacy-intrusion-bullets.eml")
	if r.Source != SourceTrustAndSafety || r.Kind != KindIntrusion || r.CaseID != "12812792268" ||
		!r.AbuseTime.Equal(time.Date(2015, 10, 11, 22, 27, 0, 0, time.UTC)) || len(r.Resources.InstanceIDs) != 1 || len(r.Resources.IPs) != 1 {
		t.Errorf("%+v", r)
	}
}
