package abuse

import (
	"bufio"
	"bytes"
	"net/netip"
	"path"
	"regexp"
	"strings"

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
func (n *noticeReader) spamcopLine(s string) bool {
	if !strings.HasPrefix(s, "Email from ") {
		return false
	}
	m := reSpamcopEmail.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	a := arfParseAddr(m[1])
	if !a.IsValid() {
		return false
	}
	n.addIP(a)
	if t, ok := parseLooseTime(m[2]); ok && n.rep.AbuseTime.IsZero() {
		n.rep.AbuseTime = t
	}
	n.kindNotice = KindSpam
	n.fields++
	return true
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
		a := n.hpAddr
		n.hpAddr = netip.Addr{}
		if rest, ok := bytes.CutPrefix(t, []byte("- ")); ok && len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			tm, _ := parseLooseTime(string(rest))
			e := Evidence{Time: tm, SrcIP: a, Raw: "projecthoneypot " + a.String() + " (" + n.hpType + ") " + string(rest)}
			if !tm.IsZero() && (n.earliest.IsZero() || tm.Before(n.earliest)) {
				n.earliest = tm
			}
			n.addIP(a)
			n.kindNotice = KindSpam
			return true, addEvidence(n.o, &n.rep, e)
		}
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
	n.hpAddr, n.hpType = a, string(m[2])
	return true, nil
}
