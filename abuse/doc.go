// Package abuse reads cloud abuse reports into one typed Report and drafts
// the reply to the provider.
//
// # Reading reports
//
// Parse detects the format of what an operator received from its first
// 64 KiB and streams the input through that format's parser. The formats, in
// the order they are tried:
//
//   - AWS Health abuse events (EventBridge "aws.health" events with an
//     AWS_ABUSE_…_REPORT eventTypeCode, one, an array or JSON lines, and
//     "aws health describe-event-details" output): ParseAWSHealth. The
//     event's description is read as the notice it is.
//   - GuardDuty findings (raw, GetFindings output, an EventBridge event) and
//     X-ARF v4 JSON: ParseGuardDuty, ParseXARF.
//   - An mbox (mboxo or mboxrd) of mails, read one message at a time:
//     ParseMbox.
//   - A mail (RFC 5322 .eml): ParseMail. MIME multipart/mixed and
//     alternative (text/plain preferred), forwarded message/rfc822 parts,
//     quoted-printable and base64, every charset golang.org/x/text knows
//     (UTF-8, ISO-8859-1, Windows-1252, …; an unknown or wrong charset
//     degrades, it does not fail), and HTML-only bodies (text extracted).
//     Inside the mail, X-ARF, ARF (RFC 5965; also alone: ParseARF), ACNS
//     copyright notices (XML, Source "acns") and AWS Trust & Safety notices
//     are recognised, in the mail itself or in a message it forwards; a
//     mail that is none of them is read as plain text, which also reads the
//     notices of other providers (Report.Provider): Hetzner ("[AbuseID:…]",
//     netscan tables, "blocked at any time after DATE" as the Deadline),
//     Google Cloud (projects), DigitalOcean and Linode tickets (Linode
//     labels in Resources.Hosts), OVH (the ticket in its sender
//     ticket+CS…@abuse.ovh.net, server names, the anti-spam "Destination
//     IP: … - Message-ID: …" records as evidence), Azure ("Incident ID",
//     "Subscription ID" as AccountID, resource IDs in Resources.Hosts,
//     "Incident time (UTC)"); fail2ban's complain and xarf-login-attack
//     mails; SpamCop reports, summary reports and alerts; Project Honey
//     Pot monitor reports; Google Safe Browsing reports (their XML body);
//     Cyscon key-value attachments; CSV attachments (AbuseHUB: its
//     report_type column gives the kind) and zipped CSV feeds
//     (Shadowserver; a CSV whose header says its times are UTC is read in
//     UTC). A mail from a provider's desk or a known feed that holds
//     nothing readable is a report with WarnNoEvidence, not an unknown
//     format.
//   - The pasted text of a Trust & Safety notice: ParseTrustAndSafety.
//   - A bare evidence log (Source "firewall-log"): ParseLog, with the
//     layouts of package evidence (column logs, arrow logs, CSV feeds,
//     iptables/UFW/nftables, sshd, fail2ban).
//   - Plain text naming instances, IP addresses, a case or evidence:
//     ParsePlain.
//
// Trust & Safety notices come in four kinds, all read by the same parser:
// the first notice (AWS ID, Region, EC2 Instance Id, Case Number, the
// forwarded report after "---Beginning of forwarded report(s)---"), the
// follow-up ("Abuse Time", "Reported Activity", "Required Actions",
// "within 24 hours", which with the mail's Date gives the Deadline), the
// mitigation notice ("Blocked OUTBOUND TCP traffic from instance to remote
// hosts on port 22", "Blocked all traffic, allowing administrative access
// only", "restricted outbound traffic … on port 25", "We have terminated
// your EC2 instance", "Your AWS account has been suspended" give
// Mitigations; so do other desks' "blocked the port 25 of your server",
// "applied network restrictions", "We've disabled your subscription";
// what a desk may do, and advice in the imperative, do not) and the
// open-ports advice ("ALL
// 0.0.0.0/0", "TCP 22 0.0.0.0/0" give Exposures). The case number, from
// "Case Number: 17001234567-1" or "[17001234567]" in the subject, is the
// CaseID; IncidentID derives the incident's identifier from it.
//
// Report.Role says which side of the activity the implicated resources were
// on: RoleActor when they did it (every Trust & Safety notice; a GuardDuty
// finding with resourceRole ACTOR), RoleTarget when they were probed,
// attacked or infected (resourceRole TARGET: Recon:EC2/PortProbeUnprotectedPort,
// an inbound SSHBruteForce, a Runtime Monitoring finding), "" when the
// report does not say (X-ARF, ARF, logs and plain text are not classified
// yet). Report.Severity is GuardDuty's severity with its label (low,
// medium, high, critical).
//
// # Streaming and limits
//
// A forwarded log can be millions of lines. With WithEvidenceFunc each
// evidence record goes to the caller as it is read and reports keep only
// EvidenceCount; with WithReportFunc each report goes to the caller when
// complete (an mbox message by message). A single-part mail streams its
// body, so a notice with a 1,000,000-line forwarded log parses in a few
// megabytes of memory; so does a Trust & Safety notice whose log is a text
// attachment larger than 64 KiB (recognised from the parts before it; other
// multipart mails are read whole, within Limits). Without
// WithEvidenceFunc, a report keeps at most WithMaxEvidence records.
//
// # Times
//
// A log time, or a notice's time field ("Abuse Time:", "Incident time:",
// a time in prose), that names no zone is read in the zone the report
// states for
// its log ("time zone is UTC", "All times are in CET", fail2ban's "Note:
// Local timezone is +0100 (CET)", "Timezone: Europe/Berlin", "times are
// Pacific Time"), else in the zone of the mail's Date, else in the
// Location of WithReferenceTime; with none of them it is read as UTC and
// the report carries a WarnTimeZone warning. Times in prose may name a zone
// with daylight saving time ("June 3, 2026 at 3:12 PM Pacific Time").
//
// # Nothing lost silently
//
// What a parser could not read or use is a typed Warning on the Report
// (Report.Warnings, "warnings" in JSON): a MIME part that could not be
// decoded (WarnUnreadablePart), text in an unknown charset (WarnCharset),
// a malformed part read as text (WarnMalformedPart), an attachment of a
// type no reader knows (WarnUnknownAttachment), a report of a known format
// that gave no evidence and named no resource (WarnNoEvidence), log times
// read as UTC with nothing saying so (WarnTimeZone), a message of an mbox
// that held no report (WarnSkippedMessage) or whose header could not be
// read (WarnUnreadablePart), said on the reports next to it. A report
// date outside 1970–2199 is an error wrapping ErrTimeRange in the strict
// formats (X-ARF, ARF, GuardDuty) and is not read in prose.
//
// Parsers never panic on bad input and never buffer without bound: Limits
// caps the input's size, line length, MIME parts, nesting and reports, and
// exceeding one gives an error wrapping ErrTooLarge. Errors are *ParseError
// values naming the format and line. Input that no parser recognises gives
// an error that wraps ErrUnknownFormat and names the formats tried.
//
// # Replying
//
// DraftReply writes the answer to the provider from a Report and the
// corrective actions taken. For a target-role report it says that the
// instance was the target of the activity, not its source, never that "the
// reported activity has stopped", and the incident summary asks to check
// whether the attack succeeded.
package abuse
