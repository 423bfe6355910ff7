package persist

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ---- /etc/group: who holds root-equivalent groups ----

// groupEntry is one line of /etc/group.
type groupEntry struct {
	Line    int
	Raw     string
	Name    string
	GID     int
	Members []string
	Err     error
}

// parseGroup parses /etc/group (name:password:gid:member,member).
func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for i, raw := range splitLines(data) {
		t := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if t == "" || t[0] == '#' {
			continue
		}
		e := groupEntry{Line: i + 1, Raw: raw}
		f := strings.Split(t, ":")
		if len(f) != 4 || f[0] == "" {
			e.Err = errPasswdFields
			out = append(out, e)
			continue
		}
		e.Name = f[0]
		gid, err := strconv.Atoi(f[2])
		if err != nil || gid < 0 {
			e.Err = errPasswdID
		}
		e.GID = gid
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				e.Members = append(e.Members, m)
			}
		}
		out = append(out, e)
	}
	return out
}

// rootGroups give root or its equivalent to their members (sudo rules,
// the Docker socket, raw disks, /etc/shadow); logGroups read the logs.
var rootGroups = map[string]bool{"root": true, "sudo": true, "wheel": true, "admin": true, "docker": true, "lxd": true, "disk": true, "shadow": true}
var logGroups = map[string]bool{"adm": true, "systemd-journal": true}

// newAccounts returns the login accounts whose home directory was created
// inside the incident window (an account added by the intrusion; the
// operator's accounts date from the image or from before the window).
func (f *finder) newAccounts() map[string]string {
	out := map[string]string{}
	if f.o.Since.IsZero() {
		return out
	}
	for _, u := range f.users {
		if u.Err != nil || u.UID < 1000 && u.UID != 0 || u.Name == "root" || noLoginShells[u.Shell] {
			continue
		}
		if _, stock := f.accts.cloud[u.Name]; stock {
			continue // the image's default user: made at first boot
		}
		fi, err := f.fs.Lstat(u.Home)
		if err != nil || !fi.IsDir() {
			continue
		}
		mt := fi.ModTime()
		ct := mt
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ct = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
		}
		if f.inWindow(mt, ct) {
			out[u.Name] = fmt.Sprintf("home %s of %s created %s, inside the incident window", u.Home, u.Name, mt.UTC().Format(time.RFC3339))
		}
	}
	return out
}

func (f *finder) findGroups() {
	fl, ok := f.read("/etc/group", KindAccount, false)
	if !ok {
		return
	}
	fresh := f.newAccounts()
	prev := f.prevGroups(fl)
	seen := map[string]int{}
	for _, g := range parseGroup(fl.data) {
		var v verdict
		if g.Err != nil {
			v.add(Medium, "malformed group line: "+g.Err.Error())
			f.entry(fl, KindAccount, g.Line, g.Raw, "", v, ActionRemoveLine)
			continue
		}
		if n, dup := seen[g.Name]; dup {
			v.add(High, fmt.Sprintf("duplicate group name (first at line %d)", n))
		}
		seen[g.Name] = g.Line
		wholeLine := false // the group itself is bad, not only a member of it
		if g.GID == 0 && g.Name != "root" {
			v.add(Critical, "a second gid-0 group: root's group under another name")
			wholeLine = true
		}
		if v.sev > Info {
			wholeLine = true // a duplicate name
		}
		var bad []string // members to take out
		for _, m := range g.Members {
			if f.accts.stockMember(g.Name, m) {
				continue // cloud-init puts the image's default user there
			}
			var mv verdict
			u, known := f.userExists(m)
			switch {
			case !known && len(f.users) > 0:
				mv.add(High, "member "+m+" of group "+g.Name+" is not in /etc/passwd")
			case rootGroups[g.Name] && known && systemUID(u.UID) && u.UID != 65534:
				mv.add(High, "system account "+m+" is a member of the root-equivalent group "+g.Name)
			}
			if r, isNew := fresh[m]; isNew {
				switch {
				case rootGroups[g.Name]:
					mv.add(High, m+" is a member of the root-equivalent group "+g.Name+" and its "+r)
				case logGroups[g.Name]:
					mv.add(Medium, m+" is a member of "+g.Name+" and its "+r)
				}
			}
			if mv.sev > Info {
				bad = append(bad, m)
				v.merge(mv)
			}
		}
		if r, isNew := fresh[g.Name]; isNew && len(g.Members) == 0 {
			v.add(Medium, "the group of an account whose "+r)
			wholeLine = true
		}
		if prev != nil {
			if old, ok := prev[g.Name]; !ok {
				v.add(Medium, "group "+g.Name+" added by the last change of /etc/group, inside the incident window (not in /etc/group-, the copy before it)")
				wholeLine = true
			} else {
				for _, m := range g.Members {
					if !contains(old, m) && !f.accts.stockMember(g.Name, m) {
						v.add(Medium, m+" added to "+g.Name+" by the last change of /etc/group, inside the incident window (not in /etc/group-)")
						bad = appendUnique(bad, m)
					}
				}
			}
		}
		if v.sev > Info {
			// Removing the line of a group with a bad member would take
			// the group from every other member too (sudo:x:27:admin,hilde):
			// only the member goes, from group and gshadow.
			action := ActionRemoveLine
			if !wholeLine {
				action = ActionRemoveMember
				v.reasons = append(v.reasons, "fix: take "+strings.Join(bad, ", ")+" out of the member list of "+g.Name+" (group and gshadow); the group stays")
			}
			before := len(f.out)
			f.entry(fl, KindAccount, g.Line, g.Raw, "", v, action)
			if !wholeLine {
				for i := before; i < len(f.out); i++ {
					f.out[i].Members = bad
				}
			}
		}
	}
}

// prevGroups returns the groups and members of /etc/group- (the copy
// shadow's tools leave before a change) when /etc/group changed inside
// the incident window and the copy is older: what the last change added
// shows against it. nil otherwise.
func (f *finder) prevGroups(cur *file) map[string][]string {
	if f.o.Since.IsZero() || cur.fi == nil || !cur.fi.ModTime().After(f.o.Since) {
		return nil
	}
	fi, err := f.fs.Stat("/etc/group-")
	if err != nil || !fi.Mode().IsRegular() || fi.ModTime().After(cur.fi.ModTime()) {
		return nil
	}
	data, err := f.fs.ReadFile("/etc/group-", f.o.MaxFileBytes)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, g := range parseGroup(data) {
		if g.Err == nil {
			out[g.Name] = append(out[g.Name], g.Members...)
		}
	}
	return out
}

// accountLines marks the passwd lines of accounts created inside the
// window (removed from passwd, shadow, group and gshadow), and lists
// shadow's line of every account judged bad in passwd (Plan changes it
// with the passwd line).
func (f *finder) accountLines() {
	fresh := f.newAccounts()
	bad := map[string]Finding{}
	for _, fd := range f.out {
		if fd.Path == "/etc/passwd" && fd.Kind == KindAccount && fd.Severity >= Medium && fd.User != "" {
			if old, ok := bad[fd.User]; !ok || fd.Severity > old.Severity {
				bad[fd.User] = fd
			}
		}
	}
	if pw, ok := f.read("/etc/passwd", KindAccount, false); ok {
		for _, u := range parsePasswd(pw.data) {
			if r, isNew := fresh[u.Name]; isNew && u.Err == nil {
				var v verdict
				v.add(Medium, "login account added inside the incident window: "+r)
				if g := f.rootGroupsOf(u.Name); len(g) > 0 {
					v.add(High, "and a member of the root-equivalent group "+strings.Join(g, ", ")+": a way back in as root")
				}
				v.reasons = append(v.reasons, "fix: remove the account from passwd, shadow, group and gshadow")
				fd := Finding{Path: pw.path, Line: u.Line, Kind: KindAccount, Severity: v.sev, Reasons: v.reasons, Content: u.Raw, User: u.Name, Action: ActionRemoveAccount}
				f.add(fd)
				if _, ok := bad[u.Name]; !ok {
					bad[u.Name] = fd
				}
			}
		}
	}
	if len(bad) == 0 {
		return
	}
	sh, ok := f.read("/etc/shadow", KindAccount, false)
	if !ok {
		return
	}
	for _, e := range parseShadow(sh.data) {
		src, ok := bad[e.Name]
		if !ok {
			continue
		}
		lines := splitLines(sh.data)
		// Plan changes this line with the account's passwd line (the
		// finding there says how): no action of its own.
		f.add(Finding{Path: sh.path, Line: e.Line, Kind: KindAccount, Severity: src.Severity, Content: lines[e.Line-1], User: e.Name,
			Reasons: []string{fmt.Sprintf("password entry of %s, judged %s in /etc/passwd:%d: %s", e.Name, src.Severity, src.Line, strings.Join(src.Reasons, "; "))}})
	}
}

// rootGroupsOf lists the root-equivalent groups (sudo, wheel, docker …)
// whose member list in /etc/group names user, stock memberships left out.
func (f *finder) rootGroupsOf(user string) []string {
	data, err := f.fs.ReadFile("/etc/group", f.o.MaxFileBytes)
	if err != nil {
		return nil
	}
	var out []string
	for _, g := range parseGroup(data) {
		if g.Err != nil || !rootGroups[g.Name] || f.accts.stockMember(g.Name, user) {
			continue
		}
		for _, m := range g.Members {
			if m == user {
				out = appendUnique(out, g.Name)
			}
		}
	}
	return out
}

// ---- timers, paths and sockets that start a bad unit ----

// triggers gives a timer, path or socket unit the severity and action of
// the service it starts (Unit=, else the service of the same name) when
// that service is judged high: the bot.timer of a bot.service starts it
// again after the service is disabled.
func (f *finder) triggers() {
	units := map[string]Finding{}
	for _, fd := range f.out {
		if fd.Kind == KindSystemd && fd.Unit != "" && fd.Severity >= High && fd.Action == ActionDisableUnit {
			units[fd.Unit] = fd
		}
	}
	if len(units) == 0 {
		return
	}
	for i := range f.out {
		fd := &f.out[i]
		if fd.Kind != KindSystemd || fd.Severity >= High || vendorUnitPath(fd.Path) {
			continue
		}
		var target string
		for _, suf := range []string{".timer", ".path", ".socket"} {
			if strings.HasSuffix(fd.Unit, suf) {
				target = strings.TrimSuffix(fd.Unit, suf) + ".service"
			}
		}
		if target == "" {
			continue
		}
		if data, err := f.fs.ReadFile(fd.Path, f.o.MaxFileBytes); err == nil {
			for _, e := range parseUnit(data) {
				if e.Key == "Unit" {
					target = strings.TrimSpace(e.Value)
				}
			}
		}
		src, ok := units[target]
		if !ok {
			continue
		}
		fd.Severity = src.Severity
		fd.Action = ActionDisableUnit
		fd.Reasons = appendUnique(fd.Reasons, fmt.Sprintf("starts %s (%s), judged %s", target, src.Path, src.Severity))
	}
}
