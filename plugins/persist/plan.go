package persist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// Op is one kind of change.
type Op string

// Ops, in the order Apply makes them.
const (
	OpClearFlags  Op = "clear-flags"  // clear chattr +i/+a (recorded, re-set by Restore)
	OpUnlink      Op = "unlink"       // move a symbolic link into the quarantine record
	OpQuarantine  Op = "quarantine"   // move a whole file into quarantine
	OpRemoveLines Op = "remove-lines" // drop lines; the rest stays byte-identical
)

var opRank = map[Op]int{OpClearFlags: 0, OpUnlink: 1, OpQuarantine: 2, OpRemoveLines: 3, OpStopContainer: 4}

// LineChange is one line Apply removes.
type LineChange struct {
	Line    int    `json:"line"` // 1-based
	Content string `json:"content"`
	// New, when set, is what the line becomes (an account's shell put
	// back, a member taken out of a group): the line is rewritten, not
	// removed.
	New *string `json:"new,omitempty"`
}

// Change is what Apply will do to one path (inside the root).
type Change struct {
	Path   string       `json:"path"`
	Op     Op           `json:"op"`
	Lines  []LineChange `json:"lines,omitempty"`
	SHA256 string       `json:"sha256,omitempty"` // content (or link target) when planned; Apply refuses if it changed
	Flags  uint32       `json:"flags,omitempty"`  // inode flags to clear (OpClearFlags)
	// Dir is the link-free parent directory (relative to the root) when
	// planned; Apply refuses the change if the parent now resolves
	// elsewhere (a directory swapped for a link).
	Dir string `json:"dir,omitempty"`
	// KeepFlagsCleared: a finding asked for the file's chattr +i/+a to
	// go, so Apply leaves them cleared after removing lines. Otherwise
	// flags cleared only to make the rewrite are set back on the new file.
	KeepFlagsCleared bool `json:"keep_flags_cleared,omitempty"`
	// SetBack: a directory's flags cleared only so that entries in it can
	// be removed or replaced; Apply sets them again once the plan's
	// changes are made.
	SetBack bool `json:"set_back,omitempty"`
	// Set names changes Apply makes all or none of (SetAccounts: passwd,
	// shadow, group and gshadow): when one of them fails, those of the
	// set already made are put back.
	Set string `json:"set,omitempty"`
	// Container is the container a stop-container change stops (on an
	// offline root, Lines set its restart policy to "no").
	Container *ContainerStop `json:"container,omitempty"`
	Severity  Severity       `json:"severity"`
	Reasons   []string       `json:"reasons"`
}

// Reload is a command to run on the live host after Apply so the services
// notice the change.
type Reload struct {
	Command []string `json:"command"`
	Reason  string   `json:"reason"`
}

// CleanPlan lists what Apply would change, file by file and line by line.
type CleanPlan struct {
	Root    string   `json:"root"` // host path of the root examined
	Live    bool     `json:"live"` // the root is this host's "/"
	Changes []Change `json:"changes"`
	Reloads []Reload `json:"reloads,omitempty"`
	// Accounts says, account by account, what the changes to passwd,
	// shadow, group and gshadow do: remove it, or restore it.
	Accounts []AccountChange `json:"accounts,omitempty"`
}

// PlanOptions configure Plan.
type PlanOptions struct {
	Root        string   // the root the findings came from; default "/"
	MinSeverity Severity // act on findings at or above this; default High
	// ActOnAll acts on every finding with an action, whatever its
	// severity (MinSeverity is then ignored).
	ActOnAll bool
	Logger   *slog.Logger
}

// Plan turns findings into changes. It reads the root (to find a unit's
// wants links, a file's flags, its current hash) but writes nothing.
func Plan(ctx context.Context, findings []Finding, opts PlanOptions) (*CleanPlan, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	min := opts.MinSeverity
	if min == Info && !opts.ActOnAll {
		min = High
	}
	r, err := rootfs.Open(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("persist: plan: %w", err)
	}
	defer r.Close()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &planner{ctx: ctx, fs: r, byPath: map[string]*Change{}, log: log}
	p.plan = &CleanPlan{Root: r.Dir(), Live: isLiveRoot(opts.Root)}
	for _, f := range findings {
		if f.Action == ActionNone || (!opts.ActOnAll && f.Severity < min) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := p.add(f); err != nil {
			return nil, err
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.plan, nil
}

type planner struct {
	log    *slog.Logger
	ctx    context.Context
	fs     *rootfs.FS
	plan   *CleanPlan
	byPath map[string]*Change
	cron   bool
	units  bool
	users  map[string]bool
	udev   bool
	// clearAsked: paths a finding asked to clear the flags of.
	clearAsked map[string]bool
	acct       map[string]*acctFile // account files read
	base       *accountBase
}

func (p *planner) change(path string, op Op, f Finding) *Change {
	if op == OpClearFlags {
		if p.clearAsked == nil {
			p.clearAsked = map[string]bool{}
		}
		p.clearAsked[path] = true
	}
	c, ok := p.byPath[path]
	if !ok {
		c = &Change{Path: path, Op: op, Severity: f.Severity}
		p.byPath[path] = c
	}
	// A whole-file change wins over a line change or a flag change.
	if opRank[op] < opRank[c.Op] && op != OpClearFlags || c.Op == OpClearFlags && op != OpClearFlags {
		c.Op = op
		c.Lines = nil
	}
	if f.Severity > c.Severity {
		c.Severity = f.Severity
	}
	loc := ""
	if f.Line > 0 && op != OpRemoveLines {
		loc = fmt.Sprintf("line %d: ", f.Line)
	}
	for _, r := range f.Reasons {
		c.Reasons = appendUnique(c.Reasons, loc+r)
	}
	return c
}

func (p *planner) add(f Finding) error {
	switch {
	case strings.HasPrefix(f.Path, "/etc/cron") || strings.HasPrefix(f.Path, "/var/spool/cron/") || f.Path == "/etc/anacrontab":
		p.cron = true
	case f.Kind == KindSystemd || strings.Contains(f.Path, "/systemd/"):
		switch {
		case f.User != "":
			// A unit in (or linked from) a home: that user's manager.
			p.userUnits(f.User)
		case userUnitPath(f.Path):
			p.userUnits("") // global user units: every user's manager
		case strings.Contains(f.Path, "/systemd/"):
			p.units = true
		default:
			// A unit linked in from elsewhere: the links Plan removes
			// say which manager loads it (finish).
		}
	case strings.Contains(f.Path, "/udev/"):
		p.udev = true
	}
	switch f.Action {
	case ActionRemoveLine:
		switch {
		case f.Path == "/etc/group":
			p.planGroupLine(f)
		case accountFiles[f.Path]:
			p.editLine(f.Path, f.Line, f.Content, f, removeIt)
		default:
			c := p.change(f.Path, OpRemoveLines, f)
			if c.Op == OpRemoveLines {
				c.Lines = append(c.Lines, LineChange{Line: f.Line, Content: f.Content})
			}
		}
	case ActionRemoveAccount, ActionRestoreAccount:
		p.planAccount(f)
	case ActionRemoveMember:
		if f.Path == "/etc/group" {
			p.planGroupLine(f)
		}
	case ActionStopContainer:
		p.stopContainer(f)
	case ActionQuarantine:
		p.change(f.Path, OpQuarantine, f)
		if strings.HasPrefix(f.Path, "/etc/init.d/") {
			p.rcLinks(path.Base(f.Path), f)
		}
	case ActionRemoveLink:
		p.change(f.Path, OpUnlink, f)
	case ActionDisableUnit:
		p.disableUnit(f)
	case ActionClearFlags:
		p.change(f.Path, OpClearFlags, f)
	}
	return nil
}

// rcLinks unlinks /etc/rc?.d/* links to a quarantined init script.
func (p *planner) rcLinks(name string, f Finding) {
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "S"} {
		dir := "/etc/rc" + d + ".d"
		ents, err := p.fs.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			t, err := p.fs.Readlink(dir + "/" + e.Name())
			if err == nil && path.Base(t) == name {
				lf := f
				lf.Reasons = []string{"start link of quarantined init script " + name}
				p.change(dir+"/"+e.Name(), OpUnlink, lf)
			}
		}
	}
}

func (p *planner) userUnits(user string) {
	if p.users == nil {
		p.users = map[string]bool{}
	}
	p.users[user] = true
}

// userUnitPath: user units shared by every user (systemd --user).
func userUnitPath(p string) bool {
	return strings.HasPrefix(p, "/etc/systemd/user/") || strings.HasPrefix(p, "/usr/lib/systemd/user/") ||
		strings.HasPrefix(p, "/lib/systemd/user/") || strings.Contains(p, "/.config/systemd/user/")
}

// packagedUnit: a unit a package ships. Disabling it would take the
// service down with the malware's line (no sshd after the next boot), so
// only its bad lines go.
func packagedUnit(f Finding) bool {
	return f.Package != "" || vendorUnitPath(f.Path)
}

// unitLines removes the line a finding names in a packaged unit, with the
// lines that continue it, instead of disabling the unit.
func (p *planner) unitLines(f Finding) {
	if f.Line < 1 {
		p.log.Warn("persist: plan: packaged unit left in place: no line to remove", "path", f.Path, "package", f.Package)
		return
	}
	data, err := p.fs.ReadFile(f.Path, 64<<20)
	if err != nil {
		p.log.Warn("persist: plan: cannot read packaged unit", "path", f.Path, "err", err)
		return
	}
	lines := splitLines(data)
	if f.Line > len(lines) {
		return // gone since Find; Apply would refuse anyway
	}
	lf := f
	lf.Reasons = append(append([]string{}, f.Reasons...), "packaged unit: only the line goes and the service stays enabled (reinstall its package to restore it)")
	c := p.change(f.Path, OpRemoveLines, lf)
	if c.Op != OpRemoveLines {
		return
	}
	for n := f.Line; n <= unitDirectiveEnd(lines, f.Line); n++ {
		dup := false
		for _, l := range c.Lines {
			dup = dup || l.Line == n
		}
		if !dup {
			c.Lines = append(c.Lines, LineChange{Line: n, Content: lines[n-1]})
		}
	}
}

// disableUnit quarantines a unit of the malware's own and removes every
// link that enables or aliases it, and does the same for the units that
// go with it: its companions of the same name (.timer, .socket, .path),
// the unit a timer, path or socket starts (Unit=helper.service), and the
// timers, paths and sockets that start it. A packaged unit is never
// disabled: only its bad line goes (unitLines).
func (p *planner) disableUnit(f Finding) {
	if packagedUnit(f) {
		p.unitLines(f)
		return
	}
	unitDir := path.Dir(f.Path)
	base := f.Unit
	if base == "" {
		base = path.Base(f.Path)
	}
	// Where companions may live, and where enabling links live: the
	// unit's own directory and the administrator's trees, never the
	// vendor directories (packaged units stay).
	user := f.User != "" || userUnitPath(f.Path)
	dirs := []string{unitDir}
	if f.User == "" && !strings.Contains(f.Path, "/systemd/") {
		// A unit linked in from elsewhere (systemctl link): its links may
		// be in the system's or the global user unit directories.
		dirs = appendUnique(dirs, "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/etc/systemd/user")
	} else if user {
		dirs = appendUnique(dirs, "/etc/systemd/user")
		if h := p.home(f.User); h != "" {
			// A unit linked into a home from elsewhere: its links are
			// in the user's own unit directory.
			dirs = appendUnique(dirs, h+"/.config/systemd/user")
		}
	} else {
		dirs = appendUnique(dirs, "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system")
	}
	type unit struct{ name, path, why string }
	units := []unit{{base, f.Path, ""}}
	seen := map[string]bool{base: true}
	addUnit := func(name, why string) {
		if seen[name] || !isUnitName(name) || strings.ContainsRune(name, '/') || len(units) >= 64 {
			return
		}
		for _, d := range dirs {
			up := d + "/" + name
			if fi, err := p.fs.Lstat(up); err == nil && fi.Mode().IsRegular() && !vendorUnitPath(up) {
				seen[name] = true
				units = append(units, unit{name, up, why})
				return
			}
		}
	}
	stem := strings.TrimSuffix(base, path.Ext(base))
	for _, ext := range []string{".service", ".timer", ".socket", ".path"} {
		addUnit(stem+ext, "companion of disabled unit "+base)
	}
	// Triggers (timers, paths, sockets) in the same trees, by their Unit=.
	triggers := map[string][]string{} // started unit -> triggers
	for _, d := range dirs {
		ents, err := p.fs.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || !(strings.HasSuffix(n, ".timer") || strings.HasSuffix(n, ".path") || strings.HasSuffix(n, ".socket")) {
				continue
			}
			if data, err := p.fs.ReadFile(d+"/"+n, 1<<20); err == nil {
				if u := startedUnit(n, data); u != "" {
					triggers[u] = append(triggers[u], n)
				}
			}
		}
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		if data, err := p.fs.ReadFile(u.path, 1<<20); err == nil {
			if s := startedUnit(u.name, data); s != "" && s != u.name {
				addUnit(s, "started by disabled unit "+u.name)
			}
		}
		for _, t := range triggers[u.name] {
			addUnit(t, "starts disabled unit "+u.name)
		}
	}
	for _, u := range units {
		uf := f
		if u.why != "" {
			uf.Reasons = []string{u.why}
			uf.Line = 0
		}
		p.change(u.path, OpQuarantine, uf)
		urel, _ := p.fs.Resolve(u.path, true)
		for _, d := range dirs {
			p.unitLinksIn(d, u.name, urel, uf)
		}
	}
}

// home returns the home directory of user from the root's /etc/passwd
// ("" when unknown).
func (p *planner) home(user string) string {
	if user == "" {
		return ""
	}
	data, err := p.fs.ReadFile("/etc/passwd", 64<<20)
	if err != nil {
		return ""
	}
	for _, u := range parsePasswd(data) {
		if u.Err == nil && u.Name == user && strings.HasPrefix(u.Home, "/") {
			return path.Clean(u.Home)
		}
	}
	return ""
}

// startedUnit returns the unit a timer, path or socket starts: its Unit=,
// or by default the service of the same name (a socket's; a timer's and
// a path's). A service starts no other unit this way: "".
func startedUnit(name string, data []byte) string {
	ext := path.Ext(name)
	if ext != ".timer" && ext != ".path" && ext != ".socket" {
		return ""
	}
	for _, e := range parseUnit(data) {
		if e.Key == "Unit" && (e.Section == "Timer" || e.Section == "Path" || e.Section == "Socket") {
			return strings.TrimSpace(e.Value)
		}
	}
	return strings.TrimSuffix(name, ext) + ".service"
}

func (p *planner) unitLinksIn(dir, name, urel string, f Finding) {
	ents, err := p.fs.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		full := dir + "/" + e.Name()
		if e.IsDir() && (strings.HasSuffix(e.Name(), ".wants") || strings.HasSuffix(e.Name(), ".requires") || strings.HasSuffix(e.Name(), ".upholds")) {
			p.unitLinksIn(full, name, urel, f)
			continue
		}
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		rel, rerr := p.fs.Resolve(full, true)
		if e.Name() == name || (rerr == nil && rel == urel) {
			lf := f
			lf.Reasons = []string{"enables " + name + " (" + path.Base(dir) + ")"}
			p.change(full, OpUnlink, lf)
		}
	}
}

func (p *planner) finish() error {
	// Hash what each change will touch, so Apply acts only on what was
	// planned; add parent-directory flag clearing where a directory is
	// immutable or append-only.
	p.followLinkedEdits()
	for k, c := range p.byPath {
		if c.Op == OpRemoveLines && len(c.Lines) == 0 {
			delete(p.byPath, k) // every edit planned left its line as it was
		}
	}
	paths := make([]string, 0, len(p.byPath))
	for k := range p.byPath {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, k := range paths {
		c := p.byPath[k]
		rel, err := p.fs.Resolve(c.Path, false)
		if err != nil {
			return fmt.Errorf("persist: plan %s: %w", c.Path, err)
		}
		c.Dir = path.Dir(rel)
		c.KeepFlagsCleared = c.Op == OpRemoveLines && p.clearAsked[c.Path]
		li, err := p.fs.Root().Lstat(rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				delete(p.byPath, k) // gone since Find
				continue
			}
			return fmt.Errorf("persist: plan %s: %w", c.Path, err)
		}
		switch {
		case li.Mode()&fs.ModeSymlink != 0:
			t, err := p.fs.Root().Readlink(rel)
			if err != nil {
				return fmt.Errorf("persist: plan %s: %w", c.Path, err)
			}
			c.SHA256 = hashString(t)
			if c.Op != OpUnlink {
				c.Op, c.Lines = OpUnlink, nil
			}
		case li.Mode().IsRegular():
			fh, err := p.fs.OpenRegular(rel)
			if err != nil {
				return fmt.Errorf("persist: plan %s: %w", c.Path, err)
			}
			sum, err := hashReader(fh)
			fl, ferr := rootfs.Flags(fh)
			fh.Close()
			if err != nil {
				return fmt.Errorf("persist: plan %s: %w", c.Path, err)
			}
			c.SHA256 = sum
			if ferr == nil && c.Op == OpClearFlags {
				c.Flags = fl & (rootfs.FlagImmutable | rootfs.FlagAppend)
				if c.Flags == 0 {
					delete(p.byPath, k)
					continue
				}
			}
			sort.Slice(c.Lines, func(i, j int) bool { return c.Lines[i].Line < c.Lines[j].Line })
		case li.IsDir() && c.Op == OpClearFlags:
			fh, err := p.fs.OpenRel(rel, os.O_RDONLY|0x10000, 0)
			if err == nil {
				fl, _ := rootfs.Flags(fh)
				fh.Close()
				c.Flags = fl & (rootfs.FlagImmutable | rootfs.FlagAppend)
			}
			if c.Flags == 0 {
				delete(p.byPath, k)
			}
			continue
		default:
			return fmt.Errorf("persist: plan %s: %s is not a regular file or link: %w", c.Path, li.Mode().Type(), fs.ErrInvalid)
		}
		if c.Op != OpClearFlags {
			// Removing or replacing an entry needs a writable parent.
			dir := path.Dir(c.Path)
			if _, ok := p.byPath[dir]; !ok {
				if fl := p.dirFlags(dir); fl != 0 {
					p.byPath[dir] = &Change{Path: dir, Op: OpClearFlags, Flags: fl, Severity: c.Severity,
						SetBack: true, Reasons: []string{"directory is immutable or append-only; needed to remove " + c.Path + " (set again afterwards)"}}
				}
			}
		}
	}
	for _, c := range p.byPath {
		if p.plan.Live && p.isSelf(c.Path) {
			p.log.Warn("persist: plan: not touching the running cleaner's own executable", "path", c.Path)
			continue
		}
		p.plan.Changes = append(p.plan.Changes, *c)
	}
	sort.Slice(p.plan.Changes, func(i, j int) bool {
		a, b := p.plan.Changes[i], p.plan.Changes[j]
		if opRank[a.Op] != opRank[b.Op] {
			return opRank[a.Op] < opRank[b.Op]
		}
		// A set's changes are made one after the other (Apply backs
		// the set out as one).
		if a.Set != b.Set {
			return a.Set > b.Set
		}
		return a.Path < b.Path
	})
	for _, c := range p.plan.Changes {
		switch {
		case strings.HasPrefix(c.Path, "/etc/systemd/user/"):
			p.userUnits("")
		case strings.HasPrefix(c.Path, "/etc/systemd/system/") || strings.HasPrefix(c.Path, "/run/systemd/system/") || strings.HasPrefix(c.Path, "/usr/local/lib/systemd/system/"):
			p.units = true
		}
	}
	if p.plan.Live && len(p.plan.Changes) > 0 {
		p.reloads()
	}
	return nil
}

// followLinkedEdits moves a line change planned on a symbolic link
// (/root/.bashrc -> dotfiles/bashrc) to the regular file the link leads
// to inside the root: the lines go from that file and the link stays.
// Unlinking the link would leave the malicious line in the file.
func (p *planner) followLinkedEdits() {
	var links []string
	for k, c := range p.byPath {
		if c.Op == OpRemoveLines {
			links = append(links, k)
		}
	}
	sort.Strings(links)
	for _, k := range links {
		c := p.byPath[k]
		li, err := p.fs.Lstat(c.Path)
		if err != nil || li.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		trel, err := p.fs.Resolve(c.Path, true)
		if err != nil {
			continue // left as a link: finish unlinks it
		}
		if ti, err := p.fs.Root().Lstat(trel); err != nil || !ti.Mode().IsRegular() {
			continue
		}
		target := rootfs.Abs(trel)
		delete(p.byPath, k)
		if p.clearAsked[k] {
			p.clearAsked[target] = true
		}
		via := "via link " + c.Path
		if t, ok := p.byPath[target]; ok {
			if t.Op != OpRemoveLines {
				continue // the whole file goes anyway
			}
			for _, l := range c.Lines {
				dup := false
				for _, m := range t.Lines {
					dup = dup || m.Line == l.Line
				}
				if !dup {
					t.Lines = append(t.Lines, l)
				}
			}
			t.Reasons = appendUnique(t.Reasons, c.Reasons...)
			t.Reasons = appendUnique(t.Reasons, via)
			continue
		}
		c.Path = target
		c.Reasons = appendUnique(c.Reasons, via)
		p.byPath[target] = c
	}
}

// isSelf reports whether the path (inside the root) is the executable of
// this process, by inode: the cleaner never quarantines itself, whatever
// name (link, hard link, the root's mount point) leads to it.
func (p *planner) isSelf(name string) bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	self, err := os.Stat(exe)
	if err != nil {
		return false
	}
	fi, err := p.fs.Stat(name)
	return err == nil && os.SameFile(fi, self)
}

func (p *planner) dirFlags(dir string) uint32 {
	rel, err := p.fs.Resolve(dir, true)
	if err != nil {
		return 0
	}
	fh, err := p.fs.OpenRel(rel, os.O_RDONLY|0x10000, 0)
	if err != nil {
		return 0
	}
	defer fh.Close()
	fl, _ := rootfs.Flags(fh)
	return fl & (rootfs.FlagImmutable | rootfs.FlagAppend)
}

func (p *planner) reloads() {
	if p.units {
		p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"systemctl", "daemon-reload"}, Reason: "systemd units or links changed"})
	}
	users := make([]string, 0, len(p.users))
	for u := range p.users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if u == "" {
			// systemctl --global acts on enable/disable only: it reloads
			// no manager. Each running user manager (the main process of
			// user@UID.service) reloads its units on SIGHUP, as
			// daemon-reload does.
			p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"systemctl", "kill", "--kill-whom=main", "--signal=SIGHUP", "user@*.service"},
				Reason: "global user units changed: every running user manager reloads (SIGHUP is its daemon-reload)"})
			continue
		}
		p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"systemctl", "--user", "--machine=" + u + "@", "daemon-reload"}, Reason: "user units of " + u + " changed"})
	}
	if p.cron {
		svc := "cron"
		if _, err := p.fs.Stat("/usr/lib/systemd/system/crond.service"); err == nil {
			svc = "crond"
		}
		p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"systemctl", "reload-or-restart", svc}, Reason: "crontabs changed"})
	}
	if p.udev {
		p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"udevadm", "control", "--reload-rules"}, Reason: "udev rules changed"})
	}
	accounts := false
	for _, c := range p.plan.Changes {
		accounts = accounts || accountFiles[c.Path]
	}
	if accounts {
		// Name-service caches would keep answering with the old
		// accounts and groups until they expire.
		if fi, err := p.fs.Stat("/usr/sbin/nscd"); err == nil && fi.Mode().IsRegular() {
			p.plan.Reloads = append(p.plan.Reloads,
				Reload{Command: []string{"nscd", "-i", "passwd"}, Reason: "accounts changed: nscd's cache"},
				Reload{Command: []string{"nscd", "-i", "group"}, Reason: "groups changed: nscd's cache"})
		}
		if fi, err := p.fs.Stat("/usr/sbin/sss_cache"); err == nil && fi.Mode().IsRegular() {
			p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"sss_cache", "-E"}, Reason: "accounts or groups changed: sssd's cache"})
		}
	}
}

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Check reports, reading only, whether the plan still matches its root:
// every path it changes still holds the content (or link target) Plan
// hashed. Paths that moved are ErrChanged, all named in the error. Apply
// checks each change again as it makes it; Check lets an approver see a
// stale plan before anything is changed.
func (plan *CleanPlan) Check(ctx context.Context) error {
	r, err := rootfs.Open(plan.Root)
	if err != nil {
		return fmt.Errorf("persist: check plan: %w", err)
	}
	defer r.Close()
	var errs []error
	for _, c := range plan.Changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.SHA256 == "" {
			continue // a directory's flags: nothing hashed
		}
		if err := checkChange(r, c); err != nil {
			errs = append(errs, fmt.Errorf("persist: %s %s: %w", c.Op, c.Path, err))
		}
	}
	return errors.Join(errs...)
}

func checkChange(r *rootfs.FS, c Change) error {
	rel, err := r.Resolve(c.Path, false)
	if err != nil {
		return err
	}
	li, err := r.Root().Lstat(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: gone", ErrChanged)
		}
		return err
	}
	var sum string
	switch {
	case li.Mode()&fs.ModeSymlink != 0:
		t, err := r.Root().Readlink(rel)
		if err != nil {
			return err
		}
		sum = hashString(t)
	case li.Mode().IsRegular():
		fh, err := r.OpenRegular(rel)
		if err != nil {
			return err
		}
		sum, err = hashReader(fh)
		fh.Close()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: now a %s", ErrChanged, li.Mode().Type())
	}
	if sum != c.SHA256 {
		return fmt.Errorf("%w: sha256 %s, planned %s", ErrChanged, sum, c.SHA256)
	}
	return nil
}
