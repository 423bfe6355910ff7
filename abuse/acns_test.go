package abuse

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestACNS reads an ACNS copyright notice whose XML is in the body: kind
// copyright, the case id, the infringement's TimeStamp as abuse time, the
// IP address and port as one record.
func TestACNS(t *testing.T) {
	r := parseOneFile(t, "testdata/acns/bittorrent-notice.eml")
	if r.Source != SourceACNS || r.Kind != KindCopyright || r.CaseID != "8820417" || r.Provider != "" ||
		!r.AbuseTime.Equal(time.Date(2026, 11, 15, 21, 3, 11, 0, time.UTC)) || r.EvidenceCount != 1 ||
		r.Evidence[0].SrcIP != netip.MustParseAddr("54.210.3.4") || r.Evidence[0].SrcPort != 51413 || r.Reporter != "notices@antipiracy-agent.example" {
		t.Errorf("%+v", r)
	}
	// Forwarded by AWS Trust & Safety: the notice's fields stay.
	data, _ := os.ReadFile("testdata/acns/bittorrent-notice.eml")
	fwd := strings.Replace(string(data), "From: Antipiracy Notices <notices@antipiracy-agent.example>", "From: ec2-abuse@amazon.com", 1)
	fwd = strings.Replace(fwd, "Dear Sir or Madam,", "AWS ID: 123456789012 Region: us-east-1 EC2 Instance Id: i-0123456789abcdef0\r\nCase Number: 17001112223-1\r\n---Beginning of forwarded report(s)---\r\nDear Sir or Madam,", 1)
	reps, err := Parse(context.Background(), strings.NewReader(fwd))
	if err != nil || len(reps) != 1 {
		t.Fatalf("forwarded: %d reports, err %v", len(reps), err)
	}
	if r := reps[0]; r.Source != SourceTrustAndSafety || r.Kind != KindCopyright || r.CaseID != "17001112223" || r.AccountID != "123456789012" || r.Provider != ProviderAWS {
		t.Errorf("forwarded: %+v", r)
	}
}

// TestACNSXMLAttachment: a notice in IP-Echelon's shape, its XML inline
// (no Start/End markers) and as an application/xml attachment: read, the
// attachment not reported as of an unknown type.
func TestACNSXMLAttachment(t *testing.T) {
	r := parseOneFile(t, "testdata/acns/xml-attachment-notice.eml")
	if r.Source != SourceACNS || r.Kind != KindCopyright || r.CaseID != "402215577" ||
		!r.AbuseTime.Equal(time.Date(2026, 11, 22, 21, 14, 9, 0, time.UTC)) || r.EvidenceCount != 1 || len(r.Warnings) != 0 {
		t.Errorf("%+v", r)
	}
}

func TestParseACNSBad(t *testing.T) {
	for _, in := range []string{"", "<Infringement>", "<Infringement></Infringement>", strings.Repeat("x", maxACNSBytes+1)} {
		if _, err := parseACNS([]byte(in)); err == nil {
			t.Errorf("%.20q accepted", in)
		}
	}
	if _, err := parseACNS([]byte(strings.Repeat("x", maxACNSBytes+1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large: %v", err)
	}
}

func FuzzACNS(f *testing.F) {
	data, _ := os.ReadFile("testdata/acns/bittorrent-notice.eml")
	f.Add(data)
	f.Add([]byte("Subject: x\r\n\r\n- - ---Start ACNS XML\r\n<Infringement><Source><IP_Address>1.2.3.4</IP_Address><Port>99999</Port><TimeStamp>0000-01-01T00:00:00Z</TimeStamp></Source></Infringement>\r\n- - ---End ACNS XML\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		reps, err := ParseMail(context.Background(), strings.NewReader(string(b)), WithLimits(fuzzLimits), WithMaxEvidence(10))
		checkReports(t, reps, err)
	})
}
