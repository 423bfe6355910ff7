package persist

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// ---- what an account looked like before the intrusion ----
//
// An account the malware changed is put back, not deleted: deleting a
// system account (daemon, games, sshd) leaves its files to an unknown
// uid and can break the package that owns them. Where the stock values
// come from, first found first:
//
//   - Debian's base-passwd ships the static system accounts and groups
//     (/usr/share/base-passwd/passwd.master and group.master, fields as in
//     /etc/passwd with "*" for the password);
//   - /etc/passwd- is the copy shadow's tools (useradd, usermod, vipw)
//     leave of the file before their last change: a shell changed by
//     usermod -s is still the old one there, when that one is sane;
//   - else a system account gets the nologin the root has, a login
//     account the cloud image's default user's shell (cloud-init), else
//     /bin/bash.
//
// The cloud image's default user (cloud-init's system_info.default_user,
// and the users: its configuration lists) and the groups cloud-init gives
// it are the stock memberships: never a finding above info, whatever the
// window says (an instance found by a bot minutes after launch has the
// default user's home created inside the window). A cloud-init file that
// itself changed inside the window is not trusted, unless it is its
// package's unchanged copy.

// cloudUser is a user cloud-init's configuration creates.
type cloudUser struct {
	Name   string
	Groups []string
	Shell  string
}

// accountBase is the root's record of stock accounts.
type accountBase struct {
	master       map[string]passwdEntry // base-passwd passwd.master
	masterGroups map[string]groupEntry  // base-passwd group.master
	prev         map[string]passwdEntry // /etc/passwd-
	cloud        map[string]cloudUser   // cloud-init's users
}

const (
	passwdMaster = "/usr/share/base-passwd/passwd.master"
	groupMaster  = "/usr/share/base-passwd/group.master"
)

var cloudConfigs = []string{"/etc/cloud/cloud.cfg"}

// loadAccountBase reads the stock account sources of the root. since, when
// set, drops cloud-init files changed after it, unless the package
// database (db, may be nil) says they are stock.
func loadAccountBase(r *rootfs.FS, since time.Time, max int64, db *pkgDB) *accountBase {
	b := &accountBase{master: map[string]passwdEntry{}, masterGroups: map[string]groupEntry{}, prev: map[string]passwdEntry{}, cloud: map[string]cloudUser{}}
	if data, err := r.ReadFile(passwdMaster, max); err == nil {
		for _, u := range parsePasswd(data) {
			if u.Err == nil {
				b.master[u.Name] = u
			}
		}
	}
	if data, err := r.ReadFile(groupMaster, max); err == nil {
		for _, g := range parseGroup(data) {
			if g.Err == nil {
				b.masterGroups[g.Name] = g
			}
		}
	}
	if data, err := r.ReadFile("/etc/passwd-", max); err == nil {
		for _, u := range parsePasswd(data) {
			if u.Err == nil {
				if _, dup := b.prev[u.Name]; !dup {
					b.prev[u.Name] = u
				}
			}
		}
	}
	files := append([]string(nil), cloudConfigs...)
	if ents, err := r.ReadDir("/etc/cloud/cloud.cfg.d"); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".cfg") && len(files) < 64 {
				files = append(files, "/etc/cloud/cloud.cfg.d/"+e.Name())
			}
		}
	}
	for _, p := range files {
		data, err := r.ReadFile(p, 1<<20)
		if err != nil {
			continue
		}
		if !since.IsZero() {
			stock := false
			if db != nil {
				_, _, stock, _ = db.check(p, data)
			}
			if fi, err := r.Stat(p); !stock && (err != nil || fi.ModTime().After(since)) {
				continue
			}
		}
		for _, u := range parseCloudUsers(data) {
			b.cloud[u.Name] = u
		}
	}
	return b
}

// parseCloudUsers returns the users a cloud-init configuration creates:
// system_info.default_user, and the entries of users: given as a map
// (a bare "default" names the default user, already listed). groups is a
// list or a comma-separated string. Anything else is ignored; a document
// that does not parse yields nothing.
func parseCloudUsers(data []byte) []cloudUser {
	var doc struct {
		SystemInfo struct {
			DefaultUser map[string]any `yaml:"default_user"`
		} `yaml:"system_info"`
		Users []any `yaml:"users"`
	}
	// An anchor makes aliases possible, and aliases expanded into
	// aliases grow without bound (the "billion laughs"): a configuration
	// with one is not read (its users are then judged like any other).
	if len(data) > 1<<20 || reYAMLAnchor.Match(data) || yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []cloudUser
	add := func(m map[string]any) {
		name, _ := m["name"].(string)
		if name == "" || strings.ContainsAny(name, ":\n,") || len(out) >= 64 {
			return
		}
		u := cloudUser{Name: name}
		u.Shell, _ = m["shell"].(string)
		switch g := m["groups"].(type) {
		case string:
			for _, s := range strings.Split(g, ",") {
				if s = strings.TrimSpace(s); s != "" {
					u.Groups = append(u.Groups, s)
				}
			}
		case []any:
			for _, s := range g {
				if s, ok := s.(string); ok && s != "" {
					u.Groups = append(u.Groups, strings.TrimSpace(s))
				}
			}
		}
		out = append(out, u)
	}
	if doc.SystemInfo.DefaultUser != nil {
		add(doc.SystemInfo.DefaultUser)
	}
	for _, e := range doc.Users {
		if m, ok := e.(map[string]any); ok {
			add(m)
		}
	}
	return out
}

var reYAMLAnchor = regexp.MustCompile(`(^|[\s\[{,:-])&[^\s]`)

// stockMember reports whether cloud-init makes user a member of group.
func (b *accountBase) stockMember(group, user string) bool {
	if b == nil {
		return false
	}
	u, ok := b.cloud[user]
	if !ok {
		return false
	}
	for _, g := range u.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// systemUID: the ranges distributions give system accounts.
func systemUID(uid int) bool { return uid > 0 && uid < 1000 || uid == 65534 }

// accountFix is what an account's passwd line becomes when it is put back.
type accountFix struct {
	Line   string // the new passwd line
	Shell  string
	UID    int
	GID    int
	Source string // where the values come from
	// Lock: the password hash in shadow is locked ("!" put before it):
	// a system account has no business with one.
	Lock bool
}

// fixAccount works out the stock line of an account; hash is its shadow
// password field ("*" when it has no shadow line). ok is false when
// there is nothing to restore it to (a second uid-0 account of no stock
// source): it is removed instead.
func fixAccount(b *accountBase, r *rootfs.FS, u passwdEntry, hash string) (accountFix, bool) {
	fx := accountFix{UID: u.UID, GID: u.GID, Shell: u.Shell}
	home := u.Home
	prev, hasPrev := b.prev[u.Name]
	prevShell := hasPrev && prev.UID == u.UID && prev.Shell != u.Shell && goodShell(r, prev.Shell)
	switch m, inMaster := b.master[u.Name]; {
	case u.Name == "root":
		// passwd.master says /bin/sh; installers give root bash.
		switch {
		case goodShell(r, u.Shell):
		case prevShell:
			fx.Shell, fx.Source = prev.Shell, "/etc/passwd- (the copy before the last change)"
		default:
			fx.Shell, fx.Source = "/bin/bash", "the default login shell"
		}
		fx.UID, fx.GID = 0, 0
	case inMaster:
		fx.UID, fx.GID, fx.Shell, fx.Source = m.UID, m.GID, m.Shell, "base-passwd's passwd.master"
		if inWritable(home+"/") || strings.HasPrefix(home, "/dev/shm") {
			home = m.Home
		}
	case u.UID == 0:
		return fx, false // a second root of no stock source: removed
	case prevShell:
		fx.Shell, fx.Source = prev.Shell, "/etc/passwd- (the copy before the last change)"
	case systemUID(u.UID):
		fx.Shell, fx.Source = nologin(r), "the distribution's default for system accounts"
	case b.cloud[u.Name].Shell != "" && goodShell(r, b.cloud[u.Name].Shell):
		fx.Shell, fx.Source = b.cloud[u.Name].Shell, "cloud-init's configuration of "+u.Name
	case goodShell(r, u.Shell):
		fx.Source = "its own shell (unchanged)"
	default:
		fx.Shell, fx.Source = "/bin/bash", "the default login shell"
	}
	if fx.Source == "" {
		fx.Source = "its own shell (unchanged)"
	}
	pass := u.Pass
	if pass == "" {
		pass = "x" // the hash lives in shadow
	}
	fx.Lock = systemUID(fx.UID) && usableHash(hash) || hash == ""
	fx.Line = strings.Join([]string{u.Name, pass, strconv.Itoa(fx.UID), strconv.Itoa(fx.GID), u.Gecos, home, fx.Shell}, ":")
	return fx, true
}

// usableHash: a shadow password field one can log in with.
func usableHash(h string) bool { return h != "" && h[0] != '*' && h[0] != '!' }

// nologin is the nologin program the root has.
func nologin(r *rootfs.FS) string {
	for _, p := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if fi, err := r.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return "/usr/sbin/nologin"
}

// goodShell: a shell one can put an account back to: a no-login program,
// or a file of a system program directory outside writable and hidden
// places that exists in the root.
func goodShell(r *rootfs.FS, sh string) bool {
	if noLoginShells[sh] && sh != "" {
		return true
	}
	if !strings.HasPrefix(sh, "/") || path.Clean(sh) != sh || judgePath(sh).sev > Info {
		return false
	}
	if h, _ := hiddenComponent(sh); h {
		return false
	}
	switch path.Dir(sh) {
	case "/bin", "/usr/bin", "/sbin", "/usr/sbin":
	default:
		return false
	}
	fi, err := r.Stat(sh)
	return err == nil && fi.Mode().IsRegular()
}
