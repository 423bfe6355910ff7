// Package ec2 answers the cloud side of an abuse report on an EC2 instance:
// contain it, snapshot it, rebuild it, terminate it, harden its security
// groups and put alarms on its replacement — through aws-sdk-go-v2, with
// the safety in the types.
//
// Capture records instances as they are (description, attached volumes,
// interfaces, security group rules, instance profile, tags); Contain puts
// the same record in its plan and undo record before its first change.
//
// Every step comes as PlanX (read-only, returns a JSON-able plan to show)
// and ApplyX (carries the plan out), plus a convenience X doing both:
//
//   - Contain moves the instances into a per-VPC quarantine security group
//     (no rules in, none out; read back and emptied right before use).
//     First of all it sets the shutdown behaviour to stop, keeps every EBS
//     volume on termination, removes the instance profile (no new
//     credentials of the role) and revokes the role's sessions issued until
//     then (an inline deny on aws:TokenIssueTime; see NoteCredentials). It tags the instance, then turns on termination and stop protection
//     and moves every interface into quarantine, and only then takes it out
//     of its Auto Scaling group (DetachInstances or EnterStandby,
//     decrementing the desired capacity: no replacement, by choice) and
//     its ELBv2 target groups. It never passes through a group open to the
//     world: security group changes do not end connections already
//     tracked, and the plan says so (ContainPlan.Notes), naming for each
//     instance the NAT gateways, transit gateways, Gateway Load Balancer
//     endpoints (its subnet's routes) and Network or Gateway Load
//     Balancers (its target groups) it sits behind, whose connections are
//     always tracked: NetworkACL adds deny entries that cut them, and
//     DNSFirewallRuleGroupID associates the operator's Route 53 Resolver
//     DNS Firewall rule group with the VPC (a security group cannot
//     filter DNS to the VPC resolver). Spot and instance-store-backed
//     instances get what EC2 allows, and the plan says what it refuses.
//     Contain works in any VPC, IPv4 and IPv6 alike. When host steps
//     go over SSM Run Command (HostStepsOverSSM), the quarantine group is
//     abusekit-quarantine-ssm instead, admitting only tcp 443 out to the
//     VPC endpoints' security group or prefix lists the operator names;
//     without one the plan says host steps will time out. ApplyContain
//     returns a ContainUndo listing exactly what changed, and Undo
//     reverses it.
//   - Snapshot makes one crash-consistent CreateSnapshots per instance of
//     every attached EBS volume, tagged with the incident, instance, device
//     and abuse time, waits with the SDK's SnapshotCompleted waiter (bounded
//     by MaxWait), and returns CompletedSnapshots; optionally it registers
//     an AMI from them for isolated forensics.
//   - Rebuild launches a replacement from a launch template, an AMI, or the
//     old instance's own settings (with hardened groups), requiring IMDSv2,
//     and waits until it runs and passes both status checks. Nothing of the
//     old credentials is carried over by default: no key pair, no instance
//     profile; the forensic image and private images created after the
//     abuse began are refused unless forced. Data volumes are listed as
//     not carried over, or, with RestoreDataVolumes, recreated from each
//     one's newest snapshot of before the abuse time.
//   - Terminate takes a CompletedSnapshots — a type whose only sources are
//     ApplySnapshot and VerifySnapshots (which counts only the snapshot ids
//     the snapshot step journaled) — and re-verifies coverage of every
//     attached volume against EC2 before any mutating call; termination
//     protection is lifted only after that check.
//   - Harden finds ingress rules open to the world (judged by the share of
//     the internet a group admits on a port: 0.0.0.0/0, but also
//     0.0.0.0/1 plus 128.0.0.0/1, split IPv6 ranges, prefixes of /8 or
//     larger; private ranges do not count) on 22, 3389, all
//     traffic and caller-named ports, and replaces them with admin CIDRs
//     (authorize, then revoke). A group other interfaces share (listed in
//     the plan) is copied, with the access other groups grant by
//     referencing it granted to the copy too,
//     without the open rules and the copy swapped onto this instance's
//     interfaces, unless the caller asks to fix it in place; the other
//     interfaces still on the open original (its neighbours) are listed
//     in the plan, and MoveNeighbours swaps the copy onto them too.
//   - Alarms puts CloudWatch alarms on NetworkOut, NetworkPacketsOut,
//     CPUUtilization and StatusCheckFailed, with an SNS action when given.
//
// # Idempotency
//
// Every resource abusekit creates carries the tags abusekit:incident and
// abusekit:step. RunInstances uses a client token derived from the incident
// (Token); security groups are unique by name per VPC; CreateSnapshots,
// which has no client token, is preceded by a lookup of this incident's
// snapshots, and a failed call whose outcome is unknown (5xx, transport
// error) is followed by a lookup before it is retried, so a re-run after a
// crash creates no second snapshot set or instance.
//
// # Clients
//
// Clients holds one narrow one-method interface per operation; New builds
// them from an aws.Config (config.LoadDefaultConfig gives the default
// credential chain) with standard retry (adaptive by option).
// iam-policy.json grants exactly the actions the Clients fields name and
// the ones those calls need implicitly (cloudwatch:TagResource for tagged
// alarms, ec2:CreateTags for tag-on-create, KMS grants for encrypted
// volumes, iam:PassRole), and no more: tags only on create
// (ec2:CreateAction) or abusekit:* keys on instances, KMS only through EC2
// (kms:ViaService), alarms only named abusekit-*, roles passed only if
// named abusekit-replacement-* or tagged abusekit:instance-role=allowed
// (TagInstanceRole), inline policies (the session revocation) only on
// roles so tagged. A test evaluates the policy, conditions included,
// against the request context of every call a full run makes. Package
// github.com/abusekit/abusekit/plugins/ec2/ec2test is a wire-level EC2
// emulator the tests and examples run against.
package ec2
