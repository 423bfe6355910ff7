package persist

import (
	"context"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// BenchmarkApplyRestore cleans the work32+kinsing fixture (every change
// kind: quarantine, unlink, remove-lines) and restores it, per iteration.
func BenchmarkApplyRestore(b *testing.B) {
	dir := b.TempDir()
	tree := hosttest.Kinsing(hosttest.Work32(hosttest.Debian12(), "/home/admin"))
	for i := range tree {
		tree[i].Immutable = false
	}
	if err := hosttest.Write(dir, tree); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	findings, err := Find(ctx, Options{Root: dir, Since: hosttest.InfectionTime.Add(-time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := Plan(ctx, findings, PlanOptions{Root: dir})
	if err != nil {
		b.Fatal(err)
	}
	q := b.TempDir()
	for b.Loop() {
		res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(plan.Changes)), "changes")
}
