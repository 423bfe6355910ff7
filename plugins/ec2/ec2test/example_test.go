package ec2test_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// Point the real SDK client at the emulator with Config.
func ExampleNewServer() {
	srv := ec2test.NewServer()
	defer srv.Close()
	client := ec2.NewFromConfig(srv.Config())

	out, err := client.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId:  aws.String(srv.ImageID(ec2test.ImageAmazonLinux2023)),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: types.InstanceTypeT3Micro,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	in := out.Instances[0]
	fmt.Println(in.State.Name, len(in.BlockDeviceMappings), aws.ToString(in.BlockDeviceMappings[0].DeviceName))
	fmt.Println(srv.Operations())
	// Output:
	// pending 1 /dev/xvda
	// [RunInstances]
}

// Seed instances directly, then watch a multi-volume snapshot complete.
func ExampleServer_AddInstance() {
	srv := ec2test.NewServer(ec2test.WithSnapshotDelay(50 * time.Millisecond))
	defer srv.Close()
	id, err := srv.AddInstance(ec2test.InstanceSpec{DataVolumes: map[string]int32{"/dev/sdf": 100}})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := ec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	snaps, err := client.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(id)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var ids []string
	for _, s := range snaps.Snapshots {
		ids = append(ids, aws.ToString(s.SnapshotId))
	}
	w := ec2.NewSnapshotCompletedWaiter(client, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	if err := w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids}, 5*time.Second); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range srv.State().Snapshots {
		fmt.Println(s.State)
	}
	// Output:
	// completed
	// completed
}
