package abuse_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/abusekit/abusekit/abuse"
)

// An EventBridge event for a GuardDuty finding, as a Lambda or an SQS queue
// receives it.
func ExampleParseGuardDuty() {
	event := `{
	  "version": "0", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
	  "account": "123456789012", "region": "ap-northeast-2", "time": "2023-04-27T15:00:00Z",
	  "detail": {
	    "id": "a4c1f29e8b7d6c5e4f3a2b1c0d9e8f7a", "type": "Recon:EC2/Portscan",
	    "accountId": "123456789012", "region": "ap-northeast-2",
	    "resource": {"resourceType": "Instance", "instanceDetails": {
	      "instanceId": "i-0123456789abcdef0",
	      "networkInterfaces": [{"privateIpAddress": "172.31.5.17", "publicIp": "13.125.40.201",
	        "securityGroups": [{"groupId": "sg-0a1b2c3d4e5f60718"}]}]}},
	    "service": {"resourceRole": "ACTOR", "count": 1874,
	      "eventFirstSeen": "2023-04-27T14:46:47Z", "eventLastSeen": "2023-04-27T15:31:02Z",
	      "action": {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
	        "connectionDirection": "OUTBOUND", "protocol": "TCP",
	        "localPortDetails": {"port": 40312}, "remotePortDetails": {"port": 22},
	        "remoteIpDetails": {"ipAddressV4": "192.0.2.15"}}}}
	  }
	}`
	reports, err := abuse.ParseGuardDuty(context.Background(), strings.NewReader(event))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range reports {
		fmt.Println(r.Kind, r.CaseID, r.AccountID, r.Resources.Region, r.Resources.InstanceIDs, r.Resources.IPs, r.Resources.SecurityGroups)
		fmt.Println("abuse time:", r.AbuseTime)
		for _, e := range r.Evidence {
			fmt.Println(e.SrcIP, "->", e.DstIP, e.DstPort, e.Proto)
		}
	}
	// Output:
	// portscan a4c1f29e8b7d6c5e4f3a2b1c0d9e8f7a 123456789012 ap-northeast-2 [i-0123456789abcdef0] [13.125.40.201 172.31.5.17] [sg-0a1b2c3d4e5f60718]
	// abuse time: 2023-04-27 14:46:47 +0000 UTC
	// 172.31.5.17 -> 192.0.2.15 22 tcp
}

func ExampleGuardDutyKind() {
	for _, t := range []string{
		"Recon:EC2/Portscan",
		"UnauthorizedAccess:EC2/SSHBruteForce",
		"CryptoCurrency:EC2/BitcoinTool.B!DNS",
		"Backdoor:EC2/DenialOfService.Udp",
		"Policy:IAMUser/RootCredentialUsage",
	} {
		fmt.Println(t, "→", abuse.GuardDutyKind(t))
	}
	// Output:
	// Recon:EC2/Portscan → portscan
	// UnauthorizedAccess:EC2/SSHBruteForce → intrusion
	// CryptoCurrency:EC2/BitcoinTool.B!DNS → malware
	// Backdoor:EC2/DenialOfService.Udp → ddos
	// Policy:IAMUser/RootCredentialUsage → other
}
