package persist

import (
	"strings"
	"time"
)

// The account files: an account lives in all four, and Plan changes them
// together (Change.Set "accounts"): Apply makes the set's changes one
// after the other, each file replaced atomically, and if one of them
// cannot be made it puts back those it made, so that an account is never
// left half removed. After a crash between two of them, the manifest
// holds the ones made and Restore puts them back exactly.
var accountFiles = map[string]bool{"/etc/passwd": true, "/etc/shadow": true, "/etc/group": true, "/etc/gshadow": true}

// SetAccounts is Change.Set of the changes to passwd, shadow, group and
// gshadow.
const SetAccounts = "accounts"

// AccountChange is one account Plan changes, across passwd, shadow, group
// and gshadow: removed (a second uid-0 account, an account added by the
// intrusion) or restored (a system account whose shell the malware
// changed keeps its name and uid and gets its stock shell back).
type AccountChange struct {
	User string `json:"user"`
	// Op is "remove" (the account's lines, its own group, its name in
	// other groups' member lists) or "restore" (the passwd line put back
	// to New, the password locked when LockPassword).
	Op           string   `json:"op"`
	Line         string   `json:"line"`          // the passwd line now
	New          string   `json:"new,omitempty"` // restore: the passwd line after
	Source       string   `json:"source,omitempty"`
	LockPassword bool     `json:"lock_password,omitempty"`
	Files        []string `json:"files"` // the files the change touches
	Severity     Severity `json:"severity"`
	Reasons      []string `json:"reasons"`
}

// acctFile is an account file as Plan read it.
type acctFile struct {
	lines []string
}

// acctLines returns the lines of an account file (nil when missing).
func (p *planner) acctLines(path string) []string {
	if p.acct == nil {
		p.acct = map[string]*acctFile{}
	}
	if a, ok := p.acct[path]; ok {
		return a.lines
	}
	a := &acctFile{}
	if data, err := p.fs.ReadFile(path, maxLineFile); err == nil {
		a.lines = splitLines(data)
	}
	p.acct[path] = a
	return a.lines
}

// editLine plans a change of one line: edit gets the line as planned so
// far and returns the new line, or remove. Edits of one line compose; a
// removed line stays removed. A line that edit leaves as it was is not
// planned.
func (p *planner) editLine(path string, line int, orig string, f Finding, edit func(cur string) (string, bool)) bool {
	c := p.change(path, OpRemoveLines, f)
	if accountFiles[path] {
		c.Set = SetAccounts
	}
	if c.Op != OpRemoveLines {
		return false // the whole file goes anyway
	}
	idx := -1
	cur := orig
	for i, l := range c.Lines {
		if l.Line == line {
			if l.New == nil {
				return true // removed already
			}
			idx, cur = i, *l.New
		}
	}
	next, remove := edit(cur)
	switch {
	case remove && idx >= 0:
		c.Lines[idx].New = nil
	case remove:
		c.Lines = append(c.Lines, LineChange{Line: line, Content: orig})
	case next == orig && idx >= 0:
		c.Lines = append(c.Lines[:idx], c.Lines[idx+1:]...)
	case next == orig:
		return false
	case idx >= 0:
		c.Lines[idx].New = &next
	default:
		c.Lines = append(c.Lines, LineChange{Line: line, Content: orig, New: &next})
	}
	return true
}

func removeIt(string) (string, bool) { return "", true }

// lineNamed returns the 1-based line of the entry called name in an
// account file (name:…), 0 when absent or not unique.
func lineNamed(lines []string, name string) int {
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(l, name+":") {
			if n != 0 {
				return 0
			}
			n = i + 1
		}
	}
	return n
}

// dropListed returns line with the names in drop taken out of the comma
// lists in the given colon-separated fields (group: 3; gshadow: 2 and 3,
// the administrators and the members). A line without those fields is
// returned as it is.
func dropListed(line string, drop map[string]bool, fields ...int) string {
	body, cr := strings.CutSuffix(line, "\r")
	f := strings.Split(body, ":")
	for _, i := range fields {
		if i >= len(f) {
			continue
		}
		var keep []string
		for _, m := range strings.Split(f[i], ",") {
			if t := strings.TrimSpace(m); t != "" && !drop[t] {
				keep = append(keep, m)
			}
		}
		f[i] = strings.Join(keep, ",")
	}
	out := strings.Join(f, ":")
	if cr {
		out += "\r"
	}
	return out
}

// listed reports whether name is in the comma list of field i of line.
func listed(line, name string, i int) bool {
	f := strings.Split(strings.TrimSuffix(line, "\r"), ":")
	if i >= len(f) {
		return false
	}
	for _, m := range strings.Split(f[i], ",") {
		if strings.TrimSpace(m) == name {
			return true
		}
	}
	return false
}

// planAccount plans a remove-account or restore-account finding (a line
// of /etc/passwd).
func (p *planner) planAccount(f Finding) {
	pw := p.acctLines("/etc/passwd")
	if f.Path != "/etc/passwd" || f.User == "" || f.Line < 1 || f.Line > len(pw) || pw[f.Line-1] != f.Content {
		p.log.Warn("persist: plan: account line changed since Find; left alone", "path", f.Path, "line", f.Line, "user", f.User)
		return
	}
	var u passwdEntry
	for _, e := range parsePasswd([]byte(f.Content)) {
		u = e
	}
	if u.Err != nil || u.Name != f.User {
		return
	}
	ac := AccountChange{User: u.Name, Line: f.Content, Severity: f.Severity, Reasons: f.Reasons}
	touched := map[string]bool{}
	mark := func(path string, ok bool) {
		if ok && !touched[path] {
			touched[path] = true
			ac.Files = append(ac.Files, path)
		}
	}
	unique := lineNamed(pw, u.Name) == f.Line
	shadow := p.acctLines("/etc/shadow")
	sline := 0
	if unique {
		sline = lineNamed(shadow, u.Name)
	}
	hash := "*"
	if sline > 0 {
		if e := parseShadow([]byte(shadow[sline-1])); len(e) == 1 {
			hash = e[0].Hash
		}
	}
	if p.base == nil {
		p.base = loadAccountBase(p.fs, time.Time{}, maxLineFile, nil)
	}
	fx, restorable := fixAccount(p.base, p.fs, u, hash)
	if f.Action == ActionRestoreAccount && restorable {
		ac.Op, ac.New, ac.Source, ac.LockPassword = "restore", fx.Line, fx.Source, fx.Lock
		af := f
		af.Reasons = append(append([]string{}, f.Reasons...), "restored to "+fx.Line+" (from "+fx.Source+")")
		mark("/etc/passwd", p.editLine("/etc/passwd", f.Line, f.Content, af, func(cur string) (string, bool) {
			if cur != f.Content {
				return cur, false // another change of this line planned: keep it
			}
			return fx.Line, false
		}))
		if fx.Lock && sline > 0 {
			sf := f
			sf.Path, sf.Reasons = "/etc/shadow", []string{"password of " + u.Name + " locked (\"!\" before the hash)"}
			mark("/etc/shadow", p.editLine("/etc/shadow", sline, shadow[sline-1], sf, func(cur string) (string, bool) {
				name, rest, ok := strings.Cut(cur, ":")
				if !ok || strings.HasPrefix(rest, "!") || strings.HasPrefix(rest, "*") {
					return cur, false
				}
				return name + ":!" + rest, false
			}))
		}
		p.plan.Accounts = append(p.plan.Accounts, ac)
		return
	}
	if f.Action != ActionRemoveAccount {
		// Find asked to restore it and there is nothing to restore it
		// to now: an account is never removed unless Find said so.
		p.log.Warn("persist: plan: no stock values to restore the account to; left alone", "user", u.Name)
		return
	}
	ac.Op = "remove"
	rf := f
	rf.Reasons = append(append([]string{}, f.Reasons...), "account "+u.Name+" removed")
	mark("/etc/passwd", p.editLine("/etc/passwd", f.Line, f.Content, rf, removeIt))
	if !unique {
		// Two lines of one name: only this line goes; the other's shadow
		// and group entries are that account's.
		p.plan.Accounts = append(p.plan.Accounts, ac)
		return
	}
	if sline > 0 {
		sf := f
		sf.Path, sf.Reasons = "/etc/shadow", []string{"shadow entry of removed account " + u.Name}
		mark("/etc/shadow", p.editLine("/etc/shadow", sline, shadow[sline-1], sf, removeIt))
	}
	drop := map[string]bool{u.Name: true}
	group := p.acctLines("/etc/group")
	ownGroup := ""
	for i, l := range group {
		g := parseGroup([]byte(l))
		if len(g) != 1 || g[0].Err != nil {
			continue
		}
		gf := f
		gf.Path = "/etc/group"
		own := g[0].Name == u.Name && g[0].GID == u.GID && lineNamed(group, g[0].Name) == i+1
		if own {
			for _, m := range g[0].Members {
				own = own && m == u.Name
			}
		}
		switch {
		case own:
			ownGroup = g[0].Name
			gf.Reasons = []string{"own group of removed account " + u.Name}
			mark("/etc/group", p.editLine("/etc/group", i+1, l, gf, removeIt))
		case listed(l, u.Name, 3):
			gf.Reasons = []string{"removed account " + u.Name + " taken out of the member list of " + g[0].Name}
			mark("/etc/group", p.editLine("/etc/group", i+1, l, gf, func(cur string) (string, bool) { return dropListed(cur, drop, 3), false }))
		}
	}
	for i, l := range p.acctLines("/etc/gshadow") {
		name, _, _ := strings.Cut(l, ":")
		gf := f
		gf.Path = "/etc/gshadow"
		switch {
		case ownGroup != "" && name == ownGroup:
			gf.Reasons = []string{"own group of removed account " + u.Name}
			mark("/etc/gshadow", p.editLine("/etc/gshadow", i+1, l, gf, removeIt))
		case listed(l, u.Name, 2) || listed(l, u.Name, 3):
			gf.Reasons = []string{"removed account " + u.Name + " taken out of the administrators and members of " + name}
			mark("/etc/gshadow", p.editLine("/etc/gshadow", i+1, l, gf, func(cur string) (string, bool) { return dropListed(cur, drop, 2, 3), false }))
		}
	}
	p.plan.Accounts = append(p.plan.Accounts, ac)
}

// planGroupLine plans a finding on a line of /etc/group: a whole group
// (a second gid-0 group) goes with its gshadow line; remove-member takes
// the finding's members out of the group's lists in both files.
func (p *planner) planGroupLine(f Finding) {
	group := p.acctLines("/etc/group")
	if f.Line < 1 || f.Line > len(group) || group[f.Line-1] != f.Content {
		p.log.Warn("persist: plan: group line changed since Find; left alone", "line", f.Line)
		return
	}
	name, _, _ := strings.Cut(f.Content, ":")
	unique := name != "" && lineNamed(group, name) == f.Line
	gsh := p.acctLines("/etc/gshadow")
	gl := 0
	if unique {
		gl = lineNamed(gsh, name)
	}
	if f.Action == ActionRemoveLine {
		p.editLine("/etc/group", f.Line, f.Content, f, removeIt)
		if gl > 0 {
			sf := f
			sf.Path, sf.Reasons = "/etc/gshadow", []string{"gshadow entry of removed group " + name}
			p.editLine("/etc/gshadow", gl, gsh[gl-1], sf, removeIt)
		}
		return
	}
	drop := map[string]bool{}
	for _, m := range f.Members {
		drop[m] = true
	}
	if len(drop) == 0 {
		return
	}
	mf := f
	mf.Reasons = append(append([]string{}, f.Reasons...), "member list of "+name+" without "+strings.Join(f.Members, ", "))
	p.editLine("/etc/group", f.Line, f.Content, mf, func(cur string) (string, bool) { return dropListed(cur, drop, 3), false })
	if gl > 0 {
		sf := f
		sf.Path, sf.Reasons = "/etc/gshadow", []string{"administrators and members of " + name + " without " + strings.Join(f.Members, ", ")}
		p.editLine("/etc/gshadow", gl, gsh[gl-1], sf, func(cur string) (string, bool) { return dropListed(cur, drop, 2, 3), false })
	}
}
