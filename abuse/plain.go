package abuse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/abusekit/abusekit/abuse/evidence"
)

const (
	plainFormat = "plain"
	logFormat   = "firewall-log"
)

// ParsePlain reads free text an operator pasted (Source "plain"): notice
// fields where it has them (as ParseTrustAndSafety reads them), every EC2
// instance ID, security group and IP address it names, and every evidence
// line in any layout package evidence knows. Text naming none of those is an
// error wrapping ErrUnknownFormat.
func ParsePlain(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return parsePlain(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, plainFormat), &o)
}

func parsePlain(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	n := newNoticeReader(o, plainFormat)
	n.plain = true
	if err := n.read(ctx, r); err != nil {
		return nil, err
	}
	if !n.useful() {
		return nil, &ParseError{Format: plainFormat, Err: fmt.Errorf("%w: text names no instance, IP address, case or evidence", ErrUnknownFormat)}
	}
	rep := n.finish()
	rep.Source = SourcePlain
	return oneReport(o, plainFormat, rep)
}

// ParseLog reads a bare evidence log (Source "firewall-log"): a forwarded
// column log, arrow log, CSV feed, iptables/UFW/nftables kernel lines, sshd
// or fail2ban lines, in any mix (see package evidence). It streams: with
// WithEvidenceFunc, a log of any size takes bounded memory. The report's Kind
// is read from the records (sshd/fail2ban lines: intrusion; several targets
// or ports: portscan) and its AbuseTime is the earliest record's.
func ParseLog(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return parseLog(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, logFormat), &o)
}

func parseLog(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	n := newNoticeReader(o, logFormat)
	n.noSrcIPs = true
	if err := n.scan(ctx, r, 0); err != nil {
		return nil, err
	}
	if n.rep.EvidenceCount == 0 {
		return nil, &ParseError{Format: logFormat, Err: fmt.Errorf("%w: no evidence line in the log", ErrUnknownFormat)}
	}
	rep := n.finish()
	rep.Source = SourceFirewallLog
	return oneReport(o, logFormat, rep)
}

// logSniff recognises a log: at least three in ten of the non-blank lines
// of head are evidence.
func logSniff(head []byte) bool {
	if !looksLikeText(head) {
		return false
	}
	if len(head) == sniffBytes { // drop a last line cut short
		if i := bytes.LastIndexByte(head, '\n'); i > 0 {
			head = head[:i+1]
		}
	}
	lines := 0
	for _, l := range bytes.Split(head, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines++
		}
	}
	recs := 0
	sc := evidence.NewScanner(bytes.NewReader(head), evidence.Options{})
	for sc.Scan() {
		recs++
	}
	return recs > 0 && recs*10 >= lines*3
}

// looksLikeText reports whether head is text: no NUL byte, and control
// characters or invalid UTF-8 in at most 1% of it... or of its first runes.
func looksLikeText(head []byte) bool {
	if len(head) == 0 || bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	bad, total := 0, 0
	for len(head) > 0 {
		r, size := utf8.DecodeRune(head)
		head = head[size:]
		total++
		switch {
		case r == utf8.RuneError && size == 1:
			// Latin-1 text is text too; only count it a little.
			if total%2 == 0 {
				bad++
			}
		case r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f', r == 0x7f:
			bad++
		}
	}
	return bad*100 <= total
}

func plainSniff(head []byte) bool { return looksLikeText(head) }

func init() {
	registerFormat(format{name: logFormat, priority: 70, sniff: logSniff, parse: parseLog})
	registerFormat(format{name: plainFormat, priority: 90, sniff: plainSniff, parse: parsePlain})
}
