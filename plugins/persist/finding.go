package persist

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// Sentinel errors, testable with errors.Is.
var (
	// ErrSymlinkEscape: a symbolic link in the tree points out of the root
	// being cleaned; nothing was read or written through it.
	ErrSymlinkEscape = rootfs.ErrSymlinkEscape
	// ErrChanged: a file is no longer what Find saw (or what Apply left),
	// so the planned change or the restore was not made.
	ErrChanged = errors.New("persist: file changed since it was examined")
	// ErrExists: Restore found something already at a path it would
	// recreate, and left it alone.
	ErrExists = errors.New("persist: restore target already exists")
	// ErrBadManifest: a quarantine manifest is missing, unreadable or
	// inconsistent with its quarantined copies.
	ErrBadManifest = errors.New("persist: bad quarantine manifest")
	// ErrNotLive: reloads were asked for on a root other than "/".
	ErrNotLive = errors.New("persist: reloads run only on the live root /")
)

// Severity grades a finding.
type Severity int

// Severities, lowest first. A stock install yields nothing above Info.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var sevNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s >= 0 && int(s) < len(sevNames) {
		return sevNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText encodes the severity by name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses "info", "low", "medium", "high" or "critical".
func ParseSeverity(name string) (Severity, error) {
	for i, n := range sevNames {
		if strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("persist: unknown severity %q", name)
}

// Kind names the persistence mechanism a finding belongs to.
type Kind string

// Kinds of findings.
const (
	KindCron          Kind = "cron"           // /etc/crontab, cron.d, cron.{hourly,...}, anacrontab, user crontabs
	KindAt            Kind = "at"             // at jobs
	KindSystemd       Kind = "systemd"        // units, timers, drop-ins, wants links
	KindRCLocal       Kind = "rc-local"       // /etc/rc.local
	KindInitd         Kind = "init.d"         // SysV init scripts
	KindShellProfile  Kind = "shell-profile"  // ~/.bashrc, /etc/profile, profile.d …
	KindSSHKey        Kind = "ssh-key"        // authorized_keys, authorized_keys2
	KindPreload       Kind = "ld-preload"     // /etc/ld.so.preload
	KindHosts         Kind = "hosts"          // /etc/hosts
	KindAccount       Kind = "account"        // /etc/passwd, /etc/shadow
	KindSudoers       Kind = "sudoers"        // /etc/sudoers, sudoers.d
	KindUdev          Kind = "udev"           // udev rules
	KindMotd          Kind = "motd"           // update-motd.d
	KindDroppedBinary Kind = "dropped-binary" // executables in /tmp, /var/tmp, /dev/shm; programs no package installed
	KindImmutable     Kind = "immutable"      // chattr +i / +a
	KindReferenced    Kind = "referenced-file"
	KindSymlink       Kind = "symlink"         // a planted link in a persistence location
	KindSSHConfig     Kind = "sshd-config"     // AuthorizedKeysFile / AuthorizedKeysCommand
	KindPackageFile   Kind = "modified-binary" // a packaged tool (ps, ss, ls …) that differs from its package
	KindPAM           Kind = "pam"             // pam_exec.so in /etc/pam.d
	KindAutostart     Kind = "autostart"       // XDG autostart .desktop files
	KindLibraryPath   Kind = "library-path"    // /etc/ld.so.conf.d search paths
	KindKernelModule  Kind = "kernel-module"   // modules-load.d, /etc/modules, modprobe.d install hooks
	KindPackageDB     Kind = "package-db"      // a package database that cannot be read (corrupt, planted link)
	KindSupervisor    Kind = "supervisord"     // supervisord [program:x] command=
	KindAPTHook       Kind = "apt-hook"        // apt.conf.d APT::Update::Pre-Invoke, DPkg::Post-Invoke …
	KindContainer     Kind = "container"       // Docker containers with a restart policy
)

// Action is what Plan does about a finding.
type Action string

// Actions.
const (
	ActionNone        Action = ""                // inventory only
	ActionRemoveLine  Action = "remove-line"     // drop the line, keep the rest byte-identical
	ActionQuarantine  Action = "quarantine-file" // move the whole file into quarantine
	ActionDisableUnit Action = "disable-unit"    // remove wants links, quarantine the unit
	ActionRemoveLink  Action = "remove-link"     // quarantine a symbolic link
	ActionClearFlags  Action = "clear-flags"     // clear chattr +i/+a
	// ActionRemoveAccount removes an account (a /etc/passwd line) from
	// passwd, shadow, group and gshadow together: its lines, its own
	// group, and its name from the member lists of other groups.
	ActionRemoveAccount Action = "remove-account"
	// ActionRestoreAccount puts an account the malware changed back to
	// its stock values (shell, uid), locking a system account's password;
	// the account stays.
	ActionRestoreAccount Action = "restore-account"
	// ActionRemoveMember takes Finding.Members out of a group's member
	// list (in /etc/group and /etc/gshadow); the group stays.
	ActionRemoveMember Action = "remove-member"
)

// Finding is one persistence entry. Path is as seen from inside the root
// (/etc/crontab), never the host path of a mounted root.
type Finding struct {
	Path       string   `json:"path"`
	Line       int      `json:"line"` // 1-based; 0 = the whole file
	Kind       Kind     `json:"kind"`
	Severity   Severity `json:"severity"`
	Reasons    []string `json:"reasons"`
	Content    string   `json:"content"`
	Referenced []string `json:"referenced,omitempty"` // files the entry runs or loads (paths inside the root)
	Action     Action   `json:"action,omitempty"`
	Unit       string   `json:"unit,omitempty"`      // systemd unit name
	User       string   `json:"user,omitempty"`      // account the entry runs as / belongs to
	Package    string   `json:"package,omitempty"`   // owning package, when known
	Stock      bool     `json:"stock,omitempty"`     // owned by a package and unchanged
	Members    []string `json:"members,omitempty"`   // remove-member: the members to take out of the group
	Container  string   `json:"container,omitempty"` // container id (KindContainer)
}

// String renders a finding on one line.
func (f Finding) String() string {
	loc := f.Path
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
	}
	return fmt.Sprintf("%-8s %-15s %s: %s", f.Severity, f.Kind, loc, strings.Join(f.Reasons, "; "))
}

// Options configure Find.
type Options struct {
	// Root is the tree to examine: "/" (the default) for the live host,
	// or the mount point of a snapshot volume.
	Root string
	// Since, when set, marks files changed after it (the incident window)
	// as suspicious: new ssh keys, new units, new cron entries.
	Since time.Time
	// MaxFileBytes bounds each file read (default 4 MiB); bigger files in
	// persistence locations are reported, not read.
	MaxFileBytes int64
	// MaxTempEntries bounds the walk of each of /tmp, /var/tmp and
	// /dev/shm (default 20,000 entries); the walk reports truncation.
	MaxTempEntries int
	// Logger receives debug records; default discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 4 << 20
	}
	if o.MaxTempEntries <= 0 {
		o.MaxTempEntries = 20000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// sortFindings orders findings by severity (highest first), then path and
// line, and merges duplicates (same path and line) found by two checks.
func sortFindings(in []Finding) []Finding {
	type key struct {
		p string
		l int
	}
	idx := map[key]int{}
	var out []Finding
	for _, f := range in {
		k := key{f.Path, f.Line}
		if i, ok := idx[k]; ok {
			g := &out[i]
			if f.Severity > g.Severity {
				g.Severity = f.Severity
				if f.Action != ActionNone && f.Kind != KindImmutable {
					g.Action = f.Action
				}
			}
			if g.Action == ActionNone || g.Action == ActionClearFlags {
				if f.Action != ActionNone {
					g.Action = f.Action
				}
			}
			g.Reasons = appendUnique(g.Reasons, f.Reasons...)
			g.Referenced = appendUnique(g.Referenced, f.Referenced...)
			g.Members = appendUnique(g.Members, f.Members...)
			g.Stock = g.Stock && f.Stock
			continue
		}
		idx[k] = len(out)
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Line < out[j].Line
	})
	return out
}

func appendUnique(dst []string, src ...string) []string {
	for _, s := range src {
		dup := false
		for _, d := range dst {
			if d == s {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, s)
		}
	}
	return dst
}

// MarshalJSON keeps Reasons a JSON array even when empty.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	p := plain(f)
	if p.Reasons == nil {
		p.Reasons = []string{}
	}
	return json.Marshal(p)
}
