package playbook

import "sync"

// SetHostVersions sets the protocol versions the host speaks, for tests
// that play an incompatible host; it returns a function restoring them.
func SetHostVersions(v ...int) func() {
	old := hostVersions
	hostVersions = v
	return func() { hostVersions = old }
}

// PluginAddr is where a started plugin listens.
func PluginAddr(p *Plugin) (network, addr string) {
	a := p.client.ReattachConfig().Addr
	return a.Network(), a.String()
}

// ForgetVerifiedBinaries empties the cache of verified plugin binaries (and
// of the host executable's own checksum), so that the next start is what a
// fresh host process does.
func ForgetVerifiedBinaries() {
	verified.Lock()
	verified.m = nil
	verified.bad = nil
	verified.Unlock()
	selfSum.once = sync.Once{}
	selfSum.path, selfSum.sum, selfSum.err = "", "", nil
}

// BinaryHashes is how many times a plugin binary has been hashed to check
// its pin.
func BinaryHashes() int64 { return binaryHashes.Load() }

// ObserveJournalSyncs makes the journal report each sync it makes (see
// syncObserver); it returns a function that stops it.
func ObserveJournalSyncs(f func(what string)) func() {
	syncObserver = f
	return func() { syncObserver = nil }
}
