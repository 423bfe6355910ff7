package playbook

// FailJournalSyncs makes every journal sync first ask f (see syncFault):
// an error f returns fails that sync, which then syncs nothing. It returns
// a function that stops it.
func FailJournalSyncs(f func(what string) error) func() {
	syncFault = f
	return func() { syncFault = nil }
}
