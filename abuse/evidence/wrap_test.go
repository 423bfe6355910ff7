package evidence

import (
	"strings"
	"testing"
)

// TestScannerJoinsWrappedLines: a log line that a mail client wrapped
// (neither half is evidence) is read whole, on the line it started; short
// lines and prose are not joined.
func TestScannerJoinsWrappedLines(t *testing.T) {
	in := "Our SSH honeypot recorded the following login attempts from your network:\n" +
		"Nov 14 03:12:40 hp1 sshd[20411]: Failed password for invalid user oracle from\n" +
		"52.18.77.140 port 40112 ssh2\n" +
		"\n" +
		"Nov 14 03:12:43 hp1 sshd[20411]: Failed password for root from 52.18.77.140 port 40113 ssh2\n" +
		"short line from\n" +
		"52.18.77.140 port 1 ssh2\n"
	sc := NewScanner(strings.NewReader(in), Options{Reference: ref})
	var lines []int
	var ports []uint16
	for sc.Scan() {
		lines = append(lines, sc.Line())
		ports = append(ports, sc.Record().SrcPort)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0] != 2 || lines[1] != 5 || ports[0] != 40112 || ports[1] != 40113 {
		t.Errorf("records at lines %v, source ports %v; want [2 5], [40112 40113]", lines, ports)
	}
}
