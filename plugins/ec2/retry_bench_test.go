package ec2

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
)

var (
	retryInstances = flag.Int("ec2.retry.instances", 100, "instances in BenchmarkContainRetryMode")
	retryFraction  = flag.Float64("ec2.retry.throttle", 0.10, "fraction of requests throttled at random (other tools in the account) in BenchmarkContainRetryMode")
)

// BenchmarkContainRetryMode contains -ec2.retry.instances instances on the
// emulator while a fraction of all requests (-ec2.retry.throttle, 10 %)
// is throttled at random, as when other tools in the account use up the
// buckets: once with New's default retryer (standard) and once with
// adaptive, both with the production backoff. It reports each mode's
// elapsed time; bench/ec2-retries.sh prints the ratio.
func BenchmarkContainRetryMode(b *testing.B) {
	for _, mode := range []aws.RetryMode{aws.RetryModeStandard, aws.RetryModeAdaptive} {
		b.Run(string(mode), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				srv, c, e := emuWith(b, func(o *ClientOptions) {
					*o = ClientOptions{MaxAttempts: 12, MaxBackoff: 20 * time.Second, RetryMode: mode}
				})
				w := seed(b, e)
				seedFleet(b, e, w, *retryInstances-1)
				ids := append([]string{w.infected}, w.fleet...)
				srv.ResetCalls()
				srv.SetFaults(ec2test.Faults{ThrottleFraction: *retryFraction})
				b.StartTimer()
				start := time.Now()
				_, err := Contain(context.Background(), c, ContainInput{Incident: Incident{ID: "bench-retry"}, InstanceIDs: ids, AutoScaling: ASGSkip, SkipLoadBalancers: true},
					WithConcurrency(16), WithPoll(200*time.Millisecond, time.Second), WithMaxWait(10*time.Minute))
				elapsed := time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatalf("%s: contain: %v", mode, err)
				}
				throttled, calls := 0, 0
				for _, call := range srv.Calls() {
					calls++
					if call.Error == "RequestLimitExceeded" || call.Error == "Throttling" {
						throttled++
					}
				}
				b.ReportMetric(elapsed.Seconds(), "elapsed-s")
				b.ReportMetric(float64(throttled), "throttled-attempts")
				b.ReportMetric(float64(calls), "requests")
				b.Logf("mode=%s instances=%d throttle=%.2f elapsed=%.2fs requests=%d throttled=%d", mode, len(ids), *retryFraction, elapsed.Seconds(), calls, throttled)
				srv.Close()
			}
		})
	}
}
