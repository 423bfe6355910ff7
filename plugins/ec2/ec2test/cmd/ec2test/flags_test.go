package main

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// The instance delays given as flags reach the server: a launch stays
// pending.
func TestDelayFlags(t *testing.T) {
	opts, _, err := parse([]string{"-addr", "127.0.0.1:0", "-pending-delay", "1h", "-status-check-delay", "1h"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ec2test.Listen(opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	out, err := awsec2.NewFromConfig(srv.Config()).RunInstances(context.Background(), &awsec2.RunInstancesInput{
		ImageId: awssdk.String(srv.ImageID(ec2test.ImageAmazonLinux2023)), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.State().Instances[0].State; st != "pending" || awssdk.ToString(out.Instances[0].InstanceId) != srv.State().Instances[0].ID {
		t.Errorf("with -pending-delay 1h the new instance is %q, want pending", st)
	}
	for _, bad := range [][]string{{"-status-check-delay", "-1s"}, {"-pending-delay", "soon"}, {"extra"}} {
		if _, _, err := parse(bad); err == nil {
			t.Errorf("parse(%q): no error", bad)
		}
	}
}
