package abuse

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExposuresOf(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []Exposure
	}{
		{"ALL         0.0.0.0/0", []Exposure{{0, "all", "0.0.0.0/0"}}},
		{"TCP 22 0.0.0.0/0", []Exposure{{22, "tcp", "0.0.0.0/0"}}},
		{"3389 ::/0", []Exposure{{3389, "tcp", "::/0"}}},
		{"udp  53  0.0.0.0/0", []Exposure{{53, "udp", "0.0.0.0/0"}}},
		{"tcp/80-82 0.0.0.0/0", []Exposure{{80, "tcp", "0.0.0.0/0"}, {81, "tcp", "0.0.0.0/0"}, {82, "tcp", "0.0.0.0/0"}}},
		{"0.0.0.0/0 22/tcp", []Exposure{{22, "tcp", "0.0.0.0/0"}}},
		{"TCP 0-65535 0.0.0.0/0", []Exposure{{0, "tcp", "0.0.0.0/0"}}},
		{"-1 0.0.0.0/0", []Exposure{{1, "tcp", "0.0.0.0/0"}}[:0]},
		{"any 10.0.0.0/8", []Exposure{{0, "all", "10.0.0.0/8"}}},
		{"ports open to the public (0.0.0.0/0).", nil},
		{"0.0.0.0/0", nil},
		{"TCP 22 0.0.0.0/0 ::/0", nil},
		{"see 1.2.3.4/32 for tcp", nil},
	} {
		got, ok := exposuresOf(tc.line)
		if tc.line == "-1 0.0.0.0/0" { // "-1" alone is AWS's "all protocols"
			tc.want = []Exposure{{0, "all", "0.0.0.0/0"}}
		}
		if ok != (tc.want != nil) {
			t.Errorf("%q: ok = %v, want %v (%v)", tc.line, ok, tc.want != nil, got)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q: -want +got\n%s", tc.line, diff)
		}
	}
}

func TestNoticeFields(t *testing.T) {
	ref := time.Date(2023, 4, 28, 18, 2, 11, 0, time.UTC)
	for _, tc := range []struct {
		name, text string
		check      func(t *testing.T, r Report)
	}{
		{"mitigation on several ports", "AWS Trust & Safety\nBlocked OUTBOUND TCP traffic from instance to remote hosts on ports 22, 25 and 3389\n", func(t *testing.T, r Report) {
			want := []Mitigation{{"block", "outbound", "tcp", 22}, {"block", "outbound", "tcp", 25}, {"block", "outbound", "tcp", 3389}}
			if diff := cmp.Diff(want, r.Mitigations); diff != "" {
				t.Error(diff)
			}
		}},
		{"mitigation without proto or port", "AWS Trust & Safety\nWe have blocked inbound traffic to the instance i-0123456789abcdef0.\n", func(t *testing.T, r Report) {
			if diff := cmp.Diff([]Mitigation{{"block", "inbound", "all", 0}}, r.Mitigations); diff != "" {
				t.Error(diff)
			}
		}},
		{"stopped instance, not a threat to", "AWS Trust & Safety\nFailure to respond may lead to the instance being stopped.\nWe have stopped the instance i-0123456789abcdef0.\n", func(t *testing.T, r Report) {
			if diff := cmp.Diff([]Mitigation{{Action: "stop"}}, r.Mitigations); diff != "" {
				t.Error(diff)
			}
		}},
		{"quoted reply and several instance lines", "> AWS ID: 123456789012 Region: us-west-2 EC2 Instance Id: i-0aaaaaaaaaaaaaaaa, i-0bbbbbbbbbbbbbbbb\n> EC2 Instance Id: i-0aaaaaaaaaaaaaaaa\n> Case Number: 17001234567-3\n> Reported Activity: SSH brute force\n> Abuse Time: Thu, 27 Apr 2023 14:46:47 PDT\n> please respond within 2 days\n", func(t *testing.T, r Report) {
			if diff := cmp.Diff([]string{"i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"}, r.Resources.InstanceIDs); diff != "" {
				t.Error(diff)
			}
			if r.AccountID != "123456789012" || r.Resources.Region != "us-west-2" || r.CaseID != "17001234567" || r.Kind != KindIntrusion {
				t.Errorf("%+v", r)
			}
			if want := time.Date(2023, 4, 27, 21, 46, 47, 0, time.UTC); !r.AbuseTime.Equal(want) {
				t.Errorf("abuse time %v, want %v", r.AbuseTime, want)
			}
			if want := ref.Add(48 * time.Hour); !r.Deadline.Equal(want) {
				t.Errorf("deadline %v, want %v", r.Deadline, want)
			}
		}},
		{"resource ARN", "AWS Trust & Safety\nImplicated resource: arn:aws:ec2:eu-central-1:123456789012:instance/i-0aaaaaaaaaaaaaaaa\n", func(t *testing.T, r Report) {
			if r.AccountID != "123456789012" || r.Resources.Region != "eu-central-1" || len(r.Resources.InstanceIDs) != 1 || r.Resources.InstanceIDs[0] != "i-0aaaaaaaaaaaaaaaa" {
				t.Errorf("%+v", r)
			}
		}},
		{"required actions list", "AWS Trust & Safety\nRequired Actions: investigate root cause; stop the activity.; investigate root cause\n", func(t *testing.T, r Report) {
			if diff := cmp.Diff([]string{"investigate root cause", "stop the activity"}, r.RequiredActions); diff != "" {
				t.Error(diff)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reps, err := ParseTrustAndSafety(context.Background(), strings.NewReader(tc.text), WithReferenceTime(ref))
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 || reps[0].Source != SourceTrustAndSafety || reps[0].Provider != ProviderAWS {
				t.Fatalf("reports %+v", reps)
			}
			tc.check(t, reps[0])
		})
	}
}

func TestKindFromText(t *testing.T) {
	for in, want := range map[string]Kind{
		"Port Scanning":                KindPortScan,
		"Recon:EC2/Portscan":           KindPortScan,
		"SSH brute force":              KindIntrusion,
		"RDP Brute-Force scanning":     KindIntrusion,
		"DDoS":                         KindDDoS,
		"UDP flood":                    KindDDoS,
		"Email Abuse (spam)":           KindSpam,
		"Phishing website":             KindPhishing,
		"Hosting malware":              KindMalware,
		"Cryptocurrency mining":        KindMalware,
		"DMCA copyright infringement":  KindCopyright,
		"Something we cannot classify": KindOther,
		"activity which resembles scanning remote hosts": KindPortScan,
	} {
		if got := kindFromText(in); got != want {
			t.Errorf("kindFromText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLooseTime(t *testing.T) {
	want := time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC)
	for _, in := range []string{
		"27 Apr 2023 14:46:47 GMT",
		"27 Apr 2023 14:46:47",
		"Thu, 27 Apr 2023 14:46:47 +0000",
		"Thu, 27 Apr 2023 23:46:47 KST",
		"2023-04-27T14:46:47Z",
		"2023-04-27T16:46:47+02:00",
		"2023-04-27 14:46:47 UTC",
		"2023-04-27 10:46:47 EDT",
		"Thu Apr 27 14:46:47 2023",
		"Thu Apr 27 14:46:47 UTC 2023",
		"April 27, 2023 14:46:47 UTC",
		"27 Apr 2023 14:46:47 GMT.",
	} {
		got, ok := parseLooseTime(in)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseLooseTime(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "soon", "27 Foo 2023", "yesterday 14:46"} {
		if got, ok := parseLooseTime(in); ok {
			t.Errorf("parseLooseTime(%q) = %v, want failure", in, got)
		}
	}
}

func TestIncidentID(t *testing.T) {
	r := Report{Provider: "aws", Source: SourceGuardDuty, Kind: KindPortScan, AccountID: "123456789012",
		Resources: Resources{InstanceIDs: []string{"i-b", "i-a"}}, AbuseTime: time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC)}
	id := IncidentID(r)
	if !strings.HasPrefix(id, "r-") || len(id) != 18 {
		t.Fatalf("IncidentID = %q", id)
	}
	// Stable: evidence and order of instances do not change it.
	r2 := r
	r2.Resources.InstanceIDs = []string{"i-a", "i-b"}
	r2.Evidence = []Evidence{{Raw: "x"}}
	r2.EvidenceCount = 1
	if got := IncidentID(r2); got != id {
		t.Errorf("IncidentID changed: %q vs %q", got, id)
	}
	r2.AbuseTime = r2.AbuseTime.Add(time.Second)
	if got := IncidentID(r2); got == id {
		t.Errorf("a different abuse time gives the same ID %q", got)
	}
	for in, want := range map[string]string{"17001234567": "17001234567", " Case_ABC/1 ": "case-abc-1", "..": ""} {
		r := Report{CaseID: in}
		got := IncidentID(r)
		if want == "" {
			if !strings.HasPrefix(got, "r-") {
				t.Errorf("IncidentID(case %q) = %q, want a hash", in, got)
			}
		} else if got != want {
			t.Errorf("IncidentID(case %q) = %q, want %q", in, got, want)
		}
	}
	if c := caseFromSubject("RE: Your EC2 Abuse Report [17001234567] [AWS ID 123456789012]"); c != "17001234567" {
		t.Errorf("caseFromSubject = %q", c)
	}
	if c := caseFromSubject("[Case 17001234567-2] abuse"); c != "17001234567" {
		t.Errorf("caseFromSubject = %q", c)
	}
}

// A column log pasted without its notice keeps the protocol its header
// names, and the lines after the header are read as one log.
func TestPastedColumnLog(t *testing.T) {
	text := "instance i-0123456789abcdef0 got this from AWS:\n" +
		"(attacker's IP) (IP being scanned) (TCP port being scanned)\n>>>\n" +
		"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n" +
		"13.125.40.201  192.0.2.16  23  Thu Apr 27 14:46:48 2023\n"
	reps, err := ParsePlain(context.Background(), strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if r.EvidenceCount != 2 || r.Evidence[0].Proto != "tcp" || r.Evidence[1].DstPort != 23 || r.Kind != KindPortScan {
		t.Errorf("%+v", r)
	}
	if len(r.Resources.InstanceIDs) != 1 || len(r.Resources.IPs) != 1 || r.Resources.IPs[0].String() != "13.125.40.201" {
		t.Errorf("resources %+v", r.Resources)
	}
}

func TestInlineForwardHeader(t *testing.T) {
	outer := "From: kim@example.com\nSubject: FW: abuse\nDate: Fri, 28 Apr 2023 20:10:00 +0200\n\n"
	for _, tc := range []struct {
		name, block     string
		reporter, recvd string
	}{
		{"outlook", "-----Original Message-----\nFrom: AWS Trust & Safety <ec2-abuse@amazon.com>\nSent: Friday, April 28, 2023 8:02 PM\nTo: admin@example.com\nSubject: RE: Your EC2 Abuse Report [17001234567]\n", "ec2-abuse@amazon.com", "2023-04-28T18:02:00Z"},
		{"apple mail", "Begin forwarded message:\n\nFrom: AWS Trust & Safety <ec2-abuse@amazon.com>\nSubject: RE: Your EC2 Abuse Report [17001234567]\nDate: April 28, 2023 at 8:02:11 PM GMT+2\nTo: admin@example.com\n", "ec2-abuse@amazon.com", "2023-04-28T18:02:11Z"},
		{"start line alone", "Begin forwarded message:\n\n", "kim@example.com", "2023-04-28T18:10:00Z"},
		{"rfc 5322 date", "---------- Forwarded message ---------\nFrom: ec2-abuse@amazon.com\nDate: Fri, 28 Apr 2023 18:02:11 +0000\n", "ec2-abuse@amazon.com", "2023-04-28T18:02:11Z"},
		{"a colleague's forward is not the notice", "---------- Forwarded message ---------\nFrom: Lee <lee@example.com>\nDate: Fri, 28 Apr 2023 09:00:00 +0000\n", "kim@example.com", "2023-04-28T18:10:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := outer + tc.block + "\nAWS Trust & Safety\nCase Number: 17001234567-1\nwithin 24 hours\n"
			reps, err := ParseMail(context.Background(), strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			r := reps[0]
			if r.Reporter != tc.reporter || r.Received.Format(time.RFC3339) != tc.recvd || !r.Deadline.Equal(r.Received.Add(24*time.Hour)) {
				t.Errorf("reporter %q received %v deadline %v", r.Reporter, r.Received, r.Deadline)
			}
		})
	}
}

// TestKindFromEvidence: a log of login attempts (sshd, fail2ban, by the
// scanner's layout, or by their text when pasted alone) is an intrusion; a
// connection log is a port scan, whether to one port or many.
func TestKindFromEvidence(t *testing.T) {
	sshd := "Apr 27 14:46:47 web1 sshd[1234]: Invalid user oracle from 203.0.113.7 port 50123\n" +
		"Apr 27 14:46:49 web1 sshd[1234]: Failed password for invalid user oracle from 203.0.113.7 port 50123 ssh2\n"
	f2b := "2023-04-27 14:46:47,123 fail2ban.filter         [812]: INFO    [sshd] Found 203.0.113.7 - 2023-04-27 14:46:47\n" +
		"2023-04-27 14:46:49,456 fail2ban.filter         [812]: INFO    [sshd] Found 203.0.113.7 - 2023-04-27 14:46:49\n"
	cols22 := "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n13.125.40.201  192.0.2.16  22  Thu Apr 27 14:46:48 2023\n"
	colsMany := "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n13.125.40.201  192.0.2.15  3389  Thu Apr 27 14:46:48 2023\n"
	tests := []struct {
		name string
		in   string
		want Kind
	}{
		{"sshd log", sshd, KindIntrusion},
		{"fail2ban log", f2b, KindIntrusion},
		{"column log, one port", cols22, KindPortScan},
		{"column log, two ports", colsMany, KindPortScan},
		{"pasted notice with an sshd line", "AWS Trust & Safety\nCase Number: 17001234567-1\n\n" + sshd, KindIntrusion},
	}
	ref := WithReferenceTime(time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParseLog
			if strings.HasPrefix(tt.in, "AWS") {
				parse = ParseTrustAndSafety
			}
			reps, err := parse(context.Background(), strings.NewReader(tt.in), ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 || reps[0].Kind != tt.want || reps[0].EvidenceCount != 2 {
				t.Fatalf("got %d reports %+v; want one of kind %q with 2 records", len(reps), reps, tt.want)
			}
		})
	}
}
