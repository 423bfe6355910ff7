package ec2

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InstanceRecord is what AWS's incident guidance for EC2 asks to capture
// before the first change: the instance as DescribeInstances gives it,
// its attached volumes, its interfaces, the rules of its security groups,
// its instance profile and its tags. Contain puts one per instance in its
// plan and its undo record (and so in the store), taken before anything
// changed.
type InstanceRecord struct {
	InstanceID         string            `json:"instance_id"`
	RecordedAt         time.Time         `json:"recorded_at"`
	State              string            `json:"state"`
	InstanceType       string            `json:"instance_type"`
	ImageID            string            `json:"image_id"`
	LaunchTime         time.Time         `json:"launch_time,omitzero"`
	AvailabilityZone   string            `json:"availability_zone,omitempty"`
	VPCID              string            `json:"vpc_id,omitempty"`
	SubnetID           string            `json:"subnet_id,omitempty"`
	Architecture       string            `json:"architecture,omitempty"`
	Platform           string            `json:"platform,omitempty"`
	Lifecycle          string            `json:"lifecycle,omitempty"` // "spot", "scheduled", "capacity-block"; empty: on-demand
	KeyName            string            `json:"key_name,omitempty"`
	InstanceProfileARN string            `json:"instance_profile_arn,omitempty"`
	RootDevice         string            `json:"root_device,omitempty"`
	PrivateIP          string            `json:"private_ip,omitempty"`
	PublicIP           string            `json:"public_ip,omitempty"`
	IMDSv2             string            `json:"imds_http_tokens,omitempty"` // "required" or "optional"
	Tags               map[string]string `json:"tags,omitempty"`
	Volumes            []VolumeRecord    `json:"volumes,omitempty"`
	Interfaces         []ENIRecord       `json:"interfaces,omitempty"`
	SecurityGroups     []GroupRecord     `json:"security_groups,omitempty"`
}

// VolumeRecord is one attached EBS volume. Size, type, encryption and
// source snapshot come from DescribeVolumes (left empty when that client
// is not configured).
type VolumeRecord struct {
	Device              string    `json:"device"`
	VolumeID            string    `json:"volume_id"`
	DeleteOnTermination bool      `json:"delete_on_termination"`
	AttachTime          time.Time `json:"attach_time,omitzero"`
	SizeGiB             int32     `json:"size_gib,omitempty"`
	Type                string    `json:"type,omitempty"`
	Encrypted           bool      `json:"encrypted,omitempty"`
	KMSKeyID            string    `json:"kms_key_id,omitempty"`
	SnapshotID          string    `json:"snapshot_id,omitempty"`
}

// ENIRecord is one network interface.
type ENIRecord struct {
	NetworkInterfaceID string   `json:"network_interface_id"`
	DeviceIndex        int32    `json:"device_index"`
	SubnetID           string   `json:"subnet_id,omitempty"`
	MAC                string   `json:"mac,omitempty"`
	PrivateIPs         []string `json:"private_ips,omitempty"`
	PublicIP           string   `json:"public_ip,omitempty"`
	IPv6               []string `json:"ipv6,omitempty"`
	Groups             []string `json:"groups"`
	SourceDestCheck    bool     `json:"source_dest_check"`
}

// GroupRecord is one security group with its rules as they were.
type GroupRecord struct {
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
	VPCID   string `json:"vpc_id,omitempty"`
	Rules   []Rule `json:"rules"`
}

// Capture reads the instances and returns their records, in the order of
// ids. It makes no mutating call.
func Capture(ctx context.Context, c *Clients, ids []string) ([]InstanceRecord, error) {
	const step = "capture"
	ids = dedupe(ids)
	if c == nil {
		return nil, &StepError{Step: step, Err: ErrMissingClient}
	}
	if err := need(step, c.DescribeInstances, c.DescribeSecurityGroups); err != nil {
		return nil, err
	}
	insts, missing, err := describeInstances(ctx, c.DescribeInstances, ids)
	if err != nil {
		return nil, stepErr(step, "DescribeInstances", "", err)
	}
	if len(missing) > 0 {
		return nil, &StepError{Step: step, Operation: "DescribeInstances", Resource: missing[0], Err: errf("%w: instances %v", ErrNotFound, missing)}
	}
	return captureRecords(ctx, c, step, ids, insts, time.Now().UTC())
}

func captureRecords(ctx context.Context, c *Clients, step string, ids []string, insts map[string]types.Instance, now time.Time) ([]InstanceRecord, error) {
	var gids, vids []string
	for _, id := range ids {
		inst := insts[id]
		for _, g := range inst.SecurityGroups {
			gids = append(gids, aws.ToString(g.GroupId))
		}
		for _, eni := range inst.NetworkInterfaces {
			for _, g := range eni.Groups {
				gids = append(gids, aws.ToString(g.GroupId))
			}
		}
		for _, b := range inst.BlockDeviceMappings {
			if b.Ebs != nil {
				vids = append(vids, aws.ToString(b.Ebs.VolumeId))
			}
		}
	}
	groups, err := describeGroupsByID(ctx, c.DescribeSecurityGroups, gids)
	if err != nil {
		return nil, stepErr(step, "DescribeSecurityGroups", "", err)
	}
	vols := map[string]types.Volume{}
	if c.DescribeVolumes != nil && len(vids) > 0 {
		for _, b := range chunks(dedupe(vids), describeBatch) {
			p := awsec2.NewDescribeVolumesPaginator(c.DescribeVolumes, &awsec2.DescribeVolumesInput{
				Filters: []types.Filter{{Name: aws.String("volume-id"), Values: b}}, MaxResults: aws.Int32(500)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, stepErr(step, "DescribeVolumes", b[0], err)
				}
				for _, v := range out.Volumes {
					vols[aws.ToString(v.VolumeId)] = v
				}
			}
		}
	}
	out := make([]InstanceRecord, 0, len(ids))
	for _, id := range ids {
		out = append(out, recordOf(insts[id], groups, vols, now))
	}
	return out, nil
}

func recordOf(inst types.Instance, groups map[string]types.SecurityGroup, vols map[string]types.Volume, now time.Time) InstanceRecord {
	r := InstanceRecord{
		InstanceID: aws.ToString(inst.InstanceId), RecordedAt: now, InstanceType: string(inst.InstanceType), ImageID: aws.ToString(inst.ImageId),
		LaunchTime: aws.ToTime(inst.LaunchTime), VPCID: aws.ToString(inst.VpcId), SubnetID: aws.ToString(inst.SubnetId),
		Architecture: string(inst.Architecture), Platform: aws.ToString(inst.PlatformDetails), Lifecycle: string(inst.InstanceLifecycle),
		KeyName: aws.ToString(inst.KeyName), RootDevice: aws.ToString(inst.RootDeviceName),
		PrivateIP: aws.ToString(inst.PrivateIpAddress), PublicIP: aws.ToString(inst.PublicIpAddress),
	}
	if inst.State != nil {
		r.State = string(inst.State.Name)
	}
	if inst.Placement != nil {
		r.AvailabilityZone = aws.ToString(inst.Placement.AvailabilityZone)
	}
	if inst.IamInstanceProfile != nil {
		r.InstanceProfileARN = aws.ToString(inst.IamInstanceProfile.Arn)
	}
	if inst.MetadataOptions != nil {
		r.IMDSv2 = string(inst.MetadataOptions.HttpTokens)
	}
	if len(inst.Tags) > 0 {
		r.Tags = map[string]string{}
		for _, t := range inst.Tags {
			r.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	for _, b := range inst.BlockDeviceMappings {
		if b.Ebs == nil {
			continue
		}
		vr := VolumeRecord{Device: aws.ToString(b.DeviceName), VolumeID: aws.ToString(b.Ebs.VolumeId),
			DeleteOnTermination: aws.ToBool(b.Ebs.DeleteOnTermination), AttachTime: aws.ToTime(b.Ebs.AttachTime)}
		if v, ok := vols[vr.VolumeID]; ok {
			vr.SizeGiB, vr.Type, vr.Encrypted = aws.ToInt32(v.Size), string(v.VolumeType), aws.ToBool(v.Encrypted)
			vr.KMSKeyID, vr.SnapshotID = aws.ToString(v.KmsKeyId), aws.ToString(v.SnapshotId)
		}
		r.Volumes = append(r.Volumes, vr)
	}
	sort.Slice(r.Volumes, func(a, b int) bool { return r.Volumes[a].Device < r.Volumes[b].Device })
	var gids []string
	for _, eni := range inst.NetworkInterfaces {
		er := ENIRecord{NetworkInterfaceID: aws.ToString(eni.NetworkInterfaceId), SubnetID: aws.ToString(eni.SubnetId),
			MAC: aws.ToString(eni.MacAddress), SourceDestCheck: aws.ToBool(eni.SourceDestCheck), Groups: []string{}}
		if eni.Attachment != nil {
			er.DeviceIndex = aws.ToInt32(eni.Attachment.DeviceIndex)
		}
		for _, a := range eni.PrivateIpAddresses {
			er.PrivateIPs = append(er.PrivateIPs, aws.ToString(a.PrivateIpAddress))
		}
		if len(er.PrivateIPs) == 0 && eni.PrivateIpAddress != nil {
			er.PrivateIPs = []string{aws.ToString(eni.PrivateIpAddress)}
		}
		if eni.Association != nil {
			er.PublicIP = aws.ToString(eni.Association.PublicIp)
		}
		for _, a := range eni.Ipv6Addresses {
			er.IPv6 = append(er.IPv6, aws.ToString(a.Ipv6Address))
		}
		for _, g := range eni.Groups {
			er.Groups = append(er.Groups, aws.ToString(g.GroupId))
			gids = append(gids, aws.ToString(g.GroupId))
		}
		r.Interfaces = append(r.Interfaces, er)
	}
	sort.Slice(r.Interfaces, func(a, b int) bool { return r.Interfaces[a].DeviceIndex < r.Interfaces[b].DeviceIndex })
	for _, g := range inst.SecurityGroups {
		gids = append(gids, aws.ToString(g.GroupId))
	}
	gids = dedupe(gids)
	slices.Sort(gids)
	for _, gid := range gids {
		gr := GroupRecord{GroupID: gid, Rules: []Rule{}}
		if g, ok := groups[gid]; ok {
			gr.Name, gr.VPCID = aws.ToString(g.GroupName), aws.ToString(g.VpcId)
			gr.Rules = groupRules(g)
			sortRules(gr.Rules)
		}
		r.SecurityGroups = append(r.SecurityGroups, gr)
	}
	return r
}
