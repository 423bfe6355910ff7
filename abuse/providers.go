package abuse

import (
	"regexp"
	"strings"
)

// Providers other than AWS whose abuse desks send notices as mail, and how
// to tell them: the sender's domain, or words only their notices carry.
const (
	ProviderHetzner      = "hetzner"
	ProviderDigitalOcean = "digitalocean"
	ProviderGoogleCloud  = "gcp"
	ProviderOVH          = "ovh"
	ProviderAzure        = "azure"
	ProviderLinode       = "linode"
)

var providerRules = []struct {
	name    string
	domains []string // sender domains (the From address ends with "@"+d or "."+d)
	markers []string // lower-case phrases of their notices
}{
	{ProviderHetzner, []string{"hetzner.com", "hetzner.de"}, []string{"hetzner online", "[abuseid:"}},
	{ProviderDigitalOcean, []string{"digitalocean.com"}, []string{"digitalocean trust & safety", "digitalocean abuse", "your droplet"}},
	{ProviderGoogleCloud, []string{"google.com", "cloud.google.com"}, []string{"google cloud platform", "google cloud trust", "critical problem with your google cloud"}},
	{ProviderOVH, []string{"ovh.net", "ovh.com", "ovhcloud.com"}, []string{"ovhcloud", "ovh abuse"}},
	{ProviderAzure, []string{"microsoft.com", "azure.com"}, []string{"microsoft azure", "azure safeguards", "azure subscription"}},
	{ProviderLinode, []string{"linode.com"}, []string{"linode support", "your linode"}},
}

// providerOfSender is the provider whose abuse desk sent from addr.
func providerOfSender(addr string) string {
	addr = strings.ToLower(addr)
	for _, p := range providerRules {
		for _, d := range p.domains {
			if strings.HasSuffix(addr, "@"+d) || strings.HasSuffix(addr, "."+d) {
				if p.name == ProviderGoogleCloud && !strings.Contains(addr, "cloud") {
					continue // any Google mail is not a Google Cloud notice
				}
				if p.name == ProviderAzure && !strings.Contains(addr, "azure") && !strings.Contains(addr, "safety") && !strings.Contains(addr, "abuse") {
					continue
				}
				return p.name
			}
		}
	}
	return ""
}

// providerOfText is the provider whose notice's words lower holds.
func providerOfText(lower string) string {
	for _, p := range providerRules {
		for _, m := range p.markers {
			if strings.Contains(lower, m) {
				return p.name
			}
		}
	}
	return ""
}

var (
	// Hetzner: "[AbuseID:1A2B3C:1F]" in the subject and the text.
	reHetznerID = regexp.MustCompile(`(?i)\bAbuseID\s*:\s*([0-9A-F]{4,16})(?::[0-9A-F]{1,4})?\b`)
	// "Ticket #1234567", "[Ticket 1234567]", "Ticket ID: 1234567".
	reTicket = regexp.MustCompile(`(?i)\bticket\s*(?:number|no\.?|id)?\s*[:#]?\s*#?\s*(\d{5,12})\b`)
	// Google Cloud names projects, not addresses: "API Project my-app-123",
	// "Project ID: my-app-123", "project number: 625834285688".
	// "Project my-app-123 (id: 625834285688)": the project's number.
	reProjectNumber = regexp.MustCompile(`(?i)\bproject\s+[a-z][a-z0-9-]{4,28}[a-z0-9]\s*\((?:id|number)\s*:?\s*(\d{6,15})\)`)
	reProject       = regexp.MustCompile(`(?i)\b(?:api\s+project|project\s+id|project\s+number|project)\s*[:=]\s*([a-z][a-z0-9-]{4,28}[a-z0-9]|\d{6,15})\b|\bapi\s+project\s+([a-z][a-z0-9-]{4,28}[a-z0-9]|\d{6,15})\b`)
	// A time in prose: "The activity was observed on November 18, 2026 at
	// 4:12 PM Pacific Time from …".
	reProseTime = regexp.MustCompile(`(?i)\b(?:observed|detected|occurred|seen|noticed|started)\s+(?:on|at|since)\s+(.+?)(?:\s+(?:from|by|on|against)\s|[.;,]?\s*$|\.\s)`)
)

// providerFields reads the case and resource fields of the other
// providers' notices from one line; it reports whether it found any.
func (n *noticeReader) providerFields(s, lower string) bool {
	found := false
	if strings.Contains(lower, "abuseid") {
		if m := reHetznerID.FindStringSubmatch(s); m != nil {
			if n.rep.CaseID == "" {
				n.rep.CaseID = m[1]
			}
			n.provider = arfFirst(n.provider, ProviderHetzner)
			found = true
		}
	}
	if strings.Contains(lower, "ticket") {
		if m := reTicket.FindStringSubmatch(s); m != nil && n.rep.CaseID == "" {
			n.rep.CaseID = m[1]
			found = true
		}
	}
	if strings.Contains(lower, "project") {
		ms := reProject.FindAllStringSubmatch(s, 4)
		for _, m := range reProjectNumber.FindAllStringSubmatch(s, 4) {
			ms = append(ms, []string{m[0], m[1], ""})
		}
		for _, m := range ms {
			p := arfFirst(m[1], m[2])
			if p != "" && !containsString(n.rep.Resources.Projects, p) && len(n.rep.Resources.Projects) < 16 {
				n.rep.Resources.Projects = append(n.rep.Resources.Projects, p)
				found = true
			}
		}
	}
	if n.rep.AbuseTime.IsZero() && (strings.Contains(lower, "observed") || strings.Contains(lower, "detected") || strings.Contains(lower, "occurred") || strings.Contains(lower, "seen") || strings.Contains(lower, "noticed") || strings.Contains(lower, "started")) {
		if m := reProseTime.FindStringSubmatch(s); m != nil {
			if t, ok := n.fieldTime(m[1], ""); ok {
				n.rep.AbuseTime = t
				found = true
			}
		}
	}
	if n.otherProviderFields(s, lower) {
		found = true
	}
	if n.provider == "" {
		n.provider = providerOfText(lower)
	}
	return found
}

// feedDomains are the sender domains of the feeds and reporters whose
// mails are reports whatever they hold (SpamCop, Project Honey Pot,
// AbuseHUB, Cyscon, Blocklist.de, Clean-MX, Shadowserver, Netcraft).
var feedDomains = []string{
	"spamcop.net", "projecthoneypot.org", "abusehub.nl", "cyscon.de", "c-sirt.org",
	"blocklist.de", "clean-mx.de", "shadowserver.org", "netcraft.com",
}

// feedSender reports whether addr is a known feed's.
func feedSender(addr string) bool {
	addr = strings.ToLower(addr)
	for _, d := range feedDomains {
		if strings.HasSuffix(addr, "@"+d) || strings.HasSuffix(addr, "."+d) {
			return true
		}
	}
	return false
}
