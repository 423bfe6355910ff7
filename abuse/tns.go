package abuse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse/evidence"
)

const tnsFormat = "trust-and-safety"

// tnsMarkers are phrases (lower-case) that only AWS Trust & Safety notices
// carry. The desk's addresses (ec2-abuse@amazon.com, abuse@amazonaws.com)
// are not among them: any reporter may write "we also sent this to
// abuse@amazonaws.com", which does not make its mail a notice of AWS. A
// notice is told by its sender (tnsMailMatch, an inline-forwarded header
// block) or by its own words.
var tnsMarkers = []string{
	"aws trust & safety", "aws trust and safety", "aws trust &amp; safety",
	"abuse report implicating resources on your account",
	"aws acceptable use policy", "your ec2 abuse report",
	"beginning of forwarded report(s)",
	"dear amazon ec2 customer", "we've received a report that your instance",
}

func hasTnsMarker(lower string) bool {
	for _, m := range tnsMarkers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

var (
	// "AWS ID: N", "AWS account N", "Account ID: N", "Account: N", "from account N".
	reAccount  = regexp.MustCompile(`(?i)\b(?:AWS\s+(?:ID|account(?:\s+(?:ID|number))?)|account(?:\s+(?:ID|number))?)\s*[:#]?\s*(\d{12})\b`)
	reRegion   = regexp.MustCompile(`(?i)\bregion\s*[:=]\s*([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)\b`)
	reInstance = regexp.MustCompile(`\bi-(?:[0-9a-f]{17}|[0-9a-f]{8})\b`)
	reARN      = regexp.MustCompile(`\barn:aws[a-z-]*:ec2:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):(?:instance|security-group|network-interface)/`)
	reSG       = regexp.MustCompile(`\bsg-(?:[0-9a-f]{17}|[0-9a-f]{8})\b`)
	reAbuseTim = regexp.MustCompile(`(?i)^abuse\s+time(?:\s*\(([^)]*)\))?\s*:\s*(.+)$`)
	reActivity = regexp.MustCompile(`(?i)^(?:reported\s+activity|activity\s+type|abuse\s+type|incident\s+type|type\s+of\s+abuse)\s*:\s*(.+)$`)
	reRequired = regexp.MustCompile(`(?i)^required\s+actions?\s*:\s*(.+)$`)
	reWithin   = regexp.MustCompile(`(?i)\bwithin\s+(\d{1,3})\s*(hours?|hrs?|h|days?)\b`)
	reIPLabel  = regexp.MustCompile(`(?i)\b(?:(?:public|elastic|source|instance)\s+)?IP(?:v4|v6)?(?:\s+address(?:es)?)?\s*[:=]\s*(.+)$`)
	reBlock    = regexp.MustCompile(`(?i)\b(?:block(?:ed|ing)|restrict(?:ed|ing))\s+(?:all\s+)?(outbound|inbound|egress|ingress)(?:\s+(?:and|&|/)\s+(outbound|inbound|egress|ingress))?\s+(?:(tcp|udp|icmp|all)\s+)?(?:network\s+)?(?:traffic|connections?|access)\b(.*)`)
	// "Blocked all traffic, allowing administrative access only".
	reBlockAll = regexp.MustCompile(`(?i)\bblocked\s+all\s+(?:(tcp|udp)\s+)?(?:network\s+)?(?:traffic|connections?|access)\b(.*)`)
	rePorts    = regexp.MustCompile(`(?i)\bports?\s+(\d{1,5}(?:\s*(?:,|and|&|/|or)\s*\d{1,5})*)`)
	reStopped  = regexp.MustCompile(`(?i)\b(?:have\s+)?(?:stopped|shut\s+down)\s+(?:the\s+|your\s+)?(?:ec2\s+)?instances?\b`)
	reResemble = regexp.MustCompile(`(?i)\bactivity\s+which\s+resembles\s+(.+?)(?:\.\s|\.$|$)`)
	reFwdStart = regexp.MustCompile(`(?i)^(?:-{2,}\s*(?:forwarded\s+message|original\s+message)\s*-{2,}|begin\s+forwarded\s+message:?)$`)
	reFwdField = regexp.MustCompile(`(?i)^(from|date|sent|subject)\s*:\s*(.*)$`)
	reForward  = regexp.MustCompile(`(?i)-{2,}\s*beginning\s+of\s+(?:the\s+)?forwarded\s+report`)
	// The header of a column log pasted without the notice around it.
	reLogStart = regexp.MustCompile(`(?i)^\W*\(attacker'?s\s+ip\)|^-+\s*log\s+of\s+(?:tcp|udp)\s+port\s+scans`)
)

// noticeReader turns the text of a notice (Trust & Safety, or plain text an
// operator pasted) into a Report, line by line. Before the "---Beginning of
// forwarded report(s)---" line it reads the notice's fields (and any
// evidence); after it, the forwarded report streams through an
// evidence.Scanner, so a forwarded log of any size takes bounded memory.
type noticeReader struct {
	o      *options
	format string // for errors
	plain  bool   // also take every IP of non-evidence lines as a resource
	// noSrcIPs keeps evidence source addresses out of Resources.IPs (a bare
	// firewall log does not say whose they are).
	noSrcIPs bool
	rep      Report

	within      time.Duration
	deadline    time.Time // a deadline the notice dates ("blocked at any time after the …"), UTC
	kindNotice  Kind      // from the notice's prose
	resembles   string    // "activity which resembles …" in the notice
	kindForward Kind      // from the forwarded report's prose
	kindSubject Kind      // from the mail's subject ("… - Outbound port scanning from …")
	recognized  bool      // saw a Trust & Safety marker
	fields      int       // notice fields found
	ipSeen      map[netip.Addr]bool
	idSeen      map[string]bool
	earliest    time.Time
	sshLike     int        // records of sshd or fail2ban (login attempts)
	firstPort   uint16     // the first non-zero destination port of the evidence
	manyPorts   bool       // evidence went to more than one destination port
	lastIP      netip.Addr // the last address addIP saw, to skip the map for runs of one
	lineBase    int        // lines before the text being read, for errors

	// An inline-forwarded notice ("---------- Forwarded message ---------",
	// "-----Original Message-----", "Begin forwarded message:"): its header
	// lines name the real reporter, date and subject.
	fwdBlock int            // header lines of the block left to read; 0 outside
	fwdFrom  string         // From of the block being read
	fwdDate  time.Time      // its Date, UTC
	fwdSubj  string         // its Subject
	fwdDone  bool           // a block from the provider was applied
	outerLoc *time.Location // the zone of the outer mail's Date, for zone-less dates

	// zone is the zone the report states for its log times ("time zone
	// is UTC"); zoneless counts the evidence times that named none.
	zone     *time.Location
	zoneless int
	provider string // another provider's notice, by its words or sender

	hpAddr netip.Addr // Project Honey Pot: the address of the last "A (T)" line
	hpType string
	hpSeen bool // a "  - DATE" line was read under hpAddr

	scSubj  string // the subject scKind was computed for
	scKnown bool
	scKind  string // "summary", "alert" (a SpamCop subject) or ""

	gsb     bool      // inside a Safe Browsing <notification_message>
	gsbType string    // the type of its current <list>
	gsbDate time.Time // its date
	wrap    []byte    // the last line, when long and neither field nor evidence: a wrapped line's first half
}

func newNoticeReader(o *options, format string) *noticeReader {
	return &noticeReader{o: o, format: format, ipSeen: map[netip.Addr]bool{}, idSeen: map[string]bool{}}
}

// maxResourceIPs bounds how many distinct IPs a report collects from
// evidence (the reported instance's own addresses are few).
const maxResourceIPs = 64

func (n *noticeReader) evidenceOptions() evidence.Options {
	ref := n.o.now
	if ref.IsZero() {
		ref = n.rep.Received
	}
	// A log time naming no zone is in the zone the report states, else in
	// the zone of the mail's Date, else in the reference's.
	switch {
	case n.zone != nil:
		if ref.IsZero() {
			ref = time.Now()
		}
		ref = ref.In(n.zone)
	case n.outerLoc != nil && !ref.IsZero() && n.o.now.IsZero():
		ref = ref.In(n.outerLoc)
	}
	return evidence.Options{Reference: ref, MaxLineBytes: n.o.limits.MaxLineBytes, Zoneless: &n.zoneless}
}

// zoneAssumed reports whether zone-less log times were read as UTC with
// nothing saying so: no zone note, no mail Date, no reference time.
func (n *noticeReader) zoneAssumed() bool {
	return n.zoneless > 0 && n.zone == nil && n.outerLoc == nil && n.o.now.IsZero()
}

// read reads a text to its end. It can be called for several texts of one
// mail (body, attachments); lineBase numbers lines across them.
func (n *noticeReader) read(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var scratch []byte
	line := 0
	for {
		if line&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b, err := readLine(br, n.o.limits.MaxLineBytes, &scratch)
		if err == io.EOF {
			n.lineBase += line
			return nil
		}
		line++
		if err != nil {
			return parseErr(n.format, n.lineBase+line, err)
		}
		// Cheap tests first: the two regexps would run on every line
		// of a log pasted in a body.
		if bytes.Contains(b, []byte("--")) && reForward.Match(b) {
			n.recognized = true
			return n.forwarded(ctx, br, line)
		}
		if (bytes.IndexByte(b, '(') >= 0 || bytes.Contains(b, []byte("--"))) && reLogStart.Match(b) {
			// The rest is the log: let the evidence scanner read it from
			// its header, which names the protocol of the columns.
			hdr := append(append([]byte(nil), b...), '\n')
			return n.scan(ctx, io.MultiReader(bytes.NewReader(hdr), br), n.lineBase+line-1)
		}
		if err := n.line(b); err != nil {
			return err
		}
	}
}

// forwarded streams the forwarded report after the marker at line.
func (n *noticeReader) forwarded(ctx context.Context, br *bufio.Reader, line int) error {
	if head, _ := br.Peek(8 << 10); len(head) > 0 {
		if n.kindForward == "" {
			if k := kindFromText(string(head)); k != KindOther {
				n.kindForward = k
			}
		}
		n.noteZoneIn(head)
	}
	if err := n.scan(ctx, br, n.lineBase+line); err != nil {
		return err
	}
	return nil
}

// scan reads evidence from r, whose first line is line base+1 of the input.
func (n *noticeReader) scan(ctx context.Context, r io.Reader, base int) error {
	sc := evidence.NewScanner(r, n.evidenceOptions())
	i := 0
	for sc.Scan() {
		if i++; i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := n.evidence(sc.Record(), sc.Layout()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		var le *evidence.LineError
		line := 0
		if errors.As(err, &le) {
			line = base + le.Line
			err = le.Err
		}
		if errors.Is(err, evidence.ErrLineTooLong) {
			err = fmt.Errorf("%w: %w", err, ErrTooLarge)
		}
		return parseErr(n.format, line, err)
	}
	return nil
}

// evidence takes one record of the notice's evidence, of the given layout
// (LayoutUnknown when a pasted line was read alone).
func (n *noticeReader) evidence(e Evidence, layout evidence.Layout) error {
	if !e.Time.IsZero() && (n.earliest.IsZero() || e.Time.Before(n.earliest)) {
		n.earliest = e.Time
	}
	if e.SrcIP.IsValid() && !n.noSrcIPs {
		n.addIP(e.SrcIP)
	}
	if p := e.DstPort; p != 0 && !n.manyPorts {
		if n.firstPort == 0 {
			n.firstPort = p
		} else if p != n.firstPort {
			n.manyPorts = true
		}
	}
	switch layout {
	case evidence.LayoutSSHD, evidence.LayoutFail2ban:
		n.sshLike++
	case evidence.LayoutUnknown:
		// A line read alone (ParseLine gives no layout): tell a login
		// attempt by its text.
		if e.DstPort == 22 || e.DstPort == 3389 || e.DstPort == 0 {
			if r := e.Raw; strings.Contains(r, "sshd") || strings.Contains(r, "fail2ban") || strings.Contains(r, "assword") || strings.Contains(r, "nvalid user") || strings.Contains(r, "uthentication fail") {
				n.sshLike++
			}
		}
	}
	return addEvidence(n.o, &n.rep, e)
}

func (n *noticeReader) addIP(a netip.Addr) {
	a = a.Unmap()
	if a == n.lastIP {
		return
	}
	n.lastIP = a
	if n.ipSeen[a] || len(n.rep.Resources.IPs) >= maxResourceIPs {
		return
	}
	n.ipSeen[a] = true
	n.rep.Resources.IPs = append(n.rep.Resources.IPs, a)
}

func (n *noticeReader) addID(list *[]string, id string) {
	if n.idSeen[id] {
		return
	}
	n.idSeen[id] = true
	*list = append(*list, id)
}

// line reads one line of the notice (before any forwarded report).
func (n *noticeReader) line(raw []byte) error {
	if ok, err := n.honeypotLine(raw); ok || err != nil {
		return err
	}
	t := bytes.TrimSpace(raw)
	for len(t) > 0 && t[0] == '>' { // quote markers of a replied-to notice
		t = bytes.TrimSpace(t[1:])
	}
	for _, b := range [][]byte{[]byte("* "), []byte("- "), []byte("\u2022 ")} { // a bullet: "* Abuse Time: …"
		if bytes.HasPrefix(t, b) {
			t = bytes.TrimSpace(t[len(b):])
			break
		}
	}
	if len(t) == 0 {
		n.wrap = n.wrap[:0]
		if n.fwdBlock > 0 && (n.fwdFrom != "" || n.fwdSubj != "" || !n.fwdDate.IsZero()) {
			n.endForwardBlock() // a blank line right after the start line does not end it
		}
		return nil
	}
	if n.fwdBlock == 0 && logLike(t) {
		// A log line (a digit first; no label, CIDR or word in it): no
		// notice field can be on it, so it goes straight to the
		// evidence parser, sparing a pasted log the prose checks.
		if e, ok := evidence.ParseLine(raw, n.evidenceOptions()); ok {
			n.wrap = n.wrap[:0]
			return n.evidence(e, evidence.LayoutUnknown)
		}
	}
	s := string(t)
	lower := strings.ToLower(s)
	if !n.recognized && hasTnsMarker(lower) {
		n.recognized = true
	}
	if n.inlineForward(s) {
		return nil
	}
	if n.zone == nil {
		if loc, ok := zoneNote(s); ok {
			n.zone = loc
		}
	}
	if ok, err := n.spamcopLine(s); ok || err != nil {
		return err
	}
	if ok, err := n.gsbLine(s); ok || err != nil {
		return err
	}
	if ok, err := n.spamcopSummaryLine(s); ok || err != nil {
		return err
	}
	if ok, err := n.ovhSpamLine(s); ok || err != nil {
		return err
	}
	isField := n.fieldsOf(s, lower)
	if n.providerFields(s, lower) {
		isField = true
	}
	wrapped := n.wrap
	n.wrap = n.wrap[:0]
	if isField {
		n.fields++
	} else if e, ok := evidence.ParseLine(raw, n.evidenceOptions()); ok {
		return n.evidence(e, evidence.LayoutUnknown)
	} else {
		if len(wrapped) > 0 {
			// A line a mail client wrapped: the two halves joined are
			// evidence.
			joined := append(append(wrapped, ' '), t...)
			if e, ok := evidence.ParseLine(joined, n.evidenceOptions()); ok {
				return n.evidence(e, evidence.LayoutUnknown)
			}
		}
		if len(t) >= 60 && len(t) <= 1024 {
			n.wrap = append(n.wrap[:0], t...)
		}
	}
	if n.plain {
		for _, a := range ownIPsIn(s, 0) {
			n.addIP(a)
			n.fields++
		}
	}
	if n.kindNotice == "" {
		if k := kindFromText(lower); k != KindOther {
			n.kindNotice = k
		}
	}
	return nil
}

// fieldsOf reads the notice fields of one line; it reports whether the
// line held any (such a line is not evidence).
func (n *noticeReader) fieldsOf(s, lower string) bool {
	r := &n.rep
	found := false
	has := func(w string) bool { return strings.Contains(lower, w) }
	sub := func(ok bool, re *regexp.Regexp) []string {
		if !ok {
			return nil
		}
		return re.FindStringSubmatch(s)
	}
	if !has(":") && !has("=") && !has("account") && !has("i-") && !has("sg-") && !has("/") && !has("within") && !has("block") && !has("restrict") && !has("stopped") && !has("shut down") && !has("case") && !has("resembles") && !has("arn:") {
		return false
	}
	if m := sub(has("account") || has("aws id"), reAccount); m != nil {
		if r.AccountID == "" {
			r.AccountID = m[1]
		}
		found = true
	}
	if m := sub(has("arn:"), reARN); m != nil { // "arn:aws:ec2:us-east-1:123456789012:instance/i-…"
		if r.AccountID == "" {
			r.AccountID = m[2]
		}
		if r.Resources.Region == "" {
			r.Resources.Region = m[1]
		}
		found = true
	}
	if m := sub(has("region"), reRegion); m != nil {
		if r.Resources.Region == "" {
			r.Resources.Region = strings.ToLower(m[1])
		}
		found = true
	}
	ids := findAllIf(has("i-"), reInstance, s)
	for _, id := range ids {
		n.addID(&r.Resources.InstanceIDs, id)
		found = true
	}
	if len(ids) > 0 && !n.plain { // "EC2 Instance Id: i-… [52.12.34.56]": the instance's addresses
		for _, a := range ipsIn(s) {
			n.addIP(a)
		}
	}
	for _, id := range findAllIf(has("sg-"), reSG, s) {
		n.addID(&r.Resources.SecurityGroups, id)
		found = true
	}
	if strings.Contains(lower, "case") {
		if m := reCaseNumber.FindStringSubmatch(s); m != nil {
			if r.CaseID == "" {
				r.CaseID = m[1]
			}
			found = true
		}
	}
	if m := sub(strings.HasPrefix(lower, "abuse"), reAbuseTim); m != nil {
		// A time naming no zone is in the report's, not silently UTC.
		if t, ok := n.fieldTime(m[2], m[1]); ok && r.AbuseTime.IsZero() {
			r.AbuseTime = t
		}
		found = true
	}
	if m := sub(n.resembles == "" && has("resembles"), reResemble); m != nil {
		n.resembles = strings.TrimSpace(m[1])
	}
	if m := sub(has(":"), reActivity); m != nil {
		if r.Activity == "" {
			r.Activity = strings.TrimSpace(m[1])
		}
		found = true
	}
	if m := sub(strings.HasPrefix(lower, "required"), reRequired); m != nil {
		for _, a := range strings.Split(m[1], ";") {
			if a = strings.TrimSpace(strings.TrimRight(a, ".")); a != "" && !containsString(r.RequiredActions, a) {
				r.RequiredActions = append(r.RequiredActions, a)
			}
		}
		found = true
	}
	if m := sub(has("within"), reWithin); m != nil && n.within == 0 {
		v, _ := strconv.Atoi(m[1])
		d := time.Duration(v) * time.Hour
		if strings.HasPrefix(strings.ToLower(m[2]), "d") {
			d *= 24
		}
		n.within = d
	}
	if m := sub((has("block") || has("restrict")) && !hypothetical(lower), reBlock); m != nil {
		n.mitigations(m)
		found = true
	} else if m := sub(has("blocked all"), reBlockAll); m != nil && !hypothetical(lower) {
		// All traffic blocked: with administrative access kept, the
		// instance is isolated (reachable for the clean-up only).
		mi := Mitigation{Action: MitigationBlock, Direction: "all", Proto: "all"}
		if p := strings.ToLower(m[1]); p != "" {
			mi.Proto = p
		}
		if rest := strings.ToLower(m[2]); strings.Contains(rest, "administrative") || strings.Contains(rest, "admin access") || strings.Contains(rest, "except") {
			mi.Action = MitigationIsolate
		}
		r.Mitigations = appendMitigation(r.Mitigations, mi)
		found = true
	} else if (has("stopped") || has("shut down")) && reStopped.MatchString(s) && !strings.Contains(lower, "not ") && !hypothetical(lower) {
		r.Mitigations = appendMitigation(r.Mitigations, Mitigation{Action: MitigationStop})
		found = true
	}
	if xs, ok := exposuresOf(s); ok {
		for _, x := range xs {
			if !containsExposure(r.Resources.Exposures, x) {
				r.Resources.Exposures = append(r.Resources.Exposures, x)
			}
		}
		found = true
	}
	if has("ip") {
		if m := reIPLabel.FindStringSubmatchIndex(s); m != nil {
			for _, a := range ownIPsIn(s, m[2]) {
				n.addIP(a)
				found = true
			}
		}
	}
	return found
}

// hypothetical reports whether a line speaks of what may happen, not of
// what was done ("we may block outbound traffic if …").
func hypothetical(lower string) bool {
	for _, w := range []string{" may ", " might ", " will ", " could ", " would ", "if you ", "failure to "} {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func direction(d string) string {
	switch d = strings.ToLower(d); d {
	case "egress":
		return "outbound"
	case "ingress":
		return "inbound"
	}
	return d
}

func (n *noticeReader) mitigations(m []string) {
	dir := direction(m[1])
	if d2 := direction(m[2]); d2 != "" && d2 != dir {
		dir = "all" // inbound and outbound
	}
	proto := strings.ToLower(m[3])
	if proto == "" {
		proto = "all"
	}
	var ports []uint16
	if pm := rePorts.FindStringSubmatch(m[4]); pm != nil {
		for _, f := range strings.FieldsFunc(pm[1], func(r rune) bool { return r < '0' || r > '9' }) {
			if p, err := strconv.ParseUint(f, 10, 16); err == nil {
				ports = append(ports, uint16(p))
			}
		}
	}
	if len(ports) == 0 {
		ports = []uint16{0}
	}
	for _, p := range ports {
		n.rep.Mitigations = appendMitigation(n.rep.Mitigations, Mitigation{Action: MitigationBlock, Direction: dir, Proto: proto, Port: p})
	}
}

func appendMitigation(list []Mitigation, m Mitigation) []Mitigation {
	for _, x := range list {
		if x == m {
			return list
		}
	}
	return append(list, m)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func containsExposure(list []Exposure, e Exposure) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

// exposuresOf reads a line of the open-ports advice: a CIDR with a protocol
// and/or port, as in "ALL 0.0.0.0/0", "TCP 22 0.0.0.0/0", "3389 ::/0",
// "tcp/22-25 0.0.0.0/0". Every token must be one of those, so prose never
// matches.
func exposuresOf(s string) ([]Exposure, bool) {
	if !strings.Contains(s, "/") {
		return nil, false
	}
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '|' || r == ';' })
	if len(toks) < 2 || len(toks) > 5 {
		return nil, false
	}
	var cidr, proto string
	var lo, hi int = -1, -1
	for _, t := range toks {
		lt := strings.ToLower(t)
		if strings.Contains(lt, "/") {
			if p, err := netip.ParsePrefix(lt); err == nil {
				if cidr != "" {
					return nil, false
				}
				cidr = p.String()
				continue
			}
			// "tcp/22" or "22/tcp"
			a, b, _ := strings.Cut(lt, "/")
			if isProto(a) && isPortRange(b) {
				proto = protoWord(a)
				lo, hi = portRange(b)
				continue
			}
			if isProto(b) && isPortRange(a) {
				proto = protoWord(b)
				lo, hi = portRange(a)
				continue
			}
			return nil, false
		}
		switch {
		case isProto(lt) && proto == "":
			proto = protoWord(lt)
		case isPortRange(lt) && lo < 0:
			lo, hi = portRange(lt)
		case lt == "port" || lt == "ports" || lt == "-" || lt == "open":
		default:
			return nil, false
		}
	}
	if cidr == "" || (proto == "" && lo < 0) {
		return nil, false
	}
	if proto == "" {
		proto = "tcp"
	}
	if lo < 0 {
		return []Exposure{{Port: 0, Proto: proto, CIDR: cidr}}, true
	}
	if proto == "all" && lo == 0 {
		return []Exposure{{Port: 0, Proto: "all", CIDR: cidr}}, true
	}
	if hi-lo > 64 { // a wide range: its first port stands for it
		hi = lo
	}
	var out []Exposure
	for p := lo; p <= hi; p++ {
		out = append(out, Exposure{Port: uint16(p), Proto: proto, CIDR: cidr})
	}
	return out, true
}

func isProto(s string) bool {
	switch strings.ToLower(s) {
	case "all", "any", "tcp", "udp", "icmp", "-1", "all-traffic":
		return true
	}
	return false
}

func protoWord(s string) string {
	switch s = strings.ToLower(s); s {
	case "any", "-1", "all-traffic":
		return "all"
	}
	return s
}

func isPortRange(s string) bool {
	lo, hi := portRange(s)
	return lo >= 0 && hi >= lo
}

func portRange(s string) (int, int) {
	a, b, ok := strings.Cut(s, "-")
	pa, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return -1, -1
	}
	if !ok {
		return int(pa), int(pa)
	}
	pb, err := strconv.ParseUint(b, 10, 16)
	if err != nil || pb < pa {
		return -1, -1
	}
	return int(pa), int(pb)
}

// ipsIn is every IP address written in s (IPv4 or IPv6, possibly in
// brackets or followed by punctuation or a ":port").
func ipsIn(s string) []netip.Addr {
	var out []netip.Addr
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ',' || r == ';' || r == '(' || r == ')' || r == '[' || r == ']' || r == '<' || r == '>' || r == '"' || r == '\''
	}) {
		f = strings.TrimRight(f, ".:")
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, a)
			continue
		}
		if ap, err := netip.ParseAddrPort(f); err == nil {
			out = append(out, ap.Addr())
		}
	}
	return out
}

// finish completes the report once all its text was read.
func (n *noticeReader) finish() Report {
	r := n.rep
	switch {
	case n.recognized:
		r.Provider = ProviderAWS
	case providerOfSender(r.Reporter) != "":
		r.Provider = providerOfSender(r.Reporter)
	case n.provider != "":
		r.Provider = n.provider
	case r.AccountID != "" || len(r.Resources.InstanceIDs) > 0:
		r.Provider = ProviderAWS
	}
	if r.Activity == "" && n.resembles != "" {
		r.Activity = n.resembles
	}
	switch {
	case r.Activity != "":
		r.Kind = kindFromText(r.Activity)
		if r.Kind == KindOther && n.kindNotice != "" {
			r.Kind = n.kindNotice
		}
	case n.kindNotice != "":
		r.Kind = n.kindNotice
	case n.kindSubject != "":
		r.Kind = n.kindSubject
	case n.kindForward != "":
		r.Kind = n.kindForward
	case n.sshLike > 0 && n.sshLike*2 >= r.EvidenceCount:
		r.Kind = KindIntrusion
	case n.manyPorts || r.EvidenceCount > 1:
		r.Kind = KindPortScan
	default:
		r.Kind = KindOther
	}
	if r.CaseID == "" {
		r.CaseID = caseFromSender(r.Reporter)
	}
	if r.AbuseTime.IsZero() && !n.earliest.IsZero() {
		r.AbuseTime = n.earliest.UTC()
	}
	if n.zoneAssumed() {
		addWarning(&r, Warning{Code: WarnTimeZone, Message: fmt.Sprintf("%d evidence times name no zone and the report states none: read as UTC", n.zoneless)})
	}
	if !n.deadline.IsZero() {
		r.Deadline = n.deadline
	} else if n.within > 0 {
		base := r.Received
		if base.IsZero() {
			base = n.o.now
		}
		if !base.IsZero() {
			r.Deadline = saneOrZero(base.Add(n.within).UTC())
		}
	}
	return r
}

// useful reports whether the text held anything a responder can act on.
func (n *noticeReader) useful() bool {
	r := &n.rep
	return n.recognized || n.fields > 0 || r.EvidenceCount > 0 || r.CaseID != "" || len(r.Resources.InstanceIDs) > 0 || len(r.Resources.IPs) > 0 || len(r.Resources.Projects) > 0 || len(r.Resources.Hosts) > 0
}

// ParseTrustAndSafety reads the text of an AWS Trust & Safety notice (the
// body of the mail, pasted without its headers): the first notice (AWS ID,
// Region, EC2 Instance Id, Case Number, forwarded report), the follow-up
// ("Abuse Time", "Reported Activity", "Required Actions", "within 24
// hours"), the mitigation notice ("Blocked OUTBOUND TCP traffic … on port
// 22") and the open-ports advice ("ALL 0.0.0.0/0"). Without the mail's Date,
// the deadline is read against WithReferenceTime, and left zero without it.
// A mail (.eml) goes to ParseMail instead.
func ParseTrustAndSafety(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return parseTnsText(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, tnsFormat), &o)
}

func parseTnsText(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	n := newNoticeReader(o, tnsFormat)
	if err := n.read(ctx, r); err != nil {
		return nil, err
	}
	if !n.useful() {
		return nil, &ParseError{Format: tnsFormat, Err: fmt.Errorf("%w: no notice fields, resources or evidence in the text", ErrUnknownFormat)}
	}
	rep := n.finish()
	rep.Source = SourceTrustAndSafety
	rep.Role = RoleActor
	return oneReport(o, tnsFormat, rep)
}

// tnsSniff recognises the pasted text of a notice.
func tnsSniff(head []byte) bool {
	return looksLikeText(head) && hasTnsMarker(strings.ToLower(string(head)))
}

func init() {
	registerFormat(format{name: tnsFormat, priority: 60, sniff: tnsSniff, parse: parseTnsText})
}

func findAllIf(ok bool, re *regexp.Regexp, s string) []string {
	if !ok {
		return nil
	}
	return re.FindAllString(s, -1)
}

// inlineForward follows the header block of an inline-forwarded message;
// it reports whether s was part of it.
func (n *noticeReader) inlineForward(s string) bool {
	if !n.fwdDone && reFwdStart.MatchString(s) {
		n.fwdBlock, n.fwdFrom, n.fwdDate, n.fwdSubj = 8, "", time.Time{}, ""
		return true
	}
	if n.fwdBlock == 0 {
		return false
	}
	n.fwdBlock--
	m := reFwdField.FindStringSubmatch(s)
	if m == nil {
		if n.fwdBlock == 0 {
			n.endForwardBlock()
		}
		return false
	}
	v := strings.TrimSpace(m[2])
	switch strings.ToLower(m[1]) {
	case "from":
		if a, err := mail.ParseAddress(v); err == nil {
			n.fwdFrom = strings.ToLower(a.Address)
		} else if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
			n.fwdFrom = strings.ToLower(v[i+1 : j])
		}
	case "date", "sent":
		n.fwdDate = n.forwardedDate(v)
	case "subject":
		n.fwdSubj = v
	}
	if n.fwdBlock == 0 {
		n.endForwardBlock()
	}
	return true
}

// endForwardBlock applies a forwarded header block that came from the
// provider's abuse desk: the notice's own reporter, date and subject replace
// those of the mail that forwarded it.
func (n *noticeReader) endForwardBlock() {
	n.fwdBlock = 0
	f := n.fwdFrom
	if f == "" || !(strings.HasSuffix(f, "@amazon.com") || strings.HasSuffix(f, "@amazonaws.com")) {
		return
	}
	n.fwdDone = true
	n.recognized = true
	n.rep.Reporter = f
	if !n.fwdDate.IsZero() {
		n.rep.Received = n.fwdDate
	}
	if n.fwdSubj != "" {
		n.rep.Subject = n.fwdSubj
	}
}

// fwdLayouts are the dates mail clients write in a forwarded header block,
// without a zone: the forwarder's own zone is meant.
var reGMTOffset = regexp.MustCompile(`(?i)\s*(?:GMT|UTC)([+-]\d{1,2})(?::?(\d{2}))?$`)

var fwdLayouts = []string{
	"Mon, Jan 2, 2006 at 3:04 PM",     // Gmail
	"Mon, 2 Jan 2006 at 15:04",        // Gmail, 24-hour locales
	"Monday, January 2, 2006 3:04 PM", // Outlook
	"Monday, January 2, 2006 15:04",
	"January 2, 2006 at 3:04:05 PM MST", // Apple Mail (with a zone)
	"January 2, 2006 at 3:04:05 PM",
	"2 Jan 2006, at 15:04",
}

func (n *noticeReader) forwardedDate(v string) time.Time {
	v = strings.Join(strings.Fields(strings.ReplaceAll(v, "\u202f", " ")), " ")
	if t, ok := parseLooseTime(v); ok {
		return t
	}
	loc := n.outerLoc
	if loc == nil {
		loc = time.UTC
	}
	if m := reGMTOffset.FindStringSubmatch(v); m != nil { // Apple Mail: "GMT+2"
		h, _ := strconv.Atoi(m[1])
		mins, _ := strconv.Atoi(m[2])
		off := h*3600 + mins*60
		if h < 0 || strings.HasPrefix(m[1], "-") {
			off = h*3600 - mins*60
		}
		loc = time.FixedZone("", off)
		v = strings.TrimSpace(v[:len(v)-len(m[0])])
	}
	for _, l := range fwdLayouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return saneOrZero(t.UTC())
		}
	}
	return time.Time{}
}

// logLike reports whether t looks like a bare log line, which holds no
// notice field: it starts with a digit and has no "label: ", no '/'
// (a CIDR, a date with slashes), no '=', '#' or '@', and no run of four
// letters or more (a word of prose; "Thu", "Apr", "TCP" are shorter).
func logLike(t []byte) bool {
	if len(t) == 0 || t[0] < '0' || t[0] > '9' {
		return false
	}
	run := 0
	for i, c := range t {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if run++; run >= 4 {
				return false
			}
			continue
		case c == '/' || c == '=' || c == '#' || c == '@' || c >= 0x80:
			return false
		case c == ':' && i+1 < len(t) && (t[i+1] == ' ' || t[i+1] == '\t'):
			return false
		}
		run = 0
	}
	return true
}

// victimWords, just before an address, say it is the one attacked, not
// one of the reported resources ("aimed at 198.51.100.250", "Target of
// attack:-198.51.100.250", "Destination IP: 192.0.2.33").
var victimWords = []string{"aimed at", "against", "target", "victim", "destination", "dest", "dst", "attacked", "attacking", "towards", "scanned", "probed"}

// ownIPsIn is ipsIn over s[from:], without the addresses victimWords
// name: what a notice says of the reported resources.
func ownIPsIn(s string, from int) []netip.Addr {
	var out []netip.Addr
	i := from
	for i < len(s) {
		for i < len(s) && isIPSep(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isIPSep(s[j]) {
			j++
		}
		if j > i {
			if as := ipsIn(s[i:j]); len(as) > 0 {
				ctx := strings.ToLower(s[max(0, i-32):i])
				victim := false
				for _, w := range victimWords {
					if strings.Contains(ctx, w) {
						victim = true
						break
					}
				}
				if !victim {
					out = append(out, as...)
				}
			}
		}
		i = j
	}
	return out
}

func isIPSep(c byte) bool {
	switch c {
	case ' ', '\t', ',', ';', '(', ')', '[', ']', '<', '>', '"', '\'':
		return true
	}
	return false
}
