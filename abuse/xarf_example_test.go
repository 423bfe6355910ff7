package abuse_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/abusekit/abusekit/abuse"
)

// An X-ARF v0.2 mail: a greeting, the machine-readable fields and a log.
func ExampleParseXARF() {
	msg := strings.ReplaceAll(`From: SSH Honeypot <xarf-reports@honeypot.example>
Subject: abuse report about 52.12.34.56
Date: Wed, 04 Nov 2026 06:05:12 +0000
X-XARF: PLAIN
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Your host attacked our SSH service.
--b
Content-Type: text/plain; name="report.txt"

Reported-From: xarf-reports@honeypot.example
Category: abuse
Report-Type: login-attack
Service: ssh
Version: 0.2
Date: 2026-11-04T05:58:00+0000
Source: 52.12.34.56
Source-Type: ipv4
Port: 22
Report-ID: 4711@honeypot.example
Schema-URL: http://www.x-arf.org/schema/abuse_login-attack_0.1.2.json
--b
Content-Type: text/plain; name="logfile.log"

Nov  4 05:58:00 trap1 sshd[20211]: Failed password for root from 52.12.34.56 port 58112 ssh2
--b--
`, "\n", "\r\n")
	reports, err := abuse.ParseXARF(context.Background(), strings.NewReader(msg))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := reports[0]
	fmt.Println(r.Source, r.Kind, r.CaseID, r.Resources.IPs, r.AbuseTime)
	for _, e := range r.Evidence {
		fmt.Println(e.SrcIP, e.SrcPort, "->", e.DstPort, e.Proto)
	}
	// Output:
	// x-arf intrusion 4711@honeypot.example [52.12.34.56] 2026-11-04 05:58:00 +0000 UTC
	// 52.12.34.56 58112 -> 22 tcp
}
