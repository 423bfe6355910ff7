package abuse_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/abusekit/abusekit/abuse"
)

// A feedback loop complaint (RFC 5965) about mail sent from an instance.
func ExampleParseARF() {
	msg := strings.ReplaceAll(`From: arf@mailbox-provider.example
Subject: FW: Spam report
Date: Wed, 04 Nov 2026 07:30:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"

--b
Content-Type: text/plain

This is an email abuse report for a message received from 52.12.34.56.
--b
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Source-IP: 52.12.34.56
Arrival-Date: Wed, 04 Nov 2026 06:41:10 +0000
Original-Mail-From: <promo@shop.example>
--b--
`, "\n", "\r\n")
	reports, err := abuse.ParseARF(context.Background(), strings.NewReader(msg))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := reports[0]
	fmt.Println(r.Source, r.Kind, r.Resources.IPs, r.AbuseTime)
	fmt.Println(r.Evidence[0].Raw)
	// Output:
	// arf spam [52.12.34.56] 2026-11-04 06:41:10 +0000 UTC
	// Feedback-Type: abuse; Source-IP: 52.12.34.56; Original-Mail-From: <promo@shop.example>; User-Agent: SomeGenerator/1.0
}
