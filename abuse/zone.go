package abuse

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata"

	"github.com/abusekit/abusekit/internal/mailmsg" // named zones ("Pacific Time", "Europe/Berlin") on hosts without a zone database
)

// A report states the zone of its log times in a note: "(time zone is
// UTC)", "All times are in CET", "Timezone: +0100", fail2ban's "Note: Local
// timezone is +0100 (CET)", "times are Pacific Time".
var reZoneNote = regexp.MustCompile(`(?i)\b(?:time\s*zone|timezone|zeitzone|times?\s+(?:are|is)(?:\s+(?:in|given\s+in|shown\s+in))?)\s*(?:is|:|=)?\s*(?:in\s+)?\(?\s*((?:utc|gmt)\s*[+-]\s*\d{1,2}(?::?\d{2})?|[+-]\d{2}:?\d{2}|[a-z]+/[a-z_]+(?:/[a-z_]+)?|(?:pacific|mountain|central|eastern)(?:\s+(?:standard|daylight))?\s+time|[a-z]{2,5})\b`)

// namedZones are the prose names of zones with daylight saving time, as
// IANA locations.
var namedZones = map[string]string{
	"pacific time": "America/Los_Angeles", "pacific standard time": "America/Los_Angeles", "pacific daylight time": "America/Los_Angeles",
	"mountain time": "America/Denver", "mountain standard time": "America/Denver", "mountain daylight time": "America/Denver",
	"central time": "America/Chicago", "central standard time": "America/Chicago", "central daylight time": "America/Chicago",
	"eastern time": "America/New_York", "eastern standard time": "America/New_York", "eastern daylight time": "America/New_York",
	"pt": "America/Los_Angeles", "mt": "America/Denver", "ct": "America/Chicago", "et": "America/New_York",
	"mez": "Europe/Berlin", "mesz": "Europe/Berlin",
}

// zoneOf reads a zone as a note names it: an abbreviation (UTC, CET, PDT),
// an offset (+0100, UTC+1, GMT-05:00), an IANA name (Europe/Berlin) or a
// prose name (Pacific Time). ok is false for anything else.
func zoneOf(s string) (*time.Location, bool) {
	s = strings.TrimSpace(s)
	low := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if name, ok := namedZones[low]; ok {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc, true
		}
	}
	if strings.Contains(s, "/") {
		if loc, err := time.LoadLocation(s); err == nil && loc != time.Local {
			return loc, true
		}
		return nil, false
	}
	if off, ok := zoneOffsets[strings.ToUpper(s)]; ok {
		return time.FixedZone(strings.ToUpper(s), off), true
	}
	t := strings.ReplaceAll(low, " ", "")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "utc"), "gmt")
	if len(t) < 2 || (t[0] != '+' && t[0] != '-') {
		return nil, false
	}
	sign := 1
	if t[0] == '-' {
		sign = -1
	}
	t = strings.ReplaceAll(t[1:], ":", "")
	var h, m int
	var err error
	switch len(t) {
	case 1, 2:
		h, err = strconv.Atoi(t)
	case 4:
		if h, err = strconv.Atoi(t[:2]); err == nil {
			m, err = strconv.Atoi(t[2:])
		}
	default:
		return nil, false
	}
	if err != nil || h > 14 || m > 59 {
		return nil, false
	}
	off := sign * (h*3600 + m*60)
	return time.FixedZone("", off), true
}

// zoneNote is the zone a line of prose states for the log times, if any.
func zoneNote(s string) (*time.Location, bool) {
	l := strings.ToLower(s)
	if !strings.Contains(l, "zone") && !strings.Contains(l, "time") {
		return nil, false
	}
	for _, m := range reZoneNote.FindAllStringSubmatch(s, 4) {
		if loc, ok := zoneOf(m[1]); ok {
			return loc, true
		}
	}
	return nil, false
}

// noteZoneIn looks for a zone note in the head of a text (the prose before
// a forwarded log) and takes the first one found.
func (n *noticeReader) noteZoneIn(head []byte) {
	if n.zone != nil {
		return
	}
	if loc, ok := zoneNoteIn(string(head)); ok {
		n.zone = loc
	}
}

// zoneNoteIn is the zone the first zone note of text states.
func zoneNoteIn(text string) (*time.Location, bool) {
	for line := range strings.Lines(text) {
		if loc, ok := zoneNote(line); ok {
			return loc, true
		}
	}
	return nil, false
}

// fixZoneAbbrev corrects a time net/mail read with a zone abbreviation
// ("Date: Tue, 19 Jan 2016 14:32:49 EST"): time.Parse gives an
// abbreviation it does not know offset zero, so the time would silently
// be read as UTC. An abbreviation of zoneOffsets gets its offset.
func fixZoneAbbrev(t time.Time) time.Time {
	name, off := t.Zone()
	if t.IsZero() || off != 0 || name == "" {
		return t
	}
	o, ok := zoneOffsets[strings.ToUpper(name)]
	if !ok || o == 0 {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.FixedZone(name, o))
}

// mailDate is the Date of m, its zone abbreviation read (fixZoneAbbrev).
func mailDate(m *mailmsg.Message) time.Time {
	return fixZoneAbbrev(m.Date())
}
