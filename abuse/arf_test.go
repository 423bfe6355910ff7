package abuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var arfCase = formatCase{
	dir:     "arf",
	samples: []string{"spam-abuse.eml", "phishing-fraud.eml", "abuse-malware-text.eml", "xarf-over-arf.eml", "auth-failure.eml"},
	parse:   ParseARF,
	formats: []string{arfFormat, xarfFormat},
	sources: []Source{SourceARF, SourceXARF},
}

func TestParseARFGolden(t *testing.T) { checkFormatGolden(t, arfCase, true) }

func TestParseARFFields(t *testing.T) {
	tests := map[string]struct {
		source            Source
		kind              Kind
		caseID, reporter  string
		abuse, received   time.Time
		ips, srcPort, raw string
		evidence          int
	}{
		"spam-abuse.eml": {SourceARF, KindSpam, "fbl-20261104073000-8812@mailbox-provider.example", "arf@mailbox-provider.example",
			time.Date(2026, 11, 4, 6, 41, 10, 0, time.UTC), time.Date(2026, 11, 4, 7, 30, 0, 0, time.UTC), "52.12.34.56", "0",
			"Feedback-Type: abuse; Source-IP: 52.12.34.56; Original-Mail-From: <promo@shop.example>; Original-Rcpt-To: <user@mailbox-provider.example>; Reported-Domain: shop.example; Reported-URI: http://shop.example/cheap-watches; Authentication-Results: mail.mailbox-provider.example; spf=fail smtp.mail=promo@shop.example; User-Agent: SomeGenerator/1.0; Subject: Cheap watches, 90% off", 1},
		"phishing-fraud.eml": {SourceARF, KindPhishing, "BP-2026-11-0042", "phish-reports@bank.example",
			time.Date(2026, 11, 5, 8, 58, 31, 0, time.UTC), time.Date(2026, 11, 5, 9, 15, 0, 0, time.UTC), "203.0.113.77", "49152", "", 1},
		"abuse-malware-text.eml": {SourceARF, KindMalware, "", "noc@isp.example",
			time.Date(2026, 11, 6, 11, 42, 0, 0, time.UTC), time.Date(2026, 11, 6, 12, 0, 0, 0, time.UTC), "198.51.100.201", "0", "", 1},
		"xarf-over-arf.eml": {SourceXARF, KindIntrusion, "", `"Abuse Feed" <feed@abusefeed.example>`,
			time.Date(2026, 11, 4, 5, 58, 0, 0, time.UTC), time.Date(2026, 11, 4, 6, 10, 0, 0, time.UTC), "52.12.34.56", "58112", "", 2},
		"auth-failure.eml": {SourceARF, KindOther, "", "dmarc-failures@receiver.example",
			time.Date(2026, 11, 7, 2, 51, 44, 0, time.UTC), time.Date(2026, 11, 7, 3, 0, 0, 0, time.UTC), "2001:db8:77::25", "0", "", 1},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "arf", name))
			if err != nil {
				t.Fatal(err)
			}
			reps, err := ParseARF(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 {
				t.Fatalf("%d reports, want 1", len(reps))
			}
			r := reps[0]
			var ips []string
			for _, a := range r.Resources.IPs {
				ips = append(ips, a.String())
			}
			if r.Source != w.source || r.Kind != w.kind || r.CaseID != w.caseID || r.Reporter != w.reporter ||
				!r.AbuseTime.Equal(w.abuse) || !r.Received.Equal(w.received) || strings.Join(ips, ",") != w.ips || r.EvidenceCount != w.evidence {
				t.Errorf("got source %q kind %q case %q reporter %q abuse %v received %v ips %v evidence %d\nwant %+v",
					r.Source, r.Kind, r.CaseID, r.Reporter, r.AbuseTime, r.Received, ips, r.EvidenceCount, w)
			}
			if got := fmt.Sprint(r.Evidence[0].SrcPort); got != w.srcPort {
				t.Errorf("src port %s, want %s", got, w.srcPort)
			}
			if w.raw != "" && r.Evidence[0].Raw != w.raw {
				t.Errorf("raw:\n got %q\nwant %q", r.Evidence[0].Raw, w.raw)
			}
		})
	}
}

func TestARFKind(t *testing.T) {
	tests := []struct {
		ft, text string
		want     Kind
	}{
		{"abuse", "This is an email abuse report.", KindSpam},
		{"Abuse", "", KindSpam},
		{"abuse", "The message links to a phishing site", KindPhishing},
		{"abuse", "contained a Trojan attachment", KindMalware},
		{"fraud", "", KindPhishing},
		{"virus", "", KindMalware},
		{"other", "ssh brute force from your host", KindIntrusion},
		{"other", "nothing specific", KindOther},
		{"not-spam", "phishing", KindOther},
		{"auth-failure", "", KindOther},
		{"", "", KindOther},
	}
	for _, tt := range tests {
		if got := ARFKind(tt.ft, tt.text); got != tt.want {
			t.Errorf("ARFKind(%q, %q) = %q, want %q", tt.ft, tt.text, got, tt.want)
		}
	}
}

func TestParseARFBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/arf/spam-abuse.eml")
	if err != nil {
		t.Fatal(err)
	}
	hdr := "From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"q\"\r\n\r\n"
	tests := []struct {
		name, in, errText string
		opts              []Option
		tooLarge          bool
	}{
		{"not arf", "From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n", "not an ARF report", nil, false},
		{"no feedback type", hdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nUser-Agent: x\r\nVersion: 1\r\n--q--\r\n", "without Feedback-Type", nil, false},
		{"bad port", hdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nSource-Port: http\r\n--q--\r\n", "Source-Port", nil, false},
		{"bad date", hdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nArrival-Date: the other day\r\n--q--\r\n", "Arrival-Date", nil, false},
		{"xarf without json", hdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: xarf\r\n--q--\r\n", "application/json", nil, false},
		{"xarf bad json", hdr + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: xarf\r\n--q\r\nContent-Type: application/json\r\n\r\n{\"Report\": [\r\n--q--\r\n", "x-arf", nil, false},
		{"too large", string(good), "more than", []Option{WithLimits(Limits{MaxBytes: 200})}, true},
		{"too many parts", hdr + strings.Repeat("--q\r\nContent-Type: text/plain\r\n\r\nx\r\n", 50) + "--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--q--\r\n", "parts", []Option{WithLimits(Limits{MaxParts: 10})}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseARF(context.Background(), strings.NewReader(tt.in), tt.opts...)
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("err = %v; want a *ParseError containing %q", err, tt.errText)
			}
			if pe.Format != "arf" && pe.Format != "x-arf" {
				t.Errorf("format %q", pe.Format)
			}
			if tt.tooLarge != errors.Is(err, ErrTooLarge) {
				t.Errorf("errors.Is(err, ErrTooLarge) = %v, want %v", !tt.tooLarge, tt.tooLarge)
			}
		})
	}
	// Truncated anywhere: an error or a report, never a panic.
	for i := 0; i < len(good); i += 37 {
		reps, err := ParseARF(context.Background(), bytes.NewReader(good[:i]))
		if err == nil && len(reps) != 1 {
			t.Fatalf("truncated at %d: %d reports and no error", i, len(reps))
		}
	}
}

func TestParseARFReportFunc(t *testing.T) {
	data, err := os.ReadFile("testdata/arf/xarf-over-arf.eml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	reps, err := ParseARF(context.Background(), bytes.NewReader(data),
		WithEvidenceFunc(func(e Evidence) error { got = append(got, "e:"+fmt.Sprint(e.SrcPort)); return nil }),
		WithReportFunc(func(r Report) error { got = append(got, fmt.Sprintf("r:%s:%d", r.Kind, r.EvidenceCount)); return nil }))
	if err != nil || len(reps) != 0 {
		t.Fatalf("%d reports, err %v", len(reps), err)
	}
	if want := "e:58112 e:58120 r:intrusion:2"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func FuzzARF(f *testing.F) { fuzzFormat(f, arfCase, Limits{MaxBytes: 1 << 20, MaxParts: 100}, nil) }

// TestParseARFMbox reads a feedback-loop mbox holding ARF and X-ARF mails
// through Parse.
func TestParseARFMbox(t *testing.T) {
	var b bytes.Buffer
	for _, n := range []string{"arf/spam-abuse.eml", "arf/phishing-fraud.eml", "xarf/v02-login-attack.eml", "arf/xarf-over-arf.eml"} {
		d, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("From MAILER-DAEMON Thu Nov  5 10:00:00 2026\n")
		b.Write(bytes.ReplaceAll(d, []byte("\r\n"), []byte("\n")))
		b.WriteString("\n")
	}
	reps, err := Parse(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reps {
		got = append(got, fmt.Sprintf("%s/%s/%d", r.Source, r.Kind, r.EvidenceCount))
	}
	if want := "arf/spam/1 arf/phishing/1 x-arf/intrusion/3 x-arf/intrusion/2"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}
