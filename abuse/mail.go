package abuse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

const mailFormatName = "mail"

// errMailHeader marks a mail whose header could not be read (an mbox skips
// such a message rather than giving up on the others).
var errMailHeader = errors.New("unreadable mail header")

// ParseMail reads one RFC 5322 message (.eml): MIME multipart/mixed and
// alternative, forwarded message/rfc822 parts, quoted-printable and base64,
// any charset golang.org/x/text knows, HTML-only bodies. The reports inside
// are read by the first mail format that recognises the message (a Trust &
// Safety notice, ARF, X-ARF), else by the first that recognises a message
// it forwards, else the body is read as plain text. The reports carry the
// mail's From as Reporter, its Subject and its Date as Received.
func ParseMail(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return parseMailReader(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, mailFormatName), &o)
}

func mailLimits(o *options) mailmsg.Limits {
	return mailmsg.Limits{
		MaxBytes:     o.limits.MaxBytes,
		MaxLineBytes: o.limits.MaxLineBytes,
		MaxParts:     o.limits.MaxParts,
		MaxDepth:     o.limits.MaxDepth,
	}
}

func parseMailReader(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	reps, err := mailReports(ctx, r, o, mailFormatName, 0)
	if err != nil {
		return nil, err
	}
	s := &reportSink{o: o, format: mailFormatName}
	for _, rep := range reps {
		if err := s.add(rep); err != nil {
			return nil, err
		}
	}
	return s.reports, nil
}

// mailReports reads one mail from r and returns its reports (not yet handed
// to a WithReportFunc). A single-part text mail streams (see
// parseMailStream); others are read whole within the limits. base is the
// line of the input before the mail, for errors.
func mailReports(ctx context.Context, r io.Reader, o *options, format string, base int) ([]Report, error) {
	st, err := mailmsg.ReadStreamParts(r, mailLimits(o), sniffBytes)
	if err != nil {
		var le *mailmsg.LimitError
		var pe *ParseError
		if !errors.As(err, &le) && !errors.As(err, &pe) && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errMailHeader, err)
		}
		return nil, mailError(format, base, err)
	}
	var reps []Report
	switch {
	case st.Body == nil:
		reps, err = parseMailMessage(ctx, st.Message, o)
	case st.Attachment:
		reps, err = parseMailAttachmentStream(ctx, st, o, format, base)
	default:
		reps, err = parseMailStream(ctx, st.Message, st.Body, o)
	}
	if err != nil {
		return nil, err
	}
	// Read to its end by now: what the mail degraded or left unread is
	// said on each of its reports.
	ws := mailWarnings(st.Message, "")
	for i := range reps {
		for _, w := range ws {
			addWarning(&reps[i], w)
		}
	}
	return reps, nil
}

// mailWarnings are the warnings for what m (and the messages it forwards)
// degraded or left unread; where prefixes the part names.
func mailWarnings(m *mailmsg.Message, where string) []Warning {
	var ws []Warning
	for _, n := range m.Notes {
		w := Warning{Code: WarnUnreadablePart, Part: strings.TrimSpace(where), Message: n.Text}
		switch n.Kind {
		case mailmsg.NoteCharset:
			w.Code = WarnCharset
		case mailmsg.NoteStructure:
			w.Code = WarnMalformedPart
		}
		ws = append(ws, w)
	}
	for i, p := range m.Parts {
		if partKnown(p) {
			continue
		}
		name := fmt.Sprintf("%spart %d (%s)", where, i+1, p.MediaType)
		if p.Filename != "" {
			name = fmt.Sprintf("%spart %d (%s, %s)", where, i+1, p.Filename, p.MediaType)
		}
		if isZipPart(p) {
			if w, ok := zipWarning(p, name); ok {
				ws = append(ws, w)
			}
			continue
		}
		ws = append(ws, Warning{Code: WarnUnknownAttachment, Part: name, Message: "attachment of a type no reader knows: not read"})
	}
	for i, fm := range m.Forwarded {
		ws = append(ws, mailWarnings(fm, fmt.Sprintf("%sforwarded message %d: ", where, i+1))...)
	}
	return ws
}

// partKnown reports whether a part is one the mail formats read, or one
// that carries no report (a signature, an inline image of a signature or
// logo).
func partKnown(p *mailmsg.Part) bool {
	mt := p.MediaType
	switch {
	case p.IsText(), mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "message/feedback-report", mt == "message/delivery-status",
		mt == "message/rfc822-headers", mt == "message/rfc822", mt == "message/global":
		return true
	case mt == "application/pgp-signature", mt == "application/pkcs7-signature",
		mt == "application/x-pkcs7-signature", mt == "application/pgp-keys":
		return true
	case strings.HasPrefix(mt, "image/") && (p.Disposition == "inline" || p.Header.Get("Content-Id") != ""):
		return true
	case (mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(strings.ToLower(p.Filename), ".xml")) &&
		bytes.Contains(p.Body[:min(len(p.Body), 4096)], []byte("<Infringement")):
		return true // an ACNS notice's XML (acnsXML reads it)
	}
	return false
}

// parseMailAttachmentStream reads a multipart mail whose large text
// attachment streams (st.Body; the parts before it are in st.Message): a
// Trust & Safety notice, recognised from the parts before the attachment,
// scans the attachment as it streams, so that a log of any size takes
// bounded memory; any other mail is read whole first and goes the way of
// parseMailMessage.
func parseMailAttachmentStream(ctx context.Context, st *mailmsg.Stream, o *options, format string, base int) ([]Report, error) {
	m := st.Message
	for _, f := range mailFormats {
		if f.match(m) {
			if f.name == tnsFormat {
				return tnsMailStream(ctx, st, o)
			}
			break
		}
	}
	whole, err := io.ReadAll(st.Body)
	if err != nil && !errors.Is(err, mailmsg.ErrBrokenEncoding) {
		return nil, mailError(format, base, err)
	}
	if err != nil {
		o.logger.Debug("mail degraded", "subject", m.Subject(), "note", err.Error())
		m.AddNote(mailmsg.NoteUnreadable, fmt.Sprintf("attachment %q: %v (kept %d decoded bytes)", st.Part.Filename, err, len(whole)))
	}
	st.Part.Body, st.Part.Truncated = whole, false
	if err := st.Rest(); err != nil {
		return nil, mailError(format, base, err)
	}
	return parseMailMessage(ctx, m, o)
}

// brokenAsEOF ends a streamed attachment where its encoding breaks, keeping
// what decoded before, as a mail read whole does.
type brokenAsEOF struct {
	r    io.Reader
	o    *options
	m    *mailmsg.Message // the message whose Notes record the break
	name string           // the attachment's file name
}

func (b brokenAsEOF) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && errors.Is(err, mailmsg.ErrBrokenEncoding) {
		b.o.logger.Debug("mail degraded", "note", err.Error())
		b.m.AddNote(mailmsg.NoteUnreadable, fmt.Sprintf("attachment %q: %v (the rest was not read)", b.name, err))
		err = io.EOF
	}
	return n, err
}

// parseMailStream reads a single-part text/plain mail whose body streams
// from text (m holds the body's first bytes, for matching): a Trust &
// Safety notice or plain text is read as it streams, so that a forwarded
// log of any size takes bounded memory; another mail format gets the whole
// body read first.
func parseMailStream(ctx context.Context, m *mailmsg.Message, text io.Reader, o *options) ([]Report, error) {
	for _, n := range m.Notes {
		o.logger.Debug("mail degraded", "subject", m.Subject(), "note", n.Text)
	}
	for _, f := range mailFormats {
		if !f.match(m) {
			continue
		}
		if f.name == tnsFormat {
			return tnsMailRead(ctx, m, text, o)
		}
		whole, err := io.ReadAll(text)
		if err != nil {
			return nil, mailError(mailFormatName, 0, err)
		}
		m.Parts[0].Body, m.Parts[0].Truncated = whole, false
		return f.parse(ctx, m, o)
	}
	return plainMailRead(ctx, m, text, o, nil)
}

// mailError turns an error of package mailmsg into a *ParseError; base is
// the line of the input before the message's first line.
func mailError(format string, base int, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return err
	}
	var le *mailmsg.LimitError
	if errors.As(err, &le) {
		line := 0
		if le.Line > 0 {
			line = base + le.Line
		}
		return &ParseError{Format: format, Line: line, Err: fmt.Errorf("more than %d %s: %w", le.Max, limitUnit(le.Limit), ErrTooLarge)}
	}
	return &ParseError{Format: format, Line: base, Err: err}
}

func limitUnit(l string) string {
	switch l {
	case "bytes":
		return "bytes in the message"
	case "line":
		return "bytes in one line"
	case "parts":
		return "MIME parts"
	case "depth":
		return "levels of MIME nesting"
	}
	return l
}

// parseMailMessage reads the reports of a decoded message (see ParseMail).
// The reports it returns are not yet handed to a WithReportFunc.
func parseMailMessage(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	for _, n := range m.Notes {
		o.logger.Debug("mail degraded", "subject", m.Subject(), "note", n.Text)
	}
	var tried []string
	for _, f := range mailFormats {
		tried = append(tried, f.name)
		if f.match(m) {
			return f.parse(ctx, m, o)
		}
	}
	for _, fm := range m.Forwarded {
		reps, err := parseMailMessage(ctx, fm, o)
		if err == nil {
			return reps, nil
		}
		if !errors.Is(err, ErrUnknownFormat) {
			return nil, err
		}
	}
	return plainMailRead(ctx, m, nil, o, tried)
}

// plainMailRead reads a mail no format recognised as plain text (text nil:
// the message's Text).
func plainMailRead(ctx context.Context, m *mailmsg.Message, text io.Reader, o *options, tried []string) ([]Report, error) {
	if tried == nil {
		for _, f := range mailFormats {
			tried = append(tried, f.name)
		}
	}
	n := newNoticeReader(o, mailFormatName)
	n.plain = true
	if err := readMailInto(ctx, n, m, text); err != nil {
		return nil, err
	}
	if !n.useful() && providerOfSender(m.From()) == "" && !feedSender(m.From()) {
		return nil, &ParseError{Format: mailFormatName, Err: fmt.Errorf("%w: a mail that is none of %s and names no resources or evidence", ErrUnknownFormat, strings.Join(append(tried, "plain"), ", "))}
	}
	// A mail of a provider's abuse desk or of a known feed is a report even
	// when nothing of it could be read: it carries WarnNoEvidence (and
	// parse-report -strict fails), not ErrUnknownFormat.
	rep := n.finish()
	rep.Source = SourcePlain
	return []Report{rep}, nil
}

// readMailInto feeds a message to a notice reader: the header fields, the
// body text (text, or the message's Text when nil), then the evidence in
// text attachments and forwarded messages.
func readMailInto(ctx context.Context, n *noticeReader, m *mailmsg.Message, text io.Reader) error {
	return readMailStreamInto(ctx, n, m, text, nil)
}

// readMailStreamInto is readMailInto for a message whose text attachment
// st.Part streams (st nil: none): it is scanned from st.Body, then the
// parts after it are read (st.Rest) and fed in turn.
func readMailStreamInto(ctx context.Context, n *noticeReader, m *mailmsg.Message, text io.Reader, st *mailmsg.Stream) error {
	n.rep.Reporter = m.From()
	n.rep.Subject = m.Subject()
	if d := mailDate(m); !d.IsZero() && saneTime(d) {
		n.rep.Received = d.UTC()
		n.outerLoc = d.Location()
	}
	if hasTnsMarker(strings.ToLower(n.rep.Subject)) {
		n.recognized = true
	}
	if text == nil {
		text = strings.NewReader(m.Text())
	}
	if err := n.read(ctx, text); err != nil {
		return err
	}
	if err := n.scanAttachments(ctx, m.Parts, st); err != nil {
		return err
	}
	if st != nil {
		before := len(m.Parts)
		if err := st.Rest(); err != nil {
			return parseErr(n.format, 0, err)
		}
		later := m.Parts[before:]
		if t := (&mailmsg.Message{Parts: later}).Text(); t != "" {
			if err := n.read(ctx, strings.NewReader(t)); err != nil {
				return err
			}
		}
		if err := n.scanAttachments(ctx, later, nil); err != nil {
			return err
		}
	}
	for _, fm := range m.Forwarded {
		t := fm.Text()
		n.noteZoneIn([]byte(headOf(t, 8<<10)))
		if n.kindForward == "" {
			if k := kindFromText(headOf(t, 8<<10)); k != KindOther {
				n.kindForward = k
			}
		}
		if err := n.scan(ctx, strings.NewReader(t), n.lineBase); err != nil {
			return err
		}
	}
	if n.rep.CaseID == "" {
		n.rep.CaseID = caseFromSubject(n.rep.Subject)
	}
	n.providerFields(n.rep.Subject, strings.ToLower(n.rep.Subject)) // "[AbuseID:…]", "Ticket #…", "API Project …"
	n.spamcopSubject(n.rep.Subject)
	// A provider desk's subject names the activity ("Linode Support
	// Ticket N - Outbound port scanning from …"); a feed's need not
	// ("[Scan] Shadowserver Open Redis Report" is about an open service).
	if providerOfSender(n.rep.Reporter) != "" {
		if k := kindFromText(n.rep.Subject); k != KindOther {
			n.kindSubject = k
		}
	}

	if n.rep.AccountID == "" {
		if mm := reSubjectAccount.FindStringSubmatch(n.rep.Subject); mm != nil {
			n.rep.AccountID = mm[1]
		}
	}
	return nil
}

// scanAttachments scans the text attachments among parts for evidence,
// st.Part from st.Body.
func (n *noticeReader) scanAttachments(ctx context.Context, parts []*mailmsg.Part, st *mailmsg.Stream) error {
	for _, p := range parts {
		if cysconPart(p) {
			if err := n.scanCyscon(p); err != nil {
				return err
			}
			continue
		}
		if isZipPart(p) {
			if err := n.scanZip(ctx, p); err != nil {
				return err
			}
			continue
		}
		if p.Disposition != "attachment" || !p.IsText() || p.MediaType == "text/html" {
			continue
		}
		n.noteZoneIn(p.Body[:min(len(p.Body), 8<<10)]) // "Note: Local timezone is +0100" before the log
		if n.kindForward == "" && (st == nil || p != st.Part) && bytes.Contains(p.Body[:min(len(p.Body), 4096)], []byte("report_type")) {
			n.kindForward = reportTypeKind(p.Body) // AbuseHUB's CSV
		}
		var r io.Reader = bytes.NewReader(p.Body)
		if st != nil && p == st.Part {
			r = brokenAsEOF{r: st.Body, o: n.o, m: st.Message, name: p.Filename}
		}
		if err := n.scan(ctx, r, n.lineBase); err != nil {
			return err
		}
	}
	return nil
}

func headOf(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// tnsMailMatch recognises a Trust & Safety notice: sent by Amazon's abuse
// desk, or carrying the notice's wording in its body.
func tnsMailMatch(m *mailmsg.Message) bool {
	from := m.From()
	if strings.HasPrefix(from, "ec2-abuse@") || (strings.Contains(from, "abuse") && (strings.HasSuffix(from, "@amazon.com") || strings.HasSuffix(from, "@amazonaws.com"))) {
		return true
	}
	return hasTnsMarker(strings.ToLower(headOf(m.Text(), 64<<10)))
}

func tnsMailParse(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	return tnsMailRead(ctx, m, nil, o)
}

// tnsMailRead reads a notice from its mail, its text streaming from text
// (nil: the message's Text).
func tnsMailRead(ctx context.Context, m *mailmsg.Message, text io.Reader, o *options) ([]Report, error) {
	return tnsMailFrom(ctx, m, text, nil, o)
}

// tnsMailStream reads a notice whose text attachment streams (see
// parseMailAttachmentStream).
func tnsMailStream(ctx context.Context, st *mailmsg.Stream, o *options) ([]Report, error) {
	return tnsMailFrom(ctx, st.Message, nil, st, o)
}

func tnsMailFrom(ctx context.Context, m *mailmsg.Message, text io.Reader, st *mailmsg.Stream, o *options) ([]Report, error) {
	n := newNoticeReader(o, tnsFormat)
	n.recognized = true
	if err := readMailStreamInto(ctx, n, m, text, st); err != nil {
		return nil, err
	}
	rep := n.finish()
	rep.Source = SourceTrustAndSafety
	rep.Provider = ProviderAWS
	rep.Role = RoleActor // a notice is about abuse from the resources
	return []Report{rep}, nil
}

// knownHeaders are header fields whose presence marks a mail.
var knownHeaders = map[string]bool{
	"from": true, "to": true, "subject": true, "date": true, "received": true,
	"message-id": true, "mime-version": true, "return-path": true, "delivered-to": true,
	"content-type": true, "reply-to": true, "cc": true, "sender": true, "x-arf": true,
	"dkim-signature": true, "authentication-results": true, "x-original-to": true,
}

// mailSniff recognises an RFC 5322 header block at the start of head.
func mailSniff(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	known, lines := 0, 0
	for len(head) > 0 && lines < 200 {
		i := bytes.IndexByte(head, '\n')
		var l []byte
		if i < 0 {
			l, head = head, nil
		} else {
			l, head = head[:i], head[i+1:]
		}
		l = bytes.TrimRight(l, "\r")
		if len(l) == 0 {
			return lines > 0 && known > 0
		}
		lines++
		if l[0] == ' ' || l[0] == '\t' {
			if lines == 1 {
				return false
			}
			continue
		}
		name, _, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(name) == 0 || !isHeaderName(name) {
			return false
		}
		if knownHeaders[strings.ToLower(string(name))] {
			known++
		}
	}
	return lines > 0 && known >= 2 && head == nil
}

func isHeaderName(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func init() {
	registerFormat(format{name: mailFormatName, priority: 30, sniff: mailSniff, parse: parseMailReader})
	registerMailFormat(mailFormat{name: tnsFormat, priority: 50, match: tnsMailMatch, parse: tnsMailParse})
}
