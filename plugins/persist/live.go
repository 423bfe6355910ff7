package persist

import "os"

// What ties persist to the host it runs on, as variables so that tests can
// treat a fixture tree as the live root and give it running processes.

// isLiveRoot reports whether root is this host's own "/": only then are
// reloads planned and run, and running processes looked at.
var isLiveRoot = func(root string) bool {
	a, err1 := os.Stat(root)
	b, err2 := os.Stat("/")
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// runningDeleted maps the path of every deleted executable a process of
// this host still runs to its pids (live root only).
var runningDeleted = deletedExes
