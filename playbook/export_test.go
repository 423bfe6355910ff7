package playbook

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
