package abuse_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/abusekit/abusekit/abuse"
)

// A reply to the seed incident's Trust & Safety notice after the first round
// of corrective actions.
func ExampleDraftReply() {
	report := abuse.Report{
		Provider:  abuse.ProviderAWS,
		Source:    abuse.SourceTrustAndSafety,
		Kind:      abuse.KindPortScan,
		CaseID:    "17001234567",
		AccountID: "123456789012",
		AbuseTime: time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC),
		Activity:  "Port Scanning",
		Subject:   "Your EC2 Abuse Report [17001234567] [AWS ID 123456789012]",
		Resources: abuse.Resources{
			InstanceIDs: []string{"i-0123456789abcdef0"},
			Region:      "ap-northeast-2",
			IPs:         []netip.Addr{netip.MustParseAddr("13.125.40.201")},
		},
		Mitigations: []abuse.Mitigation{{Action: "block", Direction: "outbound", Proto: "tcp", Port: 22}},
	}
	at := func(hms string) time.Time {
		t, _ := time.Parse(time.DateTime, "2023-04-27 "+hms)
		return t
	}
	actions := []abuse.Action{
		{Time: at("17:05:40"), Step: abuse.StepPersistenceRemoved, Summary: "Removed the scanner's two crontab entries (quarantined)",
			Evidence: []string{"*/5 * * * * /tmp/.ICE-unix/work32"}},
		{Time: at("17:02:15"), Step: abuse.StepProcessStopped, Summary: "Captured and killed the scanning process (PID 2314, /tmp/.ICE-unix/work32)",
			Evidence: []string{"sha256:9f2b5c0e1d4a7b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}},
		{Time: at("17:41:00"), Step: abuse.StepRuleRevoked, Evidence: []string{"sg-0a1b2c3d4e5f60718: ALL 0.0.0.0/0 revoked"}},
	}
	reply, err := abuse.DraftReply(report, actions, abuse.WithSignature("Jane Doe, Example Corp operations"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Subject:", reply.Subject)
	fmt.Print(reply.Text)
	// Output:
	// Subject: Re: Your EC2 Abuse Report [17001234567] [AWS ID 123456789012]
	// Hello AWS Trust & Safety team,
	//
	// Thank you for the report regarding case 17001234567 (Port Scanning, abuse time 2023-04-27 14:46:47 UTC). We investigated and stopped the activity. The corrective actions we took are listed below.
	//
	// Affected resources:
	// - AWS account: 123456789012
	// - Region: ap-northeast-2
	// - EC2 instance: i-0123456789abcdef0
	// - IP addresses: 13.125.40.201
	//
	// Corrective actions taken (times in UTC):
	// 1. 2023-04-27 17:02:15 UTC - Captured and killed the scanning process (PID 2314, /tmp/.ICE-unix/work32)
	//    - sha256:9f2b5c0e1d4a7b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b
	// 2. 2023-04-27 17:05:40 UTC - Removed the scanner's two crontab entries (quarantined)
	//    - */5 * * * * /tmp/.ICE-unix/work32
	// 3. 2023-04-27 17:41:00 UTC - Revoked security group rules open to the whole internet (0.0.0.0/0)
	//    - sg-0a1b2c3d4e5f60718: ALL 0.0.0.0/0 revoked
	//
	// To prevent this from happening again:
	// - Inbound access is no longer open to 0.0.0.0/0; administrative ports (SSH 22, RDP 3389) are restricted to our own addresses.
	//
	// The cause has been removed; we kindly ask you to lift the mitigation applied to our instance (block OUTBOUND TCP traffic on port 22).
	//
	// The reported activity has stopped. Please let us know if you observe any further activity from these resources.
	//
	// Regards,
	// Jane Doe, Example Corp operations
}
