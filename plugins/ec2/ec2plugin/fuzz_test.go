package ec2plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/abusekit/abusekit/playbook/plugin"
)

// FuzzInputs decodes arbitrary documents into every action's input, as
// the SDK does (strictly), and maps them onto the package's options and
// inputs without any AWS call: a clear error or a value, never a panic.
func FuzzInputs(f *testing.F) {
	for _, s := range []string{
		`{"instance_id":"i-0123456789abcdef0","dwell":"0s","asg_mode":"standby","max_wait":"30m","poll_min":"2s","poll_max":"30s","concurrency":4}`,
		`{"instance_ids":["i-1","i-2"],"incident":"case-1","abuse_time":"2026-11-24T03:12:00Z","endpoint":"http://127.0.0.1:4566"}`,
		`{"set":{"incident":{"id":"case-1"},"instance_id":"i-1","snapshots":[{"volume_id":"vol-1","device":"/dev/xvda","snapshot_id":"snap-1","state":"completed"}]}}`,
		`{"group_ids":["sg-1"],"admin_cidrs":["198.51.100.0/24","2001:db8::/32"],"ports":[22,8080],"in_place":true}`,
		`{"instance_id":"i-1","thresholds":{"cpu_percent":80,"period":60},"sns_topic_arn":"arn:aws:sns:us-east-1:123456789012:t"}`,
		`{"launch_template":{"name":"web","version":"$Latest"},"security_group_ids":["sg-2"],"user_data":"IyEvYmluL3NoCg=="}`,
		`{"dwell":"-1s","max_wait":"soon","endpoint":"ftp://x","asg_mode":"evict","concurrency":-3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		call := plugin.Call{Incident: "fuzz"}
		check := func(err error) {
			if err != nil && !errors.Is(err, plugin.ErrInvalidInput) {
				t.Fatalf("error without ErrInvalidInput: %v", err)
			}
		}
		var ci ContainInput
		if decode(data, &ci) == nil {
			check(ci.check())
			_, err := options(ci.Common, ci.Dwell)
			check(err)
			check(checkEndpoint(ci.Endpoint))
			in := ci.typed(call)
			if in.Incident.ID == "" && ci.Incident == "" {
				t.Fatal("incident not defaulted")
			}
		}
		var ti TerminateInput
		if decode(data, &ti) == nil {
			_, err := options(ti.Common, "")
			check(err)
		}
		for _, v := range []any{&SnapshotInput{}, &HardenInput{}, &AlarmsInput{}, &RebuildInput{}, &CaptureInput{}} {
			if decode(data, v) == nil {
				if _, err := json.Marshal(v); err != nil {
					t.Fatalf("re-encode %T: %v", v, err)
				}
			}
		}
	})
}

// decode is the SDK's strict decoding.
func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
