package abuse

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogTimeZones: a log time without a zone takes the zone the report
// states (a note, else the mail's Date), never UTC silently.
func TestLogTimeZones(t *testing.T) {
	const line = "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n"
	mail := func(date, body string) string {
		return "From: reports@scanwatch.example\r\nSubject: port scan from 13.125.40.201\r\nDate: " + date + "\r\n\r\n" + body
	}
	tests := []struct {
		name     string
		parse    parseFunc
		in       string
		want     time.Time // the record's time
		wantWarn bool      // a WarnTimeZone warning
	}{
		{"note UTC beats the Date", ParseMail, mail("Thu, 27 Apr 2023 23:50:00 +0900", "The log of TCP port scans (time zone is UTC):\n"+line),
			time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), false},
		{"Date's zone", ParseMail, mail("Thu, 27 Apr 2023 23:50:00 +0900", "Scans from your network:\n"+line),
			time.Date(2023, 4, 27, 5, 46, 47, 0, time.UTC), false},
		{"fail2ban note", ParsePlain, "Note: Local timezone is +0100 (CET)\n" + line,
			time.Date(2023, 4, 27, 13, 46, 47, 0, time.UTC), false},
		{"all times are CEST", ParsePlain, "All times are in CEST.\n" + line,
			time.Date(2023, 4, 27, 12, 46, 47, 0, time.UTC), false},
		{"Pacific Time, daylight saving", ParsePlain, "Times are Pacific Time.\n" + line,
			time.Date(2023, 4, 27, 21, 46, 47, 0, time.UTC), false},
		{"IANA zone", ParsePlain, "Timezone: Europe/Berlin\n" + line,
			time.Date(2023, 4, 27, 12, 46, 47, 0, time.UTC), false},
		{"nothing said", ParsePlain, "port scans from your network\n" + line,
			time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), true},
		{"zone in the line", ParsePlain, "port scans from your network\n13.125.40.201  192.0.2.15  22  2023-04-27T14:46:47Z\n",
			time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := tt.parse(context.Background(), strings.NewReader(tt.in))
			if err != nil || len(reps) != 1 || len(reps[0].Evidence) != 1 {
				t.Fatalf("%d reports, err %v", len(reps), err)
			}
			r := reps[0]
			if got := r.Evidence[0].Time; !got.Equal(tt.want) {
				t.Errorf("time %v, want %v", got, tt.want)
			}
			if got := hasWarning(r.Warnings, WarnTimeZone); got != tt.wantWarn {
				t.Errorf("time-zone warning %v, want %v (%v)", got, tt.wantWarn, r.Warnings)
			}
		})
	}
}

// TestProseTimes: abuse times written in prose with a named zone.
func TestProseTimes(t *testing.T) {
	for in, want := range map[string]time.Time{
		"November 14, 2026 3:12:40 AM Pacific Time":    time.Date(2026, 11, 14, 11, 12, 40, 0, time.UTC),
		"June 3, 2026 at 3:12 PM (Pacific Time)":       time.Date(2026, 6, 3, 22, 12, 0, 0, time.UTC),
		"2026-06-03 15:12:00 Europe/Berlin":            time.Date(2026, 6, 3, 13, 12, 0, 0, time.UTC),
		"Jun 3, 2026 3:12 PM Eastern Daylight Time":    time.Date(2026, 6, 3, 19, 12, 0, 0, time.UTC),
		"27 Apr 2023 14:46:47 GMT":                     time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC),
		"Monday, January 5, 2026 9:00 AM Central Time": time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC),
	} {
		got, ok := parseLooseTime(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseLooseTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

// TestNoticeJoinsWrappedLines: a log line in a notice's text (not after a
// forwarded-report marker) that a mail client wrapped is read whole; a
// blank line between two lines keeps them apart.
func TestNoticeJoinsWrappedLines(t *testing.T) {
	in := "Our SSH honeypot recorded the following login attempts from your network:\n" +
		"Nov 14 03:12:40 hp1 sshd[20411]: Failed password for invalid user oracle from\n" +
		"52.18.77.140 port 40112 ssh2\n" +
		"Nov 14 03:12:43 hp1 sshd[20411]: Failed password for invalid user oracle from\n" +
		"\n" +
		"52.18.77.140 port 40113 ssh2\n"
	reps, err := ParsePlain(context.Background(), strings.NewReader(in), WithReferenceTime(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	if r := reps[0]; r.EvidenceCount != 1 || r.Evidence[0].SrcPort != 40112 {
		t.Errorf("%d records: %+v", r.EvidenceCount, r.Evidence)
	}
}

// TestXARFLogZone: an X-ARF report's log times that name no zone take the
// zone of the report's date; when neither says one, they are read as UTC
// with a WarnTimeZone warning.
func TestXARFLogZone(t *testing.T) {
	const sample = `,"Samples":[{"ContentType":"text/plain","Payload":"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"}]}}`
	for _, tc := range []struct {
		date string
		want time.Time
		warn bool
	}{
		{"2023-04-27T15:00:00+02:00", time.Date(2023, 4, 27, 12, 46, 47, 0, time.UTC), false},
		{"2023-04-27T15:00:00Z", time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), false},
		{"2023-04-27 15:00:00", time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC), true},
	} {
		in := `{"Version":"2","Report":{"ReportType":"PortScan","Date":"` + tc.date + `","SourceIp":"13.125.40.201"` + sample
		reps, err := ParseXARF(context.Background(), strings.NewReader(in))
		if err != nil || len(reps) != 1 || len(reps[0].Evidence) != 1 {
			t.Fatalf("%s: %d reports, err %v", tc.date, len(reps), err)
		}
		if got := reps[0].Evidence[0].Time; !got.Equal(tc.want) || hasWarning(reps[0].Warnings, WarnTimeZone) != tc.warn {
			t.Errorf("%s: time %v (want %v), warnings %v (want time-zone %v)", tc.date, got, tc.want, reps[0].Warnings, tc.warn)
		}
	}
}

// TestFieldTimeZone: a notice's time field that names no zone ("Abuse
// Time: 2026-11-17 08:01:02", "Incident time: …", "observed on …") is in
// the zone the report states or its Date's, never silently UTC; with
// neither, it is read as UTC with a WarnTimeZone warning.
func TestFieldTimeZone(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     time.Time
		warn     bool
	}{
		{"abuse time, Date +0900", "From: ec2-abuse@amazon.com\nSubject: x\nDate: Tue, 17 Nov 2026 20:00:00 +0900\n\nAWS Trust & Safety\nAbuse Time: 2026-11-17 08:01:02\nInstance Id: i-0abc1234def567890\n",
			time.Date(2026, 11, 16, 23, 1, 2, 0, time.UTC), false},
		{"abuse time, zone stated", "From: ec2-abuse@amazon.com\nSubject: x\nDate: Tue, 17 Nov 2026 20:00:00 +0900\n\nAWS Trust & Safety\nAbuse Time: 2026-11-17 08:01:02 GMT\nInstance Id: i-0abc1234def567890\n",
			time.Date(2026, 11, 17, 8, 1, 2, 0, time.UTC), false},
		{"incident time, note says CET", "Incident ID: 401238845\nAll times are in CET\nIncident time: 2026-11-21 04:02:11\nIP address: 20.105.44.19\n",
			time.Date(2026, 11, 21, 3, 2, 11, 0, time.UTC), false},
		{"incident time (UTC)", "From: azure-noreply@microsoft.com\nSubject: x\nDate: Sat, 21 Nov 2026 06:18:44 -0800\n\nIncident time (UTC): 2026-11-21 04:02:11\nIP address: 20.105.44.19\n",
			time.Date(2026, 11, 21, 4, 2, 11, 0, time.UTC), false},
		{"pasted, no zone anywhere", "AWS Trust & Safety\nAbuse Time: 2026-11-17 08:01:02\nInstance Id: i-0abc1234def567890\n",
			time.Date(2026, 11, 17, 8, 1, 2, 0, time.UTC), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := Parse(context.Background(), strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			r := reps[0]
			if !r.AbuseTime.Equal(tt.want) {
				t.Errorf("abuse time %v, want %v", r.AbuseTime, tt.want)
			}
			if got := hasWarning(r.Warnings, WarnTimeZone); got != tt.warn {
				t.Errorf("time-zone warning %v, want %v (%v)", got, tt.warn, r.Warnings)
			}
		})
	}
}

// TestMailDateZoneAbbrev: a Date header with a zone abbreviation ("Tue, 19
// Jan 2016 14:32:49 EST", AOL's feedback-loop mails) is in that zone, not
// read as UTC (time.Parse gives an abbreviation it does not know offset
// zero); so are ARF's Arrival-Date and X-ARF's Date.
func TestMailDateZoneAbbrev(t *testing.T) {
	mail := "From: scomp@aol.net\nTo: abuse@example.net\nDate: Tue, 19 Jan 2016 14:32:49 EST\nSubject: Email Feedback Report for IP 192.0.2.1\n\n" +
		"This is an email abuse report for an email received from IP address 192.0.2.1\n"
	r := parseOneFile(t, writeTemp(t, mail))
	if want := time.Date(2016, 1, 19, 19, 32, 49, 0, time.UTC); !r.Received.Equal(want) {
		t.Errorf("Received %v, want %v", r.Received, want)
	}
	for in, want := range map[string]time.Time{
		"Tue, 19 Jan 2016 14:32:40 PST":         time.Date(2016, 1, 19, 22, 32, 40, 0, time.UTC),
		"Tue, 19 Jan 2016 14:32:40 -0500":       time.Date(2016, 1, 19, 19, 32, 40, 0, time.UTC),
		"Tue, 19 Jan 2016 14:32:40 GMT":         time.Date(2016, 1, 19, 14, 32, 40, 0, time.UTC),
		"Tue, 19 Jan 2016 14:32:40 +0000 (EST)": time.Date(2016, 1, 19, 14, 32, 40, 0, time.UTC),
	} {
		got, err := xarfTime("Date", in)
		if err != nil || !got.Equal(want) {
			t.Errorf("xarfTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func writeTemp(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.eml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
