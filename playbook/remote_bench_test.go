package playbook_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/abusekit/abusekit/playbook"
)

// BenchmarkRemoteApply is one step's Apply through the plugin host, over
// SSM Run Command on the emulator (the instance's agent running the
// command as a process on this machine) and, for comparison, over
// go-plugin to a local plugin process: the SSM round trip's overhead per
// host step. Over SSM: ListCommands (resume check), DescribeInstanceInformation,
// SendCommand, the script (the staged binary's SHA-256 checked, the request
// written, the binary started in one-shot mode), GetCommandInvocation polls
// from 5 ms, and the answer read.
func BenchmarkRemoteApply(b *testing.B) {
	in, _ := json.Marshal(map[string]any{"name": "ops"})
	bench := func(b *testing.B, spec playbook.PluginSpec) {
		host := playbook.NewHost(playbook.HostOptions{})
		defer host.Close()
		if err := host.Start(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		p, _ := host.Plugin("util")
		c := playbook.Call{Action: "greet", Input: in, Incident: "INC-bench", Playbook: "pb", Step: "s", Attempt: 1}
		// The first call stages the binary on the instance.
		c.IdempotencyToken = "warm"
		if _, err := p.Apply(context.Background(), c, nil); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			c.Attempt = i + 2 // a command of its own each time
			if _, err := p.Apply(context.Background(), c, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("transport=local", func(b *testing.B) { bench(b, playbook.PluginSpec{Name: "util"}) })
	b.Run("transport=ssm", func(b *testing.B) {
		w := newSSMWorld(b)
		bench(b, playbook.PluginSpec{Name: "util", Remote: &playbook.Remote{Transport: w.tr, Name: "ssm"}})
	})
}
