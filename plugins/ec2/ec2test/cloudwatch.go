package ec2test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch is served in three protocols over one generic value model:
// requests decode to map[string]any (strings, float64, int64, bool,
// time.Time, []any, map[string]any) and responses are built the same way,
// then encoded as RPC v2 CBOR, awsJson1_0 or awsquery XML.

type alarm struct {
	name, arn, desc                 string
	actionsEnabled                  bool
	okActions, alarmActions, insuff []string
	stateValue, stateReason         string
	stateUpdated, configUpdated     time.Time
	metricName, namespace           string
	statistic, extendedStatistic    string
	dimensions                      [][2]string
	period                          int64
	unit                            string
	evalPeriods, datapoints         int64
	threshold                       float64
	hasThreshold                    bool
	comparison                      string
	treatMissing                    string
	tags                            [][2]string
}

type cwHandler func(st *state, in map[string]any) (map[string]any, error)

var cwOps = map[string]cwHandler{
	"PutMetricAlarm":          cwPutMetricAlarm,
	"DescribeAlarms":          cwDescribeAlarms,
	"DeleteAlarms":            cwDeleteAlarms,
	"DescribeAlarmsForMetric": cwDescribeAlarmsForMetric,
	"SetAlarmState":           cwSetAlarmState,
	"EnableAlarmActions":      func(st *state, in map[string]any) (map[string]any, error) { return cwAlarmActions(st, in, true) },
	"DisableAlarmActions":     func(st *state, in map[string]any) (map[string]any, error) { return cwAlarmActions(st, in, false) },
	"ListTagsForResource":     cwListTags,
	"TagResource":             cwTagResource,
	"UntagResource":           cwUntagResource,
}

func cwAlarmByARN(st *state, in map[string]any) (*alarm, error) {
	arn := gStr(in, "ResourceARN")
	if arn == "" {
		return nil, errf("MissingParameter", "The parameter ResourceARN is required.")
	}
	for _, a := range st.alarms.all() {
		if a.arn == arn {
			return a, nil
		}
	}
	return nil, errf("ResourceNotFoundException", "Resource %s not found", arn)
}

func cwListTags(st *state, in map[string]any) (map[string]any, error) {
	a, err := cwAlarmByARN(st, in)
	if err != nil {
		return nil, err
	}
	tags := make([]any, 0, len(a.tags))
	for _, t := range a.tags {
		tags = append(tags, map[string]any{"Key": t[0], "Value": t[1]})
	}
	return map[string]any{"Tags": tags}, nil
}

func cwTagResource(st *state, in map[string]any) (map[string]any, error) {
	a, err := cwAlarmByARN(st, in)
	if err != nil {
		return nil, err
	}
	for _, t := range gPairs(in, "Tags", "Key", "Value") {
		replaced := false
		for i := range a.tags {
			if a.tags[i][0] == t[0] {
				a.tags[i][1], replaced = t[1], true
			}
		}
		if !replaced {
			a.tags = append(a.tags, t)
		}
	}
	return map[string]any{}, nil
}

func cwUntagResource(st *state, in map[string]any) (map[string]any, error) {
	a, err := cwAlarmByARN(st, in)
	if err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	for _, k := range gStrs(in, "TagKeys") {
		drop[k] = true
	}
	kept := a.tags[:0]
	for _, t := range a.tags {
		if !drop[t[0]] {
			kept = append(kept, t)
		}
	}
	a.tags = kept
	return map[string]any{}, nil
}

// cwError maps an error code to its RPC v2 shape name (the "__type") and
// the awsquery code the X-Amzn-Query-Error header carries.
func cwErrorShape(code string) string {
	switch code {
	case "InvalidParameterValue":
		return "InvalidParameterValueException"
	case "MissingParameter":
		return "MissingRequiredParameterException"
	case "InvalidParameterCombination":
		return "InvalidParameterCombinationException"
	case "LimitExceeded":
		return "LimitExceededFault"
	}
	return code
}

// --- generic accessors ---

func gStr(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func gHas(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func gFloat(m map[string]any, k string) (float64, bool, error) {
	switch v := m[k].(type) {
	case nil:
		return 0, false, nil
	case float64:
		return v, true, nil
	case int64:
		return float64(v), true, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false, errf("InvalidParameterValue", "The parameter %s must be a number.", k)
		}
		return f, true, nil
	}
	return 0, false, errf("InvalidParameterValue", "The parameter %s must be a number.", k)
}

func gInt(m map[string]any, k string) (int64, bool, error) {
	switch v := m[k].(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false, errf("InvalidParameterValue", "The parameter %s must be an integer.", k)
		}
		return int64(v), true, nil
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, errf("InvalidParameterValue", "The parameter %s must be an integer.", k)
		}
		return i, true, nil
	}
	return 0, false, errf("InvalidParameterValue", "The parameter %s must be an integer.", k)
}

func gBool(m map[string]any, k string) (bool, bool, error) {
	switch v := m[k].(type) {
	case nil:
		return false, false, nil
	case bool:
		return v, true, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, false, errf("InvalidParameterValue", "The parameter %s must be a boolean.", k)
		}
		return b, true, nil
	}
	return false, false, errf("InvalidParameterValue", "The parameter %s must be a boolean.", k)
}

func gList(m map[string]any, k string) []any {
	l, _ := m[k].([]any)
	return l
}

func gStrs(m map[string]any, k string) []string {
	var out []string
	for _, v := range gList(m, k) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func gPairs(m map[string]any, k, kn, vn string) [][2]string {
	var out [][2]string
	for _, v := range gList(m, k) {
		if d, ok := v.(map[string]any); ok {
			out = append(out, [2]string{gStr(d, kn), gStr(d, vn)})
		}
	}
	return out
}

// --- handlers ---

var (
	reAlarmAction = regexp.MustCompile(`^arn:aws[a-z-]*:(sns|automate|autoscaling|ssm|ssm-incidents|lambda):[a-z0-9-]*:[^:]*:.+$`)
	statistics    = map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}
	comparisons   = map[string]bool{"GreaterThanOrEqualToThreshold": true, "GreaterThanThreshold": true, "LessThanThreshold": true,
		"LessThanOrEqualToThreshold": true, "LessThanLowerOrGreaterThanUpperThreshold": true,
		"LessThanLowerThreshold": true, "GreaterThanUpperThreshold": true}
)

func checkActions(name string, as []string) error {
	if len(as) > 5 {
		return errf("LimitExceeded", "The maximum number of %s is 5.", name)
	}
	for _, a := range as {
		if !reAlarmAction.MatchString(a) {
			return errf("InvalidParameterValue", "Invalid arn syntax: %s", a)
		}
	}
	return nil
}

func cwPutMetricAlarm(st *state, in map[string]any) (map[string]any, error) {
	a := &alarm{name: gStr(in, "AlarmName"), desc: gStr(in, "AlarmDescription"), metricName: gStr(in, "MetricName"),
		namespace: gStr(in, "Namespace"), statistic: gStr(in, "Statistic"), extendedStatistic: gStr(in, "ExtendedStatistic"),
		unit: gStr(in, "Unit"), comparison: gStr(in, "ComparisonOperator"), treatMissing: gStr(in, "TreatMissingData"),
		okActions: gStrs(in, "OKActions"), alarmActions: gStrs(in, "AlarmActions"), insuff: gStrs(in, "InsufficientDataActions"),
		dimensions: gPairs(in, "Dimensions", "Name", "Value"), tags: gPairs(in, "Tags", "Key", "Value"), actionsEnabled: true}
	if a.name == "" {
		return nil, errf("MissingParameter", "The parameter AlarmName is required.")
	}
	if len(a.name) > 255 {
		return nil, errf("InvalidParameterValue", "The parameter AlarmName must be shorter than 256 characters.")
	}
	var err error
	var ok bool
	if a.evalPeriods, ok, err = gInt(in, "EvaluationPeriods"); err != nil {
		return nil, err
	} else if !ok {
		return nil, errf("MissingParameter", "The parameter EvaluationPeriods is required.")
	}
	if a.evalPeriods < 1 {
		return nil, errf("InvalidParameterValue", "The parameter EvaluationPeriods must be greater than or equal to 1.")
	}
	if a.datapoints, _, err = gInt(in, "DatapointsToAlarm"); err != nil {
		return nil, err
	}
	if a.datapoints > a.evalPeriods {
		return nil, errf("InvalidParameterValue", "DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
	}
	if a.comparison == "" {
		return nil, errf("MissingParameter", "The parameter ComparisonOperator is required.")
	}
	if !comparisons[a.comparison] {
		return nil, errf("InvalidParameterValue", "Invalid value %s for ComparisonOperator.", a.comparison)
	}
	if a.threshold, a.hasThreshold, err = gFloat(in, "Threshold"); err != nil {
		return nil, err
	}
	if !a.hasThreshold && gStr(in, "ThresholdMetricId") == "" {
		return nil, errf("MissingParameter", "The parameter Threshold is required.")
	}
	if v, ok, err := gBool(in, "ActionsEnabled"); err != nil {
		return nil, err
	} else if ok {
		a.actionsEnabled = v
	}
	if len(gList(in, "Metrics")) == 0 {
		if a.metricName == "" || a.namespace == "" {
			return nil, errf("MissingParameter", "The parameters MetricName and Namespace are required.")
		}
		if (a.statistic == "") == (a.extendedStatistic == "") {
			return nil, errf("InvalidParameterCombination", "Exactly one of Statistic and ExtendedStatistic must be set.")
		}
		if a.statistic != "" && !statistics[a.statistic] {
			return nil, errf("InvalidParameterValue", "Invalid value %s for Statistic.", a.statistic)
		}
		p, ok, err := gInt(in, "Period")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errf("MissingParameter", "The parameter Period is required.")
		}
		if p != 10 && p != 20 && p != 30 && (p < 60 || p%60 != 0) {
			return nil, errf("InvalidParameterValue", "The parameter Period must be 10, 20, 30 or a multiple of 60.")
		}
		if p*a.evalPeriods > 7*24*3600 {
			return nil, errf("InvalidParameterValue", "Period * EvaluationPeriods must not exceed one week.")
		}
		a.period = p
	}
	if len(a.dimensions) > 30 {
		return nil, errf("InvalidParameterValue", "The collection Dimensions must not have a size greater than 30.")
	}
	for _, d := range a.dimensions {
		if d[0] == "" || d[1] == "" {
			return nil, errf("InvalidParameterValue", "Each dimension needs a Name and a Value.")
		}
	}
	for _, as := range []struct {
		n string
		l []string
	}{{"AlarmActions", a.alarmActions}, {"OKActions", a.okActions}, {"InsufficientDataActions", a.insuff}} {
		if err := checkActions(as.n, as.l); err != nil {
			return nil, err
		}
	}
	if a.treatMissing != "" {
		switch a.treatMissing {
		case "breaching", "notBreaching", "ignore", "missing":
		default:
			return nil, errf("InvalidParameterValue", "Invalid value %s for TreatMissingData.", a.treatMissing)
		}
	}
	a.arn = "arn:aws:cloudwatch:" + st.region + ":" + AccountID + ":alarm:" + a.name
	a.configUpdated = st.now
	if old, ok := st.alarms.get(a.name); ok {
		a.stateValue, a.stateReason, a.stateUpdated = old.stateValue, old.stateReason, old.stateUpdated
		if len(a.tags) == 0 {
			a.tags = old.tags
		}
	} else {
		if st.alarms.len() >= 5000 {
			return nil, errf("LimitExceeded", "The maximum number of alarms for this account has been reached.")
		}
		a.stateValue, a.stateReason, a.stateUpdated = "INSUFFICIENT_DATA", "Unchecked: Initial alarm creation", st.now
	}
	st.alarms.put(a.name, a)
	return map[string]any{}, nil
}

func (a *alarm) out() map[string]any {
	strs := func(l []string) []any {
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	m := map[string]any{
		"AlarmName": a.name, "AlarmArn": a.arn, "ActionsEnabled": a.actionsEnabled,
		"OKActions": strs(a.okActions), "AlarmActions": strs(a.alarmActions), "InsufficientDataActions": strs(a.insuff),
		"StateValue": a.stateValue, "StateReason": a.stateReason, "StateUpdatedTimestamp": a.stateUpdated,
		"StateTransitionedTimestamp": a.stateUpdated, "AlarmConfigurationUpdatedTimestamp": a.configUpdated,
		"EvaluationPeriods": a.evalPeriods, "ComparisonOperator": a.comparison,
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("AlarmDescription", a.desc)
	set("MetricName", a.metricName)
	set("Namespace", a.namespace)
	set("Statistic", a.statistic)
	set("ExtendedStatistic", a.extendedStatistic)
	set("Unit", a.unit)
	set("TreatMissingData", a.treatMissing)
	if a.period > 0 {
		m["Period"] = a.period
	}
	if a.datapoints > 0 {
		m["DatapointsToAlarm"] = a.datapoints
	}
	if a.hasThreshold {
		m["Threshold"] = a.threshold
	}
	dims := make([]any, 0, len(a.dimensions))
	for _, d := range a.dimensions {
		dims = append(dims, map[string]any{"Name": d[0], "Value": d[1]})
	}
	m["Dimensions"] = dims
	return m
}

func cwDescribeAlarms(st *state, in map[string]any) (map[string]any, error) {
	names := gStrs(in, "AlarmNames")
	prefix, state, actionPrefix := gStr(in, "AlarmNamePrefix"), gStr(in, "StateValue"), gStr(in, "ActionPrefix")
	if len(names) > 0 && prefix != "" {
		return nil, errf("InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be used together.")
	}
	if state != "" && state != "OK" && state != "ALARM" && state != "INSUFFICIENT_DATA" {
		return nil, errf("InvalidParameterValue", "Invalid value %s for StateValue.", state)
	}
	max, ok, err := gInt(in, "MaxRecords")
	if err != nil {
		return nil, err
	}
	if ok && (max < 1 || max > 100) {
		return nil, errf("InvalidParameterValue", "The parameter MaxRecords must be between 1 and 100.")
	}
	if !ok {
		max = 50
	}
	types := gStrs(in, "AlarmTypes")
	wantMetric := len(types) == 0
	for _, t := range types {
		if t == "MetricAlarm" {
			wantMetric = true
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var hits []any
	if wantMetric {
		all := st.alarms.all()
		sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
		for _, a := range all {
			if len(want) > 0 && !want[a.name] {
				continue
			}
			if prefix != "" && !strings.HasPrefix(a.name, prefix) {
				continue
			}
			if state != "" && a.stateValue != state {
				continue
			}
			if actionPrefix != "" {
				hit := false
				for _, x := range append(append(append([]string{}, a.alarmActions...), a.okActions...), a.insuff...) {
					if strings.HasPrefix(x, actionPrefix) {
						hit = true
					}
				}
				if !hit {
					continue
				}
			}
			hits = append(hits, a.out())
		}
	}
	start, end, next, err := page(len(hits), max, gStr(in, "NextToken"))
	if err != nil {
		return nil, errf("InvalidNextToken", "The service couldn't process the NextToken.")
	}
	out := map[string]any{"MetricAlarms": hits[start:end], "CompositeAlarms": []any{}}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func cwDescribeAlarmsForMetric(st *state, in map[string]any) (map[string]any, error) {
	metric, ns := gStr(in, "MetricName"), gStr(in, "Namespace")
	if metric == "" || ns == "" {
		return nil, errf("MissingParameter", "The parameters MetricName and Namespace are required.")
	}
	dims := gPairs(in, "Dimensions", "Name", "Value")
	var hits []any
	for _, a := range st.alarms.all() {
		if a.metricName != metric || a.namespace != ns {
			continue
		}
		if s := gStr(in, "Statistic"); s != "" && s != a.statistic {
			continue
		}
		if p, ok, _ := gInt(in, "Period"); ok && p != a.period {
			continue
		}
		if len(dims) > 0 && fmt.Sprint(dims) != fmt.Sprint(a.dimensions) {
			continue
		}
		hits = append(hits, a.out())
	}
	return map[string]any{"MetricAlarms": hits}, nil
}

func cwDeleteAlarms(st *state, in map[string]any) (map[string]any, error) {
	names := gStrs(in, "AlarmNames")
	if len(names) == 0 {
		return nil, errf("MissingParameter", "The parameter AlarmNames is required.")
	}
	if len(names) > 100 {
		return nil, errf("InvalidParameterValue", "The collection AlarmNames must not have a size greater than 100.")
	}
	var missing []string
	for _, n := range names {
		if _, ok := st.alarms.get(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, errf("ResourceNotFound", "%d of the alarms not found: %s", len(missing), strings.Join(missing, ", "))
	}
	for _, n := range names {
		st.alarms.del(n)
	}
	return map[string]any{}, nil
}

func cwSetAlarmState(st *state, in map[string]any) (map[string]any, error) {
	a, ok := st.alarms.get(gStr(in, "AlarmName"))
	if !ok {
		return nil, errf("ResourceNotFound", "Alarm %s not found", gStr(in, "AlarmName"))
	}
	v := gStr(in, "StateValue")
	if v != "OK" && v != "ALARM" && v != "INSUFFICIENT_DATA" {
		return nil, errf("InvalidParameterValue", "Invalid value %s for StateValue.", v)
	}
	if gStr(in, "StateReason") == "" {
		return nil, errf("MissingParameter", "The parameter StateReason is required.")
	}
	a.stateValue, a.stateReason, a.stateUpdated = v, gStr(in, "StateReason"), st.now
	return map[string]any{}, nil
}

func cwAlarmActions(st *state, in map[string]any, on bool) (map[string]any, error) {
	for _, n := range gStrs(in, "AlarmNames") {
		if a, ok := st.alarms.get(n); ok {
			a.actionsEnabled = on
		}
	}
	return map[string]any{}, nil
}

// --- protocol front ends ---

func (s *Server) runCW(proto, op string, in map[string]any) (map[string]any, *apiError, string) {
	h := cwOps[op]
	if h == nil {
		s.record("monitoring", op, proto, "InvalidAction")
		return nil, &apiError{status: 400, code: "InvalidAction", msg: "The action " + op + " is not valid for this web service."}, s.newRequestID()
	}
	if ferr := s.injectFault("monitoring", "", op, nil); ferr != nil {
		s.record("monitoring", op, proto, ferr.code)
		return nil, ferr, s.newRequestID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.tick(s.now())
	var out map[string]any
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &apiError{status: 500, code: "InternalServiceError", msg: fmt.Sprintf("ec2test: handler panic: %v", p)}
			}
		}()
		out, err = h(s.st, in)
	}()
	code := ""
	if err != nil {
		code = asAPIError(err).code
	}
	s.calls = append(s.calls, Call{Service: "monitoring", Operation: op, Protocol: proto, Error: code})
	id := s.requestIDLocked()
	if err != nil {
		return nil, asAPIError(err), id
	}
	return out, nil, id
}

func (s *Server) newRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestIDLocked()
}

func queryErrorHeader(e *apiError) string {
	t := "Sender"
	if e.status >= 500 {
		t = "Receiver"
	}
	return e.code + ";" + t
}

// serveCBOR answers the Smithy RPC v2 CBOR protocol:
// POST /service/GraniteServiceVersion20100801/operation/PutMetricAlarm.
func (s *Server) serveCBOR(w http.ResponseWriter, r *http.Request, body []byte) {
	const prefix = "/service/GraniteServiceVersion20100801/operation/"
	op, ok := strings.CutPrefix(r.URL.Path, prefix)
	writeErr := func(e *apiError, id string) {
		m := cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + cwErrorShape(e.code)), "message": cbor.String(e.msg), "Message": cbor.String(e.msg)}
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("X-Amzn-Query-Error", queryErrorHeader(e))
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(e.status)
		w.Write(cbor.Encode(m))
	}
	if !ok || r.Method != http.MethodPost || op == "" || strings.Contains(op, "/") {
		writeErr(&apiError{status: 404, code: "UnknownOperationException", msg: "unknown path " + r.URL.Path}, s.newRequestID())
		return
	}
	in, err := decodeCBORInput(body)
	if err != nil {
		s.record("monitoring", op, "rpcv2cbor", "SerializationException")
		writeErr(&apiError{status: 400, code: "SerializationException", msg: err.Error()}, s.newRequestID())
		return
	}
	out, aerr, id := s.runCW("rpcv2cbor", op, in)
	if aerr != nil {
		writeErr(aerr, id)
		return
	}
	b := cbor.Encode(toCBOR(out))
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-RequestId", id)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// maxCBORDepth bounds the nesting of decoded request values.
const maxCBORDepth = 32

var errBadCBOR = errors.New("ec2test: malformed CBOR request")

// decodeCBORInput decodes an RPC v2 CBOR request body into the generic
// model. An empty body is an empty input. Fuzzed by FuzzDecodeCBOR.
func decodeCBORInput(body []byte) (map[string]any, error) {
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	if len(body) > maxQueryBody {
		return nil, fmt.Errorf("%w: body too large", errBadCBOR)
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadCBOR, err)
	}
	g, err := fromCBOR(v, 0)
	if err != nil {
		return nil, err
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: top-level value is %T, not a map", errBadCBOR, v)
	}
	return m, nil
}

func fromCBOR(v cbor.Value, depth int) (any, error) {
	if depth > maxCBORDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errBadCBOR, maxCBORDepth)
	}
	switch x := v.(type) {
	case cbor.String:
		return string(x), nil
	case cbor.Uint:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case cbor.NegInt:
		if x == 0 || x > math.MaxInt64 {
			return nil, fmt.Errorf("%w: negative integer out of range", errBadCBOR)
		}
		return -int64(x), nil
	case cbor.Float32:
		return float64(x), nil
	case cbor.Float64:
		return float64(x), nil
	case cbor.Bool:
		return bool(x), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case cbor.Slice:
		return string(x), nil
	case cbor.List:
		out := make([]any, 0, len(x))
		for _, e := range x {
			g, err := fromCBOR(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case cbor.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			g, err := fromCBOR(e, depth+1)
			if err != nil {
				return nil, err
			}
			if g != nil {
				out[k] = g
			}
		}
		return out, nil
	case *cbor.Tag:
		t, err := cbor.AsTime(x)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadCBOR, err)
		}
		return t, nil
	case cbor.Tag:
		t, err := cbor.AsTime(&x)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadCBOR, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: unsupported value %T", errBadCBOR, v)
}

func toCBOR(v any) cbor.Value {
	switch x := v.(type) {
	case string:
		return cbor.String(x)
	case int64:
		if x < 0 {
			return cbor.NegInt(uint64(-x))
		}
		return cbor.Uint(uint64(x))
	case float64:
		return cbor.Float64(x)
	case bool:
		return cbor.Bool(x)
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(x.UnixMilli()) / 1e3)}
	case []any:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = toCBOR(e)
		}
		return l
	case map[string]any:
		m := make(cbor.Map, len(x))
		for k, e := range x {
			m[k] = toCBOR(e)
		}
		return m
	}
	return &cbor.Nil{}
}

// serveCWJSON answers awsJson1_0 (X-Amz-Target: GraniteServiceVersion20100801.Op).
func (s *Server) serveCWJSON(w http.ResponseWriter, r *http.Request, body []byte) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "GraniteServiceVersion20100801.")
	writeErr := func(e *apiError, id string) {
		b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.cloudwatch#" + cwErrorShape(e.code), "message": e.msg})
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Query-Error", queryErrorHeader(e))
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(e.status)
		w.Write(b)
	}
	in := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var raw map[string]any
		if err := d.Decode(&raw); err != nil {
			writeErr(&apiError{status: 400, code: "SerializationException", msg: err.Error()}, s.newRequestID())
			return
		}
		in = fromJSON(raw).(map[string]any)
	}
	out, aerr, id := s.runCW("awsjson", op, in)
	if aerr != nil {
		writeErr(aerr, id)
		return
	}
	b, _ := json.Marshal(toJSON(out))
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
		return x
	}
	return v
}

func toJSON(v any) any {
	switch x := v.(type) {
	case time.Time:
		return float64(x.UnixMilli()) / 1e3
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = toJSON(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k := range x {
			out[k] = toJSON(x[k])
		}
		return out
	}
	return v
}

// serveCWQuery answers the awsquery protocol older clients send.
func (s *Server) serveCWQuery(w http.ResponseWriter, action string, q *qnode) {
	in := fromQuery(q).(map[string]any)
	delete(in, "Action")
	delete(in, "Version")
	out, aerr, id := s.runCW("awsquery", action, in)
	if aerr != nil {
		s.writeQueryErrorID(w, "monitoring", action, aerr, id)
		return
	}
	var b bytes.Buffer
	b.WriteString("<" + action + `Response xmlns="` + xmlnsFor("monitoring") + `"><` + action + "Result>")
	writeGenericXML(&b, out)
	b.WriteString("</" + action + "Result><ResponseMetadata><RequestId>" + id + "</RequestId></ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// fromQuery turns a form tree into the generic model: a node whose
// children are numbered (or under "member") is a list.
func fromQuery(n *qnode) any {
	if len(n.kids) == 0 {
		return n.val
	}
	if m := n.kids["member"]; m != nil && len(n.kids) == 1 {
		n = m
	}
	isList := true
	for k := range n.kids {
		if _, err := strconv.Atoi(k); err != nil {
			isList = false
			break
		}
	}
	if isList {
		var out []any
		for _, c := range n.list() {
			out = append(out, fromQuery(c))
		}
		return out
	}
	out := make(map[string]any, len(n.kids))
	for k, c := range n.kids {
		out[k] = fromQuery(c)
	}
	return out
}

func writeGenericXML(b *bytes.Buffer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("<" + k + ">")
		writeGenericValue(b, m[k])
		b.WriteString("</" + k + ">")
	}
}

func writeGenericValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		xmlEscape(b, x)
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case time.Time:
		b.WriteString(ts(x))
	case []any:
		for _, e := range x {
			b.WriteString("<member>")
			writeGenericValue(b, e)
			b.WriteString("</member>")
		}
	case map[string]any:
		writeGenericXML(b, x)
	}
}
