package evidence_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse/evidence"
)

// A forwarded port-scan log, as in an AWS Trust & Safety notice: prose and
// separators are skipped; the header's "TCP port" gives the protocol.
func ExampleScanner() {
	log := `---- log of TCP port scans (time zone is UTC) ----
(attacker's IP) (IP being scanned) (TCP port being scanned)
>>>
203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023
203.0.113.201  192.0.2.40  23  Thu Apr 27 14:46:55 2023
-----------------------------------------------------------
`
	sc := evidence.NewScanner(strings.NewReader(log), evidence.Options{})
	for sc.Scan() {
		r := sc.Record()
		fmt.Println(sc.Line(), sc.Layout(), r.Time.Format(time.RFC3339), r.SrcIP, "->", r.DstIP, r.DstPort, r.Proto)
	}
	if err := sc.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 4 columns 2023-04-27T14:46:47Z 203.0.113.201 -> 192.0.2.15 22 tcp
	// 5 columns 2023-04-27T14:46:55Z 203.0.113.201 -> 192.0.2.40 23 tcp
}

// One line of any layout; syslog times take their year from the reference.
func ExampleParseLine() {
	o := evidence.Options{Reference: time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC)}
	for _, line := range []string{
		"Apr 27 14:46:47 web1 sshd[1234]: Failed password for invalid user admin from 203.0.113.7 port 50123 ssh2",
		"Apr 27 14:46:48 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=2001:db8::7 DST=2001:db8::15 PROTO=TCP SPT=50124 DPT=3389",
		"2023-04-27T14:46:49Z TCP 203.0.113.7:50125 -> 192.0.2.15:22",
		"Hello, this is not evidence.",
	} {
		r, ok := evidence.ParseLine([]byte(line), o)
		if !ok {
			fmt.Println("skipped")
			continue
		}
		fmt.Println(r.Time.Format(time.DateTime), r.SrcIP, r.SrcPort, r.DstIP, r.DstPort, r.Proto)
	}
	// Output:
	// 2023-04-27 14:46:47 203.0.113.7 50123 invalid IP 22 tcp
	// 2023-04-27 14:46:48 2001:db8::7 50124 2001:db8::15 3389 tcp
	// 2023-04-27 14:46:49 203.0.113.7 50125 192.0.2.15 22 tcp
	// skipped
}

// JSON lines, as parse-report -json streams them.
func ExampleRecord_AppendJSON() {
	sc := evidence.NewScanner(strings.NewReader("203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023\n"), evidence.Options{DefaultProto: "tcp"})
	var buf []byte
	for sc.Scan() {
		buf = sc.Record().AppendJSON(buf[:0])
		buf = append(buf, '\n')
		os.Stdout.Write(buf)
	}
	// Output:
	// {"time":"2023-04-27T14:46:47Z","src_ip":"203.0.113.201","dst_ip":"192.0.2.15","dst_port":22,"proto":"tcp","raw":"203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"}
}
