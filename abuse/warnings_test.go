package abuse

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWarnings: what a parser could not read or use becomes a typed
// warning on the report, in JSON too; nothing is dropped silently.
func TestWarnings(t *testing.T) {
	const hdr = "From: ec2-abuse@amazon.com\r\nTo: ops@example.com\r\nSubject: Your EC2 Abuse Report [17001234567]\r\nDate: Thu, 27 Apr 2023 15:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	const notice = "Hello,\r\n\r\nWe've received a report(s) that your AWS resource(s)\r\n\r\nAWS ID: 123456789012 Region: us-east-1 EC2 Instance Id: i-0123456789abcdef0\r\n\r\nhas been implicated in activity which resembles Port Scanning.\r\n"
	const log = "13.125.40.201 192.0.2.15 22 Thu Apr 27 14:46:47 2023\r\n13.125.40.201 192.0.2.16 23 Thu Apr 27 14:46:48 2023\r\n"
	mixed := func(parts ...string) string {
		s := hdr + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		for _, p := range parts {
			s += "--b\r\n" + p
		}
		return s + "--b--\r\n"
	}
	tests := []struct {
		name  string
		parse parseFunc
		in    string
		want  []Warning
	}{
		{"clean notice", ParseMail, hdr + "\r\n" + notice + log, []Warning{}},
		{"7z attachment", ParseMail, mixed(
			"Content-Type: text/plain\r\n\r\n"+notice,
			"Content-Type: application/x-7z-compressed; name=\"scan-log.7z\"\r\nContent-Disposition: attachment; filename=\"scan-log.7z\"\r\nContent-Transfer-Encoding: base64\r\n\r\nN3q8ryccAAQ=\r\n",
		), []Warning{{Code: WarnUnknownAttachment, Part: "part 2 (scan-log.7z, application/x-7z-compressed)", Message: "attachment of a type no reader knows: not read"}}},
		{"broken zip", ParseMail, mixed(
			"Content-Type: text/plain\r\n\r\n"+notice,
			"Content-Type: application/zip; name=\"scan-log.zip\"\r\nContent-Disposition: attachment; filename=\"scan-log.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBAoAAAAAAA==\r\n",
		), []Warning{{Code: WarnUnreadablePart, Part: "part 2 (scan-log.zip, application/zip)", Message: "zip attachment unreadable: zip: not a valid zip file"}}},
		{"inline logo is no attachment", ParseMail, mixed(
			"Content-Type: text/plain\r\n\r\n"+notice+log,
			"Content-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <logo@amazon>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
		), []Warning{}},
		{"broken base64 log", ParseMail, mixed(
			"Content-Type: text/plain\r\n\r\n"+notice,
			"Content-Type: text/plain; name=\"log.txt\"\r\nContent-Disposition: attachment; filename=\"log.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
		), []Warning{{Code: WarnUnreadablePart, Message: "broken base64 body (kept 0 decoded bytes): no decodable data"}}},
		{"unknown charset", ParseMail, hdr + "Content-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + notice + "caf\xe9\r\n" + log,
			[]Warning{{Code: WarnCharset, Message: `unknown charset "x-klingon": body kept as it is`}}},
		{"follow-up naming nothing", ParseMail, hdr + "\r\nWe have not received a response regarding the abuse report implicating resources on your account.\r\nReported Activity: Port Scanning\r\nAbuse Time: 27 Apr 2023 14:46:47 GMT\r\n",
			[]Warning{{Code: WarnNoEvidence, Message: "trust-and-safety report with no evidence and no instance, IP address, security group, project or host"}}},
		// A provider desk's or a known feed's mail that holds nothing
		// readable is a report with a warning, not an unknown format.
		{"provider notice with nothing readable", ParseMail, "From: Linode Support <support@linode.com>\r\nSubject: Abuse report\r\nDate: Mon, 23 Nov 2026 15:07:31 -0500\r\n\r\nPlease log in to the Cloud Manager to see this report.\r\n",
			[]Warning{{Code: WarnNoEvidence, Message: "plain report with no evidence and no instance, IP address, security group, project or host"}}},
		{"empty SpamCop summary", ParseMail, "From: summary@admin.spamcop.net\r\nSubject: [SpamCop] summary report\r\nDate: Mon, 23 Nov 2026 06:00:04 -0500\r\n\r\n IP_Address       Start/Length  Trap  User  Mole  Simp  Comments\r\n",
			[]Warning{{Code: WarnNoEvidence, Message: "plain report with no evidence and no instance, IP address, security group, project or host"}}},
		{"arf with a pdf", ParseARF, "From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nspam from 192.0.2.9\r\n--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nSource-IP: 192.0.2.9\r\n--q\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"evidence.pdf\"\r\n\r\n%PDF-1.4\r\n--q--\r\n",
			[]Warning{{Code: WarnUnknownAttachment, Part: "part 3 (evidence.pdf, application/pdf)", Message: "attachment of a type no reader knows: not read"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := tt.parse(context.Background(), strings.NewReader(tt.in))
			if err != nil || len(reps) != 1 {
				t.Fatalf("%d reports, err %v", len(reps), err)
			}
			auto, err := Parse(context.Background(), strings.NewReader(tt.in))
			if err != nil || len(auto) != 1 {
				t.Fatalf("Parse: %d reports, err %v", len(auto), err)
			}
			if d := cmp.Diff(tt.want, auto[0].Warnings); d != "" {
				t.Errorf("Parse: warnings (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.want, reps[0].Warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
			b, err := json.Marshal(reps[0])
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Warnings []Warning `json:"warnings"`
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Warnings == nil {
				t.Fatalf("no warnings in JSON %s: %v", b, err)
			}
			if d := cmp.Diff(tt.want, back.Warnings); d != "" {
				t.Errorf("JSON warnings (-want +got):\n%s", d)
			}
		})
	}
}
