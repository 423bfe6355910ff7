package abuse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Parse reads the reports in r, whatever their format. It looks at the
// first bytes (up to 64 KiB) to tell the formats apart, in this order: JSON
// formats (GuardDuty findings, X-ARF v4), an mbox, a mail (.eml, in which a
// Trust & Safety notice, ARF or X-ARF is recognised), the pasted text of a
// Trust & Safety notice, a bare evidence log (Source "firewall-log"), and
// plain text. It then streams the input through that format's parser: an
// mbox message by message, a forwarded log record by record, so that with
// WithEvidenceFunc and WithReportFunc memory stays bounded whatever the size
// of the input.
//
// Errors are *ParseError values naming the format and line; input larger
// than Limits allow gives one wrapping ErrTooLarge; input no format
// recognises gives an error wrapping ErrUnknownFormat that names the formats
// tried.
func Parse(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	br := bufio.NewReaderSize(newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, "input"), sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	var tried []string
	for _, f := range formats {
		tried = append(tried, f.name)
		if len(bytes.TrimSpace(head)) == 0 || !f.sniff(head) {
			continue
		}
		o.logger.Debug("abuse: format detected", "format", f.name)
		reps, err := f.parse(ctx, br, &o)
		if errors.Is(err, ErrUnknownFormat) {
			return nil, fmt.Errorf("%w (formats tried: %s)", err, strings.Join(tried, ", "))
		}
		if err != nil {
			return nil, err
		}
		if o.reportFn != nil {
			for _, rep := range reps {
				if err := o.reportFn(rep); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		return reps, nil
	}
	what := "input"
	if len(bytes.TrimSpace(head)) == 0 {
		what = "empty input"
	}
	return nil, fmt.Errorf("%w: %s is none of %s", ErrUnknownFormat, what, strings.Join(tried, ", "))
}
