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
// message is read. Messages that hold no report (not a notice, no resources,
// no evidence) or whose header is unreadable are skipped with a log record;
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
			return nil, mailError(mboxFormat, 0, err)
		}
		msgs++
		line := mr.Line()
		reps, err := mailReports(ctx, msg, o, mboxFormat, line)
		if errors.Is(err, ErrUnknownFormat) {
			o.logger.Info("mbox: message holds no report", "line", line, "err", err)
			continue
		}
		if errors.Is(err, errMailHeader) {
			o.logger.Warn("mbox: message skipped, its header is unreadable", "line", line, "err", err)
			continue
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && pe.Format == mboxFormat {
				return nil, err
			}
			return nil, &ParseError{Format: mboxFormat, Line: line, Err: err}
		}
		ok++
		for _, rep := range reps {
			if err := s.add(rep); err != nil {
				return nil, err
			}
		}
	}
	if ok == 0 {
		return nil, &ParseError{Format: mboxFormat, Err: fmt.Errorf("%w: none of the %d messages holds a report", ErrUnknownFormat, msgs)}
	}
	return s.reports, nil
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
