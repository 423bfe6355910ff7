package abuse

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// Feeds read inside the notice reader:
//
//   - SpamCop's own report mail ("[ SpamCop V5.x ]", "Email from A / DATE",
//     "[ Offending message ]", the report id in the subject as
//     "id:7299950015"): kind spam, the address and time of the spam.
//   - Project Honey Pot's digests: "A (H)" lines (H harvester, S spam
//     server, D dictionary attacker, C comment spammer, R rule breaker),
//     each followed by "  - DATE": one record per address, kind spam.
//   - Cyscon's key-value attachments (<feed>-report.txt: "ip: …",
//     "domain: …", "uri: …", "last_seen: …"): one record per report, the
//     feed's name giving the kind.

var (
	reHoneypot     = regexp.MustCompile(`^([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+) \(([HSDCR])\)$`)
	reSpamcopEmail = regexp.MustCompile(`^Email from ([0-9A-Fa-f:.]+) / (.+)$`)
	reSpamcopID    = regexp.MustCompile(`(?i)\bid:\s*(\d{6,15})\b`)
)

// spamcopLine reads "Email from A / DATE" of a SpamCop report.
func (n *noticeReader) spamcopLine(s string) (bool, error) {
	if !strings.HasPrefix(s, "Email from ") {
		return false, nil
	}
	m := reSpamcopEmail.FindStringSubmatch(s)
	if m == nil {
		return false, nil
	}
	a := arfParseAddr(m[1])
	if !a.IsValid() {
		return false, nil
	}
	n.addIP(a)
	t, ok := parseLooseTime(m[2])
	if ok && n.rep.AbuseTime.IsZero() {
		n.rep.AbuseTime = t
	}
	n.kindNotice = KindSpam
	n.fields++
	// The spam's relay at its time is the report's one record.
	return true, addEvidence(n.o, &n.rep, Evidence{Time: t, SrcIP: a, Raw: "spamcop " + s})
}

// spamcopSubject reads the report id of a SpamCop subject ("[SpamCop
// (http://…) id:7299950015]…").
func (n *noticeReader) spamcopSubject(subj string) {
	if !strings.Contains(strings.ToLower(subj), "spamcop") {
		return
	}
	if m := reSpamcopID.FindStringSubmatch(subj); m != nil && n.rep.CaseID == "" {
		n.rep.CaseID = m[1]
	}
	n.kindNotice = KindSpam
}

// cysconPart reports whether p is a Cyscon key-value report.
func cysconPart(p *mailmsg.Part) bool {
	return strings.HasSuffix(strings.ToLower(p.Filename), "-report.txt") && bytes.Contains(p.Body[:min(len(p.Body), 4096)], []byte("last_seen:"))
}

// cysconKind is the kind a Cyscon feed's name (the attachment's prefix)
// gives.
func cysconKind(feed string) Kind {
	if k := kindFromText(strings.ReplaceAll(feed, "_", " ")); k != KindOther {
		return k
	}
	// Cyscon's other feed names (AbuseIO/parser-cyscon's aliases and
	// the classes it gives them): fraud and scam sites are phishing
	// sites; adware, blacklisted, malicious and evil ones serve malware;
	// a defaced or suspicious site is compromised, of no kind of ours.
	switch strings.ToLower(feed) {
	case "fraud", "scam":
		return KindPhishing
	case "adware", "blacklisted", "malicious", "evil":
		return KindMalware
	case "defacement", "suspicious":
		return KindOther
	}
	return feedKind(feed)
}

// scanCyscon reads a Cyscon key-value report: one record of its ip, uri
// or domain at last_seen.
func (n *noticeReader) scanCyscon(p *mailmsg.Part) error {
	f := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(p.Body))
	sc.Buffer(nil, n.o.limits.MaxLineBytes)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := f[k]; !seen && len(f) < 64 {
			f[k] = strings.TrimSpace(v)
		}
	}
	feed := strings.TrimSuffix(path.Base(strings.ToLower(p.Filename)), "-report.txt")
	if k := cysconKind(feed); k != "" && k != KindOther && n.kindForward == "" {
		n.kindForward = k
	}
	t, _ := parseLooseTime(arfFirst(f["last_seen"], f["first_seen"]))
	e := Evidence{Time: t, SrcIP: arfParseAddr(f["ip"])}
	e.Raw = "cyscon " + feed
	for _, x := range []string{f["ip"], f["domain"], f["uri"]} {
		if x != "" {
			e.Raw += " " + x
		}
	}
	if !e.SrcIP.IsValid() && f["domain"] == "" && f["uri"] == "" {
		addWarning(&n.rep, Warning{Code: WarnUnreadablePart, Part: p.Filename, Message: "Cyscon report without ip, domain or uri"})
		return nil
	}
	if !t.IsZero() && (n.earliest.IsZero() || t.Before(n.earliest)) {
		n.earliest = t
	}
	if e.SrcIP.IsValid() {
		n.addIP(e.SrcIP)
	}
	return addEvidence(n.o, &n.rep, e)
}

// honeypotLine reads the lines of a Project Honey Pot digest: "A (T)"
// then "  - DATE". raw is the line as written (its indent matters).
func (n *noticeReader) honeypotLine(raw []byte) (bool, error) {
	t := bytes.TrimSpace(raw)
	if n.hpAddr.IsValid() {
		// The indented lines under an address: "  - DATE" (one record
		// each; an address may have several) and, further in, "    -
		// Subject: …", "    - From: …" of a spam (read, not used). Any
		// other line ends the address's block.
		a := n.hpAddr
		if rest, ok := bytes.CutPrefix(t, []byte("- ")); ok && len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			if n.hpSeen && (bytes.HasPrefix(rest, []byte("Subject:")) || bytes.HasPrefix(rest, []byte("From:")) || bytes.HasPrefix(rest, []byte("To:"))) {
				return true, nil
			}
			n.hpSeen = true
			tm, _ := parseLooseTime(string(rest))
			e := Evidence{Time: tm, SrcIP: a, Raw: "projecthoneypot " + a.String() + " (" + n.hpType + ") " + string(rest)}
			if !tm.IsZero() && (n.earliest.IsZero() || tm.Before(n.earliest)) {
				n.earliest = tm
			}
			n.addIP(a)
			n.kindNotice = KindSpam
			return true, addEvidence(n.o, &n.rep, e)
		}
		n.hpAddr, n.hpSeen = netip.Addr{}, false
	}
	if len(t) < 10 || t[len(t)-1] != ')' {
		return false, nil
	}
	m := reHoneypot.FindSubmatch(t)
	if m == nil {
		return false, nil
	}
	a := arfParseAddr(string(m[1]))
	if !a.IsValid() {
		return false, nil
	}
	n.hpAddr, n.hpType, n.hpSeen = a, string(m[2]), false
	return true, nil
}

// AbuseHUB (reports@reports.abusehub.nl) sends CSV attachments
// (abusehubcsv-DATE.csv) whose report_type column names the feed of each
// row ("Shadowserver Botnet Drone", "Spamhaus Bot Report", "Shadowserver
// Open DNS Resolvers", "Hotmail FBL"); package evidence reads the rows
// (src_ip, event_date, event_time), the report types give the kind.

// maxReportTypeRows bounds the rows read for their report_type.
const maxReportTypeRows = 100000

// reportTypeKind is the kind the rows of a CSV with a report_type column
// give: the kind most of its rows name (ties: the first), "" when the CSV
// has no such column or no row names a kind.
func reportTypeKind(body []byte) Kind {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return ""
	}
	col := -1
	for i, h := range head {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), "report_type") {
			col = i
			break
		}
	}
	if col < 0 {
		return ""
	}
	counts := map[Kind]int{}
	var order []Kind
	for rows := 0; rows < maxReportTypeRows; rows++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil || col >= len(rec) {
			continue
		}
		k := reportTypeKindOf(rec[col])
		if k == "" {
			continue
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var best Kind
	for _, k := range order {
		if best == "" || counts[k] > counts[best] {
			best = k
		}
	}
	return best
}

// reportTypeKindOf maps one AbuseHUB report_type to a kind: by its words
// (kindRules), by a feed's name (feedKind), else by the words AbuseHUB's
// feeds use for infected hosts (bot, infection, drone: malware), feedback
// loops (FBL: spam) and exposed services (open, vulnerable: other).
func reportTypeKindOf(t string) Kind {
	// The feed's source is no kind ("Spamhaus Bot Report" is about bots).
	for _, src := range []string{"spamhaus", "spamcop"} {
		if i := strings.Index(strings.ToLower(t), src); i >= 0 {
			t = t[:i] + t[i+len(src):]
		}
	}
	if k := kindFromText(t); k != KindOther {
		return k
	}
	if k := feedKind(t); k != "" {
		return k
	}
	var arr [16]string
	for _, w := range kindWords(t, arr[:0]) {
		switch {
		case w == "bot", w == "bots", strings.HasPrefix(w, "infect"), w == "drone", w == "rat", w == "ebury", w == "mumblehard", w == "cryptoware":
			return KindMalware
		case w == "fbl":
			return KindSpam
		case w == "open", w == "vulnerable", w == "poodle", w == "freak", w == "compromised":
			return KindOther
		}
	}
	return ""
}

// SpamCop's summary report ("[SpamCop] summary report": one row per
// address, "IP  Mon DD HHh/LEN  trap user mole simp comments", the reverse
// DNS name on the next line) and alert ("[SpamCop] Alert": the addresses,
// one to a line, each maybe with its name) list the network's addresses
// SpamCop received spam from: each row is one record, kind spam. The
// summary's start has no year and no zone: the year is the mail's (the
// year before when that would be after the mail), the zone the report's
// (its Date's).
var (
	reSpamcopRow   = regexp.MustCompile(`^([0-9A-Fa-f:.]{7,45})\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2})h/(\d{1,4})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(.*))?$`)
	reSpamcopAlert = regexp.MustCompile(`^([0-9A-Fa-f:.]{7,45})(?:\s+([A-Za-z0-9.-]{1,253}))?$`)
)

// spamcopSummaryLine reads a row of a SpamCop summary or alert; it reports
// whether s was one.
func (n *noticeReader) spamcopSummaryLine(s string) (bool, error) {
	if len(s) < 7 || !(s[0] >= '0' && s[0] <= '9' || s[0] >= 'a' && s[0] <= 'f' || s[0] >= 'A' && s[0] <= 'F' || s[0] == ':') {
		return false, nil
	}
	if n.scSubj != n.rep.Subject || !n.scKnown { // the subject's kind, once per subject
		subj := strings.ToLower(n.rep.Subject)
		n.scSubj, n.scKnown, n.scKind = n.rep.Subject, true, ""
		if strings.Contains(subj, "[spamcop]") {
			switch {
			case strings.Contains(subj, "summary"):
				n.scKind = "summary"
			case strings.Contains(subj, "alert"):
				n.scKind = "alert"
			}
		}
	}
	var e Evidence
	switch n.scKind {
	case "summary":
		m := reSpamcopRow.FindStringSubmatch(s)
		if m == nil {
			return false, nil
		}
		if e.SrcIP = arfParseAddr(m[1]); !e.SrcIP.IsValid() {
			return false, nil
		}
		e.Time = n.spamcopStart(m[2], m[3], m[4])
	case "alert":
		m := reSpamcopAlert.FindStringSubmatch(s)
		if m == nil {
			return false, nil
		}
		if e.SrcIP = arfParseAddr(m[1]); !e.SrcIP.IsValid() {
			return false, nil
		}
	default:
		return false, nil
	}
	e.Raw = "spamcop " + s
	n.addIP(e.SrcIP)
	if !e.Time.IsZero() && (n.earliest.IsZero() || e.Time.Before(n.earliest)) {
		n.earliest = e.Time
	}
	n.kindNotice = KindSpam
	n.fields++
	return true, addEvidence(n.o, &n.rep, e)
}

// spamcopStart is the time of a summary row's "Nov 20 14h".
func (n *noticeReader) spamcopStart(mon, day, hour string) time.Time {
	ref := n.rep.Received
	if ref.IsZero() {
		ref = n.o.now
	}
	if ref.IsZero() {
		return time.Time{} // no year to give it
	}
	loc := n.zone
	if loc == nil {
		loc = n.outerLoc
	}
	if loc == nil {
		loc = time.UTC
		n.zoneless++
	}
	ref = ref.In(loc)
	t, err := time.ParseInLocation("Jan 2 15 2006", fmt.Sprintf("%s %s %s %d", mon, day, hour, ref.Year()), loc)
	if err != nil {
		return time.Time{}
	}
	if t.After(ref.Add(24 * time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return saneOrZero(t.UTC())
}

// Google Safe Browsing's reports to network owners (from
// noreply@google.com, "Safe Browsing Report for AS (NAME) on DATE") are
// XML in the body: <notification_message asn=… date=…>, then <list
// type="N"> of <url_info url="…" ip="…"/>. Type 0 lists compromised sites
// (serving malware), 1 phishing sites, 2 malware distribution sites
// (AbuseIO/parser-google's classes). Each url_info is a record of its
// address (the ip attribute, else the URL's host when it is an address).
var (
	reGSBList = regexp.MustCompile(`<list\s+type="(\d)"`)
	reGSBURL  = regexp.MustCompile(`<url_info\s+url="([^"]{1,1000})"(?:\s+ip="([0-9A-Fa-f:.]{2,45})")?`)
	reGSBDate = regexp.MustCompile(`<notification_message\b[^>]*\bdate="(\d{4}-\d{2}-\d{2})"`)
)

// gsbLine reads a line of a Safe Browsing report; it reports whether s
// was one.
func (n *noticeReader) gsbLine(s string) (bool, error) {
	if len(s) < 6 || s[0] != '<' {
		return false, nil
	}
	switch {
	case strings.HasPrefix(s, "<notification_message"):
		n.gsb = true
		if m := reGSBDate.FindStringSubmatch(s); m != nil && n.rep.AbuseTime.IsZero() {
			if t, ok := n.fieldTime(m[1]+" 00:00:00", ""); ok { // a day in the report's zone
				n.gsbDate = t
			}
		}
		return true, nil
	case !n.gsb:
		return false, nil
	case strings.HasPrefix(s, "<list"):
		n.gsbType = ""
		if m := reGSBList.FindStringSubmatch(s); m != nil {
			n.gsbType = m[1]
		}
		return true, nil
	case strings.HasPrefix(s, "<url_info"):
		m := reGSBURL.FindStringSubmatch(s)
		if m == nil {
			return true, nil
		}
		a := arfParseAddr(m[2])
		if !a.IsValid() {
			if u, err := url.Parse(html.UnescapeString(m[1])); err == nil {
				a = arfParseAddr(u.Hostname())
			}
		}
		k := KindMalware
		if n.gsbType == "1" {
			k = KindPhishing
		}
		if n.kindNotice == "" {
			n.kindNotice = k
		}
		if a.IsValid() {
			n.addIP(a)
		}
		n.fields++
		e := Evidence{Time: n.gsbDate, SrcIP: a, Raw: "safebrowsing list " + n.gsbType + " " + html.UnescapeString(m[1])}
		if !e.Time.IsZero() && (n.earliest.IsZero() || e.Time.Before(n.earliest)) {
			n.earliest = e.Time
		}
		return true, addEvidence(n.o, &n.rep, e)
	case strings.HasPrefix(s, "</list") || strings.HasPrefix(s, "</notification_message"):
		return true, nil
	}
	return false, nil
}
