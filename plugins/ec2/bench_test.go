package ec2

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

var (
	benchInstances = flag.Int("ec2.instances", 1000, "instances in BenchmarkContainSnapshot")
	benchConc      = flag.Int("ec2.concurrency", 16, "WithConcurrency in BenchmarkContainSnapshot (16 is the package default)")
	benchDwell     = flag.Duration("ec2.dwell", 2*time.Second, "WithDwell in BenchmarkContainSnapshot (2s is the package default)")
	benchScale     = flag.Float64("ec2.refillscale", 5, "multiplier on the emulator's refill rates (bucket sizes kept as documented, wall clock shortened)")
)

// Floor is the least time the emulator's token buckets allow for a trace:
// per action, the calls beyond the bucket's size at its refill rate; the
// actions drain in parallel, so the floor is the slowest one.
type Floor struct {
	Seconds float64
	Action  string
	Calls   map[string]int
}

func floorOf(calls []ec2test.Call, limits ec2test.RateLimits) Floor {
	f := Floor{Calls: map[string]int{}}
	for _, c := range calls {
		if c.Error == "" {
			f.Calls[c.Service+"/"+c.Operation]++
		}
	}
	for k, n := range f.Calls {
		svc, op, _ := strings.Cut(k, "/")
		b, ok := limits[op]
		if !ok {
			b = limits[ec2test.Category(svc, op, false)]
		}
		if b.Refill <= 0 {
			continue
		}
		if s := (float64(n) - b.Size) / b.Refill; s > f.Seconds {
			f.Seconds, f.Action = s, k
		}
	}
	return f
}

// BenchmarkContainSnapshot contains and snapshots -ec2.instances instances
// on the emulator with its (scaled) EC2 rate limits on, and reports the
// elapsed time as a multiple of the rate-limit floor (x-floor) and the
// number of calls that failed for good on throttling (must be 0).
func BenchmarkContainSnapshot(b *testing.B) {
	limits := ec2test.RateLimits{}
	for k, v := range ec2test.DefaultRateLimits() {
		limits[k] = ec2test.Bucket{Size: v.Size, Refill: v.Refill * *benchScale}
	}
	for range b.N {
		b.StopTimer()
		// The production client settings (New's defaults), not the tests' short backoff.
		srv, c, e := emuWith(b, func(o *ClientOptions) { *o = ClientOptions{MaxAttempts: 12, MaxBackoff: 20 * time.Second} }, ec2test.WithRateLimits(limits))
		w := seed(b, e)
		seedFleet(b, e, w, *benchInstances-1)
		ids := append([]string{w.infected}, w.fleet...)
		inc := Incident{ID: "bench"}
		srv.ResetCalls()
		srv.SetFaults(ec2test.Faults{Throttle: true})
		ctx := context.Background()
		opts := []Option{WithDwell(*benchDwell), WithConcurrency(*benchConc), WithPoll(200*time.Millisecond, time.Second), WithMaxWait(10 * time.Minute)}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		var cerr, serr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, cerr = Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: ids, AutoScaling: ASGSkip, SkipLoadBalancers: true}, opts...)
		}()
		go func() {
			defer wg.Done()
			_, serr = Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: ids}, opts...)
		}()
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if cerr != nil || serr != nil {
			b.Fatalf("contain: %v\nsnapshot: %v", cerr, serr)
		}
		calls := srv.Calls()
		fl := floorOf(calls, limits)
		throttled := 0
		for _, call := range calls {
			if call.Error == "RequestLimitExceeded" || call.Error == "Throttling" {
				throttled++
			}
		}
		ratio := elapsed.Seconds() / fl.Seconds
		b.ReportMetric(ratio, "x-floor")
		b.ReportMetric(fl.Seconds, "floor-s")
		b.ReportMetric(elapsed.Seconds(), "elapsed-s")
		b.ReportMetric(float64(throttled), "throttled-attempts")
		b.ReportMetric(0, "throttle-failures") // any would have failed the run above
		var keys []string
		for k := range fl.Calls {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, fl.Calls[k]))
		}
		b.Logf("instances=%d scale=%g elapsed=%.2fs floor=%.2fs (%s) ratio=%.3f throttled-attempts=%d calls: %s",
			len(ids), *benchScale, elapsed.Seconds(), fl.Seconds, fl.Action, ratio, throttled, strings.Join(parts, " "))
		srv.Close()
	}
}
