package abuse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/abusekit/abusekit/abuse"
)

// Parse reads a Trust & Safety follow-up mail: case, resources, the
// reported activity, the deadline from "within 24 hours" and the mail's
// Date, and the forwarded log.
func ExampleParse() {
	f, err := os.Open("testdata/trust-and-safety/followup-no-response.eml")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	reports, err := abuse.Parse(context.Background(), f)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range reports {
		fmt.Println(r.Source, r.Kind, r.CaseID, abuse.IncidentID(r))
		fmt.Println(r.AccountID, r.Resources.Region, r.Resources.InstanceIDs, r.Resources.IPs)
		fmt.Println("abuse time:", r.AbuseTime, "deadline:", r.Deadline)
		fmt.Println("required:", r.RequiredActions)
		fmt.Println("evidence:", r.EvidenceCount, r.Evidence[0].SrcIP, "->", r.Evidence[0].DstIP, r.Evidence[0].DstPort)
		for _, w := range r.Warnings { // what could not be read or used
			fmt.Println("warning:", w)
		}
	}
	// Output:
	// trust-and-safety portscan 17001234567 17001234567
	// 123456789012 ap-northeast-2 [i-0123456789abcdef0] [13.125.40.201]
	// abuse time: 2023-04-27 14:46:47 +0000 UTC deadline: 2023-04-29 18:02:11 +0000 UTC
	// required: [investigate root cause]
	// evidence: 5 13.125.40.201 -> 192.0.2.15 22
}

// With WithEvidenceFunc and WithReportFunc, Parse streams: a forwarded log
// of any size passes record by record, and each report comes when complete.
func ExampleParse_streaming() {
	log := "(attacker's IP) (IP being scanned) (TCP port being scanned)\n" +
		"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n" +
		"13.125.40.201  192.0.2.16  23  Thu Apr 27 14:46:48 2023\n"
	_, err := abuse.Parse(context.Background(), strings.NewReader(log),
		abuse.WithEvidenceFunc(func(e abuse.Evidence) error {
			fmt.Println("record", e.DstIP, e.DstPort, e.Proto)
			return nil
		}),
		abuse.WithReportFunc(func(r abuse.Report) error {
			fmt.Println("report", r.Source, r.Kind, r.EvidenceCount, len(r.Evidence))
			return nil
		}))
	fmt.Println(err)
	// Output:
	// record 192.0.2.15 22 tcp
	// record 192.0.2.16 23 tcp
	// report firewall-log portscan 2 0
	// <nil>
}

// Mitigations and exposures come from the later notices.
func ExampleParseTrustAndSafety() {
	notice := `We have not received a response regarding the abuse report implicating resources on your account. To mitigate the abuse, we have taken the following steps:

Blocked OUTBOUND TCP traffic from instance to remote hosts on port 22

In reviewing your Amazon EC2 instances, it appears you have left several ports open to the public (0.0.0.0/0).

ALL         0.0.0.0/0
`
	reports, err := abuse.ParseTrustAndSafety(context.Background(), strings.NewReader(notice))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n%+v\n", reports[0].Mitigations, reports[0].Resources.Exposures)
	// Output:
	// [{Action:block Direction:outbound Proto:tcp Port:22}]
	// [{Port:0 Proto:all CIDR:0.0.0.0/0}]
}

// Input no parser recognises is an error wrapping ErrUnknownFormat.
func ExampleParse_unknownFormat() {
	_, err := abuse.Parse(context.Background(), strings.NewReader("\x00\x01 not a report"))
	fmt.Println(errors.Is(err, abuse.ErrUnknownFormat))
	// Output:
	// true
}
