package ec2

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// What EC2 refuses for some instances (InstanceContain.Refused).
const (
	RefusedTermination  = "termination"
	RefusedStop         = "stop"
	RefusedShutdownStop = "shutdown"
)

// refusedFor returns what EC2 refuses to turn on for inst: termination
// and stop protection for a Spot Instance; stop protection and a stop on
// shutdown for an instance-store root device (it cannot be stopped).
func refusedFor(inst types.Instance) []string {
	var out []string
	spot := inst.InstanceLifecycle == types.InstanceLifecycleTypeSpot
	store := inst.RootDeviceType == types.DeviceTypeInstanceStore
	if spot {
		out = append(out, RefusedTermination)
	}
	if spot || store {
		out = append(out, RefusedStop)
	}
	if store {
		out = append(out, RefusedShutdownStop)
	}
	return out
}

func (ic InstanceContain) refused(what string) bool { return slices.Contains(ic.Refused, what) }

// noteRefused says what stays open for an instance EC2 will not fully
// protect ("" for the others).
func noteRefused(ic InstanceContain, inst types.Instance) string {
	var s []string
	if inst.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
		s = append(s, "it is a Spot Instance: EC2 refuses termination and stop protection for it and may interrupt it at two minutes' notice "+
			"(terminating it, and its volumes marked to be deleted, unless kept: Contain sets DeleteOnTermination=false first); snapshot it first")
	}
	if inst.RootDeviceType == types.DeviceTypeInstanceStore {
		s = append(s, "its root device is instance store: it cannot be stopped (a shutdown from inside terminates it), and its root and "+
			"ephemeral disks are in no EBS snapshot and are lost when it ends; capture evidence from the running host before anything ends it")
	}
	if len(s) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s", ic.InstanceID, strings.Join(s, "; "))
}
