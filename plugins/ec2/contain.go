package ec2

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

const (
	stepContain   = "contain"
	stepSnapshot  = "snapshot"
	stepRebuild   = "rebuild"
	stepTerminate = "terminate"
	stepHarden    = "harden"
	stepAlarms    = "alarms"
	stepUndo      = "undo"

	// RoleQuarantine and RolePassthrough are the TagRole values of the groups Contain uses.
	RoleQuarantine  = "quarantine"
	RolePassthrough = "passthrough"

	// DefaultQuarantineGroup and DefaultPassthroughGroup are the group names Contain
	// looks for, and creates, in each VPC.
	DefaultQuarantineGroup  = "abusekit-quarantine"
	DefaultPassthroughGroup = "abusekit-passthrough"
)

// ASGMode says how Contain takes an instance out of its Auto Scaling group.
type ASGMode string

const (
	// ASGDetach detaches the instance (DetachInstances). The default.
	ASGDetach ASGMode = "detach"
	// ASGStandby puts it in Standby (EnterStandby); it stays a member.
	ASGStandby ASGMode = "standby"
	// ASGSkip leaves Auto Scaling alone (the group may replace or
	// terminate the quarantined instance when its health checks fail).
	ASGSkip ASGMode = "skip"
)

// ContainInput names the instances to contain.
type ContainInput struct {
	Incident    Incident
	InstanceIDs []string
	// QuarantineGroupName defaults to DefaultQuarantineGroup.
	QuarantineGroupName string
	// PassthroughGroupName is ignored. Earlier versions moved interfaces
	// through an all-traffic group (open to 0.0.0.0/0 and ::/0) so that
	// tracked connections became untracked; that opened the instance to
	// the internet for the dwell, and is no longer done.
	PassthroughGroupName string
	AutoScaling          ASGMode // default ASGDetach
	// AllowASGReplacement detaches without decrementing the desired
	// capacity, so the group launches a replacement. Without it, Contain
	// always decrements (no replacement) and PlanContain fails with
	// ErrASGMinSize where that would go below the group's MinSize.
	AllowASGReplacement bool
	SkipLoadBalancers   bool
	// KeepInstanceProfile leaves the instance profile attached. By default
	// Contain disassociates it (first of all, with the shutdown behaviour
	// and volumes), so the instance gets no new credentials of its role;
	// Undo associates it again.
	KeepInstanceProfile bool
	// NetworkACL also adds deny entries for the instance's addresses to
	// its subnet's network ACL (stateless: it cuts established and
	// always-tracked connections, which a security group change does not).
	// The ACL is the subnet's, shared; the entries name only the
	// instance's addresses, and Undo deletes them.
	NetworkACL bool
	// KeepRoleSessions leaves the role's sessions alone. By default, when
	// Contain removes an instance profile it also revokes the sessions
	// of the profile's role issued until then (an inline deny on
	// aws:TokenIssueTime, as AWS documents): credentials the attacker took
	// from the instance stop working. Every other holder of the role gets
	// new credentials on its next refresh. Undo deletes the policy.
	KeepRoleSessions bool
	// HostStepsOverSSM says host steps (detect, stop, clean) will reach the
	// instances over SSM Run Command once contained. Without an endpoint
	// below the plan says they cannot (NoteSSMNoEndpoint); with one, it
	// says what the removed instance profile means for the agent.
	HostStepsOverSSM bool
	// SSMEndpointGroupIDs are the security groups of the VPC interface
	// endpoints for ssm, ssmmessages and ec2messages (and S3, for the
	// staged binary), SSMPrefixListIDs managed prefix lists (S3's gateway
	// endpoint, com.amazonaws.<region>.s3). Either one implies
	// HostStepsOverSSM: in each VPC that has an endpoint group or when a
	// prefix list is given, the instances go into the group
	// QuarantineGroupName+SSMGroupSuffix instead, which admits nothing in
	// and only tcp 443 out to those (read back and converged before use,
	// like the plain one).
	SSMEndpointGroupIDs []string
	SSMPrefixListIDs    []string
	// DNSFirewallRuleGroupID is a Route 53 Resolver DNS Firewall rule
	// group (rslvr-frg-…) the operator prepared: Contain associates it
	// with each VPC of the plan (a security group cannot filter DNS to the
	// VPC resolver, so without it the instance can still resolve names and
	// tunnel over DNS). It filters every instance of the VPC; Undo
	// removes the associations Contain made.
	DNSFirewallRuleGroupID string
}

// GroupPlan is one quarantine or passthrough group in one VPC.
type GroupPlan struct {
	VPCID   string `json:"vpc_id"`
	Role    string `json:"role"`
	Name    string `json:"name"`
	GroupID string `json:"group_id,omitempty"` // empty: will be created
	// Converge lists the rules that must be added (passthrough) or revoked
	// (quarantine) for an existing group to have exactly its role's rules.
	Converge []Rule `json:"converge,omitempty"`
	// Rules are the only rules the group keeps: the SSM egress of a
	// RoleQuarantineSSM group (none for RoleQuarantine).
	Rules []Rule `json:"rules,omitempty"`
}

// Interface is one network interface and its security groups.
type Interface struct {
	NetworkInterfaceID string   `json:"network_interface_id"`
	Groups             []string `json:"groups"`
}

// TargetRef is one registration of an instance in an ELBv2 target group.
type TargetRef struct {
	TargetGroupARN   string `json:"target_group_arn"`
	Port             int32  `json:"port,omitempty"`
	AvailabilityZone string `json:"availability_zone,omitempty"`
}

// ProfileAssociation is an instance profile attached to an instance.
type ProfileAssociation struct {
	AssociationID string `json:"association_id"`
	ARN           string `json:"arn"`
}

// InstanceContain is the plan for one instance.
type InstanceContain struct {
	InstanceID string      `json:"instance_id"`
	VPCID      string      `json:"vpc_id"`
	State      string      `json:"state"`
	Interfaces []Interface `json:"interfaces"` // current groups per ENI
	// Current protection; Contain turns on the ones that are off.
	// nil: not read at plan time (batches above PlanAttributeLimit);
	// ApplyContain reads them right before acting, so the undo record
	// stays exact.
	TerminationProtection *bool `json:"termination_protection"`
	StopProtection        *bool `json:"stop_protection"`
	// ShutdownBehavior is the instance's current
	// InstanceInitiatedShutdownBehavior ("" when not read at plan time);
	// Contain sets it to "stop", first of all, so that a "shutdown -h now"
	// on the instance does not terminate it.
	ShutdownBehavior string `json:"shutdown_behavior,omitempty"`
	// DeleteOnTermination lists the devices whose EBS volume would be
	// deleted with the instance; Contain sets DeleteOnTermination=false on
	// each, first of all.
	DeleteOnTermination []string `json:"delete_on_termination,omitempty"`
	// InstanceProfile is the instance profile association Contain removes
	// (nil: none, or KeepInstanceProfile).
	InstanceProfile *ProfileAssociation `json:"instance_profile,omitempty"`
	// NetworkACLEntries are the deny entries Contain adds (NetworkACL).
	NetworkACLEntries []ACLEntry `json:"network_acl_entries,omitempty"`
	// RevokeRoleSessions are the roles whose older sessions Contain
	// revokes (the removed instance profile's).
	RevokeRoleSessions []string `json:"revoke_role_sessions,omitempty"`
	// TrackedPaths are the NAT gateways, transit gateways, Gateway Load
	// Balancer endpoints and Network/Gateway Load Balancers the instance
	// sits behind: their connections survive the security group change
	// (the plan's notes say so, and whether NetworkACL cuts them).
	TrackedPaths []TrackedPath `json:"tracked_paths,omitempty"`
	// Refused lists what EC2 refuses for this instance, so Contain does
	// not ask: "termination" and "stop" protection for a Spot Instance,
	// "stop" protection and a shutdown behaviour of "stop" ("shutdown")
	// for an instance-store root device. The plan's notes say what that
	// leaves open.
	Refused          []string          `json:"refused,omitempty"`
	AutoScalingGroup string            `json:"auto_scaling_group,omitempty"`
	ASGAction        ASGMode           `json:"asg_action,omitempty"`
	DecrementDesired bool              `json:"decrement_desired,omitempty"`
	TargetGroups     []TargetRef       `json:"target_groups,omitempty"`
	TagsToAdd        map[string]string `json:"tags_to_add,omitempty"`
	AlreadyContained bool              `json:"already_contained,omitempty"`
}

// ContainPlan is what ApplyContain will do. It is JSON-able for review.
type ContainPlan struct {
	Step      string            `json:"step"`
	Incident  Incident          `json:"incident"`
	Groups    []GroupPlan       `json:"groups"`
	Instances []InstanceContain `json:"instances"`
	// Notes tell the operator what the containment does not cover.
	Notes []string `json:"notes,omitempty"`
	// DNSFirewall: the rule group's association with each VPC
	// (ContainInput.DNSFirewallRuleGroupID).
	DNSFirewall []DNSFirewallPlan `json:"dns_firewall,omitempty"`
	// Records are the instances as they were when planned (Capture):
	// description, volumes, interfaces, security group rules, instance
	// profile and tags, for the incident record.
	Records []InstanceRecord `json:"records,omitempty"`
}

// NoteCredentials is the note of a plan that removes instance profiles:
// NoteCredentialsKept when the role's sessions are kept
// (KeepRoleSessions).
const (
	NoteCredentials = "removing the instance profile stops new credentials for its role, and the role's sessions issued until now are revoked " +
		"(an inline deny on aws:TokenIssueTime): every other instance or user of the same role gets new credentials on its next refresh; " +
		"the shipped iam-policy.json allows this only on roles tagged " + TagInstanceRole + "=allowed"
	NoteCredentialsKept = "removing the instance profile stops new credentials for its role; credentials already issued to the instance " +
		"stay valid until they expire (up to hours): the role's sessions are not revoked (KeepRoleSessions)"
)

// NoteAlwaysTracked and NoteDNS are notes every ContainPlan carries.
const (
	NoteAlwaysTracked = "connections that reach the instance through a NAT gateway, a Network or Gateway Load Balancer or a Transit Gateway " +
		"are always tracked and survive a security group change; only a network ACL cuts them"
	NoteDNS = "a security group cannot filter DNS to the VPC resolver (the VPC base address +2, 169.254.169.253): " +
		"the instance can still resolve names (and tunnel over DNS); Route 53 Resolver DNS Firewall can block that"
)

// NoteTrackedConnections is the note every ContainPlan carries.
const NoteTrackedConnections = "security group changes do not end connections the old groups tracked: " +
	"an established flow (a shell, a pool connection) continues until it idles out; " +
	"no all-traffic group is used on the way, as it would open the instance to the internet meanwhile"

// InstanceUndo records what Contain changed on one instance.
type InstanceUndo struct {
	InstanceID string `json:"instance_id"`
	// Interfaces holds the groups each ENI had before Contain touched it;
	// only ENIs Contain changed are listed.
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Previous values of the attributes Contain turned on (nil: untouched).
	TerminationProtectionWas *bool        `json:"termination_protection_was,omitempty"`
	StopProtectionWas        *bool        `json:"stop_protection_was,omitempty"`
	ShutdownBehaviorWas      string       `json:"shutdown_behavior_was,omitempty"`
	DeleteOnTerminationWas   []string     `json:"delete_on_termination_was,omitempty"` // devices set back to true
	InstanceProfileWas       string       `json:"instance_profile_was,omitempty"`      // ARN associated again
	NetworkACLEntries        []ACLEntry   `json:"network_acl_entries,omitempty"`       // deny entries to delete
	RolePolicies             []RolePolicy `json:"role_policies,omitempty"`             // revocation policies to delete
	TagsAdded                []string     `json:"tags_added,omitempty"`
	AutoScalingGroup         string       `json:"auto_scaling_group,omitempty"`
	ASGAction                ASGMode      `json:"asg_action,omitempty"`
	Decremented              bool         `json:"decremented,omitempty"`
	TargetGroups             []TargetRef  `json:"target_groups,omitempty"`
}

// ContainUndo is the typed undo record ApplyContain returns, also when it
// fails part-way: it lists exactly what was changed.
type ContainUndo struct {
	Step          string         `json:"step"`
	Incident      Incident       `json:"incident"`
	CreatedGroups []string       `json:"created_groups,omitempty"`
	Instances     []InstanceUndo `json:"instances"`
	// DNSFirewallAssociations are the DNS Firewall rule group
	// associations Contain made (Undo removes them).
	DNSFirewallAssociations []string `json:"dns_firewall_associations,omitempty"`
	// Records are the instances as they were before the first change
	// (ContainPlan.Records; with a store, the first run's win).
	Records []InstanceRecord `json:"records,omitempty"`

	mu    sync.Mutex
	index map[string]int
}

// OriginalGroups returns the security groups the instance's interfaces had
// before containment (union over ENIs), or nil if Contain did not change them.
func (u *ContainUndo) OriginalGroups(instanceID string) []string {
	for _, iu := range u.Instances {
		if iu.InstanceID == instanceID {
			var g []string
			for _, e := range iu.Interfaces {
				g = append(g, e.Groups...)
			}
			g = dedupe(g)
			slices.Sort(g)
			return g
		}
	}
	return nil
}

func (u *ContainUndo) update(id string, fn func(*InstanceUndo)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.index == nil {
		u.index = map[string]int{}
		for i, iu := range u.Instances {
			u.index[iu.InstanceID] = i
		}
	}
	i, ok := u.index[id]
	if !ok {
		u.Instances = append(u.Instances, InstanceUndo{InstanceID: id})
		i = len(u.Instances) - 1
		u.index[id] = i
	}
	fn(&u.Instances[i])
}

func (in *ContainInput) defaults() {
	if in.QuarantineGroupName == "" {
		in.QuarantineGroupName = DefaultQuarantineGroup
	}
	if in.PassthroughGroupName == "" {
		in.PassthroughGroupName = DefaultPassthroughGroup
	}
	if in.AutoScaling == "" {
		in.AutoScaling = ASGDetach
	}
}

// PlanContain reads the instances, their interfaces, protection attributes,
// Auto Scaling and target group membership, and the quarantine groups, and
// returns what ApplyContain would change. It makes no mutating call.
func PlanContain(ctx context.Context, c *Clients, in ContainInput, opts ...Option) (*ContainPlan, error) {
	o := buildOptions(opts, 0)
	if err := in.Incident.validate(stepContain); err != nil {
		return nil, err
	}
	in.defaults()
	ids := dedupe(in.InstanceIDs)
	if len(ids) == 0 {
		return nil, &StepError{Step: stepContain, Err: errf("%w: no instance ids", ErrInvalidInput)}
	}
	if c == nil {
		return nil, &StepError{Step: stepContain, Err: ErrMissingClient}
	}
	if err := need(stepContain, c.DescribeInstances, c.DescribeInstanceAttribute, c.DescribeSecurityGroups); err != nil {
		return nil, err
	}
	if in.AutoScaling != ASGSkip {
		if err := need(stepContain, c.DescribeAutoScalingInstances, c.DescribeAutoScalingGroups); err != nil {
			return nil, err
		}
	}
	if !in.SkipLoadBalancers {
		if err := need(stepContain, c.DescribeTargetGroups, c.DescribeTargetHealth); err != nil {
			return nil, err
		}
	}
	insts, missing, err := describeInstances(ctx, c.DescribeInstances, ids)
	if err != nil {
		return nil, stepErr(stepContain, "DescribeInstances", "", err)
	}
	if len(missing) > 0 {
		return nil, &StepError{Step: stepContain, Operation: "DescribeInstances", Resource: missing[0], Err: errf("%w: instances %v", ErrNotFound, missing)}
	}
	plan := &ContainPlan{Step: stepContain, Incident: in.Incident}

	// Groups per VPC.
	vpcs := map[string]bool{}
	for _, id := range ids {
		v := aws.ToString(insts[id].VpcId)
		if v == "" {
			return nil, &StepError{Step: stepContain, Resource: id, Err: errf("%w: instance has no VPC (EC2-Classic is not supported)", ErrInvalidInput)}
		}
		vpcs[v] = true
	}
	vpcList := make([]string, 0, len(vpcs))
	for v := range vpcs {
		vpcList = append(vpcList, v)
	}
	sort.Strings(vpcList)
	overSSM := in.HostStepsOverSSM || len(in.SSMEndpointGroupIDs) > 0 || len(in.SSMPrefixListIDs) > 0
	var ssm *ssmEgress
	if overSSM {
		if ssm, err = planSSMEgress(ctx, c, in); err != nil {
			return nil, err
		}
	}
	qid := map[string]string{}
	for _, v := range vpcList {
		role, name, want := RoleQuarantine, in.QuarantineGroupName, []Rule(nil)
		if ssm != nil {
			if want = ssm.rules(v); len(want) > 0 {
				role, name = RoleQuarantineSSM, in.QuarantineGroupName+SSMGroupSuffix
			}
		}
		gp, err := planRoleGroup(ctx, c, v, role, name, want)
		if err != nil {
			return nil, err
		}
		qid[v] = gp.GroupID
		plan.Groups = append(plan.Groups, gp)
	}
	plan.Notes = append(plan.Notes, NoteTrackedConnections, NoteAlwaysTracked, NoteDNS)
	if in.DNSFirewallRuleGroupID != "" {
		if plan.DNSFirewall, err = planDNSFirewall(ctx, c, in.DNSFirewallRuleGroupID, vpcList); err != nil {
			return nil, err
		}
		plan.Notes = append(plan.Notes, NoteDNSFirewall)
	}
	if overSSM && len(in.SSMEndpointGroupIDs) == 0 && len(in.SSMPrefixListIDs) == 0 {
		plan.Notes = append(plan.Notes, NoteSSMNoEndpoint)
	}

	// Auto Scaling membership, batched 50 ids a call.
	asgOf := map[string]string{}
	asgState := map[string]string{}
	if in.AutoScaling != ASGSkip {
		for _, b := range chunks(ids, 50) {
			p := autoscaling.NewDescribeAutoScalingInstancesPaginator(c.DescribeAutoScalingInstances, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: b, MaxRecords: aws.Int32(50)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, stepErr(stepContain, "DescribeAutoScalingInstances", "", err)
				}
				for _, ai := range out.AutoScalingInstances {
					asgOf[aws.ToString(ai.InstanceId)] = aws.ToString(ai.AutoScalingGroupName)
					asgState[aws.ToString(ai.InstanceId)] = aws.ToString(ai.LifecycleState)
				}
			}
		}
	}
	if len(asgOf) > 0 && !in.AllowASGReplacement {
		count := map[string]int{}
		for id, g := range asgOf {
			if !isStandbyOrDetached(asgState[id]) {
				count[g]++
			}
		}
		names := make([]string, 0, len(count))
		for g := range count {
			names = append(names, g)
		}
		sort.Strings(names)
		for _, b := range chunks(names, 50) {
			out, err := c.DescribeAutoScalingGroups.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: b})
			if err != nil {
				return nil, stepErr(stepContain, "DescribeAutoScalingGroups", "", err)
			}
			for _, g := range out.AutoScalingGroups {
				name := aws.ToString(g.AutoScalingGroupName)
				if int(aws.ToInt32(g.DesiredCapacity))-count[name] < int(aws.ToInt32(g.MinSize)) {
					return nil, &StepError{Step: stepContain, Operation: "DescribeAutoScalingGroups", Resource: name,
						Err: errf("%w: taking %d instance(s) out without replacement leaves desired %d below min %d; set AllowASGReplacement or lower MinSize",
							ErrASGMinSize, count[name], aws.ToInt32(g.DesiredCapacity)-int32(count[name]), aws.ToInt32(g.MinSize))}
				}
			}
		}
	}

	// Instance profile associations.
	profileOf := map[string]*ProfileAssociation{}
	if !in.KeepInstanceProfile {
		var withProfile []string
		for _, id := range ids {
			if insts[id].IamInstanceProfile != nil {
				withProfile = append(withProfile, id)
			}
		}
		if len(withProfile) > 0 {
			if err := need(stepContain, c.DescribeIamInstanceProfileAssociations); err != nil {
				return nil, err
			}
			if in.KeepRoleSessions {
				plan.Notes = append(plan.Notes, NoteCredentialsKept)
			} else {
				if err := need(stepContain, c.GetInstanceProfile); err != nil {
					return nil, err
				}
				plan.Notes = append(plan.Notes, NoteCredentials)
			}
		}
		for _, b := range chunks(withProfile, 200) {
			p := awsec2.NewDescribeIamInstanceProfileAssociationsPaginator(c.DescribeIamInstanceProfileAssociations, &awsec2.DescribeIamInstanceProfileAssociationsInput{
				Filters: []types.Filter{{Name: aws.String("instance-id"), Values: b}}, MaxResults: aws.Int32(1000)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, stepErr(stepContain, "DescribeIamInstanceProfileAssociations", "", err)
				}
				for _, a := range out.IamInstanceProfileAssociations {
					if a.State != types.IamInstanceProfileAssociationStateAssociated && a.State != types.IamInstanceProfileAssociationStateAssociating {
						continue
					}
					pa := &ProfileAssociation{AssociationID: aws.ToString(a.AssociationId)}
					if a.IamInstanceProfile != nil {
						pa.ARN = aws.ToString(a.IamInstanceProfile.Arn)
					}
					profileOf[aws.ToString(a.InstanceId)] = pa
				}
			}
		}
	}

	// Target group registrations.
	targetsOf := map[string][]TargetRef{}
	tgPath := map[string]TrackedPath{}
	if !in.SkipLoadBalancers {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var tgs []elbtypes.TargetGroup
		p := elbv2.NewDescribeTargetGroupsPaginator(c.DescribeTargetGroups, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(400)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, stepErr(stepContain, "DescribeTargetGroups", "", err)
			}
			tgs = append(tgs, out.TargetGroups...)
		}
		for _, tg := range tgs {
			if tg.TargetType != "" && tg.TargetType != elbtypes.TargetTypeEnumInstance {
				continue
			}
			if tg.VpcId != nil && !vpcs[aws.ToString(tg.VpcId)] {
				continue
			}
			arn := aws.ToString(tg.TargetGroupArn)
			if tp, ok := targetGroupPath(tg); ok {
				tgPath[arn] = tp
			}
			out, err := c.DescribeTargetHealth.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
			if err != nil {
				if errors.Is(stepErr("", "", "", err), ErrNotFound) {
					continue // deleted since listed
				}
				return nil, stepErr(stepContain, "DescribeTargetHealth", arn, err)
			}
			for _, th := range out.TargetHealthDescriptions {
				if th.Target == nil || !want[aws.ToString(th.Target.Id)] {
					continue
				}
				if th.TargetHealth != nil && th.TargetHealth.State == elbtypes.TargetHealthStateEnumDraining {
					continue
				}
				id := aws.ToString(th.Target.Id)
				targetsOf[id] = append(targetsOf[id], TargetRef{TargetGroupARN: arn, Port: aws.ToInt32(th.Target.Port), AvailabilityZone: aws.ToString(th.Target.AvailabilityZone)})
			}
		}
	}

	// Per instance: interfaces, attributes.
	results := make([]InstanceContain, len(ids))
	err = forEach(ctx, o.Concurrency, indexes(len(ids)), func(ctx context.Context, i int) error {
		id := ids[i]
		inst := insts[id]
		ic := InstanceContain{InstanceID: id, VPCID: aws.ToString(inst.VpcId)}
		if inst.State != nil {
			ic.State = string(inst.State.Name)
		}
		q := qid[ic.VPCID]
		contained := q != ""
		for _, eni := range inst.NetworkInterfaces {
			var gs []string
			for _, g := range eni.Groups {
				gs = append(gs, aws.ToString(g.GroupId))
			}
			if !(len(gs) == 1 && gs[0] == q) {
				contained = false
			}
			ic.Interfaces = append(ic.Interfaces, Interface{NetworkInterfaceID: aws.ToString(eni.NetworkInterfaceId), Groups: gs})
		}
		sort.Slice(ic.Interfaces, func(a, b int) bool { return ic.Interfaces[a].NetworkInterfaceID < ic.Interfaces[b].NetworkInterfaceID })
		if len(ic.Interfaces) == 0 {
			return &StepError{Step: stepContain, Resource: id, Err: errf("%w: instance has no network interfaces", ErrInvalidInput)}
		}
		ic.Refused = refusedFor(inst)
		if len(ids) <= PlanAttributeLimit {
			tp, sp, sb, err := readProtection(ctx, c, id)
			if err != nil {
				return err
			}
			ic.TerminationProtection, ic.StopProtection, ic.ShutdownBehavior = &tp, &sp, sb
		}
		if g := asgOf[id]; g != "" && !isStandbyOrDetached(asgState[id]) {
			ic.AutoScalingGroup = g
			ic.ASGAction = in.AutoScaling
			ic.DecrementDesired = !in.AllowASGReplacement
		}
		ic.TargetGroups = targetsOf[id]
		want := map[string]string{TagIncident: in.Incident.ID, TagStep: stepContain}
		if !in.Incident.AbuseTime.IsZero() {
			want[TagAbuseTime] = in.Incident.AbuseTime.UTC().Format(time.RFC3339)
		}
		for k, v := range want {
			if tagValue(inst.Tags, k) != v {
				if ic.TagsToAdd == nil {
					ic.TagsToAdd = map[string]string{}
				}
				ic.TagsToAdd[k] = v
			}
		}
		for _, b := range inst.BlockDeviceMappings {
			if b.Ebs != nil && aws.ToBool(b.Ebs.DeleteOnTermination) {
				ic.DeleteOnTermination = append(ic.DeleteOnTermination, aws.ToString(b.DeviceName))
			}
		}
		sort.Strings(ic.DeleteOnTermination)
		ic.InstanceProfile = profileOf[id]
		if ic.InstanceProfile != nil && !in.KeepRoleSessions {
			roles, err := profileRoles(ctx, c, ic.InstanceProfile.ARN)
			if err != nil {
				return err
			}
			ic.RevokeRoleSessions = roles
		}
		ic.AlreadyContained = contained && (aws.ToBool(ic.TerminationProtection) || ic.refused(RefusedTermination)) &&
			(aws.ToBool(ic.StopProtection) || ic.refused(RefusedStop)) && (ic.ShutdownBehavior == "stop" || ic.refused(RefusedShutdownStop)) &&
			len(ic.DeleteOnTermination) == 0 && ic.InstanceProfile == nil && ic.AutoScalingGroup == "" && len(ic.TargetGroups) == 0 && len(ic.TagsToAdd) == 0
		results[i] = ic
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.NetworkACL {
		if err := planNetworkACL(ctx, c, insts, results); err != nil {
			return nil, err
		}
		for i := range results {
			if len(results[i].NetworkACLEntries) > 0 {
				results[i].AlreadyContained = false
			}
		}
	}
	for _, ic := range results {
		if n := noteRefused(ic, insts[ic.InstanceID]); n != "" {
			plan.Notes = append(plan.Notes, n)
		}
	}
	// Always-tracked paths: the subnet's routes and the load balancers.
	var bySubnet, byVPC map[string][]TrackedPath
	if c.DescribeRouteTables != nil {
		if bySubnet, byVPC, err = routePaths(ctx, c.DescribeRouteTables, vpcList); err != nil {
			return nil, stepErr(stepContain, "DescribeRouteTables", "", err)
		}
	} else {
		plan.Notes = append(plan.Notes, NoteRoutesUnread)
	}
	for i := range results {
		ic := &results[i]
		inst := insts[ic.InstanceID]
		if ps, ok := bySubnet[aws.ToString(inst.SubnetId)]; ok {
			ic.TrackedPaths = append(ic.TrackedPaths, ps...)
		} else {
			ic.TrackedPaths = append(ic.TrackedPaths, byVPC[ic.VPCID]...)
		}
		for _, t := range ic.TargetGroups {
			if tp, ok := tgPath[t.TargetGroupARN]; ok {
				ic.TrackedPaths = append(ic.TrackedPaths, tp)
			}
		}
		sortPaths(ic.TrackedPaths)
		if len(ic.TrackedPaths) > 0 {
			plan.Notes = append(plan.Notes, notePaths(*ic, in.NetworkACL))
		}
	}
	plan.Instances = results
	if plan.Records, err = captureRecords(ctx, c, stepContain, ids, insts, time.Now().UTC()); err != nil {
		return nil, err
	}
	if ssm != nil && (len(ssm.groups) > 0 || len(ssm.prefixLists) > 0) {
		plan.Notes = append(plan.Notes, ssm.notes(plan, insts)...)
	}
	if overSSM && slices.ContainsFunc(results, func(ic InstanceContain) bool { return ic.InstanceProfile != nil }) {
		plan.Notes = append(plan.Notes, NoteSSMCredentials)
	}
	return plan, nil
}

func isStandbyOrDetached(state string) bool {
	switch state {
	case "Standby", "Detaching", "Detached", "EnteringStandby", "Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated":
		return true
	}
	return false
}

func indexes(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// ApplyContain carries out plan. In this order: empty the quarantine
// group of every rule (read back and verified, whatever the plan saw);
// tag the instances with the incident; then, per instance and side by
// side, turn on termination and stop protection and move every network
// interface into the quarantine group; only then take the instances out
// of their Auto Scaling groups and target groups. A failure in the last
// two never keeps an instance open or unprotected: it is reported, joined
// with the others, after isolation and protection were done. Tags, Auto
// Scaling and target groups are batched across instances; the rest runs
// per instance, Concurrency at a time.
//
// Security group changes do not end connections the groups tracked: an
// established flow (an attacker's shell, a miner's pool connection) goes
// on until it idles out; see ContainPlan.Notes. No interface is ever put
// in a group open to the world on the way.
//
// Once an instance's quarantine move has started it completes, on a
// context detached from ctx and bounded to two minutes, even when ctx is
// cancelled: no instance is left half moved. The returned undo record
// lists exactly what was changed, also when an error is returned;
// ApplyContain(PlanContain(…)) again after a failure converges.
//
// With WithContainStore, the original configuration (plan.UndoRecord, with
// what the store already holds for the incident taking precedence) is
// saved before the first mutating call, and ApplyContain fails having
// changed nothing if it cannot be saved. The record returned, and saved
// again at the end, is then the incident's: the originals of every
// instance any run contained, so a re-run after a crash can still undo
// (a plan made after the crash sees the quarantine group, not the
// original).
func ApplyContain(ctx context.Context, c *Clients, plan *ContainPlan, opts ...Option) (*ContainUndo, error) {
	o := buildOptions(opts, 0)
	if plan == nil {
		return nil, &StepError{Step: stepContain, Err: errf("%w: nil plan", ErrInvalidInput)}
	}
	if err := plan.Incident.validate(stepContain); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &StepError{Step: stepContain, Err: ErrMissingClient}
	}
	if err := need(stepContain, c.CreateTags, c.ModifyInstanceAttribute, c.DescribeInstanceAttribute, c.ModifyNetworkInterfaceAttr, c.CreateSecurityGroup,
		c.RevokeSecurityGroupIngress, c.RevokeSecurityGroupEgress, c.DescribeSecurityGroups); err != nil {
		return nil, err
	}
	undo := &ContainUndo{Step: stepContain, Incident: plan.Incident, Records: slices.Clone(plan.Records)}
	for _, ic := range plan.Instances {
		if ic.AutoScalingGroup != "" {
			if err := need(stepContain, c.DetachInstances, c.EnterStandby); err != nil {
				return nil, err
			}
		}
		if len(ic.TargetGroups) > 0 {
			if err := need(stepContain, c.DeregisterTargets); err != nil {
				return nil, err
			}
		}
		if ic.InstanceProfile != nil && !ic.AlreadyContained {
			if err := need(stepContain, c.DisassociateIamInstanceProfile); err != nil {
				return nil, err
			}
		}
		if len(ic.NetworkACLEntries) > 0 && !ic.AlreadyContained {
			if err := need(stepContain, c.CreateNetworkAclEntry); err != nil {
				return nil, err
			}
		}
		if len(ic.RevokeRoleSessions) > 0 && !ic.AlreadyContained {
			if err := need(stepContain, c.PutRolePolicy); err != nil {
				return nil, err
			}
		}
	}

	if o.Store == nil {
		return applyContain(ctx, c, plan, o, undo)
	}
	// The original configuration goes to the store before the first
	// mutating call; what an earlier run of the incident saved wins (it
	// was read before that run changed anything).
	prev, err := o.Store.Load(ctx, plan.Incident.ID)
	if err != nil {
		return nil, &StepError{Step: stepContain, Operation: "ContainStore.Load", Err: err}
	}
	stored := mergeOriginal(prev, plan.originalRecord())
	if err := o.Store.Save(ctx, stored); err != nil {
		return nil, &StepError{Step: stepContain, Operation: "ContainStore.Save", Err: err}
	}
	done, err := applyContain(ctx, c, plan, o, undo)
	final := mergeOriginal(stored, done)
	if serr := o.Store.Save(context.WithoutCancel(ctx), final); serr != nil {
		err = errors.Join(err, &StepError{Step: stepContain, Operation: "ContainStore.Save", Err: serr})
	}
	return final, err
}

// originalRecord is UndoRecord without the interfaces the plan found
// already in the quarantine group (whose original only a store can know).
func (p *ContainPlan) originalRecord() *ContainUndo {
	q := map[string]string{}
	for _, g := range p.Groups {
		if (g.Role == RoleQuarantine || g.Role == RoleQuarantineSSM) && g.GroupID != "" {
			q[g.VPCID] = g.GroupID
		}
	}
	vpc := map[string]string{}
	for _, ic := range p.Instances {
		vpc[ic.InstanceID] = ic.VPCID
	}
	u := p.UndoRecord()
	for i := range u.Instances {
		iu := &u.Instances[i]
		gid := q[vpc[iu.InstanceID]]
		iu.Interfaces = slices.DeleteFunc(iu.Interfaces, func(e Interface) bool {
			return gid != "" && len(e.Groups) == 1 && e.Groups[0] == gid
		})
	}
	return u
}

func applyContain(ctx context.Context, c *Clients, plan *ContainPlan, o Options, undo *ContainUndo) (*ContainUndo, error) {
	// 1. The quarantine group of each VPC, emptied and verified. (Plans
	// made by earlier versions also list an all-traffic "passthrough"
	// group: it is no longer used.)
	groups := map[string]string{} // vpc -> quarantine group id
	for _, gp := range plan.Groups {
		if gp.Role != RoleQuarantine && gp.Role != RoleQuarantineSSM {
			continue
		}
		id, created, err := ensureRoleGroup(ctx, c, plan.Incident, gp)
		if created {
			undo.CreatedGroups = append(undo.CreatedGroups, id)
		}
		if err != nil {
			return undo, err
		}
		groups[gp.VPCID] = id
	}
	// The DNS Firewall association of each VPC: a failure is reported,
	// containment goes on.
	var errs []error
	if len(plan.DNSFirewall) > 0 {
		ids, err := associateDNSFirewall(ctx, c, plan.Incident, plan.DNSFirewall)
		undo.mu.Lock()
		undo.DNSFirewallAssociations = append(undo.DNSFirewallAssociations, ids...)
		undo.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	todo := make([]InstanceContain, 0, len(plan.Instances))
	for _, ic := range plan.Instances {
		if !ic.AlreadyContained {
			todo = append(todo, ic)
		}
	}
	if len(todo) == 0 {
		return undo, errors.Join(errs...)
	}
	for _, ic := range todo {
		if groups[ic.VPCID] == "" {
			return undo, &StepError{Step: stepContain, Resource: ic.InstanceID, Err: errf("%w: the plan has no quarantine group for %s", ErrInvalidInput, ic.VPCID)}
		}
	}
	// 2. Before anything else on the instances: a shutdown from inside
	// stops the instance instead of terminating it, and termination keeps
	// every volume. A failure here is reported; containment goes on.
	if err := forEach(ctx, o.Concurrency, indexes(len(todo)), func(ctx context.Context, i int) error {
		return keepEvidence(ctx, c, &todo[i], undo)
	}); err != nil {
		errs = append(errs, err)
	}

	// 3. Tags, batched per identical tag set.
	byTags := map[string][]string{}
	tagSets := map[string]map[string]string{}
	for _, ic := range todo {
		if len(ic.TagsToAdd) == 0 {
			continue
		}
		keys := make([]string, 0, len(ic.TagsToAdd))
		for k, v := range ic.TagsToAdd {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		k := join(keys)
		byTags[k] = append(byTags[k], ic.InstanceID)
		tagSets[k] = ic.TagsToAdd
	}
	tagKeys := make([]string, 0, len(byTags))
	for k := range byTags {
		tagKeys = append(tagKeys, k)
	}
	sort.Strings(tagKeys)
	for _, k := range tagKeys {
		set := tagSets[k]
		var tags []types.Tag
		var names []string
		for kk, v := range set {
			tags = append(tags, tag(kk, v))
			names = append(names, kk)
		}
		sort.Strings(names)
		sort.Slice(tags, func(a, b int) bool { return aws.ToString(tags[a].Key) < aws.ToString(tags[b].Key) })
		for _, b := range chunks(byTags[k], 500) {
			_, err := c.CreateTags.CreateTags(ctx, &awsec2.CreateTagsInput{Resources: b, Tags: tags}, retryCodes("InvalidInstanceID.NotFound"))
			if err != nil {
				// A missing tag does not stop containment.
				errs = append(errs, stepErr(stepContain, "CreateTags", b[0], err))
				continue
			}
			for _, id := range b {
				undo.update(id, func(u *InstanceUndo) { u.TagsAdded = append(u.TagsAdded, names...) })
			}
		}
	}

	// 4. Protection and isolation, before Auto Scaling and load balancers. They are independent, and EC2
	// rate-limits each action on its own bucket: two pools run side by
	// side so neither waits on the other's throttling.
	var perr, merr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		perr = forEach(ctx, o.Concurrency, todo, func(ctx context.Context, ic InstanceContain) error {
			return protect(ctx, c, ic, undo)
		})
	}()
	go func() {
		defer wg.Done()
		merr = forEach(ctx, o.Concurrency, todo, func(ctx context.Context, ic InstanceContain) error {
			// The deny entries and the quarantine move finish once
			// started, like the move alone.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quarantineGrace)
			aerr := denyInACL(actx, c, ic, undo)
			cancel()
			return errors.Join(aerr, quarantine(ctx, c, ic, groups[ic.VPCID], undo))
		})
	}()
	wg.Wait()
	if err := errors.Join(perr, merr); err != nil {
		errs = append(errs, err)
	}

	// 5. Auto Scaling, batched per group (20 ids a call), after isolation.
	type asgKey struct {
		name string
		mode ASGMode
		dec  bool
	}
	byASG := map[asgKey][]string{}
	var asgOrder []asgKey
	for _, ic := range todo {
		if ic.AutoScalingGroup == "" || ic.ASGAction == ASGSkip {
			continue
		}
		k := asgKey{ic.AutoScalingGroup, ic.ASGAction, ic.DecrementDesired}
		if _, ok := byASG[k]; !ok {
			asgOrder = append(asgOrder, k)
		}
		byASG[k] = append(byASG[k], ic.InstanceID)
	}
	for _, k := range asgOrder {
		for _, b := range chunks(byASG[k], 20) {
			if ctx.Err() != nil {
				errs = append(errs, stepErr(stepContain, "", k.name, ctx.Err()))
				break
			}
			var err error
			if k.mode == ASGStandby {
				_, err = c.EnterStandby.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String(k.name), InstanceIds: b, ShouldDecrementDesiredCapacity: aws.Bool(k.dec)})
			} else {
				_, err = c.DetachInstances.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String(k.name), InstanceIds: b, ShouldDecrementDesiredCapacity: aws.Bool(k.dec)})
			}
			if err != nil && !alreadyOut(err) {
				op := "DetachInstances"
				if k.mode == ASGStandby {
					op = "EnterStandby"
				}
				errs = append(errs, stepErr(stepContain, op, k.name, err))
				continue
			}
			for _, id := range b {
				undo.update(id, func(u *InstanceUndo) {
					u.AutoScalingGroup, u.ASGAction, u.Decremented = k.name, k.mode, k.dec
				})
			}
		}
	}

	// 6. Target groups, batched per group.
	byTG := map[string][]elbtypes.TargetDescription{}
	owner := map[string][]string{}
	var tgOrder []string
	for _, ic := range todo {
		for _, t := range ic.TargetGroups {
			if _, ok := byTG[t.TargetGroupARN]; !ok {
				tgOrder = append(tgOrder, t.TargetGroupARN)
			}
			td := elbtypes.TargetDescription{Id: aws.String(ic.InstanceID)}
			if t.Port != 0 {
				td.Port = aws.Int32(t.Port)
			}
			if t.AvailabilityZone != "" {
				td.AvailabilityZone = aws.String(t.AvailabilityZone)
			}
			byTG[t.TargetGroupARN] = append(byTG[t.TargetGroupARN], td)
			owner[t.TargetGroupARN] = append(owner[t.TargetGroupARN], ic.InstanceID)
		}
	}
	// Detaching from an Auto Scaling group already deregisters the instance
	// from the group's target groups; DeregisterTargets then answers
	// InvalidTarget for the whole batch, so a failed batch is retried one
	// target at a time and InvalidTarget counts as done (and is not
	// recorded for undo: re-attaching to the group re-registers it).
	deregister := func(arn string, tds []elbtypes.TargetDescription, ids []string) {
		_, err := c.DeregisterTargets.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: tds})
		if err != nil && errCode(err) == "InvalidTarget" && len(tds) > 1 {
			for k := range tds {
				deregisterOne(ctx, c, arn, tds[k], ids[k], undo, &errs)
			}
			return
		}
		if err != nil && errCode(err) != "InvalidTarget" {
			errs = append(errs, stepErr(stepContain, "DeregisterTargets", arn, err))
			return
		}
		if err == nil {
			for k := range tds {
				ref := TargetRef{TargetGroupARN: arn, Port: aws.ToInt32(tds[k].Port), AvailabilityZone: aws.ToString(tds[k].AvailabilityZone)}
				undo.update(ids[k], func(u *InstanceUndo) { u.TargetGroups = append(u.TargetGroups, ref) })
			}
		}
	}
	for _, arn := range tgOrder {
		tds, ids := byTG[arn], owner[arn]
		for i := 0; i < len(tds); i += 200 {
			if ctx.Err() != nil {
				errs = append(errs, stepErr(stepContain, "", arn, ctx.Err()))
				break
			}
			j := min(i+200, len(tds))
			deregister(arn, tds[i:j], ids[i:j])
		}
	}
	undo.sort()
	return undo, errors.Join(errs...)
}

// quarantineGrace bounds how long an instance's quarantine move may run on
// after ctx ends.
const quarantineGrace = 2 * time.Minute

// quarantine moves every interface of ic into the quarantine group q,
// carrying on past a failed interface. Once started it runs on a context
// of its own (not cancelled with ctx, bounded by quarantineGrace), so a
// cancellation never leaves an instance half moved.
func quarantine(ctx context.Context, c *Clients, ic InstanceContain, q string, undo *ContainUndo) error {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quarantineGrace)
	defer cancel()
	var errs []error
	for _, eni := range ic.Interfaces {
		if len(eni.Groups) == 1 && eni.Groups[0] == q {
			continue // already quarantined (a re-run)
		}
		undo.update(ic.InstanceID, func(u *InstanceUndo) {
			for _, e := range u.Interfaces {
				if e.NetworkInterfaceID == eni.NetworkInterfaceID {
					return
				}
			}
			u.Interfaces = append(u.Interfaces, Interface{NetworkInterfaceID: eni.NetworkInterfaceID, Groups: slices.Clone(eni.Groups)})
		})
		_, err := c.ModifyNetworkInterfaceAttr.ModifyNetworkInterfaceAttribute(mctx, &awsec2.ModifyNetworkInterfaceAttributeInput{
			NetworkInterfaceId: aws.String(eni.NetworkInterfaceID), Groups: []string{q},
		}, retryCodes("InvalidGroup.NotFound"))
		if err != nil {
			errs = append(errs, stepErr(stepContain, "ModifyNetworkInterfaceAttribute", eni.NetworkInterfaceID, err))
		}
	}
	return errors.Join(errs...)
}

func deregisterOne(ctx context.Context, c *Clients, arn string, td elbtypes.TargetDescription, id string, undo *ContainUndo, errs *[]error) {
	_, err := c.DeregisterTargets.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: []elbtypes.TargetDescription{td}})
	switch {
	case err == nil:
		ref := TargetRef{TargetGroupARN: arn, Port: aws.ToInt32(td.Port), AvailabilityZone: aws.ToString(td.AvailabilityZone)}
		undo.update(id, func(u *InstanceUndo) { u.TargetGroups = append(u.TargetGroups, ref) })
	case errCode(err) == "InvalidTarget":
	default:
		*errs = append(*errs, stepErr(stepContain, "DeregisterTargets", arn, err))
	}
}

// PlanAttributeLimit is the batch size up to which PlanContain reads each
// instance's protection attributes (two DescribeInstanceAttribute calls
// per instance); above it ApplyContain reads them in its per-instance
// pipeline, where their rate limit drains alongside the others.
const PlanAttributeLimit = 100

func readProtection(ctx context.Context, c *Clients, id string) (term, stop bool, shutdown string, err error) {
	for _, attr := range []types.InstanceAttributeName{types.InstanceAttributeNameDisableApiTermination, types.InstanceAttributeNameDisableApiStop,
		types.InstanceAttributeNameInstanceInitiatedShutdownBehavior} {
		out, err := c.DescribeInstanceAttribute.DescribeInstanceAttribute(ctx, &awsec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: attr})
		if err != nil {
			return false, false, "", stepErr(stepContain, "DescribeInstanceAttribute", id, err)
		}
		switch attr {
		case types.InstanceAttributeNameDisableApiTermination:
			term = out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value)
		case types.InstanceAttributeNameDisableApiStop:
			stop = out.DisableApiStop != nil && aws.ToBool(out.DisableApiStop.Value)
		default:
			if out.InstanceInitiatedShutdownBehavior != nil {
				shutdown = aws.ToString(out.InstanceInitiatedShutdownBehavior.Value)
			}
		}
	}
	return term, stop, shutdown, nil
}

// keepEvidence makes the instance stop, not terminate, when it shuts
// itself down, and keeps every EBS volume when it is terminated. Contain
// does this before anything else.
func keepEvidence(ctx context.Context, c *Clients, ic *InstanceContain, undo *ContainUndo) error {
	if ic.TerminationProtection == nil || ic.StopProtection == nil || ic.ShutdownBehavior == "" {
		tp, sp, sb, err := readProtection(ctx, c, ic.InstanceID)
		if err != nil {
			return err
		}
		ic.TerminationProtection, ic.StopProtection, ic.ShutdownBehavior = &tp, &sp, sb
	}
	var errs []error
	if ic.ShutdownBehavior != "stop" && !ic.refused(RefusedShutdownStop) {
		if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(ic.InstanceID), InstanceInitiatedShutdownBehavior: &types.AttributeValue{Value: aws.String("stop")},
		}); err != nil {
			errs = append(errs, stepErr(stepContain, "ModifyInstanceAttribute", ic.InstanceID, err))
		} else {
			was := ic.ShutdownBehavior
			undo.update(ic.InstanceID, func(u *InstanceUndo) { u.ShutdownBehaviorWas = was })
		}
	}
	if err := revokeSessions(ctx, c, undo.Incident, *ic, undo, time.Now()); err != nil {
		errs = append(errs, err)
	}
	if pa := ic.InstanceProfile; pa != nil {
		_, err := c.DisassociateIamInstanceProfile.DisassociateIamInstanceProfile(ctx, &awsec2.DisassociateIamInstanceProfileInput{AssociationId: aws.String(pa.AssociationID)})
		switch {
		case err == nil:
			undo.update(ic.InstanceID, func(u *InstanceUndo) { u.InstanceProfileWas = pa.ARN })
		case errCode(err) == "InvalidAssociationID.NotFound":
			// Gone already (a retried call that went through, or someone else).
		default:
			errs = append(errs, stepErr(stepContain, "DisassociateIamInstanceProfile", ic.InstanceID, err))
		}
	}
	if len(ic.DeleteOnTermination) > 0 {
		var bdms []types.InstanceBlockDeviceMappingSpecification
		for _, d := range ic.DeleteOnTermination {
			bdms = append(bdms, types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String(d), Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(false)}})
		}
		if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(ic.InstanceID), BlockDeviceMappings: bdms,
		}); err != nil {
			errs = append(errs, stepErr(stepContain, "ModifyInstanceAttribute", ic.InstanceID, err))
		} else {
			devs := slices.Clone(ic.DeleteOnTermination)
			undo.update(ic.InstanceID, func(u *InstanceUndo) { u.DeleteOnTerminationWas = devs })
		}
	}
	return errors.Join(errs...)
}

// protect turns on termination and stop protection where off.
func protect(ctx context.Context, c *Clients, ic InstanceContain, undo *ContainUndo) error {
	if ic.TerminationProtection == nil || ic.StopProtection == nil {
		tp, sp, _, err := readProtection(ctx, c, ic.InstanceID)
		if err != nil {
			return err
		}
		ic.TerminationProtection, ic.StopProtection = &tp, &sp
	}
	if !*ic.TerminationProtection && !ic.refused(RefusedTermination) {
		if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(ic.InstanceID), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(true)},
		}); err != nil {
			return stepErr(stepContain, "ModifyInstanceAttribute", ic.InstanceID, err)
		}
		undo.update(ic.InstanceID, func(u *InstanceUndo) { u.TerminationProtectionWas = aws.Bool(false) })
	}
	if !*ic.StopProtection && !ic.refused(RefusedStop) {
		if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(ic.InstanceID), DisableApiStop: &types.AttributeBooleanValue{Value: aws.Bool(true)},
		}); err != nil {
			return stepErr(stepContain, "ModifyInstanceAttribute", ic.InstanceID, err)
		}
		undo.update(ic.InstanceID, func(u *InstanceUndo) { u.StopProtectionWas = aws.Bool(false) })
	}
	return nil
}

func (u *ContainUndo) sort() {
	u.mu.Lock()
	defer u.mu.Unlock()
	sort.Slice(u.Instances, func(a, b int) bool { return u.Instances[a].InstanceID < u.Instances[b].InstanceID })
	sort.SliceStable(u.Records, func(a, b int) bool { return u.Records[a].InstanceID < u.Records[b].InstanceID })
	u.index = nil
	for i := range u.Instances {
		sort.Slice(u.Instances[i].Interfaces, func(a, b int) bool {
			return u.Instances[i].Interfaces[a].NetworkInterfaceID < u.Instances[i].Interfaces[b].NetworkInterfaceID
		})
		sort.Strings(u.Instances[i].TagsAdded)
		u.Instances[i].TagsAdded = slices.Compact(u.Instances[i].TagsAdded)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// alreadyOut: a retried DetachInstances/EnterStandby whose first attempt
// succeeded fails with a ValidationError naming the instance as not in
// service / not part of the group.
func alreadyOut(err error) bool {
	if errCode(err) != "ValidationError" {
		return false
	}
	m := err.Error()
	return contains(m, "is not part of Auto Scaling group") || contains(m, "is not in InService") || contains(m, "not in service")
}

// UndoRecord returns the undo record for everything the plan could have
// changed, from the state the plan recorded. Keep the plan (it is JSON) in
// a journal before ApplyContain: if the process dies mid-apply and
// ApplyContain's own record is lost, Undo(ctx, c, plan.UndoRecord())
// restores each interface's groups, the protection attributes the plan
// read, Auto Scaling and target group membership, and removes the tags.
// Undo tolerates the steps that had not happened yet.
func (p *ContainPlan) UndoRecord() *ContainUndo {
	u := &ContainUndo{Step: stepContain, Incident: p.Incident, Records: slices.Clone(p.Records)}
	for _, ic := range p.Instances {
		if ic.AlreadyContained {
			continue
		}
		iu := InstanceUndo{InstanceID: ic.InstanceID, AutoScalingGroup: ic.AutoScalingGroup, ASGAction: ic.ASGAction,
			Decremented: ic.DecrementDesired, TargetGroups: slices.Clone(ic.TargetGroups)}
		for _, e := range ic.Interfaces {
			iu.Interfaces = append(iu.Interfaces, Interface{NetworkInterfaceID: e.NetworkInterfaceID, Groups: slices.Clone(e.Groups)})
		}
		if ic.TerminationProtection != nil && !*ic.TerminationProtection {
			iu.TerminationProtectionWas = aws.Bool(false)
		}
		if ic.StopProtection != nil && !*ic.StopProtection {
			iu.StopProtectionWas = aws.Bool(false)
		}
		if ic.ShutdownBehavior != "" && ic.ShutdownBehavior != "stop" {
			iu.ShutdownBehaviorWas = ic.ShutdownBehavior
		}
		iu.DeleteOnTerminationWas = slices.Clone(ic.DeleteOnTermination)
		iu.NetworkACLEntries = slices.Clone(ic.NetworkACLEntries)
		for _, r := range ic.RevokeRoleSessions {
			iu.RolePolicies = append(iu.RolePolicies, RolePolicy{Role: r, Policy: revokePolicyName(p.Incident.ID)})
		}
		if ic.InstanceProfile != nil {
			iu.InstanceProfileWas = ic.InstanceProfile.ARN
		}
		for k := range ic.TagsToAdd {
			iu.TagsAdded = append(iu.TagsAdded, k)
		}
		u.Instances = append(u.Instances, iu)
	}
	u.sort()
	return u
}

// Contain plans and applies in one call.
func Contain(ctx context.Context, c *Clients, in ContainInput, opts ...Option) (*ContainUndo, error) {
	p, err := PlanContain(ctx, c, in, opts...)
	if err != nil {
		return nil, err
	}
	return ApplyContain(ctx, c, p, opts...)
}

// Undo reverses a ContainUndo: restores each interface's groups and the
// protection attributes, puts the instance back in its Auto Scaling group
// (AttachInstances, or ExitStandby) and target groups, and removes the tags
// it added. The quarantine groups it created are left in place.
func Undo(ctx context.Context, c *Clients, u *ContainUndo, opts ...Option) error {
	o := buildOptions(opts, 0)
	if u == nil {
		return &StepError{Step: stepUndo, Err: errf("%w: nil undo record", ErrInvalidInput)}
	}
	if c == nil {
		return &StepError{Step: stepUndo, Err: ErrMissingClient}
	}
	if err := need(stepUndo, c.ModifyNetworkInterfaceAttr, c.ModifyInstanceAttribute, c.DeleteTags); err != nil {
		return err
	}
	if err := disassociateDNSFirewall(ctx, c, u.DNSFirewallAssociations); err != nil {
		return err
	}
	return forEach(ctx, o.Concurrency, u.Instances, func(ctx context.Context, iu InstanceUndo) error {
		for _, e := range iu.Interfaces {
			if _, err := c.ModifyNetworkInterfaceAttr.ModifyNetworkInterfaceAttribute(ctx, &awsec2.ModifyNetworkInterfaceAttributeInput{
				NetworkInterfaceId: aws.String(e.NetworkInterfaceID), Groups: e.Groups,
			}); err != nil {
				return stepErr(stepUndo, "ModifyNetworkInterfaceAttribute", e.NetworkInterfaceID, err)
			}
		}
		if iu.TerminationProtectionWas != nil {
			if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(iu.InstanceID), DisableApiTermination: &types.AttributeBooleanValue{Value: iu.TerminationProtectionWas},
			}); err != nil {
				return stepErr(stepUndo, "ModifyInstanceAttribute", iu.InstanceID, err)
			}
		}
		if iu.StopProtectionWas != nil {
			if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(iu.InstanceID), DisableApiStop: &types.AttributeBooleanValue{Value: iu.StopProtectionWas},
			}); err != nil {
				return stepErr(stepUndo, "ModifyInstanceAttribute", iu.InstanceID, err)
			}
		}
		if iu.ShutdownBehaviorWas != "" {
			if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(iu.InstanceID), InstanceInitiatedShutdownBehavior: &types.AttributeValue{Value: aws.String(iu.ShutdownBehaviorWas)},
			}); err != nil {
				return stepErr(stepUndo, "ModifyInstanceAttribute", iu.InstanceID, err)
			}
		}
		if err := removeFromACL(ctx, c, iu); err != nil {
			return err
		}
		if err := removeRolePolicies(ctx, c, iu); err != nil {
			return err
		}
		if iu.InstanceProfileWas != "" {
			if err := need(stepUndo, c.AssociateIamInstanceProfile); err != nil {
				return err
			}
			if _, err := c.AssociateIamInstanceProfile.AssociateIamInstanceProfile(ctx, &awsec2.AssociateIamInstanceProfileInput{InstanceId: aws.String(iu.InstanceID),
				IamInstanceProfile: &types.IamInstanceProfileSpecification{Arn: aws.String(iu.InstanceProfileWas)}}); err != nil && errCode(err) != "IncorrectState" {
				return stepErr(stepUndo, "AssociateIamInstanceProfile", iu.InstanceID, err)
			}
		}
		if len(iu.DeleteOnTerminationWas) > 0 {
			var bdms []types.InstanceBlockDeviceMappingSpecification
			for _, d := range iu.DeleteOnTerminationWas {
				bdms = append(bdms, types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String(d), Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(true)}})
			}
			if _, err := c.ModifyInstanceAttribute.ModifyInstanceAttribute(ctx, &awsec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(iu.InstanceID), BlockDeviceMappings: bdms,
			}); err != nil {
				return stepErr(stepUndo, "ModifyInstanceAttribute", iu.InstanceID, err)
			}
		}
		switch {
		case iu.AutoScalingGroup != "" && iu.ASGAction == ASGStandby:
			if err := need(stepUndo, c.ExitStandby); err != nil {
				return err
			}
			if _, err := c.ExitStandby.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String(iu.AutoScalingGroup), InstanceIds: []string{iu.InstanceID}}); err != nil &&
				!(errCode(err) == "ValidationError" && contains(err.Error(), "is not in Standby")) {
				return stepErr(stepUndo, "ExitStandby", iu.AutoScalingGroup, err)
			}
		case iu.AutoScalingGroup != "":
			if err := need(stepUndo, c.AttachInstances); err != nil {
				return err
			}
			if _, err := c.AttachInstances.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: aws.String(iu.AutoScalingGroup), InstanceIds: []string{iu.InstanceID}}); err != nil &&
				!(errCode(err) == "ValidationError" && contains(err.Error(), "already part of")) {
				return stepErr(stepUndo, "AttachInstances", iu.AutoScalingGroup, err)
			}
		}
		for _, t := range iu.TargetGroups {
			if err := need(stepUndo, c.RegisterTargets); err != nil {
				return err
			}
			td := elbtypes.TargetDescription{Id: aws.String(iu.InstanceID)}
			if t.Port != 0 {
				td.Port = aws.Int32(t.Port)
			}
			if t.AvailabilityZone != "" {
				td.AvailabilityZone = aws.String(t.AvailabilityZone)
			}
			if _, err := c.RegisterTargets.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(t.TargetGroupARN), Targets: []elbtypes.TargetDescription{td}}); err != nil {
				return stepErr(stepUndo, "RegisterTargets", t.TargetGroupARN, err)
			}
		}
		if len(iu.TagsAdded) > 0 {
			var tags []types.Tag
			for _, k := range iu.TagsAdded {
				tags = append(tags, types.Tag{Key: aws.String(k)})
			}
			if _, err := c.DeleteTags.DeleteTags(ctx, &awsec2.DeleteTagsInput{Resources: []string{iu.InstanceID}, Tags: tags}); err != nil {
				return stepErr(stepUndo, "DeleteTags", iu.InstanceID, err)
			}
		}
		return nil
	})
}
