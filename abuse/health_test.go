package abuse

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var healthCase = formatCase{
	dir:     "health",
	samples: []string{"eventbridge-portscan.json", "describe-event-details.json", "stream.jsonl"},
	parse:   ParseAWSHealth,
	formats: []string{healthFormat},
	sources: []Source{SourceAWSHealth},
}

func TestParseAWSHealthGolden(t *testing.T) { checkFormatGolden(t, healthCase, true) }

// TestParseAWSHealth checks the mapping of an AWS Health abuse event: the
// description read as a notice (case, abuse time, the forwarded log), the
// event's fields for account, region, instance and kind.
func TestParseAWSHealth(t *testing.T) {
	data, err := os.ReadFile("testdata/health/eventbridge-portscan.json")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := Parse(context.Background(), bytes.NewReader(data))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%d reports, err %v", len(reps), err)
	}
	r := reps[0]
	type facts struct {
		Source             Source
		Kind               Kind
		Case, Account, Reg string
		Instances          []string
		IPs                []netip.Addr
		Abuse, Received    time.Time
		Evidence           int
		Role               string
	}
	want := facts{SourceAWSHealth, KindPortScan, "17001234567", "123456789012", "ap-northeast-2", []string{"i-0123456789abcdef0"},
		[]netip.Addr{netip.MustParseAddr("13.125.40.201")}, time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), time.Date(2023, 4, 27, 16, 20, 31, 0, time.UTC), 3, RoleActor}
	got := facts{r.Source, r.Kind, r.CaseID, r.AccountID, r.Resources.Region, r.Resources.InstanceIDs, r.Resources.IPs, r.AbuseTime, r.Received, r.EvidenceCount, r.Role}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for code, want := range map[string]Kind{
		"AWS_ABUSE_EC2_PORT_SCANNING_REPORT": KindPortScan, "AWS_ABUSE_EC2_INTRUSION_ATTEMPT_REPORT": KindIntrusion,
		"AWS_ABUSE_DOS_REPORT": KindDDoS, "AWS_ABUSE_EC2_EMAIL_SPAM_REPORT": KindSpam, "AWS_ABUSE_EC2_PHISHING_REPORT": KindPhishing,
		"AWS_ABUSE_EC2_COPYRIGHT_DMCA_REPORT": KindCopyright, "AWS_ABUSE_EC2_BOTNET_REPORT": KindMalware, "AWS_ABUSE_EC2_OPEN_PROXY_REPORT": KindOther,
	} {
		if got := HealthKind(code); got != want {
			t.Errorf("HealthKind(%s) = %s, want %s", code, got, want)
		}
	}
}

func FuzzAWSHealth(f *testing.F) {
	f.Add([]byte(`{"source":"aws.health","detail":{"eventTypeCode":"AWS_ABUSE_DOS_REPORT","startTime":"0000-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"successfulSet":[{"event":{"eventTypeCode":"AWS_ABUSE_X","startTime":1e300}}]}`))
	fuzzFormat(f, healthCase, Limits{MaxBytes: 1 << 20}, func(t *testing.T, r Report) {
		if r.Provider != ProviderAWS {
			t.Fatalf("provider %q", r.Provider)
		}
	})
}
