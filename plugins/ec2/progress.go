package ec2

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Progress is one report of a long wait: a snapshot's progress as EC2
// gives it (DescribeSnapshots Progress), with the bytes it stands for and
// an estimate of the time left; or, while Rebuild waits, the replacement
// instance's state ("pending", "running") and then its status checks
// ("status initializing/initializing", "status ok/ok": instance/system).
type Progress struct {
	Step     string `json:"step"`
	Resource string `json:"resource"` // the snapshot or instance id
	Volume   string `json:"volume,omitempty"`
	State    string `json:"state"`
	Percent  int    `json:"percent"`
	// Bytes of TotalBytes (the volume's size) done, from Percent.
	Bytes      int64 `json:"bytes,omitempty"`
	TotalBytes int64 `json:"total_bytes,omitempty"`
	// ETA extrapolates the rate since the snapshot started; 0 when
	// unknown (no progress yet) or done.
	ETA time.Duration `json:"eta,omitempty"`
}

// WithProgress sends progress reports of long waits to fn (called from
// the waiting goroutines, one call at a time): each snapshot whenever its
// state or percentage changes.
func WithProgress(fn func(Progress)) Option { return func(o *Options) { o.Progress = fn } }

// progressTracker reports each snapshot's progress once per change.
type progressTracker struct {
	fn   func(Progress)
	mu   sync.Mutex
	last map[string]string
}

func newProgressTracker(fn func(Progress)) *progressTracker {
	return &progressTracker{fn: fn, last: map[string]string{}}
}

func (t *progressTracker) snapshot(s types.Snapshot, now time.Time) {
	if t == nil || t.fn == nil {
		return
	}
	p := Progress{Step: stepSnapshot, Resource: aws.ToString(s.SnapshotId), Volume: aws.ToString(s.VolumeId), State: string(s.State)}
	p.Percent = parsePercent(aws.ToString(s.Progress))
	if s.State == types.SnapshotStateCompleted {
		p.Percent = 100
	}
	if size := int64(aws.ToInt32(s.VolumeSize)); size > 0 {
		p.TotalBytes = size << 30
		p.Bytes = p.TotalBytes * int64(p.Percent) / 100
	}
	if st := aws.ToTime(s.StartTime); p.Percent > 0 && p.Percent < 100 && !st.IsZero() && now.After(st) {
		el := now.Sub(st)
		p.ETA = (el * time.Duration(100-p.Percent) / time.Duration(p.Percent)).Round(time.Millisecond)
	}
	key := p.State + "|" + strconv.Itoa(p.Percent)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[p.Resource] == key {
		return
	}
	t.last[p.Resource] = key
	t.fn(p)
}

// state reports a resource's state once per change.
func (t *progressTracker) state(step, resource, state string) {
	if t == nil || t.fn == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[resource] == state {
		return
	}
	t.last[resource] = state
	t.fn(Progress{Step: step, Resource: resource, State: state})
}

// parsePercent reads EC2's "42%" (0 for anything else).
func parsePercent(s string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 100)
}
