package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// SnapshotInput names the instances whose attached EBS volumes to snapshot.
type SnapshotInput struct {
	Incident    Incident
	InstanceIDs []string
	// RegisterImage also registers an AMI per instance from its completed
	// snapshots, so the infected machine can be launched again, isolated,
	// for forensics.
	RegisterImage bool
	Description   string
}

// VolumePlan is one attached EBS volume and the snapshot that covers it, if
// a previous run made one.
type VolumePlan struct {
	VolumeID      string `json:"volume_id"`
	Device        string `json:"device"`
	SizeGiB       int32  `json:"size_gib,omitempty"`
	VolumeType    string `json:"volume_type,omitempty"`
	Existing      string `json:"existing_snapshot,omitempty"`
	ExistingState string `json:"existing_state,omitempty"`
}

// ImagePlan is the AMI Snapshot will register.
type ImagePlan struct {
	Name               string `json:"name"`
	Existing           string `json:"existing_image,omitempty"`
	RootDeviceName     string `json:"root_device_name"`
	Architecture       string `json:"architecture,omitempty"`
	VirtualizationType string `json:"virtualization_type,omitempty"`
	EnaSupport         bool   `json:"ena_support,omitempty"`
	BootMode           string `json:"boot_mode,omitempty"`
}

// InstanceSnapshotPlan is the plan for one instance.
type InstanceSnapshotPlan struct {
	InstanceID string       `json:"instance_id"`
	RootDevice string       `json:"root_device"`
	Volumes    []VolumePlan `json:"volumes"`
	// Create: some volume lacks a usable snapshot, CreateSnapshots will run
	// for exactly those volumes.
	Create bool       `json:"create"`
	Image  *ImagePlan `json:"image,omitempty"`
}

// SnapshotPlan is what ApplySnapshot will do.
type SnapshotPlan struct {
	Step        string                 `json:"step"`
	Incident    Incident               `json:"incident"`
	Description string                 `json:"description,omitempty"`
	Instances   []InstanceSnapshotPlan `json:"instances"`
}

// VolumeSnapshot is one completed snapshot of one volume.
type VolumeSnapshot struct {
	VolumeID   string    `json:"volume_id"`
	Device     string    `json:"device"`
	SnapshotID string    `json:"snapshot_id"`
	State      string    `json:"state"`
	StartTime  time.Time `json:"start_time,omitzero"`
	SizeGiB    int32     `json:"size_gib,omitempty"`
	VolumeType string    `json:"volume_type,omitempty"`
}

// SnapshotSet is every snapshot of one instance's volumes for one incident.
type SnapshotSet struct {
	Incident   Incident         `json:"incident"`
	InstanceID string           `json:"instance_id"`
	Snapshots  []VolumeSnapshot `json:"snapshots"`
	ImageID    string           `json:"image_id,omitempty"`
}

// CompletedSnapshots is a SnapshotSet known to cover every EBS volume
// attached to its instance with a completed snapshot from the incident. Its
// fields are unexported: the only ways to get one are ApplySnapshot and
// VerifySnapshots, both of which check. Terminate takes one, and checks again.
type CompletedSnapshots struct {
	set *SnapshotSet
}

// Set returns a copy of the verified set (zero SnapshotSet for the zero value).
func (cs CompletedSnapshots) Set() SnapshotSet {
	if cs.set == nil {
		return SnapshotSet{}
	}
	s := *cs.set
	s.Snapshots = slices.Clone(s.Snapshots)
	return s
}

// InstanceID is the instance the set covers.
func (cs CompletedSnapshots) InstanceID() string {
	if cs.set == nil {
		return ""
	}
	return cs.set.InstanceID
}

// MarshalJSON writes the set; there is deliberately no UnmarshalJSON (a
// journal restores coverage with VerifySnapshots).
func (cs CompletedSnapshots) MarshalJSON() ([]byte, error) { return json.Marshal(cs.Set()) }

// PlanSnapshot lists each instance's attached EBS volumes and any snapshot
// a previous run of this incident already made of them.
func PlanSnapshot(ctx context.Context, c *Clients, in SnapshotInput, opts ...Option) (*SnapshotPlan, error) {
	if err := in.Incident.validate(stepSnapshot); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &StepError{Step: stepSnapshot, Err: ErrMissingClient}
	}
	if err := need(stepSnapshot, c.DescribeInstances, c.DescribeVolumes, c.DescribeSnapshots); err != nil {
		return nil, err
	}
	if in.RegisterImage {
		if err := need(stepSnapshot, c.DescribeImages); err != nil {
			return nil, err
		}
	}
	ids := dedupe(in.InstanceIDs)
	if len(ids) == 0 {
		return nil, &StepError{Step: stepSnapshot, Err: errf("%w: no instance ids", ErrInvalidInput)}
	}
	insts, missing, err := describeInstances(ctx, c.DescribeInstances, ids)
	if err != nil {
		return nil, stepErr(stepSnapshot, "DescribeInstances", "", err)
	}
	if len(missing) > 0 {
		return nil, &StepError{Step: stepSnapshot, Operation: "DescribeInstances", Resource: missing[0], Err: errf("%w: instances %v", ErrNotFound, missing)}
	}
	existing, err := incidentSnapshots(ctx, c.DescribeSnapshots, in.Incident.ID)
	if err != nil {
		return nil, stepErr(stepSnapshot, "DescribeSnapshots", in.Incident.ID, err)
	}
	best := bestSnapshots(existing)
	var volIDs []string
	for _, id := range ids {
		for _, bdm := range insts[id].BlockDeviceMappings {
			if bdm.Ebs != nil {
				volIDs = append(volIDs, aws.ToString(bdm.Ebs.VolumeId))
			}
		}
	}
	vols, err := describeVolumes(ctx, c.DescribeVolumes, volIDs)
	if err != nil {
		return nil, stepErr(stepSnapshot, "DescribeVolumes", "", err)
	}
	plan := &SnapshotPlan{Step: stepSnapshot, Incident: in.Incident, Description: in.Description}
	for _, id := range ids {
		inst := insts[id]
		ip := InstanceSnapshotPlan{InstanceID: id, RootDevice: aws.ToString(inst.RootDeviceName)}
		for _, bdm := range inst.BlockDeviceMappings {
			if bdm.Ebs == nil {
				continue
			}
			vid := aws.ToString(bdm.Ebs.VolumeId)
			vp := VolumePlan{VolumeID: vid, Device: aws.ToString(bdm.DeviceName)}
			if v, ok := vols[vid]; ok {
				vp.SizeGiB, vp.VolumeType = aws.ToInt32(v.Size), string(v.VolumeType)
			}
			if s, ok := best[vid]; ok {
				vp.Existing, vp.ExistingState = aws.ToString(s.SnapshotId), string(s.State)
			}
			if vp.Existing == "" || vp.ExistingState == string(types.SnapshotStateError) {
				ip.Create = true
			}
			ip.Volumes = append(ip.Volumes, vp)
		}
		if len(ip.Volumes) == 0 {
			return nil, &StepError{Step: stepSnapshot, Resource: id, Err: errf("%w: no EBS volumes attached", ErrInvalidInput)}
		}
		sort.Slice(ip.Volumes, func(a, b int) bool { return ip.Volumes[a].Device < ip.Volumes[b].Device })
		if in.RegisterImage {
			img := &ImagePlan{
				Name:               imageName(in.Incident.ID, id),
				RootDeviceName:     aws.ToString(inst.RootDeviceName),
				Architecture:       string(inst.Architecture),
				VirtualizationType: string(inst.VirtualizationType),
				EnaSupport:         aws.ToBool(inst.EnaSupport),
				BootMode:           string(inst.BootMode),
			}
			if img.BootMode == "" {
				img.BootMode = string(inst.CurrentInstanceBootMode)
			}
			found, err := findImage(ctx, c.DescribeImages, img.Name)
			if err != nil {
				return nil, stepErr(stepSnapshot, "DescribeImages", img.Name, err)
			}
			img.Existing = found
			ip.Image = img
		}
		plan.Instances = append(plan.Instances, ip)
	}
	return plan, nil
}

func imageName(incident, instance string) string {
	return "abusekit-" + short(incident) + "-" + instance
}

func findImage(ctx context.Context, api DescribeImagesAPI, name string) (string, error) {
	out, err := api.DescribeImages(ctx, &awsec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("name"), Values: []string{name}}}})
	if err != nil {
		return "", err
	}
	for _, im := range out.Images {
		if aws.ToString(im.Name) == name && im.State != types.ImageStateDeregistered && im.State != types.ImageStateFailed {
			return aws.ToString(im.ImageId), nil
		}
	}
	return "", nil
}

// bestSnapshots picks, per volume, the snapshot to use: completed over
// pending over error, then the oldest (so a duplicate never displaces the
// first).
func bestSnapshots(snaps []types.Snapshot) map[string]types.Snapshot {
	rank := func(s types.SnapshotState) int {
		switch s {
		case types.SnapshotStateCompleted:
			return 0
		case types.SnapshotStatePending:
			return 1
		}
		return 2
	}
	best := map[string]types.Snapshot{}
	for _, s := range snaps {
		v := aws.ToString(s.VolumeId)
		b, ok := best[v]
		if !ok || rank(s.State) < rank(b.State) || (rank(s.State) == rank(b.State) && aws.ToTime(s.StartTime).Before(aws.ToTime(b.StartTime))) {
			best[v] = s
		}
	}
	return best
}

func describeVolumes(ctx context.Context, api DescribeVolumesAPI, ids []string) (map[string]types.Volume, error) {
	m := map[string]types.Volume{}
	for _, b := range chunks(dedupe(ids), describeBatch) {
		p := awsec2.NewDescribeVolumesPaginator(api, &awsec2.DescribeVolumesInput{
			Filters: []types.Filter{{Name: aws.String("volume-id"), Values: b}}, MaxResults: aws.Int32(500)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, v := range out.Volumes {
				m[aws.ToString(v.VolumeId)] = v
			}
		}
	}
	return m, nil
}

// throttleOnly lets the SDK retry a CreateSnapshots only when it was
// throttled (nothing was created); any other failure comes back to
// ApplySnapshot, which looks for what the call may have created before it
// tries again, because CreateSnapshots has no client token.
func throttleOnly(o *awsec2.Options) {
	if o.Retryer == nil {
		return
	}
	o.Retryer = retry.AddWithErrorCodes(&noRetry{o.Retryer}, throttleCodes...)
}

var throttleCodes = []string{"RequestLimitExceeded", "Throttling", "ThrottlingException", "SnapshotCreationPerVolumeRateExceeded"}

type noRetry struct{ aws.Retryer }

func (noRetry) IsErrorRetryable(error) bool { return false }

// ApplySnapshot creates the missing snapshots (one crash-consistent
// CreateSnapshots per instance), tags them, waits until every snapshot is
// completed (failing with ErrSnapshotFailed on the error state and
// ErrTimeout past MaxWait, default 2h), registers images if planned, and
// returns one CompletedSnapshots per instance. A re-run finds the
// snapshots of a crashed run by their tags and creates no second set.
func ApplySnapshot(ctx context.Context, c *Clients, plan *SnapshotPlan, opts ...Option) ([]CompletedSnapshots, error) {
	o := buildOptions(opts, 2*time.Hour)
	if plan == nil {
		return nil, &StepError{Step: stepSnapshot, Err: errf("%w: nil plan", ErrInvalidInput)}
	}
	if err := plan.Incident.validate(stepSnapshot); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &StepError{Step: stepSnapshot, Err: ErrMissingClient}
	}
	if err := need(stepSnapshot, c.CreateSnapshots, c.CreateTags, c.DescribeSnapshots); err != nil {
		return nil, err
	}
	sets := make([]*SnapshotSet, len(plan.Instances))
	var mu sync.Mutex
	err := forEach(ctx, o.Concurrency, indexes(len(plan.Instances)), func(ctx context.Context, i int) error {
		ip := plan.Instances[i]
		set, err := createInstanceSnapshots(ctx, c, plan, ip, o)
		mu.Lock()
		sets[i] = set
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, err
	}
	// Wait for all of them together, in batches.
	var ids []string
	for _, s := range sets {
		for _, v := range s.Snapshots {
			if v.State != string(types.SnapshotStateCompleted) {
				ids = append(ids, v.SnapshotID)
			}
		}
	}
	states, err := waitSnapshots(ctx, c.DescribeSnapshots, ids, o)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		for j := range s.Snapshots {
			if st, ok := states[s.Snapshots[j].SnapshotID]; ok {
				s.Snapshots[j].State = st
			}
		}
	}
	// Images.
	for i, ip := range plan.Instances {
		if ip.Image == nil {
			continue
		}
		if err := need(stepSnapshot, c.RegisterImage, c.DescribeImages); err != nil {
			return nil, err
		}
		img, err := registerImage(ctx, c, plan.Incident, ip, sets[i])
		if err != nil {
			return nil, err
		}
		sets[i].ImageID = img
	}
	out := make([]CompletedSnapshots, len(sets))
	for i, s := range sets {
		if err := checkComplete(s, plan.Instances[i].Volumes); err != nil {
			return nil, err
		}
		out[i] = CompletedSnapshots{set: s}
	}
	return out, nil
}

func checkComplete(s *SnapshotSet, vols []VolumePlan) error {
	have := map[string]VolumeSnapshot{}
	for _, v := range s.Snapshots {
		have[v.VolumeID] = v
	}
	var bad []string
	for _, v := range vols {
		if have[v.VolumeID].State != string(types.SnapshotStateCompleted) {
			bad = append(bad, v.VolumeID)
		}
	}
	if len(bad) > 0 {
		return &StepError{Step: stepSnapshot, Resource: s.InstanceID, Err: errf("%w: volumes %v", ErrSnapshotsIncomplete, bad)}
	}
	return nil
}

func createInstanceSnapshots(ctx context.Context, c *Clients, plan *SnapshotPlan, ip InstanceSnapshotPlan, o Options) (*SnapshotSet, error) {
	set := &SnapshotSet{Incident: plan.Incident, InstanceID: ip.InstanceID}
	byVol := map[string]VolumePlan{}
	var exclude []string
	bootCovered := false
	for _, v := range ip.Volumes {
		byVol[v.VolumeID] = v
		if v.Existing != "" && v.ExistingState != string(types.SnapshotStateError) {
			set.Snapshots = append(set.Snapshots, VolumeSnapshot{VolumeID: v.VolumeID, Device: v.Device, SnapshotID: v.Existing, State: v.ExistingState, SizeGiB: v.SizeGiB, VolumeType: v.VolumeType})
			if v.Device == ip.RootDevice {
				bootCovered = true
			} else {
				exclude = append(exclude, v.VolumeID)
			}
		}
	}
	if !ip.Create {
		return set, nil
	}
	tags := plan.Incident.tags(stepSnapshot, tag(TagInstance, ip.InstanceID))
	var missingVols []VolumePlan
	for _, v := range ip.Volumes {
		if v.Existing == "" || v.ExistingState == string(types.SnapshotStateError) {
			missingVols = append(missingVols, v)
		}
	}
	if len(missingVols) == 1 {
		tags = append(tags, tag(TagDevice, missingVols[0].Device), tag(TagVolume, missingVols[0].VolumeID))
	}
	desc := plan.Description
	if desc == "" {
		desc = fmt.Sprintf("abusekit incident %s: %s", plan.Incident.ID, ip.InstanceID)
	}
	in := &awsec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{
			InstanceId:           aws.String(ip.InstanceID),
			ExcludeBootVolume:    aws.Bool(bootCovered),
			ExcludeDataVolumeIds: exclude,
		},
		CopyTagsFromSource: types.CopyTagsFromSourceVolume,
		Description:        aws.String(desc),
		TagSpecifications:  []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: tags}},
	}
	var infos []types.SnapshotInfo
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := c.CreateSnapshots.CreateSnapshots(ctx, in, throttleOnly)
		if err == nil {
			infos = out.Snapshots
			break
		}
		if !transient(err) || attempt >= 6 {
			return set, stepErr(stepSnapshot, "CreateSnapshots", ip.InstanceID, err)
		}
		// The call may have created the snapshots before failing: look for
		// them (giving eventual consistency a few polls) before retrying.
		found, ferr := findCreated(ctx, c.DescribeSnapshots, plan.Incident.ID, ip.InstanceID, missingVols, delay)
		if ferr != nil {
			return set, stepErr(stepSnapshot, "DescribeSnapshots", ip.InstanceID, ferr)
		}
		if len(found) > 0 {
			infos = found
			break
		}
		delay = min(delay*2, 8*time.Second)
	}
	for _, si := range infos {
		vid := aws.ToString(si.VolumeId)
		v := byVol[vid]
		set.Snapshots = append(set.Snapshots, VolumeSnapshot{VolumeID: vid, Device: v.Device, SnapshotID: aws.ToString(si.SnapshotId), State: string(si.State),
			StartTime: aws.ToTime(si.StartTime), SizeGiB: v.SizeGiB, VolumeType: v.VolumeType})
		if len(missingVols) > 1 {
			if _, err := c.CreateTags.CreateTags(ctx, &awsec2.CreateTagsInput{Resources: []string{aws.ToString(si.SnapshotId)},
				Tags: []types.Tag{tag(TagDevice, v.Device), tag(TagVolume, vid)}}, retryCodes("InvalidSnapshot.NotFound")); err != nil {
				return set, stepErr(stepSnapshot, "CreateTags", aws.ToString(si.SnapshotId), err)
			}
		}
	}
	sort.Slice(set.Snapshots, func(a, b int) bool { return set.Snapshots[a].Device < set.Snapshots[b].Device })
	return set, nil
}

func transient(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	code := errCode(err)
	if slices.Contains(throttleCodes, code) || code == "InternalError" || code == "InternalFailure" || code == "ServiceUnavailable" || code == "Unavailable" {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae interface{ ErrorCode() string }
	return !errors.As(err, &ae) // transport error: unknown outcome
}

func findCreated(ctx context.Context, api DescribeSnapshotsAPI, incident, instance string, want []VolumePlan, wait time.Duration) ([]types.SnapshotInfo, error) {
	wantVol := map[string]bool{}
	for _, v := range want {
		wantVol[v.VolumeID] = true
	}
	for poll := range 4 {
		if poll > 0 {
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		snaps, err := incidentSnapshots(ctx, api, incident)
		if err != nil {
			return nil, err
		}
		var out []types.SnapshotInfo
		for vid, s := range bestSnapshots(filterSnaps(snaps, instance)) {
			if wantVol[vid] && s.State != types.SnapshotStateError {
				out = append(out, types.SnapshotInfo{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, State: s.State, StartTime: s.StartTime})
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, nil
}

func filterSnaps(snaps []types.Snapshot, instance string) []types.Snapshot {
	var out []types.Snapshot
	for _, s := range snaps {
		if tagValue(s.Tags, TagInstance) == instance {
			out = append(out, s)
		}
	}
	return out
}

// waitSnapshots waits, with the SDK's SnapshotCompleted waiter per batch of
// ids, until every snapshot is completed. A snapshot not yet visible
// (eventual consistency) counts as pending; one in the error state fails
// the wait with ErrSnapshotFailed.
func waitSnapshots(ctx context.Context, api DescribeSnapshotsAPI, ids []string, o Options) (map[string]string, error) {
	states := map[string]string{}
	var mu sync.Mutex
	track := newProgressTracker(o.Progress)
	err := forEach(ctx, 4, chunks(dedupe(ids), describeBatch), func(ctx context.Context, b []string) error {
		var failed error
		w := awsec2.NewSnapshotCompletedWaiter(api, func(wo *awsec2.SnapshotCompletedWaiterOptions) {
			wo.MinDelay, wo.MaxDelay = o.PollMin, o.PollMax
			wo.Retryable = func(ctx context.Context, in *awsec2.DescribeSnapshotsInput, out *awsec2.DescribeSnapshotsOutput, err error) (bool, error) {
				if err != nil {
					if transient(err) || isNotFoundCode(errCode(err)) {
						return true, nil
					}
					return false, err
				}
				seen := map[string]types.SnapshotState{}
				now := time.Now()
				for _, s := range out.Snapshots {
					seen[aws.ToString(s.SnapshotId)] = s.State
					track.snapshot(s, now)
				}
				mu.Lock()
				defer mu.Unlock()
				done := true
				for _, id := range b {
					st, ok := seen[id]
					if ok {
						states[id] = string(st)
					}
					switch {
					case st == types.SnapshotStateError:
						failed = &StepError{Step: stepSnapshot, Operation: "DescribeSnapshots", Resource: id, Err: ErrSnapshotFailed}
						return false, failed
					case !ok || st != types.SnapshotStateCompleted:
						done = false
					}
				}
				return !done, nil
			}
		})
		err := w.Wait(ctx, &awsec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("snapshot-id"), Values: b}}}, o.MaxWait)
		if err == nil {
			return nil
		}
		if failed != nil {
			return failed
		}
		if waitTimedOut(ctx, err) {
			return &StepError{Step: stepSnapshot, Operation: "DescribeSnapshots", Resource: b[0], Err: errf("%w: %d snapshot(s) not completed after %s", ErrTimeout, len(b), o.MaxWait)}
		}
		return stepErr(stepSnapshot, "DescribeSnapshots", b[0], err)
	})
	return states, err
}

func registerImage(ctx context.Context, c *Clients, inc Incident, ip InstanceSnapshotPlan, set *SnapshotSet) (string, error) {
	img := ip.Image
	if img.Existing != "" {
		return img.Existing, nil
	}
	var bdms []types.BlockDeviceMapping
	for _, s := range set.Snapshots {
		ebs := &types.EbsBlockDevice{SnapshotId: aws.String(s.SnapshotID), DeleteOnTermination: aws.Bool(true)}
		if s.VolumeType != "" {
			ebs.VolumeType = types.VolumeType(s.VolumeType)
		}
		bdms = append(bdms, types.BlockDeviceMapping{DeviceName: aws.String(s.Device), Ebs: ebs})
	}
	in := &awsec2.RegisterImageInput{
		Name:                aws.String(img.Name),
		Description:         aws.String(fmt.Sprintf("abusekit incident %s: forensic image of %s (launch isolated only)", inc.ID, ip.InstanceID)),
		RootDeviceName:      aws.String(img.RootDeviceName),
		BlockDeviceMappings: bdms,
		TagSpecifications:   []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: inc.tags(stepSnapshot, tag(TagInstance, ip.InstanceID))}},
	}
	if img.Architecture != "" {
		in.Architecture = types.ArchitectureValues(img.Architecture)
	}
	if img.VirtualizationType != "" {
		in.VirtualizationType = aws.String(img.VirtualizationType)
	}
	if img.EnaSupport {
		in.EnaSupport = aws.Bool(true)
	}
	if img.BootMode != "" {
		in.BootMode = types.BootModeValues(img.BootMode)
	}
	out, err := c.RegisterImage.RegisterImage(ctx, in, retryCodes("InvalidSnapshot.NotFound"))
	if err == nil {
		return aws.ToString(out.ImageId), nil
	}
	if errCode(err) == "InvalidAMIName.Duplicate" {
		for range 10 {
			id, ferr := findImage(ctx, c.DescribeImages, img.Name)
			if ferr != nil {
				return "", stepErr(stepSnapshot, "DescribeImages", img.Name, ferr)
			}
			if id != "" {
				return id, nil
			}
			if err := sleep(ctx, time.Second); err != nil {
				return "", stepErr(stepSnapshot, "DescribeImages", img.Name, err)
			}
		}
	}
	return "", stepErr(stepSnapshot, "RegisterImage", img.Name, err)
}

// Snapshot plans and applies in one call.
func Snapshot(ctx context.Context, c *Clients, in SnapshotInput, opts ...Option) ([]CompletedSnapshots, error) {
	p, err := PlanSnapshot(ctx, c, in, opts...)
	if err != nil {
		return nil, err
	}
	return ApplySnapshot(ctx, c, p, opts...)
}

// VerifySnapshots checks, against EC2 now, that the snapshots a snapshot
// step of this incident created and journaled (set, as ApplySnapshot's
// CompletedSnapshots marshalled it: set.Snapshots[].SnapshotID) are
// completed, carry the incident's tag, and cover every EBS volume attached
// to set.InstanceID; it returns them as CompletedSnapshots. Only the
// snapshot ids listed in set count: a snapshot anyone tagged with the
// incident (a nightly backup, say) does not. Otherwise it returns
// ErrSnapshotsIncomplete naming the uncovered volumes. Use it to resume
// from a journal.
func VerifySnapshots(ctx context.Context, c *Clients, set SnapshotSet) (CompletedSnapshots, error) {
	if err := set.Incident.validate(stepSnapshot); err != nil {
		return CompletedSnapshots{}, err
	}
	if strings.TrimSpace(set.InstanceID) == "" {
		return CompletedSnapshots{}, &StepError{Step: stepSnapshot, Err: errf("%w: the set names no instance", ErrInvalidInput)}
	}
	ids := map[string]bool{}
	for _, v := range set.Snapshots {
		if v.SnapshotID != "" {
			ids[v.SnapshotID] = true
		}
	}
	if len(ids) == 0 {
		return CompletedSnapshots{}, &StepError{Step: stepTerminate, Resource: set.InstanceID,
			Err: errf("%w: no snapshot ids from this incident's snapshot step (pass the set it returned)", ErrSnapshotsIncomplete)}
	}
	if c == nil {
		return CompletedSnapshots{}, &StepError{Step: stepSnapshot, Err: ErrMissingClient}
	}
	if err := need(stepSnapshot, c.DescribeInstances, c.DescribeSnapshots); err != nil {
		return CompletedSnapshots{}, err
	}
	got, err := coverage(ctx, c, set.Incident, set.InstanceID, ids)
	if err != nil {
		return CompletedSnapshots{}, err
	}
	got.ImageID = set.ImageID
	return CompletedSnapshots{set: got}, nil
}

// coverage checks that every EBS volume attached to instanceID has a
// completed snapshot from inc among the snapshot ids listed in ids.
func coverage(ctx context.Context, c *Clients, inc Incident, instanceID string, ids map[string]bool) (*SnapshotSet, error) {
	insts, missing, err := describeInstances(ctx, c.DescribeInstances, []string{instanceID})
	if err != nil {
		return nil, stepErr(stepTerminate, "DescribeInstances", instanceID, err)
	}
	if len(missing) > 0 {
		return nil, &StepError{Step: stepTerminate, Operation: "DescribeInstances", Resource: instanceID, Err: ErrNotFound}
	}
	snaps, err := incidentSnapshots(ctx, c.DescribeSnapshots, inc.ID)
	if err != nil {
		return nil, stepErr(stepTerminate, "DescribeSnapshots", instanceID, err)
	}
	var usable []types.Snapshot
	for _, s := range snaps {
		if !ids[aws.ToString(s.SnapshotId)] {
			continue
		}
		if s.State == types.SnapshotStateCompleted && tagValue(s.Tags, TagIncident) == inc.ID {
			usable = append(usable, s)
		}
	}
	best := bestSnapshots(usable)
	set := &SnapshotSet{Incident: inc, InstanceID: instanceID}
	var bad []string
	for _, bdm := range insts[instanceID].BlockDeviceMappings {
		if bdm.Ebs == nil {
			continue
		}
		vid := aws.ToString(bdm.Ebs.VolumeId)
		s, ok := best[vid]
		if !ok {
			bad = append(bad, vid+" ("+aws.ToString(bdm.DeviceName)+")")
			continue
		}
		set.Snapshots = append(set.Snapshots, VolumeSnapshot{VolumeID: vid, Device: aws.ToString(bdm.DeviceName), SnapshotID: aws.ToString(s.SnapshotId),
			State: string(s.State), StartTime: aws.ToTime(s.StartTime), SizeGiB: aws.ToInt32(s.VolumeSize)})
	}
	if len(bad) > 0 {
		return nil, &StepError{Step: stepTerminate, Resource: instanceID, Err: errf("%w: no completed snapshot from incident %s for %s", ErrSnapshotsIncomplete, inc.ID, strings.Join(bad, ", "))}
	}
	if len(set.Snapshots) == 0 {
		return nil, &StepError{Step: stepTerminate, Resource: instanceID, Err: errf("%w: instance has no EBS volumes to cover", ErrSnapshotsIncomplete)}
	}
	sort.Slice(set.Snapshots, func(a, b int) bool { return set.Snapshots[a].Device < set.Snapshots[b].Device })
	return set, nil
}

// waitTimedOut tells a waiter that ran out of its maximum wait (either
// its own verdict or its internal deadline) from the caller's ctx ending.
func waitTimedOut(parent context.Context, err error) bool {
	if err == nil || parent.Err() != nil {
		return false
	}
	return strings.Contains(err.Error(), "exceeded max wait time") || errors.Is(err, context.DeadlineExceeded)
}
