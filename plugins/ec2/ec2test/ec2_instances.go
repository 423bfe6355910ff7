package ec2test

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// knownActions maps each served action to its service, for requests
// that carry neither a SigV4 scope nor a known API version. EC2 wins
// where names collide (DescribeTags).
var knownActions = func() map[string]string {
	m := map[string]string{}
	for op := range cwOps {
		m[op] = "monitoring"
	}
	for _, op := range elbActions {
		m[op] = "elasticloadbalancing"
	}
	for _, op := range asgActions {
		m[op] = "autoscaling"
	}
	for _, op := range iamActions {
		m[op] = "iam"
	}
	for _, op := range ec2Actions {
		m[op] = "ec2"
	}
	return m
}()

var ec2Actions = []string{
	"DescribeInstances", "RunInstances", "TerminateInstances", "StopInstances", "StartInstances",
	"ModifyInstanceAttribute", "DescribeInstanceAttribute", "DescribeInstanceStatus",
	"DescribeVolumes", "CreateSnapshots", "CreateSnapshot", "DescribeSnapshots", "DeleteSnapshot",
	"CreateImage", "RegisterImage", "DescribeImages", "DeregisterImage",
	"DescribeSecurityGroups", "CreateSecurityGroup", "DeleteSecurityGroup",
	"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
	"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "DescribeSecurityGroupRules",
	"DescribeNetworkInterfaces", "ModifyNetworkInterfaceAttribute",
	"CreateTags", "DeleteTags", "DescribeTags",
	"DescribeVpcs", "DescribeSubnets", "DescribeAvailabilityZones",
	"DescribeLaunchTemplates", "DescribeLaunchTemplateVersions", "CreateLaunchTemplate",
	"ModifyInstanceMetadataOptions", "CreateVolume", "AttachVolume", "DetachVolume", "DeleteVolume",
	"DescribeIamInstanceProfileAssociations", "AssociateIamInstanceProfile", "DisassociateIamInstanceProfile",
	"DescribeNetworkAcls", "CreateNetworkAclEntry", "DeleteNetworkAclEntry",
	"DescribeRouteTables", "CreateRouteTable", "CreateRoute", "AssociateRouteTable",
	"CreateVpc", "CreateSubnet",
}

func (s *Server) ec2Handler(action string) func(*qnode) (any, error) {
	st := s.st
	switch action {
	case "DescribeInstances":
		return st.describeInstances
	case "RunInstances":
		return st.runInstances
	case "TerminateInstances":
		return st.terminateInstances
	case "StopInstances":
		return st.stopInstances
	case "StartInstances":
		return st.startInstances
	case "ModifyInstanceAttribute":
		return st.modifyInstanceAttribute
	case "DescribeInstanceAttribute":
		return st.describeInstanceAttribute
	case "DescribeInstanceStatus":
		return st.describeInstanceStatus
	case "DescribeVolumes":
		return st.describeVolumes
	case "CreateSnapshots":
		return st.createSnapshots
	case "CreateSnapshot":
		return st.createSnapshot
	case "DescribeSnapshots":
		return st.describeSnapshots
	case "DeleteSnapshot":
		return st.deleteSnapshot
	case "CreateImage":
		return st.createImage
	case "RegisterImage":
		return st.registerImage
	case "DescribeImages":
		return st.describeImages
	case "DeregisterImage":
		return st.deregisterImage
	case "DescribeSecurityGroups":
		return st.describeSecurityGroups
	case "CreateSecurityGroup":
		return st.createSecurityGroup
	case "DeleteSecurityGroup":
		return st.deleteSecurityGroup
	case "AuthorizeSecurityGroupIngress":
		return func(q *qnode) (any, error) { return st.authorize(q, false) }
	case "AuthorizeSecurityGroupEgress":
		return func(q *qnode) (any, error) { return st.authorize(q, true) }
	case "RevokeSecurityGroupIngress":
		return func(q *qnode) (any, error) { return st.revoke(q, false) }
	case "RevokeSecurityGroupEgress":
		return func(q *qnode) (any, error) { return st.revoke(q, true) }
	case "DescribeSecurityGroupRules":
		return st.describeSecurityGroupRules
	case "DescribeNetworkInterfaces":
		return st.describeNetworkInterfaces
	case "ModifyNetworkInterfaceAttribute":
		return st.modifyNetworkInterfaceAttribute
	case "CreateTags":
		return st.createTags
	case "DeleteTags":
		return st.deleteTags
	case "DescribeTags":
		return st.describeTags
	case "DescribeVpcs":
		return st.describeVpcs
	case "DescribeSubnets":
		return st.describeSubnets
	case "DescribeAvailabilityZones":
		return st.describeAvailabilityZones
	case "DescribeLaunchTemplates":
		return st.describeLaunchTemplates
	case "DescribeLaunchTemplateVersions":
		return st.describeLaunchTemplateVersions
	case "CreateLaunchTemplate":
		return st.createLaunchTemplate
	case "ModifyInstanceMetadataOptions":
		return st.modifyInstanceMetadataOptions
	case "CreateVolume":
		return st.createVolume
	case "AttachVolume":
		return st.attachVolume
	case "DetachVolume":
		return st.detachVolume
	case "DeleteVolume":
		return st.deleteVolume
	case "DescribeIamInstanceProfileAssociations":
		return st.describeIamInstanceProfileAssociations
	case "AssociateIamInstanceProfile":
		return st.associateIamInstanceProfile
	case "DisassociateIamInstanceProfile":
		return st.disassociateIamInstanceProfile
	case "DescribeNetworkAcls":
		return st.describeNetworkAcls
	case "CreateNetworkAclEntry":
		return st.createNetworkAclEntry
	case "DeleteNetworkAclEntry":
		return st.deleteNetworkAclEntry
	case "DescribeRouteTables":
		return st.describeRouteTables
	case "CreateRouteTable":
		return st.createRouteTable
	case "CreateRoute":
		return st.createRoute
	case "AssociateRouteTable":
		return st.associateRouteTable
	case "CreateVpc":
		return st.createVpc
	case "CreateSubnet":
		return st.createSubnet
	}
	return nil
}

var (
	reInstanceID = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reVolumeID   = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reSnapID     = regexp.MustCompile(`^snap-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reGroupID    = regexp.MustCompile(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reImageID    = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reENIID      = regexp.MustCompile(`^eni-[0-9a-f]{8}([0-9a-f]{9})?$`)
	reSubnetID   = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

func stateCode(name string) int {
	switch name {
	case "pending":
		return 0
	case "running":
		return 16
	case "shutting-down":
		return 32
	case "terminated":
		return 48
	case "stopping":
		return 64
	case "stopped":
		return 80
	}
	return 0
}

type xState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func mkState(name string) xState { return xState{Code: stateCode(name), Name: name} }

type xGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xEbsDev struct {
	VolumeID     string `xml:"volumeId"`
	Status       string `xml:"status"`
	AttachTime   string `xml:"attachTime"`
	DeleteOnTerm bool   `xml:"deleteOnTermination"`
}

type xInstBDM struct {
	DeviceName string  `xml:"deviceName"`
	Ebs        xEbsDev `xml:"ebs"`
}

type xAssoc struct {
	PublicIP      string `xml:"publicIp"`
	PublicDNSName string `xml:"publicDnsName"`
	IPOwnerID     string `xml:"ipOwnerId"`
}

type xPrivIP struct {
	PrivateIP  string  `xml:"privateIpAddress"`
	PrivateDNS string  `xml:"privateDnsName"`
	Primary    bool    `xml:"primary"`
	Assoc      *xAssoc `xml:"association,omitempty"`
}

type xInstENIAttach struct {
	AttachmentID string `xml:"attachmentId"`
	DeviceIndex  int32  `xml:"deviceIndex"`
	Status       string `xml:"status"`
	AttachTime   string `xml:"attachTime"`
	DeleteOnTerm bool   `xml:"deleteOnTermination"`
}

type xInstENI struct {
	ID              string         `xml:"networkInterfaceId"`
	SubnetID        string         `xml:"subnetId"`
	VpcID           string         `xml:"vpcId"`
	Description     string         `xml:"description"`
	OwnerID         string         `xml:"ownerId"`
	Status          string         `xml:"status"`
	MAC             string         `xml:"macAddress"`
	PrivateIP       string         `xml:"privateIpAddress"`
	PrivateDNS      string         `xml:"privateDnsName"`
	SourceDestCheck bool           `xml:"sourceDestCheck"`
	Groups          []xGroup       `xml:"groupSet>item"`
	Attachment      xInstENIAttach `xml:"attachment"`
	Assoc           *xAssoc        `xml:"association,omitempty"`
	PrivateIPs      []xPrivIP      `xml:"privateIpAddressesSet>item"`
	IPv6            []xIPv6Addr    `xml:"ipv6AddressesSet>item"`
	InterfaceType   string         `xml:"interfaceType"`
}

type xProfile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type xStateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type xInstance struct {
	InstanceID      string        `xml:"instanceId"`
	ImageID         string        `xml:"imageId"`
	State           xState        `xml:"instanceState"`
	PrivateDNS      string        `xml:"privateDnsName"`
	DNSName         string        `xml:"dnsName"`
	Reason          string        `xml:"reason"`
	KeyName         string        `xml:"keyName,omitempty"`
	LaunchIndex     int           `xml:"amiLaunchIndex"`
	InstanceType    string        `xml:"instanceType"`
	LaunchTime      string        `xml:"launchTime"`
	AZ              string        `xml:"placement>availabilityZone"`
	Tenancy         string        `xml:"placement>tenancy"`
	Monitoring      string        `xml:"monitoring>state"`
	SubnetID        string        `xml:"subnetId,omitempty"`
	VpcID           string        `xml:"vpcId,omitempty"`
	PrivateIP       string        `xml:"privateIpAddress,omitempty"`
	PublicIP        string        `xml:"ipAddress,omitempty"`
	SourceDestCheck bool          `xml:"sourceDestCheck"`
	Groups          []xGroup      `xml:"groupSet>item"`
	StateReason     *xStateReason `xml:"stateReason,omitempty"`
	Architecture    string        `xml:"architecture"`
	RootDeviceType  string        `xml:"rootDeviceType"`
	RootDeviceName  string        `xml:"rootDeviceName"`
	Lifecycle       string        `xml:"instanceLifecycle,omitempty"`
	BDMs            []xInstBDM    `xml:"blockDeviceMapping>item"`
	Virtualization  string        `xml:"virtualizationType"`
	ClientToken     string        `xml:"clientToken,omitempty"`
	Tags            []xmlTag      `xml:"tagSet>item"`
	Hypervisor      string        `xml:"hypervisor"`
	ENIs            []xInstENI    `xml:"networkInterfaceSet>item"`
	Profile         *xProfile     `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized    bool          `xml:"ebsOptimized"`
	EnaSupport      bool          `xml:"enaSupport"`
	PlatformDetails string        `xml:"platformDetails"`
	UsageOperation  string        `xml:"usageOperation"`
	BootMode        string        `xml:"currentInstanceBootMode"`
	Metadata        xMetadata     `xml:"metadataOptions"`
}

type xMetadata struct {
	State    string `xml:"state"`
	Tokens   string `xml:"httpTokens"`
	HopLimit int64  `xml:"httpPutResponseHopLimit"`
	Endpoint string `xml:"httpEndpoint"`
	IPv6     string `xml:"httpProtocolIpv6"`
	Tags     string `xml:"instanceMetadataTags"`
}

func xMD(md metadataOptions, state string) xMetadata {
	return xMetadata{State: state, Tokens: md.tokens, HopLimit: md.hopLimit, Endpoint: md.endpoint, IPv6: md.ipv6, Tags: md.tags}
}

type xReservation struct {
	ReservationID string           `xml:"reservationId"`
	OwnerID       string           `xml:"ownerId"`
	Groups        items[xGroup]    `xml:"groupSet"`
	Instances     items[xInstance] `xml:"instancesSet"`
}

func (st *state) groupRefs(ids []string) []xGroup {
	out := make([]xGroup, 0, len(ids))
	for _, id := range ids {
		name := ""
		if g, ok := st.sgs.get(id); ok {
			name = g.name
		}
		out = append(out, xGroup{GroupID: id, GroupName: name})
	}
	return out
}

func (st *state) instanceGroups(in *instance) []string {
	if len(in.enis) == 0 {
		return nil
	}
	if e, ok := st.enis.get(in.enis[0]); ok {
		return e.groups
	}
	return nil
}

func rootType(in *instance) string {
	if in.instanceStore {
		return "instance-store"
	}
	return "ebs"
}

func (st *state) xInstance(in *instance) xInstance {
	x := xInstance{
		InstanceID: in.id, ImageID: in.imageID, State: mkState(in.state), Reason: in.stateReason,
		KeyName: in.keyName, LaunchIndex: in.launchIndex, InstanceType: in.instanceType,
		LaunchTime: ts(in.launchTime), AZ: in.az, Tenancy: "default", Monitoring: in.monitoring,
		SubnetID: in.subnetID, VpcID: in.vpcID, SourceDestCheck: true,
		Groups: st.groupRefs(st.instanceGroups(in)), Architecture: in.architecture,
		RootDeviceType: rootType(in), RootDeviceName: in.rootDevice, Virtualization: "hvm", Lifecycle: in.lifecycle,
		ClientToken: in.clientToken, Tags: st.tagSet(in.id), Hypervisor: "xen",
		EbsOptimized: in.ebsOptimized, EnaSupport: true, PlatformDetails: "Linux/UNIX",
		UsageOperation: "RunInstances", BootMode: "legacy-bios", Metadata: xMD(in.md, "applied"),
	}
	if in.state == "terminated" {
		x.SubnetID, x.VpcID = "", ""
	}
	switch in.state {
	case "stopped", "stopping":
		x.StateReason = &xStateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	case "terminated", "shutting-down":
		x.StateReason = &xStateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	}
	if in.profileARN != "" {
		x.Profile = &xProfile{Arn: in.profileARN, ID: in.profileID}
	}
	for _, b := range in.bdms {
		x.BDMs = append(x.BDMs, xInstBDM{DeviceName: b.device, Ebs: xEbsDev{VolumeID: b.volumeID, Status: "attached", AttachTime: ts(b.attachTime), DeleteOnTerm: b.deleteOnTerm}})
	}
	for i, eid := range in.enis {
		e, ok := st.enis.get(eid)
		if !ok {
			continue
		}
		xe := st.xInstENI(e)
		x.ENIs = append(x.ENIs, xe)
		if i == 0 {
			x.PrivateIP, x.PrivateDNS, x.SourceDestCheck = e.privateIP, e.privateDNS, e.sourceDestCheck
			x.PublicIP, x.DNSName = e.publicIP, e.publicDNS
		}
	}
	return x
}

func (st *state) xInstENI(e *eni) xInstENI {
	xe := xInstENI{ID: e.id, SubnetID: e.subnetID, VpcID: e.vpcID, Description: e.desc, OwnerID: AccountID,
		Status: e.status, MAC: e.mac, PrivateIP: e.privateIP, PrivateDNS: e.privateDNS,
		SourceDestCheck: e.sourceDestCheck, Groups: st.groupRefs(e.groups), InterfaceType: "interface", IPv6: ipv6Addrs(e.ipv6)}
	if e.attach != nil {
		xe.Attachment = xInstENIAttach{AttachmentID: e.attach.id, DeviceIndex: e.attach.deviceIndex,
			Status: e.attach.status, AttachTime: ts(e.attach.time), DeleteOnTerm: e.attach.deleteOnTerm}
	}
	pip := xPrivIP{PrivateIP: e.privateIP, PrivateDNS: e.privateDNS, Primary: true}
	if e.publicIP != "" {
		xe.Assoc = &xAssoc{PublicIP: e.publicIP, PublicDNSName: e.publicDNS, IPOwnerID: "amazon"}
		pip.Assoc = xe.Assoc
	}
	xe.PrivateIPs = []xPrivIP{pip}
	return xe
}

// instanceVisible reports whether Describe calls show the instance.
func (st *state) instanceVisible(in *instance) bool {
	if !st.visible(in.visibleAt) {
		return false
	}
	return in.state != "terminated" || st.now.Sub(in.terminatedAt) < time.Hour
}

// lookupInstances resolves ids, failing with the EC2 codes for malformed
// and unknown ids.
func (st *state) lookupInstances(ids []string) ([]*instance, error) {
	var missing []string
	out := make([]*instance, 0, len(ids))
	for _, id := range ids {
		if !reInstanceID.MatchString(id) {
			return nil, errf("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		in, ok := st.instances.get(id)
		if !ok || !st.instanceVisible(in) {
			missing = append(missing, id)
			continue
		}
		out = append(out, in)
	}
	if len(missing) == 1 {
		return nil, errf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	}
	if len(missing) > 1 {
		return nil, errf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	return out, nil
}

func (st *state) instanceAttr(in *instance) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return one(in.id), true
		case "instance-state-name":
			return one(in.state), true
		case "instance-state-code":
			return one(strconv.Itoa(stateCode(in.state))), true
		case "instance-type":
			return one(in.instanceType), true
		case "image-id":
			return one(in.imageID), true
		case "vpc-id":
			return one(in.vpcID), true
		case "subnet-id":
			return one(in.subnetID), true
		case "availability-zone":
			return one(in.az), true
		case "key-name":
			return one(in.keyName), true
		case "reservation-id":
			return one(in.reservationID), true
		case "owner-id":
			return one(AccountID), true
		case "client-token":
			return one(in.clientToken), true
		case "iam-instance-profile.arn":
			return one(in.profileARN), true
		case "instance.group-id", "group-id":
			return st.instanceGroups(in), true
		case "instance.group-name", "group-name":
			var out []string
			for _, g := range st.groupRefs(st.instanceGroups(in)) {
				out = append(out, g.GroupName)
			}
			return out, true
		case "private-ip-address", "network-interface.addresses.private-ip-address", "ip-address",
			"private-dns-name", "dns-name", "network-interface.network-interface-id":
			var out []string
			for i, eid := range in.enis {
				e, ok := st.enis.get(eid)
				if !ok {
					continue
				}
				switch name {
				case "private-ip-address", "network-interface.addresses.private-ip-address":
					if i == 0 || name != "private-ip-address" {
						out = append(out, e.privateIP)
					}
				case "ip-address":
					if i == 0 && e.publicIP != "" {
						out = append(out, e.publicIP)
					}
				case "private-dns-name":
					if i == 0 {
						out = append(out, e.privateDNS)
					}
				case "dns-name":
					if i == 0 && e.publicDNS != "" {
						out = append(out, e.publicDNS)
					}
				default:
					out = append(out, e.id)
				}
			}
			return out, true
		case "block-device-mapping.volume-id", "block-device-mapping.device-name":
			var out []string
			for _, b := range in.bdms {
				if name == "block-device-mapping.volume-id" {
					out = append(out, b.volumeID)
				} else {
					out = append(out, b.device)
				}
			}
			return out, true
		case "root-device-name":
			return one(in.rootDevice), true
		case "root-device-type":
			return one("ebs"), true
		case "architecture":
			return one(in.architecture), true
		}
		return nil, false
	}
}

func (st *state) describeInstances(q *qnode) (any, error) {
	ids := q.strs("InstanceId")
	hits, next, err := describe(st, q, describeSpec[*instance, *instance]{
		lo: 5, hi: 1000, named: len(ids) > 0, namedParam: "instancesSet",
		check:  st.instanceAttr(&instance{}),
		lookup: func() ([]*instance, error) { return st.lookupInstances(ids) },
		all:    st.visibleInstances,
		id:     func(in *instance) string { return in.id },
		attr:   st.instanceAttr,
		item:   func(in *instance) *instance { return in },
	})
	if err != nil {
		return nil, err
	}
	type out struct {
		Reservations items[xReservation] `xml:"reservationSet"`
		NextToken    string              `xml:"nextToken,omitempty"`
	}
	var o out
	o.NextToken = next
	idx := map[string]int{}
	for _, in := range hits {
		i, ok := idx[in.reservationID]
		if !ok {
			i = len(o.Reservations.Item)
			idx[in.reservationID] = i
			o.Reservations.Item = append(o.Reservations.Item, xReservation{ReservationID: in.reservationID, OwnerID: AccountID})
		}
		o.Reservations.Item[i].Instances.Item = append(o.Reservations.Item[i].Instances.Item, st.xInstance(in))
	}
	return o, nil
}

// visibleInstances returns the instances Describe calls show.
func (st *state) visibleInstances() []*instance {
	return visibleOf(st.instances.all(), st.instanceVisible)
}

// runSpec is the merged launch request.
type runSpec struct {
	imageID, instanceType, keyName, subnetID, privateIP string
	az                                                  string
	sgIDs, sgNames                                      []string
	profileARN, profileName                             string
	bdms                                                []bdmSpec
	tagSpecs                                            []tagSpec
	disableTerm, disableStop                            bool
	shutdown                                            string
	publicIP                                            *bool
	userData                                            string
	monitoring                                          bool
	ipv6Count                                           int64
	ebsOptimized                                        bool
	ltID, ltName, ltVersion                             string
	md                                                  []*qnode
}

func parseBDMs(q *qnode, key string) ([]bdmSpec, error) {
	var out []bdmSpec
	for _, n := range q.list(key) {
		b := bdmSpec{device: n.str("DeviceName"), snapshotID: n.str("Ebs", "SnapshotId"), volType: n.str("Ebs", "VolumeType")}
		if b.device == "" {
			return nil, errf("InvalidBlockDeviceMapping", "The device name must be specified")
		}
		if n.has("NoDevice") {
			b.noDevice = true
		}
		if v, ok, err := n.integer("Ebs", "VolumeSize"); err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		} else if ok {
			if v < 1 || v > 65536 {
				return nil, errf("InvalidParameterValue", "Volume size %d is out of range", v)
			}
			b.size = int32(v)
		}
		if v, ok, err := n.integer("Ebs", "Iops"); err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		} else if ok {
			b.iops = int32(v)
		}
		if v, ok, err := n.boolean("Ebs", "DeleteOnTermination"); err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		} else if ok {
			b.deleteOnTerm = &v
		}
		if v, _, err := n.boolean("Ebs", "Encrypted"); err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		} else {
			b.encrypted = v
		}
		out = append(out, b)
	}
	return out, nil
}

func (st *state) resolveLaunchTemplate(q *qnode, spec *runSpec) error {
	lt := q.child("LaunchTemplate")
	if lt == nil {
		return nil
	}
	var tpl *launchTemplate
	id, name := lt.str("LaunchTemplateId"), lt.str("LaunchTemplateName")
	switch {
	case id != "":
		t, ok := st.lts.get(id)
		if !ok {
			return errf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		tpl = t
	case name != "":
		for _, t := range st.lts.all() {
			if t.name == name {
				tpl = t
			}
		}
		if tpl == nil {
			return errf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
	default:
		return errf("MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
	}
	v, err := tpl.version(lt.str("Version"))
	if err != nil {
		return err
	}
	d := v.data
	spec.imageID, spec.instanceType, spec.keyName = d.imageID, d.instanceType, d.keyName
	spec.sgIDs, spec.sgNames, spec.subnetID = d.sgIDs, d.sgNames, d.subnetID
	spec.profileARN, spec.profileName, spec.userData = d.profileARN, d.profileName, d.userData
	spec.disableTerm, spec.disableStop = d.disableTerm, d.disableStop
	spec.tagSpecs = append(spec.tagSpecs, d.tagSpecs...)
	spec.bdms = d.bdms
	spec.ltID, spec.ltName, spec.ltVersion = tpl.id, tpl.name, strconv.FormatInt(v.num, 10)
	if d.md != nil {
		spec.md = append(spec.md, d.md)
	}
	return nil
}

func (st *state) parseRunSpec(q *qnode) (*runSpec, error) {
	spec := &runSpec{}
	if err := st.resolveLaunchTemplate(q, spec); err != nil {
		return nil, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&spec.imageID, q.str("ImageId"))
	set(&spec.instanceType, q.str("InstanceType"))
	set(&spec.keyName, q.str("KeyName"))
	set(&spec.subnetID, q.str("SubnetId"))
	set(&spec.privateIP, q.str("PrivateIpAddress"))
	set(&spec.az, q.str("Placement", "AvailabilityZone"))
	set(&spec.profileARN, q.str("IamInstanceProfile", "Arn"))
	set(&spec.profileName, q.str("IamInstanceProfile", "Name"))
	set(&spec.userData, q.str("UserData"))
	set(&spec.shutdown, q.str("InstanceInitiatedShutdownBehavior"))
	if m := q.child("MetadataOptions"); m != nil {
		spec.md = append(spec.md, m)
	}
	if v := q.strs("SecurityGroupId"); len(v) > 0 {
		spec.sgIDs = v
	}
	if v := q.strs("SecurityGroup"); len(v) > 0 {
		spec.sgNames = v
	}
	if n, ok, err := q.integer("Ipv6AddressCount"); err != nil {
		return nil, errf("InvalidParameterValue", "%v", err)
	} else if ok {
		spec.ipv6Count = n
	}
	if nis := q.list("NetworkInterface"); len(nis) > 0 {
		ni := nis[0]
		set(&spec.subnetID, ni.str("SubnetId"))
		set(&spec.privateIP, ni.str("PrivateIpAddress"))
		if n, ok, err := ni.integer("Ipv6AddressCount"); err == nil && ok {
			spec.ipv6Count = n
		}
		if v := ni.strs("SecurityGroupId"); len(v) > 0 {
			spec.sgIDs = v
		}
		if v, ok, err := ni.boolean("AssociatePublicIpAddress"); err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		} else if ok {
			spec.publicIP = &v
		}
	}
	for _, b := range []struct {
		dst *bool
		key []string
	}{
		{&spec.disableTerm, []string{"DisableApiTermination"}},
		{&spec.disableStop, []string{"DisableApiStop"}},
		{&spec.monitoring, []string{"Monitoring", "Enabled"}},
		{&spec.ebsOptimized, []string{"EbsOptimized"}},
	} {
		v, ok, err := q.boolean(b.key...)
		if err != nil {
			return nil, errf("InvalidParameterValue", "%v", err)
		}
		if ok {
			*b.dst = v
		}
	}
	bdms, err := parseBDMs(q, "BlockDeviceMapping")
	if err != nil {
		return nil, err
	}
	if len(bdms) > 0 {
		spec.bdms = bdms
	}
	ts, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		switch t.resourceType {
		case "instance", "volume", "network-interface":
		default:
			return nil, errf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", t.resourceType)
		}
	}
	spec.tagSpecs = append(spec.tagSpecs, ts...)
	if spec.instanceType == "" {
		spec.instanceType = "m1.small"
	}
	if spec.shutdown == "" {
		spec.shutdown = "stop"
	}
	if spec.shutdown != "stop" && spec.shutdown != "terminate" {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid", spec.shutdown)
	}
	return spec, nil
}

func (st *state) runInstances(q *qnode) (any, error) {
	minC, okMin, err1 := q.integer("MinCount")
	maxC, okMax, err2 := q.integer("MaxCount")
	if err1 != nil || err2 != nil {
		return nil, errf("InvalidParameterValue", "MinCount and MaxCount must be integers")
	}
	if !okMin {
		return nil, errf("MissingParameter", "The request must contain the parameter MinCount")
	}
	if !okMax {
		return nil, errf("MissingParameter", "The request must contain the parameter MaxCount")
	}
	if minC < 1 || maxC < minC {
		return nil, errf("InvalidParameterValue", "MinCount (%d) must be at least 1 and not more than MaxCount (%d)", minC, maxC)
	}
	if maxC > 1000 {
		return nil, errf("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 1000 allows for the specified instance type.", maxC)
	}
	spec, err := st.parseRunSpec(q)
	if err != nil {
		return nil, err
	}
	if spec.imageID == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter ImageId")
	}
	img, err := st.lookupImage(spec.imageID)
	if err != nil {
		return nil, err
	}
	if img.state != "available" {
		return nil, errf("InvalidAMIID.Unavailable", "The image id '[%s]' is not available", img.id)
	}
	// subnet
	var sn *subnet
	if spec.subnetID != "" {
		if !reSubnetID.MatchString(spec.subnetID) {
			return nil, errf("InvalidSubnetID.Malformed", "Invalid id: \"%s\"", spec.subnetID)
		}
		s, ok := st.subnets.get(spec.subnetID)
		if !ok {
			return nil, errf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", spec.subnetID)
		}
		sn = s
	} else {
		for _, s := range st.subnets.all() {
			if s.defaultForAz && (spec.az == "" || s.az == spec.az) {
				sn = s
				break
			}
		}
		if sn == nil {
			return nil, errf("InvalidParameterValue", "Invalid availability zone: [%s]", spec.az)
		}
	}
	// groups
	var groups []string
	for _, id := range spec.sgIDs {
		g, err := st.lookupGroup(id)
		if err != nil {
			return nil, err
		}
		if g.vpcID != sn.vpcID {
			return nil, errf("InvalidParameter", "Security group %s and subnet %s belong to different networks.", id, sn.id)
		}
		groups = append(groups, g.id)
	}
	for _, name := range spec.sgNames {
		g := st.groupByName(sn.vpcID, name)
		if g == nil {
			return nil, errf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", name, sn.vpcID)
		}
		groups = append(groups, g.id)
	}
	if len(groups) == 0 {
		groups = []string{st.groupByName(sn.vpcID, "default").id}
	}
	// profile
	profileARN := spec.profileARN
	if profileARN == "" && spec.profileName != "" {
		profileARN = "arn:aws:iam::" + AccountID + ":instance-profile/" + spec.profileName
	}
	if profileARN != "" && !strings.HasPrefix(profileARN, "arn:aws:iam::") {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.arn is invalid.", profileARN)
	}
	// block devices: the image's, overridden by the request's
	var devs []bdmSpec
	for _, b := range img.bdms {
		dot := b.deleteOnTerm
		devs = append(devs, bdmSpec{device: b.device, snapshotID: b.snapshotID, size: b.size, volType: b.volType, deleteOnTerm: &dot, noDevice: b.noDevice})
	}
	for _, r := range spec.bdms {
		found := false
		for i := range devs {
			if devs[i].device != r.device {
				continue
			}
			found = true
			if r.noDevice {
				devs[i].noDevice = true
				continue
			}
			if r.size != 0 {
				if r.size < devs[i].size {
					return nil, errf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", r.size, devs[i].snapshotID, devs[i].size)
				}
				devs[i].size = r.size
			}
			if r.volType != "" {
				devs[i].volType = r.volType
			}
			if r.deleteOnTerm != nil {
				devs[i].deleteOnTerm = r.deleteOnTerm
			}
			devs[i].encrypted = devs[i].encrypted || r.encrypted
		}
		if !found && !r.noDevice {
			if r.size == 0 && r.snapshotID == "" {
				return nil, errf("InvalidBlockDeviceMapping", "The device '%s' needs a volume size or a snapshot", r.device)
			}
			devs = append(devs, r)
		}
	}
	for _, r := range spec.bdms {
		if r.volType != "" {
			switch r.volType {
			case "gp2", "gp3", "io1", "io2", "st1", "sc1", "standard":
			default:
				return nil, errf("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid.", r.volType)
			}
		}
	}
	// instance metadata service: the image's default, then the template's
	// and the request's settings
	md := metadataOptions{tokens: "optional", endpoint: "enabled", ipv6: "disabled", tags: "disabled", hopLimit: 1}
	if img.name == ImageAmazonLinux2023 {
		md.tokens, md.hopLimit = "required", 2
	}
	for _, n := range spec.md {
		if md, err = parseMetadataOptions(n, md); err != nil {
			return nil, err
		}
	}
	// idempotency
	token := q.str("ClientToken")
	fp := fingerprint(q)
	if token != "" {
		if e, ok := st.idem["RunInstances/"+token]; ok {
			if e.fingerprint != fp {
				return nil, errf("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
			}
			if err := dryRun(q); err != nil {
				return nil, err
			}
			return st.reservationOut(e.result.(string)), nil
		}
		if len(token) > 64 {
			return nil, errf("InvalidParameterValue", "Value (%s) for parameter clientToken is invalid: longer than 64 characters", token)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}

	if spec.ipv6Count < 0 || spec.ipv6Count > 10 {
		return nil, errf("InvalidParameterValue", "Value (%d) for parameter ipv6AddressCount is invalid.", spec.ipv6Count)
	}
	if spec.ipv6Count > 0 && !sn.ipv6.IsValid() {
		return nil, errf("InvalidParameterCombination", "You cannot assign IPv6 addresses to an instance in a subnet without an IPv6 CIDR block: '%s'", sn.id)
	}
	resID := st.newID("r")
	for i := int64(0); i < maxC; i++ {
		in := &instance{
			id: st.newID("i"), imageID: img.id, instanceType: spec.instanceType, keyName: spec.keyName,
			subnetID: sn.id, vpcID: sn.vpcID, az: sn.az, state: "pending", stateAt: st.now.Add(st.srv.opts.pendingDelay),
			launchTime: st.now, reservationID: resID, rootDevice: img.rootDevice, profileARN: profileARN,
			disableTerm: spec.disableTerm, disableStop: spec.disableStop, shutdownBehavior: spec.shutdown,
			clientToken: token, architecture: img.arch, ebsOptimized: spec.ebsOptimized, monitoring: "disabled",
			ltID: spec.ltID, ltName: spec.ltName, ltVersion: spec.ltVersion, userData: spec.userData,
			launchIndex: int(i), visibleAt: st.visibleAt(), md: md,
		}
		if spec.monitoring {
			in.monitoring = "enabled"
		}
		if strings.EqualFold(q.str("InstanceMarketOptions", "MarketType"), "spot") {
			in.lifecycle = "spot"
		}
		if profileARN != "" {
			in.profileID = "AIPA" + strings.ToUpper(st.newID("x")[2:19])
		}
		// primary network interface
		e := &eni{id: st.newID("eni"), subnetID: sn.id, vpcID: sn.vpcID, az: sn.az, mac: st.mac(),
			groups: append([]string(nil), groups...), status: "in-use", sourceDestCheck: true, visibleAt: in.visibleAt}
		if spec.privateIP != "" && i == 0 {
			e.privateIP = spec.privateIP
		} else {
			e.privateIP = st.allocIP(sn)
		}
		e.privateDNS = st.privateDNS(e.privateIP)
		for range spec.ipv6Count {
			e.ipv6 = append(e.ipv6, st.allocIPv6(sn))
		}
		if (spec.publicIP == nil && sn.mapPublic) || (spec.publicIP != nil && *spec.publicIP) {
			e.publicIP = st.publicIP()
			e.publicDNS = st.publicDNS(e.publicIP)
		}
		e.attach = &eniAttachment{id: st.newID("eni-attach"), instanceID: in.id, deviceIndex: 0, status: "attached", deleteOnTerm: true, time: st.now}
		st.enis.put(e.id, e)
		in.enis = []string{e.id}
		st.setTags(e.id, tagsFor(spec.tagSpecs, "network-interface"))
		// volumes
		for _, d := range devs {
			if d.noDevice {
				continue
			}
			dot := true
			if d.deleteOnTerm != nil {
				dot = *d.deleteOnTerm
			} else if d.device != img.rootDevice {
				dot = false
			}
			vt := d.volType
			if vt == "" {
				vt = "gp3"
			}
			v := &volume{id: st.newID("vol"), az: sn.az, volType: vt, snapshotID: d.snapshotID, size: d.size,
				encrypted: d.encrypted, state: "in-use", createTime: st.now, visibleAt: in.visibleAt,
				attach: &volAttach{instanceID: in.id, device: d.device, state: "attached", time: st.now, deleteOnTerm: dot}}
			if vt == "gp3" {
				v.iops, v.throughput = 3000, 125
			}
			st.volumes.put(v.id, v)
			in.bdms = append(in.bdms, bdm{device: d.device, volumeID: v.id, deleteOnTerm: dot, attachTime: st.now})
			st.setTags(v.id, tagsFor(spec.tagSpecs, "volume"))
		}
		st.instances.put(in.id, in)
		st.setTags(in.id, tagsFor(spec.tagSpecs, "instance"))
		st.moving[in.id] = struct{}{}
	}
	if token != "" {
		st.idem["RunInstances/"+token] = idemEntry{fingerprint: fp, result: resID}
	}
	return st.reservationOut(resID), nil
}

type runOut struct {
	ReservationID string           `xml:"reservationId"`
	OwnerID       string           `xml:"ownerId"`
	Groups        items[xGroup]    `xml:"groupSet"`
	Instances     items[xInstance] `xml:"instancesSet"`
}

func (st *state) reservationOut(resID string) runOut {
	o := runOut{ReservationID: resID, OwnerID: AccountID}
	for _, in := range st.instances.all() {
		if in.reservationID == resID {
			o.Instances.Item = append(o.Instances.Item, st.xInstance(in))
		}
	}
	return o
}

type xStateChange struct {
	InstanceID string `xml:"instanceId"`
	Current    xState `xml:"currentState"`
	Previous   xState `xml:"previousState"`
}

type stateChangeOut struct {
	Instances items[xStateChange] `xml:"instancesSet"`
}

// changeStates applies move to each instance in turn and answers with
// every instance's previous and current state.
func changeStates(ins []*instance, move func(in *instance)) stateChangeOut {
	var o stateChangeOut
	for _, in := range ins {
		prev := in.state
		move(in)
		o.Instances.Item = append(o.Instances.Item, xStateChange{InstanceID: in.id, Current: mkState(in.state), Previous: mkState(prev)})
	}
	return o
}

// userMove starts a user-initiated transition to state, done after delay.
func (st *state) userMove(in *instance, state string, delay time.Duration) {
	in.state, in.stateAt = state, st.now.Add(delay)
	in.stateReason = "User initiated (" + st.now.Format("2006-01-02 15:04:05 MST") + ")"
	st.moving[in.id] = struct{}{}
}

func (st *state) instanceIDsParam(q *qnode) ([]*instance, error) {
	ids := q.strs("InstanceId")
	if len(ids) == 0 {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	return st.lookupInstances(ids)
}

func (st *state) terminateInstances(q *qnode) (any, error) {
	ins, err := st.instanceIDsParam(q)
	if err != nil {
		return nil, err
	}
	var blocked []string
	for _, in := range ins {
		if in.disableTerm && in.state != "terminated" {
			blocked = append(blocked, in.id)
		}
	}
	if len(blocked) > 0 {
		return nil, errf("OperationNotPermitted", "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", strings.Join(blocked, ", "))
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	return changeStates(ins, func(in *instance) {
		if in.state != "terminated" && in.state != "shutting-down" {
			st.userMove(in, "shutting-down", st.srv.opts.termDelay)
		}
	}), nil
}

func (st *state) stopInstances(q *qnode) (any, error) {
	ins, err := st.instanceIDsParam(q)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		switch in.state {
		case "terminated", "shutting-down":
			return nil, errf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be stopped.", in.id)
		}
		if in.instanceStore {
			return nil, errf("UnsupportedOperation", "The instance '%s' does not have an 'ebs' root device type and cannot be stopped.", in.id)
		}
		if in.disableStop {
			return nil, errf("OperationNotPermitted", "The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.", in.id)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	return changeStates(ins, func(in *instance) {
		if in.state == "running" || in.state == "pending" {
			st.userMove(in, "stopping", st.srv.opts.stopDelay)
		}
	}), nil
}

func (st *state) startInstances(q *qnode) (any, error) {
	ins, err := st.instanceIDsParam(q)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		switch in.state {
		case "terminated", "shutting-down", "stopping":
			return nil, errf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", in.id)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	return changeStates(ins, func(in *instance) {
		if in.state != "stopped" {
			return
		}
		in.state, in.stateAt, in.stateReason = "pending", st.now.Add(st.srv.opts.pendingDelay), ""
		st.moving[in.id] = struct{}{}
		if len(in.enis) > 0 {
			if e, ok := st.enis.get(in.enis[0]); ok {
				if sn, ok := st.subnets.get(e.subnetID); ok && sn.mapPublic {
					e.publicIP = st.publicIP()
					e.publicDNS = st.publicDNS(e.publicIP)
				}
			}
		}
	}), nil
}

// setInstanceGroups replaces the groups of an instance's primary ENI.
func (st *state) setENIGroups(e *eni, ids []string) error {
	if len(ids) == 0 {
		return errf("MissingParameter", "The request must contain the parameter groupId")
	}
	if len(ids) > 5 {
		return errf("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
	}
	for _, id := range ids {
		g, err := st.lookupGroup(id)
		if err != nil {
			return err
		}
		if g.vpcID != e.vpcID {
			return errf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", id, e.vpcID)
		}
	}
	e.groups = dedupe(ids)
	return nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (st *state) modifyInstanceAttribute(q *qnode) (any, error) {
	id := q.str("InstanceId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	ins, err := st.lookupInstances([]string{id})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.state == "terminated" || in.state == "shutting-down" {
		return nil, errf("IncorrectInstanceState", "The instance '%s' is not in a state from which its attributes can be modified.", in.id)
	}
	// Normalise the two request shapes: Attribute=x&Value=y, or X.Value=y.
	attr, val := q.str("Attribute"), q.str("Value")
	type change struct{ attr, val string }
	var changes []change
	if attr != "" {
		changes = append(changes, change{attr, val})
	}
	for _, a := range []string{"DisableApiTermination", "DisableApiStop", "InstanceType", "InstanceInitiatedShutdownBehavior", "SourceDestCheck", "UserData", "EbsOptimized"} {
		if q.has(a, "Value") {
			changes = append(changes, change{strings.ToLower(a[:1]) + a[1:], q.str(a, "Value")})
		}
	}
	groups := q.strs("GroupId")
	bdms := q.list("BlockDeviceMapping")
	if len(changes)+len(bdms) == 0 && len(groups) == 0 {
		return nil, errf("MissingParameter", "The request must contain a parameter to modify")
	}
	if len(changes)+boolInt(len(groups) > 0)+boolInt(len(bdms) > 0) > 1 {
		return nil, errf("InvalidParameterCombination", "Only one attribute can be modified at a time")
	}
	parseB := func(v string) (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, errf("InvalidParameterValue", "Value (%s) for parameter value is invalid. Expected: 'true' or 'false'.", v)
		}
		return b, nil
	}
	if len(groups) > 0 {
		if len(in.enis) == 0 {
			return nil, errf("IncorrectInstanceState", "The instance '%s' has no network interface", in.id)
		}
		e, _ := st.enis.get(in.enis[0])
		if err := dryRun(q); err != nil {
			return nil, err
		}
		if len(in.enis) > 1 {
			return nil, errf("InvalidInstanceID", "There are multiple interfaces attached to instance '%s'. Please specify an interface ID for the operation instead.", in.id)
		}
		if err := st.setENIGroups(e, groups); err != nil {
			return nil, err
		}
		return ec2Return{Return: true}, nil
	}
	if len(bdms) > 0 {
		for _, n := range bdms {
			dev := n.str("DeviceName")
			v, ok, err := n.boolean("Ebs", "DeleteOnTermination")
			if err != nil || !ok {
				return nil, errf("InvalidParameterValue", "BlockDeviceMapping needs Ebs.DeleteOnTermination")
			}
			found := false
			for i := range in.bdms {
				if in.bdms[i].device == dev {
					found = true
					if dryRun(q) == nil {
						in.bdms[i].deleteOnTerm = v
						if vol, ok := st.volumes.get(in.bdms[i].volumeID); ok && vol.attach != nil {
							vol.attach.deleteOnTerm = v
						}
					}
				}
			}
			if !found {
				return nil, errf("InvalidInstanceAttributeValue", "No device is currently mapped at %s", dev)
			}
		}
		if err := dryRun(q); err != nil {
			return nil, err
		}
		return ec2Return{Return: true}, nil
	}
	c := changes[0]
	var apply func()
	switch c.attr {
	case "disableApiTermination":
		b, err := parseB(c.val)
		if err != nil {
			return nil, err
		}
		if b && in.lifecycle == "spot" {
			return nil, errf("UnsupportedOperation", "Termination protection is not supported for Spot Instances: '%s'.", in.id)
		}
		apply = func() { in.disableTerm = b }
	case "disableApiStop":
		b, err := parseB(c.val)
		if err != nil {
			return nil, err
		}
		if b && in.lifecycle == "spot" {
			return nil, errf("UnsupportedOperation", "Stop protection is not supported for Spot Instances: '%s'.", in.id)
		}
		if b && in.instanceStore {
			return nil, errf("UnsupportedOperation", "Stop protection is not supported for instance store-backed instances: '%s'.", in.id)
		}
		apply = func() { in.disableStop = b }
	case "ebsOptimized":
		b, err := parseB(c.val)
		if err != nil {
			return nil, err
		}
		apply = func() { in.ebsOptimized = b }
	case "sourceDestCheck":
		b, err := parseB(c.val)
		if err != nil {
			return nil, err
		}
		apply = func() {
			if e, ok := st.enis.get(firstOr(in.enis)); ok {
				e.sourceDestCheck = b
			}
		}
	case "instanceType":
		if in.state != "stopped" {
			return nil, errf("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", in.id)
		}
		apply = func() { in.instanceType = c.val }
	case "instanceInitiatedShutdownBehavior":
		if c.val != "stop" && c.val != "terminate" {
			return nil, errf("InvalidParameterValue", "Value (%s) for parameter value is invalid.", c.val)
		}
		if c.val == "stop" && in.instanceStore {
			return nil, errf("UnsupportedOperation", "The instance '%s' does not have an 'ebs' root device type and cannot be stopped.", in.id)
		}
		apply = func() { in.shutdownBehavior = c.val }
	case "userData":
		if in.state != "stopped" {
			return nil, errf("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", in.id)
		}
		apply = func() { in.userData = c.val }
	case "kernel", "ramdisk", "sriovNetSupport", "enaSupport":
		return nil, errf("UnsupportedOperation", "The attribute '%s' cannot be modified on instance '%s' (HVM instance with an EBS root device).", c.attr, in.id)
	default:
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Unknown attribute.", c.attr)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	apply()
	return ec2Return{Return: true}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func firstOr(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

type xValue struct {
	Value string `xml:"value"`
}

type xBoolValue struct {
	Value bool `xml:"value"`
}

func (st *state) describeInstanceAttribute(q *qnode) (any, error) {
	if err := dryRun(q); err != nil {
		return nil, err
	}
	id, attr := q.str("InstanceId"), q.str("Attribute")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	if attr == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter Attribute")
	}
	ins, err := st.lookupInstances([]string{id})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	type out struct {
		InstanceID   string      `xml:"instanceId"`
		DisableTerm  *xBoolValue `xml:"disableApiTermination,omitempty"`
		DisableStop  *xBoolValue `xml:"disableApiStop,omitempty"`
		EbsOptimized *xBoolValue `xml:"ebsOptimized,omitempty"`
		SrcDstCheck  *xBoolValue `xml:"sourceDestCheck,omitempty"`
		InstanceType *xValue     `xml:"instanceType,omitempty"`
		Shutdown     *xValue     `xml:"instanceInitiatedShutdownBehavior,omitempty"`
		RootDevice   *xValue     `xml:"rootDeviceName,omitempty"`
		UserData     *xValue     `xml:"userData,omitempty"`
		Groups       []xGroup    `xml:"groupSet>item"`
		BDMs         []xInstBDM  `xml:"blockDeviceMapping>item"`
	}
	o := out{InstanceID: in.id}
	switch attr {
	case "disableApiTermination":
		o.DisableTerm = &xBoolValue{in.disableTerm}
	case "disableApiStop":
		o.DisableStop = &xBoolValue{in.disableStop}
	case "ebsOptimized":
		o.EbsOptimized = &xBoolValue{in.ebsOptimized}
	case "sourceDestCheck":
		v := true
		if e, ok := st.enis.get(firstOr(in.enis)); ok {
			v = e.sourceDestCheck
		}
		o.SrcDstCheck = &xBoolValue{v}
	case "instanceType":
		o.InstanceType = &xValue{in.instanceType}
	case "instanceInitiatedShutdownBehavior":
		o.Shutdown = &xValue{in.shutdownBehavior}
	case "rootDeviceName":
		o.RootDevice = &xValue{in.rootDevice}
	case "userData":
		o.UserData = &xValue{in.userData}
	case "groupSet":
		o.Groups = st.groupRefs(st.instanceGroups(in))
	case "blockDeviceMapping":
		o.BDMs = st.xInstance(in).BDMs
	case "kernel", "ramdisk", "productCodes", "sriovNetSupport", "enaSupport", "enclaveOptions":
	default:
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Unknown attribute.", attr)
	}
	return o, nil
}

type xStatusDetail struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type xStatusSummary struct {
	Status  string          `xml:"status"`
	Details []xStatusDetail `xml:"details>item"`
}

func (st *state) describeInstanceStatus(q *qnode) (any, error) {
	ids := q.strs("InstanceId")
	all, _, _ := q.boolean("IncludeAllInstances")
	type xIS struct {
		InstanceID string         `xml:"instanceId"`
		AZ         string         `xml:"availabilityZone"`
		State      xState         `xml:"instanceState"`
		System     xStatusSummary `xml:"systemStatus"`
		Instance   xStatusSummary `xml:"instanceStatus"`
		Ebs        xStatusSummary `xml:"attachedEbsStatus"`
	}
	return describeSet(st, q, "instanceStatusSet", describeSpec[*instance, xIS]{
		lo: 5, hi: 1000, named: len(ids) > 0, namedParam: "instancesSet",
		lookup: func() ([]*instance, error) { return st.lookupInstances(ids) },
		all:    st.visibleInstances,
		keep:   func(in *instance) bool { return all || in.state == "running" },
		id:     func(in *instance) string { return in.id },
		attr: func(in *instance) attrFunc {
			status, detail := st.instanceStatus(in)
			return func(name string) ([]string, bool) {
				switch name {
				case "instance-status.status", "system-status.status":
					return one(status), true
				case "instance-status.reachability", "system-status.reachability":
					return one(detail), true
				}
				return st.instanceAttr(in)(name)
			}
		},
		item: func(in *instance) xIS {
			status, detail := st.instanceStatus(in)
			sum := xStatusSummary{Status: status}
			if in.state == "running" {
				sum.Details = []xStatusDetail{{Name: "reachability", Status: detail}}
			}
			return xIS{InstanceID: in.id, AZ: in.az, State: mkState(in.state), System: sum, Instance: sum, Ebs: sum}
		},
	})
}

// instanceStatus is an instance's status check and its reachability detail.
func (st *state) instanceStatus(in *instance) (status, detail string) {
	status, detail = "not-applicable", "not-applicable"
	if in.state == "running" {
		status, detail = "ok", "passed"
		if st.now.Before(in.runningSince.Add(st.srv.opts.statusDelay)) {
			status, detail = "initializing", "initializing"
		}
	}
	return status, detail
}

func (st *state) modifyInstanceMetadataOptions(q *qnode) (any, error) {
	id := q.str("InstanceId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	ins, err := st.lookupInstances([]string{id})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.state == "terminated" || in.state == "shutting-down" {
		return nil, errf("IncorrectInstanceState", "The instance '%s' is not in a state from which its metadata options can be modified.", in.id)
	}
	md, err := parseMetadataOptions(q, in.md)
	if err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	in.md = md
	return struct {
		InstanceID string    `xml:"instanceId"`
		Options    xMetadata `xml:"instanceMetadataOptions"`
	}{in.id, xMD(md, "pending")}, nil
}
