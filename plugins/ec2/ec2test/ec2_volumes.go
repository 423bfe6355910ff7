package ec2test

import "strings"

func (st *state) createVolume(q *qnode) (any, error) {
	az := q.str("AvailabilityZone")
	if az == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter AvailabilityZone")
	}
	known := false
	for _, z := range st.azs {
		known = known || z == az
	}
	if !known {
		return nil, errf("InvalidParameterValue", "Invalid availability zone: [%s]", az)
	}
	v := &volume{az: az, volType: q.str("VolumeType"), snapshotID: q.str("SnapshotId"), state: "creating", createTime: st.now}
	if v.volType == "" {
		v.volType = "gp3"
	}
	switch v.volType {
	case "gp2", "gp3", "io1", "io2", "st1", "sc1", "standard":
	default:
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid.", v.volType)
	}
	size, okSize, err := q.integer("Size")
	if err != nil || (okSize && (size < 1 || size > 65536)) {
		return nil, errf("InvalidParameterValue", "Volume size must be between 1 and 65536 GiB")
	}
	v.size = int32(size)
	if v.snapshotID != "" {
		sn, err := st.lookupSnapshot(v.snapshotID)
		if err != nil {
			return nil, err
		}
		if sn.state != "completed" {
			return nil, errf("IncorrectState", "Snapshot is in invalid state - %s", sn.state)
		}
		if !okSize {
			v.size = sn.volumeSize
		}
		if v.size < sn.volumeSize {
			return nil, errf("InvalidParameterValue", "The volume size is invalid for the given snapshot. Specify a size of at least %d GiB.", sn.volumeSize)
		}
		v.encrypted = sn.encrypted
	} else if !okSize {
		return nil, errf("MissingParameter", "The request must contain the parameter size or snapshotId")
	}
	if enc, ok, _ := q.boolean("Encrypted"); ok {
		v.encrypted = v.encrypted || enc
	}
	if v.volType == "gp3" {
		v.iops, v.throughput = 3000, 125
	}
	if iops, ok, _ := q.integer("Iops"); ok {
		v.iops = int32(iops)
	}
	specs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	for _, t := range specs {
		if t.resourceType != "volume" {
			return nil, errf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", t.resourceType)
		}
	}
	token, fp := q.str("ClientToken"), fingerprint(q)
	if token != "" {
		if e, ok := st.idem["CreateVolume/"+token]; ok {
			if e.fingerprint != fp {
				return nil, errf("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
			}
			if old, ok := st.volumes.get(e.result.(string)); ok {
				return st.xVolume(old), nil
			}
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	v.id = st.newID("vol")
	v.visibleAt = st.visibleAt()
	st.volumes.put(v.id, v)
	st.moving[v.id] = struct{}{}
	st.setTags(v.id, tagsFor(specs, "volume"))
	if token != "" {
		st.idem["CreateVolume/"+token] = idemEntry{fingerprint: fp, result: v.id}
	}
	return st.xVolume(v), nil
}

func (st *state) attachVolume(q *qnode) (any, error) {
	vid, iid, dev := q.str("VolumeId"), q.str("InstanceId"), q.str("Device")
	if vid == "" || iid == "" || dev == "" {
		return nil, errf("MissingParameter", "The request must contain the parameters VolumeId, InstanceId and Device")
	}
	v, err := st.lookupVolume(vid)
	if err != nil {
		return nil, err
	}
	ins, err := st.lookupInstances([]string{iid})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	switch {
	case v.attach != nil || v.state == "in-use":
		return nil, errf("VolumeInUse", "%s is already attached to an instance", v.id)
	case v.state != "available":
		return nil, errf("IncorrectState", "The volume '%s' is not 'available'.", v.id)
	case in.state != "running" && in.state != "stopped":
		return nil, errf("IncorrectInstanceState", "The instance '%s' is not 'running' or 'stopped'.", in.id)
	case in.az != v.az:
		return nil, errf("InvalidVolume.ZoneMismatch", "The volume '%s' is not in the same availability zone as instance '%s'", v.id, in.id)
	case !strings.HasPrefix(dev, "/dev/") && !strings.HasPrefix(dev, "xvd"):
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", dev, dev)
	}
	for _, b := range in.bdms {
		if b.device == dev {
			return nil, errf("InvalidParameterValue", "Invalid value '%s' for unixDevice. Attachment point %s is already in use", dev, dev)
		}
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	v.state = "in-use"
	v.attach = &volAttach{instanceID: in.id, device: dev, state: "attached", time: st.now}
	in.bdms = append(in.bdms, bdm{device: dev, volumeID: v.id, attachTime: st.now})
	return xVolAttach{VolumeID: v.id, InstanceID: in.id, Device: dev, Status: "attaching", AttachTime: ts(st.now)}, nil
}

func (st *state) detachVolume(q *qnode) (any, error) {
	v, err := st.volumeParam(q)
	if err != nil {
		return nil, err
	}
	if v.attach == nil {
		return nil, errf("IncorrectState", "Volume '%s' is in the 'available' state.", v.id)
	}
	if iid := q.str("InstanceId"); iid != "" && iid != v.attach.instanceID {
		return nil, errf("InvalidAttachment.NotFound", "Volume '%s' is not attached to instance '%s'", v.id, iid)
	}
	in, _ := st.instances.get(v.attach.instanceID)
	if in != nil && v.attach.device == in.rootDevice && in.state != "stopped" {
		return nil, errf("IncorrectState", "Unable to detach root volume '%s' from instance '%s'", v.id, in.id)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	out := xVolAttach{VolumeID: v.id, InstanceID: v.attach.instanceID, Device: v.attach.device, Status: "detaching",
		AttachTime: ts(v.attach.time), DeleteOnTerm: v.attach.deleteOnTerm}
	if in != nil {
		kept := in.bdms[:0]
		for _, b := range in.bdms {
			if b.volumeID != v.id {
				kept = append(kept, b)
			}
		}
		in.bdms = kept
	}
	v.attach, v.state = nil, "available"
	return out, nil
}

func (st *state) deleteVolume(q *qnode) (any, error) {
	v, err := st.volumeParam(q)
	if err != nil {
		return nil, err
	}
	if v.attach != nil {
		return nil, errf("VolumeInUse", "Volume %s is currently attached to %s", v.id, v.attach.instanceID)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	st.volumes.del(v.id)
	delete(st.tags, v.id)
	return ec2Return{Return: true}, nil
}

// volumeParam returns the volume the request's VolumeId names.
func (st *state) volumeParam(q *qnode) (*volume, error) {
	vid := q.str("VolumeId")
	if vid == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter VolumeId")
	}
	return st.lookupVolume(vid)
}
