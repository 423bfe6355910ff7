package ec2test

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type asgInstance struct {
	id             string
	lifecycleState string // InService, Standby, Pending
	health         string
}

type asg struct {
	name, arn        string
	min, max, desire int64
	ltID, ltName     string
	ltVersion        string
	launchConfig     string
	subnets          []string
	azs              []string
	targetGroups     []string
	instances        []*asgInstance
	created          time.Time
	tags             [][2]string
}

func (g *asg) removeInstance(id string) {
	for i, in := range g.instances {
		if in.id == id {
			g.instances = append(g.instances[:i], g.instances[i+1:]...)
			return
		}
	}
}

func (g *asg) member(id string) *asgInstance {
	for _, in := range g.instances {
		if in.id == id {
			return in
		}
	}
	return nil
}

func (s *Server) asgHandler(action string) func(*qnode) (any, error) {
	st := s.st
	switch action {
	case "CreateAutoScalingGroup":
		return st.createASG
	case "DescribeAutoScalingGroups":
		return st.describeASGs
	case "DescribeAutoScalingInstances":
		return st.describeASGInstances
	case "DetachInstances":
		return st.detachInstances
	case "EnterStandby":
		return st.enterStandby
	case "ExitStandby":
		return st.exitStandby
	case "AttachInstances":
		return st.attachInstances
	case "DeleteAutoScalingGroup":
		return st.deleteASG
	}
	return nil
}

var asgActions = []string{"CreateAutoScalingGroup", "DescribeAutoScalingGroups", "DescribeAutoScalingInstances",
	"DetachInstances", "EnterStandby", "ExitStandby", "AttachInstances", "DeleteAutoScalingGroup"}

func validation(format string, args ...any) *apiError {
	return &apiError{status: 400, code: "ValidationError", msg: fmt.Sprintf(format, args...)}
}

func (st *state) asgParam(q *qnode) (*asg, error) {
	name := q.str("AutoScalingGroupName")
	if name == "" {
		return nil, validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	g, ok := st.asgs.get(name)
	if !ok {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	return g, nil
}

// launchForASG starts one instance from the group's launch template.
func (st *state) launchForASG(g *asg) (string, error) {
	if g.ltID == "" {
		return "", nil
	}
	form := fmt.Sprintf("MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateId=%s&LaunchTemplate.Version=%s", g.ltID, g.ltVersion)
	if len(g.subnets) > 0 {
		form += "&SubnetId=" + g.subnets[len(g.instances)%len(g.subnets)]
	}
	q, err := parseQuery([]byte(form))
	if err != nil {
		return "", err
	}
	res, err := st.runInstances(q)
	if err != nil {
		return "", err
	}
	id := firstInstanceOf(res)
	st.setTags(id, [][2]string{{"aws:autoscaling:groupName", g.name}})
	for _, kv := range g.tags {
		st.setTags(id, [][2]string{kv})
	}
	return id, nil
}

func firstInstanceOf(res any) string {
	if r, ok := res.(runOut); ok && len(r.Instances.Item) > 0 {
		return r.Instances.Item[0].InstanceID
	}
	return ""
}

func (st *state) createASG(q *qnode) (any, error) {
	name := q.str("AutoScalingGroupName")
	if name == "" || len(name) > 255 {
		return nil, validation("AutoScalingGroupName must be 1 to 255 characters")
	}
	if _, ok := st.asgs.get(name); ok {
		return nil, &apiError{status: 400, code: "AlreadyExists", msg: "AutoScalingGroup by this name already exists - A group with the name " + name + " already exists"}
	}
	min, okMin, err1 := q.integer("MinSize")
	max, okMax, err2 := q.integer("MaxSize")
	if err1 != nil || err2 != nil || !okMin || !okMax {
		return nil, validation("MinSize and MaxSize are required integers")
	}
	desired, okD, err := q.integer("DesiredCapacity")
	if err != nil {
		return nil, validation("DesiredCapacity must be an integer")
	}
	if !okD {
		desired = min
	}
	if min < 0 || max < min || desired < min || desired > max || max > 1000 {
		return nil, validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, min, max)
	}
	g := &asg{name: name, min: min, max: max, desire: desired, created: st.now,
		arn: "arn:aws:autoscaling:" + st.region + ":" + AccountID + ":autoScalingGroup:" + st.newID("uuid")[5:] + ":autoScalingGroupName/" + name}
	if lt := q.child("LaunchTemplate"); lt != nil {
		var tpl *launchTemplate
		if id := lt.str("LaunchTemplateId"); id != "" {
			t, ok := st.lts.get(id)
			if !ok {
				return nil, validation("You must use a valid fully-formed launch template. The specified launch template, with template ID %s, does not exist.", id)
			}
			tpl = t
		} else {
			for _, t := range st.lts.all() {
				if t.name == lt.str("LaunchTemplateName") {
					tpl = t
				}
			}
			if tpl == nil {
				return nil, validation("You must use a valid fully-formed launch template. The specified launch template, with template name %s, does not exist.", lt.str("LaunchTemplateName"))
			}
		}
		g.ltID, g.ltName, g.ltVersion = tpl.id, tpl.name, lt.str("Version")
		if g.ltVersion == "" {
			g.ltVersion = "$Default"
		}
	} else if lc := q.str("LaunchConfigurationName"); lc != "" {
		g.launchConfig = lc
	} else if q.str("InstanceId") == "" {
		return nil, validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	if z := q.str("VPCZoneIdentifier"); z != "" {
		for _, id := range strings.Split(z, ",") {
			id = strings.TrimSpace(id)
			sn, ok := st.subnets.get(id)
			if !ok {
				return nil, validation("The subnet ID '%s' does not exist", id)
			}
			g.subnets = append(g.subnets, id)
			g.azs = append(g.azs, sn.az)
		}
	} else {
		g.azs = q.strs("AvailabilityZones")
		if len(g.azs) == 0 {
			return nil, validation("At least one Availability Zone or VPC Subnet is required.")
		}
	}
	for _, arn := range q.strs("TargetGroupARNs") {
		if _, ok := st.tgs.get(arn); !ok {
			return nil, validation("Provided Target Groups may not be valid. Please ensure they exist and try again.")
		}
		g.targetGroups = append(g.targetGroups, arn)
	}
	for _, t := range q.list("Tags") {
		g.tags = append(g.tags, [2]string{t.str("Key"), t.str("Value")})
	}
	st.asgs.put(name, g)
	for i := int64(0); i < desired && g.ltID != ""; i++ {
		id, err := st.launchForASG(g)
		if err != nil {
			st.asgs.del(name)
			return nil, validation("Launching a new EC2 instance failed: %s", asAPIError(err).msg)
		}
		g.instances = append(g.instances, &asgInstance{id: id, lifecycleState: "InService", health: "Healthy"})
		st.registerTargets(g.targetGroups, id)
	}
	return nil, nil
}

func (st *state) deleteASG(q *qnode) (any, error) {
	g, err := st.asgParam(q)
	if err != nil {
		return nil, err
	}
	force, _, _ := q.boolean("ForceDelete")
	if len(g.instances) > 0 && !force {
		return nil, &apiError{status: 400, code: "ResourceInUse", msg: "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group."}
	}
	// ForceDelete terminates the group's instances, as AWS does.
	for _, m := range g.instances {
		if in, ok := st.instances.get(m.id); ok && in.state != "terminated" && in.state != "shutting-down" {
			in.state, in.stateAt = "shutting-down", st.now.Add(st.srv.opts.termDelay)
			st.moving[in.id] = struct{}{}
		}
	}
	st.asgs.del(g.name)
	return nil, nil
}

type xASGLT struct {
	ID      string `xml:"LaunchTemplateId"`
	Name    string `xml:"LaunchTemplateName"`
	Version string `xml:"Version"`
}

type xASGInstance struct {
	InstanceID   string  `xml:"InstanceId"`
	InstanceType string  `xml:"InstanceType,omitempty"`
	AZ           string  `xml:"AvailabilityZone"`
	Lifecycle    string  `xml:"LifecycleState"`
	Health       string  `xml:"HealthStatus"`
	LT           *xASGLT `xml:"LaunchTemplate,omitempty"`
	LC           string  `xml:"LaunchConfigurationName,omitempty"`
	Protected    bool    `xml:"ProtectedFromScaleIn"`
	ASGName      string  `xml:"AutoScalingGroupName,omitempty"`
}

func (st *state) xASGInstance(g *asg, m *asgInstance, withGroup bool) xASGInstance {
	x := xASGInstance{InstanceID: m.id, Lifecycle: m.lifecycleState, Health: m.health, LC: g.launchConfig}
	if in, ok := st.instances.get(m.id); ok {
		x.InstanceType, x.AZ = in.instanceType, in.az
	}
	if g.ltID != "" {
		x.LT = &xASGLT{g.ltID, g.ltName, g.ltVersion}
	}
	if withGroup {
		x.ASGName = g.name
	}
	return x
}

// maxRecords reads MaxRecords, which must lie in [1, hi] when given.
func maxRecords(q *qnode, hi int64) (int64, error) {
	max, ok, err := q.integer("MaxRecords")
	if err != nil || (ok && (max < 1 || max > hi)) {
		return 0, validation("MaxRecords must be between 1 and %d", hi)
	}
	return max, nil
}

// asgPage is page with the Auto Scaling error for a bad NextToken.
func asgPage(q *qnode, n int, max int64) (start, end int, next string, err error) {
	start, end, next, err = page(n, max, q.str("NextToken"))
	if err != nil {
		return 0, 0, "", &apiError{status: 400, code: "InvalidNextToken", msg: "The token is invalid."}
	}
	return start, end, next, nil
}

func (st *state) describeASGs(q *qnode) (any, error) {
	names := q.strs("AutoScalingGroupNames")
	max, err := maxRecords(q, 100)
	if err != nil {
		return nil, err
	}
	type xTag struct {
		Key, Value, ResourceID, ResourceType string
		Propagate                            bool `xml:"PropagateAtLaunch"`
	}
	type xASG struct {
		Name      string                `xml:"AutoScalingGroupName"`
		ARN       string                `xml:"AutoScalingGroupARN"`
		LT        *xASGLT               `xml:"LaunchTemplate,omitempty"`
		LC        string                `xml:"LaunchConfigurationName,omitempty"`
		Min       int64                 `xml:"MinSize"`
		Max       int64                 `xml:"MaxSize"`
		Desired   int64                 `xml:"DesiredCapacity"`
		Cooldown  int                   `xml:"DefaultCooldown"`
		AZs       members[string]       `xml:"AvailabilityZones"`
		TGs       members[string]       `xml:"TargetGroupARNs"`
		HCType    string                `xml:"HealthCheckType"`
		Created   string                `xml:"CreatedTime"`
		Instances members[xASGInstance] `xml:"Instances"`
		VPCZone   string                `xml:"VPCZoneIdentifier,omitempty"`
		Tags      members[xTag]         `xml:"Tags"`
		Policies  members[string]       `xml:"TerminationPolicies"`
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var hits []xASG
	for _, g := range st.asgs.all() {
		if len(want) > 0 && !want[g.name] {
			continue
		}
		x := xASG{Name: g.name, ARN: g.arn, LC: g.launchConfig, Min: g.min, Max: g.max, Desired: g.desire, Cooldown: 300,
			AZs: members[string]{g.azs}, TGs: members[string]{g.targetGroups}, HCType: "EC2", Created: ts(g.created),
			VPCZone: strings.Join(g.subnets, ","), Policies: members[string]{[]string{"Default"}}}
		if g.ltID != "" {
			x.LT = &xASGLT{g.ltID, g.ltName, g.ltVersion}
		}
		for _, m := range g.instances {
			x.Instances.Member = append(x.Instances.Member, st.xASGInstance(g, m, false))
		}
		for _, t := range g.tags {
			x.Tags.Member = append(x.Tags.Member, xTag{Key: t[0], Value: t[1], ResourceID: g.name, ResourceType: "auto-scaling-group", Propagate: true})
		}
		hits = append(hits, x)
	}
	start, end, next, err := asgPage(q, len(hits), max)
	if err != nil {
		return nil, err
	}
	return struct {
		Groups    members[xASG] `xml:"AutoScalingGroups"`
		NextToken string        `xml:"NextToken,omitempty"`
	}{members[xASG]{hits[start:end]}, next}, nil
}

func (st *state) describeASGInstances(q *qnode) (any, error) {
	ids := q.strs("InstanceIds")
	max, err := maxRecords(q, 50)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var hits []xASGInstance
	for _, g := range st.asgs.all() {
		for _, m := range g.instances {
			if len(want) > 0 && !want[m.id] {
				continue
			}
			hits = append(hits, st.xASGInstance(g, m, true))
		}
	}
	start, end, next, err := asgPage(q, len(hits), max)
	if err != nil {
		return nil, err
	}
	return struct {
		Instances members[xASGInstance] `xml:"AutoScalingInstances"`
		NextToken string                `xml:"NextToken,omitempty"`
	}{members[xASGInstance]{hits[start:end]}, next}, nil
}

type xActivity struct {
	ActivityID  string `xml:"ActivityId"`
	ASGName     string `xml:"AutoScalingGroupName"`
	Description string `xml:"Description"`
	Cause       string `xml:"Cause"`
	StartTime   string `xml:"StartTime"`
	StatusCode  string `xml:"StatusCode"`
	Progress    int    `xml:"Progress"`
	Details     string `xml:"Details"`
}

func (st *state) activity(g *asg, desc, cause string) xActivity {
	id := st.newID("x")[2:]
	uuid := id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[13:17] + "-" + id[0:12]
	return xActivity{ActivityID: uuid, ASGName: g.name, Description: desc, Cause: cause, StartTime: ts(st.now),
		StatusCode: "InProgress", Progress: 50, Details: `{"Subnet ID":"","Availability Zone":""}`}
}

type activitiesOut struct {
	Activities members[xActivity] `xml:"Activities"`
}

// membersParam resolves InstanceIds against a group.
func (st *state) membersParam(q *qnode, g *asg) ([]*asgInstance, error) {
	ids := q.strs("InstanceIds")
	if len(ids) == 0 {
		return nil, validation("InstanceIds must be given")
	}
	if len(ids) > 20 {
		return nil, validation("The number of instances (%d) exceeds the maximum of 20", len(ids))
	}
	var out []*asgInstance
	for _, id := range ids {
		m := g.member(id)
		if m == nil {
			return nil, validation("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
		out = append(out, m)
	}
	return out, nil
}

func (st *state) decrementParam(q *qnode) (bool, error) {
	v, ok, err := q.boolean("ShouldDecrementDesiredCapacity")
	if err != nil || !ok {
		return false, validation("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	return v, nil
}

// membersDecrementParams reads the group, ShouldDecrementDesiredCapacity
// and the member instances, in that order (the first error wins).
func (st *state) membersDecrementParams(q *qnode) (*asg, bool, []*asgInstance, error) {
	g, err := st.asgParam(q)
	if err != nil {
		return nil, false, nil, err
	}
	dec, err := st.decrementParam(q)
	if err != nil {
		return nil, false, nil, err
	}
	ms, err := st.membersParam(q, g)
	if err != nil {
		return nil, false, nil, err
	}
	return g, dec, ms, nil
}

func (st *state) detachInstances(q *qnode) (any, error) {
	g, dec, ms, err := st.membersDecrementParams(q)
	if err != nil {
		return nil, err
	}
	// Standby instances do not count towards the desired capacity.
	inService := int64(0)
	for _, m := range ms {
		if m.lifecycleState != "Standby" {
			inService++
		}
	}
	if dec && g.desire-inService < g.min {
		return nil, validation("The number of instances (%d) after detaching would be less than the group's minimum size %d.", g.desire-inService, g.min)
	}
	var o activitiesOut
	for _, m := range ms {
		standby := m.lifecycleState == "Standby"
		g.removeInstance(m.id)
		st.deregisterTargets(g.targetGroups, m.id)
		st.deleteTagKey(m.id, "aws:autoscaling:groupName")
		cause := "At " + st.now.Format(time.RFC3339) + " instance " + m.id + " was detached in response to a user request"
		if dec && !standby {
			g.desire--
			cause += ", shrinking the capacity from " + strconv.FormatInt(g.desire+1, 10) + " to " + strconv.FormatInt(g.desire, 10) + "."
		} else {
			cause += "."
		}
		o.Activities.Member = append(o.Activities.Member, st.activity(g, "Detaching EC2 instance: "+m.id, cause))
		if !dec && !standby {
			st.replace(g)
		}
	}
	return o, nil
}

// replace launches an instance to keep the group at its desired capacity.
func (st *state) replace(g *asg) {
	inService := int64(0)
	for _, m := range g.instances {
		if m.lifecycleState != "Standby" {
			inService++
		}
	}
	for inService < g.desire && g.ltID != "" {
		id, err := st.launchForASG(g)
		if err != nil || id == "" {
			return
		}
		g.instances = append(g.instances, &asgInstance{id: id, lifecycleState: "InService", health: "Healthy"})
		st.registerTargets(g.targetGroups, id)
		inService++
	}
}

func (st *state) deleteTagKey(id, key string) {
	if m := st.tags[id]; m != nil {
		delete(m, key)
	}
}

func (st *state) enterStandby(q *qnode) (any, error) {
	g, dec, ms, err := st.membersDecrementParams(q)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.lifecycleState != "InService" {
			return nil, validation("The instance %s is not in InService.", m.id)
		}
	}
	if dec && g.desire-int64(len(ms)) < g.min {
		return nil, validation("The number of instances (%d) would be less than the group's minimum size %d.", g.desire-int64(len(ms)), g.min)
	}
	var o activitiesOut
	for _, m := range ms {
		m.lifecycleState = "Standby"
		st.deregisterTargets(g.targetGroups, m.id)
		if dec {
			g.desire--
		}
		o.Activities.Member = append(o.Activities.Member, st.activity(g, "Moving EC2 instance to Standby: "+m.id,
			"At "+st.now.Format(time.RFC3339)+" instance "+m.id+" was moved to standby in response to a user request."))
	}
	if !dec {
		st.replace(g)
	}
	return o, nil
}

func (st *state) exitStandby(q *qnode) (any, error) {
	g, err := st.asgParam(q)
	if err != nil {
		return nil, err
	}
	ms, err := st.membersParam(q, g)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.lifecycleState != "Standby" {
			return nil, validation("The instance %s is not in Standby.", m.id)
		}
	}
	if g.desire+int64(len(ms)) > g.max {
		return nil, validation("The number of instances (%d) would exceed the group's maximum size %d.", g.desire+int64(len(ms)), g.max)
	}
	var o activitiesOut
	for _, m := range ms {
		m.lifecycleState = "InService"
		g.desire++
		st.registerTargets(g.targetGroups, m.id)
		o.Activities.Member = append(o.Activities.Member, st.activity(g, "Moving EC2 instance out of Standby: "+m.id,
			"At "+st.now.Format(time.RFC3339)+" instance "+m.id+" was moved out of standby in response to a user request."))
	}
	return o, nil
}

func (st *state) attachInstances(q *qnode) (any, error) {
	g, err := st.asgParam(q)
	if err != nil {
		return nil, err
	}
	ids := q.strs("InstanceIds")
	if len(ids) == 0 {
		return nil, validation("InstanceIds must be given")
	}
	if g.desire+int64(len(ids)) > g.max {
		return nil, validation("Attaching %d instances would exceed the group's maximum size %d.", len(ids), g.max)
	}
	for _, id := range ids {
		in, ok := st.instances.get(id)
		if !ok || !st.instanceVisible(in) {
			return nil, validation("Instance %s is not found.", id)
		}
		if in.state != "running" {
			return nil, validation("Instance %s is not in correct state.", id)
		}
		for _, o := range st.asgs.all() {
			if o.member(id) != nil {
				return nil, validation("The instance %s is already part of the Auto Scaling group %s.", id, o.name)
			}
		}
	}
	for _, id := range ids {
		g.instances = append(g.instances, &asgInstance{id: id, lifecycleState: "InService", health: "Healthy"})
		g.desire++
		st.setTags(id, [][2]string{{"aws:autoscaling:groupName", g.name}})
		st.registerTargets(g.targetGroups, id)
	}
	return nil, nil
}
