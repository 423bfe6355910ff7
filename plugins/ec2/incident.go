package ec2

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Tag keys abusekit writes. Snapshots, instances, groups and images carry
// TagIncident; TagStep says which step made or touched the resource, which
// is how a re-run finds what a crashed run already created.
const (
	TagIncident  = "abusekit:incident"
	TagStep      = "abusekit:step"
	TagInstance  = "abusekit:instance"
	TagDevice    = "abusekit:device"
	TagVolume    = "abusekit:volume"
	TagAbuseTime = "abusekit:abuse-time"
	TagRole      = "abusekit:role"
)

// Incident identifies the case every step works for. ID seeds client
// tokens, tags and names, so the same ID must be used on a re-run.
type Incident struct {
	ID        string    `json:"id"`
	AbuseTime time.Time `json:"abuse_time,omitzero"`
}

func (i Incident) validate(step string) error {
	if strings.TrimSpace(i.ID) == "" {
		return &StepError{Step: step, Err: errf("%w: incident id is empty", ErrInvalidInput)}
	}
	if len(i.ID) > 200 {
		return &StepError{Step: step, Err: errf("%w: incident id longer than 200 bytes", ErrInvalidInput)}
	}
	return nil
}

// Token derives the idempotency token for one step on one resource:
// hex(sha256(incident|step|resource)) cut to 32 characters. EC2 ClientToken
// allows 64 ASCII characters; the same inputs give the same token on a re-run.
func Token(incidentID, step, resource string) string {
	h := sha256.Sum256([]byte(incidentID + "|" + step + "|" + resource))
	return hex.EncodeToString(h[:])[:32]
}

// short is a stable 8-hex-char digest of the incident id for resource names.
func short(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:4])
}

func (i Incident) tags(step string, extra ...types.Tag) []types.Tag {
	t := []types.Tag{
		{Key: aws.String(TagIncident), Value: aws.String(i.ID)},
		{Key: aws.String(TagStep), Value: aws.String(step)},
	}
	if !i.AbuseTime.IsZero() {
		t = append(t, types.Tag{Key: aws.String(TagAbuseTime), Value: aws.String(i.AbuseTime.UTC().Format(time.RFC3339))})
	}
	return append(t, extra...)
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// Options tune the steps. Pass them as functional options.
type Options struct {
	Logger *slog.Logger
	// Concurrency bounds parallel mutating calls in the multi-instance steps; default 16.
	Concurrency int
	// MaxWait bounds each waiter (snapshots completed, instance running and
	// status ok); default 2h for snapshots, 15m for instances.
	MaxWait time.Duration
	// PollMin and PollMax bound the delay between waiter polls; defaults 2s and 30s.
	PollMin, PollMax time.Duration
	// Dwell is ignored: Contain no longer passes interfaces through an
	// all-traffic group (see ContainInput.PassthroughGroupName).
	Dwell time.Duration
	// Progress receives reports of long waits (WithProgress).
	Progress func(Progress)
	// Store receives Contain's record of the original configuration
	// before its first mutating call (WithContainStore).
	Store ContainStore
}

// Option configures a step.
type Option func(*Options)

// WithLogger sends progress records to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithConcurrency bounds parallel calls.
func WithConcurrency(n int) Option { return func(o *Options) { o.Concurrency = n } }

// WithMaxWait bounds each waiter.
func WithMaxWait(d time.Duration) Option { return func(o *Options) { o.MaxWait = d } }

// WithPoll sets the waiter poll delays.
func WithPoll(min, max time.Duration) Option {
	return func(o *Options) { o.PollMin, o.PollMax = min, max }
}

// WithDwell is kept for callers of earlier versions; Contain ignores it.
func WithDwell(d time.Duration) Option { return func(o *Options) { o.Dwell = d } }

func buildOptions(opts []Option, defaultWait time.Duration) Options {
	o := Options{Concurrency: 16, PollMin: 2 * time.Second, PollMax: 30 * time.Second, Dwell: 2 * time.Second, MaxWait: -1}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxWait <= 0 {
		o.MaxWait = defaultWait
	}
	if o.PollMin <= 0 {
		o.PollMin = 2 * time.Second
	}
	if o.PollMax < o.PollMin {
		o.PollMax = o.PollMin
	}
	if o.Dwell < 0 {
		o.Dwell = 0
	}
	return o
}
