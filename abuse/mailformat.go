package abuse

import (
	"context"
	"slices"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// mailFormat is a report format carried inside a mail (ARF, X-ARF, a
// Trust & Safety notice). ParseMail reads the message once with package
// mailmsg, then tries the mail formats in priority order on it, then on each
// message it forwards (message/rfc822), and falls back to plain text.
type mailFormat struct {
	name     string // as named in errors and logs
	priority int    // lower is tried first; the Trust & Safety notice is 50
	// match reports whether m is in this format. It must be cheap on a
	// message that is not, and must not panic.
	match func(m *mailmsg.Message) bool
	// parse reads the reports of m. Like a format's parse, it returns the
	// reports (or hands them to o.reportFn itself and returns none).
	parse func(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error)
}

var mailFormats []mailFormat

// registerMailFormat adds f to the formats ParseMail tries, in priority order.
func registerMailFormat(f mailFormat) {
	mailFormats = append(mailFormats, f)
	slices.SortStableFunc(mailFormats, func(a, b mailFormat) int { return a.priority - b.priority })
}
