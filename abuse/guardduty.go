package abuse

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// Amazon GuardDuty findings.
//
// GuardDuty hands a finding over in three shapes, all read here:
//   - the finding itself, as the console's "Export" and S3 exports show it
//     (camelCase keys: accountId, resource.instanceDetails, service.action …);
//   - the output of GetFindings (aws guardduty get-findings): PascalCase keys
//     under {"Findings": [...]}, or one PascalCase finding;
//   - an EventBridge event: {"detail-type": "GuardDuty Finding", "source":
//     "aws.guardduty", "detail": {camelCase finding}}.
// Any of them may come as a JSON array or as a sequence of JSON values (JSON
// lines), gzip-compressed (S3 exports), inside an SNS notification
// ({"Type": "Notification", "Message": "<event JSON>"}, as SQS and HTTP
// subscribers receive it), or as the body of the mail an SNS email
// subscription sends (a mail format, so Parse finds it in .eml and mbox). Keys are matched case-insensitively, as encoding/json does, which
// is what lets one set of types read both the camelCase and the PascalCase
// forms.

const gdFormat = "guardduty"

func init() {
	registerFormat(format{name: gdFormat, priority: 10, sniff: gdSniff, parse: gdParse})
	registerMailFormat(mailFormat{name: gdFormat, priority: 40, match: gdMailMatch, parse: gdMailParse})
}

// ParseGuardDuty reads GuardDuty findings (raw, GetFindings output or
// EventBridge events; one, an array, or JSON lines; plain or gzip as in
// GuardDuty's S3 exports) into one Report per finding. Errors are
// *ParseError values with Format "guardduty".
func ParseGuardDuty(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return gdParse(ctx, r, &o)
}

// gdSniff reports whether head looks like GuardDuty JSON, plain or
// gzip-compressed (GuardDuty's S3 exports are .jsonl.gz).
func gdSniff(head []byte) bool {
	if gdGzipped(head) {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		plain := make([]byte, 16<<10)
		n, _ := io.ReadFull(zr, plain)
		head = plain[:n]
	}
	head = arfTrimHead(head)
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	l := bytes.ToLower(head)
	return bytes.Contains(l, []byte(`"aws.guardduty"`)) ||
		bytes.Contains(l, []byte(`"guardduty finding"`)) ||
		bytes.Contains(l, []byte(`:guardduty:`)) ||
		(bytes.Contains(l, []byte(`"resourcerole"`)) && bytes.Contains(l, []byte(`"instancedetails"`)))
}

// gdMailMatch recognises a GuardDuty finding delivered by mail (an SNS
// email subscription to the EventBridge rule's topic): a body that opens
// with GuardDuty JSON.
// Only the head of the first inline text/plain part is looked at, so that
// a mail with a large inline log costs nothing here.
func gdMailMatch(m *mailmsg.Message) bool {
	for _, p := range m.Parts {
		if !p.IsText() || p.Disposition == "attachment" {
			continue
		}
		if p.MediaType != "text/plain" {
			return false
		}
		head := arfTrimHead(p.Body[:min(len(p.Body), sniffBytes)])
		return len(head) > 0 && head[0] == '{' && gdSniff(head)
	}
	return false
}

// gdMailParse reads the JSON values at the start of the body, stopping at
// the first text that is not JSON (SNS appends an unsubscribe footer).
func gdMailParse(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	data := arfNewLoc(strings.NewReader(strings.TrimSpace(m.Text())))
	sink := arfMailSink(o, gdFormat)
	dec := json.NewDecoder(data)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if n > 0 {
				break // the footer
			}
			return nil, arfJSONError(gdFormat, data, 0, err)
		}
		off := dec.InputOffset() - int64(len(raw))
		if err := gdValue(ctx, sink, data, raw, off, gdEnvelope{}); err != nil {
			return nil, err
		}
	}
	mi := arfMailInfo(m)
	for i := range sink.reports {
		if sink.reports[i].Received.IsZero() {
			sink.reports[i].Received = mi.received
		}
	}
	return sink.reports, nil
}

func gdGzipped(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

func gdParse(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); gdGzipped(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ParseError{Format: gdFormat, Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		r = zr // MaxBytes bounds what it inflates to
	} else {
		r = br
	}
	data := arfNewLoc(newLimitedReader(r, o.limits.MaxBytes, gdFormat))
	sink := &reportSink{o: o, format: gdFormat}
	err := arfJSONStream(ctx, gdFormat, data, func(raw json.RawMessage, off int64) error {
		return gdValue(ctx, sink, data, raw, off, gdEnvelope{})
	})
	if err != nil {
		return nil, err
	}
	return sink.reports, nil
}

// gdEnvelope is what an EventBridge event says around its finding.
type gdEnvelope struct {
	Account string
	Region  string
	Time    string
	depth   int // envelopes and lists around the finding so far
}

// gdMaxDepth bounds the wrapping a finding may come in (SNS around an
// event around a findings list …), so that a hostile chain of "detail"
// objects costs no more than a few passes over the input.
const gdMaxDepth = 4

// gdProbe tells the shapes apart.
type gdProbe struct {
	DetailType string          `json:"detail-type"`
	Source     json.RawMessage `json:"source"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
	Findings   json.RawMessage `json:"findings"`
	FindingIDs json.RawMessage `json:"findingIds"`
	Type       string          `json:"type"`
	Resource   json.RawMessage `json:"resource"`
	Service    json.RawMessage `json:"service"`
	Message    json.RawMessage `json:"message"` // SNS: the event, as a JSON string
}

// gdValue reads one JSON value: an event, a GetFindings output or a finding.
func gdValue(ctx context.Context, sink *reportSink, data *arfLoc, raw json.RawMessage, off int64, env gdEnvelope) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: errors.New("expected a JSON object (finding, GetFindings output or EventBridge event)")}
	}
	if env.depth > gdMaxDepth {
		return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: fmt.Errorf("finding wrapped in more than %d envelopes", gdMaxDepth)}
	}
	var p gdProbe
	if err := json.Unmarshal(raw, &p); err != nil {
		return arfJSONError(gdFormat, data, off, err)
	}
	inner := env
	inner.depth++
	switch {
	case strings.EqualFold(p.Type, "Notification") && len(p.Message) > 0 && p.Message[0] == '"':
		// An SNS notification (SQS queue, HTTP subscription) around the event.
		var msg string
		if err := json.Unmarshal(p.Message, &msg); err != nil {
			return arfJSONError(gdFormat, data, off, err)
		}
		return gdValue(ctx, sink, data, json.RawMessage(msg), off, inner)
	case len(p.Detail) > 0 && !bytes.Equal(p.Detail, []byte("null")):
		if p.DetailType != "" && !strings.EqualFold(p.DetailType, "GuardDuty Finding") {
			return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: fmt.Errorf("EventBridge event of detail-type %q, not a GuardDuty Finding", p.DetailType)}
		}
		inner = gdEnvelope{Account: p.Account, Region: p.Region, Time: p.Time, depth: inner.depth}
		// detail is normally the finding; some tools wrap a findings list.
		return gdValue(ctx, sink, data, p.Detail, off+int64(bytes.Index(raw, p.Detail)), inner)
	case len(p.Findings) > 0:
		// Stream the list: each finding decoded on its own, at its offset.
		base := off + int64(bytes.Index(raw, p.Findings))
		if p.Findings[0] != '[' {
			return &ParseError{Format: gdFormat, Line: arfLineAt(data, base), Err: errors.New("Findings: expected an array")}
		}
		dec := json.NewDecoder(bytes.NewReader(p.Findings))
		return arfJSONElements(ctx, gdFormat, data, base, dec, func(f json.RawMessage, start int64) error {
			return gdValue(ctx, sink, data, f, base+start, inner)
		})
	case len(p.FindingIDs) > 0:
		return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: errors.New("ListFindings output holds only finding IDs; pass them to GetFindings and parse its output")}
	case p.Type != "" && (len(p.Resource) > 0 || len(p.Service) > 0):
		var f gdFinding
		if err := json.Unmarshal(raw, &f); err != nil {
			return arfJSONError(gdFormat, data, off, err)
		}
		rep, err := gdReport(sink, &f, env)
		if err != nil {
			return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: err}
		}
		return sink.add(rep)
	}
	return &ParseError{Format: gdFormat, Line: arfLineAt(data, off), Err: errors.New("not a GuardDuty finding, GetFindings output or EventBridge event")}
}

// The finding, as the GuardDuty API documents it. Unknown fields are ignored.
type gdFinding struct {
	AccountID   string     `json:"accountId"`
	Arn         string     `json:"arn"`
	CreatedAt   string     `json:"createdAt"`
	UpdatedAt   string     `json:"updatedAt"`
	Description string     `json:"description"`
	ID          string     `json:"id"`
	Partition   string     `json:"partition"`
	Region      string     `json:"region"`
	Resource    gdResource `json:"resource"`
	Service     gdService  `json:"service"`
	Severity    float64    `json:"severity"`
	Title       string     `json:"title"`
	Type        string     `json:"type"`
}

type gdResource struct {
	ResourceType    string      `json:"resourceType"`
	InstanceDetails *gdInstance `json:"instanceDetails"`
}

type gdInstance struct {
	InstanceID        string  `json:"instanceId"`
	InstanceType      string  `json:"instanceType"`
	NetworkInterfaces []gdNIC `json:"networkInterfaces"`
}

type gdNIC struct {
	NetworkInterfaceID string `json:"networkInterfaceId"`
	PrivateIPAddress   string `json:"privateIpAddress"`
	PrivateIPAddresses []struct {
		PrivateIPAddress string `json:"privateIpAddress"`
	} `json:"privateIpAddresses"`
	PublicIP       string   `json:"publicIp"`
	IPv6Addresses  []string `json:"ipv6Addresses"`
	SecurityGroups []struct {
		GroupID   string `json:"groupId"`
		GroupName string `json:"groupName"`
	} `json:"securityGroups"`
}

type gdService struct {
	Action         gdAction `json:"action"`
	Count          int64    `json:"count"`
	EventFirstSeen string   `json:"eventFirstSeen"`
	EventLastSeen  string   `json:"eventLastSeen"`
	ResourceRole   string   `json:"resourceRole"`
	DetectorID     string   `json:"detectorId"`
	Archived       bool     `json:"archived"`
	// RuntimeDetails is set by Runtime Monitoring findings: the process
	// GuardDuty saw on the instance.
	RuntimeDetails *struct {
		Process *gdProcess `json:"process"`
	} `json:"runtimeDetails"`
}

type gdProcess struct {
	Name             string `json:"name"`
	ExecutablePath   string `json:"executablePath"`
	ExecutableSha256 string `json:"executableSha256"`
	Pid              int64  `json:"pid"`
	User             string `json:"user"`
	Pwd              string `json:"pwd"`
}

type gdAction struct {
	ActionType              string           `json:"actionType"`
	NetworkConnectionAction *gdNetConnection `json:"networkConnectionAction"`
	PortProbeAction         *gdPortProbe     `json:"portProbeAction"`
	AwsAPICallAction        *gdAPICall       `json:"awsApiCallAction"`
	DNSRequestAction        *gdDNSRequest    `json:"dnsRequestAction"`
}

type gdNetConnection struct {
	ConnectionDirection string   `json:"connectionDirection"`
	Protocol            string   `json:"protocol"`
	Blocked             bool     `json:"blocked"`
	LocalPortDetails    gdPort   `json:"localPortDetails"`
	RemotePortDetails   gdPort   `json:"remotePortDetails"`
	LocalIPDetails      gdIPInfo `json:"localIpDetails"`
	RemoteIPDetails     gdIPInfo `json:"remoteIpDetails"`
}

type gdPort struct {
	Port     int64  `json:"port"`
	PortName string `json:"portName"`
}

type gdIPInfo struct {
	IPAddressV4  string `json:"ipAddressV4"`
	IPAddressV6  string `json:"ipAddressV6"`
	Organization struct {
		Asn    string `json:"asn"`
		AsnOrg string `json:"asnOrg"`
	} `json:"organization"`
	Country struct {
		CountryName string `json:"countryName"`
	} `json:"country"`
}

func (i gdIPInfo) addr() netip.Addr {
	if a := arfParseAddr(i.IPAddressV4); a.IsValid() {
		return a
	}
	return arfParseAddr(i.IPAddressV6)
}

type gdPortProbe struct {
	Blocked          bool `json:"blocked"`
	PortProbeDetails []struct {
		LocalPortDetails gdPort   `json:"localPortDetails"`
		LocalIPDetails   gdIPInfo `json:"localIpDetails"`
		RemoteIPDetails  gdIPInfo `json:"remoteIpDetails"`
	} `json:"portProbeDetails"`
}

type gdAPICall struct {
	API             string   `json:"api"`
	CallerType      string   `json:"callerType"`
	ServiceName     string   `json:"serviceName"`
	RemoteIPDetails gdIPInfo `json:"remoteIpDetails"`
}

type gdDNSRequest struct {
	Domain   string `json:"domain"`
	Protocol string `json:"protocol"`
	Blocked  bool   `json:"blocked"`
}

// gdTime parses a GuardDuty timestamp ("2026-11-02T09:14:22.511Z"); empty
// gives the zero time, one outside the report range an error wrapping
// ErrTimeRange.
func gdTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	if err := checkTime(field, t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// gdReport maps one finding onto a Report and feeds its evidence to sink.
func gdReport(sink *reportSink, f *gdFinding, env gdEnvelope) (Report, error) {
	r := Report{
		Provider:  ProviderAWS,
		Source:    SourceGuardDuty,
		Kind:      GuardDutyKind(f.Type),
		CaseID:    f.ID,
		AccountID: f.AccountID,
		Reporter:  "Amazon GuardDuty",
		Subject:   f.Title,
		Activity:  f.Type,
	}
	if r.AccountID == "" {
		r.AccountID = env.Account
	}
	switch strings.ToUpper(strings.TrimSpace(f.Service.ResourceRole)) {
	case "ACTOR":
		r.Role = RoleActor
	case "TARGET":
		r.Role = RoleTarget
	}
	r.Severity = gdSeverity(f.Severity)
	r.Resources.Region = f.Region
	if r.Resources.Region == "" {
		r.Resources.Region = env.Region
	}
	first, err := gdTime("service.eventFirstSeen", f.Service.EventFirstSeen)
	if err != nil {
		return r, err
	}
	last, err := gdTime("service.eventLastSeen", f.Service.EventLastSeen)
	if err != nil {
		return r, err
	}
	created, err := gdTime("createdAt", f.CreatedAt)
	if err != nil {
		return r, err
	}
	updated, err := gdTime("updatedAt", f.UpdatedAt)
	if err != nil {
		return r, err
	}
	evTime, err := gdTime("time", env.Time)
	if err != nil {
		return r, err
	}
	r.AbuseTime = first
	if r.AbuseTime.IsZero() {
		r.AbuseTime = created
	}
	switch {
	case !evTime.IsZero():
		r.Received = evTime
	case !updated.IsZero():
		r.Received = updated
	default:
		r.Received = created
	}

	// The instance's own addresses: public first, then private.
	var local netip.Addr
	if inst := f.Resource.InstanceDetails; inst != nil {
		r.Resources.InstanceIDs = arfAppendUnique(r.Resources.InstanceIDs, inst.InstanceID)
		for _, nic := range inst.NetworkInterfaces {
			r.Resources.IPs = arfAppendAddr(r.Resources.IPs, arfParseAddr(nic.PublicIP))
		}
		for _, nic := range inst.NetworkInterfaces {
			p := arfParseAddr(nic.PrivateIPAddress)
			if !local.IsValid() {
				local = p
			}
			r.Resources.IPs = arfAppendAddr(r.Resources.IPs, p)
			for _, pa := range nic.PrivateIPAddresses {
				r.Resources.IPs = arfAppendAddr(r.Resources.IPs, arfParseAddr(pa.PrivateIPAddress))
			}
			for _, v6 := range nic.IPv6Addresses {
				r.Resources.IPs = arfAppendAddr(r.Resources.IPs, arfParseAddr(v6))
			}
			for _, sg := range nic.SecurityGroups {
				r.Resources.SecurityGroups = arfAppendUnique(r.Resources.SecurityGroups, sg.GroupID)
			}
		}
	}

	count := ""
	if f.Service.Count > 0 {
		count = fmt.Sprintf(" count=%d", f.Service.Count)
	}
	seen := ""
	if !first.IsZero() {
		seen = " first_seen=" + first.Format(time.RFC3339)
	}
	if !last.IsZero() {
		seen += " last_seen=" + last.Format(time.RFC3339)
	}
	role := strings.ToUpper(f.Service.ResourceRole)
	act := f.Service.Action
	when := first
	if when.IsZero() {
		when = created
	}

	if nc := act.NetworkConnectionAction; nc != nil {
		lp, err := arfPort(nc.LocalPortDetails.Port, "localPortDetails.port")
		if err != nil {
			return r, err
		}
		rp, err := arfPort(nc.RemotePortDetails.Port, "remotePortDetails.port")
		if err != nil {
			return r, err
		}
		la := nc.LocalIPDetails.addr()
		if !la.IsValid() {
			la = local
		}
		ra := nc.RemoteIPDetails.addr()
		dir := strings.ToUpper(nc.ConnectionDirection)
		outbound := dir == "OUTBOUND" || (dir != "INBOUND" && role == "ACTOR")
		e := Evidence{Time: when, Proto: strings.ToLower(nc.Protocol)}
		if outbound {
			e.SrcIP, e.SrcPort, e.DstIP, e.DstPort = la, lp, ra, rp
		} else {
			e.SrcIP, e.SrcPort, e.DstIP, e.DstPort = ra, rp, la, lp
		}
		e.Raw = fmt.Sprintf("%s %s %s %s -> %s%s%s%s", f.Type, gdOr(dir, "UNKNOWN"), gdOr(strings.ToUpper(nc.Protocol), "-"),
			gdHostPort(e.SrcIP, e.SrcPort), gdHostPort(e.DstIP, e.DstPort), count, seen, gdBlocked(nc.Blocked))
		if err := addEvidence(sink.o, &r, e); err != nil {
			return r, err
		}
	}
	if pp := act.PortProbeAction; pp != nil {
		for i, d := range pp.PortProbeDetails {
			lp, err := arfPort(d.LocalPortDetails.Port, fmt.Sprintf("portProbeDetails[%d].localPortDetails.port", i))
			if err != nil {
				return r, err
			}
			la := d.LocalIPDetails.addr()
			if !la.IsValid() {
				la = local
			}
			// The instance is the target: the remote host probes it.
			e := Evidence{Time: when, SrcIP: d.RemoteIPDetails.addr(), DstIP: la, DstPort: lp}
			e.Raw = fmt.Sprintf("%s PORT_PROBE %s -> %s%s%s%s%s", f.Type, gdHostPort(e.SrcIP, 0), gdHostPort(e.DstIP, e.DstPort),
				gdPortName(d.LocalPortDetails.PortName), count, seen, gdBlocked(pp.Blocked))
			if err := addEvidence(sink.o, &r, e); err != nil {
				return r, err
			}
		}
	}
	if ac := act.AwsAPICallAction; ac != nil {
		e := Evidence{Time: when, SrcIP: ac.RemoteIPDetails.addr()}
		e.Raw = fmt.Sprintf("%s AWS_API_CALL %s:%s caller=%s from=%s%s%s", f.Type, gdOr(ac.ServiceName, "-"), gdOr(ac.API, "-"),
			gdOr(ac.CallerType, "-"), gdHostPort(e.SrcIP, 0), count, seen)
		if err := addEvidence(sink.o, &r, e); err != nil {
			return r, err
		}
	}
	if dr := act.DNSRequestAction; dr != nil {
		e := Evidence{Time: when, SrcIP: local, Proto: strings.ToLower(dr.Protocol)}
		e.Raw = fmt.Sprintf("%s DNS_REQUEST %s domain=%s from=%s%s%s%s", f.Type, gdOr(strings.ToUpper(dr.Protocol), "-"), gdOr(dr.Domain, "-"),
			gdHostPort(e.SrcIP, 0), count, seen, gdBlocked(dr.Blocked))
		if err := addEvidence(sink.o, &r, e); err != nil {
			return r, err
		}
	}
	if rd := f.Service.RuntimeDetails; rd != nil && rd.Process != nil {
		p := rd.Process
		e := Evidence{Time: when, SrcIP: local}
		e.Raw = fmt.Sprintf("%s PROCESS pid=%d name=%s exe=%s sha256=%s user=%s cwd=%s on=%s%s%s", f.Type, p.Pid, gdOr(p.Name, "-"),
			gdOr(p.ExecutablePath, "-"), gdOr(p.ExecutableSha256, "-"), gdOr(p.User, "-"), gdOr(p.Pwd, "-"), gdHostPort(local, 0), count, seen)
		if err := addEvidence(sink.o, &r, e); err != nil {
			return r, err
		}
	}
	return r, nil
}

// gdSeverity labels a GuardDuty severity on GuardDuty's scale: low
// 1.0–3.9, medium 4.0–6.9, high 7.0–8.9, critical 9.0–10.0. A finding
// without one (or out of range) gives the zero Severity.
func gdSeverity(score float64) Severity {
	var label string
	switch {
	case !(score >= 1 && score <= 10): // also NaN
		return Severity{}
	case score < 4:
		label = "low"
	case score < 7:
		label = "medium"
	case score < 9:
		label = "high"
	default:
		label = "critical"
	}
	return Severity{Score: score, Label: label}
}

func gdOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func gdHostPort(a netip.Addr, port uint16) string {
	h := "-"
	if a.IsValid() {
		h = a.String()
	}
	if port == 0 {
		return h
	}
	if a.Is6() {
		h = "[" + h + "]"
	}
	return fmt.Sprintf("%s:%d", h, port)
}

func gdPortName(n string) string {
	if n == "" || strings.EqualFold(n, "Unknown") {
		return ""
	}
	return " (" + n + ")"
}

func gdBlocked(b bool) string {
	if b {
		return " blocked"
	}
	return ""
}

// gdKinds maps the GuardDuty finding types an abuse report is typically
// about (EC2, and the Runtime Monitoring and Malware Protection types that
// point at a compromised instance) to a Kind. Types not listed here fall
// back on their threat purpose and family; see GuardDutyKind.
var gdKinds = map[string]Kind{
	// Recon and port sweeps. PortProbe*: the instance is the TARGET.
	"Recon:EC2/Portscan":                    KindPortScan,
	"Recon:EC2/PortProbeUnprotectedPort":    KindPortScan,
	"Recon:EC2/PortProbeEMRUnprotectedPort": KindPortScan,
	"Impact:EC2/PortSweep":                  KindPortScan,

	// Brute force, from the instance (ACTOR) or against it (TARGET).
	"UnauthorizedAccess:EC2/SSHBruteForce": KindIntrusion,
	"UnauthorizedAccess:EC2/RDPBruteForce": KindIntrusion,
	"Impact:EC2/WinRMBruteForce":           KindIntrusion,

	// Denial of service launched from the instance.
	"Backdoor:EC2/DenialOfService.Dns":             KindDDoS,
	"Backdoor:EC2/DenialOfService.Tcp":             KindDDoS,
	"Backdoor:EC2/DenialOfService.Udp":             KindDDoS,
	"Backdoor:EC2/DenialOfService.UdpOnTcpPorts":   KindDDoS,
	"Backdoor:EC2/DenialOfService.UnusualProtocol": KindDDoS,

	// Spam.
	"Backdoor:EC2/Spambot": KindSpam,

	// Mining, command and control, trojans: the instance runs malware.
	"CryptoCurrency:EC2/BitcoinTool.B":               KindMalware,
	"CryptoCurrency:EC2/BitcoinTool.B!DNS":           KindMalware,
	"Impact:EC2/BitcoinDomainRequest.Reputation":     KindMalware,
	"Backdoor:EC2/C&CActivity.B":                     KindMalware,
	"Backdoor:EC2/C&CActivity.B!DNS":                 KindMalware,
	"Trojan:EC2/BlackholeTraffic":                    KindMalware,
	"Trojan:EC2/BlackholeTraffic!DNS":                KindMalware,
	"Trojan:EC2/DGADomainRequest.B":                  KindMalware,
	"Trojan:EC2/DGADomainRequest.C!DNS":              KindMalware,
	"Trojan:EC2/DNSDataExfiltration":                 KindMalware,
	"Trojan:EC2/DriveBySourceTraffic!DNS":            KindMalware,
	"Trojan:EC2/DropPoint":                           KindMalware,
	"Trojan:EC2/DropPoint!DNS":                       KindMalware,
	"Trojan:EC2/PhishingDomainRequest!DNS":           KindMalware,
	"Impact:EC2/MaliciousDomainRequest.Reputation":   KindMalware,
	"Impact:EC2/AbusedDomainRequest.Reputation":      KindMalware,
	"Impact:EC2/SuspiciousDomainRequest.Reputation":  KindMalware,
	"Execution:EC2/MaliciousFile":                    KindMalware,
	"Execution:EC2/SuspiciousFile":                   KindMalware,
	"CryptoCurrency:Runtime/BitcoinTool.B":           KindMalware,
	"CryptoCurrency:Runtime/BitcoinTool.B!DNS":       KindMalware,
	"Impact:Runtime/CryptoMinerExecuted":             KindMalware,
	"Impact:Runtime/BitcoinDomainRequest.Reputation": KindMalware,
	"Backdoor:Runtime/C&CActivity.B":                 KindMalware,
	"Backdoor:Runtime/C&CActivity.B!DNS":             KindMalware,
	"Execution:Runtime/MaliciousFileExecuted":        KindMalware,

	// Suspicious but not abuse of others by themselves.
	"UnauthorizedAccess:EC2/TorClient":                KindOther,
	"UnauthorizedAccess:EC2/TorRelay":                 KindOther,
	"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": KindOther,
	"UnauthorizedAccess:EC2/MetadataDNSRebind":        KindOther,
	"Behavior:EC2/NetworkPortUnusual":                 KindOther,
	"Behavior:EC2/TrafficVolumeUnusual":               KindOther,
	"DefenseEvasion:EC2/UnusualDNSResolver":           KindOther,
	"DefenseEvasion:EC2/UnusualDoHActivity":           KindOther,
	"DefenseEvasion:EC2/UnusualDoTActivity":           KindOther,
}

// GuardDutyKind maps a GuardDuty finding type ("Recon:EC2/Portscan") to a
// Kind. Types missing from the table are classified by threat purpose and
// family (ThreatPurpose:ResourceType/ThreatFamily.Mechanism!Artifact):
// *BruteForce → intrusion, Portscan/PortSweep/PortProbe* → portscan,
// DenialOfService* → ddos, Spambot → spam, CryptoCurrency, Trojan,
// C&CActivity, CryptoMiner, MaliciousFile → malware; anything else → other.
func GuardDutyKind(findingType string) Kind {
	t := strings.TrimSpace(findingType)
	if k, ok := gdKinds[t]; ok {
		return k
	}
	purpose, rest, _ := strings.Cut(t, ":")
	_, family, _ := strings.Cut(rest, "/")
	family, _, _ = strings.Cut(family, "!")
	name, _, _ := strings.Cut(family, ".")
	switch {
	case strings.HasSuffix(name, "BruteForce"):
		return KindIntrusion
	case name == "Portscan" || name == "PortSweep" || strings.HasPrefix(name, "PortProbe"):
		return KindPortScan
	case strings.HasPrefix(name, "DenialOfService"):
		return KindDDoS
	case name == "Spambot":
		return KindSpam
	case purpose == "CryptoCurrency" || purpose == "Trojan",
		name == "C&CActivity", name == "CryptoMinerExecuted", name == "BitcoinDomainRequest",
		strings.HasPrefix(name, "MaliciousFile"):
		return KindMalware
	}
	return KindOther
}
