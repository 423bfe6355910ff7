package ec2

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// A Spot Instance and an instance-store-backed one: Contain does not ask
// EC2 for what it refuses (so containment succeeds), says what stays
// open, protects what it can, and a re-plan sees them contained.
// Terminate's plan warns that an instance-store root is in no snapshot.
func TestContainSpotAndInstanceStore(t *testing.T) {
	srv, c, e := emu(t)
	spot, err := srv.AddInstance(ec2test.InstanceSpec{Spot: true})
	if err != nil {
		t.Fatal(err)
	}
	store, err := srv.AddInstance(ec2test.InstanceSpec{InstanceStoreRoot: true, DataVolumes: map[string]int32{"/dev/sdf": 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := ContainInput{Incident: Incident{ID: "c-spot"}, InstanceIDs: []string{spot, store}}
	plan, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, ic := range plan.Instances {
		got[ic.InstanceID] = ic.Refused
	}
	if d := cmp.Diff(map[string][]string{spot: {RefusedTermination, RefusedStop}, store: {RefusedStop, RefusedShutdownStop}}, got); d != "" {
		t.Errorf("refused:\n%s", d)
	}
	for id, want := range map[string]string{spot: "it is a Spot Instance", store: "its root device is instance store"} {
		if !slices.ContainsFunc(plan.Notes, func(n string) bool { return strings.HasPrefix(n, id+": "+want) }) {
			t.Errorf("no note for %s: %q", id, plan.Notes)
		}
	}
	srv.ResetCalls()
	if _, err := ApplyContain(ctx, c, plan, fastOpts...); err != nil {
		t.Fatalf("contain: %v", err)
	}
	for _, call := range srv.Calls() {
		if call.Error != "" {
			t.Errorf("%s answered %s", call.Operation, call.Error)
		}
	}
	if !attr(t, e, store, types.InstanceAttributeNameDisableApiTermination) {
		t.Error("instance-store instance: termination protection not on")
	}
	if attr(t, e, spot, types.InstanceAttributeNameDisableApiTermination) {
		t.Error("spot instance: termination protection on, EC2 refuses it")
	}
	again, err := PlanContain(ctx, c, in, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, ic := range again.Instances {
		if !ic.AlreadyContained {
			t.Errorf("%s not seen as contained after contain: %+v", ic.InstanceID, ic)
		}
	}
	sets, err := Snapshot(ctx, c, SnapshotInput{Incident: in.Incident, InstanceIDs: []string{store}}, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := PlanTerminate(ctx, c, sets[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Warnings) != 1 || !strings.Contains(tp.Warnings[0], "instance store") {
		t.Errorf("terminate plan warnings: %q", tp.Warnings)
	}
}
