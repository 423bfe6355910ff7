package persist

import (
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"golang.org/x/sys/unix"
)

// ---- accounts: /etc/passwd, /etc/shadow ----

var noLoginShells = map[string]bool{"/usr/sbin/nologin": true, "/sbin/nologin": true, "/bin/false": true, "/usr/bin/false": true,
	"/bin/sync": true, "/sbin/shutdown": true, "/sbin/halt": true, "/usr/sbin/shutdown": true, "/usr/sbin/halt": true, "/usr/bin/sync": true, "": true}

func (f *finder) findAccounts() {
	fl, ok := f.read("/etc/passwd", KindAccount, false)
	if !ok {
		return
	}
	f.users = parsePasswd(fl.data)
	hashes := map[string]string{}
	if sh, ok := f.read("/etc/shadow", KindAccount, false); ok {
		for _, e := range parseShadow(sh.data) {
			hashes[e.Name] = e.Hash
		}
	}
	seen := map[string]int{}
	for _, u := range f.users {
		var v verdict
		if u.Err != nil {
			v.add(Medium, "malformed passwd line: "+u.Err.Error())
			f.entry(fl, KindAccount, u.Line, u.Raw, u.Name, v, ActionRemoveLine)
			continue
		}
		_, dup := seen[u.Name]
		if dup {
			v.add(High, fmt.Sprintf("duplicate account name (first at line %d)", seen[u.Name]))
		}
		seen[u.Name] = u.Line
		m, inMaster := f.accts.master[u.Name]
		if u.UID == 0 && u.Name != "root" {
			r := "a second uid-0 account: full root under another name"
			if inMaster && m.UID != 0 {
				r += fmt.Sprintf(" (a stock account whose uid is %d)", m.UID)
			}
			v.add(Critical, r)
		}
		if u.Pass == "" {
			v.add(High, "no password in passwd: anyone can log in")
		}
		login := !noLoginShells[u.Shell]
		if login && len(f.shells) > 0 && !f.shells[u.Shell] {
			v.add(High, "login shell "+u.Shell+" is not listed in /etc/shells")
		}
		if u.Shell != "" {
			if jp := judgePath(u.Shell); jp.sev > Info {
				v.add(Critical, "login shell in a world-writable or hidden place: "+u.Shell)
			}
		}
		if login && systemUID(u.UID) && inMaster && noLoginShells[m.Shell] {
			// An administrator may give www-data a shell for deployments:
			// medium alone, high with a password to log in with.
			sev, r := Medium, "system account "+u.Name+" has the login shell "+u.Shell+"; its stock shell is "+m.Shell+" (base-passwd)"
			if usableHash(hashes[u.Name]) {
				sev, r = High, r+", and a usable password"
			}
			v.add(sev, r)
		}
		if pi, ok := f.prog(u.Shell); ok && login && f.db.present && !pi.owned {
			sev, what := Medium, "login shell "+u.Shell+" no package installed"
			if pi.elf {
				what += " (a copy of a shell?)"
			}
			if systemUID(u.UID) || u.UID == 0 {
				sev = High
			}
			if f.inWindow(pi.mtime, pi.ctime) {
				sev, what = raise(sev), what+", changed inside the incident window"
			}
			v.add(sev, what)
			v.refs = appendUnique(v.refs, pi.real)
		}
		if inWritable(u.Home+"/") || strings.HasPrefix(u.Home, "/dev/shm") {
			v.add(High, "home directory in a world-writable place: "+u.Home)
		}
		if h, ok := hashes[u.Name]; ok && login && h == "" {
			v.add(High, "empty password in shadow for an account with a login shell")
		}
		if login && systemUID(u.UID) {
			if h := hashes[u.Name]; usableHash(h) {
				v.add(Medium, "system account with a login shell and a usable password")
			}
		}
		if v.sev == Info {
			if u.UID < 1000 || !login {
				continue // system accounts that cannot log in: not worth listing
			}
			v.reasons = []string{fmt.Sprintf("login account uid=%d shell=%s home=%s", u.UID, u.Shell, u.Home)}
		}
		h, ok := hashes[u.Name]
		if !ok {
			h = "*"
		}
		action := f.accountAction(u, h, dup, &v)
		f.entry(fl, KindAccount, u.Line, u.Raw, u.Name, v, action)
	}
	// Homes of every account, for shell start-up files and ssh keys.
	seenHome := map[string]bool{}
	for _, u := range f.users {
		h := path.Clean("/" + u.Home)
		if u.Err != nil || h == "/" || h == "/nonexistent" || seenHome[h] || strings.HasPrefix(h, "/proc") || strings.HasPrefix(h, "/sys") {
			continue
		}
		if u.UID != 0 && u.UID < 1000 && noLoginShells[u.Shell] && !strings.HasPrefix(h, "/home/") {
			// Daemon accounts (www-data: /var/www) still get their keys
			// checked when the home exists.
			if _, err := f.fs.Stat(h + "/.ssh"); err != nil {
				continue
			}
		}
		seenHome[h] = true
		f.homes = append(f.homes, home{user: u.Name, dir: h})
	}
	if !seenHome["/root"] {
		f.homes = append(f.homes, home{user: "root", dir: "/root"})
	}
}

// accountAction says how a bad account is fixed, and adds the fix to the
// reasons: a duplicate line goes alone; a second uid-0 account of no stock
// source goes from passwd, shadow, group and gshadow; any other account
// is put back (shell, uid, a system account's password locked) and stays.
func (f *finder) accountAction(u passwdEntry, hash string, dup bool, v *verdict) Action {
	if v.sev == Info {
		return ActionNone
	}
	if dup {
		v.reasons = append(v.reasons, "fix: remove this duplicate line only")
		return ActionRemoveLine
	}
	fx, ok := fixAccount(f.accts, f.fs, u, hash)
	if !ok {
		v.reasons = append(v.reasons, "fix: remove the account from passwd, shadow, group and gshadow")
		return ActionRemoveAccount
	}
	var what []string
	if fx.Shell != u.Shell {
		what = append(what, "shell "+u.Shell+" -> "+fx.Shell)
	}
	if fx.UID != u.UID || fx.GID != u.GID {
		what = append(what, fmt.Sprintf("uid:gid %d:%d -> %d:%d", u.UID, u.GID, fx.UID, fx.GID))
	}
	if fx.Line != u.Raw && len(what) == 0 {
		what = append(what, "passwd line -> "+fx.Line)
	}
	if fx.Lock {
		what = append(what, "password locked in shadow")
	}
	if len(what) == 0 {
		v.reasons = append(v.reasons, "nothing to restore it to: review by hand")
		return ActionNone
	}
	v.reasons = append(v.reasons, "fix: restore the account ("+strings.Join(what, ", ")+"; from "+fx.Source+"), not delete it")
	return ActionRestoreAccount
}

func (f *finder) userExists(name string) (passwdEntry, bool) {
	for _, u := range f.users {
		if u.Name == name {
			return u, true
		}
	}
	return passwdEntry{}, false
}

// ---- cron ----

func (f *finder) findCron() {
	f.crontab("/etc/crontab", true, "")
	for _, e := range f.list("/etc/cron.d", KindCron) {
		f.crontab("/etc/cron.d/"+e.Name(), true, "")
	}
	for _, d := range []string{"hourly", "daily", "weekly", "monthly", "yearly"} {
		dir := "/etc/cron." + d
		for _, e := range f.list(dir, KindCron) {
			if fl, ok := f.read(dir+"/"+e.Name(), KindCron, false); ok {
				f.script(fl, KindCron, ActionQuarantine)
			}
		}
	}
	if fl, ok := f.read("/etc/anacrontab", KindCron, false); ok {
		for _, l := range parseAnacrontab(fl.data) {
			v := analyzeCommand(l.Command)
			if l.Err != nil {
				v.add(Low, "unparseable anacrontab line")
			}
			if l.Env && v.sev == Info {
				continue
			}
			f.entry(fl, KindCron, l.Line, l.Raw, "root", v, ActionRemoveLine)
		}
	}
	// Debian: /var/spool/cron/crontabs/<user>; RHEL: /var/spool/cron/<user>.
	for _, dir := range []string{"/var/spool/cron/crontabs", "/var/spool/cron", "/var/spool/cron/tabs"} {
		for _, e := range f.list(dir, KindCron) {
			if e.IsDir() || e.Name() == "crontabs" || e.Name() == "atjobs" || e.Name() == "atspool" || e.Name() == "tabs" || strings.HasPrefix(e.Name(), ".") && e.Name() != "." && (e.Name() == ".SEQ" || e.Name() == ".placeholder") {
				continue
			}
			f.crontab(dir+"/"+e.Name(), false, e.Name())
		}
	}
}

func (f *finder) crontab(p string, system bool, owner string) {
	fl, ok := f.read(p, KindCron, false)
	if !ok {
		return
	}
	if owner != "" {
		if _, ok := f.userExists(owner); !ok && len(f.users) > 0 {
			f.add(Finding{Path: p, Kind: KindCron, Severity: Medium, Action: ActionQuarantine,
				Reasons: []string{"crontab for a user not in /etc/passwd: " + owner}})
		}
	}
	if hasELF(fl.data) {
		f.add(Finding{Path: p, Kind: KindCron, Severity: High, Action: ActionQuarantine, Reasons: []string{"an ELF binary where a crontab belongs"}})
		return
	}
	for _, l := range parseCrontab(fl.data, system) {
		user := l.User
		if !system {
			user = owner
		}
		v := analyzeCommand(l.Command)
		if l.Err != nil {
			v.add(Low, "unparseable cron line: "+l.Err.Error())
		}
		if l.Env {
			if v.sev == Info {
				continue
			}
		} else if system && user != "" && len(f.users) > 0 {
			if _, ok := f.userExists(user); !ok {
				v.add(Medium, "runs as a user not in /etc/passwd: "+user)
			}
		}
		if f.db.present && !fl.owned && system && p != "/etc/crontab" && v.sev == Info {
			v.reasons = append(v.reasons, "not installed by any package")
		}
		f.entry(fl, KindCron, l.Line, l.Raw, user, v, ActionRemoveLine)
	}
}

// ---- at ----

func (f *finder) findAt() {
	for _, dir := range []string{"/var/spool/cron/atjobs", "/var/spool/at"} {
		for _, e := range f.list(dir, KindAt) {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if fl, ok := f.read(dir+"/"+e.Name(), KindAt, false); ok {
				f.script(fl, KindAt, ActionQuarantine)
			}
		}
	}
}

// ---- systemd ----

// /usr/lib before /lib: on a merged-/usr root the two are one directory,
// reported under its real name.
var systemUnitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}
var userUnitDirs = []string{"/etc/systemd/user", "/usr/lib/systemd/user", "/lib/systemd/user"}

func isUnitName(n string) bool {
	for _, s := range []string{".service", ".timer", ".socket", ".path", ".mount", ".target", ".automount"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

var reSecUnit = regexp.MustCompile(`(?i)^(apparmor|auditd|firewalld|ufw|aegis|aliyun|cloudmonitor|amazon-ssm-agent|snap\.amazon-ssm-agent\.amazon-ssm-agent|amazon-cloudwatch-agent|falcon-sensor|osqueryd|wazuh-agent|ossec|clamav-daemon|clamav-freshclam|rsyslog|systemd-journald|auditd)\.service$`)

func (f *finder) findSystemd() {
	sc := &unitScan{seen: map[string]bool{}, dirs: map[string]bool{}, linked: map[string]bool{}}
	dirs := append(append([]string{}, systemUnitDirs...), userUnitDirs...)
	for _, h := range f.homes {
		dirs = append(dirs, h.dir+"/.config/systemd/user")
	}
	for _, d := range dirs {
		if rel, err := f.fs.Resolve(d, true); err == nil {
			sc.dirs[rel] = true
		}
	}
	for _, d := range systemUnitDirs {
		f.unitDir(d, true, "", sc)
	}
	for _, d := range userUnitDirs {
		f.unitDir(d, true, "", sc)
	}
	for _, h := range f.homes {
		f.unitDir(h.dir+"/.config/systemd/user", false, h.user, sc)
	}
	f.triggers()
}

// unitScan is the state of one pass over the unit directories.
type unitScan struct {
	seen   map[string]bool // unit directories listed (resolved)
	dirs   map[string]bool // every unit directory (resolved), listed or not yet
	linked map[string]bool // files outside them already judged as units
}

func (f *finder) unitDir(dir string, system bool, user string, sc *unitScan) {
	rel, err := f.fs.Resolve(dir, true)
	if err != nil || sc.seen[rel] {
		return
	}
	sc.seen[rel] = true
	vendor := vendorUnitPath(dir + "/")
	for _, e := range f.list(dir, KindSystemd) {
		name := e.Name()
		p := dir + "/" + name
		switch {
		case e.IsDir() && (strings.HasSuffix(name, ".wants") || strings.HasSuffix(name, ".requires") || strings.HasSuffix(name, ".upholds")):
			f.wantsDir(p, user, sc)
		case e.IsDir() && strings.HasSuffix(name, ".d"):
			for _, c := range f.list(p, KindSystemd) {
				if strings.HasSuffix(c.Name(), ".conf") {
					if fl, ok := f.read(p+"/"+c.Name(), KindSystemd, true); ok {
						f.unitFile(fl, strings.TrimSuffix(name, ".d"), user, true, false, "")
					}
				}
			}
		case e.Type()&fs.ModeSymlink != 0 && isUnitName(name):
			target, _ := f.fs.Readlink(p)
			if target == "/dev/null" {
				if reSecUnit.MatchString(name) {
					f.add(Finding{Path: p, Kind: KindSystemd, Severity: High, Unit: name, Content: target, Action: ActionRemoveLink,
						Reasons: []string{"masks a security or logging service: " + name}})
				}
				continue
			}
			if v := judgePath(target); v.sev > Info {
				f.add(Finding{Path: p, Kind: KindSystemd, Severity: v.sev, Unit: name, Content: target, Action: ActionRemoveLink, Reasons: v.reasons})
			}
			f.linkedUnit(p, name, user, sc)
		case e.Type().IsRegular() && isUnitName(name):
			if fl, ok := f.read(p, KindSystemd, true); ok {
				f.unitFile(fl, name, user, false, vendor, "")
			}
		}
	}
}

func (f *finder) wantsDir(dir, user string, sc *unitScan) {
	for _, e := range f.list(dir, KindSystemd) {
		p := dir + "/" + e.Name()
		target, err := f.fs.Readlink(p)
		if err != nil {
			continue
		}
		var v verdict
		// A link into ~/.config/systemd/user is how user units are
		// enabled: only world-writable or hidden system places count.
		if tv := judgePath(target); tv.sev > Low {
			v.merge(tv)
		}
		if _, err := f.fs.Resolve(p, true); err != nil {
			v.add(High, "wants link cannot be resolved inside the root: "+err.Error())
		}
		if v.sev > Info {
			f.add(Finding{Path: p, Kind: KindSystemd, Severity: v.sev, Unit: e.Name(), Content: target, Action: ActionRemoveLink, Reasons: v.reasons})
		}
		f.linkedUnit(p, e.Name(), user, sc)
	}
}

// linkedUnit judges the file a unit link resolves to (within the root)
// when that file lies outside the unit directories: what `systemctl link
// /opt/x/x.service` makes. systemd loads the unit through the link, so the
// file is judged as the unit, and Plan quarantines it with its links.
func (f *finder) linkedUnit(link, name, user string, sc *unitScan) {
	if !isUnitName(name) {
		return
	}
	rel, err := f.fs.Resolve(link, true)
	if err != nil || sc.linked[rel] || sc.dirs[path.Dir(rel)] {
		return
	}
	fi, err := f.fs.Root().Lstat(rel)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	sc.linked[rel] = true
	fl, ok := f.read(rootfs.Abs(rel), KindSystemd, true)
	if !ok {
		return
	}
	f.unitFile(fl, name, user, false, false, link)
}

// vendorUnitPath: units (and drop-ins) the distribution's packages ship.
func vendorUnitPath(p string) bool {
	return strings.HasPrefix(p, "/usr/lib/systemd/") || strings.HasPrefix(p, "/lib/systemd/")
}

// overridesVendorUnit: a unit of the same name ships in a vendor
// directory, so this one is an administrator's full copy of a packaged
// unit (systemctl edit --full), not a unit of its own.
func (f *finder) overridesVendorUnit(name, user string) string {
	dirs := []string{"/usr/lib/systemd/system", "/lib/systemd/system"}
	if user != "" {
		dirs = []string{"/usr/lib/systemd/user", "/lib/systemd/user"}
	}
	for _, d := range dirs {
		if fi, err := f.fs.Stat(d + "/" + name); err == nil && fi.Mode().IsRegular() {
			return d + "/" + name
		}
	}
	return ""
}

// unitFile judges a unit or drop-in. A unit of the malware's own is
// disabled and quarantined, a drop-in of its own quarantined; but a unit
// a package ships (or an administrator's copy of one), or a packaged
// drop-in, only loses its bad lines: disabling ssh.service for one
// injected ExecStartPost= would lock the operator out at the next boot.
// linkedFrom is the link a unit outside the unit directories is loaded
// through.
func (f *finder) unitFile(fl *file, unit, user string, dropin, vendor bool, linkedFrom string) {
	if vendor && fl.stock {
		return // unchanged from its package: nothing to judge
	}
	var all verdict
	line := 0
	content := ""
	var bad []unitEntry
	var badV []verdict
	mainProg := ""
	for _, e := range parseUnit(fl.data) {
		var v verdict
		if e.Key == "ExecStart" && mainProg == "" {
			if ts := execTargets(execCommand(e.Value)); len(ts) > 0 {
				mainProg = ts[0]
			}
		}
		switch {
		case strings.HasPrefix(e.Key, "Exec"):
			v = analyzeCommand(execCommand(e.Value))
			f.programs(&v)
		case e.Key == "Environment" || e.Key == "EnvironmentFile" || e.Key == "PassEnvironment":
			v = analyzeCommand(e.Value)
			if strings.HasPrefix(e.Key, "EnvironmentFile") {
				v.merge(judgePath(strings.TrimLeft(e.Value, "-")))
			}
		case e.Key == "WorkingDirectory" || e.Key == "RootDirectory":
			if jv := judgePath(e.Value + "/"); jv.sev > Info {
				v.add(Medium, "works in a world-writable or hidden directory: "+e.Value)
			}
		}
		if v.sev > all.sev || (line == 0 && strings.HasPrefix(e.Key, "ExecStart")) {
			line = e.Line
			content = e.Key + "=" + e.Value
		}
		if v.sev > Info {
			bad = append(bad, e)
			badV = append(badV, v)
			all.merge(v)
		} else if v.sev > all.sev {
			all.sev = v.sev
		}
	}
	packaged, override := "", ""
	switch {
	case fl.owned:
		packaged = "package " + fl.pkg
	case vendorUnitPath(fl.path):
		packaged = "a vendor unit directory"
	case !dropin && linkedFrom == "":
		if override = f.overridesVendorUnit(unit, user); override != "" {
			packaged = "an override of the packaged " + override
		}
	}
	if packaged == "" && !dropin && len(bad) > 0 {
		// A healthy service with a line injected: its own program is
		// packaged, or neither the unit nor its program changed inside
		// the incident window. Only the bad lines go; disabling it would
		// take the service down at the next boot. Lines only noted (its
		// own program no package installed: low) are not among them.
		var b2 []unitEntry
		var v2 []verdict
		for i := range bad {
			if badV[i].sev >= Medium {
				b2, v2 = append(b2, bad[i]), append(v2, badV[i])
			}
		}
		if len(b2) > 0 && mainCommand(b2) < 0 {
			if packaged = f.healthyService(fl, mainProg); packaged != "" {
				bad, badV = b2, v2
			}
		}
	}
	if packaged != "" && len(bad) > 0 && !fl.stock {
		if i := mainCommand(bad); override != "" && i >= 0 {
			// The copy's main command is the malware's: without the copy
			// the packaged unit takes over again, still enabled.
			v := badV[i]
			fd := Finding{Path: fl.path, Line: bad[i].Line, Kind: KindSystemd, Severity: v.sev, Content: bad[i].Key + "=" + bad[i].Value, Referenced: v.refs,
				Unit: unit, User: user, Action: ActionQuarantine,
				Reasons: append(append([]string{}, v.reasons...), "a copy of the packaged "+override+" whose main command was replaced: the copy is quarantined, the packaged unit takes over and "+unit+" stays enabled")}
			f.noteRefs(fd)
			f.add(fd)
			return
		}
		f.unitLines(fl, unit, user, dropin, packaged, bad, badV)
		return
	}
	if all.sev == Info {
		if vendor && (fl.stock || !f.db.present || fl.owned) {
			if fl.owned && !fl.stock {
				// Changed, but no line of it reads as harmful: report,
				// never disable a packaged service for it.
				all.add(Medium, "vendor unit differs from the copy installed by package "+fl.pkg+": compare it with the package, reinstall "+fl.pkg+" to restore it")
				fd := Finding{Path: fl.path, Kind: KindSystemd, Severity: all.sev, Reasons: all.reasons, Unit: unit, User: user, Package: fl.pkg}
				f.add(fd)
			}
			return // vendor units: listed only when something is wrong
		}
		if vendor && f.db.present && !fl.owned {
			all.add(Low, "vendor unit not installed by any package")
		}
	}
	if dropin {
		all.reasons = append(all.reasons, "drop-in for "+unit)
	}
	if linkedFrom != "" {
		all.add(Low, "unit file outside the unit directories, loaded through the link "+linkedFrom+" (systemctl link)")
	}
	fd := Finding{Path: fl.path, Line: line, Kind: KindSystemd, Severity: all.sev, Reasons: all.reasons, Content: content,
		Referenced: all.refs, Unit: unit, User: user, Package: fl.pkg, Stock: fl.stock}
	if r, ok := f.since(fl); ok {
		fd.Reasons = append(fd.Reasons, r)
		if fd.Severity < Low {
			fd.Severity = Low
		}
	}
	if fd.Severity > Info && packaged == "" {
		if dropin {
			fd.Action = ActionQuarantine
		} else {
			fd.Action = ActionDisableUnit
		}
	}
	if fd.Reasons == nil {
		fd.Reasons = []string{kindInventory[KindSystemd]}
	}
	if !fd.Stock {
		f.noteRefs(fd)
	}
	f.add(fd)
}

// healthyService says why a unit of no package is a healthy service to
// keep enabled ("" when it is not): its main program is packaged, or
// with an incident window neither the unit nor its program changed
// inside it (unchanged since before the intrusion).
func (f *finder) healthyService(fl *file, prog string) string {
	if prog == "" {
		return ""
	}
	pi, ok := f.prog(prog)
	if !ok {
		return ""
	}
	if pi.owned {
		return "a service whose program " + prog + " is from package " + pi.pkg
	}
	if f.o.Since.IsZero() || fl.fi == nil || f.inWindow(fl.fi.ModTime(), ctimeOf(fl.fi)) || f.inWindow(pi.mtime, pi.ctime) {
		return ""
	}
	return "a service whose unit and program " + prog + " are unchanged since before the incident window"
}

// unitLines reports each bad directive of a packaged unit (with its
// continuation lines) as a line to remove; the unit stays, enabled.
func (f *finder) unitLines(fl *file, unit, user string, dropin bool, packaged string, bad []unitEntry, badV []verdict) {
	lines := splitLines(fl.data)
	fix := "reinstall the package that ships " + unit + " to restore it"
	if strings.HasPrefix(packaged, "a service ") {
		fix = "check the rest of the unit by hand"
	}
	if fl.owned {
		fix = "reinstall " + fl.pkg + " to restore it"
	}
	note := "unit from " + packaged + ": only this line goes, " + unit + " stays enabled; " + fix
	if dropin {
		note = "drop-in for " + unit + " from " + packaged + ": only this line goes, " + unit + " stays enabled; " + fix
	}
	for i, e := range bad {
		v := badV[i]
		last := unitDirectiveEnd(lines, e.Line)
		for n := e.Line; n <= last; n++ {
			reasons := append(append([]string{}, v.reasons...), note)
			if n > e.Line {
				reasons = append([]string{fmt.Sprintf("continues the directive of line %d", e.Line)}, reasons...)
			}
			fd := Finding{Path: fl.path, Line: n, Kind: KindSystemd, Severity: v.sev, Reasons: reasons, Content: lines[n-1],
				Referenced: v.refs, Unit: unit, User: user, Package: fl.pkg, Action: ActionRemoveLine}
			f.noteRefs(fd)
			f.add(fd)
		}
	}
}

// mainCommand returns the index of the first ExecStart= among bad
// directives, or -1.
func mainCommand(bad []unitEntry) int {
	for i, e := range bad {
		if e.Key == "ExecStart" {
			return i
		}
	}
	return -1
}

// unitDirectiveEnd returns the last line (1-based) of the directive that
// starts at line start: systemd joins a line ending in a backslash with
// the next, as parseUnit does.
func unitDirectiveEnd(lines []string, start int) int {
	n := start
	for n < len(lines) && n-start < 1000 && strings.HasSuffix(strings.TrimSpace(strings.TrimSuffix(lines[n-1], "\r")), "\\") {
		n++
	}
	return n
}

// ---- rc.local and init.d ----

func (f *finder) findRC() {
	for _, p := range []string{"/etc/rc.local", "/etc/rc.d/rc.local"} {
		fl, ok := f.read(p, KindRCLocal, p == "/etc/rc.d/rc.local" || p == "/etc/rc.local")
		if !ok {
			continue
		}
		if hasELF(fl.data) {
			f.add(Finding{Path: p, Kind: KindRCLocal, Severity: High, Action: ActionQuarantine, Reasons: []string{"an ELF binary where a script belongs"}})
			continue
		}
		f.lines(fl, KindRCLocal, "root")
	}
	for _, e := range f.list("/etc/init.d", KindInitd) {
		if e.IsDir() {
			continue
		}
		if fl, ok := f.read("/etc/init.d/"+e.Name(), KindInitd, true); ok {
			f.script(fl, KindInitd, ActionQuarantine)
		}
	}
}

// lines judges each line of a shell file on its own (rc.local, .bashrc):
// bad lines go, the rest stays byte-identical.
func (f *finder) lines(fl *file, kind Kind, user string) {
	any := false
	for i, line := range splitLines(fl.data) {
		v := analyzeCommand(line)
		f.programs(&v)
		if v.sev == Info {
			continue
		}
		any = true
		f.entry(fl, kind, i+1, line, user, v, ActionRemoveLine)
	}
	if !any {
		if r, ok := f.since(fl); ok {
			f.add(Finding{Path: fl.path, Kind: kind, Severity: Low, User: user, Reasons: []string{r}})
		}
	}
}

// ---- shell start-up files ----

var userShellFiles = []string{".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".cshrc", ".tcshrc", ".kshrc", ".config/fish/config.fish"}

func (f *finder) findShell() {
	for _, p := range []string{"/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zsh/zshrc", "/etc/zsh/zshenv", "/etc/zshrc", "/etc/csh.cshrc", "/etc/environment"} {
		if fl, ok := f.read(p, KindShellProfile, true); ok {
			f.lines(fl, KindShellProfile, "")
		}
	}
	for _, e := range f.list("/etc/profile.d", KindShellProfile) {
		if fl, ok := f.read("/etc/profile.d/"+e.Name(), KindShellProfile, true); ok {
			f.script(fl, KindShellProfile, ActionQuarantine)
		}
	}
	for _, h := range f.homes {
		for _, n := range userShellFiles {
			p := h.dir + "/" + n
			if fl, ok := f.read(p, KindShellProfile, true); ok {
				f.lines(fl, KindShellProfile, h.user)
			}
		}
	}
}

// ---- ssh keys ----

func (f *finder) findSSHKeys() {
	seenKey := map[string]string{}
	for _, h := range f.homes {
		for _, n := range []string{"authorized_keys", "authorized_keys2"} {
			p := h.dir + "/.ssh/" + n
			li, err := f.fs.Lstat(h.dir + "/.ssh")
			if err == nil && li.Mode()&fs.ModeSymlink != 0 {
				target, _ := f.fs.Readlink(h.dir + "/.ssh")
				f.add(Finding{Path: h.dir + "/.ssh", Kind: KindSymlink, Severity: High, User: h.user, Content: target, Action: ActionRemoveLink,
					Reasons: []string{"~/.ssh is a symbolic link (-> " + target + "): keys are not read through it"}})
				break
			}
			fl, ok := f.read(p, KindSSHKey, false)
			if !ok {
				continue
			}
			keys := parseAuthorizedKeys(fl.data)
			if len(keys) > 0 {
				f.keyFiles[p] = keys[len(keys)-1].Line
			}
			recent, recentReason := f.since(fl)
			for i, k := range keys {
				var v verdict
				if k.Err != nil {
					v.add(Low, "unparseable authorized_keys line")
				} else {
					fp := fingerprint(k.Blob)
					v.reasons = append(v.reasons, fmt.Sprintf("%s key %s %s", k.Type, fp, k.Comment))
					if other, dup := seenKey[fp]; dup && other != h.user {
						v.reasons = append(v.reasons, "same key also authorizes "+other)
					}
					seenKey[fp] = h.user
				}
				restricted := false
				if cmd, ok := optionValue(k.Options, "command"); ok {
					cv := analyzeCommand(cmd)
					v.merge(cv)
					restricted = cloudInitRestriction(cmd)
				}
				if n == "authorized_keys2" {
					v.add(Medium, "authorized_keys2: deprecated file favoured by malware")
				}
				if restricted && v.sev == Info {
					// cloud-init's "Please login as the user …" on root's
					// key: it prints a message and exits, whenever written.
					v.reasons = append(v.reasons, "cloud-init's root key restriction: prints a message and exits, no login")
				} else if recentReason {
					if i == len(keys)-1 {
						v.add(High, "last key of a file "+recent+": appended during the incident window?")
					} else {
						v.add(Medium, "key file "+recent)
					}
				}
				f.entry(&file{path: fl.path}, KindSSHKey, k.Line, k.Raw, h.user, v, ActionRemoveLine)
			}
		}
	}
}

// ---- ld.so.preload ----

func (f *finder) findPreload() {
	fl, ok := f.read("/etc/ld.so.preload", KindPreload, false)
	if !ok {
		return
	}
	for _, pl := range parsePreload(fl.data) {
		var v verdict
		for _, lib := range pl.Libs {
			v.add(High, "preloads "+lib+" into every process (rootkit technique)")
			v.merge(judgePath(lib))
			if jp := judgePath(lib); jp.sev > Info {
				v.add(Critical, "preloaded library in a world-writable or hidden place")
			}
			if f.db.present {
				if _, owned := f.db.lookup(lib); !owned {
					v.add(Critical, "preloaded library not installed by any package: "+lib)
				}
			}
			if strings.HasPrefix(lib, "/") {
				v.refs = appendUnique(v.refs, lib)
				if _, err := f.fs.Stat(lib); err != nil {
					v.reasons = append(v.reasons, "library missing: "+lib)
				}
			}
		}
		f.entry(fl, KindPreload, pl.Line, pl.Raw, "", v, ActionRemoveLine)
	}
}

// ---- /etc/hosts ----

var reSensitiveHost = regexp.MustCompile(`(?i)(aliyun|aegis|qcloud|tencent|baidubce|amazonaws\.com|ubuntu\.com|debian\.org|centos\.org|fedoraproject\.org|amazonlinux|github\.com|githubusercontent\.com|docker\.(com|io)|pypi\.org|clamav|virustotal|crowdstrike|sentinelone|microsoft\.com|google\.com|letsencrypt\.org|rubygems\.org|npmjs\.org|golang\.org)`)

func (f *finder) findHosts() {
	fl, ok := f.read("/etc/hosts", KindHosts, false)
	if !ok {
		return
	}
	hostname := ""
	if b, err := f.fs.ReadFile("/etc/hostname", 4096); err == nil {
		hostname = strings.TrimSpace(string(b))
	}
	for _, e := range parseHosts(fl.data) {
		addr, err := netip.ParseAddr(e.Addr)
		var v verdict
		if err != nil {
			v.add(Low, "unparseable address "+e.Addr)
			f.entry(fl, KindHosts, e.Line, e.Raw, "", v, ActionRemoveLine)
			continue
		}
		local := addr.IsLoopback() || addr.IsUnspecified()
		for _, n := range e.Names {
			ln := strings.ToLower(n)
			if ln == "localhost" || strings.HasPrefix(ln, "localhost") || strings.HasPrefix(ln, "ip6-") || ln == strings.ToLower(hostname) ||
				strings.HasPrefix(ln, strings.ToLower(hostname)+".") || !strings.Contains(ln, ".") || strings.HasSuffix(ln, ".local") ||
				strings.HasSuffix(ln, ".internal") || strings.HasSuffix(ln, ".localdomain") || strings.HasSuffix(ln, ".lan") {
				continue
			}
			switch {
			case rePoolHost.MatchString(ln):
				v.add(High, "pins a mining pool host: "+n)
			case reSensitiveHost.MatchString(ln) && local:
				v.add(High, "blackholes "+n+" (blocks updates or security tools)")
			case reSensitiveHost.MatchString(ln):
				v.add(High, "redirects "+n+" to "+e.Addr)
			case local:
				v.add(Low, "blackholes "+n)
			case addr.IsPrivate() || addr.IsLinkLocalUnicast():
				v.add(Info, "maps "+n+" to a private address")
			default:
				v.add(Low, "redirects "+n+" to "+e.Addr)
			}
		}
		if v.sev > Info {
			f.entry(fl, KindHosts, e.Line, e.Raw, "", v, ActionRemoveLine)
		}
	}
}

// ---- sudoers ----

func (f *finder) findSudoers() {
	f.sudoersFile("/etc/sudoers")
	for _, e := range f.list("/etc/sudoers.d", KindSudoers) {
		n := e.Name()
		if strings.Contains(n, ".") || strings.HasSuffix(n, "~") {
			continue // sudo skips these names
		}
		f.sudoersFile("/etc/sudoers.d/" + n)
	}
}

func (f *finder) sudoersFile(p string) {
	fl, ok := f.read(p, KindSudoers, false)
	if !ok {
		return
	}
	for _, sl := range parseSudoers(fl.data) {
		line, t := sl.Raw, sl.Settings
		var v verdict
		switch sl.Kind {
		case sudoInclude:
			if sl.Include != "" && sl.Include != "/etc/sudoers.d" {
				v.add(Low, "includes "+sl.Include)
			}
		case sudoDefaults:
			if strings.Contains(t, "!authenticate") {
				v.add(High, "turns off sudo authentication")
			}
			if strings.Contains(t, "LD_PRELOAD") || strings.Contains(t, "LD_LIBRARY_PATH") {
				v.add(High, "keeps a library-injection variable")
			}
			if strings.Contains(t, "!logfile") || strings.Contains(t, "!syslog") {
				v.add(Medium, "turns off sudo logging")
			}
		case sudoAlias:
		default:
			who, all, nopw := sl.Who, sl.All, sl.NoPasswd
			for _, c := range sl.Commands {
				v.merge(analyzeCommand(c))
			}
			switch {
			case who == "ALL" && all:
				v.add(Critical, "every user may run anything as root")
			case strings.HasPrefix(who, "%"):
				if nopw && all && who != "%sudo" && who != "%wheel" && who != "%admin" {
					v.add(Medium, "group "+who+" may run anything without a password")
				}
			case who == "root":
			default:
				u, ok := f.userExists(who)
				switch {
				case !ok && len(f.users) > 0:
					v.add(High, "grants sudo to "+who+", who is not in /etc/passwd")
				case ok && u.UID == 0 && all:
					v.add(High, "grants sudo to a second uid-0 account "+who)
				case ok && u.UID < 1000 && u.UID != 0 && all:
					v.add(High, "grants root to system account "+who)
				}
			}
			if v.sev == Info {
				v.reasons = []string{"sudo rule for " + who}
			}
		}
		if v.sev > Info || (f.db.present && !fl.owned && p != "/etc/sudoers") {
			f.entry(fl, KindSudoers, sl.Line, line, "", v, ActionRemoveLine)
		}
	}
}

// ---- udev ----

func (f *finder) findUdev() {
	seen := map[string]bool{}
	for _, dir := range []string{"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"} {
		rel, err := f.fs.Resolve(dir, true)
		if err != nil || seen[rel] {
			continue
		}
		seen[rel] = true
		for _, e := range f.list(dir, KindUdev) {
			if !strings.HasSuffix(e.Name(), ".rules") {
				continue
			}
			fl, ok := f.read(dir+"/"+e.Name(), KindUdev, true)
			if !ok {
				continue
			}
			var all verdict
			line, content := 0, ""
			for _, c := range parseUdevRules(fl.data) {
				if strings.HasPrefix(c.Key, "RUN{builtin}") || c.Key == "IMPORT{builtin}" {
					continue // a udev builtin (kmod load, path_id): no program
				}
				cmd := f.udevProgram(c.Command)
				v := analyzeCommand(cmd)
				f.programs(&v)
				if v.sev > all.sev {
					line, content = c.Line, c.Key+"+=\""+c.Command+"\""
				}
				all.merge(v)
			}
			if all.sev > Info {
				for i := range all.reasons {
					all.reasons[i] = "RUN: " + all.reasons[i]
				}
				f.entry(fl, KindUdev, line, content, "root", all, ActionQuarantine)
			}
		}
	}
}

// udevDirs is where udev looks for a RUN/PROGRAM program named without a
// slash (its own libexec directory; /lib/udev on older, split-/usr
// systems).
var udevDirs = []string{"/usr/lib/udev/", "/lib/udev/"}

// udevProgram returns cmd with a program named without a slash replaced
// by the file udev would run, when one is there: RUN+="helper" runs
// /usr/lib/udev/helper (sedexp hides there).
func (f *finder) udevProgram(cmd string) string {
	t := strings.TrimLeft(cmd, " \t")
	prog, rest, _ := strings.Cut(t, " ")
	if prog == "" || strings.ContainsAny(prog, "/$%") {
		return cmd
	}
	for _, d := range udevDirs {
		if fi, err := f.fs.Stat(d + prog); err == nil && fi.Mode().IsRegular() {
			if rest != "" {
				return d + prog + " " + rest
			}
			return d + prog
		}
	}
	return cmd
}

// ---- update-motd.d ----

func (f *finder) findMotd() {
	for _, e := range f.list("/etc/update-motd.d", KindMotd) {
		if fl, ok := f.read("/etc/update-motd.d/"+e.Name(), KindMotd, true); ok {
			f.script(fl, KindMotd, ActionQuarantine)
		}
	}
}

// ---- binaries dropped in world-writable places ----

// tempDirs are the world-writable trees walked for dropped binaries.
var tempDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

func (f *finder) findTemp() {
	walked := map[string]bool{}
	for _, dir := range tempDirs {
		if f.tempLink(dir) {
			continue
		}
		rel, err := f.fs.Resolve(dir, true)
		if err != nil || walked[rel] {
			continue // a link above it leads to a tree already walked
		}
		walked[rel] = true
		n := 0
		f.walkTemp(dir, 0, &n)
		if n > f.o.MaxTempEntries {
			f.add(Finding{Path: dir, Kind: KindDroppedBinary, Severity: Low,
				Reasons: []string{fmt.Sprintf("walk stopped after %d entries: examine the rest by hand", f.o.MaxTempEntries)}})
		}
	}
}

// tempLink reports a temp directory that is itself a symbolic link and
// tells findTemp not to walk it. /tmp -> / planted by malware would make
// the walk read the whole root as "dropped" files (/tmp/usr/bin/…) and
// plan to quarantine the system's own binaries. A link to another temp
// directory (/var/tmp -> /tmp) is walked there, not twice.
func (f *finder) tempLink(dir string) bool {
	li, err := f.fs.Lstat(dir)
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	target, _ := f.fs.Readlink(dir)
	where := "cannot be resolved inside the root"
	if rel, err := f.fs.Resolve(dir, true); err == nil {
		real := rootfs.Abs(rel)
		for _, d := range tempDirs {
			if real == d && d != dir {
				f.add(Finding{Path: dir, Kind: KindSymlink, Severity: Info, Content: target,
					Reasons: []string{"world-writable directory " + dir + " is a link to " + d + ", examined there"}})
				return true
			}
		}
		where = "resolves to " + real + " inside the root"
	} else {
		where += ": " + err.Error()
	}
	f.add(Finding{Path: dir, Kind: KindSymlink, Severity: High, Action: ActionRemoveLink, Content: target,
		Reasons: []string{fmt.Sprintf("planted symbolic link: world-writable directory %s is a link (-> %s, %s); not walked. Remove the link and recreate %s as a directory (mode 1777)", dir, target, where, dir)}})
	return true
}

// walkTemp walks a world-writable tree with *at system calls on open
// directory descriptors: each name is a single component opened with
// O_NOFOLLOW beneath a directory already held open, so nothing can lead
// the walk out of the tree, and no path is resolved twice.
func (f *finder) walkTemp(dir string, depth int, n *int) {
	rel, err := f.fs.Resolve(dir, true)
	if err != nil {
		return
	}
	d, err := f.fs.OpenRel(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	f.walkTempFD(d, dir, depth, n)
}

func (f *finder) walkTempFD(d *os.File, dir string, depth int, n *int) {
	defer d.Close()
	if depth > 12 || *n > f.o.MaxTempEntries || f.ctx.Err() != nil {
		return
	}
	ents, err := d.ReadDir(f.o.MaxTempEntries + 1 - *n)
	if err != nil && len(ents) == 0 {
		return
	}
	dfd := int(d.Fd())
	for _, e := range ents {
		*n++
		if *n > f.o.MaxTempEntries {
			return
		}
		p := dir + "/" + e.Name()
		switch {
		case e.IsDir():
			fd, err := unix.Openat(dfd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
			if err != nil {
				fd, err = unix.Openat(dfd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
			if err == nil {
				f.walkTempFD(os.NewFile(uintptr(fd), p), p, depth+1, n)
			}
		case e.Type().IsRegular():
			f.tempFile(dfd, e.Name(), p)
		}
	}
}

// tempFile judges one regular file in a world-writable tree. Only files
// that can run (an execute bit) or sit in a hidden path are opened.
func (f *finder) tempFile(dfd int, name, p string) {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	hidden, _ := hiddenComponent(strings.TrimPrefix(p, "/tmp/.X11-unix"))
	hidden = hidden || strings.Contains(p, "/.")
	exec := st.Mode&0o111 != 0
	if !exec && !hidden || st.Size < 4 {
		return
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	if err != nil {
		fd, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
	}
	fh := os.NewFile(uintptr(fd), p)
	defer fh.Close()
	head := make([]byte, 4)
	k, _ := fh.ReadAt(head, 0)
	head = head[:k]
	var v verdict
	switch {
	case hasELF(head):
		// Build trees and installers leave binaries in /tmp too: on its own
		// an ELF there is medium; hidden, or run by a persistence entry
		// (merged in from the referenced-file check), it is acted on.
		v.add(Medium, "ELF binary dropped in a world-writable directory")
		if hidden {
			v.add(Critical, "ELF binary in a hidden path")
		}
		if mt, ct := statTimes(&st); f.inWindow(mt, ct) {
			// kdevtmpfsi, khugepageds: a program written to /tmp during
			// the incident is the incident's, run by an entry or not.
			v.add(High, "ELF binary written inside the incident window")
		}
	case hasShebang(head) && exec:
		v.add(Low, "executable script in a world-writable directory")
		// Checkouts and build trees under /tmp are full of scripts, hidden
		// ones too (.git/hooks/*.sample, .ci/run): a script is judged by
		// what it does. A persistence entry that runs it makes it a
		// referenced file of its own, acted on as before.
		cv, complete := f.tempScript(fh)
		switch {
		case cv.sev >= Medium:
			if hidden {
				v.add(High, "executable script in a hidden path")
			} else {
				v.add(High, "executable script in a world-writable directory that does harm")
			}
			v.merge(cv)
		case hidden && !complete:
			v.add(High, "executable script in a hidden path, too large to examine whole")
		case hidden:
			v.add(Medium, "executable script in a hidden path (its lines look harmless; acted on when an entry runs it)")
		}
	case exec && hidden:
		v.add(Medium, "executable file in a hidden path")
	default:
		return
	}
	if fl, err := rootfs.Flags(fh); err == nil {
		f.checkFlags(p, KindDroppedBinary, fl)
	}
	mt := time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
	v.reasons = append(v.reasons, fmt.Sprintf("size %d, mode %v, uid %d, modified %s", st.Size, fs.FileMode(st.Mode&0o7777).Perm(), st.Uid, mt.Format("2006-01-02T15:04:05Z")))
	f.add(Finding{Path: p, Kind: KindDroppedBinary, Severity: v.sev, Reasons: v.reasons, Action: ActionQuarantine})
}

// maxTempScript bounds what is read of a script in a temp directory.
const maxTempScript = 1 << 20

// tempScript judges the lines of a script found in a temp directory;
// complete is false when it is larger than maxTempScript.
func (f *finder) tempScript(fh *os.File) (v verdict, complete bool) {
	limit := int64(maxTempScript)
	if f.o.MaxFileBytes < limit {
		limit = f.o.MaxFileBytes
	}
	data, err := io.ReadAll(io.NewSectionReader(fh, 0, limit+1))
	if err != nil || int64(len(data)) > limit {
		return v, false
	}
	v, _ = lineVerdictsWith(splitLines(data), analyzeTempLine)
	return v, true
}
