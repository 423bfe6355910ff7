package scanplugin

import "github.com/abusekit/abusekit/abuse/abuseplugin"

// Descriptions of the fields of package scan's (and abuse's) types as the
// actions' schemas show them (plugin.FieldDocs): those types are another
// package's, so their fields are described here, by path.

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// identityDocs describes a scan.Identity at prefix.
func identityDocs(prefix string) map[string]string {
	return map[string]string{
		prefix + ".pid":         "process id",
		prefix + ".start_ticks": "start time in clock ticks after boot: with pid, tells the process from a later one with the same pid",
		prefix + ".exe_dev":     "device of its executable (0: unreadable)",
		prefix + ".exe_ino":     "inode of its executable (0: unreadable)",
		prefix + ".comm":        "its command name (/proc/PID/comm)",
		prefix + ".exe":         "its executable's path, \" (deleted)\" included when deleted",
	}
}

// parentDocs describes a scan.Parent at prefix.
func parentDocs(prefix string) map[string]string {
	return map[string]string{
		prefix + ".pid":  "process id",
		prefix + ".comm": "command name",
		prefix + ".exe":  "executable path; absent when unreadable",
		prefix + ".kind": "what it is: init, sshd, cron, terminal, container, runtime, shell, supervisor or program",
		prefix + ".why":  "what makes it a supervisor; absent otherwise",
	}
}

var detectInputDocs = abuseplugin.ReportDocs("report")

var detectOutputDocs = merge(parentDocs("suspects[].parents[]"), parentDocs("suspects[].supervisor"), map[string]string{
	"suspects[].pid":                 "process id",
	"suspects[].ppid":                "parent's process id",
	"suspects[].uid":                 "real user id",
	"suspects[].user":                "user name from the root's /etc/passwd; empty when unknown",
	"suspects[].comm":                "command name (/proc/PID/comm), which the malware may have set",
	"suspects[].exe":                 "executable path, without the \" (deleted)\" suffix",
	"suspects[].exe_deleted":         "the executable was deleted from disk after it started",
	"suspects[].exe_dev":             "device of the executable (0: unreadable); give it to stop as exe_dev",
	"suspects[].exe_ino":             "inode of the executable (0: unreadable); give it to stop as exe_ino",
	"suspects[].cmdline":             "command line, one argument per item",
	"suspects[].start_time":          "when the process started, UTC",
	"suspects[].start_ticks":         "start time in clock ticks after boot; give it to stop as start_ticks",
	"suspects[].cpu_percent":         "CPU use in percent of one CPU, over the window or, in one snapshot, the process's life",
	"suspects[].score":               "the sum of the reasons' weights; higher is more suspect",
	"suspects[].reasons":             "the signals that scored, strongest first",
	"suspects[].reasons[].signal":    "the signal's stable name (report, syn-fanout, connect-rate, raw-socket, exe-deleted, stratum, …)",
	"suspects[].reasons[].weight":    "what it added to the score",
	"suspects[].reasons[].text":      "what was seen, for a human",
	"suspects[].parents":             "its parent chain, parent first, up to PID 1",
	"suspects[].supervisor":          "the parent that respawns it (stopping the suspect alone leaves it alive); absent when none",
	"suspects[].netns":               "inode of its network namespace",
	"suspects[].exited":              "seen during the window but gone by its end; what it held is still listed",
	"suspects[].sockets":             "sockets it holds or held during the window, at most 64 (socket_count counts all)",
	"suspects[].sockets[].proto":     "tcp, udp, raw or packet",
	"suspects[].sockets[].family":    "4 or 6; absent for packet sockets",
	"suspects[].sockets[].local":     "local address and port (for raw sockets the port is the IP protocol)",
	"suspects[].sockets[].remote":    "remote address and port; absent when unconnected",
	"suspects[].sockets[].state":     "TCP state (SYN_SENT, ESTABLISHED, …) or UNCONN/ESTABLISHED for UDP",
	"suspects[].sockets[].uid":       "owner's user id",
	"suspects[].sockets[].inode":     "socket inode",
	"suspects[].sockets[].netns":     "inode of the socket's network namespace",
	"suspects[].sockets[].pids":      "processes holding it, ascending",
	"suspects[].sockets[].iface":     "packet sockets: interface index (0: any)",
	"suspects[].sockets[].ethertype": "packet sockets: the protocol (3 = all)",
	"suspects[].socket_count":        "sockets it holds in all",
	"attribution.live":               "connection attempts, raw packets and UDP were attributed live with BPF as they happened; false: sampled from new sockets",
	"attribution.why":                "why not live; absent when live",
	"attribution.stratum":            "the first bytes of TCP sends were looked at for the mining protocol (stratum)",
	"attribution.stratum_why":        "why stratum was not looked for; absent when it was",
})

var stopOutputDocs = merge(identityDocs("result.plan.target"), identityDocs("result.plan.tree[]"), identityDocs("result.plan.supervisor"), map[string]string{
	"result.dry_run":                  "nothing was done (a dry run)",
	"result.freeze":                   "the freezer used: cgroup-v2 or sigstop",
	"result.frozen":                   "pids frozen",
	"result.killed":                   "pids killed",
	"result.evidence_dir":             "the directory holding the evidence",
	"result.manifest":                 "path of manifest.json, the SHA-256 of every evidence file",
	"result.warnings":                 "evidence that could not be captured",
	"result.plan":                     "the plan carried out",
	"result.plan.target":              "the process stopped (the supervisor, when asked to stop it)",
	"result.plan.tree":                "its descendants, frozen and killed with it",
	"result.plan.freeze":              "the freezer planned: cgroup-v2 or sigstop",
	"result.plan.cgroup_dir":          "the freezer cgroup made for the stop; absent with sigstop",
	"result.plan.hidden":              "processes of the tree hidden by mounts over their /proc/PID, by pid, with those mounts",
	"result.plan.evidence_dir":        "where the evidence is written",
	"result.plan.supervisor":          "the supervisor found for the process; absent when none",
	"result.plan.warnings":            "what the plan leaves undone, such as a supervisor left alive",
	"result.plan.steps":               "the plan's steps, in order, for a human",
	"result.plan.options":             "the options planned with, defaults filled in",
	"result.plan.options.Root":        "procfs mount point",
	"result.plan.options.EvidenceDir": "evidence directory",
	"result.plan.options.NoTree":      "only the process, not its descendants",
	"result.plan.options.Supervisor":  "the supervisor and its whole tree are stopped",
	"result.plan.options.MaxMemory":   "bytes of memory regions copied at most (negative: none)",
	"result.plan.options.MaxFileSize": "bytes of one copied file at most",
	"result.plan.options.MaxEvidence": "bytes of evidence in all at most",
	"result.plan.options.FreezeWait":  "how long to wait for the tree to stop, in nanoseconds",
	"result.plan.options.Freezer":     "the freezer asked for (empty: cgroup-v2 where available, else sigstop)",
})
