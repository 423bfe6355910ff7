package abuse

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMitigationWordings: the wordings desks use for what they did become
// typed mitigations; what they may do, or what they lifted, does not.
func TestMitigationWordings(t *testing.T) {
	block := func(dir, proto string, port uint16) Mitigation {
		return Mitigation{Action: MitigationBlock, Direction: dir, Proto: proto, Port: port}
	}
	isolate := Mitigation{Action: MitigationIsolate, Direction: "all", Proto: "all"}
	stop := Mitigation{Action: MitigationStop}
	tests := []struct {
		line string
		want []Mitigation
	}{
		// AWS Trust & Safety.
		{"Blocked OUTBOUND TCP traffic from instance to remote hosts on port 22", []Mitigation{block("outbound", "tcp", 22)}},
		{"Blocked all traffic, allowing administrative access only", []Mitigation{isolate}},
		{"We have blocked outbound traffic on ports 22, 23 and 2323 from the instance.", []Mitigation{block("outbound", "all", 22), block("outbound", "all", 23), block("outbound", "all", 2323)}},
		{"Blocked OUTBOUND UDP traffic to remote hosts on port 53 and 123", []Mitigation{block("outbound", "udp", 53), block("outbound", "udp", 123)}},
		{"We have restricted outbound network traffic from the instance on port 25.", []Mitigation{block("outbound", "all", 25)}},
		{"We have restricted all outbound traffic from your instance i-0abc1234def567890.", []Mitigation{block("outbound", "all", 0)}},
		{"Your instance has been isolated; administrative access (SSH/RDP) is still allowed.", []Mitigation{isolate}},
		{"We have stopped the instance i-0abc1234def567890.", []Mitigation{stop}},
		{"We have terminated your EC2 instance i-0abc1234def567890.", []Mitigation{{Action: MitigationTerminate}}},
		{"Your AWS account has been suspended.", []Mitigation{stop}},
		{"Email sending on port 25 has been blocked for your instance.", []Mitigation{block("all", "tcp", 25)}},
		// Other desks.
		{"we have blocked the port 25 of your server, at the network level.", []Mitigation{block("all", "tcp", 25)}},
		{"The IP address 51.68.20.15 had to be blocked by our services due to the", []Mitigation{block("all", "all", 0)}},
		{"we have applied network restrictions to your Linode linode41234567.", []Mitigation{isolate}},
		{"We've disabled your subscription until the issue can be resolved.", []Mitigation{stop}},
		{"Your server 198.51.100.23 has been null-routed.", []Mitigation{block("all", "all", 0)}},
		// Not mitigations.
		{"If you do not respond, we may block outbound traffic on port 22.", nil},
		{"we may apply network restrictions to your Linode", nil},
		{"If the activity continues, the resource may be disabled.", nil},
		{"We have lifted the network restrictions on your Linode.", nil},
		{"The port 25 block was removed; you can unblock the port from your Control Panel.", nil},
		{"Your instance has not been blocked.", nil},
		// Advice in the imperative is not something done.
		{"2. Restrict inbound access to your instance to the addresses you trust.", nil},
		{"Block outbound traffic on port 22 in your security group.", nil},
		{"Failure to respond could lead to your account being suspended.", nil},
		// Not the instance: keys, files, a sending ability.
		{"We have disabled the account's access key AKIAEXAMPLEEXAMPLE.", nil},
		{"We have suspended your account's ability to send email.", nil},
		{"The malicious files have been quarantined by the antivirus.", nil},
	}
	for _, tt := range tests {
		reps, err := ParseTrustAndSafety(context.Background(), strings.NewReader("AWS Trust & Safety\n"+tt.line+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		got := reps[0].Mitigations
		if len(got) == 0 {
			got = nil
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tt.line, d)
		}
	}
}
