package persist

import (
	"context"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// BenchmarkFindLiveRoot runs Find on this machine's real "/" (read only).
func BenchmarkFindLiveRoot(b *testing.B) {
	ctx := context.Background()
	n := 0
	for b.Loop() {
		fs, err := Find(ctx, Options{Root: "/"})
		if err != nil {
			b.Fatal(err)
		}
		n = len(fs)
	}
	b.ReportMetric(float64(n), "findings")
}

// BenchmarkFindInfected runs Find on the work32+kinsing fixture.
func BenchmarkFindInfected(b *testing.B) {
	dir := b.TempDir()
	tree := hosttest.Kinsing(hosttest.Work32(hosttest.Debian12(), "/home/admin"))
	for i := range tree {
		tree[i].Immutable = false
	}
	if err := hosttest.Write(dir, tree); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := Find(ctx, Options{Root: dir}); err != nil {
			b.Fatal(err)
		}
	}
}
