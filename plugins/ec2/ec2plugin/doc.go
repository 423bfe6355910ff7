// Package ec2plugin serves plugins/ec2 as abusekit plugin actions
// (playbook/plugin): "capture" (read-only), "contain", "snapshot",
// "terminate", "rebuild", "harden" and "alarms", plus "undo", which
// reverses a contain. It only converts between JSON inputs and the typed
// API: each action's Plan is the package's PlanX (read-only) rendered as
// changes for the operator, and its Apply is PlanX then ApplyX, with the
// plan (or its result) as output. The logic, and the safety, live in
// package ec2. Importing ec2plugin registers ec2's sentinel errors
// ("ec2.not_found", "ec2.snapshots_incomplete", "ec2.snapshot_failed",
// "ec2.timeout", "ec2.invalid_input", "ec2.missing_client",
// "ec2.unhealthy", "ec2.asg_min_size", "ec2.quarantine_open"), so that
// errors.Is works on the host for an error the plugin returned.
//
// A host serves the plugin to itself with NewBuiltin (its actions,
// Description and the abusekit version, plugin.ServeBuiltinIfPlugin).
// Every input and output field is described in the actions' schemas:
// struct tags on this package's types, plugin.FieldDocs (fielddocs.go)
// for package ec2's; docs/plugins/ec2.md is generated from them.
//
// # AWS credentials and endpoint
//
// The clients are built in the plugin process with config.LoadDefaultConfig,
// the SDK's standard chain: AWS_ACCESS_KEY_ID…, AWS_PROFILE, web identity,
// container and instance roles, AWS_REGION, AWS_ENDPOINT_URL. A host hands
// those variables to this plugin alone:
//
//	playbook.Builtin("ec2", playbook.HostEnv(playbook.AWSEnv...)...)
//
// The inputs' endpoint and region override the chain's (endpoint is meant
// for an emulator such as plugins/ec2/ec2test). Clients are kept for the
// life of the plugin process, one set per endpoint and region.
//
// # Inputs and outputs
//
// Every input embeds Common: incident (default: the playbook's incident),
// abuse_time, endpoint, region, max_wait, poll_min, poll_max ("30m",
// "2s": Go durations) and concurrency. The incident id seeds every tag,
// group name and client token the package derives (ec2.Token), so a
// retried or resumed step — which runs with the same incident and the same
// req.IdempotencyToken — finds what an interrupted attempt created instead
// of creating it twice.
//
//   - capture: instance_id / instance_ids. Output: records
//     (ec2.InstanceRecord: description, volumes, interfaces, security
//     group rules, instance profile, tags), for the incident record.
//   - contain: instance_id / instance_ids, quarantine_group, asg_mode
//     (detach, standby, skip), allow_asg_replacement, skip_load_balancers
//     (passthrough_group and dwell are accepted and ignored: no all-traffic
//     group is used any more), keep_instance_profile, keep_role_sessions,
//     network_acl (deny
//     entries for the instance's addresses in its subnet's network ACL:
//     they cut established connections), host_steps_over_ssm,
//     ssm_endpoint_group_ids and ssm_prefix_list_ids (egress only to the
//     SSM endpoints, on tcp 443), dns_firewall_rule_group_id (a Route 53
//     Resolver DNS Firewall rule group associated with the VPC),
//     state_dir. Before its first change contain
//     saves the original configuration, fsynced, in an ec2.FileContainStore
//     under state_dir (default: StateDir), one per endpoint and region; a
//     re-run after a crash finds it there. Output: plan
//     (ec2.ContainPlan), undo (ec2.ContainUndo) and groups, the instances'
//     original security groups — the groups to harden.
//   - snapshot: instance_id / instance_ids, register_image, description.
//     Output: sets (one ec2.SnapshotSet per instance, completed) and
//     snapshot_ids.
//   - terminate: set (an ec2.SnapshotSet, usually ${{ steps.snapshot.sets[0] }},
//     required). The set names the instance, the incident and the snapshot
//     ids the snapshot step created (journaled by the runner); only those
//     ids count, never snapshots found by tag. Plan and Apply each obtain an
//     ec2.CompletedSnapshots from ec2.VerifySnapshots against EC2, and
//     ec2.Terminate checks it once more right before its first mutating
//     call, so an instance any of whose attached volumes lacks a completed
//     snapshot from the incident is refused with ec2.ErrSnapshotsIncomplete
//     (on the host too) and left untouched. Output: ec2.TerminateResult.
//   - rebuild: instance_id, launch_template {id|name, version}, image_id,
//     instance_type, subnet_id, key_name, security_group_ids (usually
//     ${{ steps.harden.hardened }}), allow_open_groups, user_data,
//     restore_data_volumes (data volumes from their newest snapshots of
//     before abuse_time). Output:
//     ec2.RebuildResult and the client_token RunInstances used.
//   - harden: instance_id and/or group_ids (usually ${{ steps.contain.groups }}),
//     ports, admin_cidrs, in_place, move_neighbours (the copy swapped onto
//     the other interfaces on the open original too). Output: plan,
//     ec2.HardenResult and
//     hardened (group_ids mapped to the groups now carrying their rules).
//   - alarms: instance_id, sns_topic_arn, thresholds (ec2.Thresholds).
//     Output: plan (the alarms put).
//   - undo: undo, the contain step's record (${{ steps.contain.undo }}),
//     or nothing: release mode, from the record contain saved for the
//     incident in state_dir (also after a contain that failed or died);
//     ec2.Undo puts each instance's groups, protection, Auto Scaling and
//     target group membership back and removes the tags. Its plan is read
//     from the record alone. Output: instances.
//
// A failed step has no output on the host; a contain that fails part-way
// has its record in state_dir and logs it at error level to the host's log.
//
// Inputs are decoded strictly; an unknown field, a malformed duration or
// endpoint, or an unknown asg_mode is a plugin.ErrInvalidInput.
package ec2plugin
