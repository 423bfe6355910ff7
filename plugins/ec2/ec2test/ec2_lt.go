package ec2test

import (
	"strconv"
)

func (lt *launchTemplate) version(v string) (*ltVersion, error) {
	var want int64
	switch v {
	case "", "$Default":
		want = lt.defaultVersion
	case "$Latest":
		want = int64(len(lt.versions))
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for %s", v, lt.id)
		}
		want = n
	}
	for _, ver := range lt.versions {
		if ver.num == want {
			return ver, nil
		}
	}
	return nil, errf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for %s", v, lt.id)
}

func (st *state) createLaunchTemplate(q *qnode) (any, error) {
	name := q.str("LaunchTemplateName")
	if name == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter LaunchTemplateName")
	}
	if len(name) < 3 || len(name) > 128 {
		return nil, errf("InvalidLaunchTemplateName.MalformedException", "Launch template names must be 3 to 128 characters")
	}
	for _, lt := range st.lts.all() {
		if lt.name == name {
			return nil, errf("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
		}
	}
	d := q.child("LaunchTemplateData")
	if d == nil {
		return nil, errf("MissingParameter", "The request must contain the parameter LaunchTemplateData")
	}
	data := ltData{imageID: d.str("ImageId"), instanceType: d.str("InstanceType"), keyName: d.str("KeyName"),
		sgIDs: d.strs("SecurityGroupId"), sgNames: d.strs("SecurityGroup"), profileARN: d.str("IamInstanceProfile", "Arn"),
		profileName: d.str("IamInstanceProfile", "Name"), userData: d.str("UserData")}
	if nis := d.list("NetworkInterface"); len(nis) > 0 {
		data.subnetID = nis[0].str("SubnetId")
		if g := nis[0].strs("SecurityGroupId"); len(g) > 0 {
			data.sgIDs = g
		}
	}
	data.md = d.child("MetadataOptions")
	if _, err := parseMetadataOptions(data.md, metadataOptions{}); err != nil {
		return nil, err
	}
	data.disableTerm, _, _ = d.boolean("DisableApiTermination")
	data.disableStop, _, _ = d.boolean("DisableApiStop")
	specs, err := parseTagSpecs(d, "TagSpecification")
	if err != nil {
		return nil, err
	}
	data.tagSpecs = specs
	if data.bdms, err = parseBDMs(d, "BlockDeviceMapping"); err != nil {
		return nil, err
	}
	if data.imageID != "" {
		if _, err := st.lookupImage(data.imageID); err != nil {
			return nil, err
		}
	}
	tspecs, err := parseTagSpecs(q, "TagSpecification")
	if err != nil {
		return nil, err
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	lt := &launchTemplate{id: st.newID("lt"), name: name, defaultVersion: 1, createTime: st.now,
		versions: []*ltVersion{{num: 1, desc: q.str("VersionDescription"), data: data, createTime: st.now}}}
	st.lts.put(lt.id, lt)
	st.setTags(lt.id, tagsFor(tspecs, "launch-template"))
	return struct {
		LT xLaunchTemplate `xml:"launchTemplate"`
	}{st.xLT(lt)}, nil
}

type xLaunchTemplate struct {
	ID             string   `xml:"launchTemplateId"`
	Name           string   `xml:"launchTemplateName"`
	CreateTime     string   `xml:"createTime"`
	CreatedBy      string   `xml:"createdBy"`
	DefaultVersion int64    `xml:"defaultVersionNumber"`
	LatestVersion  int64    `xml:"latestVersionNumber"`
	Tags           []xmlTag `xml:"tagSet>item"`
}

func (st *state) xLT(lt *launchTemplate) xLaunchTemplate {
	return xLaunchTemplate{ID: lt.id, Name: lt.name, CreateTime: ts(lt.createTime),
		CreatedBy: "arn:aws:iam::" + AccountID + ":root", DefaultVersion: lt.defaultVersion,
		LatestVersion: int64(len(lt.versions)), Tags: st.tagSet(lt.id)}
}

func (st *state) selectLTs(q *qnode) ([]*launchTemplate, error) {
	ids, names := q.strs("LaunchTemplateId"), q.strs("LaunchTemplateName")
	if id := q.str("LaunchTemplateId"); id != "" && len(ids) == 0 {
		ids = []string{id}
	}
	if n := q.str("LaunchTemplateName"); n != "" && len(names) == 0 {
		names = []string{n}
	}
	if len(ids) == 0 && len(names) == 0 {
		return st.lts.all(), nil
	}
	var out []*launchTemplate
	for _, id := range ids {
		lt, ok := st.lts.get(id)
		if !ok {
			return nil, errf("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
		}
		out = append(out, lt)
	}
	for _, n := range names {
		var hit *launchTemplate
		for _, lt := range st.lts.all() {
			if lt.name == n {
				hit = lt
			}
		}
		if hit == nil {
			return nil, errf("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
		}
		out = append(out, hit)
	}
	return out, nil
}

func (st *state) describeLaunchTemplates(q *qnode) (any, error) {
	return describeSet(st, q, "launchTemplates", describeSpec[*launchTemplate, xLaunchTemplate]{
		// The candidates are what selectLTs picks (ids, names or all).
		lo: 1, hi: 200,
		lookup: func() ([]*launchTemplate, error) { return st.selectLTs(q) },
		id:     func(lt *launchTemplate) string { return lt.id },
		attr: func(lt *launchTemplate) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "launch-template-name":
					return one(lt.name), true
				case "launch-template-id":
					return one(lt.id), true
				}
				return nil, false
			}
		},
		item: st.xLT,
	})
}

func (st *state) describeLaunchTemplateVersions(q *qnode) (any, error) {
	if err := dryRun(q); err != nil {
		return nil, err
	}
	lts, err := st.selectLTs(q)
	if err != nil {
		return nil, err
	}
	type xTagSpec struct {
		ResourceType string   `xml:"resourceType"`
		Tags         []xmlTag `xml:"tagSet>item"`
	}
	type xData struct {
		ImageID      string     `xml:"imageId,omitempty"`
		InstanceType string     `xml:"instanceType,omitempty"`
		KeyName      string     `xml:"keyName,omitempty"`
		SGIDs        []string   `xml:"securityGroupIdSet>item"`
		SGNames      []string   `xml:"securityGroupSet>item"`
		ProfileArn   string     `xml:"iamInstanceProfile>arn,omitempty"`
		ProfileName  string     `xml:"iamInstanceProfile>name,omitempty"`
		DisableTerm  bool       `xml:"disableApiTermination"`
		DisableStop  bool       `xml:"disableApiStop"`
		UserData     string     `xml:"userData,omitempty"`
		TagSpecs     []xTagSpec `xml:"tagSpecificationSet>item"`
		Metadata     *xLTMD     `xml:"metadataOptions,omitempty"`
	}
	type xVer struct {
		ID         string `xml:"launchTemplateId"`
		Name       string `xml:"launchTemplateName"`
		Num        int64  `xml:"versionNumber"`
		Desc       string `xml:"versionDescription,omitempty"`
		CreateTime string `xml:"createTime"`
		CreatedBy  string `xml:"createdBy"`
		Default    bool   `xml:"defaultVersion"`
		Data       xData  `xml:"launchTemplateData"`
	}
	wanted := q.strs("LaunchTemplateVersion")
	var o struct {
		Set items[xVer] `xml:"launchTemplateVersionSet"`
	}
	for _, lt := range lts {
		var vers []*ltVersion
		if len(wanted) == 0 {
			vers = lt.versions
		} else {
			for _, w := range wanted {
				v, err := lt.version(w)
				if err != nil {
					return nil, err
				}
				vers = append(vers, v)
			}
		}
		for _, v := range vers {
			d := xData{ImageID: v.data.imageID, InstanceType: v.data.instanceType, KeyName: v.data.keyName,
				SGIDs: v.data.sgIDs, SGNames: v.data.sgNames, ProfileArn: v.data.profileARN, ProfileName: v.data.profileName,
				DisableTerm: v.data.disableTerm, DisableStop: v.data.disableStop, UserData: v.data.userData}
			if v.data.md != nil {
				md, _ := parseMetadataOptions(v.data.md, metadataOptions{})
				d.Metadata = &xLTMD{State: "applied", Tokens: md.tokens, HopLimit: md.hopLimit, Endpoint: md.endpoint}
			}
			for _, ts := range v.data.tagSpecs {
				x := xTagSpec{ResourceType: ts.resourceType}
				for _, kv := range ts.tags {
					x.Tags = append(x.Tags, xmlTag{Key: kv[0], Value: kv[1]})
				}
				d.TagSpecs = append(d.TagSpecs, x)
			}
			o.Set.Item = append(o.Set.Item, xVer{ID: lt.id, Name: lt.name, Num: v.num, Desc: v.desc, CreateTime: ts(v.createTime),
				CreatedBy: "arn:aws:iam::" + AccountID + ":root", Default: v.num == lt.defaultVersion, Data: d})
		}
	}
	return o, nil
}

type xLTMD struct {
	State    string `xml:"state"`
	Tokens   string `xml:"httpTokens,omitempty"`
	HopLimit int64  `xml:"httpPutResponseHopLimit,omitempty"`
	Endpoint string `xml:"httpEndpoint,omitempty"`
}
