package abuseplugin

// Descriptions of the fields of package abuse's types as the actions'
// schemas show them (plugin.FieldDocs): those types are another package's,
// so their fields are described here, by path.

// reportDocs describes abuse.Report's fields, by path below the report.
var reportDocs = map[string]string{
	"provider":                    "the provider the report comes from (aws, hetzner, …); empty when unknown",
	"source":                      "the report's format: trust-and-safety, guardduty, x-arf, arf, firewall-log or plain",
	"kind":                        "the reported activity: portscan, intrusion, ddos, spam, malware, phishing, copyright or other",
	"case_id":                     "the provider's case or finding id, quoted in the reply",
	"account_id":                  "the cloud account the resources belong to (AWS account, Azure subscription)",
	"abuse_time":                  "when the activity was seen, UTC; absent when the report does not say",
	"deadline":                    "when the provider wants an answer, UTC (\"within 24 hours\" read against the notice's date); absent when none",
	"resources":                   "the provider resources the report implicates",
	"resources.instance_ids":      "instance ids named (i-0123456789abcdef0)",
	"resources.region":            "the cloud region named; empty when none",
	"resources.ips":               "the implicated addresses (on EC2 the public IP, which the instance's sockets do not show)",
	"resources.security_groups":   "security group ids named",
	"resources.exposures":         "inbound rules the provider saw open to the world",
	"resources.exposures[].port":  "the exposed port; 0 with proto all: every port",
	"resources.exposures[].proto": "all, tcp, udp or icmp",
	"resources.exposures[].cidr":  "the source range open (0.0.0.0/0, ::/0)",
	"resources.projects":          "cloud projects named instead of addresses (Google Cloud)",
	"resources.hosts":             "servers of providers other than AWS as the notice names them (Azure resource id, Linode label, OVH server)",
	"evidence":                    "the forwarded log's records, at most max_evidence of them (see evidence_count)",
	"evidence[].time":             "when the record was logged, UTC; absent when the log does not say",
	"evidence[].src_ip":           "source address of the logged traffic",
	"evidence[].src_port":         "source port; absent when not logged",
	"evidence[].dst_ip":           "destination address of the logged traffic",
	"evidence[].dst_port":         "destination port; absent when not logged",
	"evidence[].proto":            "tcp, udp or icmp, lower-case; absent when not logged",
	"evidence[].raw":              "the log line as the report gave it",
	"evidence_count":              "evidence records read in all; more than the length of evidence when capped",
	"mitigations":                 "what the provider already did against the resources",
	"mitigations[].action":        "block, isolate (all but administrative access blocked), stop or terminate",
	"mitigations[].direction":     "outbound, inbound, all (both), or empty for stop and terminate",
	"mitigations[].proto":         "tcp, udp or all",
	"mitigations[].port":          "the blocked port; 0: all ports",
	"required_actions":            "what the provider asks to be done, as it words it",
	"reporter":                    "who sent the report (a mail address or the service)",
	"subject":                     "the notice's subject line",
	"received":                    "the notice's date, UTC; absent when unknown",
	"activity":                    "the activity as the reporter named it (\"Port Scanning\", \"Recon:EC2/Portscan\")",
	"role":                        "actor when the resources did it, target when they were attacked; empty when the report does not say",
	"severity":                    "how serious the provider rates it (GuardDuty); absent otherwise",
	"severity.score":              "the provider's number (GuardDuty: 1.0 to 10.0)",
	"severity.label":              "low, medium, high or critical",
	"warnings":                    "what of the input could not be read or used; a report with warnings is partial",
	"warnings[].code":             "the kind of warning (unreadable-part, charset, malformed-part, …); stable",
	"warnings[].part":             "where: a MIME part or a forwarded message; empty for the report as a whole",
	"warnings[].message":          "what could not be read or used",
}

// ReportDocs describes the fields of an abuse.Report at prefix in an
// action's input or output ("report", "reports[]"), for plugin.FieldDocs in
// any plugin whose schema holds a report.
func ReportDocs(prefix string) map[string]string {
	m := make(map[string]string, len(reportDocs))
	for k, v := range reportDocs {
		m[prefix+"."+k] = v
	}
	return m
}

// merge returns the union of ms (later ones win).
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var parseOutputDocs = merge(ReportDocs("reports[]"))

var replyInputDocs = merge(ReportDocs("report"), map[string]string{
	"actions[].time":     "when it was done; shown in UTC",
	"actions[].step":     "the step's name: one of abuse's Step constants (process-stopped, persistence-removed, snapshot, instance-contained, …) or another name given with a summary",
	"actions[].summary":  "what was done, one sentence; empty: the step's own wording",
	"actions[].evidence": "what proves it: snapshot ids, removed entries, revoked rules, SHA-256 of binaries",
	"findings[].what":    "what was found: process, persistence, file, cause, …",
	"findings[].summary": "one line (\"PID 2314 /tmp/.x/work32 scanning TCP 22\")",
	"findings[].details": "more lines: command line, SHA-256, the crontab line",
})

var replyOutputDocs = map[string]string{
	"subject":  "the reply mail's subject",
	"text":     "the reply to paste into the provider's case, plain text",
	"markdown": "the incident summary for the team's records, Markdown (with open items)",
}
