package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// AWS Health abuse events: what Trust & Safety sends, besides the mail, to
// the account's AWS Health dashboard and from there to EventBridge
// ("source": "aws.health", "detail-type": "AWS Health Abuse Event" or "AWS
// Health Event", an eventTypeCode AWS_ABUSE_…_REPORT such as
// AWS_ABUSE_EC2_PORT_SCANNING_REPORT). The event's description is the
// notice's text; it is read as a notice is (case number, abuse time,
// instances, the forwarded log), and the event's own fields (account,
// region, affected entities, times) fill in the rest. Read forms: one
// event, an array of events, JSON lines, and the AWS CLI's "aws health
// describe-event-details" output ({"successfulSet": [{"event": …,
// "eventDescription": …}]}).

const healthFormat = "aws-health"

// SourceAWSHealth is the Source of reports read from AWS Health events.
const SourceAWSHealth Source = "aws-health"

func init() {
	registerFormat(format{name: healthFormat, priority: 9, sniff: healthSniff, parse: healthParse})
}

// ParseAWSHealth reads AWS Health abuse events (see the package doc).
// Errors are *ParseError values with Format "aws-health".
func ParseAWSHealth(ctx context.Context, r io.Reader, opts ...Option) ([]Report, error) {
	o := buildOptions(opts)
	return healthParse(ctx, newLimitedReader(ctxReader{ctx, r}, o.limits.MaxBytes, healthFormat), &o)
}

func healthSniff(head []byte) bool {
	head = arfTrimHead(head)
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	l := bytes.ToLower(head)
	return bytes.Contains(l, []byte(`"aws.health"`)) ||
		(bytes.Contains(l, []byte(`"eventtypecode"`)) && bytes.Contains(l, []byte(`aws_abuse_`)))
}

type healthEvent struct {
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     *healthDetail
	// describe-event-details output
	SuccessfulSet []struct {
		AWSAccountID     string        `json:"awsAccountId"`
		Event            *healthDetail `json:"event"`
		EventDescription *struct {
			LatestDescription string `json:"latestDescription"`
		} `json:"eventDescription"`
	} `json:"successfulSet"`
}

type healthDetail struct {
	EventArn          string `json:"eventArn"`
	Arn               string `json:"arn"` // describe-event-details
	Service           string `json:"service"`
	EventTypeCode     string `json:"eventTypeCode"`
	EventTypeCategory string `json:"eventTypeCategory"`
	StartTime         any    `json:"startTime"` // RFC 1123 text in events, epoch seconds in the CLI
	LastUpdatedTime   any    `json:"lastUpdatedTime"`
	EventRegion       string `json:"eventRegion"`
	Region            string `json:"region"`
	AffectedAccount   string `json:"affectedAccount"`
	EventDescription  []struct {
		Language          string `json:"language"`
		LatestDescription string `json:"latestDescription"`
	} `json:"eventDescription"`
	AffectedEntities []struct {
		EntityValue string `json:"entityValue"`
	} `json:"affectedEntities"`
}

func healthParse(ctx context.Context, r io.Reader, o *options) ([]Report, error) {
	sink := &reportSink{o: o, format: healthFormat}
	data := arfNewLoc(r)
	err := arfJSONStream(ctx, healthFormat, data, func(raw json.RawMessage, off int64) error {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			return &ParseError{Format: healthFormat, Line: arfLineAt(data, off), Err: errors.New("expected a JSON object")}
		}
		var ev healthEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return arfJSONError(healthFormat, data, off, err)
		}
		var items []healthItem
		switch {
		case ev.Detail != nil:
			desc := ""
			for _, d := range ev.Detail.EventDescription {
				if desc == "" || strings.HasPrefix(strings.ToLower(d.Language), "en") {
					desc = d.LatestDescription
				}
			}
			items = append(items, healthItem{ev: ev, d: ev.Detail, desc: desc})
		case len(ev.SuccessfulSet) > 0:
			for _, s := range ev.SuccessfulSet {
				if s.Event == nil {
					continue
				}
				it := healthItem{ev: ev, d: s.Event}
				if it.d.AffectedAccount == "" {
					it.d.AffectedAccount = s.AWSAccountID
				}
				if s.EventDescription != nil {
					it.desc = s.EventDescription.LatestDescription
				}
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			return &ParseError{Format: healthFormat, Line: arfLineAt(data, off), Err: errors.New(`not an AWS Health event: no "detail" (EventBridge) or "successfulSet" (describe-event-details)`)}
		}
		for _, it := range items {
			rep, err := healthReport(ctx, o, it)
			if err != nil {
				return &ParseError{Format: healthFormat, Line: arfLineAt(data, off), Err: err}
			}
			if err := sink.add(rep); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sink.reports, nil
}

type healthItem struct {
	ev   healthEvent
	d    *healthDetail
	desc string
}

// healthKinds map the words of AWS_ABUSE_…_REPORT codes to a Kind.
var healthKinds = []struct {
	word string
	kind Kind
}{
	{"PORT_SCAN", KindPortScan}, {"INTRUSION", KindIntrusion}, {"DOS", KindDDoS},
	{"PHISHING", KindPhishing}, {"CC_FRAUD", KindPhishing}, {"SPAM", KindSpam},
	{"COPYRIGHT", KindCopyright}, {"BOTNET", KindMalware}, {"MALWARE", KindMalware},
}

// HealthKind is the Kind of an AWS Health abuse event type code
// ("AWS_ABUSE_EC2_PORT_SCANNING_REPORT": portscan); KindOther for others.
func HealthKind(code string) Kind {
	c := "_" + strings.ToUpper(code) + "_"
	for _, k := range healthKinds {
		if strings.Contains(c, "_"+k.word) {
			return k.kind
		}
	}
	return KindOther
}

func healthTime(field string, v any) (time.Time, error) {
	var t time.Time
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case float64:
		t = time.Unix(int64(x), int64((x-float64(int64(x)))*1e9)).UTC()
	case string:
		if strings.TrimSpace(x) == "" {
			return time.Time{}, nil
		}
		var err error
		if t, err = xarfTime(field, x); err != nil {
			return time.Time{}, err
		}
	default:
		return time.Time{}, fmt.Errorf("%s: not a time: %v", field, v)
	}
	if err := checkTime(field, t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func healthReport(ctx context.Context, o *options, it healthItem) (Report, error) {
	d := it.d
	if d.EventTypeCode == "" {
		return Report{}, errors.New("event without an eventTypeCode")
	}
	start, err := healthTime("startTime", d.StartTime)
	if err != nil {
		return Report{}, err
	}
	updated, err := healthTime("lastUpdatedTime", d.LastUpdatedTime)
	if err != nil {
		return Report{}, err
	}
	sent, err := healthTime("time", nilIfEmpty(it.ev.Time))
	if err != nil {
		return Report{}, err
	}
	// The description is the notice: read it as one.
	n := newNoticeReader(o, healthFormat)
	n.recognized = true
	n.rep.Received = arfFirstTime(sent, updated, start)
	if err := n.read(ctx, strings.NewReader(it.desc)); err != nil {
		return Report{}, err
	}
	rep := n.finish()
	rep.Source, rep.Provider, rep.Role = SourceAWSHealth, ProviderAWS, RoleActor
	rep.Activity = d.EventTypeCode
	if k := HealthKind(d.EventTypeCode); k != KindOther || rep.Kind == "" {
		rep.Kind = k
	}
	rep.Reporter = "AWS Health"
	rep.Subject = d.EventTypeCode
	rep.AccountID = arfFirst(d.AffectedAccount, rep.AccountID, it.ev.Account)
	rep.Resources.Region = arfFirst(d.EventRegion, d.Region, rep.Resources.Region)
	if rep.AbuseTime.IsZero() {
		rep.AbuseTime = start
	}
	if rep.CaseID == "" {
		arn := arfFirst(d.EventArn, d.Arn)
		rep.CaseID = arn[strings.LastIndexByte(arn, '/')+1:]
	}
	ents := append([]string(nil), it.ev.Resources...)
	for _, e := range d.AffectedEntities {
		ents = append(ents, e.EntityValue)
	}
	for _, e := range ents {
		e = strings.TrimSpace(e)
		if id := reInstance.FindString(e); id != "" {
			if !containsString(rep.Resources.InstanceIDs, id) {
				rep.Resources.InstanceIDs = append(rep.Resources.InstanceIDs, id)
			}
		} else if a, err := netip.ParseAddr(e); err == nil {
			rep.Resources.IPs = arfAppendAddr(rep.Resources.IPs, a.Unmap())
		}
	}
	return rep, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
