package scan

import "strings"

// KnownNames are executable and process names of scanners, miners and the
// droppers that install them, as seen in incidents (the seed's "work32"
// among them). Matching is on the base name, case-insensitive, exact or
// as a prefix for the names marked with a trailing '*'.
var KnownNames = []string{
	// port scanners
	"masscan", "zmap", "nmap", "zgrab*", "pnscan", "pscan", "unicornscan", "naabu", "rustscan",
	// brute-forcers
	"hydra", "medusa", "ncrack",
	// miners
	"xmrig*", "xmr-stak*", "minerd", "cpuminer*", "ccminer", "t-rex", "nbminer", "lolminer",
	"phoenixminer", "ethminer", "nanominer", "srbminer*",
	// droppers and botnets seen on cloud instances
	"work32", "work64", "kinsing", "kdevtmpfsi", "kdevtmpfs", "kthreaddi", "kthreaddk", "dbused",
	"sysrv*", "tsunami", "watchbog", "kerberods", "khugepageds", "sysupdate", "networkservice",
	"zzh", "solrd", "kworkerds", "xmrminer",
}

// knownName returns the entry of KnownNames that name matches, or "".
func knownName(name string) string {
	name = strings.ToLower(name)
	if name == "" {
		return ""
	}
	for _, k := range KnownNames {
		if p, ok := strings.CutSuffix(k, "*"); ok {
			if strings.HasPrefix(name, p) {
				return k
			}
		} else if name == k {
			return k
		}
	}
	return ""
}

// interpreters run scripts whose name becomes the process's comm, so comm
// and executable disagree for a benign reason.
var interpreters = []string{
	"sh", "bash", "dash", "zsh", "ksh", "busybox", "python", "perl", "ruby", "node", "java", "php", "lua", "env",
}

func isInterpreter(base string) bool {
	for _, i := range interpreters {
		if base == i || (strings.HasPrefix(base, i) && strings.Trim(base[len(i):], "0123456789.") == "") {
			return true
		}
	}
	return false
}

// cronDaemons are parents that mark a process as started by a scheduler.
var cronDaemons = []string{"cron", "crond", "atd", "anacron", "fcron", "busybox-cron"}
