package ec2

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// retryStep runs step until it succeeds (at most 4 times). Every failure
// must be a clear, typed error; the re-run is what converges the state.
func retryStep[T any](t *testing.T, name string, step func() (T, error)) T {
	t.Helper()
	var err error
	start := time.Now()
	defer func() { t.Logf("%s took %s", name, time.Since(start).Round(time.Millisecond)) }()
	for attempt := 1; attempt <= 4; attempt++ {
		var v T
		v, err = step()
		if err == nil {
			return v
		}
		var se *StepError
		if !errors.As(err, &se) {
			t.Fatalf("%s: error is not a *StepError: %v", name, err)
		}
		t.Logf("%s attempt %d: %v", name, attempt, err)
	}
	t.Fatalf("%s: still failing after 4 attempts: %v", name, err)
	var zero T
	return zero
}

func TestFaultsEveryStepCompletesWithoutDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("slow under -short")
	}
	// Standard retry: the SDK's adaptive limiter drops each operation to
	// 0.5 requests/s under 30% random throttling, which tests the SDK, not
	// this package, and takes minutes. The scale benchmark runs adaptive.
	srv, c, e := emuWith(t, func(o *ClientOptions) { o.RetryMode = aws.RetryModeStandard },
		ec2test.WithSeed(7), ec2test.WithSnapshotDelay(200*time.Millisecond))
	w := seed(t, e)
	seedFleet(t, e, w, 6)
	ids := append([]string{w.infected}, w.fleet...)
	srv.SetFaults(ec2test.Faults{ThrottleFraction: 0.3, ServerErrorFraction: 0.1, LostReplyFraction: 0.1, EventualConsistency: 300 * time.Millisecond})
	ctx := context.Background()
	inc := Incident{ID: "case-faults"}
	opts := append([]Option{WithConcurrency(4)}, fastOpts...)

	undo := retryStep(t, "contain", func() (*ContainUndo, error) {
		return Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: ids, AutoScaling: ASGSkip, SkipLoadBalancers: true}, opts...)
	})
	sets := retryStep(t, "snapshot", func() ([]CompletedSnapshots, error) {
		return Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: ids, RegisterImage: true}, opts...)
	})
	hres := retryStep(t, "harden", func() (*HardenResult, error) {
		return Harden(ctx, c, HardenInput{Incident: inc, GroupIDs: undo.OriginalGroups(w.infected), AdminCIDRs: []string{"198.51.100.0/24"}})
	})
	rb := retryStep(t, "rebuild", func() (*RebuildResult, error) {
		return Rebuild(ctx, c, RebuildInput{Incident: inc, InstanceID: w.infected, SecurityGroupIDs: hres.Hardened(undo.OriginalGroups(w.infected))}, opts...)
	})
	var infectedSet CompletedSnapshots
	for _, s := range sets {
		if s.InstanceID() == w.infected {
			infectedSet = s
		}
	}
	retryStep(t, "terminate", func() (*TerminateResult, error) { return Terminate(ctx, c, infectedSet) })

	srv.SetFaults(ec2test.Faults{})
	// Every instance is in quarantine, protected, and has exactly one
	// snapshot per volume and one image; exactly one replacement exists.
	q, _ := findGroupByName(ctx, c.DescribeSecurityGroups, w.vpc, DefaultQuarantineGroup)
	if q == nil || len(groupRules(*q)) != 0 {
		t.Fatalf("quarantine group = %+v", q)
	}
	qs, _ := describeGroups(ctx, c.DescribeSecurityGroups, []types.Filter{{Name: aws.String("group-name"), Values: []string{DefaultQuarantineGroup}}})
	if len(qs) != 1 {
		t.Errorf("%d quarantine groups, want 1", len(qs))
	}
	for _, id := range w.fleet {
		inst := getInstance(t, e, id)
		if d := cmp.Diff([][]string{{aws.ToString(q.GroupId)}}, eniGroups(inst)); d != "" {
			t.Errorf("%s groups:\n%s", id, d)
		}
		if !attr(t, e, id, types.InstanceAttributeNameDisableApiTermination) {
			t.Errorf("%s: termination protection off", id)
		}
	}
	snaps, err := incidentSnapshots(ctx, c.DescribeSnapshots, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	perVol := map[string]int{}
	for _, s := range snaps {
		perVol[aws.ToString(s.VolumeId)]++
	}
	if len(perVol) != len(ids)+1 { // the infected instance has two volumes
		t.Errorf("%d volumes snapshotted, want %d", len(perVol), len(ids)+1)
	}
	for v, n := range perVol {
		if n != 1 {
			t.Errorf("volume %s has %d snapshots", v, n)
		}
	}
	imgs, _ := e.DescribeImages(ctx, &awsec2.DescribeImagesInput{Owners: []string{"self"}})
	if len(imgs.Images) != len(ids) {
		t.Errorf("%d images, want %d", len(imgs.Images), len(ids))
	}
	out, _ := e.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:abusekit:replaces"), Values: []string{w.infected}}}})
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	if n != 1 || rb.InstanceID == "" {
		t.Errorf("%d replacements", n)
	}
	throttled := 0
	for _, call := range srv.Calls() {
		if call.Error == "RequestLimitExceeded" || call.Error == "InternalError" || call.Error == "ServiceUnavailable" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no faults were injected: the test proves nothing")
	}
	t.Logf("%d calls, %d faulted", len(srv.Calls()), throttled)
}

// lostReply creates the snapshots, then loses the reply: the caller sees
// a 500 although the snapshots exist (the case a client token would cover).
type lostReply struct {
	CreateSnapshotsAPI
	n int
}

func (l *lostReply) CreateSnapshots(ctx context.Context, in *awsec2.CreateSnapshotsInput, opts ...func(*awsec2.Options)) (*awsec2.CreateSnapshotsOutput, error) {
	out, err := l.CreateSnapshotsAPI.CreateSnapshots(ctx, in, opts...)
	l.n++
	if err == nil && l.n == 1 {
		return nil, &smithy.GenericAPIError{Code: "InternalError", Message: "reply lost"}
	}
	return out, err
}

func TestCreateSnapshotsLostReplyMakesNoDuplicate(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	srv.SetFaults(ec2test.Faults{EventualConsistency: 300 * time.Millisecond})
	lr := &lostReply{CreateSnapshotsAPI: c.CreateSnapshots}
	c.CreateSnapshots = lr
	sets, err := Snapshot(context.Background(), c, SnapshotInput{Incident: Incident{ID: "lost"}, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if lr.n != 1 || countOps(srv, "CreateSnapshots") != 1 {
		t.Errorf("CreateSnapshots sent %d times, want 1", countOps(srv, "CreateSnapshots"))
	}
	if got := len(sets[0].Set().Snapshots); got != 2 {
		t.Errorf("set has %d snapshots, want 2", got)
	}
	srv.SetFaults(ec2test.Faults{})
	snaps, _ := incidentSnapshots(context.Background(), c.DescribeSnapshots, "lost")
	if len(snaps) != 2 {
		t.Errorf("%d snapshots exist, want 2", len(snaps))
	}
}
