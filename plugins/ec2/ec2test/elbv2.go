package ec2test

import (
	"regexp"
	"strconv"
	"time"
)

type target struct {
	id            string
	port          int64
	registeredAt  time.Time
	drainingUntil time.Time
}

type targetGroup struct {
	arn, name, protocol, vpcID, targetType string
	port                                   int64
	hcPath, hcProtocol                     string
	targets                                []*target
}

func (tg *targetGroup) find(id string, port int64) *target {
	for _, t := range tg.targets {
		if t.id == id && (port == 0 || t.port == port) {
			return t
		}
	}
	return nil
}

// remove drops an instance at once (it was terminated).
func (tg *targetGroup) remove(id string) {
	kept := tg.targets[:0]
	for _, t := range tg.targets {
		if t.id != id {
			kept = append(kept, t)
		}
	}
	tg.targets = kept
}

func (s *Server) elbHandler(action string) func(*qnode) (any, error) {
	st := s.st
	switch action {
	case "CreateTargetGroup":
		return st.createTargetGroup
	case "DescribeTargetGroups":
		return st.describeTargetGroups
	case "RegisterTargets":
		return st.registerTargetsOp
	case "DeregisterTargets":
		return st.deregisterTargetsOp
	case "DescribeTargetHealth":
		return st.describeTargetHealth
	case "DeleteTargetGroup":
		return st.deleteTargetGroup
	}
	return nil
}

var elbActions = []string{"CreateTargetGroup", "DescribeTargetGroups", "RegisterTargets", "DeregisterTargets",
	"DescribeTargetHealth", "DeleteTargetGroup"}

var reTGName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

func (st *state) tgParam(q *qnode) (*targetGroup, error) {
	arn := q.str("TargetGroupArn")
	if arn == "" {
		return nil, validation("A target group ARN must be specified")
	}
	tg, ok := st.tgs.get(arn)
	if !ok {
		return nil, &apiError{status: 400, code: "TargetGroupNotFound", msg: "Target groups '" + arn + "' not found"}
	}
	return tg, nil
}

type xTargetGroup struct {
	ARN        string          `xml:"TargetGroupArn"`
	Name       string          `xml:"TargetGroupName"`
	Protocol   string          `xml:"Protocol,omitempty"`
	Port       int64           `xml:"Port,omitempty"`
	VpcID      string          `xml:"VpcId,omitempty"`
	HCProtocol string          `xml:"HealthCheckProtocol"`
	HCPort     string          `xml:"HealthCheckPort"`
	HCEnabled  bool            `xml:"HealthCheckEnabled"`
	HCInterval int             `xml:"HealthCheckIntervalSeconds"`
	HCTimeout  int             `xml:"HealthCheckTimeoutSeconds"`
	Healthy    int             `xml:"HealthyThresholdCount"`
	Unhealthy  int             `xml:"UnhealthyThresholdCount"`
	HCPath     string          `xml:"HealthCheckPath,omitempty"`
	TargetType string          `xml:"TargetType"`
	LBs        members[string] `xml:"LoadBalancerArns"`
	IPType     string          `xml:"IpAddressType"`
}

func xTG(tg *targetGroup) xTargetGroup {
	return xTargetGroup{ARN: tg.arn, Name: tg.name, Protocol: tg.protocol, Port: tg.port, VpcID: tg.vpcID,
		HCProtocol: tg.hcProtocol, HCPort: "traffic-port", HCEnabled: true, HCInterval: 30, HCTimeout: 5, Healthy: 5,
		Unhealthy: 2, HCPath: tg.hcPath, TargetType: tg.targetType, LBs: members[string]{[]string{}}, IPType: "ipv4"}
}

func (st *state) createTargetGroup(q *qnode) (any, error) {
	name := q.str("Name")
	if !reTGName.MatchString(name) {
		return nil, validation("Target group name '%s' can have a maximum of 32 characters, can contain only alphanumeric characters or hyphens, and must not begin or end with a hyphen", name)
	}
	tg := &targetGroup{name: name, protocol: q.str("Protocol"), vpcID: q.str("VpcId"), targetType: q.str("TargetType"),
		hcPath: q.str("HealthCheckPath"), hcProtocol: q.str("HealthCheckProtocol")}
	if tg.targetType == "" {
		tg.targetType = "instance"
	}
	if tg.targetType != "lambda" {
		switch tg.protocol {
		case "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE":
		case "":
			return nil, validation("A protocol must be specified")
		default:
			return nil, validation("Protocol '%s' must be one of 'HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, GENEVE'", tg.protocol)
		}
		p, ok, err := q.integer("Port")
		if err != nil || !ok || p < 1 || p > 65535 {
			return nil, validation("A port between 1 and 65535 must be specified")
		}
		tg.port = p
		if tg.vpcID == "" {
			return nil, validation("A VPC ID must be specified")
		}
		if _, ok := st.vpcs.get(tg.vpcID); !ok {
			return nil, validation("The VPC ID '%s' is not found", tg.vpcID)
		}
	}
	if tg.hcProtocol == "" {
		tg.hcProtocol = tg.protocol
	}
	if tg.hcPath == "" && (tg.protocol == "HTTP" || tg.protocol == "HTTPS") {
		tg.hcPath = "/"
	}
	for _, o := range st.tgs.all() {
		if o.name == name {
			if o.protocol == tg.protocol && o.port == tg.port && o.vpcID == tg.vpcID && o.targetType == tg.targetType {
				return struct {
					TGs members[xTargetGroup] `xml:"TargetGroups"`
				}{members[xTargetGroup]{[]xTargetGroup{xTG(o)}}}, nil
			}
			return nil, &apiError{status: 400, code: "DuplicateTargetGroupName", msg: "A target group with the same name '" + name + "' exists, but with different settings"}
		}
	}
	tg.arn = "arn:aws:elasticloadbalancing:" + st.region + ":" + AccountID + ":targetgroup/" + name + "/" + st.newID("x")[2:18]
	st.tgs.put(tg.arn, tg)
	return struct {
		TGs members[xTargetGroup] `xml:"TargetGroups"`
	}{members[xTargetGroup]{[]xTargetGroup{xTG(tg)}}}, nil
}

func (st *state) deleteTargetGroup(q *qnode) (any, error) {
	tg, err := st.tgParam(q)
	if err != nil {
		return nil, err
	}
	for _, g := range st.asgs.all() {
		for _, a := range g.targetGroups {
			if a == tg.arn {
				return nil, &apiError{status: 400, code: "ResourceInUse", msg: "Target group '" + tg.arn + "' is currently in use by an Auto Scaling group"}
			}
		}
	}
	st.tgs.del(tg.arn)
	return nil, nil
}

func (st *state) describeTargetGroups(q *qnode) (any, error) {
	arns, names := q.strs("TargetGroupArns"), q.strs("Names")
	size, ok, err := q.integer("PageSize")
	if err != nil || (ok && (size < 1 || size > 400)) {
		return nil, validation("PageSize must be between 1 and 400")
	}
	var hits []xTargetGroup
	switch {
	case len(arns) > 0:
		for _, a := range arns {
			tg, ok := st.tgs.get(a)
			if !ok {
				return nil, &apiError{status: 400, code: "TargetGroupNotFound", msg: "One or more target groups not found"}
			}
			hits = append(hits, xTG(tg))
		}
	case len(names) > 0:
		for _, n := range names {
			var hit *targetGroup
			for _, tg := range st.tgs.all() {
				if tg.name == n {
					hit = tg
				}
			}
			if hit == nil {
				return nil, &apiError{status: 400, code: "TargetGroupNotFound", msg: "One or more target groups not found"}
			}
			hits = append(hits, xTG(hit))
		}
	default:
		for _, tg := range st.tgs.all() {
			hits = append(hits, xTG(tg))
		}
	}
	start, end, next, err := page(len(hits), size, q.str("Marker"))
	if err != nil {
		return nil, validation("Invalid Marker")
	}
	return struct {
		TGs        members[xTargetGroup] `xml:"TargetGroups"`
		NextMarker string                `xml:"NextMarker,omitempty"`
	}{members[xTargetGroup]{hits[start:end]}, next}, nil
}

// registerTargets adds an instance to target groups (used by Auto Scaling).
func (st *state) registerTargets(arns []string, id string) {
	for _, a := range arns {
		tg, ok := st.tgs.get(a)
		if !ok {
			continue
		}
		if t := tg.find(id, tg.port); t != nil {
			t.drainingUntil = time.Time{}
			continue
		}
		tg.targets = append(tg.targets, &target{id: id, port: tg.port, registeredAt: st.now})
	}
}

func (st *state) deregisterTargets(arns []string, id string) {
	for _, a := range arns {
		if tg, ok := st.tgs.get(a); ok {
			st.drain(tg, id, 0)
		}
	}
}

func (st *state) drain(tg *targetGroup, id string, port int64) {
	d := st.srv.opts.deregDelay
	kept := tg.targets[:0]
	for _, t := range tg.targets {
		if t.id == id && (port == 0 || t.port == port) {
			if d <= 0 {
				continue
			}
			if t.drainingUntil.IsZero() {
				t.drainingUntil = st.now.Add(d)
			}
		}
		kept = append(kept, t)
	}
	tg.targets = kept
}

func parseTargets(q *qnode, tg *targetGroup) ([]target, error) {
	var out []target
	for _, n := range q.list("Targets") {
		t := target{id: n.str("Id"), port: tg.port}
		if t.id == "" {
			return nil, validation("A target ID must be specified")
		}
		if p, ok, err := n.integer("Port"); err != nil || (ok && (p < 1 || p > 65535)) {
			return nil, validation("Port must be between 1 and 65535")
		} else if ok {
			t.port = p
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, validation("Targets must be specified")
	}
	return out, nil
}

// tgTargetsParams reads the target group and then its Targets.
func (st *state) tgTargetsParams(q *qnode) (*targetGroup, []target, error) {
	tg, err := st.tgParam(q)
	if err != nil {
		return nil, nil, err
	}
	ts, err := parseTargets(q, tg)
	if err != nil {
		return nil, nil, err
	}
	return tg, ts, nil
}

func (st *state) registerTargetsOp(q *qnode) (any, error) {
	tg, ts, err := st.tgTargetsParams(q)
	if err != nil {
		return nil, err
	}
	if tg.targetType == "instance" {
		var bad []string
		for _, t := range ts {
			in, ok := st.instances.get(t.id)
			if !ok || !st.instanceVisible(in) {
				return nil, &apiError{status: 400, code: "InvalidTarget", msg: "The following targets are not valid instances: '" + t.id + "'"}
			}
			if in.vpcID != tg.vpcID {
				return nil, &apiError{status: 400, code: "InvalidTarget", msg: "The following targets are not in the target group VPC '" + tg.vpcID + "': '" + t.id + "'"}
			}
			if in.state != "running" {
				bad = append(bad, t.id)
			}
		}
		if len(bad) > 0 {
			return nil, &apiError{status: 400, code: "InvalidTarget", msg: "The following targets are not in a running state and cannot be registered: '" + bad[0] + "'"}
		}
	}
	for _, t := range ts {
		if e := tg.find(t.id, t.port); e != nil {
			e.drainingUntil = time.Time{}
			continue
		}
		tg.targets = append(tg.targets, &target{id: t.id, port: t.port, registeredAt: st.now})
	}
	return nil, nil
}

func (st *state) deregisterTargetsOp(q *qnode) (any, error) {
	tg, ts, err := st.tgTargetsParams(q)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if tg.find(t.id, t.port) == nil {
			return nil, &apiError{status: 400, code: "InvalidTarget", msg: "The following targets are not registered in target group: '" + t.id + "'"}
		}
	}
	for _, t := range ts {
		st.drain(tg, t.id, t.port)
	}
	return nil, nil
}

func (st *state) describeTargetHealth(q *qnode) (any, error) {
	tg, err := st.tgParam(q)
	if err != nil {
		return nil, err
	}
	type xHealth struct {
		State       string `xml:"State"`
		Reason      string `xml:"Reason,omitempty"`
		Description string `xml:"Description,omitempty"`
	}
	type xTHD struct {
		ID     string  `xml:"Target>Id"`
		Port   int64   `xml:"Target>Port"`
		HCPort string  `xml:"HealthCheckPort"`
		Health xHealth `xml:"TargetHealth"`
	}
	health := func(t *target) xHealth {
		switch {
		case !t.drainingUntil.IsZero() && st.now.Before(t.drainingUntil):
			return xHealth{"draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"}
		case tg.targetType == "instance":
			in, ok := st.instances.get(t.id)
			if !ok || in.state == "terminated" {
				return xHealth{"unused", "Target.InvalidState", "Target is in the terminated state"}
			}
			if in.state == "stopped" || in.state == "stopping" {
				return xHealth{"unused", "Target.InvalidState", "Target is in the stopped state"}
			}
			if in.state != "running" || st.now.Before(t.registeredAt.Add(st.srv.opts.healthDelay)) {
				return xHealth{"initial", "Elb.RegistrationInProgress", "Target registration is in progress"}
			}
		}
		return xHealth{State: "healthy"}
	}
	// Drop targets whose draining has finished.
	kept := tg.targets[:0]
	for _, t := range tg.targets {
		if !t.drainingUntil.IsZero() && !st.now.Before(t.drainingUntil) {
			continue
		}
		kept = append(kept, t)
	}
	tg.targets = kept
	var out []xTHD
	if q.has("Targets") {
		ts, err := parseTargets(q, tg)
		if err != nil {
			return nil, err
		}
		for _, want := range ts {
			t := tg.find(want.id, want.port)
			if t == nil {
				out = append(out, xTHD{ID: want.id, Port: want.port, HCPort: strconv.FormatInt(want.port, 10),
					Health: xHealth{"unused", "Target.NotRegistered", "Target is not registered to the target group"}})
				continue
			}
			out = append(out, xTHD{ID: t.id, Port: t.port, HCPort: strconv.FormatInt(t.port, 10), Health: health(t)})
		}
	} else {
		for _, t := range tg.targets {
			out = append(out, xTHD{ID: t.id, Port: t.port, HCPort: strconv.FormatInt(t.port, 10), Health: health(t)})
		}
	}
	return struct {
		Descs members[xTHD] `xml:"TargetHealthDescriptions"`
	}{members[xTHD]{out}}, nil
}
