package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestSnapshotWaitsTagsAndIsIdempotent(t *testing.T) {
	srv, c, e := emu(t, ec2test.WithSnapshotDelay(300*time.Millisecond))
	w := seed(t, e)
	ctx := context.Background()
	abuse := time.Date(2026, 11, 24, 3, 12, 0, 0, time.UTC)
	inc := Incident{ID: "case-42", AbuseTime: abuse}

	plan, err := PlanSnapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}, RegisterImage: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	ip := plan.Instances[0]
	if !ip.Create || len(ip.Volumes) != 2 || ip.Image == nil || ip.Image.Existing != "" {
		t.Fatalf("plan = %+v", ip)
	}
	start := time.Now()
	sets, err := ApplySnapshot(ctx, c, plan, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("returned before the snapshots could complete")
	}
	set := sets[0].Set()
	if len(set.Snapshots) != 2 || set.ImageID == "" {
		t.Fatalf("set = %+v", set)
	}
	for _, s := range set.Snapshots {
		if s.State != "completed" {
			t.Errorf("%s state %s", s.SnapshotID, s.State)
		}
	}
	// Tags on every snapshot: incident, step, instance, device, abuse time.
	out, err := e.DescribeSnapshots(ctx, &awsec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{{Name: aws.String("tag:" + TagIncident), Values: []string{"case-42"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Snapshots) != 2 {
		t.Fatalf("%d snapshots tagged with the incident, want 2", len(out.Snapshots))
	}
	byVol := map[string]VolumeSnapshot{}
	for _, s := range set.Snapshots {
		byVol[s.VolumeID] = s
	}
	for _, s := range out.Snapshots {
		want := map[string]string{TagIncident: "case-42", TagStep: "snapshot", TagInstance: w.infected, TagDevice: byVol[aws.ToString(s.VolumeId)].Device, TagAbuseTime: "2026-11-24T03:12:00Z"}
		for k, v := range want {
			if got := tagValue(s.Tags, k); got != v {
				t.Errorf("%s tag %s = %q, want %q", aws.ToString(s.SnapshotId), k, got, v)
			}
		}
	}
	// Image from the set.
	imgs, err := e.DescribeImages(ctx, &awsec2.DescribeImagesInput{ImageIds: []string{set.ImageID}})
	if err != nil || len(imgs.Images) != 1 {
		t.Fatalf("image: %v", err)
	}
	if n := len(imgs.Images[0].BlockDeviceMappings); n != 2 {
		t.Errorf("image has %d block devices, want 2", n)
	}

	// Re-run: finds everything, creates nothing.
	srv.ResetCalls()
	sets2, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}, RegisterImage: true}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if n := countOps(srv, "CreateSnapshots") + countOps(srv, "RegisterImage"); n != 0 {
		t.Errorf("re-run created %d resources", n)
	}
	if d := cmp.Diff(set.Snapshots, sets2[0].Set().Snapshots, cmpSnap); d != "" {
		t.Errorf("re-run set differs:\n%s", d)
	}
	if sets2[0].Set().ImageID != set.ImageID {
		t.Errorf("re-run image %s, want %s", sets2[0].Set().ImageID, set.ImageID)
	}
	b, err := json.Marshal(sets2[0])
	if err != nil || len(b) < 10 {
		t.Fatalf("marshal: %v %s", err, b)
	}

	// VerifySnapshots (the journal's way back) agrees.
	v, err := VerifySnapshots(ctx, c, set)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(set.Snapshots, v.Set().Snapshots, cmpSnap); d != "" {
		t.Errorf("verify:\n%s", d)
	}
}

// cmpSnap ignores fields Describe and Create report differently.
var cmpSnap = cmp.Transformer("core", func(s VolumeSnapshot) [4]string {
	return [4]string{s.VolumeID, s.Device, s.SnapshotID, s.State}
})

func TestSnapshotErrorStateFailsClearly(t *testing.T) {
	_, c, e := emu(t, ec2test.WithSnapshotDelay(50*time.Millisecond), ec2test.WithFaults(ec2test.Faults{SnapshotErrorFraction: 1}))
	w := seed(t, e)
	_, err := Snapshot(context.Background(), c, SnapshotInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}}, fastOpts...)
	if !errors.Is(err, ErrSnapshotFailed) {
		t.Fatalf("err = %v, want ErrSnapshotFailed", err)
	}
	// And Terminate cannot be reached: VerifySnapshots refuses.
	snaps, err := incidentSnapshots(context.Background(), c.DescribeSnapshots, "c")
	if err != nil || len(snaps) == 0 {
		t.Fatalf("the failed snapshots: %v %v", snaps, err)
	}
	set := SnapshotSet{Incident: Incident{ID: "c"}, InstanceID: w.infected}
	for _, s := range snaps {
		set.Snapshots = append(set.Snapshots, VolumeSnapshot{VolumeID: aws.ToString(s.VolumeId), SnapshotID: aws.ToString(s.SnapshotId)})
	}
	if _, err := VerifySnapshots(context.Background(), c, set); !errors.Is(err, ErrSnapshotsIncomplete) {
		t.Fatalf("verify err = %v", err)
	}
}

func TestSnapshotTimeout(t *testing.T) {
	_, c, e := emu(t, ec2test.WithSnapshotDelay(time.Hour))
	w := seed(t, e)
	_, err := Snapshot(context.Background(), c, SnapshotInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}},
		WithPoll(10*time.Millisecond, 20*time.Millisecond), WithMaxWait(200*time.Millisecond))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestTerminateOnEmulator(t *testing.T) {
	srv, c, e := emu(t)
	w := seed(t, e)
	ctx := context.Background()
	inc := Incident{ID: "case-7"}
	if _, err := Contain(ctx, c, ContainInput{Incident: inc, InstanceIDs: []string{w.infected}, AutoScaling: ASGSkip, SkipLoadBalancers: true}, fastOpts...); err != nil {
		t.Fatal(err)
	}
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	// Someone deletes the data volume's snapshot: coverage breaks, and
	// Terminate refuses before any mutating call.
	var data VolumeSnapshot
	for _, s := range sets[0].Set().Snapshots {
		if s.Device == "/dev/sdf" {
			data = s
		}
	}
	if _, err := e.DeleteSnapshot(ctx, &awsec2.DeleteSnapshotInput{SnapshotId: aws.String(data.SnapshotID)}); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	_, err = Terminate(ctx, c, sets[0])
	if !errors.Is(err, ErrSnapshotsIncomplete) {
		t.Fatalf("err = %v, want ErrSnapshotsIncomplete", err)
	}
	for _, call := range srv.Calls() {
		if call.Operation == "TerminateInstances" || call.Operation == "ModifyInstanceAttribute" {
			t.Fatalf("%s called despite incomplete coverage", call.Operation)
		}
	}
	if !attr(t, e, w.infected, types.InstanceAttributeNameDisableApiTermination) {
		t.Fatal("termination protection lifted")
	}
	// Snapshot again: only the data volume is snapshotted, then Terminate works.
	srv.ResetCalls()
	sets, err = Snapshot(ctx, c, SnapshotInput{Incident: inc, InstanceIDs: []string{w.infected}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets[0].Set().Snapshots) != 2 || countOps(srv, "CreateSnapshots") != 1 {
		t.Fatalf("second snapshot: %+v", sets[0].Set())
	}
	res, err := Terminate(ctx, c, sets[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.CurrentState != "shutting-down" && res.CurrentState != "terminated" {
		t.Errorf("state %s", res.CurrentState)
	}
	snaps, _ := incidentSnapshots(ctx, c.DescribeSnapshots, inc.ID)
	if len(snaps) != 2 {
		t.Errorf("%d snapshots after terminate, want 2 (one per volume, no duplicates)", len(snaps))
	}
}

// Snapshot reports each snapshot's progress as EC2 gives it, growing, with
// bytes and an ETA, up to 100 %.
func TestSnapshotProgress(t *testing.T) {
	_, c, e := emu(t, ec2test.WithSnapshotDelay(600*time.Millisecond))
	w := seed(t, e)
	var mu sync.Mutex
	got := map[string][]Progress{}
	_, err := Snapshot(context.Background(), c, SnapshotInput{Incident: Incident{ID: "c"}, InstanceIDs: []string{w.infected}},
		WithPoll(20*time.Millisecond, 20*time.Millisecond), WithMaxWait(time.Minute), WithProgress(func(p Progress) {
			mu.Lock()
			got[p.Resource] = append(got[p.Resource], p)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("progress for %d snapshots, want 2: %+v", len(got), got)
	}
	for id, ps := range got {
		mid := false
		for i, p := range ps {
			if i > 0 && p.Percent < ps[i-1].Percent {
				t.Errorf("%s: progress went back: %+v", id, ps)
			}
			if p.TotalBytes == 0 || p.Bytes > p.TotalBytes || p.Volume == "" || p.Step != "snapshot" {
				t.Errorf("%s: report %+v", id, p)
			}
			if p.Percent > 0 && p.Percent < 100 {
				mid = true
				if p.ETA <= 0 && p.Percent < 99 {
					t.Errorf("%s: no ETA at %d%%", id, p.Percent)
				}
			}
		}
		if last := ps[len(ps)-1]; last.Percent != 100 || last.State != "completed" || last.Bytes != last.TotalBytes {
			t.Errorf("%s: last report %+v", id, last)
		}
		if !mid {
			t.Errorf("%s: no report between 0 and 100 %%: %+v", id, ps)
		}
	}
}
