package abuse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/abusekit/abusekit/abuse/evidence"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// X-ARF, the eXtended Abuse Reporting Format, in the forms reporters send:
//
//   - JSON as abusix's schema versions 1–4 write it: {"Version": "2",
//     "ReporterInfo": {...}, "Report": {"ReportClass": "Activity",
//     "ReportType": "PortScan", "SourceIp": ..., "Samples": [...]}}, and the
//     X-ARF v3 variant with Report.Source {"IP", "Port"} and Attachment;
//   - JSON as the XARF 4.0.0 specification (xarf.org) writes it:
//     {"xarf_version": "4.0.0", "category": "connection", "type":
//     "port_scan", "source_identifier": ..., "evidence": [...]};
//   - mail, X-ARF v0.1/v0.2: a multipart/mixed message with an "X-XARF:
//     PLAIN" (or "X-ARF: YES") header, a human-readable text part, a
//     key-value YAML part (Reported-From, Category, Report-Type, Source,
//     Port, Date, Report-ID, Schema-URL …) and an optional part with logs;
//   - mail, abusix's XARF-over-ARF: multipart/report with "Feedback-Type:
//     xarf" and the JSON as an application/json part (see ParseARF).

const xarfFormat = "x-arf"

func init() {
	registerFormat(format{name: xarfFormat, priority: 11, sniff: xarfSniffJSON, parse: xarfParseJSON})
}

// ParseXARF reads an X-ARF report: JSON (abusix versions 1–4, XARF 4.0.0;
// one, an array, or JSON lines) or an X-ARF v0.1/v0.2 mail. Errors are
// *ParseError values with Format "x-arf".
func ParseXARF(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	br := bufio.NewReader(r)
	head, _ := br.Peek(512)
	t := arfTrimHead(head)
	if len(t) == 0 {
		return nil, &ParseError{Format: xarfFormat, Line: 1, Err: errors.New("empty input: not X-ARF")}
	}
	if t[0] == '{' || t[0] == '[' {
		return xarfParseJSON(ctx, br, &o)
	}
	return xarfParseMail(ctx, br, &o)
}

// xarfSniffJSON reports whether head looks like X-ARF JSON.
func xarfSniffJSON(head []byte) bool {
	head = arfTrimHead(head)
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	l := bytes.ToLower(head)
	return bytes.Contains(l, []byte(`"xarf_version"`)) ||
		(bytes.Contains(l, []byte(`"reporterinfo"`)) && bytes.Contains(l, []byte(`"report"`))) ||
		bytes.Contains(l, []byte(`"reportclass"`))
}

func xarfParseJSON(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	sink := &reportSink{o: o, format: xarfFormat}
	if err := xarfJSONInto(ctx, sink, arfNewLoc(newLimitedReader(r, o.limits.MaxBytes, xarfFormat)), xarfMailInfo{}); err != nil {
		return nil, err
	}
	return sink.reports, nil
}

// maxScannedPorts bounds the records made from one ports_scanned list.
const maxScannedPorts = 65536

// xarfMailInfo is what a carrying mail adds to a report.
type xarfMailInfo struct {
	subject  string
	from     string
	received time.Time
	loc      *time.Location // the zone of the mail's Date, for log times that name none
}

// xarfJSONInto reads X-ARF JSON documents from data into sink.
func xarfJSONInto(ctx context.Context, sink *reportSink, data *arfLoc, mi xarfMailInfo) error {
	return arfJSONStream(ctx, xarfFormat, data, func(raw json.RawMessage, off int64) error {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			return &ParseError{Format: xarfFormat, Line: arfLineAt(data, off), Err: errors.New("expected a JSON object")}
		}
		var d xarfDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return arfJSONError(xarfFormat, data, off, err)
		}
		rep, err := xarfJSONReport(sink, &d, mi)
		if err != nil {
			return &ParseError{Format: xarfFormat, Line: arfLineAt(data, off), Err: err}
		}
		return sink.add(rep)
	})
}

// xarfDoc holds every JSON variant; encoding/json matches keys without
// regard to case, and the variants' keys do not collide.
type xarfDoc struct {
	// abusix versions 1–4 and X-ARF v3.
	Version      json.RawMessage `json:"Version"`
	ReporterInfo *struct {
		ReporterOrg          string `json:"ReporterOrg"`
		ReporterOrgDomain    string `json:"ReporterOrgDomain"`
		ReporterOrgEmail     string `json:"ReporterOrgEmail"`
		ReporterContactEmail string `json:"ReporterContactEmail"`
		ReporterContactName  string `json:"ReporterContactName"`
	} `json:"ReporterInfo"`
	Report *xarfReportV3 `json:"Report"`

	// XARF 4.0.0.
	XARFVersion      string `json:"xarf_version"`
	ReportID         string `json:"report_id"`
	Timestamp        string `json:"timestamp"`
	Reporter         *xarfContact
	Sender           *xarfContact
	SourceIdentifier string `json:"source_identifier"`
	SourcePort       int64  `json:"source_port"`
	Category         string `json:"category"`
	Class            string `json:"class"` // pre-release name of category
	Type             string `json:"type"`
	DestinationIP    string `json:"destination_ip"`
	DestinationPort  int64  `json:"destination_port"`
	PortsScanned     []any  `json:"ports_scanned"` // connection/port_scan: numbers (some senders write strings)
	Protocol         string `json:"protocol"`
	FirstSeen        string `json:"first_seen"`
	LastSeen         string `json:"last_seen"`
	URL              string `json:"url"`
	Evidence         []struct {
		ContentType string `json:"content_type"`
		Description string `json:"description"`
		Payload     string `json:"payload"`
	} `json:"evidence"`
}

type xarfContact struct {
	Org     string `json:"org"`
	Contact string `json:"contact"`
	Domain  string `json:"domain"`
}

type xarfReportV3 struct {
	ReportClass     string          `json:"ReportClass"`
	ReportType      string          `json:"ReportType"`
	ReportSubType   string          `json:"ReportSubType"`
	ReporterCaseID  string          `json:"ReporterCaseID"`
	Date            string          `json:"Date"`
	SourceIP        string          `json:"SourceIp"`
	SourcePort      int64           `json:"SourcePort"`
	Source          json.RawMessage `json:"Source"` // v3: {"IP", "Port", "Type"}
	DestinationIP   string          `json:"DestinationIp"`
	DestinationPort int64           `json:"DestinationPort"`
	Protocol        string          `json:"Protocol"`
	SourceURL       string          `json:"SourceUrl"`
	Samples         []struct {
		ContentType   string `json:"ContentType"`
		Base64Encoded bool   `json:"Base64Encoded"`
		Description   string `json:"Description"`
		Payload       string `json:"Payload"`
	} `json:"Samples"`
	Attachment []struct {
		ContentType string `json:"ContentType"`
		Description string `json:"Description"`
		Data        string `json:"Data"`
	} `json:"Attachment"`
	AdditionalInfo *struct {
		Protocol        string `json:"Protocol"`
		DestinationIP   string `json:"DestinationIP"`
		DestinationPort int64  `json:"DestinationPort"`
	} `json:"AdditionalInfo"`
}

// xarfSample is one piece of attached evidence.
type xarfSample struct {
	contentType string
	data        []byte
}

// xarfFacts are the fields every X-ARF form comes down to.
type xarfFacts struct {
	class, typ      string
	caseID          string
	reporter        string
	date            time.Time
	src             netip.Addr
	srcPort         uint16
	dst             netip.Addr
	dstPort         uint16
	proto           string
	url             string
	samples         []xarfSample
	subject         string
	received        time.Time
	sourceDescribed string         // Source as given, when it is not an address (a URL, a domain)
	ports           []uint16       // XARF 4 ports_scanned
	loc             *time.Location // the carrying mail's zone
	dateLoc         *time.Location // the zone the report's date names, if any
}

func xarfJSONReport(sink *reportSink, d *xarfDoc, mi xarfMailInfo) (Report, error) {
	var f xarfFacts
	var err error
	switch {
	case d.Report != nil:
		rp := d.Report
		f.class, f.typ, f.caseID = rp.ReportClass, rp.ReportType, rp.ReporterCaseID
		if rp.ReportSubType != "" {
			f.typ += "/" + rp.ReportSubType
		}
		if ri := d.ReporterInfo; ri != nil {
			f.reporter = xarfWho(ri.ReporterOrg, arfFirst(ri.ReporterOrgEmail, ri.ReporterContactEmail))
		}
		f.dateLoc = xarfZone(rp.Date)
		if f.date, err = xarfTime("Report.Date", rp.Date); err != nil {
			return Report{}, err
		}
		srcIP, srcPort := rp.SourceIP, rp.SourcePort
		if len(rp.Source) > 0 && !bytes.Equal(rp.Source, []byte("null")) {
			var s struct {
				IP   string `json:"IP"`
				Port int64  `json:"Port"`
			}
			var str string
			if json.Unmarshal(rp.Source, &str) == nil {
				srcIP = arfFirst(srcIP, str)
			} else if err := json.Unmarshal(rp.Source, &s); err != nil {
				return Report{}, fmt.Errorf("Report.Source: %w", err)
			} else {
				srcIP, srcPort = arfFirst(srcIP, s.IP), max(srcPort, s.Port)
			}
		}
		f.src = arfParseAddr(srcIP)
		if !f.src.IsValid() {
			f.sourceDescribed = srcIP
		}
		if f.srcPort, err = arfPort(srcPort, "Report.SourcePort"); err != nil {
			return Report{}, err
		}
		dstIP, dstPort, proto := rp.DestinationIP, rp.DestinationPort, rp.Protocol
		if ai := rp.AdditionalInfo; ai != nil {
			dstIP, dstPort, proto = arfFirst(dstIP, ai.DestinationIP), max(dstPort, ai.DestinationPort), arfFirst(proto, ai.Protocol)
		}
		f.dst = arfParseAddr(dstIP)
		if f.dstPort, err = arfPort(dstPort, "Report.DestinationPort"); err != nil {
			return Report{}, err
		}
		f.proto, f.url = proto, rp.SourceURL
		for i, s := range rp.Samples {
			data := []byte(s.Payload)
			if s.Base64Encoded {
				if data, err = base64.StdEncoding.DecodeString(xarfSpaceless(s.Payload)); err != nil {
					return Report{}, fmt.Errorf("Report.Samples[%d].Payload: %w", i, err)
				}
			}
			f.samples = append(f.samples, xarfSample{contentType: s.ContentType, data: data})
		}
		for _, a := range rp.Attachment {
			data, err := base64.StdEncoding.DecodeString(xarfSpaceless(a.Data))
			if err != nil {
				data = []byte(a.Data) // some senders attach plain text
			}
			f.samples = append(f.samples, xarfSample{contentType: a.ContentType, data: data})
		}
	case d.XARFVersion != "" || d.Category != "" || d.Class != "":
		f.class, f.typ, f.caseID = arfFirst(d.Category, d.Class), d.Type, d.ReportID
		if c := d.Reporter; c != nil {
			f.reporter = xarfWho(c.Org, c.Contact)
		} else if c := d.Sender; c != nil {
			f.reporter = xarfWho(c.Org, c.Contact)
		}
		first, err := xarfTime("first_seen", d.FirstSeen)
		if err != nil {
			return Report{}, err
		}
		ts, err := xarfTime("timestamp", d.Timestamp)
		if err != nil {
			return Report{}, err
		}
		f.date, f.dateLoc = first, xarfZone(d.FirstSeen)
		if f.date.IsZero() {
			f.date, f.dateLoc = ts, xarfZone(d.Timestamp)
		}
		f.src = arfParseAddr(d.SourceIdentifier)
		if !f.src.IsValid() {
			f.sourceDescribed = d.SourceIdentifier
		}
		if f.srcPort, err = arfPort(d.SourcePort, "source_port"); err != nil {
			return Report{}, err
		}
		f.dst = arfParseAddr(d.DestinationIP)
		if f.dstPort, err = arfPort(d.DestinationPort, "destination_port"); err != nil {
			return Report{}, err
		}
		f.proto, f.url = d.Protocol, d.URL
		for i, v := range d.PortsScanned {
			if i >= maxScannedPorts {
				break
			}
			var n int64
			switch x := v.(type) {
			case float64:
				n = int64(x)
				if float64(n) != x {
					return Report{}, fmt.Errorf("ports_scanned[%d]: %v is not a port", i, x)
				}
			case string:
				var err error
				if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
					return Report{}, fmt.Errorf("ports_scanned[%d]: %q is not a port", i, x)
				}
			default:
				return Report{}, fmt.Errorf("ports_scanned[%d]: %v is not a port", i, v)
			}
			p, err := arfPort(n, fmt.Sprintf("ports_scanned[%d]", i))
			if err != nil {
				return Report{}, err
			}
			f.ports = append(f.ports, p)
		}
		for i, e := range d.Evidence {
			data, err := base64.StdEncoding.DecodeString(xarfSpaceless(e.Payload))
			if err != nil {
				return Report{}, fmt.Errorf("evidence[%d].payload: not base64: %w", i, err)
			}
			f.samples = append(f.samples, xarfSample{contentType: e.ContentType, data: data})
		}
	default:
		return Report{}, errors.New(`not X-ARF: neither "Report" (X-ARF v1-v4) nor "xarf_version"/"category" (XARF 4.0.0)`)
	}
	f.subject, f.received, f.loc = mi.subject, mi.received, mi.loc
	if f.caseID == "" && mi.subject != "" {
		f.caseID = arfFirst(caseFromSubject(mi.subject), arfBracketRef(mi.subject))
	}
	if f.reporter == "" {
		f.reporter = mi.from
	}
	return xarfBuild(sink, &f)
}

// xarfBuild turns the facts into a Report, feeding evidence to sink.
func xarfBuild(sink *reportSink, f *xarfFacts) (Report, error) {
	r := Report{
		Source:   SourceXARF,
		Kind:     XARFKind(f.class, f.typ),
		CaseID:   f.caseID,
		Reporter: f.reporter,
		Subject:  f.subject,
		Received: f.received,
	}
	r.AbuseTime = f.date
	switch {
	case f.class != "" && f.typ != "":
		r.Activity = f.class + "/" + f.typ
	default:
		r.Activity = f.class + f.typ
	}
	r.Resources.IPs = arfAppendAddr(r.Resources.IPs, f.src)
	proto := strings.ToLower(strings.TrimSpace(f.proto))
	ref := sink.o.now
	if ref.IsZero() {
		ref = arfFirstTime(f.date, f.received)
		if f.loc != nil && !ref.IsZero() {
			ref = ref.In(f.loc) // log times naming no zone are in the mail Date's
		} else if f.dateLoc != nil && !ref.IsZero() {
			ref = ref.In(f.dateLoc) // or in the zone of the report's own date
		}
	}
	// The attached logs are the evidence; the report's own fields make one
	// record only when no log line could be read.
	for i, s := range f.samples {
		if !xarfTextual(s.contentType) {
			continue
		}
		if err := arfScanEvidence(sink, &r, s.data, ref, proto, f.loc != nil || f.dateLoc != nil || !sink.o.now.IsZero()); err != nil {
			return r, fmt.Errorf("sample %d: %w", i+1, err)
		}
	}
	if r.EvidenceCount > 0 {
		return r, nil
	}
	label := arfFirst(r.Activity, "x-arf")
	switch {
	case f.src.IsValid() && len(f.ports) > 0:
		// XARF 4 port scans list the ports instead of logging them: one
		// record per port scanned.
		for _, p := range f.ports {
			e := Evidence{Time: f.date, SrcIP: f.src, SrcPort: f.srcPort, DstIP: f.dst, DstPort: p, Proto: proto}
			e.Raw = label + " " + gdHostPort(f.src, f.srcPort) + " -> " + gdHostPort(f.dst, p)
			if proto != "" {
				e.Raw += " " + proto
			}
			if err := addEvidence(sink.o, &r, e); err != nil {
				return r, err
			}
		}
		return r, nil
	case f.src.IsValid():
		e := Evidence{Time: f.date, SrcIP: f.src, SrcPort: f.srcPort, DstIP: f.dst, DstPort: f.dstPort, Proto: proto}
		e.Raw = label + " " + gdHostPort(f.src, f.srcPort)
		if f.dst.IsValid() || f.dstPort != 0 {
			e.Raw += " -> " + gdHostPort(f.dst, f.dstPort)
		}
		for _, x := range []string{proto, f.url} {
			if x != "" {
				e.Raw += " " + x
			}
		}
		return r, addEvidence(sink.o, &r, e)
	case f.sourceDescribed != "" || f.url != "":
		e := Evidence{Time: f.date, Raw: label + " " + arfFirst(f.url, f.sourceDescribed)}
		return r, addEvidence(sink.o, &r, e)
	}
	return r, nil
}

// arfScanEvidence feeds the evidence lines of a log to sink. zoneKnown
// says whether ref's zone was stated (the mail's Date, the caller); when it
// was not, and no note in the log states one, zone-less times are read as
// UTC with a WarnTimeZone warning.
func arfScanEvidence(sink *reportSink, r *Report, log []byte, ref time.Time, proto string, zoneKnown bool) error {
	// A note before the lines names their zone (fail2ban: "Note: Local
	// timezone is +0100 (CET)").
	if loc, ok := zoneNoteIn(headOf(string(log), 8<<10)); ok {
		if ref.IsZero() {
			ref = time.Now()
		}
		ref = ref.In(loc)
		zoneKnown = true
	}
	zoneless := 0
	defer func() {
		if zoneless > 0 && !zoneKnown {
			addWarning(r, Warning{Code: WarnTimeZone, Message: fmt.Sprintf("%d evidence times name no zone and the report states none: read as UTC", zoneless)})
		}
	}()
	sc := evidence.NewScanner(bytes.NewReader(log), evidence.Options{Reference: ref, MaxLineBytes: sink.o.limits.MaxLineBytes, DefaultProto: proto, Zoneless: &zoneless})
	for sc.Scan() {
		if err := addEvidence(sink.o, r, sc.Record()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, evidence.ErrLineTooLong) {
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return err
	}
	return nil
}

func xarfTextual(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return ct == "" || strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "text/csv") || strings.HasPrefix(ct, "text/x-log")
}

func xarfSpaceless(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

func xarfWho(org, email string) string {
	org, email = strings.TrimSpace(org), strings.TrimSpace(email)
	switch {
	case org != "" && email != "":
		return (&mail.Address{Name: org, Address: email}).String()
	case email != "":
		return email
	}
	return org
}

func arfFirst(s ...string) string {
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			return x
		}
	}
	return ""
}

func arfFirstTime(t ...time.Time) time.Time {
	for _, x := range t {
		if !x.IsZero() {
			return x
		}
	}
	return time.Time{}
}

// xarfTimeLayouts are the date layouts X-ARF senders use besides RFC 3339.
var xarfTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"Jan _2 2006 15:04:05 -0700", // pyxarf: "Feb  3 2014 02:13:35 +0100"
	"Jan _2 2006 15:04:05 MST",
	"Mon Jan _2 15:04:05 MST 2006",
	"Mon Jan _2 15:04:05 2006",
}

// xarfTime parses an X-ARF date; empty gives the zero time. Times without
// a zone are UTC. A date outside the report range is an error wrapping
// ErrTimeRange.
func xarfTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range xarfTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = fixZoneAbbrev(t)
			return t.UTC(), checkTime(field, t)
		}
	}
	if t, err := mail.ParseDate(s); err == nil {
		t = fixZoneAbbrev(t)
		return t.UTC(), checkTime(field, t)
	}
	return time.Time{}, fmt.Errorf("%s: unrecognised date %q", field, s)
}

// xarfKinds maps X-ARF report types (lower-case, without '-', '_' and
// spaces) of every version to a Kind.
var xarfKinds = map[string]Kind{
	"portscan": KindPortScan, "scan": KindPortScan, "networkscan": KindPortScan,
	"vulnerabilityscan": KindPortScan, "vulnscanning": KindPortScan, "reconnaissance": KindPortScan,
	"loginattack": KindIntrusion, "bruteforce": KindIntrusion, "authfailure": KindIntrusion,
	"sqlinjection": KindIntrusion, "hacking": KindIntrusion, "intrusion": KindIntrusion,
	"dos": KindDDoS, "ddos": KindDDoS, "ddosamplification": KindDDoS,
	"spam": KindSpam, "bulkmessaging": KindSpam, "spamvertised": KindSpam,
	"malware": KindMalware, "malwareattack": KindMalware, "botnet": KindMalware, "bot": KindMalware,
	"infectedhost": KindMalware, "compromisedserver": KindMalware, "remotecompromise": KindMalware,
	"webhack": KindMalware, "malwaredistribution": KindMalware, "virus": KindMalware, "cnc": KindMalware,
	"phishing": KindPhishing, "fraud": KindPhishing,
	"copyright": KindCopyright, "trademark": KindCopyright, "cyberlocker": KindCopyright,
	"linksite": KindCopyright, "p2p": KindCopyright, "usenet": KindCopyright, "ugcplatform": KindCopyright,
	"dmca": KindCopyright, "copyrightinfringement": KindCopyright,
	// Blocklist.de names its reports by the attacked service (Report-Type:
	// regbot, ssh, mail, …): logins guessed, mail or forum spam, floods.
	"ssh": KindIntrusion, "ftp": KindIntrusion, "imap": KindIntrusion, "pop3": KindIntrusion, "sip": KindIntrusion,
	"asterisk": KindIntrusion, "courierimap": KindIntrusion, "courierpop3": KindIntrusion, "bruteforcelogin": KindIntrusion,
	"mail": KindSpam, "postfix": KindSpam, "regbot": KindSpam, "regbots": KindSpam,
	"apacheddos": KindDDoS, "ircbot": KindMalware,
	// Clean-MX: addresses harvested for spam.
	"harvesting": KindSpam,
}

// xarfClassKinds classify by class or category when the type is unknown.
var xarfClassKinds = map[string]Kind{
	"messaging": KindSpam, "copyright": KindCopyright, "fraud": KindPhishing,
}

// XARFKind maps an X-ARF class/category and report type (any version:
// "Activity"/"PortScan", "abuse"/"login-attack", "connection"/"port_scan")
// to a Kind; unknown types give KindOther.
func XARFKind(class, reportType string) Kind {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch r {
			case '-', '_', ' ', '.':
				return -1
			}
			return r
		}, strings.ToLower(strings.TrimSpace(s)))
	}
	t, _, _ := strings.Cut(reportType, "/")
	if k, ok := xarfKinds[norm(t)]; ok {
		return k
	}
	if k, ok := xarfKinds[norm(class)]; ok {
		return k
	}
	if k, ok := xarfClassKinds[norm(class)]; ok {
		return k
	}
	return KindOther
}

// xarfFields reads the machine-readable part of an X-ARF v0.1/v0.2 mail:
// YAML, falling back on "Key: value" header lines for parts that are not
// valid YAML (unquoted values holding ": "). Keys are canonicalised
// ("report-type" → "Report-Type"). Only the scalar values of the top-level
// mapping are read, from the syntax tree: aliases are never expanded, so a
// "billion laughs" part costs no more than its size. A part that is not
// UTF-8 is read as key-value lines, whose keys and values are bytes of the
// part as they are.
func xarfFields(part []byte) (map[string]string, error) {
	out := map[string]string{}
	var file *ast.File
	var err error
	switch {
	case !utf8.Valid(part):
		// The YAML parser would replace every invalid byte by U+FFFD,
		// three bytes: key-value lines keep the bytes as they are.
		err = errors.New("not UTF-8")
	case xarfYAMLBounded(part):
		file, err = parser.ParseBytes(part, 0)
	default:
		err = errors.New("too large or too deeply nested for X-ARF fields")
	}
	if err == nil {
		var m *ast.MappingNode
		if len(file.Docs) > 0 {
			m, _ = xarfUnwrap(file.Docs[0].Body).(*ast.MappingNode)
		}
		if m == nil {
			err = errors.New("not a YAML mapping")
		} else {
			for _, mv := range m.Values {
				k, ok := xarfScalar(mv.Key)
				if !ok || k == "" {
					continue
				}
				v, _ := xarfScalar(mv.Value)
				out[textproto.CanonicalMIMEHeaderKey(k)] = v
			}
			if len(out) > 0 {
				return out, nil
			}
			err = errors.New("empty YAML mapping")
		}
	}
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(bytes.TrimLeft(part, "\r\n")), strings.NewReader("\r\n\r\n"))))
	h, herr := tp.ReadMIMEHeader()
	if len(h) == 0 {
		if herr == nil {
			herr = errors.New("no fields")
		}
		return nil, fmt.Errorf("machine-readable part is neither YAML (%v) nor key-value lines (%v)", err, herr)
	}
	for k, v := range h {
		out[k] = strings.TrimSpace(v[0])
	}
	return out, nil
}

// xarfYAMLBounded reports whether part is small and flat enough for the
// YAML parser, whose time grows with the square of the nesting: X-ARF
// fields are a flat mapping of a few hundred bytes. Anything else is read
// as key-value lines, in linear time.
func xarfYAMLBounded(part []byte) bool {
	if len(part) > 64<<10 {
		return false
	}
	return bytes.Count(part, []byte("["))+bytes.Count(part, []byte("{"))+bytes.Count(part, []byte("- ")) <= 256
}

// xarfUnwrap looks through anchors and tags; aliases stay unresolved.
func xarfUnwrap(n ast.Node) ast.Node {
	for range 16 {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		default:
			return n
		}
	}
	return n
}

// xarfScalar is the text of a scalar node; false for anything else.
func xarfScalar(n ast.Node) (string, bool) {
	n = xarfUnwrap(n)
	if _, alias := n.(*ast.AliasNode); alias {
		return "", false
	}
	sc, ok := n.(ast.ScalarNode)
	if !ok {
		return "", false
	}
	switch v := sc.GetValue().(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(v), true
	case time.Time:
		return v.Format(time.RFC3339Nano), true
	default:
		return fmt.Sprint(v), true
	}
}

// xarfFieldsReport maps X-ARF v0.1/v0.2 fields, and the logs attached after
// them, onto a Report.
func xarfFieldsReport(sink *reportSink, fields map[string]string, logs [][]byte, mi xarfMailInfo) (Report, error) {
	if fields["Report-Type"] == "" && fields["Category"] == "" {
		return Report{}, errors.New("machine-readable part has no Report-Type or Category")
	}
	f := xarfFacts{
		class:    fields["Category"],
		typ:      fields["Report-Type"],
		caseID:   fields["Report-Id"],
		reporter: arfFirst(fields["Reported-From"], mi.from),
		subject:  mi.subject,
		received: mi.received,
		loc:      mi.loc,
		proto:    fields["Protocol"],
	}
	var err error
	f.dateLoc = xarfZone(fields["Date"])
	if f.date, err = xarfTime("Date", fields["Date"]); err != nil {
		return Report{}, err
	}
	src := fields["Source"]
	f.src = arfParseAddr(src)
	if !f.src.IsValid() {
		f.sourceDescribed = src
		if a, p, ok := xarfHostPort(src); ok {
			f.src, f.srcPort = a, p
			f.sourceDescribed = ""
		}
	}
	if p := fields["Port"]; p != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return Report{}, fmt.Errorf("Port: %q is not a number", p)
		}
		// Port is the service port at the victim (22 for ssh login
		// attacks); for a source-type of uri it names the source's port.
		port, err := arfPort(n, "Port")
		if err != nil {
			return Report{}, err
		}
		if strings.EqualFold(fields["Source-Type"], "uri") {
			f.srcPort = port
		} else {
			f.dstPort = port
		}
	}
	if d := fields["Destination"]; d != "" {
		f.dst = arfParseAddr(d)
	}
	if f.proto == "" && fields["Service"] != "" && f.dstPort != 0 {
		f.proto = xarfServiceProto(fields["Service"])
	}
	for _, l := range logs {
		f.samples = append(f.samples, xarfSample{contentType: "text/plain", data: l})
	}
	return xarfBuild(sink, &f)
}

func xarfHostPort(s string) (netip.Addr, uint16, bool) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ap.Addr().Unmap(), ap.Port(), true
}

// xarfServiceProto guesses the transport of a named service.
func xarfServiceProto(service string) string {
	switch strings.ToLower(strings.TrimSpace(service)) {
	case "dns", "ntp", "snmp", "ssdp", "chargen", "memcached", "sip", "tftp", "netbios", "mdns", "openvpn":
		return "udp"
	case "":
		return ""
	}
	return "tcp"
}

// xarfParseMail reads an X-ARF mail: v0.1/v0.2 key-value fields, or JSON
// in an application/json part.
func xarfParseMail(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	m, err := arfReadMail(r, o, xarfFormat)
	if err != nil {
		return nil, err
	}
	if arfFeedbackPart(m) != nil {
		h, err := arfFields(arfFeedbackPart(m).Body)
		if err == nil && strings.EqualFold(strings.TrimSpace(h.Get("Feedback-Type")), "xarf") {
			return arfCollect(ctx, m, o, xarfFromMailJSON)
		}
	}
	if !xarfMailMatch(m) {
		return nil, &ParseError{Format: xarfFormat, Err: errors.New("neither X-ARF JSON nor an X-ARF mail (no X-XARF header, no part with Report-Type and Schema-URL)")}
	}
	return arfCollect(ctx, m, o, xarfMailParse)
}

// xarfZone is the zone an X-ARF date names ("Z", "+01:00", "+0100"), nil
// when it names none.
func xarfZone(s string) *time.Location {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00", "2006-01-02 15:04:05 -0700", "Jan _2 2006 15:04:05 -0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Location()
		}
	}
	if t, err := mail.ParseDate(s); err == nil {
		return fixZoneAbbrev(t).Location()
	}
	return nil
}
