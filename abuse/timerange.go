package abuse

import (
	"errors"
	"fmt"
	"time"
)

// ErrTimeRange is wrapped by the error for a report date outside the years
// a report can be about: 1970 to 2199.
var ErrTimeRange = errors.New("abuse: date out of range")

// The range of report times (ErrTimeRange): a date a report states (an X-ARF Date, a
// GuardDuty timestamp, an ARF Arrival-Date, an "Abuse Time", a mail's Date)
// outside it is a typo or hostile input, not a time to read year-less log
// times against or to draft a reply from. The strict formats (X-ARF, ARF,
// GuardDuty) reject such a date with an error wrapping ErrTimeRange; loose
// text (prose, mail headers) ignores it, as if it were unreadable. Either
// way every time of a Report marshals to JSON.
var (
	minReportTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxReportTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

// saneTime reports whether t is inside [minReportTime, maxReportTime).
func saneTime(t time.Time) bool {
	return !t.Before(minReportTime) && t.Before(maxReportTime)
}

// checkTime gives an error wrapping ErrTimeRange for a non-zero t outside
// the range; field names where it came from.
func checkTime(field string, t time.Time) error {
	if t.IsZero() || saneTime(t) {
		return nil
	}
	return fmt.Errorf("%s: %s is outside %d–%d: %w", field, t.Format(time.RFC3339), minReportTime.Year(), maxReportTime.Year()-1, ErrTimeRange)
}

// saneOrZero is t when it is in range, else the zero time.
func saneOrZero(t time.Time) time.Time {
	if saneTime(t) {
		return t
	}
	return time.Time{}
}
