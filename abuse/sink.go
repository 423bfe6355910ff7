package abuse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// reportSink collects reports, or hands them to the caller's WithReportFunc,
// counting them against Limits.MaxReports.
type reportSink struct {
	o       *options
	format  string
	reports []Report
	n       int
}

func (s *reportSink) add(r Report) error {
	s.n++
	if s.n > s.o.limits.MaxReports {
		return &ParseError{Format: s.format, Err: fmt.Errorf("more than %d reports: %w", s.o.limits.MaxReports, ErrTooLarge)}
	}
	fillReport(&r)
	if s.o.reportFn != nil {
		return s.o.reportFn(r)
	}
	s.reports = append(s.reports, r)
	return nil
}

// oneReport is the result of a parser that reads one report from its
// input: rep goes through a reportSink like any other.
func oneReport(o *options, format string, rep Report) ([]Report, error) {
	s := &reportSink{o: o, format: format}
	if err := s.add(rep); err != nil {
		return nil, err
	}
	return s.reports, nil
}

// addEvidence counts e in r and keeps it (up to maxEvidence), or streams it
// to the caller's WithEvidenceFunc.
func addEvidence(o *options, r *Report, e Evidence) error {
	r.EvidenceCount++
	if o.evidenceFn != nil {
		return o.evidenceFn(e)
	}
	if o.maxEvidence < 0 || len(r.Evidence) < o.maxEvidence {
		r.Evidence = append(r.Evidence, e)
	}
	return nil
}

// fillReport gives every list of r a non-nil value, so that reports marshal
// with [] rather than null whatever format they came from.
func fillReport(r *Report) {
	if r.Resources.InstanceIDs == nil {
		r.Resources.InstanceIDs = []string{}
	}
	if r.Resources.IPs == nil {
		r.Resources.IPs = []netip.Addr{}
	}
	if r.Resources.SecurityGroups == nil {
		r.Resources.SecurityGroups = []string{}
	}
	if r.Resources.Exposures == nil {
		r.Resources.Exposures = []Exposure{}
	}
	if r.Evidence == nil {
		r.Evidence = []Evidence{}
	}
	if r.Mitigations == nil {
		r.Mitigations = []Mitigation{}
	}
	if r.RequiredActions == nil {
		r.RequiredActions = []string{}
	}
	if r.EvidenceCount == 0 && len(r.Resources.InstanceIDs) == 0 && len(r.Resources.IPs) == 0 && len(r.Resources.SecurityGroups) == 0 && len(r.Resources.Projects) == 0 && len(r.Resources.Hosts) == 0 && !hasWarning(r.Warnings, WarnNoEvidence) {
		r.Warnings = append(r.Warnings, Warning{Code: WarnNoEvidence, Message: fmt.Sprintf("%s report with no evidence and no instance, IP address, security group, project or host", r.Source)})
	}
	if r.Warnings == nil {
		r.Warnings = []Warning{}
	}
}

func hasWarning(ws []Warning, c WarningCode) bool {
	for _, w := range ws {
		if w.Code == c {
			return true
		}
	}
	return false
}

// maxWarnings bounds the warnings of one report.
const maxWarnings = 100

// addWarning appends w to r unless r has maxWarnings already or the same
// warning.
func addWarning(r *Report, w Warning) {
	if len(r.Warnings) >= maxWarnings {
		return
	}
	for _, x := range r.Warnings {
		if x == w {
			return
		}
	}
	r.Warnings = append(r.Warnings, w)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// parseErr wraps err in a *ParseError of format at line, unless it already
// is one (from a nested reader, which knows better).
func parseErr(format string, line int, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return err
	}
	var le *mailmsg.LimitError
	if errors.As(err, &le) { // a streamed mail body: the mail's own line
		return mailError(format, 0, err)
	}
	return &ParseError{Format: format, Line: line, Err: err}
}

// limitedReader fails with an error wrapping ErrTooLarge once more than max
// bytes were read, instead of silently stopping as io.LimitReader does.
type limitedReader struct {
	r      io.Reader
	max, n int64
	format string
}

func newLimitedReader(r io.Reader, max int64, format string) *limitedReader {
	return &limitedReader{r: r, max: max, format: format}
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, &ParseError{Format: l.format, Err: fmt.Errorf("more than %d bytes: %w", l.max, ErrTooLarge)}
	}
	if rem := l.max - l.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, &ParseError{Format: l.format, Err: fmt.Errorf("more than %d bytes: %w", l.max, ErrTooLarge)}
	}
	return n, err
}

// readLine reads one line (without its line ending) of at most max bytes
// from br; a longer line is an error wrapping ErrTooLarge and is never
// buffered whole. scratch is reused between calls.
func readLine(br *bufio.Reader, max int, scratch *[]byte) ([]byte, error) {
	l, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		*scratch = append((*scratch)[:0], l...)
		for err == bufio.ErrBufferFull {
			if len(*scratch) > max {
				return nil, fmt.Errorf("line longer than %d bytes: %w", max, ErrTooLarge)
			}
			l, err = br.ReadSlice('\n')
			*scratch = append(*scratch, l...)
		}
		l = *scratch
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(l) == 0 {
		return nil, io.EOF
	}
	for len(l) > 0 && (l[len(l)-1] == '\n' || l[len(l)-1] == '\r') {
		l = l[:len(l)-1]
	}
	if len(l) > max {
		return nil, fmt.Errorf("line longer than %d bytes: %w", max, ErrTooLarge)
	}
	return l, nil
}
