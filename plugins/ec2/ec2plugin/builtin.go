package ec2plugin

import "github.com/abusekit/abusekit/playbook/plugin"

// Description is the plugin's one line on itself, in the host's Describe
// call and the reference documentation.
const Description = "Acts on the EC2 instance: capture, contain, snapshot, terminate, rebuild, harden, alarms, and undo of a contain (cloud credentials from the standard AWS chain)."

// NewBuiltin returns the plugin as a host serves it to itself
// (plugin.ServeBuiltinIfPlugin): its actions, its description and the
// version of the abusekit module it was built from (plugin.ModuleVersion).
func NewBuiltin() plugin.Builtin {
	return plugin.Builtin{Actions: NewPlugin(), Info: plugin.Info{
		Version:     plugin.ModuleVersion("github.com/abusekit/abusekit"),
		Description: Description,
	}}
}
