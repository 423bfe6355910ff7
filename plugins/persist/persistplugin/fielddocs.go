package persistplugin

// Descriptions of the fields of package persist's types as the actions'
// schemas show them (plugin.FieldDocs): those types are another package's,
// so their fields are described here, by path.

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// changeDocs describes a persist.Change at prefix ("changes[]").
func changeDocs(prefix string) map[string]string {
	p := prefix + "."
	return map[string]string{
		p + "path":                "the path changed, inside the root",
		p + "op":                  "clear-flags (chattr +i/+a, recorded), unlink (a link moved into the quarantine record), quarantine (the file moved into quarantine), remove-lines (lines dropped or rewritten, the rest byte-identical) or stop-container",
		p + "lines":               "remove-lines: the lines removed or rewritten",
		p + "lines[].line":        "line number, 1-based",
		p + "lines[].content":     "the line as planned",
		p + "lines[].new":         "what the line becomes (an account's shell put back); absent: the line is removed",
		p + "sha256":              "SHA-256 of the content (or link target) when planned, hex; the change is refused if it differs",
		p + "flags":               "clear-flags: the inode flags to clear",
		p + "dir":                 "the link-free parent directory when planned, relative to the root; the change is refused if it now resolves elsewhere",
		p + "keep_flags_cleared":  "a finding asked for the file's chattr +i/+a to go: they stay cleared",
		p + "set_back":            "a directory's flags cleared only to change entries in it, set again afterwards",
		p + "set":                 "changes made all or none (accounts: passwd, shadow, group, gshadow)",
		p + "container":           "stop-container: the container stopped",
		p + "container.runtime":   "the container runtime (docker or containerd)",
		p + "container.namespace": "containerd's namespace (containerd containers)",
		p + "container.id":        "container id",
		p + "container.name":      "container name",
		p + "container.restart":   "its restart policy before the change (containerd: its restart status label, running)",
		p + "severity":            "the severity of the finding behind it: info, low, medium, high or critical",
		p + "reasons":             "why: the findings' reasons",
	}
}

// reloadDocs describes a persist.Reload at prefix ("reloads[]").
func reloadDocs(prefix string) map[string]string {
	return map[string]string{
		prefix + ".command": "the command and its arguments (systemctl daemon-reload, …)",
		prefix + ".reason":  "why it is needed",
	}
}

// planDocs describes a persist.CleanPlan at prefix ("plan").
func planDocs(prefix string) map[string]string {
	p := prefix + "."
	return merge(changeDocs(p+"changes[]"), reloadDocs(p+"reloads[]"), map[string]string{
		p + "root":                     "host path of the root examined",
		p + "live":                     "the root is this host's /",
		p + "changes":                  "what clean will change, path by path, in the order it does",
		p + "reloads":                  "commands to run on the live host afterwards so services notice",
		p + "accounts":                 "what the changes to passwd, shadow, group and gshadow do, account by account",
		p + "accounts[].user":          "the account",
		p + "accounts[].op":            "remove (its lines, its own group, its name in other groups) or restore (its passwd line put back)",
		p + "accounts[].line":          "its passwd line now",
		p + "accounts[].new":           "restore: its passwd line after",
		p + "accounts[].source":        "restore: where the line put back comes from",
		p + "accounts[].lock_password": "restore: its password is locked",
		p + "accounts[].files":         "the files the change touches",
		p + "accounts[].severity":      "the finding's severity",
		p + "accounts[].reasons":       "why",
	})
}

var findOutputDocs = map[string]string{
	"findings[].path":       "the file, inside the root",
	"findings[].line":       "the line in it, 1-based; 0: the whole file",
	"findings[].kind":       "the persistence mechanism: cron, at, systemd, rc-local, init.d, shell-profile, ssh-key, ld-preload, account, sudoers, container, …",
	"findings[].severity":   "info, low, medium, high or critical",
	"findings[].reasons":    "why it is suspect",
	"findings[].content":    "the line or entry as found",
	"findings[].referenced": "files the entry runs or loads, inside the root",
	"findings[].action":     "what clean would do: remove-line, quarantine-file, disable-unit, remove-link, clear-flags, remove-account, restore-account or remove-member; absent: nothing",
	"findings[].unit":       "the systemd unit's name",
	"findings[].user":       "the account the entry runs as or belongs to",
	"findings[].package":    "the package that owns the file, when known",
	"findings[].stock":      "owned by a package and unchanged",
	"findings[].members":    "remove-member: the members to take out of the group",
	"findings[].container":  "the container's id (container findings; containerd: namespace/id)",
}

var (
	planOutputDocs  = planDocs("plan")
	cleanInputDocs  = planDocs("plan")
	cleanOutputDocs = merge(changeDocs("changes[]"), reloadDocs("reloads[]"))
	restoreOutDocs  = reloadDocs("reloads[]")
)
