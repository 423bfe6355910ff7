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
		// SpamCop's report: "Email from A / DATE" is its one record.
		{"spamcop-report.eml", KindSpam, "7299950015", "54.210.3.4", time.Date(2026, 11, 20, 14, 47, 3, 0, time.UTC), 1},
		// Cyscon: the case in the subject's "[CSIRT#…]".
		{"cyscon-phishing.eml", KindPhishing, "2026112110000042", "54.210.3.4", time.Date(2026, 11, 21, 6, 41, 19, 0, time.UTC), 1},
		// Project Honey Pot: several "  - DATE" lines under an address, the
		// spam's Subject and From under each (not records), 12-hour times
		// with a zone ("09:12AM PST").
		{"projecthoneypot-digest.eml", KindSpam, "", "54.210.3.4", time.Date(2026, 11, 21, 17, 12, 0, 0, time.UTC), 3},
		{"netcraft-xarf-over-arf.eml", KindMalware, "87654321", "54.210.3.4", time.Date(2026, 11, 22, 8, 29, 30, 0, time.UTC), 1},
		// SpamCop's summary: one record per row, its start ("Nov 20 14h",
		// no year, no zone) in the year and zone of the mail's Date (-0500).
		{"spamcop-summary.eml", KindSpam, "", "54.210.3.4", time.Date(2026, 11, 20, 19, 0, 0, 0, time.UTC), 2},
		// SpamCop's alert: the addresses, no time (the abuse time stays
		// unknown, not the mail's date).
		{"spamcop-alert.eml", KindSpam, "", "54.210.3.4", time.Time{}, 2},
		// AbuseHUB's CSV: the rows are evidence; the kind is the one most
		// rows' report_type names (Botnet Drone ×2, Spamhaus Bot: malware;
		// Open DNS Resolvers: one row), not portscan for many records.
		// Google Safe Browsing: its XML's url_info elements are records
		// (the ip attribute, else the URL's host); list type 0
		// (compromised, serving malware) first: malware; the report's
		// date as their time.
		{"google-safebrowsing.eml", KindMalware, "", "54.210.3.4", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 3},
		{"abusehub-csv.eml", KindMalware, "", "192.0.2.140", time.Date(2026, 11, 20, 22, 14, 5, 0, time.UTC), 4},
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

// TestReportTypeKind maps AbuseHUB's report types (the feed names of its
// CSV's report_type column) to kinds.
func TestReportTypeKind(t *testing.T) {
	for in, want := range map[string]Kind{
		"Shadowserver Botnet Drone":                    KindMalware,
		"Shadowserver Sinkhole HTTP Drone":             KindMalware,
		"Spamhaus Bot Report":                          KindMalware,
		"NCSC Ebury Infections":                        KindMalware,
		"Shadowserver Command and Control":             KindMalware,
		"Shadowserver Spam url":                        KindSpam,
		"Hotmail FBL":                                  KindSpam,
		"Shadowserver Open DNS Resolvers":              KindDDoS,
		"ShadowServer Open Redis Servers Report":       KindOther,
		"Shadowserver SSLv3/Poodle Vulnerable Servers": KindOther,
		"Shadowserver Compromised Website":             KindOther,
		"ACM":                                          "",
	} {
		if got := reportTypeKindOf(in); got != want {
			t.Errorf("reportTypeKindOf(%q) = %q, want %q", in, got, want)
		}
	}
	if got := reportTypeKind([]byte("src_ip,event_date\n192.0.2.1,2026-11-20\n")); got != "" {
		t.Errorf("CSV without report_type: %q", got)
	}
}

// TestCysconKind maps the names of Cyscon's feeds (the prefix of their
// <FEED>-report.txt attachments, AbuseIO/parser-cyscon's aliases) to kinds.
func TestCysconKind(t *testing.T) {
	for feed, want := range map[string]Kind{
		"spamvertized": KindSpam, "malware": KindMalware, "phish": KindPhishing, "fraud": KindPhishing, "scam": KindPhishing,
		"adware": KindMalware, "blacklisted": KindMalware, "malicious": KindMalware, "evil": KindMalware,
		"defacement": KindOther, "suspicious": KindOther,
	} {
		if got := cysconKind(feed); got != want {
			t.Errorf("cysconKind(%q) = %q, want %q", feed, got, want)
		}
	}
}
