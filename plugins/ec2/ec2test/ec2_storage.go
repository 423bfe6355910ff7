package ec2test

import (
	"strconv"
	"strings"
)

type xVolAttach struct {
	VolumeID     string `xml:"volumeId"`
	InstanceID   string `xml:"instanceId"`
	Device       string `xml:"device"`
	Status       string `xml:"status"`
	AttachTime   string `xml:"attachTime"`
	DeleteOnTerm bool   `xml:"deleteOnTermination"`
}

type xVolume struct {
	VolumeID   string       `xml:"volumeId"`
	Size       int32        `xml:"size"`
	SnapshotID string       `xml:"snapshotId"`
	AZ         string       `xml:"availabilityZone"`
	Status     string       `xml:"status"`
	CreateTime string       `xml:"createTime"`
	Attach     []xVolAttach `xml:"attachmentSet>item"`
	Tags       []xmlTag     `xml:"tagSet>item"`
	VolumeType string       `xml:"volumeType"`
	Iops       int32        `xml:"iops,omitempty"`
	Throughput int32        `xml:"throughput,omitempty"`
	Encrypted  bool         `xml:"encrypted"`
	MultiAtt   bool         `xml:"multiAttachEnabled"`
}

func (st *state) xVolume(v *volume) xVolume {
	x := xVolume{VolumeID: v.id, Size: v.size, SnapshotID: v.snapshotID, AZ: v.az, Status: v.state,
		CreateTime: ts(v.createTime), Tags: st.tagSet(v.id), VolumeType: v.volType, Iops: v.iops,
		Throughput: v.throughput, Encrypted: v.encrypted}
	if v.attach != nil {
		x.Attach = []xVolAttach{{VolumeID: v.id, InstanceID: v.attach.instanceID, Device: v.attach.device,
			Status: v.attach.state, AttachTime: ts(v.attach.time), DeleteOnTerm: v.attach.deleteOnTerm}}
	}
	return x
}

func (st *state) lookupVolume(id string) (*volume, error) {
	if !reVolumeID.MatchString(id) {
		return nil, errf("InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id)
	}
	v, ok := st.volumes.get(id)
	if !ok || !st.visible(v.visibleAt) {
		return nil, errf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	return v, nil
}

func (st *state) describeVolumes(q *qnode) (any, error) {
	ids := q.strs("VolumeId")
	return describeSet(st, q, "volumeSet", describeSpec[*volume, xVolume]{
		lo: 5, hi: 500, named: len(ids) > 0, namedParam: "volumeSet",
		lookup: func() ([]*volume, error) {
			return lookupAllOrMissing(ids, st.lookupVolume,
				func(code string) bool { return code != "InvalidVolumeID.Malformed" },
				func(list string) error {
					return errf("InvalidVolume.NotFound", "The volume '%s' does not exist.", list)
				})
		},
		all: func() []*volume {
			return visibleOf(st.volumes.all(), func(v *volume) bool { return st.visible(v.visibleAt) })
		},
		id:   func(v *volume) string { return v.id },
		attr: st.volumeAttr,
		item: st.xVolume,
	})
}

// volumeAttr returns a volume's values for the DescribeVolumes filters.
func (st *state) volumeAttr(v *volume) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "volume-id":
			return one(v.id), true
		case "status":
			return one(v.state), true
		case "availability-zone":
			return one(v.az), true
		case "volume-type":
			return one(v.volType), true
		case "size":
			return one(strconv.Itoa(int(v.size))), true
		case "snapshot-id":
			return one(v.snapshotID), true
		case "encrypted":
			return one(strconv.FormatBool(v.encrypted)), true
		case "attachment.instance-id", "attachment.device", "attachment.status", "attachment.delete-on-termination":
			if v.attach == nil {
				return nil, true
			}
			switch name {
			case "attachment.instance-id":
				return one(v.attach.instanceID), true
			case "attachment.device":
				return one(v.attach.device), true
			case "attachment.status":
				return one(v.attach.state), true
			}
			return one(strconv.FormatBool(v.attach.deleteOnTerm)), true
		}
		return nil, false
	}
}

// --- snapshots ---

type xSnapshot struct {
	SnapshotID string   `xml:"snapshotId"`
	VolumeID   string   `xml:"volumeId"`
	Status     string   `xml:"status"`
	StartTime  string   `xml:"startTime"`
	Completion string   `xml:"completionTime,omitempty"`
	Progress   string   `xml:"progress"`
	OwnerID    string   `xml:"ownerId"`
	OwnerAlias string   `xml:"ownerAlias,omitempty"`
	VolumeSize int32    `xml:"volumeSize"`
	Desc       string   `xml:"description"`
	Encrypted  bool     `xml:"encrypted"`
	Tier       string   `xml:"storageTier"`
	Tags       []xmlTag `xml:"tagSet>item"`
}

func (st *state) progress(sn *snapshot) string {
	switch sn.state {
	case "completed":
		return "100%"
	case "error":
		return "0%"
	}
	total := sn.doneAt.Sub(sn.startTime)
	if total <= 0 {
		return "0%"
	}
	p := int(100 * st.now.Sub(sn.startTime) / total)
	if p > 99 {
		p = 99
	}
	if p < 0 {
		p = 0
	}
	return strconv.Itoa(p) + "%"
}

func (st *state) xSnapshot(sn *snapshot) xSnapshot {
	x := xSnapshot{SnapshotID: sn.id, VolumeID: sn.volumeID, Status: sn.state, StartTime: ts(sn.startTime),
		Progress: st.progress(sn), OwnerID: sn.ownerID, OwnerAlias: sn.ownerAlias, VolumeSize: sn.volumeSize,
		Desc: sn.desc, Encrypted: sn.encrypted, Tier: "standard", Tags: st.tagSet(sn.id)}
	if sn.state == "completed" {
		x.Completion = ts(sn.doneAt)
	}
	return x
}

func (st *state) newSnapshot(v *volume, desc string) *snapshot {
	sn := &snapshot{id: st.newID("snap"), volumeID: v.id, desc: desc, ownerID: AccountID, volumeSize: v.size,
		state: "pending", startTime: st.now, doneAt: st.now.Add(st.srv.opts.snapshotDelay), encrypted: v.encrypted,
		visibleAt: st.visibleAt()}
	if f := st.faults.SnapshotErrorFraction; f > 0 && st.srv.rng.Float64() < f {
		sn.fail = true
	}
	st.snapshots.put(sn.id, sn)
	st.moving[sn.id] = struct{}{}
	return sn
}

func checkSnapshotTagSpecs(specs []tagSpec) error {
	for _, t := range specs {
		if t.resourceType != "snapshot" {
			return errf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", t.resourceType)
		}
	}
	return nil
}

func (st *state) createSnapshot(q *qnode) (any, error) {
	vid := q.str("VolumeId")
	if vid == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter VolumeId")
	}
	v, err := st.lookupVolume(vid)
	if err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := checkSnapshotTagSpecs(specs); err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	sn := st.newSnapshot(v, q.str("Description"))
	st.setTags(sn.id, tagsFor(specs, "snapshot"))
	return st.xSnapshot(sn), nil
}

func (st *state) createSnapshots(q *qnode) (any, error) {
	iid := q.str("InstanceSpecification", "InstanceId")
	if iid == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceSpecification.InstanceId")
	}
	ins, err := st.lookupInstances([]string{iid})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.state == "terminated" || in.state == "shutting-down" {
		return nil, errf("IncorrectState", "The instance '%s' is not in a state to snapshot its volumes.", in.id)
	}
	exBoot, _, err := q.boolean("InstanceSpecification", "ExcludeBootVolume")
	if err != nil {
		return nil, errf("InvalidParameterValue", "%v", err)
	}
	exclude := map[string]bool{}
	for _, id := range q.strs("InstanceSpecification", "ExcludeDataVolumeId") {
		exclude[id] = true
	}
	copyTags := strings.ToLower(q.str("CopyTagsFromSource")) == "volume"
	if s := q.str("CopyTagsFromSource"); s != "" && !copyTags {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter CopyTagsFromSource is invalid. Expected: 'volume'.", s)
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := checkSnapshotTagSpecs(specs); err != nil {
		return nil, err
	}
	var vols []*volume
	for _, b := range in.bdms {
		if exBoot && b.device == in.rootDevice {
			continue
		}
		if exclude[b.volumeID] {
			continue
		}
		if v, ok := st.volumes.get(b.volumeID); ok {
			vols = append(vols, v)
		}
	}
	if len(vols) == 0 {
		return nil, errf("InvalidParameterValue", "The instance '%s' has no volumes to snapshot after exclusions.", in.id)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	type xSnapInfo struct {
		SnapshotID string   `xml:"snapshotId"`
		VolumeID   string   `xml:"volumeId"`
		State      string   `xml:"state"`
		StartTime  string   `xml:"startTime"`
		Progress   string   `xml:"progress"`
		OwnerID    string   `xml:"ownerId"`
		VolumeSize int32    `xml:"volumeSize"`
		Desc       string   `xml:"description"`
		Encrypted  bool     `xml:"encrypted"`
		Tags       []xmlTag `xml:"tagSet>item"`
	}
	type out struct {
		Set items[xSnapInfo] `xml:"snapshotSet"`
	}
	var o out
	for _, v := range vols {
		sn := st.newSnapshot(v, q.str("Description"))
		if copyTags {
			var kv [][2]string
			for _, t := range st.tagSet(v.id) {
				kv = append(kv, [2]string{t.Key, t.Value})
			}
			st.setTags(sn.id, kv)
		}
		st.setTags(sn.id, tagsFor(specs, "snapshot"))
		o.Set.Item = append(o.Set.Item, xSnapInfo{SnapshotID: sn.id, VolumeID: v.id, State: sn.state,
			StartTime: ts(sn.startTime), Progress: st.progress(sn), OwnerID: sn.ownerID, VolumeSize: sn.volumeSize,
			Desc: sn.desc, Encrypted: sn.encrypted, Tags: st.tagSet(sn.id)})
	}
	return o, nil
}

func (st *state) lookupSnapshot(id string) (*snapshot, error) {
	if !reSnapID.MatchString(id) {
		return nil, errf("InvalidSnapshotID.Malformed", "Invalid id: \"%s\" (expecting \"snap-...\")", id)
	}
	sn, ok := st.snapshots.get(id)
	if !ok || !st.visible(sn.visibleAt) {
		return nil, errf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return sn, nil
}

func (st *state) describeSnapshots(q *qnode) (any, error) {
	ids, owners := q.strs("SnapshotId"), q.strs("Owner")
	return describeSet(st, q, "snapshotSet", describeSpec[*snapshot, xSnapshot]{
		lo: 5, hi: 1000, named: len(ids) > 0, namedParam: "snapshotSet",
		lookup: func() ([]*snapshot, error) {
			return lookupAllOrMissing(ids, st.lookupSnapshot,
				func(code string) bool { return code == "InvalidSnapshot.NotFound" },
				func(list string) error {
					return errf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", list)
				})
		},
		// Without ids or owners, only the account's own snapshots (the
		// public catalogue is not listed).
		all: func() []*snapshot {
			return visibleOf(st.snapshots.all(), func(sn *snapshot) bool {
				return st.visible(sn.visibleAt) && (len(owners) > 0 || sn.ownerID == AccountID)
			})
		},
		keep: func(sn *snapshot) bool { return ownedBy(owners, sn.ownerID, sn.ownerAlias) },
		id:   func(sn *snapshot) string { return sn.id },
		attr: st.snapshotAttr,
		item: st.xSnapshot,
	})
}

// ownedBy reports whether a snapshot or image of owner (alias) passes
// the Owner parameters (account ids, "self" or an alias); no owners
// passes all.
func ownedBy(owners []string, owner, alias string) bool {
	if len(owners) == 0 {
		return true
	}
	for _, o := range owners {
		if o == owner || (o == "self" && owner == AccountID) || (o != "" && o == alias) {
			return true
		}
	}
	return false
}

// snapshotAttr returns a snapshot's values for the DescribeSnapshots filters.
func (st *state) snapshotAttr(sn *snapshot) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "snapshot-id":
			return one(sn.id), true
		case "volume-id":
			return one(sn.volumeID), true
		case "status":
			return one(sn.state), true
		case "owner-id":
			return one(sn.ownerID), true
		case "owner-alias":
			return one(sn.ownerAlias), true
		case "description":
			return one(sn.desc), true
		case "progress":
			return one(st.progress(sn)), true
		case "volume-size":
			return one(strconv.Itoa(int(sn.volumeSize))), true
		case "encrypted":
			return one(strconv.FormatBool(sn.encrypted)), true
		case "start-time":
			return one(ts(sn.startTime)), true
		}
		return nil, false
	}
}

func (st *state) deleteSnapshot(q *qnode) (any, error) {
	id := q.str("SnapshotId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter SnapshotId")
	}
	sn, err := st.lookupSnapshot(id)
	if err != nil {
		return nil, err
	}
	if sn.ownerID != AccountID {
		return nil, errf("UnauthorizedOperation", "You are not authorized to delete snapshot '%s'.", id)
	}
	for _, im := range st.images.all() {
		for _, b := range im.bdms {
			if b.snapshotID == id && im.ownerID == AccountID {
				return nil, errf("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, im.id)
			}
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	st.snapshots.del(id)
	delete(st.tags, id)
	return ec2Return{Return: true}, nil
}

// --- images ---

type xEbsBlock struct {
	SnapshotID   string `xml:"snapshotId,omitempty"`
	VolumeSize   int32  `xml:"volumeSize"`
	DeleteOnTerm bool   `xml:"deleteOnTermination"`
	VolumeType   string `xml:"volumeType"`
	Encrypted    bool   `xml:"encrypted"`
}

type xImageBDM struct {
	DeviceName string     `xml:"deviceName"`
	Ebs        *xEbsBlock `xml:"ebs,omitempty"`
	NoDevice   *string    `xml:"noDevice,omitempty"`
}

type xImage struct {
	ImageID          string      `xml:"imageId"`
	Location         string      `xml:"imageLocation"`
	State            string      `xml:"imageState"`
	OwnerID          string      `xml:"imageOwnerId"`
	CreationDate     string      `xml:"creationDate"`
	IsPublic         bool        `xml:"isPublic"`
	Architecture     string      `xml:"architecture"`
	ImageType        string      `xml:"imageType"`
	OwnerAlias       string      `xml:"imageOwnerAlias,omitempty"`
	Name             string      `xml:"name"`
	Description      string      `xml:"description,omitempty"`
	RootDeviceType   string      `xml:"rootDeviceType"`
	RootDeviceName   string      `xml:"rootDeviceName"`
	BDMs             []xImageBDM `xml:"blockDeviceMapping>item"`
	Virtualization   string      `xml:"virtualizationType"`
	Tags             []xmlTag    `xml:"tagSet>item"`
	Hypervisor       string      `xml:"hypervisor"`
	EnaSupport       bool        `xml:"enaSupport"`
	PlatformDetails  string      `xml:"platformDetails"`
	UsageOperation   string      `xml:"usageOperation"`
	SourceInstanceID string      `xml:"sourceInstanceId,omitempty"`
}

func (st *state) xImage(im *image) xImage {
	x := xImage{ImageID: im.id, Location: im.location, State: im.state, OwnerID: im.ownerID,
		CreationDate: ts(im.creationDate), IsPublic: im.public, Architecture: im.arch, ImageType: "machine",
		OwnerAlias: im.ownerAlias, Name: im.name, Description: im.desc, RootDeviceType: "ebs",
		RootDeviceName: im.rootDevice, Virtualization: "hvm", Tags: st.tagSet(im.id), Hypervisor: "xen",
		EnaSupport: true, PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", SourceInstanceID: im.sourceInstanceID}
	for _, b := range im.bdms {
		xb := xImageBDM{DeviceName: b.device}
		if b.noDevice {
			empty := ""
			xb.NoDevice = &empty
		} else {
			xb.Ebs = &xEbsBlock{SnapshotID: b.snapshotID, VolumeSize: b.size, DeleteOnTerm: b.deleteOnTerm, VolumeType: b.volType}
		}
		x.BDMs = append(x.BDMs, xb)
	}
	return x
}

func (st *state) lookupImage(id string) (*image, error) {
	if !reImageID.MatchString(id) {
		return nil, errf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
	}
	im, ok := st.images.get(id)
	if !ok || !st.visible(im.visibleAt) {
		return nil, errf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return im, nil
}

func (st *state) checkImageName(name string) error {
	if name == "" {
		return errf("MissingParameter", "The request must contain the parameter name")
	}
	if len(name) < 3 || len(name) > 128 {
		return errf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long")
	}
	for _, im := range st.images.all() {
		if im.ownerID == AccountID && im.name == name {
			return errf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, im.id)
		}
	}
	return nil
}

func (st *state) newImage(name, desc, arch, root string, bdms []imageBDM, src string) *image {
	im := &image{id: st.newID("ami"), name: name, desc: desc, ownerID: AccountID, state: "pending",
		availableAt: st.now.Add(st.srv.opts.imageDelay), creationDate: st.now, arch: arch, rootDevice: root,
		bdms: bdms, location: AccountID + "/" + name, sourceInstanceID: src, visibleAt: st.visibleAt()}
	st.images.put(im.id, im)
	st.moving[im.id] = struct{}{}
	return im
}

func (st *state) createImage(q *qnode) (any, error) {
	iid, name := q.str("InstanceId"), q.str("Name")
	if iid == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	ins, err := st.lookupInstances([]string{iid})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.state != "running" && in.state != "stopped" {
		return nil, errf("IncorrectInstanceState", "The instance '%s' is not in the 'running' or 'stopped' state.", in.id)
	}
	if err := st.checkImageName(name); err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	var bdms []imageBDM
	for _, b := range in.bdms {
		v, ok := st.volumes.get(b.volumeID)
		if !ok {
			continue
		}
		sn := st.newSnapshot(v, "Created by CreateImage("+in.id+") for ami-pending from "+v.id)
		sn.doneAt = st.now.Add(st.srv.opts.imageDelay)
		st.setTags(sn.id, tagsFor(specs, "snapshot"))
		bdms = append(bdms, imageBDM{device: b.device, snapshotID: sn.id, size: v.size, volType: v.volType, deleteOnTerm: b.deleteOnTerm})
	}
	im := st.newImage(name, q.str("Description"), in.architecture, in.rootDevice, bdms, in.id)
	st.setTags(im.id, tagsFor(specs, "image"))
	return struct {
		ImageID string `xml:"imageId"`
	}{im.id}, nil
}

func (st *state) registerImage(q *qnode) (any, error) {
	name := q.str("Name")
	if err := st.checkImageName(name); err != nil {
		return nil, err
	}
	root := q.str("RootDeviceName")
	if root == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter rootDeviceName")
	}
	specs, err := parseBDMs(q, "BlockDeviceMapping")
	if err != nil {
		return nil, err
	}
	var bdms []imageBDM
	rootFound := false
	for _, b := range specs {
		ib := imageBDM{device: b.device, snapshotID: b.snapshotID, size: b.size, volType: b.volType, deleteOnTerm: true, noDevice: b.noDevice}
		if b.deleteOnTerm != nil {
			ib.deleteOnTerm = *b.deleteOnTerm
		}
		if ib.volType == "" {
			ib.volType = "gp3"
		}
		if b.snapshotID != "" {
			sn, err := st.lookupSnapshot(b.snapshotID)
			if err != nil {
				return nil, err
			}
			if sn.state != "completed" {
				return nil, errf("IncorrectState", "Snapshot %s is not 'completed' (state: %s).", sn.id, sn.state)
			}
			if ib.size == 0 {
				ib.size = sn.volumeSize
			}
			if ib.size < sn.volumeSize {
				return nil, errf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", ib.size, sn.id, sn.volumeSize)
			}
		}
		if b.device == root {
			rootFound = b.snapshotID != ""
		}
		bdms = append(bdms, ib)
	}
	if !rootFound {
		return nil, errf("InvalidBlockDeviceMapping", "The root device %s must map to a snapshot", root)
	}
	arch := q.str("Architecture")
	if arch == "" {
		arch = "x86_64"
	}
	tspecs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	im := st.newImage(name, q.str("Description"), arch, root, bdms, "")
	st.setTags(im.id, tagsFor(tspecs, "image"))
	return struct {
		ImageID string `xml:"imageId"`
	}{im.id}, nil
}

func (st *state) describeImages(q *qnode) (any, error) {
	ids, owners := q.strs("ImageId"), q.strs("Owner")
	return describeSet(st, q, "imagesSet", describeSpec[*image, xImage]{
		// EC2 lets ImageId go with MaxResults (no namedParam).
		lo: 5, hi: 1000, named: len(ids) > 0,
		lookup: func() ([]*image, error) { return lookupEach(ids, st.lookupImage) },
		all: func() []*image {
			return visibleOf(st.images.all(), func(im *image) bool { return st.visible(im.visibleAt) && im.state != "deregistered" })
		},
		keep: func(im *image) bool { return ownedBy(owners, im.ownerID, im.ownerAlias) },
		id:   func(im *image) string { return im.id },
		attr: imageAttr,
		item: st.xImage,
	})
}

// imageAttr returns an image's values for the DescribeImages filters.
func imageAttr(im *image) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "image-id":
			return one(im.id), true
		case "name":
			return one(im.name), true
		case "state":
			return one(im.state), true
		case "owner-id":
			return one(im.ownerID), true
		case "owner-alias":
			return one(im.ownerAlias), true
		case "architecture":
			return one(im.arch), true
		case "is-public":
			return one(strconv.FormatBool(im.public)), true
		case "root-device-type":
			return one("ebs"), true
		case "virtualization-type":
			return one("hvm"), true
		case "image-type":
			return one("machine"), true
		case "block-device-mapping.snapshot-id":
			var out []string
			for _, b := range im.bdms {
				out = append(out, b.snapshotID)
			}
			return out, true
		}
		return nil, false
	}
}

func (st *state) deregisterImage(q *qnode) (any, error) {
	id := q.str("ImageId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter ImageId")
	}
	im, err := st.lookupImage(id)
	if err != nil {
		return nil, err
	}
	if im.ownerID != AccountID {
		return nil, errf("AuthFailure", "Not authorized for image:%s", id)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	st.images.del(id)
	delete(st.tags, id)
	return ec2Return{Return: true}, nil
}
