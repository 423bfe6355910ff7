package abuse

import (
	"net/netip"
	"time"

	"github.com/abusekit/abusekit/abuse/evidence"
)

// Source says what kind of document a report was read from.
type Source string

// Sources abusekit reads.
const (
	SourceTrustAndSafety Source = "trust-and-safety" // AWS Trust & Safety (ec2-abuse@amazon.com) notices
	SourceGuardDuty      Source = "guardduty"        // Amazon GuardDuty findings
	SourceXARF           Source = "x-arf"            // X-ARF v0.1, v0.2 and v4
	SourceARF            Source = "arf"              // RFC 5965 Abuse Reporting Format
	SourceFirewallLog    Source = "firewall-log"     // a bare evidence log (iptables, sshd, CSV, …)
	SourcePlain          Source = "plain"            // free text pasted by an operator
	// SourceAWSHealth (health.go): AWS Health abuse events.
)

// Kind is the class of abuse a report is about.
type Kind string

// Kinds of abuse. Values are lower-case and stable: they appear in JSON.
const (
	KindPortScan  Kind = "portscan"
	KindIntrusion Kind = "intrusion" // ssh/rdp brute force, login attacks
	KindDDoS      Kind = "ddos"
	KindSpam      Kind = "spam"
	KindMalware   Kind = "malware" // includes crypto-mining
	KindPhishing  Kind = "phishing"
	KindCopyright Kind = "copyright"
	KindOther     Kind = "other"
)

// ProviderAWS is the Provider of reports about AWS resources, whether they
// come from Trust & Safety or from GuardDuty.
const ProviderAWS = "aws"

// Report is one abuse report, whatever format it came in.
type Report struct {
	Provider        string       `json:"provider"` // ProviderAWS, ProviderHetzner, … or "" when unknown
	Source          Source       `json:"source"`
	Kind            Kind         `json:"kind"`
	CaseID          string       `json:"case_id"`
	AccountID       string       `json:"account_id"`          // the AWS account; an Azure subscription ID
	AbuseTime       time.Time    `json:"abuse_time,omitzero"` // UTC
	Deadline        time.Time    `json:"deadline,omitzero"`   // UTC; from "within 24 hours" and the notice's Date
	Resources       Resources    `json:"resources"`
	Evidence        []Evidence   `json:"evidence"`
	Mitigations     []Mitigation `json:"mitigations"`
	RequiredActions []string     `json:"required_actions"`
	Reporter        string       `json:"reporter"`
	Subject         string       `json:"subject"`
	Received        time.Time    `json:"received,omitzero"` // the notice's Date, UTC

	// Activity is the reported activity as the reporter named it
	// ("Port Scanning", "Recon:EC2/Portscan").
	Activity string `json:"activity,omitempty"`
	// EvidenceCount is the number of evidence records read; it exceeds
	// len(Evidence) when evidence was streamed or capped (see WithEvidenceFunc
	// and WithMaxEvidence).
	EvidenceCount int `json:"evidence_count,omitempty"`

	// Role is the part the implicated resources played in the activity:
	// RoleActor when they did it (scanned, attacked, sent spam: what a
	// Trust & Safety notice is about), RoleTarget when they were on the
	// receiving end (probed, brute-forced: GuardDuty's resourceRole TARGET,
	// as in Recon:EC2/PortProbeUnprotectedPort or an inbound
	// SSHBruteForce; Runtime Monitoring also names the instance malware
	// ran on TARGET), "" when the report does not say. A target-role
	// report calls for checking whether the attack succeeded, not for
	// stopping an attack of ours; DraftReply words the reply accordingly.
	Role string `json:"role,omitempty"`
	// Severity is how serious the provider rates the report, when it says
	// so (GuardDuty findings); zero otherwise.
	Severity Severity `json:"severity,omitzero"`

	// Warnings say what of the input could not be read or used: nothing
	// is dropped silently. A report with warnings is still a report; a
	// caller that must not act on a partial reading checks len(Warnings)
	// (parse-report -strict exits non-zero).
	Warnings []Warning `json:"warnings"`
}

// Warning is one thing a parser could not read or use.
type Warning struct {
	Code WarningCode `json:"code"`
	// Part names where: a MIME part ("part 3 (report.zip, application/zip)"),
	// a forwarded message, or "" for the report as a whole.
	Part    string `json:"part,omitempty"`
	Message string `json:"message"`
}

func (w Warning) String() string {
	if w.Part != "" {
		return string(w.Code) + ": " + w.Part + ": " + w.Message
	}
	return string(w.Code) + ": " + w.Message
}

// WarningCode classifies a Warning. Values are stable: they appear in JSON.
type WarningCode string

// Warning codes.
const (
	// WarnUnreadablePart: a MIME part (or part of one) could not be read:
	// broken base64 or quoted-printable, a multipart cut short, a
	// forwarded message with an unreadable header. What decoded was used.
	WarnUnreadablePart WarningCode = "unreadable-part"
	// WarnCharset: text in an unknown or wrong charset was kept as it is
	// or had invalid bytes replaced; addresses and times still read.
	WarnCharset WarningCode = "charset"
	// WarnMalformedPart: a bad Content-Type or a multipart without a
	// boundary, read as plain text.
	WarnMalformedPart WarningCode = "malformed-part"
	// WarnUnknownAttachment: an attachment of a type no reader knows (an
	// archive, a PDF, an image, a binary): it was not read.
	WarnUnknownAttachment WarningCode = "unknown-attachment"
	// WarnNoEvidence: a known format that gave no evidence and named no
	// resource (no instance, IP address or security group): there is
	// nothing to act on but the report's own words.
	WarnNoEvidence WarningCode = "no-evidence"
	// WarnTimeZone: log times named no zone and neither the report (a
	// "time zone is …" note, the mail's Date) nor the caller
	// (WithReferenceTime) said which: they were read as UTC.
	WarnTimeZone WarningCode = "time-zone"
	// WarnSkippedMessage: a message of an mbox held no report (none of
	// the formats, no resource, no evidence) and was not used.
	WarnSkippedMessage WarningCode = "skipped-message"
)

// Roles of the implicated resources (Report.Role).
const (
	RoleActor  = "actor"  // the resources did it
	RoleTarget = "target" // the resources were probed or attacked
)

// Severity is a provider's rating of a report: its number and the label
// the provider's scale gives it.
type Severity struct {
	// Score is the provider's number: GuardDuty's severity, 1.0 to 10.0.
	Score float64 `json:"score"`
	// Label is "low", "medium", "high" or "critical" (GuardDuty: 1.0–3.9,
	// 4.0–6.9, 7.0–8.9, 9.0–10.0).
	Label string `json:"label"`
}

// Resources are the provider resources a report implicates.
type Resources struct {
	InstanceIDs    []string     `json:"instance_ids"`
	Region         string       `json:"region"`
	IPs            []netip.Addr `json:"ips"`
	SecurityGroups []string     `json:"security_groups"`
	Exposures      []Exposure   `json:"exposures"`
	// Projects are the cloud projects a notice names instead of addresses
	// (Google Cloud: "API Project my-app-123", project numbers).
	Projects []string `json:"projects,omitempty"`
	// Hosts are the servers of providers other than AWS as their notices
	// name them: an Azure resource ID
	// ("/subscriptions/…/virtualMachines/web-01"), a Linode's label
	// ("linode41234567"), an OVH server ("ns3012345.ip-51-68-20.eu").
	Hosts []string `json:"hosts,omitempty"`
}

// Exposure is an inbound rule the provider saw open to the world, as in the
// Trust & Safety follow-up "ALL 0.0.0.0/0".
type Exposure struct {
	Port  uint16 `json:"port"`  // 0 with Proto "all" means every port
	Proto string `json:"proto"` // "all", "tcp", "udp", "icmp"
	CIDR  string `json:"cidr"`  // "0.0.0.0/0", "::/0"
}

// Evidence is one record of the forwarded log. It is the type of package
// evidence, so a log parsed alone and one parsed inside a mail are the same.
type Evidence = evidence.Record

// Mitigation is an action the provider has taken against the resources, as in
// "Blocked OUTBOUND TCP traffic from instance to remote hosts on port 22".
type Mitigation struct {
	Action    string `json:"action"`    // MitigationBlock, MitigationIsolate, MitigationStop, MitigationTerminate
	Direction string `json:"direction"` // "outbound", "inbound", "all" (both), "" (stop)
	Proto     string `json:"proto"`     // "tcp", "udp", "all"
	Port      uint16 `json:"port"`      // 0 = all ports
}

// Mitigation actions.
const (
	// MitigationBlock: traffic of Direction, Proto and Port is blocked
	// ("Blocked OUTBOUND TCP traffic from instance to remote hosts on port
	// 22", "Blocked all traffic").
	MitigationBlock = "block"
	// MitigationIsolate: all traffic is blocked except administrative
	// access ("Blocked all traffic, allowing administrative access only").
	MitigationIsolate = "isolate"
	// MitigationStop: the provider stopped the instance, or suspended the
	// account or subscription it runs in ("We've disabled your Azure
	// subscription", "Your AWS account has been suspended").
	MitigationStop = "stop"
	// MitigationTerminate: the provider terminated the instance ("We
	// have terminated your EC2 instance"): its disks may be gone, and
	// with them the evidence on it.
	MitigationTerminate = "terminate"
)
