package ec2plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/ec2"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

func init() {
	plugin.RegisterError("ec2.not_found", ec2.ErrNotFound)
	plugin.RegisterError("ec2.snapshots_incomplete", ec2.ErrSnapshotsIncomplete)
	plugin.RegisterError("ec2.snapshot_failed", ec2.ErrSnapshotFailed)
	plugin.RegisterError("ec2.timeout", ec2.ErrTimeout)
	plugin.RegisterError("ec2.invalid_input", ec2.ErrInvalidInput)
	plugin.RegisterError("ec2.missing_client", ec2.ErrMissingClient)
	plugin.RegisterError("ec2.unhealthy", ec2.ErrUnhealthy)
	plugin.RegisterError("ec2.asg_min_size", ec2.ErrASGMinSize)
	plugin.RegisterError("ec2.quarantine_open", ec2.ErrQuarantineOpen)
}

// Common holds the fields every action takes besides its own.
type Common struct {
	// Incident is the incident id that tags, names and client tokens are
	// derived from; default: the playbook's incident. A re-run must use
	// the same one (the runner's incident does not change on resume).
	Incident string `json:"incident,omitempty" description:"the incident id every tag, resource name and client token is derived from; empty: the playbook's incident. A re-run must use the same one"`
	// AbuseTime is when the abuse was reported or seen (incident tags,
	// rebuild's image and data volume checks).
	AbuseTime time.Time `json:"abuse_time,omitzero" description:"when the abuse was reported or seen (RFC 3339), in the incident tags abusekit puts; rebuild refuses an image created at or after it and restores data volumes only from snapshots taken before it; absent: unknown"`
	// Endpoint overrides the AWS endpoint of every service (an emulator);
	// default: the SDK's own resolution (AWS_ENDPOINT_URL, …).
	Endpoint string `json:"endpoint,omitempty" description:"http(s) URL that replaces the AWS endpoint of every service (an emulator such as plugins/ec2/ec2test); empty: the SDK's own resolution (AWS_ENDPOINT_URL, …)"`
	// Region overrides AWS_REGION and the shared config's region.
	Region string `json:"region,omitempty" description:"AWS region; empty: AWS_REGION or the shared config's region (one of them is required)"`
	// MaxWait bounds each waiter ("30m"); default the package's
	// (2h for snapshots, 15m for instances).
	MaxWait string `json:"max_wait,omitempty" description:"how long each waiter waits at most, a Go duration (30m); empty or 0: 2h for snapshots, 15m for instances"`
	// PollMin and PollMax bound the delay between waiter polls ("2s", "30s").
	PollMin string `json:"poll_min,omitempty" description:"shortest delay between two waiter polls, a Go duration (2s); empty: the package's"`
	PollMax string `json:"poll_max,omitempty" description:"longest delay between two waiter polls, a Go duration (30s); empty: the package's"`
	// Concurrency bounds parallel calls in multi-instance steps (default 16).
	Concurrency int `json:"concurrency,omitempty" description:"AWS calls made in parallel at most in multi-instance steps; 0: 16; negative: refused"`
}

// ContainInput is the input of "contain" (ec2.ContainInput).
type ContainInput struct {
	Common
	InstanceID           string   `json:"instance_id,omitempty" description:"the instance to contain (i-…); with instance_ids, all of them; one of the two is required"`
	InstanceIDs          []string `json:"instance_ids,omitempty" description:"more instance ids; with instance_id, all of them"`
	QuarantineGroupName  string   `json:"quarantine_group,omitempty" description:"name of the deny-all quarantine security group, created in each VPC if missing (with -ssm added for the SSM variant); empty: abusekit-quarantine"`
	PassthroughGroupName string   `json:"passthrough_group,omitempty" description:"accepted for playbooks written for earlier versions and ignored: contain no longer passes through an all-traffic group"`
	// ASGMode: "detach" (default), "standby" or "skip".
	ASGMode             string `json:"asg_mode,omitempty" schema:"enum=|detach|standby|skip,default=detach" description:"what to do with an instance in an Auto Scaling group: detach it, put it in standby, or skip (leave it in the group); empty: detach"`
	AllowASGReplacement bool   `json:"allow_asg_replacement,omitempty" description:"detach without decrementing the desired capacity, so the group launches a replacement; without it the capacity is decremented and the plan fails where that would go below the group's minimum size"`
	SkipLoadBalancers   bool   `json:"skip_load_balancers,omitempty" description:"leave the instance registered in its ELBv2 target groups (by default it is deregistered)"`
	// KeepInstanceProfile leaves the instance profile attached (by default
	// contain removes it; undo puts it back).
	KeepInstanceProfile bool `json:"keep_instance_profile,omitempty" description:"leave the instance profile attached (by default contain removes it, so the instance gets no new role credentials; undo puts it back)"`
	// NetworkACL also denies the instance's addresses in its subnet's
	// network ACL, which cuts established connections (ec2.ContainInput).
	NetworkACL bool `json:"network_acl,omitempty" description:"also add deny entries for the instance's addresses to its subnet's network ACL, which cuts established connections a security group change leaves open (the ACL is shared; undo deletes the entries)"`
	// KeepRoleSessions leaves the removed profile's role sessions valid
	// (by default they are revoked; ec2.ContainInput).
	KeepRoleSessions bool `json:"keep_role_sessions,omitempty" description:"leave the removed instance profile's role sessions valid (by default those issued until now are revoked by an inline deny policy, so stolen credentials stop working; undo deletes it)"`
	// HostStepsOverSSM says host steps will go over SSM Run Command; the
	// endpoint groups (the VPC interface endpoints' security group) and
	// prefix lists are the only places the quarantine group lets the
	// instance reach, on tcp 443 (ec2.ContainInput).
	HostStepsOverSSM    bool     `json:"host_steps_over_ssm,omitempty" description:"host steps (detect, stop, find, clean) will reach the instance over SSM Run Command once contained: the plan says whether they can"`
	SSMEndpointGroupIDs []string `json:"ssm_endpoint_group_ids,omitempty" description:"security groups (sg-…) of the VPC interface endpoints for ssm, ssmmessages, ec2messages (and S3): the quarantine group lets the instance reach only these, on tcp 443; implies host_steps_over_ssm"`
	SSMPrefixListIDs    []string `json:"ssm_prefix_list_ids,omitempty" description:"managed prefix lists (pl-…) of the SSM endpoints, such as S3's gateway endpoint: the quarantine group lets the instance reach only these, on tcp 443; implies host_steps_over_ssm"`
	// DNSFirewallRuleGroupID associates this Route 53 Resolver DNS
	// Firewall rule group with the instances' VPCs (ec2.ContainInput).
	DNSFirewallRuleGroupID string `json:"dns_firewall_rule_group_id,omitempty" description:"a Route 53 Resolver DNS Firewall rule group (rslvr-frg-…) to associate with each instance's VPC, so the instance cannot resolve names or tunnel over DNS; it filters every instance of the VPC; undo removes the association; empty: none"`
	// StateDir is where the record of the original configuration is kept
	// (fsynced) before the first change: see StateDir.
	StateDir string `json:"state_dir,omitempty" description:"directory where the original configuration is saved, fsynced, before the first change (undo without a record reads it); empty: $ABUSEKIT_STATE_DIR/ec2, else $XDG_STATE_HOME/abusekit/ec2, else $HOME/.local/state/abusekit/ec2"`
	// Dwell is accepted for playbooks written for earlier versions and
	// ignored: contain no longer passes through an all-traffic group.
	Dwell string `json:"dwell,omitempty" description:"accepted for playbooks written for earlier versions and ignored (a Go duration if given)"`
}

// ContainOutput is the output of "contain".
type ContainOutput struct {
	Plan *ec2.ContainPlan `json:"plan" description:"the plan contain carried out"`
	// Undo lists exactly what was changed; keep it to reverse containment.
	Undo *ec2.ContainUndo `json:"undo" description:"exactly what was changed: give it to undo (usually steps.contain.undo) to reverse containment"`
	// Groups is the union of the security groups the contained instances'
	// interfaces had before (ContainUndo.OriginalGroups), sorted: the
	// groups to harden before a rebuild.
	Groups []string `json:"groups" description:"the security groups the instances had before, sorted: the groups to harden before a rebuild"`
}

// SnapshotInput is the input of "snapshot" (ec2.SnapshotInput).
type SnapshotInput struct {
	Common
	InstanceID    string   `json:"instance_id,omitempty" description:"the instance whose attached EBS volumes to snapshot (i-…); with instance_ids, all of them; one of the two is required"`
	InstanceIDs   []string `json:"instance_ids,omitempty" description:"more instance ids; with instance_id, all of them"`
	RegisterImage bool     `json:"register_image,omitempty" description:"also register an AMI per instance from its completed snapshots, so the infected machine can be launched again, isolated, for forensics"`
	Description   string   `json:"description,omitempty" description:"the snapshots' description; empty: abusekit incident <incident>: <instance id>"`
}

// SnapshotOutput is the output of "snapshot": one completed set per
// instance, in input order.
type SnapshotOutput struct {
	Sets []ec2.SnapshotSet `json:"sets" description:"one completed snapshot set per instance, in input order: give one to terminate as set"`
	// SnapshotIDs lists every snapshot of every set.
	SnapshotIDs []string `json:"snapshot_ids" description:"every snapshot of every set (snap-…)"`
}

// TerminateInput is the input of "terminate". The instance (and, unless
// given, the incident) come from Set, typically ${{ steps.snapshot.sets[0] }}:
// the snapshot ids the snapshot step created and the runner journaled.
// Coverage is established by ec2.VerifySnapshots against EC2 at plan and
// at apply time from those ids only; without a set, terminate is refused
// (ec2.ErrSnapshotsIncomplete), whatever snapshots carry the incident's tag.
type TerminateInput struct {
	Common
	InstanceID string           `json:"instance_id,omitempty" description:"the instance to terminate (i-…); must be the set's; empty: the set's"`
	Set        *ec2.SnapshotSet `json:"set,omitempty" description:"the snapshot set of the instance from this incident's snapshot step (usually steps.snapshot.sets[0]), needed: only its snapshot ids count, each verified completed against EC2 at plan and at apply; without it, or with an attached volume it does not cover, terminate is refused (ec2.snapshots_incomplete)"`
}

// TerminateOutput is the output of "terminate".
type TerminateOutput struct {
	ec2.TerminateResult
}

// RebuildInput is the input of "rebuild" (ec2.RebuildInput).
type RebuildInput struct {
	Common
	InstanceID       string                 `json:"instance_id" schema:"required" description:"the infected instance to replace (i-…)"`
	LaunchTemplate   *ec2.LaunchTemplateRef `json:"launch_template,omitempty" description:"launch the replacement from this launch template; absent: from image_id, instance_type and subnet_id"`
	ImageID          string                 `json:"image_id,omitempty" description:"the AMI for the replacement; empty: the old instance's AMI (a clean base, not its disks); an AMI made of the infected instance or created at or after abuse_time is refused unless allow_suspect_image"`
	InstanceType     string                 `json:"instance_type,omitempty" description:"instance type of the replacement; empty: the old instance's (without a launch template)"`
	SubnetID         string                 `json:"subnet_id,omitempty" description:"subnet of the replacement; empty: the old instance's (without a launch template)"`
	KeyName          string                 `json:"key_name,omitempty" description:"a key pair for the replacement; empty: none (reach it with SSM Session Manager), unless reuse_key_pair"`
	SecurityGroupIDs []string               `json:"security_group_ids,omitempty" description:"security groups of the replacement, usually steps.harden.hardened; empty: the old instance's groups other than the quarantine groups"`
	AllowOpenGroups  bool                   `json:"allow_open_groups,omitempty" description:"permit groups that still expose 22, 3389 or all traffic to the world; otherwise planning fails"`
	// By default the replacement gets no key pair and no instance profile
	// (ec2.RebuildInput): reuse_* copy the old instance's, with a warning.
	ReuseKeyPair         bool   `json:"reuse_key_pair,omitempty" description:"give the replacement the old instance's key pair (it may be the way the attacker came in), with a warning"`
	InstanceProfileARN   string `json:"instance_profile_arn,omitempty" description:"an instance profile for the replacement; empty: none, unless reuse_instance_profile"`
	ReuseInstanceProfile bool   `json:"reuse_instance_profile,omitempty" description:"give the replacement the old instance's instance profile (its role's credentials may be stolen), with a warning"`
	AllowSuspectImage    bool   `json:"allow_suspect_image,omitempty" description:"permit an image abusekit made of the infected instance, or one created at or after abuse_time; otherwise planning fails"`
	UserData             string `json:"user_data,omitempty" schema:"secret,format=byte" description:"user data for the replacement, base64-encoded; empty: none"` // base64
	// RestoreDataVolumes recreates the data volumes from their newest
	// snapshots of before the abuse time (ec2.RebuildInput).
	RestoreDataVolumes bool `json:"restore_data_volumes,omitempty" description:"give the replacement each data volume of the old instance again, from that volume's newest completed snapshot taken before abuse_time (required then); abusekit's own forensic snapshots never count"`
}

// RebuildOutput is the output of "rebuild".
type RebuildOutput struct {
	ec2.RebuildResult
	ClientToken string `json:"client_token" description:"the client token RunInstances used (derived from the incident): a re-run finds the same replacement instead of launching another"`
}

// HardenInput is the input of "harden" (ec2.HardenInput).
type HardenInput struct {
	Common
	InstanceID string   `json:"instance_id,omitempty" description:"harden the groups on this instance's network interfaces (copies of shared groups are swapped onto them); with group_ids, both; one of the two is required"`
	GroupIDs   []string `json:"group_ids,omitempty" description:"harden these security groups (sg-…), usually steps.contain.groups; with instance_id, both"`
	Ports      []int32  `json:"ports,omitempty" description:"ports besides 22 and 3389 (always looked for, with all-traffic rules) whose world-open ingress is replaced"`
	AdminCIDRs []string `json:"admin_cidrs,omitempty" description:"CIDRs that replace the world as the source of each open rule (IPv4 ones replace 0.0.0.0/0, IPv6 ones ::/0); empty: the open rules are removed"`
	InPlace    bool     `json:"in_place,omitempty" description:"fix shared groups in place instead of copying them (their other users lose the open access too)"`
	// MoveNeighbours swaps the hardened copy onto the other instances'
	// interfaces that share the open original too (ec2.HardenInput).
	MoveNeighbours bool `json:"move_neighbours,omitempty" description:"also swap the hardened copy onto the other interfaces that share a copied group, so none stays on the open original (interfaces an AWS service manages are listed, never moved)"`
}

// HardenOutput is the output of "harden".
type HardenOutput struct {
	Plan *ec2.HardenPlan `json:"plan" description:"the plan harden carried out"`
	ec2.HardenResult
	// Hardened is GroupIDs mapped to the groups that now carry their
	// hardened rules (HardenResult.Hardened): the groups for a rebuild.
	Hardened []string `json:"hardened" description:"group_ids mapped, in order, to the groups that now carry their hardened rules (a copy, or the group itself): the groups for a rebuild"`
}

// AlarmsInput is the input of "alarms" (ec2.AlarmsInput).
type AlarmsInput struct {
	Common
	InstanceID  string         `json:"instance_id" schema:"required" description:"the instance to watch (i-…), usually steps.rebuild.instance_id"`
	SNSTopicARN string         `json:"sns_topic_arn,omitempty" description:"SNS topic the alarms (and their return to OK) notify; empty: none, an existing alarm keeps its actions"`
	Thresholds  ec2.Thresholds `json:"thresholds,omitzero" description:"when the alarms fire; absent, or a field 0: its default"`
}

// AlarmsOutput is the output of "alarms": the alarms put.
type AlarmsOutput struct {
	Plan *ec2.AlarmsPlan `json:"plan" description:"the alarms put"`
}

// UndoInput is the input of "undo": the undo record of a contain step,
// usually ${{ steps.contain.undo }}; its incident is the record's. Without
// it, undo releases the incident (Common.Incident, default the playbook's)
// from the record contain saved in state_dir: the original configuration,
// also after a contain step that failed or died part-way.
type UndoInput struct {
	Common
	Undo     *ec2.ContainUndo `json:"undo,omitempty" description:"the undo record of a contain step, usually steps.contain.undo (its incident is the record's); absent: the record contain saved for the incident in state_dir, also after a contain that failed or died part-way"`
	StateDir string           `json:"state_dir,omitempty" description:"directory of the saved contain records, as contain was given it (used without undo); empty: $ABUSEKIT_STATE_DIR/ec2, else $XDG_STATE_HOME/abusekit/ec2, else $HOME/.local/state/abusekit/ec2"`
}

// CaptureInput is the input of "capture": the instances to record.
type CaptureInput struct {
	Common
	InstanceID  string   `json:"instance_id,omitempty" description:"the instance to record (i-…); with instance_ids, all of them; one of the two is required"`
	InstanceIDs []string `json:"instance_ids,omitempty" description:"more instance ids; with instance_id, all of them"`
}

// CaptureOutput is the output of "capture": each instance as it is
// (ec2.Capture), for the incident record.
type CaptureOutput struct {
	Records []ec2.InstanceRecord `json:"records" description:"each instance as it is, in input order"`
}

// UndoOutput is the output of "undo": the instances put back.
type UndoOutput struct {
	Instances []string `json:"instances" description:"the instances put back as they were (quarantine groups stay)"`
}

// NewPlugin returns the actions "capture" (read-only), "contain", "snapshot", "terminate",
// "rebuild", "harden" and "alarms", and "undo", which reverses a contain
// step from its undo record. The AWS clients are built in the plugin
// process from config.LoadDefaultConfig and kept for the process's life,
// one set per endpoint and region.
func NewPlugin() plugin.Actions {
	a := &adapter{clients: map[string]*ec2.Clients{}}
	return plugin.Actions{
		"capture":   plugin.NewAction("record EC2 instances as they are: description, volumes, interfaces, security group rules, instance profile, tags (read-only)", a.planCapture, a.applyCapture, plugin.FieldDocs(nil, captureOutputDocs)),
		"contain":   plugin.NewAction("quarantine EC2 instances: tag, protect, leave Auto Scaling and target groups, swap in a deny-all group", a.planContain, a.applyContain, plugin.FieldDocs(nil, containOutputDocs)),
		"snapshot":  plugin.NewAction("snapshot every attached EBS volume (crash-consistent, tagged with the incident) and wait until completed", a.planSnapshot, a.applySnapshot, plugin.FieldDocs(nil, snapshotOutputDocs)),
		"terminate": plugin.NewAction("terminate an instance once every attached volume has a completed snapshot from the incident (verified against EC2)", a.planTerminate, a.applyTerminate, plugin.FieldDocs(terminateInputDocs, terminateOutputDocs)),
		"rebuild":   plugin.NewAction("launch a clean replacement (IMDSv2) and wait until it passes its status checks", a.planRebuild, a.applyRebuild, plugin.FieldDocs(rebuildInputDocs, rebuildOutputDocs)),
		"harden":    plugin.NewAction("replace world-open ingress on risky ports with admin CIDRs (add before revoke; shared groups copied)", a.planHarden, a.applyHarden, plugin.FieldDocs(nil, hardenOutputDocs)),
		"alarms":    plugin.NewAction("put CloudWatch alarms on network out, packets out, CPU and status checks", a.planAlarms, a.applyAlarms, plugin.FieldDocs(alarmsInputDocs, alarmsOutputDocs)),
		"undo":      plugin.NewAction("reverse a contain step from its undo record: groups, protection, Auto Scaling, target groups, tags", a.planUndo, a.applyUndo, plugin.FieldDocs(undoInputDocs, nil)),
	}
}

type adapter struct {
	mu      sync.Mutex
	clients map[string]*ec2.Clients
}

// client returns the clients for c's endpoint and region, loading the
// default config chain the first time.
func (a *adapter) client(ctx context.Context, c Common) (*ec2.Clients, error) {
	if err := checkEndpoint(c.Endpoint); err != nil {
		return nil, err
	}
	key := c.Endpoint + "|" + c.Region
	a.mu.Lock()
	defer a.mu.Unlock()
	if cl, ok := a.clients[key]; ok {
		return cl, nil
	}
	// The SDK's own warnings go to the plugin's log (which reaches the
	// host's), not to raw stderr.
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		slog.Default().Log(context.Background(), level, "aws sdk: "+fmt.Sprintf(format, v...))
	}))}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(c.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ec2plugin: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: no AWS region (set AWS_REGION in the plugin's environment or region in the input)", plugin.ErrInvalidInput)
	}
	cl := ec2.New(cfg)
	a.clients[key] = cl
	return cl, nil
}

func checkEndpoint(e string) error {
	if e == "" {
		return nil
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: endpoint %q is not an http(s) URL", plugin.ErrInvalidInput, e)
	}
	return nil
}

func incident(c Common, call plugin.Call) ec2.Incident {
	id := c.Incident
	if id == "" {
		id = call.Incident
	}
	return ec2.Incident{ID: id, AbuseTime: c.AbuseTime}
}

func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: %s %q is not a non-negative duration", plugin.ErrInvalidInput, field, s)
	}
	return d, nil
}

// options maps the common fields (and a dwell) onto ec2 step options.
func options(c Common, dwell string) ([]ec2.Option, error) {
	var o []ec2.Option
	wait, err := duration("max_wait", c.MaxWait)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		o = append(o, ec2.WithMaxWait(wait))
	}
	pmin, err := duration("poll_min", c.PollMin)
	if err != nil {
		return nil, err
	}
	pmax, err := duration("poll_max", c.PollMax)
	if err != nil {
		return nil, err
	}
	if pmin > 0 || pmax > 0 {
		o = append(o, ec2.WithPoll(pmin, pmax))
	}
	if c.Concurrency < 0 {
		return nil, fmt.Errorf("%w: concurrency %d", plugin.ErrInvalidInput, c.Concurrency)
	}
	if c.Concurrency > 0 {
		o = append(o, ec2.WithConcurrency(c.Concurrency))
	}
	if dwell != "" {
		d, err := duration("dwell", dwell)
		if err != nil {
			return nil, err
		}
		o = append(o, ec2.WithDwell(d))
	}
	return o, nil
}

func ids(one string, many []string) []string {
	if one == "" {
		return many
	}
	return append([]string{one}, many...)
}

// --- capture

func (a *adapter) planCapture(ctx context.Context, req plugin.PlanRequest[CaptureInput], resp *plugin.PlanResponse) error {
	ids := ids(req.Input.InstanceID, req.Input.InstanceIDs)
	if len(ids) == 0 {
		return fmt.Errorf("%w: capture: no instance_id", plugin.ErrInvalidInput)
	}
	if _, err := a.client(ctx, req.Input.Common); err != nil {
		return err
	}
	resp.Summary = fmt.Sprintf("record %d instance(s) as they are (no change)", len(ids))
	return nil
}

func (a *adapter) applyCapture(ctx context.Context, req plugin.ApplyRequest[CaptureInput], resp *plugin.ApplyResponse[CaptureOutput]) error {
	ids := ids(req.Input.InstanceID, req.Input.InstanceIDs)
	if len(ids) == 0 {
		return fmt.Errorf("%w: capture: no instance_id", plugin.ErrInvalidInput)
	}
	c, err := a.client(ctx, req.Input.Common)
	if err != nil {
		return err
	}
	recs, err := ec2.Capture(ctx, c, ids)
	if err != nil {
		return err
	}
	resp.Output = CaptureOutput{Records: recs}
	return nil
}

// --- contain

func (in ContainInput) typed(call plugin.Call) ec2.ContainInput {
	return ec2.ContainInput{Incident: incident(in.Common, call), InstanceIDs: ids(in.InstanceID, in.InstanceIDs),
		QuarantineGroupName: in.QuarantineGroupName, PassthroughGroupName: in.PassthroughGroupName,
		AutoScaling: ec2.ASGMode(in.ASGMode), AllowASGReplacement: in.AllowASGReplacement, SkipLoadBalancers: in.SkipLoadBalancers,
		KeepInstanceProfile: in.KeepInstanceProfile, NetworkACL: in.NetworkACL, KeepRoleSessions: in.KeepRoleSessions,
		HostStepsOverSSM: in.HostStepsOverSSM, SSMEndpointGroupIDs: in.SSMEndpointGroupIDs, SSMPrefixListIDs: in.SSMPrefixListIDs,
		DNSFirewallRuleGroupID: in.DNSFirewallRuleGroupID}
}

func (in ContainInput) check() error {
	switch ec2.ASGMode(in.ASGMode) {
	case "", ec2.ASGDetach, ec2.ASGStandby, ec2.ASGSkip:
		return nil
	}
	return fmt.Errorf("%w: asg_mode %q (want detach, standby or skip)", plugin.ErrInvalidInput, in.ASGMode)
}

// StateDir resolves the directory of the contain records: dir if given,
// else $ABUSEKIT_STATE_DIR/ec2, else $XDG_STATE_HOME/abusekit/ec2, else
// $HOME/.local/state/abusekit/ec2.
func StateDir(dir string) (string, error) {
	switch {
	case dir != "":
		return dir, nil
	case os.Getenv("ABUSEKIT_STATE_DIR") != "":
		return filepath.Join(os.Getenv("ABUSEKIT_STATE_DIR"), "ec2"), nil
	case os.Getenv("XDG_STATE_HOME") != "":
		return filepath.Join(os.Getenv("XDG_STATE_HOME"), "abusekit", "ec2"), nil
	case os.Getenv("HOME") != "":
		return filepath.Join(os.Getenv("HOME"), ".local", "state", "abusekit", "ec2"), nil
	}
	return "", fmt.Errorf("%w: no state_dir, ABUSEKIT_STATE_DIR, XDG_STATE_HOME or HOME for the contain record", plugin.ErrInvalidInput)
}

// store is the contain store for c's endpoint and region (the same
// incident id may be contained in several regions or accounts' endpoints:
// each keeps its own record), in a subdirectory of StateDir(dir).
func store(dir string, c Common) (*ec2.FileContainStore, error) {
	d, err := StateDir(dir)
	if err != nil {
		return nil, err
	}
	region := c.Region
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	h := sha256.Sum256([]byte(c.Endpoint + "|" + region))
	return ec2.NewFileContainStore(filepath.Join(d, hex.EncodeToString(h[:8])))
}

func (a *adapter) containPlan(ctx context.Context, in ContainInput, call plugin.Call, log *slog.Logger) (*ec2.Clients, *ec2.ContainPlan, []ec2.Option, error) {
	if err := in.check(); err != nil {
		return nil, nil, nil, err
	}
	o, err := options(in.Common, in.Dwell)
	if err != nil {
		return nil, nil, nil, err
	}
	o = append(o, ec2.WithLogger(log))
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := ec2.PlanContain(ctx, c, in.typed(call), o...)
	return c, p, o, err
}

func (a *adapter) planContain(ctx context.Context, req plugin.PlanRequest[ContainInput], resp *plugin.PlanResponse) error {
	_, p, _, err := a.containPlan(ctx, req.Input, req.Call, req.Logger)
	if err != nil {
		return err
	}
	*resp = describeContain(p)
	return nil
}

func (a *adapter) applyContain(ctx context.Context, req plugin.ApplyRequest[ContainInput], resp *plugin.ApplyResponse[ContainOutput]) error {
	c, p, o, err := a.containPlan(ctx, req.Input, req.Call, req.Logger)
	if err != nil {
		return err
	}
	st, err := store(req.Input.StateDir, req.Input.Common)
	if err != nil {
		return err
	}
	req.Progress.Report("containing", 0, int64(len(p.Instances)))
	undo, err := ec2.ApplyContain(ctx, c, p, append(o, ec2.WithContainStore(newJournaledStore(st, req.Progress, req.Notes)))...)
	resp.Output = ContainOutput{Plan: p, Undo: undo, Groups: []string{}}
	if undo != nil {
		seen := map[string]bool{}
		for _, ic := range p.Instances {
			for _, g := range undo.OriginalGroups(ic.InstanceID) {
				if !seen[g] {
					seen[g] = true
					resp.Output.Groups = append(resp.Output.Groups, g)
				}
			}
		}
		sort.Strings(resp.Output.Groups)
	}
	if err != nil {
		// A failed step has no output on the host: the record is in the
		// store (undo without a record releases from it), and in the log.
		if undo != nil {
			if b, jerr := json.Marshal(undo); jerr == nil {
				req.Logger.Error("contain failed part-way; original configuration saved", "record", st.Path(p.Incident.ID), "undo", string(b))
			}
		}
		return err
	}
	req.Progress.Report("contained", int64(len(p.Instances)), int64(len(p.Instances)))
	return nil
}

func describeContain(p *ec2.ContainPlan) plugin.PlanResponse {
	var r plugin.PlanResponse
	already := 0
	for _, g := range p.Groups {
		switch {
		case g.GroupID == "" && len(g.Rules) > 0:
			var to []string
			for _, x := range g.Rules {
				to = append(to, x.String())
			}
			r.Changes = append(r.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "security group " + g.Name, Detail: g.Role + " group in " + g.VPCID + ", only: " + strings.Join(to, ", ")})
		case g.GroupID == "":
			r.Changes = append(r.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "security group " + g.Name, Detail: g.Role + " group in " + g.VPCID})
		case len(g.Converge) > 0:
			r.Changes = append(r.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: g.GroupID, Detail: fmt.Sprintf("%s group: converge %d rule(s)", g.Role, len(g.Converge))})
		}
	}
	for _, f := range p.DNSFirewall {
		if f.AssociationID == "" {
			r.Changes = append(r.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "DNS Firewall association " + f.RuleGroupID + " / " + f.VPCID,
				Detail: fmt.Sprintf("priority %d; filters every instance of the VPC", f.Priority)})
		}
	}
	for _, ic := range p.Instances {
		if ic.AlreadyContained {
			already++
			continue
		}
		var d []string
		if ic.ShutdownBehavior != "stop" {
			d = append(d, "shutdown behaviour stop")
		}
		if len(ic.DeleteOnTermination) > 0 {
			d = append(d, fmt.Sprintf("keep %d volume(s) on termination (%s)", len(ic.DeleteOnTermination), strings.Join(ic.DeleteOnTermination, ",")))
		}
		if ic.InstanceProfile != nil {
			d = append(d, "remove instance profile "+ic.InstanceProfile.ARN)
		}
		if len(ic.RevokeRoleSessions) > 0 {
			d = append(d, "revoke the older sessions of role(s) "+strings.Join(ic.RevokeRoleSessions, ","))
		}
		if n := len(ic.NetworkACLEntries); n > 0 {
			d = append(d, fmt.Sprintf("%d deny entr(ies) in network ACL %s", n, ic.NetworkACLEntries[0].NetworkACLID))
		}
		if len(ic.TagsToAdd) > 0 {
			d = append(d, fmt.Sprintf("tag (%d)", len(ic.TagsToAdd)))
		}
		if ic.TerminationProtection == nil || !*ic.TerminationProtection || ic.StopProtection == nil || !*ic.StopProtection {
			d = append(d, "termination and stop protection on")
		}
		if ic.AutoScalingGroup != "" && ic.ASGAction != ec2.ASGSkip && ic.ASGAction != "" {
			s := string(ic.ASGAction) + " from Auto Scaling group " + ic.AutoScalingGroup
			if ic.DecrementDesired {
				s += " (desired capacity decremented)"
			}
			d = append(d, s)
		}
		if len(ic.TargetGroups) > 0 {
			d = append(d, fmt.Sprintf("deregister from %d target group(s)", len(ic.TargetGroups)))
		}
		d = append(d, fmt.Sprintf("%d interface(s) into quarantine", len(ic.Interfaces)))
		r.Changes = append(r.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: ic.InstanceID, Detail: strings.Join(d, "; ")})
	}
	r.Summary = fmt.Sprintf("contain %d instance(s) for incident %s", len(p.Instances)-already, p.Incident.ID)
	if already > 0 {
		r.Summary += fmt.Sprintf(" (%d already contained)", already)
	}
	for _, n := range p.Notes {
		r.Summary += "; note: " + n
	}
	return r
}

// --- snapshot

func (a *adapter) snapshotPlan(ctx context.Context, in SnapshotInput, call plugin.Call, log *slog.Logger) (*ec2.Clients, *ec2.SnapshotPlan, []ec2.Option, error) {
	o, err := options(in.Common, "")
	if err != nil {
		return nil, nil, nil, err
	}
	o = append(o, ec2.WithLogger(log))
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := ec2.PlanSnapshot(ctx, c, ec2.SnapshotInput{Incident: incident(in.Common, call), InstanceIDs: ids(in.InstanceID, in.InstanceIDs),
		RegisterImage: in.RegisterImage, Description: in.Description}, o...)
	return c, p, o, err
}

func (a *adapter) planSnapshot(ctx context.Context, req plugin.PlanRequest[SnapshotInput], resp *plugin.PlanResponse) error {
	_, p, _, err := a.snapshotPlan(ctx, req.Input, req.Call, req.Logger)
	if err != nil {
		return err
	}
	create := 0
	for _, ip := range p.Instances {
		for _, v := range ip.Volumes {
			if v.Existing == "" {
				create++
				resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "snapshot of " + v.VolumeID,
					Detail: fmt.Sprintf("%s %s %d GiB of %s", v.Device, v.VolumeType, v.SizeGiB, ip.InstanceID)})
			} else {
				resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeRead, Target: v.Existing,
					Detail: fmt.Sprintf("reuse %s snapshot of %s (%s) from an earlier run", v.ExistingState, v.VolumeID, v.Device)})
			}
		}
		if ip.Image != nil && ip.Image.Existing == "" {
			resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "image " + ip.Image.Name, Detail: "AMI of " + ip.InstanceID + " for isolated forensics"})
		}
	}
	resp.Summary = fmt.Sprintf("snapshot %d volume(s) of %d instance(s) for incident %s, wait until completed", create, len(p.Instances), p.Incident.ID)
	return nil
}

func (a *adapter) applySnapshot(ctx context.Context, req plugin.ApplyRequest[SnapshotInput], resp *plugin.ApplyResponse[SnapshotOutput]) error {
	c, p, o, err := a.snapshotPlan(ctx, req.Input, req.Call, req.Logger)
	if err != nil {
		return err
	}
	req.Progress.Report("snapshotting", 0, int64(len(p.Instances)))
	o = append(o, ec2.WithProgress(func(pr ec2.Progress) {
		msg := fmt.Sprintf("snapshot %s of %s: %s %d%%", pr.Resource, pr.Volume, pr.State, pr.Percent)
		if pr.ETA > 0 {
			msg += ", ETA " + pr.ETA.String()
		}
		req.Progress.Report(msg, pr.Bytes, pr.TotalBytes)
	}))
	done, err := ec2.ApplySnapshot(ctx, c, p, o...)
	resp.Output = SnapshotOutput{Sets: []ec2.SnapshotSet{}, SnapshotIDs: []string{}}
	for _, cs := range done {
		s := cs.Set()
		resp.Output.Sets = append(resp.Output.Sets, s)
		for _, v := range s.Snapshots {
			resp.Output.SnapshotIDs = append(resp.Output.SnapshotIDs, v.SnapshotID)
		}
	}
	if err == nil {
		req.Progress.Report("snapshots completed", int64(len(done)), int64(len(p.Instances)))
	}
	return err
}

// --- terminate

// verified obtains the CompletedSnapshots for the instance: the snapshot
// ids of the snapshot step's set (journaled by the runner), checked
// against EC2. Without a set nothing is covered: snapshots found by tag
// do not count (anyone who may tag a snapshot could satisfy that).
func (a *adapter) verified(ctx context.Context, in TerminateInput, call plugin.Call) (*ec2.Clients, ec2.CompletedSnapshots, error) {
	inst, inc := in.InstanceID, incident(in.Common, call)
	if in.Set != nil {
		if inst != "" && in.Set.InstanceID != inst {
			return nil, ec2.CompletedSnapshots{}, fmt.Errorf("%w: instance_id %s but set is of %s", plugin.ErrInvalidInput, inst, in.Set.InstanceID)
		}
		inst = in.Set.InstanceID
		if in.Incident == "" && in.Set.Incident.ID != "" {
			inc = in.Set.Incident
		}
	}
	if inst == "" {
		return nil, ec2.CompletedSnapshots{}, fmt.Errorf("%w: instance_id or set is required", plugin.ErrInvalidInput)
	}
	if in.Set == nil || len(in.Set.Snapshots) == 0 {
		return nil, ec2.CompletedSnapshots{}, fmt.Errorf("%w: terminate %s: no snapshot set from this incident's snapshot step (pass set: steps.<snapshot>.sets[i])",
			ec2.ErrSnapshotsIncomplete, inst)
	}
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, ec2.CompletedSnapshots{}, err
	}
	set := *in.Set
	set.Incident = inc
	cs, err := ec2.VerifySnapshots(ctx, c, set)
	return c, cs, err
}

func (a *adapter) planTerminate(ctx context.Context, req plugin.PlanRequest[TerminateInput], resp *plugin.PlanResponse) error {
	if _, err := options(req.Input.Common, ""); err != nil {
		return err
	}
	c, cs, err := a.verified(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	p, err := ec2.PlanTerminate(ctx, c, cs)
	if err != nil {
		return err
	}
	var covered []string
	for _, v := range p.Covered {
		covered = append(covered, v.SnapshotID+" ("+v.Device+")")
	}
	if p.DisableTerminationProtection {
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: p.InstanceID, Detail: "termination protection off, after the coverage check"})
	}
	resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeDelete, Target: p.InstanceID, Detail: "terminate; volumes covered by " + strings.Join(covered, ", ")})
	resp.Summary = fmt.Sprintf("terminate %s: %d volume(s) covered by completed snapshots of incident %s", p.InstanceID, len(p.Covered), p.Incident.ID)
	return nil
}

func (a *adapter) applyTerminate(ctx context.Context, req plugin.ApplyRequest[TerminateInput], resp *plugin.ApplyResponse[TerminateOutput]) error {
	o, err := options(req.Input.Common, "")
	if err != nil {
		return err
	}
	c, cs, err := a.verified(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	// Progress: the instance's states until terminated (ec2.Terminate
	// then waits for it, max_wait at most).
	o = append(o, ec2.WithLogger(req.Logger), ec2.WithProgress(func(pr ec2.Progress) { req.Progress.Report("instance "+pr.Resource+": "+pr.State, 0, 0) }))
	res, err := ec2.Terminate(ctx, c, cs, o...)
	if res != nil {
		resp.Output.TerminateResult = *res
	}
	return err
}

// --- rebuild

func (a *adapter) rebuildPlan(ctx context.Context, in RebuildInput, call plugin.Call) (*ec2.Clients, *ec2.RebuildPlan, []ec2.Option, error) {
	o, err := options(in.Common, "")
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := ec2.PlanRebuild(ctx, c, ec2.RebuildInput{Incident: incident(in.Common, call), InstanceID: in.InstanceID, LaunchTemplate: in.LaunchTemplate,
		ImageID: in.ImageID, InstanceType: in.InstanceType, SubnetID: in.SubnetID, KeyName: in.KeyName,
		SecurityGroupIDs: in.SecurityGroupIDs, AllowOpenGroups: in.AllowOpenGroups, UserData: in.UserData,
		ReuseKeyPair: in.ReuseKeyPair, InstanceProfileARN: in.InstanceProfileARN, ReuseInstanceProfile: in.ReuseInstanceProfile, AllowSuspectImage: in.AllowSuspectImage,
		RestoreDataVolumes: in.RestoreDataVolumes})
	return c, p, o, err
}

func (a *adapter) planRebuild(ctx context.Context, req plugin.PlanRequest[RebuildInput], resp *plugin.PlanResponse) error {
	_, p, _, err := a.rebuildPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	from := "image " + p.ImageID
	if p.LaunchTemplate != nil {
		from = "launch template " + p.LaunchTemplate.ID + p.LaunchTemplate.Name
		if p.ImageID != "" {
			from += ", image " + p.ImageID
		}
	}
	resp.Summary = fmt.Sprintf("launch a replacement for %s from %s (IMDSv2), wait for status checks", p.OldInstanceID, from)
	resp.Changes = []plugin.Change{{Kind: plugin.ChangeCreate, Target: "instance replacing " + p.OldInstanceID,
		Detail: fmt.Sprintf("type %s, subnet %s, groups %s, key pair %q, instance profile %q, client token %s", p.InstanceType, p.SubnetID,
			strings.Join(p.SecurityGroupIDs, ","), p.KeyName, p.InstanceProfileARN, p.ClientToken)}}
	for _, w := range p.Warnings {
		resp.Summary += "; warning: " + w
	}
	if len(p.NotCarriedOver) > 0 {
		resp.Summary += "; not carried over: " + strings.Join(p.NotCarriedOver, ", ")
	}
	for _, v := range p.DataVolumes {
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "volume " + v.Device + " of the replacement",
			Detail: fmt.Sprintf("from snapshot %s of %s, taken %s (before the abuse)", v.SnapshotID, v.OldVolumeID, v.SnapshotTime.Format(time.RFC3339))})
	}
	return nil
}

func (a *adapter) applyRebuild(ctx context.Context, req plugin.ApplyRequest[RebuildInput], resp *plugin.ApplyResponse[RebuildOutput]) error {
	c, p, o, err := a.rebuildPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	req.Progress.Report("launching", 0, 0)
	o = append(o, ec2.WithProgress(func(pr ec2.Progress) { req.Progress.Report("replacement "+pr.Resource+": "+pr.State, 0, 0) }))
	res, err := ec2.ApplyRebuild(ctx, c, p, append(o, ec2.WithLogger(req.Logger))...)
	resp.Output.ClientToken = p.ClientToken
	if res != nil {
		resp.Output.RebuildResult = *res
	}
	return err
}

// --- harden

func (a *adapter) hardenPlan(ctx context.Context, in HardenInput, call plugin.Call) (*ec2.Clients, *ec2.HardenPlan, error) {
	if _, err := options(in.Common, ""); err != nil {
		return nil, nil, err
	}
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, nil, err
	}
	p, err := ec2.PlanHarden(ctx, c, ec2.HardenInput{Incident: incident(in.Common, call), InstanceID: in.InstanceID, GroupIDs: in.GroupIDs,
		Ports: in.Ports, AdminCIDRs: in.AdminCIDRs, InPlace: in.InPlace, MoveNeighbours: in.MoveNeighbours})
	return c, p, err
}

func (a *adapter) planHarden(ctx context.Context, req plugin.PlanRequest[HardenInput], resp *plugin.PlanResponse) error {
	_, p, err := a.hardenPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	n := 0
	for _, g := range p.Groups {
		open := make([]string, len(g.Open))
		for i, r := range g.Open {
			open[i] = r.String()
		}
		switch g.Action {
		case ec2.HardenInPlace:
			n++
			resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: g.GroupID,
				Detail: fmt.Sprintf("%s: authorize %d admin rule(s), then revoke %s", g.Name, len(g.Add), strings.Join(open, ", "))})
		case ec2.HardenCopy:
			n++
			if g.CopyID == "" {
				resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: "security group " + g.CopyName,
					Detail: fmt.Sprintf("copy of shared %s (%s) without %s", g.GroupID, g.Name, strings.Join(open, ", "))})
			}
		}
	}
	for _, ifc := range p.Interfaces {
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: ifc.NetworkInterfaceID, Detail: "swap hardened copies in for " + strings.Join(ifc.Groups, ",")})
	}
	for _, g := range p.Groups {
		for _, nb := range g.Neighbours {
			if nb.Move {
				resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: nb.NetworkInterfaceID,
					Detail: fmt.Sprintf("neighbour %s: swap the hardened copy in for %s", nb.InstanceID, g.GroupID)})
			}
		}
	}
	resp.Summary = fmt.Sprintf("harden %d of %d group(s) open to the world", n, len(p.Groups))
	for _, note := range p.Notes {
		resp.Summary += "; note: " + note
	}
	return nil
}

func (a *adapter) applyHarden(ctx context.Context, req plugin.ApplyRequest[HardenInput], resp *plugin.ApplyResponse[HardenOutput]) error {
	c, p, err := a.hardenPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	res, err := ec2.ApplyHarden(ctx, c, p)
	resp.Output.Plan = p
	resp.Output.Hardened = []string{}
	if res != nil {
		resp.Output.HardenResult = *res
		if h := res.Hardened(req.Input.GroupIDs); h != nil {
			resp.Output.Hardened = h
		}
	}
	return err
}

// --- alarms

func (a *adapter) alarmsPlan(ctx context.Context, in AlarmsInput, call plugin.Call) (*ec2.Clients, *ec2.AlarmsPlan, error) {
	if _, err := options(in.Common, ""); err != nil {
		return nil, nil, err
	}
	c, err := a.client(ctx, in.Common)
	if err != nil {
		return nil, nil, err
	}
	p, err := ec2.PlanAlarms(ctx, c, ec2.AlarmsInput{Incident: incident(in.Common, call), InstanceID: in.InstanceID, SNSTopicARN: in.SNSTopicARN, Thresholds: in.Thresholds})
	return c, p, err
}

func (a *adapter) planAlarms(ctx context.Context, req plugin.PlanRequest[AlarmsInput], resp *plugin.PlanResponse) error {
	_, p, err := a.alarmsPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	for _, al := range p.Alarms {
		k := plugin.ChangeCreate
		if al.Exists {
			k = plugin.ChangeUpdate
		}
		resp.Changes = append(resp.Changes, plugin.Change{Kind: k, Target: "alarm " + al.Name,
			Detail: fmt.Sprintf("%s(%s) %s %g", al.Statistic, al.Metric, al.Comparison, al.Threshold)})
	}
	resp.Summary = fmt.Sprintf("put %d CloudWatch alarm(s) on %s", len(p.Alarms), p.InstanceID)
	return nil
}

func (a *adapter) applyAlarms(ctx context.Context, req plugin.ApplyRequest[AlarmsInput], resp *plugin.ApplyResponse[AlarmsOutput]) error {
	c, p, err := a.alarmsPlan(ctx, req.Input, req.Call)
	if err != nil {
		return err
	}
	resp.Output.Plan = p
	return ec2.ApplyAlarms(ctx, c, p)
}

// --- undo

// record returns the input's undo record, or the one contain saved for
// the incident.
func (in UndoInput) record(ctx context.Context, call plugin.Call) (*ec2.ContainUndo, error) {
	if in.Undo != nil {
		return in.Undo, nil
	}
	st, err := store(in.StateDir, in.Common)
	if err != nil {
		return nil, err
	}
	inc := incident(in.Common, call)
	u, err := st.Load(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("%w: no undo record given and none saved for incident %s in %s", ec2.ErrNotFound, inc.ID, st.Path(inc.ID))
	}
	return u, nil
}

// planUndo lists what the record says would be restored; it reads nothing.
func (a *adapter) planUndo(ctx context.Context, req plugin.PlanRequest[UndoInput], resp *plugin.PlanResponse) error {
	if _, err := options(req.Input.Common, ""); err != nil {
		return err
	}
	u, err := req.Input.record(ctx, req.Call)
	if err != nil {
		return err
	}
	for _, iu := range u.Instances {
		var d []string
		for _, e := range iu.Interfaces {
			d = append(d, e.NetworkInterfaceID+" back to "+strings.Join(e.Groups, ","))
		}
		if iu.TerminationProtectionWas != nil || iu.StopProtectionWas != nil {
			d = append(d, "protection as it was")
		}
		if iu.ShutdownBehaviorWas != "" {
			d = append(d, "shutdown behaviour "+iu.ShutdownBehaviorWas)
		}
		if iu.InstanceProfileWas != "" {
			d = append(d, "instance profile "+iu.InstanceProfileWas+" again")
		}
		if n := len(iu.NetworkACLEntries); n > 0 {
			d = append(d, fmt.Sprintf("delete %d network ACL deny entr(ies)", n))
		}
		for _, rp := range iu.RolePolicies {
			d = append(d, "delete policy "+rp.Policy+" of role "+rp.Role)
		}
		if len(iu.DeleteOnTerminationWas) > 0 {
			d = append(d, "delete on termination again for "+strings.Join(iu.DeleteOnTerminationWas, ","))
		}
		if iu.AutoScalingGroup != "" {
			d = append(d, "back into Auto Scaling group "+iu.AutoScalingGroup)
		}
		if len(iu.TargetGroups) > 0 {
			d = append(d, fmt.Sprintf("re-register in %d target group(s)", len(iu.TargetGroups)))
		}
		if len(iu.TagsAdded) > 0 {
			d = append(d, fmt.Sprintf("remove %d tag(s)", len(iu.TagsAdded)))
		}
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: iu.InstanceID, Detail: strings.Join(d, "; ")})
	}
	resp.Summary = fmt.Sprintf("release %d instance(s) of incident %s from containment (quarantine groups stay)", len(u.Instances), u.Incident.ID)
	return nil
}

func (a *adapter) applyUndo(ctx context.Context, req plugin.ApplyRequest[UndoInput], resp *plugin.ApplyResponse[UndoOutput]) error {
	o, err := options(req.Input.Common, "")
	if err != nil {
		return err
	}
	u, err := req.Input.record(ctx, req.Call)
	if err != nil {
		return err
	}
	c, err := a.client(ctx, req.Input.Common)
	if err != nil {
		return err
	}
	if err := ec2.Undo(ctx, c, u, append(o, ec2.WithLogger(req.Logger))...); err != nil {
		return err
	}
	resp.Output.Instances = []string{}
	for _, iu := range u.Instances {
		resp.Output.Instances = append(resp.Output.Instances, iu.InstanceID)
	}
	return nil
}
