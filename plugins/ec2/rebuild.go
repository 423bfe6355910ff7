package ec2

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// LaunchTemplateRef names a launch template by id or name.
type LaunchTemplateRef struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"` // default "$Default"
}

// RebuildInput says what to launch in place of the old instance. With a
// launch template, only the fields set here override it; without one, the
// old instance's own settings are the defaults.
type RebuildInput struct {
	Incident       Incident
	InstanceID     string // the old instance
	LaunchTemplate *LaunchTemplateRef
	ImageID        string // default: the old instance's AMI (a clean base, not its disks)
	InstanceType   string
	SubnetID       string
	// KeyName is a key pair for the replacement; default none (reach it
	// with SSM Session Manager). The old instance's key may be the way in:
	// ReuseKeyPair copies it anyway.
	KeyName      string
	ReuseKeyPair bool
	// InstanceProfileARN is an instance profile for the replacement;
	// default none. The old role's credentials may be stolen:
	// ReuseInstanceProfile copies the old instance's profile anyway.
	InstanceProfileARN   string
	ReuseInstanceProfile bool
	// AllowSuspectImage permits launching from an image abusekit made of
	// the infected instance (the forensic image) or one created at or
	// after the incident's AbuseTime; otherwise planning fails.
	AllowSuspectImage bool
	// SecurityGroupIDs for the replacement, typically HardenResult.Hardened
	// of the old instance's original groups. Default: the old instance's
	// groups other than Contain's quarantine groups.
	SecurityGroupIDs []string
	// AllowOpenGroups permits launching with groups that still expose 22,
	// 3389 or all traffic to the world; otherwise planning fails.
	AllowOpenGroups bool
	// UserData, base64-encoded, for the replacement.
	UserData string
	// RestoreDataVolumes gives the replacement each data volume of the
	// old instance again, created from that volume's newest completed
	// snapshot taken before the incident's AbuseTime (which it requires;
	// abusekit's own forensic snapshots never count). A volume with no
	// such snapshot stays in NotCarriedOver, with the reason.
	RestoreDataVolumes bool
}

// RestoredVolume is a data volume the replacement gets from a
// pre-incident snapshot.
type RestoredVolume struct {
	Device       string    `json:"device"`
	OldVolumeID  string    `json:"old_volume_id"`
	SnapshotID   string    `json:"snapshot_id"`
	SnapshotTime time.Time `json:"snapshot_time"`
	SizeGiB      int32     `json:"size_gib,omitempty"`
}

// RebuildPlan is the RunInstances request ApplyRebuild sends.
type RebuildPlan struct {
	Step               string             `json:"step"`
	Incident           Incident           `json:"incident"`
	OldInstanceID      string             `json:"old_instance_id"`
	ClientToken        string             `json:"client_token"`
	LaunchTemplate     *LaunchTemplateRef `json:"launch_template,omitempty"`
	ImageID            string             `json:"image_id,omitempty"`
	InstanceType       string             `json:"instance_type,omitempty"`
	SubnetID           string             `json:"subnet_id,omitempty"`
	KeyName            string             `json:"key_name,omitempty"`
	InstanceProfileARN string             `json:"instance_profile_arn,omitempty"`
	SecurityGroupIDs   []string           `json:"security_group_ids,omitempty"`
	Tags               map[string]string  `json:"tags"`
	UserData           string             `json:"-"`
	// Warnings say what the operator chose against the defaults.
	Warnings []string `json:"warnings,omitempty"`
	// NotCarriedOver lists the old instance's data volumes ("/dev/sdf
	// vol-…"): the replacement starts without them (restore what is
	// needed from pre-incident snapshots, not from the infected disks).
	NotCarriedOver []string `json:"not_carried_over,omitempty"`
	// DataVolumes are recreated from pre-incident snapshots
	// (RestoreDataVolumes).
	DataVolumes []RestoredVolume `json:"data_volumes,omitempty"`
}

// RebuildResult is the running, healthy replacement.
type RebuildResult struct {
	InstanceID       string `json:"instance_id"`
	State            string `json:"state"`
	PrivateIPAddress string `json:"private_ip_address,omitempty"`
	InstanceStatus   string `json:"instance_status"`
	SystemStatus     string `json:"system_status"`
}

// PlanRebuild resolves the launch parameters.
func PlanRebuild(ctx context.Context, c *Clients, in RebuildInput) (*RebuildPlan, error) {
	if err := in.Incident.validate(stepRebuild); err != nil {
		return nil, err
	}
	if in.InstanceID == "" {
		return nil, &StepError{Step: stepRebuild, Err: errf("%w: no instance id", ErrInvalidInput)}
	}
	if c == nil {
		return nil, &StepError{Step: stepRebuild, Err: ErrMissingClient}
	}
	if err := need(stepRebuild, c.DescribeInstances, c.DescribeSecurityGroups); err != nil {
		return nil, err
	}
	insts, missing, err := describeInstances(ctx, c.DescribeInstances, []string{in.InstanceID})
	if err != nil {
		return nil, stepErr(stepRebuild, "DescribeInstances", in.InstanceID, err)
	}
	if len(missing) > 0 {
		return nil, &StepError{Step: stepRebuild, Operation: "DescribeInstances", Resource: in.InstanceID, Err: ErrNotFound}
	}
	old := insts[in.InstanceID]
	p := &RebuildPlan{
		Step: stepRebuild, Incident: in.Incident, OldInstanceID: in.InstanceID,
		ClientToken: Token(in.Incident.ID, stepRebuild, in.InstanceID),
		ImageID:     in.ImageID, InstanceType: in.InstanceType, SubnetID: in.SubnetID, KeyName: in.KeyName,
		InstanceProfileARN: in.InstanceProfileARN, SecurityGroupIDs: dedupe(in.SecurityGroupIDs), UserData: in.UserData,
	}
	if in.LaunchTemplate != nil {
		lt := *in.LaunchTemplate
		if (lt.ID == "") == (lt.Name == "") {
			return nil, &StepError{Step: stepRebuild, Err: errf("%w: launch template needs exactly one of id and name", ErrInvalidInput)}
		}
		if lt.Version == "" {
			lt.Version = "$Default"
		}
		p.LaunchTemplate = &lt
	} else {
		if p.ImageID == "" {
			p.ImageID = aws.ToString(old.ImageId)
		}
		if p.InstanceType == "" {
			p.InstanceType = string(old.InstanceType)
		}
		if p.SubnetID == "" {
			p.SubnetID = aws.ToString(old.SubnetId)
		}
		if p.KeyName == "" && in.ReuseKeyPair && old.KeyName != nil {
			p.KeyName = aws.ToString(old.KeyName)
			p.Warnings = append(p.Warnings, "the replacement reuses key pair "+p.KeyName+" of the infected instance")
		}
		if p.InstanceProfileARN == "" && in.ReuseInstanceProfile && old.IamInstanceProfile != nil {
			p.InstanceProfileARN = aws.ToString(old.IamInstanceProfile.Arn)
			p.Warnings = append(p.Warnings, "the replacement reuses instance profile "+p.InstanceProfileARN+" of the infected instance: its role's credentials may be stolen")
		}
		if len(p.SecurityGroupIDs) == 0 {
			p.SecurityGroupIDs = instanceGroups(old)
		}
	}
	if in.RestoreDataVolumes {
		if in.Incident.AbuseTime.IsZero() {
			return nil, &StepError{Step: stepRebuild, Err: errf("%w: RestoreDataVolumes needs the incident's AbuseTime (only snapshots from before it are trusted)", ErrInvalidInput)}
		}
		if err := need(stepRebuild, c.DescribeSnapshots); err != nil {
			return nil, err
		}
	}
	for _, b := range old.BlockDeviceMappings {
		if b.Ebs == nil || aws.ToString(b.DeviceName) == aws.ToString(old.RootDeviceName) {
			continue
		}
		dev, vol := aws.ToString(b.DeviceName), aws.ToString(b.Ebs.VolumeId)
		if !in.RestoreDataVolumes {
			p.NotCarriedOver = append(p.NotCarriedOver, dev+" "+vol)
			continue
		}
		rv, err := preIncidentSnapshot(ctx, c, vol, in.Incident.AbuseTime)
		if err != nil {
			return nil, err
		}
		if rv == nil {
			p.NotCarriedOver = append(p.NotCarriedOver, dev+" "+vol+" (no completed snapshot of it from before "+in.Incident.AbuseTime.UTC().Format(time.RFC3339)+")")
			continue
		}
		rv.Device, rv.OldVolumeID = dev, vol
		p.DataVolumes = append(p.DataVolumes, *rv)
	}
	sort.Strings(p.NotCarriedOver)
	sort.Slice(p.DataVolumes, func(a, b int) bool { return p.DataVolumes[a].Device < p.DataVolumes[b].Device })
	p.Tags = map[string]string{}
	for _, t := range old.Tags {
		k := aws.ToString(t.Key)
		if strings.HasPrefix(k, "aws:") || strings.HasPrefix(k, "abusekit:") {
			continue
		}
		p.Tags[k] = aws.ToString(t.Value)
	}
	p.Tags[TagIncident] = in.Incident.ID
	p.Tags[TagStep] = stepRebuild
	p.Tags["abusekit:replaces"] = in.InstanceID

	if len(p.SecurityGroupIDs) > 0 {
		groups, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, p.SecurityGroupIDs)
		if err != nil {
			return nil, stepErr(stepRebuild, "DescribeSecurityGroups", "", err)
		}
		var keep []string
		for _, id := range p.SecurityGroupIDs {
			g, ok := groups[id]
			if !ok {
				return nil, &StepError{Step: stepRebuild, Operation: "DescribeSecurityGroups", Resource: id, Err: ErrNotFound}
			}
			if r := tagValue(g.Tags, TagRole); isContainRole(r) {
				if len(in.SecurityGroupIDs) > 0 {
					return nil, &StepError{Step: stepRebuild, Resource: id, Err: errf("%w: %s is an abusekit %s group", ErrInvalidInput, id, r)}
				}
				continue
			}
			if !in.AllowOpenGroups {
				rules := groupRules(g)
				open := openRules(rules, DefaultRiskyPorts)
				for i, r := range rules {
					if open[i] {
						return nil, &StepError{Step: stepRebuild, Resource: id, Err: errf("%w: group %s still allows %s; harden it first or set AllowOpenGroups", ErrInvalidInput, id, r)}
					}
				}
			}
			keep = append(keep, id)
		}
		p.SecurityGroupIDs = keep
	}
	if p.LaunchTemplate == nil && len(p.SecurityGroupIDs) == 0 {
		return nil, &StepError{Step: stepRebuild, Resource: in.InstanceID, Err: errf("%w: the instance only has quarantine groups; name SecurityGroupIDs (e.g. the hardened originals)", ErrInvalidInput)}
	}
	if p.LaunchTemplate == nil && p.ImageID == "" {
		return nil, &StepError{Step: stepRebuild, Resource: in.InstanceID, Err: errf("%w: no AMI", ErrInvalidInput)}
	}
	if p.ImageID != "" {
		if err := checkImage(ctx, c, in, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// preIncidentSnapshot returns the newest completed snapshot of vol that
// started before t and is not one of abusekit's forensic snapshots, or nil.
func preIncidentSnapshot(ctx context.Context, c *Clients, vol string, t time.Time) (*RestoredVolume, error) {
	var best *types.Snapshot
	pg := awsec2.NewDescribeSnapshotsPaginator(c.DescribeSnapshots, &awsec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("volume-id"), Values: []string{vol}}, {Name: aws.String("status"), Values: []string{"completed"}}}, MaxResults: aws.Int32(1000)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, stepErr(stepRebuild, "DescribeSnapshots", vol, err)
		}
		for i := range out.Snapshots {
			s := out.Snapshots[i]
			st := aws.ToTime(s.StartTime)
			if s.State != types.SnapshotStateCompleted || st.IsZero() || !st.Before(t) || tagValue(s.Tags, TagStep) == stepSnapshot {
				continue
			}
			if best == nil || st.After(aws.ToTime(best.StartTime)) {
				best = &s
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	return &RestoredVolume{SnapshotID: aws.ToString(best.SnapshotId), SnapshotTime: aws.ToTime(best.StartTime).UTC(), SizeGiB: aws.ToInt32(best.VolumeSize)}, nil
}

// checkImage refuses the forensic image abusekit made of an instance, and
// any private image created at or after the abuse time (it may carry the
// intrusion; public and Amazon images are not made from this account's
// disks), unless AllowSuspectImage, which turns the refusal into a
// warning.
func checkImage(ctx context.Context, c *Clients, in RebuildInput, p *RebuildPlan) error {
	if err := need(stepRebuild, c.DescribeImages); err != nil {
		return err
	}
	out, err := c.DescribeImages.DescribeImages(ctx, &awsec2.DescribeImagesInput{ImageIds: []string{p.ImageID}})
	if err != nil {
		return stepErr(stepRebuild, "DescribeImages", p.ImageID, err)
	}
	if len(out.Images) == 0 {
		return &StepError{Step: stepRebuild, Operation: "DescribeImages", Resource: p.ImageID, Err: ErrNotFound}
	}
	img := out.Images[0]
	var why string
	switch {
	case tagValue(img.Tags, TagStep) == stepSnapshot || tagValue(img.Tags, TagInstance) != "":
		why = "it is abusekit's forensic image of " + tagValue(img.Tags, TagInstance)
	case aws.ToBool(img.Public) || aws.ToString(img.ImageOwnerAlias) == "amazon":
		// A public or Amazon image is not made from this account's disks.
	case !in.Incident.AbuseTime.IsZero() && img.CreationDate != nil:
		if t, err := time.Parse(time.RFC3339, aws.ToString(img.CreationDate)); err == nil && !t.Before(in.Incident.AbuseTime) {
			why = "it was created at " + t.UTC().Format(time.RFC3339) + ", after the abuse began (" + in.Incident.AbuseTime.UTC().Format(time.RFC3339) + ")"
		}
	}
	if why == "" {
		return nil
	}
	if !in.AllowSuspectImage {
		return &StepError{Step: stepRebuild, Resource: p.ImageID, Err: errf("%w: image %s may carry the intrusion: %s; name a clean image or set AllowSuspectImage", ErrInvalidInput, p.ImageID, why)}
	}
	p.Warnings = append(p.Warnings, "launching from image "+p.ImageID+" although "+why)
	return nil
}

// ApplyRebuild launches the replacement (RunInstances with the plan's
// client token, so a re-run returns the same instance), requiring IMDSv2,
// then waits until it is running and both status checks pass (MaxWait,
// default 15 minutes).
func ApplyRebuild(ctx context.Context, c *Clients, p *RebuildPlan, opts ...Option) (*RebuildResult, error) {
	o := buildOptions(opts, 15*time.Minute)
	if p == nil {
		return nil, &StepError{Step: stepRebuild, Err: errf("%w: nil plan", ErrInvalidInput)}
	}
	if c == nil {
		return nil, &StepError{Step: stepRebuild, Err: ErrMissingClient}
	}
	if err := need(stepRebuild, c.RunInstances, c.DescribeInstances, c.DescribeInstanceStatus); err != nil {
		return nil, err
	}
	if p.ClientToken == "" {
		return nil, &StepError{Step: stepRebuild, Err: errf("%w: plan has no client token", ErrInvalidInput)}
	}
	keys := make([]string, 0, len(p.Tags))
	for k := range p.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var tags []types.Tag
	for _, k := range keys {
		tags = append(tags, tag(k, p.Tags[k]))
	}
	in := &awsec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		ClientToken: aws.String(p.ClientToken),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled},
	}
	if p.LaunchTemplate != nil {
		in.LaunchTemplate = &types.LaunchTemplateSpecification{Version: aws.String(p.LaunchTemplate.Version)}
		if p.LaunchTemplate.ID != "" {
			in.LaunchTemplate.LaunchTemplateId = aws.String(p.LaunchTemplate.ID)
		} else {
			in.LaunchTemplate.LaunchTemplateName = aws.String(p.LaunchTemplate.Name)
		}
	}
	if p.ImageID != "" {
		in.ImageId = aws.String(p.ImageID)
	}
	if p.InstanceType != "" {
		in.InstanceType = types.InstanceType(p.InstanceType)
	}
	if p.SubnetID != "" {
		in.SubnetId = aws.String(p.SubnetID)
	}
	if p.KeyName != "" {
		in.KeyName = aws.String(p.KeyName)
	}
	if p.InstanceProfileARN != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(p.InstanceProfileARN)}
	}
	if len(p.SecurityGroupIDs) > 0 {
		in.SecurityGroupIds = slices.Clone(p.SecurityGroupIDs)
	}
	if p.UserData != "" {
		in.UserData = aws.String(p.UserData)
	}
	for _, v := range p.DataVolumes {
		in.BlockDeviceMappings = append(in.BlockDeviceMappings, types.BlockDeviceMapping{DeviceName: aws.String(v.Device),
			Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(v.SnapshotID)}})
	}
	out, err := c.RunInstances.RunInstances(ctx, in)
	if err != nil {
		if errCode(err) == "IdempotentParameterMismatch" {
			err = errf("%w: an earlier run of this incident launched the replacement with other settings under client token %s "+
				"(the plan changed since); look for the instance tagged abusekit:replaces=%s, or rebuild under another incident id: %w",
				ErrInvalidInput, p.ClientToken, p.OldInstanceID, err)
		}
		return nil, stepErr(stepRebuild, "RunInstances", p.OldInstanceID, err)
	}
	if len(out.Instances) != 1 {
		return nil, &StepError{Step: stepRebuild, Operation: "RunInstances", Resource: p.OldInstanceID, Err: errf("expected 1 instance, got %d", len(out.Instances))}
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	res := &RebuildResult{InstanceID: id}
	if err := waitRunning(ctx, c, id, o); err != nil {
		return res, err
	}
	if err := waitStatusOK(ctx, c, id, o, res); err != nil {
		return res, err
	}
	insts, _, err := describeInstances(ctx, c.DescribeInstances, []string{id})
	if err == nil {
		if inst, ok := insts[id]; ok {
			res.State = string(inst.State.Name)
			res.PrivateIPAddress = aws.ToString(inst.PrivateIpAddress)
		}
	}
	return res, nil
}

func waitRunning(ctx context.Context, c *Clients, id string, o Options) error {
	var bad error
	track := newProgressTracker(o.Progress)
	w := awsec2.NewInstanceRunningWaiter(c.DescribeInstances, func(wo *awsec2.InstanceRunningWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = o.PollMin, o.PollMax
		wo.Retryable = func(ctx context.Context, in *awsec2.DescribeInstancesInput, out *awsec2.DescribeInstancesOutput, err error) (bool, error) {
			if err != nil {
				if transient(err) || isNotFoundCode(errCode(err)) {
					return true, nil
				}
				return false, err
			}
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					if aws.ToString(inst.InstanceId) != id || inst.State == nil {
						continue
					}
					track.state(stepRebuild, id, string(inst.State.Name))
					switch inst.State.Name {
					case types.InstanceStateNameRunning:
						return false, nil
					case types.InstanceStateNamePending:
						return true, nil
					default:
						bad = &StepError{Step: stepRebuild, Operation: "DescribeInstances", Resource: id, Err: errf("%w: state %s", ErrUnhealthy, inst.State.Name)}
						return false, bad
					}
				}
			}
			return true, nil // not visible yet
		}
	})
	err := w.Wait(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}}, o.MaxWait)
	return waitErr(ctx, err, bad, "DescribeInstances", id, o.MaxWait)
}

func waitStatusOK(ctx context.Context, c *Clients, id string, o Options, res *RebuildResult) error {
	var bad error
	track := newProgressTracker(o.Progress)
	w := awsec2.NewInstanceStatusOkWaiter(c.DescribeInstanceStatus, func(wo *awsec2.InstanceStatusOkWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = o.PollMin, o.PollMax
		wo.Retryable = func(ctx context.Context, in *awsec2.DescribeInstanceStatusInput, out *awsec2.DescribeInstanceStatusOutput, err error) (bool, error) {
			if err != nil {
				if transient(err) || isNotFoundCode(errCode(err)) {
					return true, nil
				}
				return false, err
			}
			for _, st := range out.InstanceStatuses {
				if aws.ToString(st.InstanceId) != id {
					continue
				}
				if st.InstanceState != nil && st.InstanceState.Name != types.InstanceStateNameRunning && st.InstanceState.Name != types.InstanceStateNamePending {
					bad = &StepError{Step: stepRebuild, Operation: "DescribeInstanceStatus", Resource: id, Err: errf("%w: state %s", ErrUnhealthy, st.InstanceState.Name)}
					return false, bad
				}
				if st.InstanceStatus != nil {
					res.InstanceStatus = string(st.InstanceStatus.Status)
				}
				if st.SystemStatus != nil {
					res.SystemStatus = string(st.SystemStatus.Status)
				}
				track.state(stepRebuild, id, "status "+res.InstanceStatus+"/"+res.SystemStatus)
				if res.InstanceStatus == "ok" && res.SystemStatus == "ok" {
					return false, nil
				}
			}
			return true, nil
		}
	})
	err := w.Wait(ctx, &awsec2.DescribeInstanceStatusInput{InstanceIds: []string{id}, IncludeAllInstances: aws.Bool(true)}, o.MaxWait)
	if err != nil && bad == nil && waitTimedOut(ctx, err) {
		return &StepError{Step: stepRebuild, Operation: "DescribeInstanceStatus", Resource: id,
			Err: errf("%w (%w): status checks instance=%q system=%q after %s", ErrTimeout, ErrUnhealthy, res.InstanceStatus, res.SystemStatus, o.MaxWait)}
	}
	return waitErr(ctx, err, bad, "DescribeInstanceStatus", id, o.MaxWait)
}

func waitErr(ctx context.Context, err, bad error, op, id string, max time.Duration) error {
	if err == nil {
		return nil
	}
	if bad != nil {
		return bad
	}
	if waitTimedOut(ctx, err) {
		return &StepError{Step: stepRebuild, Operation: op, Resource: id, Err: errf("%w: after %s", ErrTimeout, max)}
	}
	return stepErr(stepRebuild, op, id, err)
}

// Rebuild plans and applies in one call.
func Rebuild(ctx context.Context, c *Clients, in RebuildInput, opts ...Option) (*RebuildResult, error) {
	p, err := PlanRebuild(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return ApplyRebuild(ctx, c, p, opts...)
}
