package abuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

const mboxFormat = "mbox"

// ParseMbox reads an mbox (mboxo or mboxrd) of mails, each as ParseMail
// does, streaming: at most one message is in memory at a time (and of a
// single-part text message, not even that), and with
// WithReportFunc each message's reports are handed over before the next
// message's first report or evidence record (WithEvidenceFunc). Messages that hold no report (not a notice, no resources,
// no evidence) or whose header is unreadable are skipped, each with a
// Warning on the reports of the message before it (or, before the first
// report, after it): WarnSkippedMessage, WarnUnreadablePart;
// any other error (a limit, an error of a WithEvidenceFunc or
// WithReportFunc) stops parsing and names the line of the mbox.
func ParseMbox(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return parseMbox(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, mboxFormat), &o)
}

func parseMbox(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	mr := mailmsg.NewMboxReader(r, o.limits.MaxLineBytes)
	s := &reportSink{o: o, format: mboxFormat}
	msgs, ok := 0, 0
	// The reports of the last message read are held back until the next
	// message gives a report or its first evidence record (so that a
	// caller's evidence still comes before the report it belongs to), so
	// that a message skipped after them is said on them; warnings of
	// messages skipped with no report held wait in pending for the next
	// report.
	var held []Report
	var pending []Warning
	skip := func(w Warning) {
		if len(held) == 0 {
			if len(pending) < maxWarnings {
				pending = append(pending, w)
			}
			return
		}
		for i := range held {
			addWarning(&held[i], w)
		}
	}
	flush := func() error {
		for _, rep := range held {
			if err := s.add(rep); err != nil {
				return err
			}
		}
		held = nil
		return nil
	}
	mo := o
	if o.evidenceFn != nil {
		oo := *o
		oo.evidenceFn = func(e Evidence) error {
			if len(held) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			return o.evidenceFn(e)
		}
		mo = &oo
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg, err := mr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, mailmsg.ErrNotMbox) {
			return nil, &ParseError{Format: mboxFormat, Line: 1, Err: fmt.Errorf("%w: no \"From \" line at the start", ErrUnknownFormat)}
		}
		if err != nil {
			// What was complete before the error is handed over, as it
			// would have been without the holding back.
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			return nil, mailError(mboxFormat, 0, err)
		}
		msgs++
		line := mr.Line()
		where := fmt.Sprintf("mbox message %d (line %d)", msgs, line)
		reps, err := mailReports(ctx, msg, mo, mboxFormat, line)
		if errors.Is(err, ErrUnknownFormat) {
			o.logger.Info("mbox: message holds no report", "line", line, "err", err)
			skip(Warning{Code: WarnSkippedMessage, Part: where, Message: "message holds no report (none of the formats, no resources or evidence): not used"})
			continue
		}
		if errors.Is(err, errMailHeader) {
			o.logger.Warn("mbox: message skipped, its header is unreadable", "line", line, "err", err)
			skip(Warning{Code: WarnUnreadablePart, Part: where, Message: "message skipped, its header is unreadable: " + unwrapMsg(err)})
			continue
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			var pe *ParseError
			if errors.As(err, &pe) && pe.Format == mboxFormat {
				return nil, err
			}
			return nil, &ParseError{Format: mboxFormat, Line: line, Err: err}
		}
		ok++
		if err := flush(); err != nil {
			return nil, err
		}
		for i := range reps {
			for _, w := range pending {
				addWarning(&reps[i], w)
			}
		}
		pending = nil
		held = reps
	}
	if ok == 0 {
		return nil, &ParseError{Format: mboxFormat, Err: fmt.Errorf("%w: none of the %d messages holds a report", ErrUnknownFormat, msgs)}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return s.reports, nil
}

// unwrapMsg is the message of err without the ParseError's prefix.
func unwrapMsg(err error) string {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func mboxSniff(head []byte) bool {
	head = bytes.TrimLeft(head, "\r\n")
	if !bytes.HasPrefix(head, []byte("From ")) {
		return false
	}
	first, rest, ok := bytes.Cut(head, []byte("\n"))
	// "From sender@example.com Thu Apr 27 16:20:31 2023": a separator,
	// whatever follows; else the next lines must be a mail header.
	if f := bytes.Fields(first); len(f) >= 4 && bytes.Count(first, []byte(":")) >= 2 {
		return true
	}
	return !ok || mailSniff(rest) || len(rest) == 0
}

func init() {
	registerFormat(format{name: mboxFormat, priority: 20, sniff: mboxSniff, parse: parseMbox})
}
