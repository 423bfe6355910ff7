package ec2test

import "time"

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

// throttleCode is the error code each service uses for throttling.
func throttleError(service string) *apiError {
	if service == "ec2" {
		return &apiError{status: 503, code: "RequestLimitExceeded", msg: "Request limit exceeded."}
	}
	return &apiError{status: 400, code: "Throttling", msg: "Rate exceeded"}
}

// injectFault decides whether this request fails before it reaches the
// state: throttled or answered with a 5xx. region is the region the
// request was signed for ("" when unsigned: the server's).
func (s *Server) injectFault(service, region, action string, q *qnode) *apiError {
	s.faultsMu.Lock()
	f := s.faults
	if !f.Throttle && f.ThrottleFraction <= 0 && f.ServerErrorFraction <= 0 {
		s.faultsMu.Unlock()
		return nil
	}
	throttled := false
	if f.Throttle {
		var ferr *apiError
		throttled, ferr = s.takeTokensLocked(service, region, action, q)
		if ferr != nil {
			s.faultsMu.Unlock()
			return ferr
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
