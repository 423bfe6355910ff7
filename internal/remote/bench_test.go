package remote_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
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

// BenchmarkStage is staging a 64 MiB binary on the emulator's S3: read,
// hash, upload (signed with the digest already computed), presign.
func BenchmarkStage(b *testing.B) {
	srv := ec2test.NewServer()
	b.Cleanup(srv.Close)
	srv.AddBucket("stage")
	_, s3c, _ := clientsFor(srv.URL)
	file := filepath.Join(b.TempDir(), "abusekit")
	data := make([]byte, 64<<20)
	rand.Read(data)
	os.WriteFile(file, data, 0o700)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := remote.Stage(context.Background(), s3c, s3.NewPresignClient(s3c), "stage", fmt.Sprintf("p%d", i), file, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
