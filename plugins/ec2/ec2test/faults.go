package ec2test

import (
	"strings"
	"time"
)

// Faults is the fault injection in force. The zero value injects nothing.
// Change it at run time with SetFaults; random draws come from the
// server's seeded generator, so a run with WithSeed is repeatable for a
// given request order.
type Faults struct {
	// Throttle enables the token buckets of the RateLimits: a request
	// finding its bucket empty fails with RequestLimitExceeded (EC2, HTTP
	// 503) or Throttling (the other services, HTTP 400).
	Throttle bool
	// ThrottleFraction throttles this fraction of requests at random,
	// buckets or not (0..1).
	ThrottleFraction float64
	// ServerErrorFraction answers this fraction of requests with
	// InternalError (500) or ServiceUnavailable (503) at random (0..1).
	ServerErrorFraction float64
	// EventualConsistency hides a new resource (instance, volume,
	// snapshot, security group, image, network interface) from Describe
	// calls and from lookups by id for this long after its creation; a
	// lookup by id fails with the resource's .NotFound code meanwhile.
	EventualConsistency time.Duration
	// SnapshotErrorFraction makes this fraction of new snapshots end in
	// state "error" instead of "completed".
	SnapshotErrorFraction float64
	// LostReplyFraction answers this fraction of the EC2, Auto Scaling and
	// ELB requests that succeeded with InternalError (500) all the same:
	// the change was made, the caller cannot tell (0..1).
	LostReplyFraction float64
}

// lostReplyLocked decides whether a request that succeeded is answered
// with a 500 anyway; s.mu is held, f is LostReplyFraction.
func (s *Server) lostReplyLocked(f float64) *apiError {
	if f > 0 && s.rng.Float64() < f {
		return &apiError{status: 500, code: "InternalError", msg: "An internal error has occurred"}
	}
	return nil
}

// SetFaults replaces the fault injection in force.
func (s *Server) SetFaults(f Faults) {
	s.faultsMu.Lock()
	s.faults = f
	s.faultsMu.Unlock()
}

// CurrentFaults returns the fault injection in force.
func (s *Server) CurrentFaults() Faults {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	return s.faults
}

// Bucket is one token bucket: Size tokens at most, Refill tokens added
// per second.
type Bucket struct {
	Size   float64
	Refill float64
}

// RateLimits maps an action category to its bucket. Each action has its
// own bucket of its category's shape (EC2 evaluates each API separately).
// Per-action entries (key = action name) override the category.
type RateLimits map[string]Bucket

// Categories of EC2 API actions for rate limiting.
const (
	CategoryNonMutating   = "non-mutating"   // Describe*, Get*, List*
	CategoryUnfiltered    = "unfiltered"     // Describe* without filters, ids or pagination
	CategoryMutating      = "mutating"       // Create*, Modify*, Authorize*, …
	CategoryResourceHeavy = "resource-heavy" // RunInstances, CreateSnapshot(s), CreateImage, …
	CategoryOther         = "other"          // Auto Scaling, ELBv2 and CloudWatch
)

// ResourcePrefix marks RateLimits entries that meter instances rather
// than requests: "resource:RunInstances" is drawn by MaxCount, the
// others by the number of InstanceId values. A request that finds too
// few tokens fails with RequestResourceCountExceeded (HTTP 503).
const ResourcePrefix = "resource:"

// DefaultRateLimits returns buckets shaped like the documented Amazon EC2
// request-rate limits (bucket size, refill per second): non-mutating
// 100/20, unfiltered and unpaginated non-mutating 50/10, mutating 50/5,
// resource-intensive 50/5; the other services get 100/20. RunInstances
// has the request bucket EC2 gives it of its own (5, refill 2 per second).
// Each action draws on a bucket of its own, as EC2 evaluates each API
// individually. Resource
// (instance) tokens: RunInstances 1000/2, TerminateInstances 1000/20,
// StopInstances 1000/20, StartInstances 1000/2.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		CategoryNonMutating:                   {Size: 100, Refill: 20},
		CategoryUnfiltered:                    {Size: 50, Refill: 10},
		CategoryMutating:                      {Size: 50, Refill: 5},
		CategoryResourceHeavy:                 {Size: 50, Refill: 5},
		CategoryOther:                         {Size: 100, Refill: 20},
		"RunInstances":                        {Size: 5, Refill: 2},
		ResourcePrefix + "RunInstances":       {Size: 1000, Refill: 2},
		ResourcePrefix + "TerminateInstances": {Size: 1000, Refill: 20},
		ResourcePrefix + "StopInstances":      {Size: 1000, Refill: 20},
		ResourcePrefix + "StartInstances":     {Size: 1000, Refill: 2},
	}
}

// Scaled returns the limits with every size and refill rate multiplied
// by f, for benchmarks that keep the shape but not the wall-clock time.
func (l RateLimits) Scaled(f float64) RateLimits {
	out := make(RateLimits, len(l))
	for k, b := range l {
		out[k] = Bucket{Size: b.Size * f, Refill: b.Refill * f}
	}
	return out
}

// resourceHeavy are the actions EC2 documents as resource-intensive.
// Instance launches and stops are metered by the resource buckets
// (ResourcePrefix) on top of their mutating request bucket.
var resourceHeavy = map[string]bool{
	"AuthorizeSecurityGroupEgress": true, "AuthorizeSecurityGroupIngress": true,
	"RevokeSecurityGroupEgress": true, "RevokeSecurityGroupIngress": true,
	"CreateKeyPair": true, "AcceptVpcPeeringConnection": true, "CreateVpcPeeringConnection": true,
	"DeleteVpcPeeringConnection": true, "RejectVpcPeeringConnection": true,
	"CancelSpotFleetRequests": true, "RequestSpotFleet": true,
}

// Category returns the rate-limit category of an action. unfiltered
// tells a non-mutating call without ids, filters or MaxResults.
func Category(service, action string, unfiltered bool) string {
	if service != "ec2" {
		return CategoryOther
	}
	switch {
	case resourceHeavy[action]:
		return CategoryResourceHeavy
	case strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Get") || strings.HasPrefix(action, "List"):
		if unfiltered {
			return CategoryUnfiltered
		}
		return CategoryNonMutating
	}
	return CategoryMutating
}

type bucket struct {
	tokens float64
	last   time.Time
	b      Bucket
}

func (k *bucket) take(now time.Time) bool { return k.takeN(now, 1) }

func (k *bucket) takeN(now time.Time, n float64) bool {
	if el := now.Sub(k.last).Seconds(); el > 0 {
		k.tokens += el * k.b.Refill
		if k.tokens > k.b.Size {
			k.tokens = k.b.Size
		}
		k.last = now
	}
	if k.tokens >= n {
		k.tokens -= n
		return true
	}
	return false
}

// resourceCount is how many instance tokens a request draws.
func resourceCount(action string, q *qnode) float64 {
	if q == nil {
		return 0
	}
	if action == "RunInstances" {
		n, _, err := q.integer("MaxCount")
		if err != nil || n < 1 {
			return 1
		}
		return float64(n)
	}
	return float64(len(q.list("InstanceId")))
}

func unfilteredQuery(q *qnode) bool {
	for k := range q.kids {
		switch k {
		case "Action", "Version", "DryRun":
			continue
		}
		return false
	}
	return true
}

// throttleCode is the error code each service uses for throttling.
func throttleError(service string) *apiError {
	if service == "ec2" {
		return &apiError{status: 503, code: "RequestLimitExceeded", msg: "Request limit exceeded."}
	}
	return &apiError{status: 400, code: "Throttling", msg: "Rate exceeded"}
}

// injectFault decides whether this request fails before it reaches the
// state: throttled or answered with a 5xx.
func (s *Server) injectFault(service, action string, q *qnode) *apiError {
	s.faultsMu.Lock()
	f := s.faults
	if !f.Throttle && f.ThrottleFraction <= 0 && f.ServerErrorFraction <= 0 {
		s.faultsMu.Unlock()
		return nil
	}
	throttled := false
	if f.Throttle {
		unf := q != nil && unfilteredQuery(q)
		cat := Category(service, action, unf)
		spec, ok := s.opts.limits[action]
		key := service + "/" + action
		if !ok {
			spec, ok = s.opts.limits[cat]
		}
		if ok && spec.Size > 0 {
			if unf {
				key += "/unfiltered"
			}
			bk := s.buckets[key]
			now := s.now()
			if bk == nil {
				bk = &bucket{tokens: spec.Size, last: now, b: spec}
				s.buckets[key] = bk
			}
			throttled = !bk.take(now)
		}
		if rspec, ok := s.opts.limits[ResourcePrefix+action]; ok && !throttled && service == "ec2" && rspec.Size > 0 {
			key := ResourcePrefix + action
			bk := s.buckets[key]
			now := s.now()
			if bk == nil {
				bk = &bucket{tokens: rspec.Size, last: now, b: rspec}
				s.buckets[key] = bk
			}
			if n := resourceCount(action, q); n > 0 && !bk.takeN(now, n) {
				s.faultsMu.Unlock()
				return &apiError{status: 503, code: "RequestResourceCountExceeded",
					msg: "Request resource count exceeded: " + action + " would use more instance tokens than are available."}
			}
		}
	}
	s.faultsMu.Unlock()
	if throttled {
		return throttleError(service)
	}
	s.mu.Lock()
	r1, r2 := s.rng.Float64(), s.rng.Float64()
	s.mu.Unlock()
	if f.ThrottleFraction > 0 && r1 < f.ThrottleFraction {
		return throttleError(service)
	}
	if f.ServerErrorFraction > 0 && r2 < f.ServerErrorFraction {
		if r2 < f.ServerErrorFraction/2 {
			return &apiError{status: 500, code: "InternalError", msg: "An internal error has occurred"}
		}
		return &apiError{status: 503, code: "ServiceUnavailable", msg: "The service is unavailable. Please try again shortly."}
	}
	return nil
}
