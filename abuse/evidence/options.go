package evidence

import "time"

// DefaultMaxLineBytes is the longest line a Scanner reads unless
// Options.MaxLineBytes says otherwise.
const DefaultMaxLineBytes = 1 << 20

// Options configure ParseLine and NewScanner. The zero value is ready to use.
type Options struct {
	// Reference is the time that times without a year (syslog's
	// "Apr 27 14:46:47") and without a date (tcpdump's "14:46:47.123456")
	// are read against: the year is Reference's, or the year before when
	// that would put the time more than a day after Reference. Its
	// Location is also the zone of times that name none. Zero means now,
	// with times that name no zone read as UTC (forwarded logs almost always
	// are, and say so). A Reference outside the years 1010–9998 counts as
	// zero: a time read against it could fall outside the years JSON
	// carries (0–9999).
	Reference time.Time
	// MaxLineBytes is the longest line Scanner accepts (default
	// DefaultMaxLineBytes). A longer line is an error wrapping
	// ErrLineTooLong; it is never buffered whole.
	MaxLineBytes int
	// DefaultProto is the Proto of column-log records when neither the line
	// nor the log's header ("TCP port being scanned") names one. Empty
	// leaves Proto empty.
	DefaultProto string
	// Zoneless, when not nil, is incremented for every record whose time
	// named no zone (and was read in Reference's Location), so that a
	// caller can say which zone it assumed rather than assume UTC
	// silently.
	Zoneless *int
}

// config is Options made ready: the reference resolved once.
type config struct {
	ref     time.Time
	refYear int
	loc     *time.Location
	maxLine int
	proto   string
	raw     *rawArena // where Raw strings are carved from; nil: allocate each
	tcache  struct {  // the last time text read after the columns, and its time
		key      [40]byte
		n        int
		t        time.Time
		zoneless bool
	}
	zoneless     *int // Options.Zoneless
	lastZoneless bool // the last time read named no zone
}

// The years a Reference may have: syslogTime goes back up to nine years
// from it, and dates are valid from year 1000 (validDate).
const minRefYear, maxRefYear = 1010, 9998

func newConfig(o Options) config {
	c := config{ref: o.Reference, loc: time.UTC, maxLine: o.MaxLineBytes, proto: o.DefaultProto, zoneless: o.Zoneless}
	if y := c.ref.Year(); !c.ref.IsZero() && (y < minRefYear || y > maxRefYear) {
		c.ref = time.Time{} // its year would put times before year 1000 or after 9999
	}
	if c.ref.IsZero() {
		c.ref = time.Now()
	} else if l := c.ref.Location(); l != nil {
		c.loc = l
	}
	c.refYear = c.ref.In(c.loc).Year()
	if c.maxLine <= 0 {
		c.maxLine = DefaultMaxLineBytes
	}
	c.proto = protoName([]byte(c.proto))
	return c
}
