package abuse

import (
	"net/mail"
	"strings"
	"time"
)

// kindRules map words of a reported activity ("Port Scanning", "SSH brute
// force", "Hosting phishing site") to a Kind, tried in order: the more
// specific classes first, so that "SSH brute-force scanning" is an
// intrusion and "phishing spam" is phishing. A rule is a phrase of whole
// words ("reconfiguring" is not "recon"); a word ending in '*' stands for
// every word it starts ("scan*": scan, scans, scanning, scanner).
var kindRules = []struct {
	kind    Kind
	phrases []string
}{
	{KindPhishing, []string{"phish*"}},
	{KindCopyright, []string{"copyright*", "dmca", "infringement*", "infringing", "piracy", "pirated"}},
	{KindSpam, []string{"spam*", "unsolicited", "bulk e mail", "bulk email", "email abuse", "e mail abuse", "open relay", "smtp abuse"}},
	{KindDDoS, []string{"ddos", "dos attack*", "denial of service", "flood*", "amplification", "reflection attack*", "reflective", "open resolver*", "open dns resolver*"}},
	{KindIntrusion, []string{"brute*", "bruteforce*", "login attempt*", "failed login*", "unauthorized access", "unauthorised access", "intrusion*", "hacking", "hack attempt*", "exploit*", "sql injection", "credential*", "password*", "ssh attack*", "rdp attack*", "web attack*", "web application attack*", "login attack*", "without authorization", "without authorisation", "access remote hosts"}},
	{KindPortScan, []string{"port scan*", "portscan*", "port-scan*", "scan", "scans", "scanned", "scanning", "scanner*", "probing", "probe*", "recon", "reconnaissance", "open ports", "open tcp ports"}},
	{KindMalware, []string{"malware", "mining", "miner*", "cryptomin*", "cryptojacking", "cryptocurrency", "crypto currency", "bitcoin", "monero", "botnet*", "command and control", "c&c", "trojan*", "virus*", "ransomware", "malicious software", "hosting malicious"}},
}

// kindPhrases are kindRules split into words once.
var kindPhrases = func() [][][]string {
	out := make([][][]string, len(kindRules))
	for i, r := range kindRules {
		for _, p := range r.phrases {
			out[i] = append(out[i], kindWords(p, nil))
		}
	}
	return out
}()

// kindWords appends the lower-case words of s to dst: runs of letters,
// digits, '&' and '*' ("port-scan" is two words, "c&c" one).
func kindWords(s string, dst []string) []string {
	start := -1
	for i := 0; i <= len(s); i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '&' || c == '*' || c >= 0x80
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			dst = append(dst, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	return dst
}

func wordMatches(pattern, w string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(w, p)
	}
	return pattern == w
}

// hasPhrase reports whether the words ws hold the phrase p, word by word.
func hasPhrase(ws, p []string) bool {
	for i := 0; i+len(p) <= len(ws); i++ {
		j := 0
		for j < len(p) && wordMatches(p[j], ws[i+j]) {
			j++
		}
		if j == len(p) {
			return true
		}
	}
	return false
}

// kindFromText is the Kind a reported activity names, KindOther when it
// names none of them. It is shared by the text formats (Trust & Safety,
// plain text, X-ARF/ARF categories).
func kindFromText(s string) Kind {
	var arr [64]string
	ws := kindWords(s, arr[:0])
	for i, r := range kindRules {
		for _, p := range kindPhrases[i] {
			if hasPhrase(ws, p) {
				return r.kind
			}
		}
	}
	return KindOther
}

// zoneOffsets are the zone abbreviations found in notices, as offsets in
// seconds east of UTC (time.Parse would read an unknown abbreviation as UTC).
var zoneOffsets = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
	"CET": 3600, "CEST": 2 * 3600, "BST": 3600, "EET": 2 * 3600, "EEST": 3 * 3600,
	"JST": 9 * 3600, "KST": 9 * 3600, "SGT": 8 * 3600, "AEST": 10 * 3600, "AEDT": 11 * 3600,
}

var looseLayouts = []string{
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 3:04PM", // Project Honey Pot: "Mon, 21 Sep 2015 11:00AM PDT"
	"Mon, 2 Jan 2006 3:04 PM",
	"Mon 2 Jan 2006 15:04:05",
	"Mon Jan _2 15:04:05 2006",
	"Jan _2 2006 15:04:05",
	"Jan _2, 2006 15:04:05",
	"January _2, 2006 15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006/01/02 15:04:05",
	"02/01/2006 15:04:05",
}

// proseLayouts are the 12-hour layouts of times written in prose with a
// named zone ("June 3, 2026 at 3:12 PM Pacific Time"); without a zone they
// are left to the forwarded-header reader, which knows the forwarder's.
var proseLayouts = []string{
	"January _2, 2006 3:04:05 PM",
	"January _2, 2006 at 3:04:05 PM",
	"January _2, 2006 3:04 PM",
	"January _2, 2006 at 3:04 PM",
	"Jan _2, 2006 3:04:05 PM",
	"Jan _2, 2006 3:04 PM",
	"Monday, January _2, 2006 3:04:05 PM",
	"Monday, January _2, 2006 3:04 PM",
	"2006-01-02 3:04:05 PM",
	"2006-01-02 3:04 PM",
}

// parseLooseTime reads the times Trust & Safety and reporters write
// ("27 Apr 2023 14:46:47 GMT", RFC 1123, RFC 3339, ctime, "2023-04-27
// 14:46:47 UTC"); a time naming no zone is UTC. The result is in UTC; a
// time outside the report range (1970–2199) is not read.
func parseLooseTime(s string) (time.Time, bool) {
	t, ok := parseLooseTimeAny(s)
	if !ok || !saneTime(t) {
		return time.Time{}, false
	}
	return t, true
}

func parseLooseTimeAny(s string) (time.Time, bool) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "."))
	if s == "" {
		return time.Time{}, false
	}
	// A zone named in prose, with daylight saving time: "3:12 AM Pacific
	// Time", "… (Pacific Time)", "… Europe/Berlin".
	if rest, loc, ok := proseZone(s); ok {
		for _, layout := range append(proseLayouts, looseLayouts...) {
			if t, err := time.ParseInLocation(layout, rest, loc); err == nil {
				return t.UTC(), true
			}
		}
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	// Split off a trailing zone: "GMT", "+0000", "(UTC)", "UTC+9".
	fields := strings.Fields(s)
	off, haveZone := 0, false
	if n := len(fields); n > 1 {
		z := strings.Trim(fields[n-1], "()")
		if o, ok := zoneOffsets[strings.ToUpper(z)]; ok {
			off, haveZone = o, true
		} else if t, err := time.Parse("-0700", z); err == nil {
			_, off = t.Zone()
			haveZone = true
		} else if t, err := time.Parse("-07:00", z); err == nil {
			_, off = t.Zone()
			haveZone = true
		}
		if haveZone {
			fields = fields[:n-1]
		}
	}
	// ctime with a zone before the year: "Thu Apr 27 14:46:47 UTC 2023".
	if n := len(fields); n == 6 {
		if o, ok := zoneOffsets[strings.ToUpper(fields[4])]; ok {
			off, haveZone = o, true
			fields = append(fields[:4], fields[5])
		}
	}
	rest := strings.Join(fields, " ")
	rest = strings.TrimSuffix(rest, "Z")
	for _, layout := range looseLayouts {
		if t, err := time.ParseInLocation(layout, rest, time.UTC); err == nil {
			return t.Add(-time.Duration(off) * time.Second).UTC(), true
		}
		if t, err := time.ParseInLocation(layout+".999999999", rest, time.UTC); err == nil {
			return t.Add(-time.Duration(off) * time.Second).UTC(), true
		}
	}
	if t, err := mail.ParseDate(s); err == nil { // RFC 5322 with comments, 2-digit years
		return fixZoneAbbrev(t).UTC(), true
	}
	return time.Time{}, false
}

// proseZone splits a trailing prose or IANA zone name off s ("… Pacific
// Time", "… (Pacific Daylight Time)", "… Europe/Berlin").
func proseZone(s string) (string, *time.Location, bool) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ")"))
	low := strings.ToLower(t)
	for name := range namedZones {
		if len(name) < 6 || !strings.HasSuffix(low, name) {
			continue
		}
		head := t[:len(t)-len(name)]
		if head != "" && head[len(head)-1] != ' ' && head[len(head)-1] != '(' {
			continue // not a word of its own
		}
		rest := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(head), "("))
		loc, ok := zoneOf(name)
		if !ok || rest == "" {
			return "", nil, false
		}
		return rest, loc, true
	}
	if i := strings.LastIndexByte(t, ' '); i > 0 && strings.Contains(t[i+1:], "/") {
		if loc, ok := zoneOf(t[i+1:]); ok {
			return strings.TrimSpace(t[:i]), loc, true
		}
	}
	return "", nil, false
}
