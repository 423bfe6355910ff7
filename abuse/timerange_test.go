package abuse

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/abuse/evidence"
)

// TestReportTimeRange feeds every parser that reads a report time a date
// outside 1970–2199: the strict formats reject it with ErrTimeRange, loose
// text ignores it, and no report ever holds a time that does not marshal
// (year 0 used to become the reference year of syslog times, giving
// evidence in year -1).
func TestReportTimeRange(t *testing.T) {
	const sshdDec = "Dec 31 23:00:05 h sshd[1]: Failed password for root from 192.0.2.7 port 4 ssh2"
	arfHdr := "From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nspam from 192.0.2.9\r\n"
	tests := []struct {
		name    string
		parse   parseFunc
		in      string
		opts    []Option
		wantErr bool // an error wrapping ErrTimeRange
	}{
		{"x-arf v2 year 0", ParseXARF, `{"Version":"2","Report":{"ReportType":"login-attack","Date":"0000-01-01 00:00:00","SourceIp":"192.0.2.1","Samples":[{"ContentType":"text/plain","Payload":"` + sshdDec + `"}]}}`, nil, true},
		{"x-arf v4 year 0 +01:00", ParseXARF, `{"xarf_version":"4.0.0","category":"connection","type":"port_scan","source_identifier":"192.0.2.1","first_seen":"0000-01-01T00:00:00+01:00"}`, nil, true},
		{"x-arf v4 year 9999", ParseXARF, `{"xarf_version":"4.0.0","category":"connection","type":"port_scan","source_identifier":"192.0.2.1","timestamp":"9999-12-31T23:00:00-05:00"}`, nil, true},
		{"x-arf mail year 0", ParseXARF, "X-XARF: PLAIN\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nhi\r\n--q\r\n\r\nReported-From: a@b.example\r\nReport-Type: login-attack\r\nSource: 192.0.2.7\r\nDate: 0000-01-01 00:00:00\r\n--q\r\n\r\n" + sshdDec + "\r\n--q--\r\n", nil, true},
		{"guardduty year 0", ParseGuardDuty, `{"schemaVersion":"2.0","accountId":"123456789012","type":"Recon:EC2/Portscan","resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0123456789abcdef0"}},"createdAt":"0000-01-01T00:00:00+01:00"}`, nil, true},
		{"arf year 100", ParseARF, arfHdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nSource-IP: 192.0.2.9\r\nArrival-Date: Thu, 1 Jan 0100 00:00:00 +0100\r\n--q--\r\n", nil, true},
		{"notice abuse time year 0", ParseTrustAndSafety, "AWS Trust & Safety\nAbuse Time: 0000-01-01 00:00:00 +0100\nInstance: i-0123456789abcdef0\n" + sshdDec + "\n", nil, false},
		{"mail date year 1", ParseMail, "From: ec2-abuse@amazon.com\r\nSubject: x\r\nDate: Mon, 1 Jan 0001 00:30:00 +0100\r\n\r\nPlease respond within 24 hours.\r\nInstance: i-0123456789abcdef0\r\n" + sshdDec + "\r\n", nil, false},
		{"reference year 0", ParseLog, sshdDec + "\n" + sshdDec + "\n", []Option{WithReferenceTime(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))}, false},
		{"reference year 9999", ParseTrustAndSafety, "AWS Trust & Safety\nwithin 999 days\nInstance: i-0123456789abcdef0\n", []Option{WithReferenceTime(time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := tt.parse(context.Background(), strings.NewReader(tt.in), tt.opts...)
			if tt.wantErr {
				if !errors.Is(err, ErrTimeRange) {
					t.Fatalf("err = %v; want ErrTimeRange (%d reports)", err, len(reps))
				}
				return
			}
			if err != nil || len(reps) != 1 {
				t.Fatalf("%d reports, err %v", len(reps), err)
			}
			r := reps[0]
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("report does not marshal: %v", err)
			}
			for _, x := range []time.Time{r.AbuseTime, r.Received, r.Deadline} {
				if !x.IsZero() && !saneTime(x) {
					t.Errorf("report time %v out of range", x)
				}
			}
		})
	}
}

// TestEvidenceReferenceOutOfRange: a Reference whose year would put
// year-less times outside 0–9999 counts as zero (now).
func TestEvidenceReferenceOutOfRange(t *testing.T) {
	for _, y := range []int{0, 5, 9999} {
		ref := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		r, ok := evidence.ParseLine([]byte("Dec 31 23:00:05 h sshd[1]: Failed password for root from 192.0.2.7 port 4 ssh2"), evidence.Options{Reference: ref})
		if !ok {
			t.Fatal("line not read")
		}
		if b, err := json.Marshal(r); err != nil || r.Time.Year() < 1970 {
			t.Errorf("reference year %d: time %v, json %s, err %v", y, r.Time, b, err)
		}
	}
}
