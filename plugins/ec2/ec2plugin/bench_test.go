package ec2plugin

import (
	"context"
	"testing"

	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugintest"
	"github.com/abusekit/abusekit/plugins/ec2"
)

// BenchmarkAlarmsPlan measures what the adapter adds to a plan (one
// DescribeAlarms against the emulator): the typed call, the action
// in-process (JSON in and out, error mapping), and a whole one-step
// playbook over the reattached plugin transport (gRPC, plan and apply).
func BenchmarkAlarmsPlan(b *testing.B) {
	ctx := context.Background()
	w := newWorld(b)
	setAWSEnv(b, w.srv)
	in := AlarmsInput{Common: Common{Incident: incidentID, Endpoint: w.srv.URL}, InstanceID: w.infected}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := ec2.PlanAlarms(ctx, w.direct, ec2.AlarmsInput{Incident: ec2.Incident{ID: incidentID}, InstanceID: w.infected}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in-process", func(b *testing.B) {
		a := NewPlugin()["alarms"]
		for b.Loop() {
			if _, err := plugintest.Plan(ctx, a, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transport-step", func(b *testing.B) {
		spec := plugintest.Serve(b, "ec2", NewPlugin())
		host := playbook.NewHost(playbook.HostOptions{})
		defer host.Close()
		pb, err := playbook.New("alarms", playbook.Step{ID: "alarms", Plugin: "ec2", Action: "alarms",
			Input: map[string]any{"instance_id": w.infected, "endpoint": w.srv.URL}})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			r, err := playbook.NewRunner(pb, playbook.Options{Incident: incidentID, Plugins: []playbook.PluginSpec{spec}, Host: host, Approve: playbook.AutoApprove})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Run(ctx); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
}

// BenchmarkNewPlugin measures building the actions, as a plugin process
// does at start: the schemas, with every field's description.
func BenchmarkNewPlugin(b *testing.B) {
	for b.Loop() {
		NewPlugin()
	}
}
