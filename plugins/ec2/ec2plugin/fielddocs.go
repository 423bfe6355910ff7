package ec2plugin

// Descriptions of the fields of package ec2's types as the actions'
// schemas show them (plugin.FieldDocs): those types are another package's,
// so their fields are described here, by path.

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// at returns docs with every path prefixed by prefix ("plan.records[]").
func at(prefix string, docs map[string]string) map[string]string {
	out := make(map[string]string, len(docs))
	for k, v := range docs {
		out[prefix+"."+k] = v
	}
	return out
}

// incidentDocs describes an ec2.Incident.
var incidentDocs = map[string]string{
	"id":         "the incident id the step's tags, names and client tokens derive from",
	"abuse_time": "when the abuse was reported or seen; absent: unknown",
}

// ruleDocs describes an ec2.Rule.
var ruleDocs = map[string]string{
	"direction":      "ingress or egress",
	"protocol":       "-1 (all), tcp, udp, icmp, icmpv6 or an IP protocol number",
	"from_port":      "first port of the range (icmp: the type; -1: all)",
	"to_port":        "last port of the range (icmp: the code; -1: all)",
	"cidr":           "the IPv4 or IPv6 CIDR the rule admits or reaches; absent: a group or prefix list",
	"group_id":       "the security group the rule admits or reaches",
	"prefix_list_id": "the managed prefix list the rule admits or reaches",
	"description":    "the rule's description",
}

// rulesDocs describes a list of ec2.Rule at prefix ("open").
func rulesDocs(prefix, what string) map[string]string {
	return merge(map[string]string{prefix: what}, at(prefix+"[]", ruleDocs))
}

// interfaceDocs describes a list of ec2.Interface at prefix.
func interfaceDocs(prefix, what, groups string) map[string]string {
	return map[string]string{
		prefix:                             what,
		prefix + "[].network_interface_id": "the network interface (eni-…)",
		prefix + "[].groups":               groups,
	}
}

// recordDocs describes an ec2.InstanceRecord.
var recordDocs = merge(map[string]string{
	"instance_id":                       "the instance (i-…)",
	"recorded_at":                       "when it was recorded",
	"state":                             "its state: pending, running, stopping, stopped, shutting-down or terminated",
	"instance_type":                     "its instance type (t3.micro, …)",
	"image_id":                          "the AMI it was launched from",
	"launch_time":                       "when it was launched",
	"availability_zone":                 "its Availability Zone",
	"vpc_id":                            "its VPC",
	"subnet_id":                         "its subnet",
	"architecture":                      "x86_64, arm64, …",
	"platform":                          "windows, or absent for Linux/UNIX",
	"lifecycle":                         "spot, scheduled or capacity-block; absent: on-demand",
	"key_name":                          "the key pair it was launched with",
	"instance_profile_arn":              "the instance profile attached",
	"root_device":                       "the root device name (/dev/xvda, …)",
	"private_ip":                        "its primary private IPv4 address",
	"public_ip":                         "its public IPv4 address",
	"imds_http_tokens":                  "IMDS tokens: required (IMDSv2 only) or optional (IMDSv1 allowed)",
	"tags":                              "its tags, key to value",
	"volumes":                           "the EBS volumes attached",
	"volumes[].device":                  "the device name it is attached as",
	"volumes[].volume_id":               "the volume (vol-…)",
	"volumes[].delete_on_termination":   "deleted when the instance terminates",
	"volumes[].attach_time":             "when it was attached",
	"volumes[].size_gib":                "its size, GiB",
	"volumes[].type":                    "its volume type (gp3, io2, …)",
	"volumes[].encrypted":               "encrypted",
	"volumes[].kms_key_id":              "the KMS key that encrypts it",
	"volumes[].snapshot_id":             "the snapshot it was created from",
	"interfaces":                        "its network interfaces",
	"interfaces[].network_interface_id": "the network interface (eni-…)",
	"interfaces[].device_index":         "its device index (0: primary)",
	"interfaces[].subnet_id":            "its subnet",
	"interfaces[].mac":                  "its MAC address",
	"interfaces[].private_ips":          "its private IPv4 addresses",
	"interfaces[].public_ip":            "its public IPv4 address",
	"interfaces[].ipv6":                 "its IPv6 addresses",
	"interfaces[].groups":               "its security groups",
	"interfaces[].source_dest_check":    "source/destination check on",
	"security_groups":                   "the security groups of its interfaces, with their rules",
	"security_groups[].group_id":        "the group (sg-…)",
	"security_groups[].name":            "its name",
	"security_groups[].vpc_id":          "its VPC",
}, rulesDocs("security_groups[].rules", "its rules, ingress and egress"))

// targetDocs describes a list of ec2.TargetRef at prefix.
func targetDocs(prefix, what string) map[string]string {
	return map[string]string{
		prefix:                          what,
		prefix + "[].target_group_arn":  "the ELBv2 target group",
		prefix + "[].port":              "the registered port; absent: the group's",
		prefix + "[].availability_zone": "the registered Availability Zone, when given",
	}
}

// aclDocs describes a list of ec2.ACLEntry at prefix.
func aclDocs(prefix, what string) map[string]string {
	return map[string]string{
		prefix:                       what,
		prefix + "[].network_acl_id": "the subnet's network ACL (acl-…)",
		prefix + "[].rule_number":    "the entry's rule number",
		prefix + "[].egress":         "an egress entry (else ingress)",
		prefix + "[].cidr":           "the instance's address denied, as a CIDR",
	}
}

// containPlanDocs describes an ec2.ContainPlan.
var containPlanDocs = merge(at("incident", incidentDocs), at("records[]", recordDocs),
	rulesDocs("groups[].converge", "rules to revoke so that an existing group has exactly its role's rules"),
	rulesDocs("groups[].rules", "the only rules the group keeps: tcp 443 egress to the SSM endpoints (quarantine-ssm); none for quarantine"),
	interfaceDocs("instances[].interfaces", "its network interfaces", "their security groups now"),
	aclDocs("instances[].network_acl_entries", "deny entries contain adds (network_acl)"),
	targetDocs("instances[].target_groups", "the target group registrations contain removes"),
	map[string]string{
		"step":                                        "the step: contain",
		"incident":                                    "the incident",
		"groups":                                      "the quarantine groups, one per VPC and role",
		"groups[].vpc_id":                             "its VPC",
		"groups[].role":                               "quarantine (admits nothing, reaches nothing) or quarantine-ssm (reaches only the SSM endpoints, tcp 443)",
		"groups[].name":                               "its name",
		"groups[].group_id":                           "the group (sg-…); absent: it will be created",
		"instances":                                   "the plan for each instance",
		"instances[].instance_id":                     "the instance",
		"instances[].vpc_id":                          "its VPC",
		"instances[].state":                           "its state",
		"instances[].termination_protection":          "termination protection now (contain turns it on); null: read at apply",
		"instances[].stop_protection":                 "stop protection now (contain turns it on); null: read at apply",
		"instances[].shutdown_behavior":               "its shutdown behaviour now: stop or terminate (contain sets stop first); absent: read at apply",
		"instances[].delete_on_termination":           "devices whose EBS volume would be deleted with the instance: contain keeps them",
		"instances[].instance_profile":                "the instance profile association contain removes; absent: none, or keep_instance_profile",
		"instances[].instance_profile.arn":            "the instance profile",
		"instances[].instance_profile.association_id": "its association (iip-assoc-…)",
		"instances[].revoke_role_sessions":            "roles whose sessions issued until now contain revokes",
		"instances[].tracked_paths":                   "NAT gateways, transit gateways, Gateway Load Balancer endpoints and load balancers the instance sits behind: their connections survive the security group change (see notes)",
		"instances[].tracked_paths[].kind":            "what it is",
		"instances[].tracked_paths[].id":              "its id (nat-…, tgw-…, vpce-…) or the target group ARN",
		"instances[].tracked_paths[].via":             "the route (rtb-… 0.0.0.0/0) or the target group's protocol",
		"instances[].refused":                         "what EC2 refuses for this instance and contain does not ask: termination or stop protection (Spot), shutdown (instance-store root)",
		"instances[].auto_scaling_group":              "its Auto Scaling group",
		"instances[].asg_action":                      "what contain does with it there: detach, standby or skip",
		"instances[].decrement_desired":               "the group's desired capacity is decremented (no replacement launched)",
		"instances[].tags_to_add":                     "tags contain adds, key to value",
		"instances[].already_contained":               "already contained by this incident: nothing to do",
		"notes":                                       "what containment does not cover, for the operator",
		"dns_firewall":                                "the DNS Firewall rule group's association with each VPC (dns_firewall_rule_group_id)",
		"dns_firewall[].vpc_id":                       "the VPC",
		"dns_firewall[].rule_group_id":                "the rule group",
		"dns_firewall[].priority":                     "the association's priority",
		"dns_firewall[].association_id":               "the existing association: nothing to do; absent: it will be made",
		"records":                                     "the instances as they were when planned (capture), for the incident record",
	})

// containUndoDocs describes an ec2.ContainUndo.
var containUndoDocs = merge(at("incident", incidentDocs), at("records[]", recordDocs),
	interfaceDocs("instances[].interfaces", "the interfaces contain changed", "the groups it had before"),
	aclDocs("instances[].network_acl_entries", "deny entries contain added: undo deletes them"),
	targetDocs("instances[].target_groups", "target group registrations undo makes again"),
	map[string]string{
		"step":                                   "the step: contain",
		"incident":                               "the incident contained",
		"created_groups":                         "quarantine groups contain created (undo leaves them)",
		"instances":                              "what contain changed, instance by instance",
		"instances[].instance_id":                "the instance",
		"instances[].termination_protection_was": "termination protection before; absent: untouched",
		"instances[].stop_protection_was":        "stop protection before; absent: untouched",
		"instances[].shutdown_behavior_was":      "the shutdown behaviour before; absent: untouched",
		"instances[].delete_on_termination_was":  "devices whose delete-on-termination undo sets again",
		"instances[].instance_profile_was":       "the instance profile undo associates again",
		"instances[].role_policies":              "session revocation policies contain put: undo deletes them",
		"instances[].role_policies[].role":       "the role",
		"instances[].role_policies[].policy":     "the inline policy's name",
		"instances[].tags_added":                 "tag keys contain added: undo removes them",
		"instances[].auto_scaling_group":         "the Auto Scaling group it left",
		"instances[].asg_action":                 "how it left: detach or standby",
		"instances[].decremented":                "the desired capacity was decremented: undo increments it again",
		"dns_firewall_associations":              "DNS Firewall associations contain made: undo removes them",
		"records":                                "the instances as they were before the first change, for the incident record",
	})

var captureOutputDocs = at("records[]", recordDocs)

var containOutputDocs = merge(at("plan", containPlanDocs), at("undo", containUndoDocs))

// volumeSnapshotDocs describes a list of ec2.VolumeSnapshot at prefix.
func volumeSnapshotDocs(prefix, what string) map[string]string {
	p := prefix + "[]."
	return map[string]string{
		prefix:            what,
		p + "volume_id":   "the EBS volume (vol-…)",
		p + "device":      "the device it is attached as",
		p + "snapshot_id": "its snapshot (snap-…)",
		p + "state":       "the snapshot's state: pending, completed, error, …",
		p + "start_time":  "when the snapshot was started",
		p + "size_gib":    "the volume's size, GiB",
		p + "volume_type": "the volume's type (gp3, io2, …)",
	}
}

// snapshotSetDocs describes an ec2.SnapshotSet.
var snapshotSetDocs = merge(at("incident", incidentDocs),
	volumeSnapshotDocs("snapshots", "one snapshot per attached volume"),
	map[string]string{
		"incident":    "the incident the snapshots were taken for",
		"instance_id": "the instance (i-…)",
		"image_id":    "the AMI registered from the snapshots (register_image); absent: none",
	})

var (
	snapshotOutputDocs  = at("sets[]", snapshotSetDocs)
	terminateInputDocs  = at("set", snapshotSetDocs)
	terminateOutputDocs = merge(volumeSnapshotDocs("snapshots", "the completed snapshots that covered every attached volume"), map[string]string{
		"instance_id":    "the instance terminated",
		"previous_state": "its state before",
		"current_state":  "its state after: terminated",
	})
	rebuildInputDocs = map[string]string{
		"launch_template.id":      "the launch template's id (lt-…); or name",
		"launch_template.name":    "the launch template's name; or id",
		"launch_template.version": "its version: a number, $Latest or $Default; empty: $Default",
	}
	rebuildOutputDocs = map[string]string{
		"instance_id":        "the replacement instance (i-…)",
		"state":              "its state: running",
		"private_ip_address": "its private IPv4 address",
		"instance_status":    "its instance status check: ok",
		"system_status":      "its system status check: ok",
	}
)

// hardenPlanDocs describes an ec2.HardenPlan.
var hardenPlanDocs = merge(at("incident", incidentDocs),
	rulesDocs("groups[].open", "the world-open ingress rules revoked (in place) or left out of the copy"),
	rulesDocs("groups[].add", "the admin-CIDR rules authorized first, in their place"),
	rulesDocs("groups[].keep", "a copy: the original's other rules, copied over"),
	at("groups[].grants[].rule", ruleDocs),
	interfaceDocs("interfaces", "the instance's interfaces whose groups change (copies swapped in)", "the groups they had"),
	map[string]string{
		"step":                       "the step: harden",
		"incident":                   "the incident",
		"instance_id":                "the instance whose interfaces' groups were examined; absent: group_ids only",
		"groups":                     "the plan for each group",
		"groups[].group_id":          "the group (sg-…)",
		"groups[].name":              "its name",
		"groups[].vpc_id":            "its VPC",
		"groups[].shared":            "other network interfaces (other instances, load balancers, …) use the group",
		"groups[].shared_with":       "those interfaces: eni-… (i-…)",
		"groups[].action":            "in-place (rules fixed in the group), copy (a hardened copy for this instance, the shared original untouched) or none (nothing open)",
		"groups[].copy_name":         "a copy: its name",
		"groups[].copy_id":           "a copy: its id, if an earlier run created it; absent: it will be created",
		"groups[].grants":            "a copy: rules of other groups that reference the original, authorized again referencing the copy so the instance keeps its access",
		"groups[].grants[].group_id": "the group holding the rule",
		"groups[].grants[].rule":     "the rule as it is, referencing the original",
		"groups[].neighbours":        "a copy: the other interfaces on the original, and whether the plan moves them onto the copy",
		"groups[].neighbours[].network_interface_id": "the interface (eni-…)",
		"groups[].neighbours[].instance_id":          "its instance, if any",
		"groups[].neighbours[].description":          "its description",
		"groups[].neighbours[].groups":               "its security groups",
		"groups[].neighbours[].requester_managed":    "an AWS service owns it (its groups change through that service): never moved",
		"groups[].neighbours[].move":                 "the plan swaps the copy onto it (move_neighbours)",
		"notes":                                      "for the operator: the neighbours left on an open original",
	})

var (
	hardenOutputDocs = merge(at("plan", hardenPlanDocs),
		interfaceDocs("interfaces", "the instance's interfaces whose groups were swapped", "their groups now"),
		interfaceDocs("neighbours", "the other interfaces moved onto copies (move_neighbours)", "their groups now"),
		map[string]string{"groups": "each hardened group to the group that now carries its hardened rules: itself (in place) or its copy"})

	alarmsInputDocs = map[string]string{
		"thresholds.network_out_bytes":   "bytes sent over one period (Sum of NetworkOut) above which the network alarm fires; 0: 1 GiB",
		"thresholds.network_packets_out": "packets sent over one period (Sum of NetworkPacketsOut) above which the packets alarm fires; 0: 1,000,000 (about 3,300 packets/s over 5 minutes: a SYN scan passes it quickly)",
		"thresholds.cpu_percent":         "average CPUUtilization, percent, above which the CPU alarm fires; 0 or above 100: 90",
		"thresholds.period":              "seconds per period of the network and CPU alarms: 10, 20, 30 or a multiple of 60; 0: 300",
		"thresholds.evaluation_periods":  "periods in a row above the threshold before the network and CPU alarms fire; 0: 2",
	}

	alarmsOutputDocs = merge(at("plan.incident", incidentDocs), map[string]string{
		"plan.step":                        "the step: alarms",
		"plan.incident":                    "the incident",
		"plan.instance_id":                 "the instance watched",
		"plan.alarms":                      "the four alarms: NetworkOut, NetworkPacketsOut, CPUUtilization and StatusCheckFailed",
		"plan.alarms[].name":               "the alarm's name: abusekit-<instance id>-<metric>",
		"plan.alarms[].metric":             "the AWS/EC2 metric",
		"plan.alarms[].statistic":          "Sum, Average or Maximum",
		"plan.alarms[].comparison":         "GreaterThanThreshold or GreaterThanOrEqualToThreshold",
		"plan.alarms[].threshold":          "the threshold, in the metric's unit (bytes, packets, percent, failed checks)",
		"plan.alarms[].period":             "seconds per period",
		"plan.alarms[].evaluation_periods": "periods in a row above the threshold before it fires",
		"plan.alarms[].treat_missing_data": "notBreaching or missing",
		"plan.alarms[].actions":            "the alarm actions: the SNS topic, else those the existing alarm had",
		"plan.alarms[].ok_actions":         "the OK actions, likewise",
		"plan.alarms[].exists":             "the alarm existed and was updated in place",
	})

	undoInputDocs = at("undo", containUndoDocs)
)
