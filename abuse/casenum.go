package abuse

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	// "Case Number: 17001234567-1", "Case ID 17001234567", "Case #17001234567".
	reCaseNumber = regexp.MustCompile(`(?i)\bcase\s*(?:number|no\.?|id|#)?\s*[:#]?\s*\[?(\d{5,20})(?:-\d{1,4})?\b`)
	// "[17001234567]" or "[Case 17001234567-1]" in a subject.
	// "[CSIRT#2015092310000001]" (Cyscon), "[Issue 12345678]" (Netcraft),
	// "[Ticket #8812345]".
	reSubjectCase = regexp.MustCompile(`(?i)\[(?:(?:case|csirt|issue|ticket|incident)\s*#?\s*)?(\d{6,20})(?:-\d{1,4})?\]`)
	// "[AWS ID 123456789012]" in a subject.
	reSubjectAccount = regexp.MustCompile(`(?i)\bAWS\s+(?:ID|account(?:\s+ID)?)\s*:?\s*(\d{12})\b`)
)

// caseFromSubject is the case number a subject carries in brackets.
func caseFromSubject(s string) string {
	if m := reSubjectCase.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// IncidentID is the identifier of the incident a report opens: its case
// number when it has one ("17001234567"), else "r-" and 16 hex digits of a
// SHA-256 over the report's identifying fields (provider, source, kind,
// account, region, instances, IPs, abuse time, reporter, subject, received).
// It is stable: the same report parsed again, with or without its evidence,
// gives the same ID. It seeds idempotency tokens, tags and directory names,
// so it only holds [a-z0-9-].
func IncidentID(r Report) string {
	if c := sanitizeID(r.CaseID); c != "" {
		return c
	}
	ids := slices.Clone(r.Resources.InstanceIDs)
	slices.Sort(ids)
	ips := make([]string, 0, len(r.Resources.IPs))
	for _, a := range r.Resources.IPs {
		ips = append(ips, a.String())
	}
	slices.Sort(ips)
	h := sha256.New()
	for _, f := range []string{
		r.Provider, string(r.Source), string(r.Kind), r.AccountID, r.Resources.Region,
		strings.Join(ids, ","), strings.Join(ips, ","), timeKey(r.AbuseTime),
		strings.ToLower(r.Reporter), r.Subject, timeKey(r.Received),
	} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "r-" + hex.EncodeToString(h.Sum(nil))[:16]
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func sanitizeID(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteRune(c)
		case c == '_' || c == '.' || c == ' ' || c == '/':
			b.WriteByte('-')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
