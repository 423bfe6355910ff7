package abuse

import (
	"context"
	"strings"
	"testing"
)

// TestTnsMarkerNotAddress: a reporter's mail that only quotes the address
// of AWS's abuse desk ("we have sent the same report to
// abuse@amazonaws.com") is not a Trust & Safety notice: it must not come
// out as Provider aws, Source trust-and-safety, Role actor.
func TestTnsMarkerNotAddress(t *testing.T) {
	r := parseOneFile(t, "testdata/mail/reporter-cites-aws-address.eml")
	if r.Provider == ProviderAWS || r.Source == SourceTrustAndSafety || r.Role == RoleActor {
		t.Errorf("reporter's mail read as an AWS notice: provider %q source %q role %q", r.Provider, r.Source, r.Role)
	}
	if r.Kind != KindIntrusion || r.EvidenceCount != 2 {
		t.Errorf("kind %q, %d evidence records; want intrusion, 2", r.Kind, r.EvidenceCount)
	}
	// The same words pasted without headers: plain text, not a notice.
	text := "We have sent this report to abuse@amazonaws.com and ec2-abuse@amazon.com too.\n2026-11-17 08:01:02 198.51.100.23:51234 -> 192.0.2.10:22 TCP\n"
	reps, err := Parse(context.Background(), strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Source == SourceTrustAndSafety || reps[0].Provider == ProviderAWS {
		t.Errorf("pasted text read as an AWS notice: provider %q source %q", reps[0].Provider, reps[0].Source)
	}
	// A notice sent by the desk still is one.
	mail := "From: Amazon EC2 Abuse <ec2-abuse@amazon.com>\nTo: ops@example.com\nSubject: Your EC2 Abuse Report [17001234567]\nDate: Tue, 17 Nov 2026 09:12:00 +0000\n\nHello,\n\nInstance Id: i-0abc1234def567890\n"
	reps, err = Parse(context.Background(), strings.NewReader(mail))
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Source != SourceTrustAndSafety || reps[0].Provider != ProviderAWS {
		t.Errorf("desk's notice: provider %q source %q", reps[0].Provider, reps[0].Source)
	}
}

// TestLogLike: the lines that skip the notice checks are bare log lines;
// any line that may hold a notice field (a label, a CIDR, a word) is not.
func TestLogLike(t *testing.T) {
	for line, want := range map[string]bool{
		"2026-11-17 08:01:02 198.51.100.7:51234 -> 192.0.2.10:22 TCP": true,
		"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023":     true,
		"159.65.10.20 41122 -> 192.0.2.80 22 60 TCP":                  true,
		"2026-11-17 08:01:02 blocked outbound traffic on port 22":     false,
		"22 0.0.0.0/0":                                           false,
		"123456789012: AWS ID":                                   false,
		"54.210.3.4  mail.cheap-watches.example":                 false,
		"54.210.3.4       Nov 20 14h/3     51     2     0     1": false, // a SpamCop summary row: read by its own reader
		"AWS ID: 123456789012":                                   false,
		"":                                                       false,
	} {
		if got := logLike([]byte(line)); got != want {
			t.Errorf("logLike(%q) = %v, want %v", line, got, want)
		}
	}
}
