package abuse

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The fields of other providers' notices (OVH, Azure, Linode) and the
// wordings their desks use for what they did:
//
//   - Azure: "Incident ID: 401238845" (the case), "Subscription ID: <uuid>"
//     (the account), "Resource ID: /subscriptions/…/virtualMachines/web-01"
//     (a host), "Incident time (UTC): …" (the abuse time); "We've disabled
//     your Azure subscription" (a stop).
//   - OVH: the ticket in the sender ("ticket+CS8812345@abuse.ovh.net") or
//     in the subject ("(CS8812345)"), the server's name
//     ("ns3012345.ip-51-68-20.eu", "vps-1a2b3c4d.vps.ovh.net"); the
//     anti-spam notice's "Destination IP: A - Message-ID: M - Spam score:
//     N" records (evidence, the IPs are the spam's destinations, not
//     resources); "we have blocked the port 25 of your server" and "The
//     IP address A had to be blocked by our services" (blocks).
//   - Linode: the ticket ("Linode Support Ticket 19876543"), the Linode's
//     label ("linode41234567"); "we have applied network restrictions to
//     your Linode" (an isolation: Lish, the console, still reaches it).

var (
	reAzureResource = regexp.MustCompile(`(?i)/subscriptions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/resourcegroups/[A-Za-z0-9._()-]{1,90}/providers/[A-Za-z0-9.]{1,64}/[A-Za-z0-9]{1,64}/[A-Za-z0-9._-]{1,80}`)
	reSubscription  = regexp.MustCompile(`(?i)\bsubscription(?:\s+id)?\s*[:=#]?\s*\(?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`)
	reIncident      = regexp.MustCompile(`(?i)\bincident\s*(?:id|number|no\.?)?\s*[:#]?\s*#?\s*(\d{5,15})\b`)
	reOVHTicket     = regexp.MustCompile(`\b(CS\d{6,10})\b`)
	reSenderTicket  = regexp.MustCompile(`(?i)^ticket\+([a-z0-9][a-z0-9._-]{3,31})@`)
	reOVHHost       = regexp.MustCompile(`(?i)\b(?:ns\d{4,8}\.ip-\d{1,3}-\d{1,3}-\d{1,3}\.(?:eu|net|us)|vps-?[0-9a-f]{6,12}\.vps\.ovh\.(?:net|ca|us))\b`)
	reLinodeLabel   = regexp.MustCompile(`(?i)\blinode(\d{5,12})\b`)
	// "Incident time (UTC): …", "Event time: …", "Time of the attack
	// (CET): …", "First seen: …".
	reTimeField = regexp.MustCompile(`(?i)^(?:(?:incident|event|attack|activity|detection|report)\s+(?:time|date)|date\s*/\s*time|time\s+of\s+(?:the\s+)?(?:incident|attack|activity|event)|first\s+seen|detected\s+(?:at|on))\s*(?:\(([^)]{1,40})\))?\s*:\s*(.+)$`)
	// A deadline as a date: Hetzner's "your server can be blocked at any
	// time after the 2026-12-12 15:08:19 +0100."
	reAfterDeadline = regexp.MustCompile(`(?i)\b(?:blocked|locked|suspended|disabled|restricted|terminated)\s+(?:at\s+any\s+time\s+)?(?:after|from)\s+(?:the\s+)?(\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[+-]\d{2}:?\d{2}|utc|gmt|z|[a-z]{3,4}))?)`)
	// OVH's anti-spam records.
	reOVHSpam = regexp.MustCompile(`(?i)\bDestination IP:\s*([0-9A-Fa-f:.]+)\s*-\s*Message-ID:\s*(\S*)(?:\s*-\s*Spam score:\s*(\d+))?`)
	// "your IP 51.68.20.15 is sending spam": the notice's own address.
	reYourIP = regexp.MustCompile(`(?i)\byour\s+(?:ip|ip\s+address|server)\s+([0-9A-Fa-f:.]{7,45})\b`)

	// Mitigations of other desks (and AWS's rarer wordings).
	// "we have blocked the port 25 of your server", "port 25 has been
	// blocked".
	reBlockPort  = regexp.MustCompile(`(?i)\b(?:blocked|closed|filtered)\s+(?:the\s+)?(?:(tcp|udp)\s+)?ports?\s+(\d{1,5}(?:\s*(?:,|and|&|/)\s*\d{1,5})*)\b|\b(?:(tcp|udp)\s+)?ports?\s+(\d{1,5}(?:\s*(?:,|and|&|/)\s*\d{1,5})*)\s+(?:has|have)\s+been\s+(?:blocked|closed|filtered)\b`)
	reBlockedIP  = regexp.MustCompile(`(?i)\b(?:ip(?:\s+address)?|server|instance|droplet|linode|vm|virtual\s+machine|host)\b(?:[^.;]|\.\S){0,60}?\b(?:had\s+to\s+be|has\s+been|have\s+been|was|were)\s+(?:blocked|null-?routed|blackholed|disconnected)\b`)
	reRestricted = regexp.MustCompile(`(?i)\b(?:applied|enabled|placed|put\s+in\s+place)\s+network\s+restrictions\b|\bnetwork\s+restrictions\s+(?:have\s+been|has\s+been|were|are\s+now)\s+(?:applied|enabled|placed|put\s+in\s+place)\b|\b(?:instances?|servers?|linodes?|droplets?|vms?|hosts?)\s+(?:\S+\s+){0,2}?(?:has|have)\s+been\s+(?:isolated|quarantined)\b|\b(?:isolated|quarantined)\s+(?:your|the)\s+(?:ec2\s+)?(?:instances?|servers?|vms?)\b`)
	// "We've disabled your Azure subscription", "your server has been
	// suspended".
	// "We have terminated your EC2 instance i-…": the instance is gone.
	reTerminated = regexp.MustCompile(`(?i)\b(?:we'?ve|we\s+have)\s+terminated\s+(?:your|the)\s+(?:ec2\s+|azure\s+)?(?:instances?|servers?|droplets?|linodes?|vms?|virtual\s+machines?|resources?)\b|\b(?:instances?|servers?|droplets?|vms?)\s+(?:\S+\s+){0,2}?(?:has|have)\s+been\s+terminated\b`)
	reDisabled   = regexp.MustCompile(`(?i)\b(?:we'?ve|we\s+have)\s+(?:disabled|suspended|deactivated|powered\s+off)\s+(?:your|the)\s+(?:azure\s+|ec2\s+)?(?:subscription|account|server|instances?|droplet|linode|vm|virtual\s+machine|resources?)(?:[\s.,;:!)]|$)|\b(?:your|the)\s+(?:azure\s+|ec2\s+|aws\s+)?(?:subscription|account|server|instances?|droplet|linode|vm|virtual\s+machine|resources?)\s+(?:\S+\s+){0,3}?(?:has|have)\s+been\s+(?:disabled|suspended|deactivated|powered\s+off)(?:[\s.,;:!)]|$)`)
)

// otherProviderFields reads the fields of OVH, Azure and Linode notices
// from one line; it reports whether it found any.
func (n *noticeReader) otherProviderFields(s, lower string) bool {
	r := &n.rep
	found := false
	if strings.Contains(lower, "/subscriptions/") {
		for _, m := range reAzureResource.FindAllStringSubmatch(s, 4) {
			n.addHost(m[0])
			if r.AccountID == "" {
				r.AccountID = strings.ToLower(m[1])
			}
			n.provider = arfFirst(n.provider, ProviderAzure)
			found = true
		}
	}
	if strings.Contains(lower, "subscription") {
		if m := reSubscription.FindStringSubmatch(s); m != nil {
			if r.AccountID == "" {
				r.AccountID = strings.ToLower(m[1])
			}
			found = true
		}
	}
	if strings.Contains(lower, "incident") {
		if m := reIncident.FindStringSubmatch(s); m != nil {
			if r.CaseID == "" {
				r.CaseID = m[1]
			}
			found = true
		}
	}
	if strings.Contains(s, "CS") && (n.provider == ProviderOVH || strings.Contains(lower, "ovh")) {
		if m := reOVHTicket.FindStringSubmatch(s); m != nil && r.CaseID == "" {
			r.CaseID = m[1]
			found = true
		}
	}
	if strings.Contains(lower, ".ip-") || strings.Contains(lower, ".vps.ovh.") {
		for _, h := range reOVHHost.FindAllString(s, 4) {
			n.addHost(strings.ToLower(h))
			n.provider = arfFirst(n.provider, ProviderOVH)
			found = true
		}
	}
	if strings.Contains(lower, "linode") {
		for _, m := range reLinodeLabel.FindAllString(s, 4) {
			n.addHost(strings.ToLower(m))
			found = true
		}
	}
	if !strings.Contains(lower, ":") || !(strings.Contains(lower, "time") || strings.Contains(lower, "date") || strings.Contains(lower, "seen") || strings.Contains(lower, "detected")) {
		// no time field
	} else if m := reTimeField.FindStringSubmatch(s); m != nil {
		if t, ok := n.fieldTime(m[2], m[1]); ok && r.AbuseTime.IsZero() {
			r.AbuseTime = t
		}
		found = true
	}
	if strings.Contains(lower, "after") || strings.Contains(lower, "from") {
		if m := reAfterDeadline.FindStringSubmatch(s); m != nil {
			if t, ok := n.fieldTime(m[1], ""); ok && (n.deadline.IsZero() || t.Before(n.deadline)) {
				n.deadline = t
				found = true
			}
		}
	}
	if n.mitigationWordings(s, lower) {
		found = true
	}
	return found
}

// fieldTime reads the time of a field, in the zone its label names (zone,
// "UTC" in "Incident time (UTC)"), else its own, else the report's.
func (n *noticeReader) fieldTime(v, zone string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if zone != "" {
		if t, ok := parseLooseTime(v + " " + zone); ok {
			return t, true
		}
	}
	t, ok := parseLooseTime(v)
	if !ok {
		return time.Time{}, false
	}
	// A time that names no zone parses with an offset appended; one that
	// names its own does not.
	if _, zoneless := parseLooseTime(v + " +0100"); !zoneless {
		return t, true
	}
	loc := n.zone
	if loc == nil {
		loc = n.outerLoc
	}
	if loc == nil {
		n.zoneless++ // read as UTC: the report carries WarnTimeZone
		return t, true
	}
	wall := t.UTC()
	return saneOrZero(time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc).UTC()), true
}

func (n *noticeReader) addHost(h string) {
	if len(n.rep.Resources.Hosts) < 16 && !containsString(n.rep.Resources.Hosts, h) {
		n.rep.Resources.Hosts = append(n.rep.Resources.Hosts, h)
	}
}

// mitigationWordings reads the mitigations of one line written in the
// wordings reBlock and reBlockAll do not know; it reports whether it found
// any. What may happen ("we may apply network restrictions") is not a
// mitigation.
func (n *noticeReader) mitigationWordings(s, lower string) bool {
	if !strings.Contains(lower, "block") && !strings.Contains(lower, "restrict") && !strings.Contains(lower, "isolat") &&
		!strings.Contains(lower, "quarantin") && !strings.Contains(lower, "disabled") && !strings.Contains(lower, "suspended") &&
		!strings.Contains(lower, "deactivated") && !strings.Contains(lower, "closed") && !strings.Contains(lower, "filtered") &&
		!strings.Contains(lower, "null") && !strings.Contains(lower, "blackholed") && !strings.Contains(lower, "powered off") && !strings.Contains(lower, "disconnected") && !strings.Contains(lower, "terminated") {
		return false
	}
	if hypothetical(lower) || strings.Contains(lower, "not been") || strings.Contains(lower, "unblock") || strings.Contains(lower, " lift") {
		return false
	}
	r := &n.rep
	found := false
	if m := reBlockPort.FindStringSubmatch(s); m != nil {
		proto, list := strings.ToLower(arfFirst(m[1], m[3])), arfFirst(m[2], m[4])
		if proto == "" {
			proto = "tcp"
		}
		for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r < '0' || r > '9' }) {
			if p, err := strconv.ParseUint(f, 10, 16); err == nil && p > 0 {
				// The direction is not said: the port is closed both ways.
				r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationBlock, Direction: "all", Proto: proto, Port: uint16(p)})
				found = true
			}
		}
	}
	if !found && reBlockedIP.MatchString(s) {
		r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationBlock, Direction: "all", Proto: "all"})
		found = true
	}
	if reRestricted.MatchString(s) {
		// Network restrictions (Linode), an isolated instance: the
		// console or administrative access still reaches it.
		r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationIsolate, Direction: "all", Proto: "all"})
		found = true
	}
	if reTerminated.MatchString(s) {
		r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationTerminate})
		found = true
	} else if reDisabled.MatchString(s) {
		r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationStop})
		found = true
	}
	return found
}

// ovhSpamLine reads the records of OVH's anti-spam notice on one line
// ("Destination IP: A - Message-ID: M - Spam score: N", several to a
// line): each is the spam's destination, not a resource. It reports whether
// the line held any.
func (n *noticeReader) ovhSpamLine(s string) (bool, error) {
	if !strings.Contains(s, "Destination IP:") {
		return false, nil
	}
	ms := reOVHSpam.FindAllStringSubmatch(s, 64)
	if len(ms) == 0 {
		return false, nil
	}
	if m := reYourIP.FindStringSubmatch(s); m != nil {
		if a := arfParseAddr(m[1]); a.IsValid() {
			n.addIP(a)
		}
	}
	src := netip.Addr{}
	if len(n.rep.Resources.IPs) > 0 {
		src = n.rep.Resources.IPs[0]
	}
	for _, m := range ms {
		dst := arfParseAddr(m[1])
		if !dst.IsValid() {
			continue
		}
		e := Evidence{SrcIP: src, DstIP: dst, DstPort: 25, Proto: "tcp", Raw: strings.TrimSpace(m[0])}
		if err := addEvidence(n.o, &n.rep, e); err != nil {
			return true, err
		}
	}
	if n.kindNotice == "" {
		n.kindNotice = KindSpam
	}
	n.fields++
	return true, nil
}

// caseFromSender is the ticket a desk's sender address carries
// ("ticket+CS8812345@abuse.ovh.net").
func caseFromSender(from string) string {
	if m := reSenderTicket.FindStringSubmatch(from); m != nil {
		return m[1]
	}
	return ""
}
