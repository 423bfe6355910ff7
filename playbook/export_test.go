package playbook

// SetHostVersions sets the protocol versions the host speaks, for tests
// that play an incompatible host; it returns a function restoring them.
func SetHostVersions(v ...int) func() {
	old := hostVersions
	hostVersions = v
	return func() { hostVersions = old }
}
