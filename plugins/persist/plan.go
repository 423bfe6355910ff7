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

var opRank = map[Op]int{OpClearFlags: 0, OpUnlink: 1, OpQuarantine: 2, OpRemoveLines: 3}

// LineChange is one line Apply removes.
type LineChange struct {
	Line    int    `json:"line"` // 1-based
	Content string `json:"content"`
}

// Change is what Apply will do to one path (inside the root).
type Change struct {
	Path     string       `json:"path"`
	Op       Op           `json:"op"`
	Lines    []LineChange `json:"lines,omitempty"`
	SHA256   string       `json:"sha256,omitempty"` // content (or link target) when planned; Apply refuses if it changed
	Flags    uint32       `json:"flags,omitempty"`  // inode flags to clear (OpClearFlags)
	Severity Severity     `json:"severity"`
	Reasons  []string     `json:"reasons"`
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
	p := &planner{ctx: ctx, fs: r, byPath: map[string]*Change{}}
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
	ctx    context.Context
	fs     *rootfs.FS
	plan   *CleanPlan
	byPath map[string]*Change
	cron   bool
	units  bool
	users  map[string]bool
	udev   bool
}

func (p *planner) change(path string, op Op, f Finding) *Change {
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
	case strings.Contains(f.Path, "/systemd/"):
		if strings.Contains(f.Path, "/.config/systemd/user") || strings.HasPrefix(f.Path, "/etc/systemd/user") {
			if p.users == nil {
				p.users = map[string]bool{}
			}
			p.users[f.User] = true
		} else {
			p.units = true
		}
	case strings.Contains(f.Path, "/udev/"):
		p.udev = true
	}
	switch f.Action {
	case ActionRemoveLine:
		c := p.change(f.Path, OpRemoveLines, f)
		if c.Op == OpRemoveLines {
			c.Lines = append(c.Lines, LineChange{Line: f.Line, Content: f.Content})
		}
		if f.Kind == KindAccount && f.Path == "/etc/passwd" && f.User != "" {
			// The account's shadow line goes with it.
			if data, err := p.fs.ReadFile("/etc/shadow", 64<<20); err == nil {
				for _, e := range parseShadow(data) {
					if e.Name == f.User {
						lines := splitLines(data)
						sf := f
						sf.Path = "/etc/shadow"
						sf.Reasons = []string{"shadow entry of account " + f.User}
						c := p.change("/etc/shadow", OpRemoveLines, sf)
						if c.Op == OpRemoveLines {
							c.Lines = append(c.Lines, LineChange{Line: e.Line, Content: lines[e.Line-1]})
						}
					}
				}
			}
		}
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

// disableUnit quarantines a unit and removes every link that enables or
// aliases it, and does the same for its timer/socket/path companions.
func (p *planner) disableUnit(f Finding) {
	unitDir := path.Dir(f.Path)
	base := f.Unit
	if base == "" {
		base = path.Base(f.Path)
	}
	stem := strings.TrimSuffix(base, path.Ext(base))
	names := []string{base}
	for _, ext := range []string{".service", ".timer", ".socket", ".path"} {
		if n := stem + ext; n != base {
			if fi, err := p.fs.Lstat(unitDir + "/" + n); err == nil && fi.Mode().IsRegular() {
				names = append(names, n)
			}
		}
	}
	// Where enabling links live: the unit's own tree and the admin trees.
	dirs := []string{unitDir}
	if strings.Contains(unitDir, "/.config/systemd/user") || strings.HasPrefix(unitDir, "/etc/systemd/user") || strings.Contains(unitDir, "/systemd/user") {
		dirs = appendUnique(dirs, "/etc/systemd/user", unitDir)
	} else {
		dirs = appendUnique(dirs, "/etc/systemd/system", "/run/systemd/system")
	}
	for i, n := range names {
		uf := f
		if i > 0 {
			uf.Reasons = []string{"companion of disabled unit " + base}
		}
		upath := unitDir + "/" + n
		p.change(upath, OpQuarantine, uf)
		urel, _ := p.fs.Resolve(upath, true)
		for _, d := range dirs {
			p.unitLinksIn(d, n, urel, uf)
		}
	}
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
	paths := make([]string, 0, len(p.byPath))
	for k := range p.byPath {
		paths = append(paths, k)
	}
	for _, k := range paths {
		c := p.byPath[k]
		rel, err := p.fs.Resolve(c.Path, false)
		if err != nil {
			return fmt.Errorf("persist: plan %s: %w", c.Path, err)
		}
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
		if c.Op != OpClearFlags && c.Op != OpRemoveLines {
			// Removing an entry needs a writable parent.
			dir := path.Dir(c.Path)
			if _, ok := p.byPath[dir]; !ok {
				if fl := p.dirFlags(dir); fl != 0 {
					p.byPath[dir] = &Change{Path: dir, Op: OpClearFlags, Flags: fl, Severity: c.Severity,
						Reasons: []string{"directory is immutable or append-only; needed to remove " + c.Path}}
				}
			}
		}
	}
	self := ""
	if p.plan.Live {
		if exe, err := os.Executable(); err == nil {
			self = exe
		}
	}
	for _, c := range p.byPath {
		if self != "" && c.Path == self {
			continue // never quarantine the running cleaner
		}
		p.plan.Changes = append(p.plan.Changes, *c)
	}
	sort.Slice(p.plan.Changes, func(i, j int) bool {
		a, b := p.plan.Changes[i], p.plan.Changes[j]
		if opRank[a.Op] != opRank[b.Op] {
			return opRank[a.Op] < opRank[b.Op]
		}
		return a.Path < b.Path
	})
	if p.plan.Live && len(p.plan.Changes) > 0 {
		p.reloads()
	}
	return nil
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
			p.plan.Reloads = append(p.plan.Reloads, Reload{Command: []string{"systemctl", "--global", "daemon-reload"}, Reason: "global user units changed"})
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
