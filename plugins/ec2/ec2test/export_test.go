package ec2test

// KnownActions exposes the served actions and their services to the
// external tests (the rate-limit category table test).
var KnownActions = knownActions

// ServesEC2 tells whether the server has a handler for an EC2 action.
func (s *Server) ServesEC2(action string) bool { return s.ec2Handler(action) != nil }
