package abuse

import (
	"log/slog"
	"time"
)

// Limits bound what a parser will read, so that hostile input cannot take
// unbounded memory or time. Zero fields take the defaults below.
type Limits struct {
	MaxBytes     int64 // whole input; default 256 MiB
	MaxLineBytes int   // one line; default 1 MiB (longer lines are an error, never buffered whole)
	MaxParts     int   // MIME parts in one message; default 1,000
	MaxDepth     int   // nesting of multiparts and message/rfc822 forwards; default 16
	MaxReports   int   // reports in one input (mbox); default 100,000
}

// DefaultLimits are the limits Parse uses unless told otherwise.
var DefaultLimits = Limits{
	MaxBytes:     256 << 20,
	MaxLineBytes: 1 << 20,
	MaxParts:     1000,
	MaxDepth:     16,
	MaxReports:   100000,
}

// Option configures Parse and the per-format parsers.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	limits      Limits
	now         time.Time // reference for times without a year; zero = time.Now()
	maxEvidence int
	evidenceFn  func(Evidence) error
	reportFn    func(Report) error
}

// DefaultMaxEvidence is how many evidence records a Report keeps in
// Evidence unless WithMaxEvidence says otherwise. EvidenceCount still
// counts every record.
const DefaultMaxEvidence = 100000

func buildOptions(opts []Option) options {
	o := options{limits: DefaultLimits, maxEvidence: DefaultMaxEvidence}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	d := DefaultLimits
	if o.limits.MaxBytes <= 0 {
		o.limits.MaxBytes = d.MaxBytes
	}
	if o.limits.MaxLineBytes <= 0 {
		o.limits.MaxLineBytes = d.MaxLineBytes
	}
	if o.limits.MaxParts <= 0 {
		o.limits.MaxParts = d.MaxParts
	}
	if o.limits.MaxDepth <= 0 {
		o.limits.MaxDepth = d.MaxDepth
	}
	if o.limits.MaxReports <= 0 {
		o.limits.MaxReports = d.MaxReports
	}
	return o
}

// WithLogger sends the parsers' debug records to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLimits replaces DefaultLimits; zero fields keep their default.
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithReferenceTime sets the time that times without a year (syslog) are
// read against, instead of the notice's Date header (else the current time).
// A relative deadline ("within 24 hours") counts from the notice's Date, or
// from this time when the input has none (pasted text); with neither,
// Report.Deadline stays zero rather than being guessed.
func WithReferenceTime(t time.Time) Option { return func(o *options) { o.now = t } }

// WithMaxEvidence caps how many evidence records each Report keeps in
// Evidence (n < 0: no cap). EvidenceCount still counts every one.
func WithMaxEvidence(n int) Option { return func(o *options) { o.maxEvidence = n } }

// WithEvidenceFunc streams every evidence record to fn as it is read, in
// input order, before the Report it belongs to is complete. With it, reports
// keep no evidence in Evidence (only EvidenceCount), so memory stays bounded
// whatever the size of the log. An error from fn stops parsing and is returned.
func WithEvidenceFunc(fn func(Evidence) error) Option {
	return func(o *options) { o.evidenceFn = fn }
}

// WithReportFunc hands each report to fn as soon as it is complete, instead of
// collecting them in Parse's result (which is then empty). Evidence streamed
// through WithEvidenceFunc for a report comes before that report. In an
// mbox a report is complete once the next message gives a report or its
// first evidence record (or the mbox ends): a message skipped in between
// is said on it (WarnSkippedMessage, WarnUnreadablePart).
func WithReportFunc(fn func(Report) error) Option {
	return func(o *options) { o.reportFn = fn }
}
