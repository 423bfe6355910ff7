package ec2test_test

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

// BenchmarkSDKRoundTrip measures real SDK requests per second against a
// server holding 1,000 instances: a batched DescribeInstances of 10
// ids, a ModifyInstanceAttribute and a CreateSnapshots per iteration,
// from parallel goroutines.
func BenchmarkSDKRoundTrip(b *testing.B) {
	srv := ec2test.NewServer(ec2test.WithSeed(9))
	defer srv.Close()
	ids, err := srv.AddInstances(1000, ec2test.InstanceSpec{})
	if err != nil {
		b.Fatal(err)
	}
	c := ec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % len(ids)
			lo := i / 10 * 10
			if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[lo : lo+10]}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &ids[i],
				DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: &ids[i]}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkDescribeAll measures an unfiltered DescribeInstances of 1,000
// instances, the largest answer a contain run asks for.
func BenchmarkDescribeAll(b *testing.B) {
	srv := ec2test.NewServer(ec2test.WithSeed(9))
	defer srv.Close()
	if _, err := srv.AddInstances(1000, ec2test.InstanceSpec{}); err != nil {
		b.Fatal(err)
	}
	c := ec2.NewFromConfig(srv.Config())
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Reservations[0].Instances) != 1000 {
			b.Fatal("short answer")
		}
	}
}

// BenchmarkServerOnly measures the server without SDK decoding: raw
// form POSTs of ModifyInstanceAttribute and CreateSnapshots, with the
// response bodies discarded, from parallel goroutines.
func BenchmarkServerOnly(b *testing.B) {
	srv := ec2test.NewServer(ec2test.WithSeed(9))
	defer srv.Close()
	ids, err := srv.AddInstances(1000, ec2test.InstanceSpec{})
	if err != nil {
		b.Fatal(err)
	}
	hc := srv.Client()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[int(next.Add(1))%len(ids)]
			for _, body := range []string{
				"Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=" + id + "&DisableApiStop.Value=true",
				"Action=CreateSnapshots&Version=2016-11-15&InstanceSpecification.InstanceId=" + id,
			} {
				resp, err := hc.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "req/s")
}
