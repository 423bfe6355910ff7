package ec2test

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Public images every server starts with; pass to ImageID.
const (
	ImageAmazonLinux2023 = "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64"
	ImageUbuntu2404      = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115"
	ImageDebian12        = "debian-12-amd64-20250112-1993"
)

// ImageID returns the id of a seeded public image by name, "" if none.
func (s *Server) ImageID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range s.st.images.all() {
		if im.name == name {
			return im.id
		}
	}
	return ""
}

// DefaultVPC returns the id of the default VPC.
func (s *Server) DefaultVPC() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.defaultVPC
}

// DefaultSubnets returns the default subnets, one per availability zone,
// in zone order.
func (s *Server) DefaultSubnets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sn := range s.st.subnets.all() {
		if sn.defaultForAz {
			out = append(out, sn.id)
		}
	}
	return out
}

// DefaultSecurityGroup returns the id of the default VPC's "default" group.
func (s *Server) DefaultSecurityGroup() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.groupByName(s.st.defaultVPC, "default").id
}

// InstanceSpec describes instances to seed with AddInstances. Zero
// fields take RunInstances' defaults (Amazon Linux 2023, t3.micro, the
// first default subnet, the default security group).
type InstanceSpec struct {
	ImageID               string
	InstanceType          string
	SubnetID              string
	KeyName               string
	SecurityGroupIDs      []string
	IAMInstanceProfileARN string
	Tags                  map[string]string
	// DataVolumes adds EBS volumes besides the root volume, by device
	// name (e.g. "/dev/sdf") and size in GiB.
	DataVolumes           map[string]int32
	DisableAPITermination bool
	DisableAPIStop        bool
	// Stopped seeds the instances in state stopped instead of running.
	Stopped bool
	// Spot seeds Spot Instances (InstanceMarketOptions.MarketType=spot):
	// EC2 refuses termination and stop protection for them.
	Spot bool
	// InstanceStoreRoot seeds instances whose root device is instance
	// store (no EBS root volume; the data volumes stay EBS): they cannot
	// be stopped, and stop protection is refused.
	InstanceStoreRoot bool
}

func (sp InstanceSpec) form(n int) url.Values {
	v := url.Values{}
	v.Set("MinCount", strconv.Itoa(n))
	v.Set("MaxCount", strconv.Itoa(n))
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("ImageId", sp.ImageID)
	it := sp.InstanceType
	if it == "" {
		it = "t3.micro"
	}
	set("InstanceType", it)
	set("SubnetId", sp.SubnetID)
	set("KeyName", sp.KeyName)
	set("IamInstanceProfile.Arn", sp.IAMInstanceProfileARN)
	for i, g := range sp.SecurityGroupIDs {
		v.Set("SecurityGroupId."+strconv.Itoa(i+1), g)
	}
	if len(sp.Tags) > 0 {
		keys := make([]string, 0, len(sp.Tags))
		for k := range sp.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		v.Set("TagSpecification.1.ResourceType", "instance")
		for i, k := range keys {
			v.Set(fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i+1), k)
			v.Set(fmt.Sprintf("TagSpecification.1.Tag.%d.Value", i+1), sp.Tags[k])
		}
	}
	devs := make([]string, 0, len(sp.DataVolumes))
	for d := range sp.DataVolumes {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for i, d := range devs {
		v.Set(fmt.Sprintf("BlockDeviceMapping.%d.DeviceName", i+1), d)
		v.Set(fmt.Sprintf("BlockDeviceMapping.%d.Ebs.VolumeSize", i+1), strconv.Itoa(int(sp.DataVolumes[d])))
	}
	if sp.DisableAPITermination {
		v.Set("DisableApiTermination", "true")
	}
	if sp.DisableAPIStop {
		v.Set("DisableApiStop", "true")
	}
	if sp.Spot {
		v.Set("InstanceMarketOptions.MarketType", "spot")
	}
	return v
}

// AddInstances seeds n instances (1..1000) that are already running (or
// stopped), visible at once whatever the faults, and not in the request
// trace. It returns their ids in launch order.
func (s *Server) AddInstances(n int, spec InstanceSpec) ([]string, error) {
	if n < 1 || n > 1000 {
		return nil, fmt.Errorf("ec2test: AddInstances: n = %d, want 1..1000", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.tick(s.now())
	ec := st.faults.EventualConsistency
	st.faults.EventualConsistency = 0
	defer func() { st.faults.EventualConsistency = ec }()
	if spec.ImageID == "" {
		for _, im := range st.images.all() {
			if im.name == ImageAmazonLinux2023 {
				spec.ImageID = im.id
			}
		}
	}
	q, err := queryTree(spec.form(n))
	if err != nil {
		return nil, err
	}
	res, err := st.runInstances(q)
	if err != nil {
		return nil, fmt.Errorf("ec2test: AddInstances: %w", err)
	}
	var ids []string
	for _, x := range res.(runOut).Instances.Item {
		in, _ := st.instances.get(x.InstanceID)
		delete(st.moving, in.id)
		in.state, in.runningSince = "running", st.now
		if spec.Stopped {
			in.state = "stopped"
		}
		if spec.InstanceStoreRoot {
			in.instanceStore, in.shutdownBehavior = true, "terminate"
			for i, b := range in.bdms {
				if b.device == in.rootDevice {
					st.volumes.del(b.volumeID)
					in.bdms = append(in.bdms[:i], in.bdms[i+1:]...)
					break
				}
			}
		}
		ids = append(ids, in.id)
	}
	return ids, nil
}

// AddInstance seeds one instance; see AddInstances.
func (s *Server) AddInstance(spec InstanceSpec) (string, error) {
	ids, err := s.AddInstances(1, spec)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// Rule is one security group rule for AddSecurityGroup and State.
type Rule struct {
	ID       string `json:",omitempty"`
	Egress   bool
	Protocol string // "tcp", "udp", "icmp", "-1"
	FromPort int32
	ToPort   int32
	// Exactly one peer.
	CIDR        string `json:",omitempty"`
	CIDRv6      string `json:",omitempty"`
	GroupID     string `json:",omitempty"`
	Description string `json:",omitempty"`
}

// AddSecurityGroup seeds a security group in vpcID (default VPC if
// empty) with the given ingress rules, plus the allow-all egress rule
// every new group gets. It returns the group id.
func (s *Server) AddSecurityGroup(name, description, vpcID string, ingress ...Rule) (string, error) {
	v := url.Values{"GroupName": {name}, "GroupDescription": {description}}
	if vpcID != "" {
		v.Set("VpcId", vpcID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.tick(s.now())
	q, _ := queryTree(v)
	if _, err := st.createSecurityGroup(q); err != nil {
		return "", fmt.Errorf("ec2test: AddSecurityGroup: %w", err)
	}
	if vpcID == "" {
		vpcID = st.defaultVPC
	}
	g := st.groupByName(vpcID, name)
	if g == nil { // eventual consistency hid it
		for _, o := range st.sgs.all() {
			if o.name == name && o.vpcID == vpcID {
				g = o
			}
		}
	}
	g.visibleAt = time.Time{}
	for _, r := range ingress {
		p, err := normProto(r.Protocol)
		if err != nil {
			return "", fmt.Errorf("ec2test: AddSecurityGroup: %w", err)
		}
		nr := &sgRule{protocol: p, from: r.FromPort, to: r.ToPort, cidr4: r.CIDR, cidr6: r.CIDRv6, refGroup: r.GroupID, desc: r.Description}
		if p == "-1" {
			nr.from, nr.to = -1, -1
		}
		if (r.CIDR != "") == (r.GroupID != "") && r.CIDRv6 == "" {
			return "", errors.New("ec2test: AddSecurityGroup: each rule needs exactly one peer")
		}
		st.addRule(g, nr)
	}
	return g.id, nil
}

// State is a read-only copy of the account, for assertions.
type State struct {
	Instances      []InstanceState
	Volumes        []VolumeState
	Snapshots      []SnapshotState
	SecurityGroups []SecurityGroupState
	Images         []ImageState
	Alarms         []AlarmState
	AutoScaling    []AutoScalingGroupState
	TargetGroups   []TargetGroupState
}

// InstanceState is one instance in State.
type InstanceState struct {
	ID, State, ImageID, InstanceType, SubnetID, VPCID string
	KeyName, IAMInstanceProfileARN                    string
	PrivateIP, PublicIP                               string
	SecurityGroupIDs                                  []string // of the primary network interface
	NetworkInterfaceIDs                               []string
	VolumeIDs                                         []string // attached, in device order
	DisableAPITermination, DisableAPIStop             bool
	MetadataHTTPTokens                                string // "optional" or "required"
	Tags                                              map[string]string
}

// VolumeState is one volume in State.
type VolumeState struct {
	ID, State, InstanceID, Device string
	SizeGiB                       int32
	DeleteOnTermination           bool
	Tags                          map[string]string
}

// SnapshotState is one snapshot the account owns.
type SnapshotState struct {
	ID, VolumeID, State, Description string
	Tags                             map[string]string
}

// SecurityGroupState is one security group in State.
type SecurityGroupState struct {
	ID, Name, Description, VPCID string
	Rules                        []Rule
	Tags                         map[string]string
}

// ImageState is one image the account owns.
type ImageState struct {
	ID, Name, State string
	SnapshotIDs     []string
	Tags            map[string]string
}

// AlarmState is one CloudWatch metric alarm.
type AlarmState struct {
	Name, MetricName, Namespace, Statistic, ComparisonOperator string
	Threshold                                                  float64
	Period, EvaluationPeriods                                  int64
	Dimensions                                                 map[string]string
	AlarmActions                                               []string
}

// AutoScalingGroupState is one Auto Scaling group.
type AutoScalingGroupState struct {
	Name                      string
	MinSize, MaxSize, Desired int64
	// Instances maps instance id to lifecycle state (InService, Standby).
	Instances       map[string]string
	TargetGroupARNs []string
}

// TargetGroupState is one ELBv2 target group.
type TargetGroupState struct {
	ARN, Name string
	// Targets are the registered instance ids (draining ones included).
	Targets []string
}

func (st *state) tagMap(id string) map[string]string {
	m := st.tags[id]
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// State returns a copy of the account as it is now (transitions due by
// the server clock applied; eventual consistency ignored).
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.tick(s.now())
	var out State
	for _, in := range st.instances.all() {
		x := InstanceState{ID: in.id, State: in.state, ImageID: in.imageID, InstanceType: in.instanceType, SubnetID: in.subnetID,
			VPCID: in.vpcID, KeyName: in.keyName, IAMInstanceProfileARN: in.profileARN,
			DisableAPITermination: in.disableTerm, DisableAPIStop: in.disableStop, Tags: st.tagMap(in.id), MetadataHTTPTokens: in.md.tokens,
			SecurityGroupIDs: append([]string(nil), st.instanceGroups(in)...), NetworkInterfaceIDs: append([]string(nil), in.enis...)}
		if e, ok := st.enis.get(firstOr(in.enis)); ok {
			x.PrivateIP, x.PublicIP = e.privateIP, e.publicIP
		}
		for _, b := range in.bdms {
			x.VolumeIDs = append(x.VolumeIDs, b.volumeID)
		}
		out.Instances = append(out.Instances, x)
	}
	for _, v := range st.volumes.all() {
		x := VolumeState{ID: v.id, State: v.state, SizeGiB: v.size, Tags: st.tagMap(v.id)}
		if v.attach != nil {
			x.InstanceID, x.Device, x.DeleteOnTermination = v.attach.instanceID, v.attach.device, v.attach.deleteOnTerm
		}
		out.Volumes = append(out.Volumes, x)
	}
	for _, sn := range st.snapshots.all() {
		if sn.ownerID == AccountID {
			out.Snapshots = append(out.Snapshots, SnapshotState{ID: sn.id, VolumeID: sn.volumeID, State: sn.state, Description: sn.desc, Tags: st.tagMap(sn.id)})
		}
	}
	for _, g := range st.sgs.all() {
		x := SecurityGroupState{ID: g.id, Name: g.name, Description: g.desc, VPCID: g.vpcID, Tags: st.tagMap(g.id)}
		for _, r := range g.rules {
			x.Rules = append(x.Rules, Rule{ID: r.id, Egress: r.egress, Protocol: r.protocol, FromPort: r.from, ToPort: r.to,
				CIDR: r.cidr4, CIDRv6: r.cidr6, GroupID: r.refGroup, Description: r.desc})
		}
		out.SecurityGroups = append(out.SecurityGroups, x)
	}
	for _, im := range st.images.all() {
		if im.ownerID != AccountID {
			continue
		}
		x := ImageState{ID: im.id, Name: im.name, State: im.state, Tags: st.tagMap(im.id)}
		for _, b := range im.bdms {
			x.SnapshotIDs = append(x.SnapshotIDs, b.snapshotID)
		}
		out.Images = append(out.Images, x)
	}
	alarms := st.alarms.all()
	sort.Slice(alarms, func(i, j int) bool { return alarms[i].name < alarms[j].name })
	for _, a := range alarms {
		x := AlarmState{Name: a.name, MetricName: a.metricName, Namespace: a.namespace, Statistic: a.statistic,
			ComparisonOperator: a.comparison, Threshold: a.threshold, Period: a.period, EvaluationPeriods: a.evalPeriods,
			AlarmActions: append([]string(nil), a.alarmActions...)}
		if len(a.dimensions) > 0 {
			x.Dimensions = map[string]string{}
			for _, d := range a.dimensions {
				x.Dimensions[d[0]] = d[1]
			}
		}
		out.Alarms = append(out.Alarms, x)
	}
	for _, g := range st.asgs.all() {
		x := AutoScalingGroupState{Name: g.name, MinSize: g.min, MaxSize: g.max, Desired: g.desire,
			Instances: map[string]string{}, TargetGroupARNs: append([]string(nil), g.targetGroups...)}
		for _, m := range g.instances {
			x.Instances[m.id] = m.lifecycleState
		}
		out.AutoScaling = append(out.AutoScaling, x)
	}
	for _, tg := range st.tgs.all() {
		x := TargetGroupState{ARN: tg.arn, Name: tg.name}
		for _, t := range tg.targets {
			x.Targets = append(x.Targets, t.id)
		}
		out.TargetGroups = append(out.TargetGroups, x)
	}
	return out
}

// AddTargetGroup seeds an HTTP target group in the default VPC with the
// given instances registered (and healthy once running). It returns the
// target group ARN.
func (s *Server) AddTargetGroup(name string, port int32, instanceIDs ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.tick(s.now())
	q, _ := queryTree(url.Values{"Name": {name}, "Protocol": {"HTTP"}, "Port": {strconv.Itoa(int(port))}, "VpcId": {st.defaultVPC}})
	res, err := st.createTargetGroup(q)
	if err != nil {
		return "", fmt.Errorf("ec2test: AddTargetGroup: %w", err)
	}
	arn := innerARN(res)
	tg, _ := st.tgs.get(arn)
	for _, id := range instanceIDs {
		if _, ok := st.instances.get(id); !ok {
			return "", fmt.Errorf("ec2test: AddTargetGroup: no instance %s", id)
		}
		tg.targets = append(tg.targets, &target{id: id, port: tg.port, registeredAt: st.now.Add(-time.Hour)})
	}
	return arn, nil
}

func innerARN(res any) string {
	if r, ok := res.(struct {
		TGs members[xTargetGroup] `xml:"TargetGroups"`
	}); ok && len(r.TGs.Member) > 0 {
		return r.TGs.Member[0].ARN
	}
	return ""
}

// AddAutoScalingGroup seeds an Auto Scaling group holding the given
// running instances (InService; desired = their count, min 0, max count
// + 10), attached to the given target groups, which get the instances
// registered.
func (s *Server) AddAutoScalingGroup(name string, targetGroupARNs []string, instanceIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.tick(s.now())
	v := url.Values{"AutoScalingGroupName": {name}, "MinSize": {"0"}, "MaxSize": {strconv.Itoa(len(instanceIDs) + 10)},
		"DesiredCapacity": {"0"}, "InstanceId": {"seeded"}, "AvailabilityZones.member.1": {st.azs[0]}}
	for i, a := range targetGroupARNs {
		v.Set("TargetGroupARNs.member."+strconv.Itoa(i+1), a)
	}
	q, _ := queryTree(v)
	if _, err := st.createASG(q); err != nil {
		return fmt.Errorf("ec2test: AddAutoScalingGroup: %w", err)
	}
	if len(instanceIDs) == 0 {
		return nil
	}
	a := url.Values{"AutoScalingGroupName": {name}}
	for i, id := range instanceIDs {
		a.Set("InstanceIds.member."+strconv.Itoa(i+1), id)
	}
	q, _ = queryTree(a)
	if _, err := st.attachInstances(q); err != nil {
		return fmt.Errorf("ec2test: AddAutoScalingGroup: %w", err)
	}
	return nil
}
