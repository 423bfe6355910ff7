package abuse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// ARF, the Abuse Reporting Format of RFC 5965: a multipart/report;
// report-type=feedback-report mail with a human-readable part, a
// message/feedback-report part of header-like fields (Feedback-Type,
// User-Agent, Version, Source-IP, Original-Mail-From, Arrival-Date,
// Reported-Domain, Authentication-Results …) and the reported message as
// message/rfc822 or text/rfc822-headers. A Feedback-Type of "xarf"
// (abusix's XARF over ARF) carries an X-ARF JSON report as its third part.

const arfFormat = "arf"

func init() {
	registerMailFormat(mailFormat{name: xarfFormat, priority: 15, match: xarfMailMatch, parse: xarfMailParse})
	registerMailFormat(mailFormat{name: arfFormat, priority: 20, match: arfMatch, parse: arfMailParse})
}

// ParseARF reads an ARF (RFC 5965) feedback report mail. A report with
// Feedback-Type "xarf" gives the X-ARF report it carries (Source "x-arf").
// Errors are *ParseError values with Format "arf".
func ParseARF(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	m, err := arfReadMail(r, &o, arfFormat)
	if err != nil {
		return nil, err
	}
	if !arfMatch(m) {
		return nil, &ParseError{Format: arfFormat, Err: errors.New("not an ARF report: no message/feedback-report part")}
	}
	return arfCollect(ctx, m, &o, arfMailParse)
}

// arfReadMail reads one mail message within the options' limits.
func arfReadMail(r io.Reader, o *options, formatName string) (*mailmsg.Message, error) {
	m, err := mailmsg.Read(io.LimitReader(r, o.limits.MaxBytes+1), mailLimits(o))
	if err != nil {
		return nil, mailError(formatName, 0, err)
	}
	return m, nil
}

// arfCollect runs a mail parse and hands its reports to the caller's
// report function, as Parse does for the mail formats.
func arfCollect(ctx context.Context, m *mailmsg.Message, o *options, parse func(context.Context, *mailmsg.Message, *options) ([]Report, error)) ([]Report, error) {
	reps, err := parse(ctx, m, o)
	if err != nil {
		return nil, err
	}
	ws := mailWarnings(m, "")
	for i := range reps {
		for _, w := range ws {
			addWarning(&reps[i], w)
		}
	}
	if o.reportFn == nil {
		return reps, nil
	}
	for _, r := range reps {
		if err := o.reportFn(r); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// arfMailSink is a sink for the mail formats: reports are returned to the
// mail parser, which hands them on (evidence still streams as it is read).
func arfMailSink(o *options, formatName string) *reportSink {
	oo := *o
	oo.reportFn = nil
	return &reportSink{o: &oo, format: formatName}
}

func arfMediaType(v string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0])), map[string]string{}
	}
	return mt, params
}

// arfFeedbackPart is the message/feedback-report part of m, or nil.
func arfFeedbackPart(m *mailmsg.Message) *mailmsg.Part {
	for _, p := range m.Parts {
		if p.MediaType == "message/feedback-report" {
			return p
		}
	}
	return nil
}

func arfMatch(m *mailmsg.Message) bool {
	return arfFeedbackPart(m) != nil
}

// arfFields reads the header-like fields of a feedback report. Fields may
// repeat (Reported-Uri, Original-Rcpt-To); the first of each is kept in
// order, the others under the same key.
func arfFields(body []byte) (textproto.MIMEHeader, error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(body), strings.NewReader("\r\n\r\n"))))
	h, err := tp.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil, fmt.Errorf("message/feedback-report part: %w", err)
	}
	return h, nil
}

func arfMailInfo(m *mailmsg.Message) xarfMailInfo {
	mi := xarfMailInfo{subject: m.Subject(), from: m.From(), received: mailDate(m)}
	if !mi.received.IsZero() {
		mi.loc = mi.received.Location()
		mi.received = saneOrZero(mi.received.UTC())
		if mi.received.IsZero() {
			mi.loc = nil
		}
	}
	return mi
}

func arfMailParse(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	fp := arfFeedbackPart(m)
	if fp == nil {
		return nil, &ParseError{Format: arfFormat, Err: errors.New("no message/feedback-report part")}
	}
	h, err := arfFields(fp.Body)
	if err != nil {
		return nil, &ParseError{Format: arfFormat, Err: err}
	}
	ftype := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	if ftype == "" {
		return nil, &ParseError{Format: arfFormat, Err: errors.New("feedback report without Feedback-Type")}
	}
	if ftype == "xarf" {
		return xarfFromMailJSON(ctx, m, o)
	}
	sink := arfMailSink(o, arfFormat)
	mi := arfMailInfo(m)
	r := Report{
		Source:   SourceARF,
		Kind:     ARFKind(ftype, arfHumanText(m)),
		Reporter: mi.from,
		Subject:  mi.subject,
		Received: mi.received,
		Activity: ftype,
	}
	r.CaseID = arfCaseID(m, h)
	arrival := arfFirst(h.Get("Arrival-Date"), h.Get("Received-Date"))
	if arrival != "" {
		t, err := mail.ParseDate(arrival)
		t = fixZoneAbbrev(t)
		if err != nil {
			if t, err = xarfTime("Arrival-Date", arrival); err != nil {
				if errors.Is(err, ErrTimeRange) {
					return nil, &ParseError{Format: arfFormat, Err: err}
				}
				return nil, &ParseError{Format: arfFormat, Err: fmt.Errorf("Arrival-Date: unrecognised date %q", arrival)}
			}
		}
		if err := checkTime("Arrival-Date", t); err != nil {
			return nil, &ParseError{Format: arfFormat, Err: err}
		}
		r.AbuseTime = t.UTC()
	}
	orig := arfOriginal(m)
	if r.AbuseTime.IsZero() && orig != nil {
		if d, err := orig.Date(); err == nil {
			d = fixZoneAbbrev(d)
			r.AbuseTime = saneOrZero(d.UTC())
		}
	}
	src := arfParseAddr(h.Get("Source-Ip"))
	r.Resources.IPs = arfAppendAddr(r.Resources.IPs, src)
	var port uint16
	if p := strings.TrimSpace(h.Get("Source-Port")); p != "" {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, &ParseError{Format: arfFormat, Err: fmt.Errorf("Source-Port: %q is not a number", p)}
		}
		if port, err = arfPort(n, "Source-Port"); err != nil {
			return nil, &ParseError{Format: arfFormat, Err: err}
		}
	}
	raw := []string{"Feedback-Type: " + ftype}
	for _, k := range []string{"Source-Ip", "Source-Port", "Original-Mail-From", "Original-Rcpt-To", "Reported-Domain", "Reported-Uri", "Incidents", "Authentication-Results", "Auth-Failure", "User-Agent"} {
		for _, v := range h.Values(k) {
			if v = replyLine(v); v != "" {
				raw = append(raw, arfFieldName(k)+": "+v)
			}
		}
	}
	if orig != nil {
		if s := replyLine(mailmsg.DecodeHeader(orig.Get("Subject"))); s != "" {
			raw = append(raw, "Subject: "+s)
		}
	}
	e := Evidence{Time: r.AbuseTime, SrcIP: src, SrcPort: port, Raw: strings.Join(raw, "; ")}
	if err := addEvidence(sink.o, &r, e); err != nil {
		return nil, err
	}
	if err := sink.add(r); err != nil {
		return nil, err
	}
	return sink.reports, nil
}

// arfFieldName spells a canonical MIME key as RFC 5965 does.
func arfFieldName(k string) string {
	switch k {
	case "Source-Ip":
		return "Source-IP"
	case "Reported-Uri":
		return "Reported-URI"
	}
	return k
}

// arfOriginal is the header of the reported message: the message/rfc822
// part, else the text/rfc822-headers part.
func arfOriginal(m *mailmsg.Message) mail.Header {
	if len(m.Forwarded) > 0 {
		return m.Forwarded[0].Header
	}
	for _, p := range m.Parts {
		if p.MediaType == "text/rfc822-headers" {
			msg, err := mail.ReadMessage(io.MultiReader(bytes.NewReader(bytes.TrimLeft(p.Body, "\r\n")), strings.NewReader("\r\n\r\n")))
			if err == nil {
				return msg.Header
			}
		}
	}
	return nil
}

// arfCaseID is the reporter's reference: a case number in the subject, else
// the feedback report's Original-Envelope-Id, else the Message-ID.
func arfCaseID(m *mailmsg.Message, h textproto.MIMEHeader) string {
	if id := caseFromSubject(m.Subject()); id != "" {
		return id
	}
	if id := arfBracketRef(m.Subject()); id != "" {
		return id
	}
	if id := strings.TrimSpace(h.Get("Original-Envelope-Id")); id != "" {
		return id
	}
	return strings.Trim(strings.TrimSpace(m.Header.Get("Message-Id")), "<>")
}

// arfBracketRef is a ticket reference in brackets in a subject, such as
// "[BP-2026-11-0042]": the last bracketed token holding a digit.
func arfBracketRef(subject string) string {
	ref := ""
	for rest := subject; ; {
		i := strings.IndexByte(rest, '[')
		if i < 0 {
			return ref
		}
		j := strings.IndexByte(rest[i:], ']')
		if j < 0 {
			return ref
		}
		tok := strings.TrimSpace(rest[i+1 : i+j])
		if tok != "" && len(tok) <= 64 && !strings.ContainsAny(tok, " \t") && strings.ContainsAny(tok, "0123456789") {
			ref = tok
		}
		rest = rest[i+j+1:]
	}
}

// arfHumanText is the first text/plain part: the human-readable
// description of the report.
func arfHumanText(m *mailmsg.Message) string {
	for _, p := range m.Parts {
		if p.MediaType == "text/plain" {
			return string(p.Body)
		}
	}
	return ""
}

// arfTextKinds classify an "abuse" or "other" report by its human-readable
// text, most specific first.
var arfTextKinds = []struct {
	words []string
	kind  Kind
}{
	{[]string{"phishing", "phish"}, KindPhishing},
	{[]string{"malware", "virus", "trojan", "botnet", "ransomware"}, KindMalware},
	{[]string{"copyright", "dmca", "infring"}, KindCopyright},
	{[]string{"denial of service", "ddos", "dos attack", "flood"}, KindDDoS},
	{[]string{"brute force", "brute-force", "bruteforce", "login attempt", "login attack", "failed password"}, KindIntrusion},
	{[]string{"port scan", "portscan", "scanning"}, KindPortScan},
}

// ARFKind maps an ARF Feedback-Type to a Kind: "abuse" is spam (what ARF
// reports almost always are) unless the human-readable text names another
// kind of abuse, "fraud" is phishing, "virus" is malware; "other" is read
// from the text; "not-spam" and "auth-failure" are KindOther.
func ARFKind(feedbackType, text string) Kind {
	ft := strings.ToLower(strings.TrimSpace(feedbackType))
	byText := func() (Kind, bool) {
		l := strings.ToLower(text)
		for _, tk := range arfTextKinds {
			for _, w := range tk.words {
				if strings.Contains(l, w) {
					return tk.kind, true
				}
			}
		}
		return "", false
	}
	switch ft {
	case "abuse":
		if k, ok := byText(); ok {
			return k
		}
		return KindSpam
	case "fraud":
		return KindPhishing
	case "virus":
		return KindMalware
	case "other":
		if k, ok := byText(); ok {
			return k
		}
	}
	return KindOther
}

// xarfFromMailJSON reads the X-ARF JSON carried by a mail (XARF over ARF,
// or an X-ARF mail with a JSON part).
func xarfFromMailJSON(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	for _, p := range m.Parts {
		if p.MediaType == "application/json" || strings.HasSuffix(strings.ToLower(p.Filename), ".json") {
			sink := arfMailSink(o, xarfFormat)
			if err := xarfJSONInto(ctx, sink, arfNewLoc(bytes.NewReader(p.Body)), arfMailInfo(m)); err != nil {
				return nil, err
			}
			return sink.reports, nil
		}
	}
	return nil, &ParseError{Format: xarfFormat, Err: errors.New("X-ARF mail without an application/json part")}
}

// xarfMailMatch recognises an X-ARF mail: an X-XARF or X-ARF header, or a
// text part holding the X-ARF key-value fields.
func xarfMailMatch(m *mailmsg.Message) bool {
	if m.Header.Get("X-Xarf") != "" || m.Header.Get("X-Arf") != "" {
		return true
	}
	if arfFeedbackPart(m) != nil {
		return false // ARF, possibly carrying X-ARF: arfMailParse reads it
	}
	for i, p := range m.Parts {
		if i > 0 && p.MediaType == "text/plain" && xarfLooksLikeFields(p.Body) {
			return true
		}
	}
	return false
}

// xarfLooksLikeFields reports whether a part starts with X-ARF fields.
func xarfLooksLikeFields(b []byte) bool {
	head := b
	if len(head) > 4096 {
		head = head[:4096]
	}
	l := bytes.ToLower(head)
	return bytes.Contains(l, []byte("report-type:")) &&
		(bytes.Contains(l, []byte("schema-url:")) || bytes.Contains(l, []byte("reported-from:")))
}

func xarfMailParse(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	for _, p := range m.Parts {
		if p.MediaType == "application/json" {
			return xarfFromMailJSON(ctx, m, o)
		}
	}
	// The machine-readable part is the first text part with X-ARF fields;
	// the parts after it are logs. The part before it greets.
	machine := -1
	var fields map[string]string
	for i, p := range m.Parts {
		if !strings.HasPrefix(p.MediaType, "text/") || !xarfLooksLikeFields(p.Body) {
			continue
		}
		f, err := xarfFields(p.Body)
		if err != nil {
			return nil, &ParseError{Format: xarfFormat, Err: fmt.Errorf("part %d: %w", i+1, err)}
		}
		machine, fields = i, f
		break
	}
	if machine < 0 {
		return nil, &ParseError{Format: xarfFormat, Err: errors.New("X-ARF mail without a machine-readable part (Report-Type, Schema-URL …)")}
	}
	var logs [][]byte
	for _, p := range m.Parts[machine+1:] {
		if strings.HasPrefix(p.MediaType, "text/") {
			logs = append(logs, p.Body)
		}
	}
	sink := arfMailSink(o, xarfFormat)
	r, err := xarfFieldsReport(sink, fields, logs, arfMailInfo(m))
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &ParseError{Format: xarfFormat, Err: err}
	}
	if err := sink.add(r); err != nil {
		return nil, err
	}
	return sink.reports, nil
}
