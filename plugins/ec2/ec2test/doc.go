// Package ec2test is an in-process AWS endpoint for tests and demos, in
// the style of net/http/httptest: NewServer starts it on a loopback port,
// URL names it, Config returns an aws.Config whose BaseEndpoint points at
// it, and Close stops it.
//
//	srv := ec2test.NewServer(ec2test.WithSnapshotDelay(2 * time.Second))
//	defer srv.Close()
//	client := ec2.NewFromConfig(srv.Config())
//
// # Protocols
//
// It speaks the real wire protocols, so the unmodified aws-sdk-go-v2
// clients and the AWS CLI work against it:
//
//   - EC2: the EC2 Query protocol (form-encoded Action=…&Version=2016-11-15,
//     EC2-flavoured XML with <item> lists, errors as
//     <Response><Errors><Error><Code>…</Code>…</Errors><RequestID>).
//
//   - Auto Scaling (2011-01-01) and Elastic Load Balancing v2 (2015-12-01):
//     the awsquery protocol (<XResponse><XResult>, <member> lists, errors
//     as <ErrorResponse><Error><Type>Sender</Type><Code>…).
//
//   - CloudWatch (2010-08-01): RPC v2 CBOR as the current Go SDK sends it
//     (POST /service/GraniteServiceVersion20100801/operation/Op,
//     Smithy-Protocol: rpc-v2-cbor, errors with __type and
//     X-Amzn-Query-Error), awsJson1_0 (X-Amz-Target), and awsquery as older
//     clients such as AWS CLI v2.9 send it. CBOR goes through smithy-go's
//     encoding/cbor codec.
//
//   - Systems Manager (Run Command): awsJson1_1 (X-Amz-Target:
//     AmazonSSM.Op), errors with __type. See ssm.go for what it copies of
//     the service (output truncation, delivery and execution timeouts,
//     cancellation, output to S3).
//
//   - Route 53 Resolver DNS Firewall: awsJson1_1 (X-Amz-Target:
//     Route53Resolver.Op): CreateFirewallRuleGroup,
//     Associate/DisassociateFirewallRuleGroup,
//     ListFirewallRuleGroupAssociations (resolver.go; rules not modelled).
//
//   - S3: the REST protocol with path-style addresses, recognised by the
//     credential scope s3 in the Authorization header or a presigned URL's
//     X-Amz-Credential; aws-chunked bodies decoded; X-Amz-Expires honoured.
//
// Managed instances (ManageInstance, or every running instance with
// WithSSMExecutor) run what SendCommand sends them through an Executor:
// LocalExecutor runs the script as a real process on this machine, with
// the SSM agent's environment and never the emulator's own, so a host step
// sent over SSM never sees the caller's cloud credentials.
//
// Requests are routed by protocol headers, then by the SigV4 credential
// scope's service name (ec2, autoscaling, elasticloadbalancing,
// monitoring), then by API version and action name. Signatures are not
// verified.
//
// # Operations
//
// EC2: RunInstances (image block devices become EBS volumes, a primary
// network interface with private and public addresses, TagSpecifications,
// ClientToken idempotency, LaunchTemplate, DryRun), DescribeInstances,
// Start/Stop/TerminateInstances (protection attributes honoured,
// DeleteOnTermination), Modify/DescribeInstanceAttribute,
// DescribeInstanceStatus, ModifyInstanceMetadataOptions, DescribeVolumes,
// CreateVolume (ClientToken idempotency), Attach/Detach/DeleteVolume,
// CreateSnapshot(s) (multi-volume,
// CopyTagsFromSource), DescribeSnapshots, DeleteSnapshot, CreateImage,
// RegisterImage, DescribeImages, DeregisterImage, Create/Delete/
// DescribeSecurityGroups, Authorize/Revoke ingress and egress (IpPermissions
// or SecurityGroupRuleIds), DescribeSecurityGroupRules,
// DescribeNetworkInterfaces, ModifyNetworkInterfaceAttribute,
// Create/Delete/DescribeTags, DescribeVpcs, DescribeSubnets,
// DescribeAvailabilityZones, CreateLaunchTemplate,
// DescribeLaunchTemplates, DescribeLaunchTemplateVersions,
// DescribeNetworkAcls, Create/DeleteNetworkAclEntry, DescribeRouteTables,
// CreateRouteTable, CreateRoute (internet, NAT and transit gateways,
// Gateway Load Balancer endpoints, interfaces; targets not checked for
// existence), AssociateRouteTable, CreateVpc (with an Amazon-provided
// IPv6 /56; the new VPC gets its default security group, main route table
// and default network ACL), CreateSubnet (IPv4 and IPv6 /64),
// RunInstances' Ipv6AddressCount.
// Auto Scaling: CreateAutoScalingGroup (launches from its template),
// DescribeAutoScalingGroups, DescribeAutoScalingInstances, DetachInstances,
// EnterStandby, ExitStandby, AttachInstances, DeleteAutoScalingGroup.
// ELBv2: CreateTargetGroup, DescribeTargetGroups, Register/DeregisterTargets,
// DescribeTargetHealth, DeleteTargetGroup. CloudWatch: PutMetricAlarm,
// DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState,
// Enable/DisableAlarmActions, Tag/UntagResource, ListTagsForResource.
// Describe calls page with MaxResults/NextToken
// and filter as EC2 does (tag:Key, tag-key, wildcards, …); errors carry the
// real codes (InvalidInstanceID.NotFound, IncorrectInstanceState,
// OperationNotPermitted, InvalidPermission.Duplicate, DryRunOperation, …).
//
// Spot Instances (InstanceMarketOptions.MarketType=spot, or
// InstanceSpec.Spot) answer UnsupportedOperation to termination and stop
// protection; instances with an instance-store root device
// (InstanceSpec.InstanceStoreRoot) to stop protection, a shutdown
// behaviour of stop and StopInstances, as EC2 documents that they cannot
// be stopped (the error codes and messages are this emulator's reading).
//
// # State
//
// The account starts like a fresh one in any region: a default VPC
// (172.31.0.0/16) with a default subnet per availability zone and a
// default security group, and three public images (Amazon Linux 2023,
// Ubuntu 24.04, Debian 12) with EBS root devices. Time-driven transitions
// (pending → running, stopping → stopped, shutting-down → terminated,
// snapshot pending → completed with rising progress, ELB draining) follow
// the server clock (WithClock) and the delays set by options.
// AddInstances, AddSecurityGroup, AddTargetGroup and AddAutoScalingGroup
// seed state without requests; State returns a copy for assertions; Calls
// and Operations return the request trace.
//
// # Faults
//
// Faults (WithFaults, SetFaults at run time): token-bucket throttling
// that follows AWS's published table, "Request throttling for the Amazon
// EC2 API" (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html,
// read 2026-12-07; DefaultRateLimits, Category). Each action has its own
// bucket per account and Region (the Region of the request's SigV4
// scope): non-mutating (Describe*, Get*, List*, Search*) 100 tokens,
// refill 20 per second; unfiltered and unpaginated non-mutating (the
// seven Describe actions AWS names, called with neither Filter nor
// MaxResults/NextToken; a call naming only ids counts as unfiltered,
// which AWS does not confirm either way) 50/10; mutating 50/5;
// resource-intensive (the nine actions AWS names) 50/5; uncategorized
// actions with AWS's own numbers (RunInstances 5/2, StartInstances 5/2,
// TerminateInstances 100/5, CreateTags 100/10, CreateSnapshot(s) 100/5,
// ...). RunInstances, Start/Stop/TerminateInstances also draw instance
// tokens from resource buckets (1000/2, 1000/2, 1000/20, 1000/20).
// AWS's console non-mutating bucket (100/10) is not modelled (the
// emulator cannot tell console calls); Auto Scaling, ELBv2, CloudWatch
// and IAM get 100/20, a value AWS's EC2 table does not give. Throttling
// is off unless Faults.Throttle is set; WithRateLimits replaces the
// buckets, and RateLimits.Scaled (cmd/ec2test -rate-scale) scales them
// for fast tests and benchmarks;
// a random fraction of throttles (RequestLimitExceeded, Throttling) and of
// 5xx answers (InternalError, ServiceUnavailable), eventual consistency
// (new resources invisible to Describe calls and lookups by id for a
// while) and failing snapshots. WithSeed makes ids and draws repeatable.
//
// # Divergences from AWS
//
// One account; key pairs and IAM instance profiles are not checked for
// existence; DescribeSnapshots without ids or owners lists only the
// account's own snapshots; Auto Scaling replaces detached or standby
// instances only when the group has a launch template and does not
// replace terminated ones; RequestResourceCountExceeded (resource-token
// exhaustion) is answered with HTTP 503.
//
// The standalone server is cmd/ec2test.
package ec2test
