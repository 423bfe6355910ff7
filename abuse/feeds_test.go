package abuse

import (
	"testing"
	"time"
)

// TestFeedMails reads SpamCop's report mail, a Cyscon key-value
// attachment, a Project Honey Pot digest and Netcraft's X-ARF over ARF.
func TestFeedMails(t *testing.T) {
	for _, tc := range []struct {
		file     string
		kind     Kind
		caseID   string
		ip       string
		abuse    time.Time
		evidence int
	}{
		{"spamcop-report.eml", KindSpam, "7299950015", "54.210.3.4", time.Date(2026, 11, 20, 14, 47, 3, 0, time.UTC), 0},
		{"cyscon-phishing.eml", KindPhishing, "", "54.210.3.4", time.Date(2026, 11, 21, 6, 41, 19, 0, time.UTC), 1},
		{"projecthoneypot-digest.eml", KindSpam, "", "54.210.3.4", time.Date(2026, 11, 21, 17, 12, 9, 0, time.UTC), 2},
		{"netcraft-xarf-over-arf.eml", KindMalware, "87654321", "54.210.3.4", time.Date(2026, 11, 22, 8, 29, 30, 0, time.UTC), 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := parseOneFile(t, "testdata/feeds/"+tc.file)
			if r.Kind != tc.kind || r.CaseID != tc.caseID || len(r.Resources.IPs) == 0 || r.Resources.IPs[0].String() != tc.ip ||
				!r.AbuseTime.Equal(tc.abuse) || r.EvidenceCount != tc.evidence || len(r.Warnings) != 0 {
				t.Errorf("%+v", r)
			}
		})
	}
}

// TestBlocklistDeXARF: Blocklist.de's X-ARF mail; its log lines name no
// zone and are read in the zone of the mail's Date (+0100), not as UTC.
func TestBlocklistDeXARF(t *testing.T) {
	r := parseOneFile(t, "testdata/feeds/blocklistde-xarf.eml")
	if r.Source != SourceXARF || r.Kind != KindIntrusion || r.CaseID != "1795396305@blocklist.de" || r.EvidenceCount != 2 ||
		!r.Evidence[0].Time.Equal(time.Date(2026, 11, 23, 1, 11, 40, 0, time.UTC)) || !r.AbuseTime.Equal(time.Date(2026, 11, 23, 1, 11, 45, 0, time.UTC)) {
		t.Errorf("%+v", r)
	}
}
