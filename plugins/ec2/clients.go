package ec2

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
)

// One-method client interfaces, one per API operation the package calls.
// *awsec2.Client, *autoscaling.Client, *elbv2.Client and *cloudwatch.Client
// satisfy them; tests substitute small fakes.

// DescribeInstancesAPI is the subset of *awsec2.Client for DescribeInstances.
type DescribeInstancesAPI interface {
	DescribeInstances(context.Context, *awsec2.DescribeInstancesInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error)
}

// DescribeInstanceAttributeAPI is the subset of *awsec2.Client for DescribeInstanceAttribute.
type DescribeInstanceAttributeAPI interface {
	DescribeInstanceAttribute(context.Context, *awsec2.DescribeInstanceAttributeInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstanceAttributeOutput, error)
}

// DescribeInstanceStatusAPI is the subset of *awsec2.Client for DescribeInstanceStatus.
type DescribeInstanceStatusAPI interface {
	DescribeInstanceStatus(context.Context, *awsec2.DescribeInstanceStatusInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstanceStatusOutput, error)
}

// DescribeSecurityGroupsAPI is the subset of *awsec2.Client for DescribeSecurityGroups.
type DescribeSecurityGroupsAPI interface {
	DescribeSecurityGroups(context.Context, *awsec2.DescribeSecurityGroupsInput, ...func(*awsec2.Options)) (*awsec2.DescribeSecurityGroupsOutput, error)
}

// DescribeNetworkInterfacesAPI is the subset of *awsec2.Client for DescribeNetworkInterfaces.
type DescribeNetworkInterfacesAPI interface {
	DescribeNetworkInterfaces(context.Context, *awsec2.DescribeNetworkInterfacesInput, ...func(*awsec2.Options)) (*awsec2.DescribeNetworkInterfacesOutput, error)
}

// DescribeVolumesAPI is the subset of *awsec2.Client for DescribeVolumes.
type DescribeVolumesAPI interface {
	DescribeVolumes(context.Context, *awsec2.DescribeVolumesInput, ...func(*awsec2.Options)) (*awsec2.DescribeVolumesOutput, error)
}

// DescribeSnapshotsAPI is the subset of *awsec2.Client for DescribeSnapshots.
type DescribeSnapshotsAPI interface {
	DescribeSnapshots(context.Context, *awsec2.DescribeSnapshotsInput, ...func(*awsec2.Options)) (*awsec2.DescribeSnapshotsOutput, error)
}

// DescribeImagesAPI is the subset of *awsec2.Client for DescribeImages.
type DescribeImagesAPI interface {
	DescribeImages(context.Context, *awsec2.DescribeImagesInput, ...func(*awsec2.Options)) (*awsec2.DescribeImagesOutput, error)
}

// CreateSecurityGroupAPI is the subset of *awsec2.Client for CreateSecurityGroup.
type CreateSecurityGroupAPI interface {
	CreateSecurityGroup(context.Context, *awsec2.CreateSecurityGroupInput, ...func(*awsec2.Options)) (*awsec2.CreateSecurityGroupOutput, error)
}

// AuthorizeSecurityGroupIngressAPI is the subset of *awsec2.Client for AuthorizeSecurityGroupIngress.
type AuthorizeSecurityGroupIngressAPI interface {
	AuthorizeSecurityGroupIngress(context.Context, *awsec2.AuthorizeSecurityGroupIngressInput, ...func(*awsec2.Options)) (*awsec2.AuthorizeSecurityGroupIngressOutput, error)
}

// AuthorizeSecurityGroupEgressAPI is the subset of *awsec2.Client for AuthorizeSecurityGroupEgress.
type AuthorizeSecurityGroupEgressAPI interface {
	AuthorizeSecurityGroupEgress(context.Context, *awsec2.AuthorizeSecurityGroupEgressInput, ...func(*awsec2.Options)) (*awsec2.AuthorizeSecurityGroupEgressOutput, error)
}

// RevokeSecurityGroupIngressAPI is the subset of *awsec2.Client for RevokeSecurityGroupIngress.
type RevokeSecurityGroupIngressAPI interface {
	RevokeSecurityGroupIngress(context.Context, *awsec2.RevokeSecurityGroupIngressInput, ...func(*awsec2.Options)) (*awsec2.RevokeSecurityGroupIngressOutput, error)
}

// RevokeSecurityGroupEgressAPI is the subset of *awsec2.Client for RevokeSecurityGroupEgress.
type RevokeSecurityGroupEgressAPI interface {
	RevokeSecurityGroupEgress(context.Context, *awsec2.RevokeSecurityGroupEgressInput, ...func(*awsec2.Options)) (*awsec2.RevokeSecurityGroupEgressOutput, error)
}

// ModifyNetworkInterfaceAttributeAPI is the subset of *awsec2.Client for ModifyNetworkInterfaceAttribute.
type ModifyNetworkInterfaceAttributeAPI interface {
	ModifyNetworkInterfaceAttribute(context.Context, *awsec2.ModifyNetworkInterfaceAttributeInput, ...func(*awsec2.Options)) (*awsec2.ModifyNetworkInterfaceAttributeOutput, error)
}

// ModifyInstanceAttributeAPI is the subset of *awsec2.Client for ModifyInstanceAttribute.
type ModifyInstanceAttributeAPI interface {
	ModifyInstanceAttribute(context.Context, *awsec2.ModifyInstanceAttributeInput, ...func(*awsec2.Options)) (*awsec2.ModifyInstanceAttributeOutput, error)
}

// CreateTagsAPI is the subset of *awsec2.Client for CreateTags.
type CreateTagsAPI interface {
	CreateTags(context.Context, *awsec2.CreateTagsInput, ...func(*awsec2.Options)) (*awsec2.CreateTagsOutput, error)
}

// DeleteTagsAPI is the subset of *awsec2.Client for DeleteTags.
type DeleteTagsAPI interface {
	DeleteTags(context.Context, *awsec2.DeleteTagsInput, ...func(*awsec2.Options)) (*awsec2.DeleteTagsOutput, error)
}

// CreateSnapshotsAPI is the subset of *awsec2.Client for CreateSnapshots.
type CreateSnapshotsAPI interface {
	CreateSnapshots(context.Context, *awsec2.CreateSnapshotsInput, ...func(*awsec2.Options)) (*awsec2.CreateSnapshotsOutput, error)
}

// RegisterImageAPI is the subset of *awsec2.Client for RegisterImage.
type RegisterImageAPI interface {
	RegisterImage(context.Context, *awsec2.RegisterImageInput, ...func(*awsec2.Options)) (*awsec2.RegisterImageOutput, error)
}

// RunInstancesAPI is the subset of *awsec2.Client for RunInstances.
type RunInstancesAPI interface {
	RunInstances(context.Context, *awsec2.RunInstancesInput, ...func(*awsec2.Options)) (*awsec2.RunInstancesOutput, error)
}

// DescribeIamInstanceProfileAssociationsAPI is the subset of *awsec2.Client for DescribeIamInstanceProfileAssociations.
type DescribeIamInstanceProfileAssociationsAPI interface {
	DescribeIamInstanceProfileAssociations(context.Context, *awsec2.DescribeIamInstanceProfileAssociationsInput, ...func(*awsec2.Options)) (*awsec2.DescribeIamInstanceProfileAssociationsOutput, error)
}

// DisassociateIamInstanceProfileAPI is the subset of *awsec2.Client for DisassociateIamInstanceProfile.
type DisassociateIamInstanceProfileAPI interface {
	DisassociateIamInstanceProfile(context.Context, *awsec2.DisassociateIamInstanceProfileInput, ...func(*awsec2.Options)) (*awsec2.DisassociateIamInstanceProfileOutput, error)
}

// AssociateIamInstanceProfileAPI is the subset of *awsec2.Client for AssociateIamInstanceProfile.
type AssociateIamInstanceProfileAPI interface {
	AssociateIamInstanceProfile(context.Context, *awsec2.AssociateIamInstanceProfileInput, ...func(*awsec2.Options)) (*awsec2.AssociateIamInstanceProfileOutput, error)
}

// DescribeNetworkAclsAPI is the subset of *awsec2.Client for DescribeNetworkAcls.
type DescribeNetworkAclsAPI interface {
	DescribeNetworkAcls(context.Context, *awsec2.DescribeNetworkAclsInput, ...func(*awsec2.Options)) (*awsec2.DescribeNetworkAclsOutput, error)
}

// CreateNetworkAclEntryAPI is the subset of *awsec2.Client for CreateNetworkAclEntry.
type CreateNetworkAclEntryAPI interface {
	CreateNetworkAclEntry(context.Context, *awsec2.CreateNetworkAclEntryInput, ...func(*awsec2.Options)) (*awsec2.CreateNetworkAclEntryOutput, error)
}

// DeleteNetworkAclEntryAPI is the subset of *awsec2.Client for DeleteNetworkAclEntry.
type DeleteNetworkAclEntryAPI interface {
	DeleteNetworkAclEntry(context.Context, *awsec2.DeleteNetworkAclEntryInput, ...func(*awsec2.Options)) (*awsec2.DeleteNetworkAclEntryOutput, error)
}

// GetInstanceProfileAPI is the subset of *iam.Client for GetInstanceProfile.
type GetInstanceProfileAPI interface {
	GetInstanceProfile(context.Context, *iam.GetInstanceProfileInput, ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
}

// PutRolePolicyAPI is the subset of *iam.Client for PutRolePolicy.
type PutRolePolicyAPI interface {
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
}

// DeleteRolePolicyAPI is the subset of *iam.Client for DeleteRolePolicy.
type DeleteRolePolicyAPI interface {
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// TerminateInstancesAPI is the subset of *awsec2.Client for TerminateInstances.
type TerminateInstancesAPI interface {
	TerminateInstances(context.Context, *awsec2.TerminateInstancesInput, ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error)
}

// DescribeAutoScalingInstancesAPI is the subset of *autoscaling.Client for DescribeAutoScalingInstances.
type DescribeAutoScalingInstancesAPI interface {
	DescribeAutoScalingInstances(context.Context, *autoscaling.DescribeAutoScalingInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
}

// DescribeAutoScalingGroupsAPI is the subset of *autoscaling.Client for DescribeAutoScalingGroups.
type DescribeAutoScalingGroupsAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// DetachInstancesAPI is the subset of *autoscaling.Client for DetachInstances.
type DetachInstancesAPI interface {
	DetachInstances(context.Context, *autoscaling.DetachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error)
}

// EnterStandbyAPI is the subset of *autoscaling.Client for EnterStandby.
type EnterStandbyAPI interface {
	EnterStandby(context.Context, *autoscaling.EnterStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error)
}

// AttachInstancesAPI is the subset of *autoscaling.Client for AttachInstances (undo of a detach).
type AttachInstancesAPI interface {
	AttachInstances(context.Context, *autoscaling.AttachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.AttachInstancesOutput, error)
}

// ExitStandbyAPI is the subset of *autoscaling.Client for ExitStandby (undo of standby).
type ExitStandbyAPI interface {
	ExitStandby(context.Context, *autoscaling.ExitStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error)
}

// DescribeTargetGroupsAPI is the subset of *elbv2.Client for DescribeTargetGroups.
type DescribeTargetGroupsAPI interface {
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
}

// DescribeTargetHealthAPI is the subset of *elbv2.Client for DescribeTargetHealth.
type DescribeTargetHealthAPI interface {
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// DeregisterTargetsAPI is the subset of *elbv2.Client for DeregisterTargets.
type DeregisterTargetsAPI interface {
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
}

// RegisterTargetsAPI is the subset of *elbv2.Client for RegisterTargets (undo of a deregistration).
type RegisterTargetsAPI interface {
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
}

// PutMetricAlarmAPI is the subset of *cloudwatch.Client for PutMetricAlarm.
type PutMetricAlarmAPI interface {
	PutMetricAlarm(context.Context, *cloudwatch.PutMetricAlarmInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
}

// DescribeAlarmsAPI is the subset of *cloudwatch.Client for DescribeAlarms.
type DescribeAlarmsAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Clients holds one client per API operation the package calls. Each field's
// `iam` tag names the IAM action the operation needs; iam-policy.json grants
// exactly those (a test keeps the two in step). Build the real set with New;
// tests may fill only the fields a step uses — a step checks that its clients
// are present before it makes any call and fails with ErrMissingClient.
type Clients struct {
	DescribeInstances             DescribeInstancesAPI               `iam:"ec2:DescribeInstances"`
	DescribeInstanceAttribute     DescribeInstanceAttributeAPI       `iam:"ec2:DescribeInstanceAttribute"`
	DescribeInstanceStatus        DescribeInstanceStatusAPI          `iam:"ec2:DescribeInstanceStatus"`
	DescribeSecurityGroups        DescribeSecurityGroupsAPI          `iam:"ec2:DescribeSecurityGroups"`
	DescribeNetworkInterfaces     DescribeNetworkInterfacesAPI       `iam:"ec2:DescribeNetworkInterfaces"`
	DescribeVolumes               DescribeVolumesAPI                 `iam:"ec2:DescribeVolumes"`
	DescribeSnapshots             DescribeSnapshotsAPI               `iam:"ec2:DescribeSnapshots"`
	DescribeImages                DescribeImagesAPI                  `iam:"ec2:DescribeImages"`
	CreateSecurityGroup           CreateSecurityGroupAPI             `iam:"ec2:CreateSecurityGroup"`
	AuthorizeSecurityGroupIngress AuthorizeSecurityGroupIngressAPI   `iam:"ec2:AuthorizeSecurityGroupIngress"`
	AuthorizeSecurityGroupEgress  AuthorizeSecurityGroupEgressAPI    `iam:"ec2:AuthorizeSecurityGroupEgress"`
	RevokeSecurityGroupIngress    RevokeSecurityGroupIngressAPI      `iam:"ec2:RevokeSecurityGroupIngress"`
	RevokeSecurityGroupEgress     RevokeSecurityGroupEgressAPI       `iam:"ec2:RevokeSecurityGroupEgress"`
	ModifyNetworkInterfaceAttr    ModifyNetworkInterfaceAttributeAPI `iam:"ec2:ModifyNetworkInterfaceAttribute"`
	ModifyInstanceAttribute       ModifyInstanceAttributeAPI         `iam:"ec2:ModifyInstanceAttribute"`
	CreateTags                    CreateTagsAPI                      `iam:"ec2:CreateTags"`
	DeleteTags                    DeleteTagsAPI                      `iam:"ec2:DeleteTags"`
	CreateSnapshots               CreateSnapshotsAPI                 `iam:"ec2:CreateSnapshots"`
	RegisterImage                 RegisterImageAPI                   `iam:"ec2:RegisterImage"`
	RunInstances                  RunInstancesAPI                    `iam:"ec2:RunInstances"`
	TerminateInstances            TerminateInstancesAPI              `iam:"ec2:TerminateInstances"`

	DescribeIamInstanceProfileAssociations DescribeIamInstanceProfileAssociationsAPI `iam:"ec2:DescribeIamInstanceProfileAssociations"`
	DisassociateIamInstanceProfile         DisassociateIamInstanceProfileAPI         `iam:"ec2:DisassociateIamInstanceProfile"`
	AssociateIamInstanceProfile            AssociateIamInstanceProfileAPI            `iam:"ec2:AssociateIamInstanceProfile"`
	DescribeNetworkAcls                    DescribeNetworkAclsAPI                    `iam:"ec2:DescribeNetworkAcls"`
	CreateNetworkAclEntry                  CreateNetworkAclEntryAPI                  `iam:"ec2:CreateNetworkAclEntry"`
	DeleteNetworkAclEntry                  DeleteNetworkAclEntryAPI                  `iam:"ec2:DeleteNetworkAclEntry"`
	// DescribeRouteTables is optional: without it Contain does not look
	// for NAT and transit gateway paths, and says so (NoteRoutesUnread).
	DescribeRouteTables DescribeRouteTablesAPI `iam:"ec2:DescribeRouteTables"`

	DescribeAutoScalingInstances DescribeAutoScalingInstancesAPI `iam:"autoscaling:DescribeAutoScalingInstances"`
	DescribeAutoScalingGroups    DescribeAutoScalingGroupsAPI    `iam:"autoscaling:DescribeAutoScalingGroups"`
	DetachInstances              DetachInstancesAPI              `iam:"autoscaling:DetachInstances"`
	EnterStandby                 EnterStandbyAPI                 `iam:"autoscaling:EnterStandby"`
	AttachInstances              AttachInstancesAPI              `iam:"autoscaling:AttachInstances"`
	ExitStandby                  ExitStandbyAPI                  `iam:"autoscaling:ExitStandby"`

	DescribeTargetGroups DescribeTargetGroupsAPI `iam:"elasticloadbalancing:DescribeTargetGroups"`
	DescribeTargetHealth DescribeTargetHealthAPI `iam:"elasticloadbalancing:DescribeTargetHealth"`
	DeregisterTargets    DeregisterTargetsAPI    `iam:"elasticloadbalancing:DeregisterTargets"`
	RegisterTargets      RegisterTargetsAPI      `iam:"elasticloadbalancing:RegisterTargets"`

	GetInstanceProfile GetInstanceProfileAPI `iam:"iam:GetInstanceProfile"`
	PutRolePolicy      PutRolePolicyAPI      `iam:"iam:PutRolePolicy"`
	DeleteRolePolicy   DeleteRolePolicyAPI   `iam:"iam:DeleteRolePolicy"`

	PutMetricAlarm PutMetricAlarmAPI `iam:"cloudwatch:PutMetricAlarm"`
	DescribeAlarms DescribeAlarmsAPI `iam:"cloudwatch:DescribeAlarms"`

	AssociateFirewallRuleGroup        AssociateFirewallRuleGroupAPI        `iam:"route53resolver:AssociateFirewallRuleGroup"`
	ListFirewallRuleGroupAssociations ListFirewallRuleGroupAssociationsAPI `iam:"route53resolver:ListFirewallRuleGroupAssociations"`
	DisassociateFirewallRuleGroup     DisassociateFirewallRuleGroupAPI     `iam:"route53resolver:DisassociateFirewallRuleGroup"`
}

// ClientOptions tune the SDK clients New builds.
type ClientOptions struct {
	// MaxAttempts per operation (throttles and 5xx included); default 12.
	MaxAttempts int
	// MaxBackoff between attempts; default 20s.
	MaxBackoff time.Duration
	// RetryMode is aws.RetryModeStandard (the default) or
	// aws.RetryModeAdaptive (client-side rate limiting that slows down on
	// throttling: when other tools in the account cause the throttling,
	// it slows this one down for nothing — containing 100 instances under
	// 10 % random throttling took 133 s with adaptive retries and 8.2 s
	// with standard ones on the emulator: bench/ec2-retries.sh).
	RetryMode aws.RetryMode
	// Backoff replaces the SDK's backoff (which waits at least 1s after a
	// throttle); tests against the emulator shorten it.
	Backoff retry.BackoffDelayer
	// EC2, AutoScaling, ELBv2, CloudWatch are passed to the service
	// constructors after New's own settings (e.g. to set BaseEndpoint).
	EC2         []func(*awsec2.Options)
	AutoScaling []func(*autoscaling.Options)
	ELBv2       []func(*elbv2.Options)
	CloudWatch  []func(*cloudwatch.Options)
	IAM         []func(*iam.Options)
}

// New builds the real clients from cfg (load it with config.LoadDefaultConfig
// for the default credential chain). cfg is copied, never modified. Every
// service client gets its own retryer (standard mode unless
// ClientOptions.RetryMode asks for adaptive), with the retry quota disabled
// so a long throttled run waits instead of failing, and the attempt count
// raised.
func New(cfg aws.Config, optFns ...func(*ClientOptions)) *Clients {
	o := ClientOptions{MaxAttempts: 12, MaxBackoff: 20 * time.Second}
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	c := cfg.Copy()
	if o.RetryMode == "" {
		o.RetryMode = aws.RetryModeStandard
	}
	c.Retryer = func() aws.Retryer { return newRetryer(o) }
	c.RetryMaxAttempts = 0
	c.RetryMode = o.RetryMode

	// EC2 throttles each API action on its own token bucket, so every
	// operation gets its own client and with it its own adaptive rate
	// limiter: throttling of ModifyInstanceAttribute must not slow
	// CreateSnapshots down.
	e := func() *awsec2.Client { return awsec2.NewFromConfig(c, o.EC2...) }
	as := func() *autoscaling.Client { return autoscaling.NewFromConfig(c, o.AutoScaling...) }
	lb := func() *elbv2.Client { return elbv2.NewFromConfig(c, o.ELBv2...) }
	cw := func() *cloudwatch.Client { return cloudwatch.NewFromConfig(c, o.CloudWatch...) }
	im := func() *iam.Client { return iam.NewFromConfig(c, o.IAM...) }
	rr := func() *route53resolver.Client { return route53resolver.NewFromConfig(c) }
	return &Clients{
		DescribeInstances:             e(),
		DescribeInstanceAttribute:     e(),
		DescribeInstanceStatus:        e(),
		DescribeSecurityGroups:        e(),
		DescribeNetworkInterfaces:     e(),
		DescribeVolumes:               e(),
		DescribeSnapshots:             e(),
		DescribeImages:                e(),
		CreateSecurityGroup:           e(),
		AuthorizeSecurityGroupIngress: e(),
		AuthorizeSecurityGroupEgress:  e(),
		RevokeSecurityGroupIngress:    e(),
		RevokeSecurityGroupEgress:     e(),
		ModifyNetworkInterfaceAttr:    e(),
		ModifyInstanceAttribute:       e(),
		CreateTags:                    e(),
		DeleteTags:                    e(),
		CreateSnapshots:               e(),
		RegisterImage:                 e(),
		RunInstances:                  e(),
		TerminateInstances:            e(),

		DescribeIamInstanceProfileAssociations: e(),
		DisassociateIamInstanceProfile:         e(),
		AssociateIamInstanceProfile:            e(),
		DescribeNetworkAcls:                    e(),
		DescribeRouteTables:                    e(),
		CreateNetworkAclEntry:                  e(),
		DeleteNetworkAclEntry:                  e(),

		DescribeAutoScalingInstances: as(),
		DescribeAutoScalingGroups:    as(),
		DetachInstances:              as(),
		EnterStandby:                 as(),
		AttachInstances:              as(),
		ExitStandby:                  as(),

		DescribeTargetGroups: lb(),
		DescribeTargetHealth: lb(),
		DeregisterTargets:    lb(),
		RegisterTargets:      lb(),

		GetInstanceProfile: im(),
		PutRolePolicy:      im(),
		DeleteRolePolicy:   im(),

		PutMetricAlarm: cw(),
		DescribeAlarms: cw(),

		AssociateFirewallRuleGroup:        rr(),
		ListFirewallRuleGroupAssociations: rr(),
		DisassociateFirewallRuleGroup:     rr(),
	}
}

func newRetryer(o ClientOptions) aws.Retryer {
	std := func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.RateLimiter = ratelimit.None
		if o.Backoff != nil {
			so.Backoff = o.Backoff
		}
	}
	if o.RetryMode == aws.RetryModeStandard {
		return retry.NewStandard(std)
	}
	return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
		ao.StandardOptions = append(ao.StandardOptions, std)
	})
}

// retryCodes makes one EC2 call also retry the given error codes (used right
// after creating a resource, which EC2 may not show yet: eventual consistency).
func retryCodes(codes ...string) func(*awsec2.Options) {
	return func(o *awsec2.Options) {
		if o.Retryer != nil {
			o.Retryer = retry.AddWithErrorCodes(o.Retryer, codes...)
		}
	}
}
