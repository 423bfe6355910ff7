package remote_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/remote"
)

// BenchmarkSSMRunStep is the round trip of one host step over SSM Run
// Command on the emulator, the binary already staged on the instance:
// ListCommands (resume check), DescribeInstanceInformation, SendCommand,
// the instance's script (digest check, request written, program run) and
// GetCommandInvocation polls from 5 ms up. Real SSM adds the agent's
// delivery and the service's own latency; this is abusekit's share.
func BenchmarkSSMRunStep(b *testing.B) {
	w := newWorld(b)
	tr := w.transport()
	tr.MinPoll, tr.MaxPoll = 5*time.Millisecond, 50*time.Millisecond
	ctx := context.Background()
	if _, err := tr.Run(ctx, remote.Request{Key: "bench/stage", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := tr.Run(ctx, remote.Request{Key: fmt.Sprintf("bench/%d", i), Args: []string{"echo"}, Stdin: []byte(`{"pid":1}`), Env: helperEnv}); err != nil {
			b.Fatal(err)
		}
	}
}
