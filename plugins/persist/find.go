package persist

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"golang.org/x/sys/unix"
)

// Find examines the root for persistence and returns every entry found,
// highest severity first. A stock Debian, Ubuntu or Amazon Linux root
// yields nothing above Info. Find only reads; it never writes.
func Find(ctx context.Context, opts Options) ([]Finding, error) {
	o := opts.withDefaults()
	r, err := rootfs.Open(o.Root)
	if err != nil {
		return nil, fmt.Errorf("persist: %w", err)
	}
	defer r.Close()
	f := &finder{ctx: ctx, fs: r, o: o, refs: map[string]refSource{}, mtimes: map[string]time.Time{}, keyFiles: map[string]int{}}
	f.live = isLiveRoot(o.Root)
	f.db = loadPkgDB(ctx, r, o.MaxFileBytes)
	f.pkgDBProblem()
	f.loadShells()
	f.accts = loadAccountBase(r, o.Since, o.MaxFileBytes, f.db)
	steps := []func(){
		f.findAccounts, // first: the user list feeds later checks
		f.findCron,
		f.findAt,
		f.findSystemd,
		f.findRC,
		f.findShell,
		f.findSSHKeys,
		f.findPreload,
		f.findHosts,
		f.findSudoers,
		f.findUdev,
		f.findMotd,
		f.findTemp,
		f.findSSHConfig,
		f.findTrojaned,
		f.findSweep,
		f.findSystemdManager,
		f.findLibraryPath,
		f.findPAM,
		f.findAutostart,
		f.findModules,
		f.findGroups,
		f.accountLines,
		f.findShells,
		f.findSupervisor,
		f.findAPTHooks,
		f.findGenerators,
		f.findExtraKeyFiles,
		f.findContainers,
		f.findPodman,
		f.findContainerd,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step()
	}
	f.findReferenced()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.correlateKeys()
	f.guardOnlyKeys()
	return sortFindings(f.out), nil
}

type refSource struct {
	from string
	sev  Severity
	kind Kind // of the entry that names the file
}

type finder struct {
	deleted  map[string][]int     // live root: deleted executables still running
	progs    map[string]*progInfo // files entries run, looked up once (nil: not a regular file)
	digested map[string]bool      // packaged files already compared with their digest
	live     bool                 // the root is this host's own "/"
	mtimes   map[string]time.Time // modification time of every file read
	keyFiles map[string]int       // authorized_keys file -> line of its last key
	ctx      context.Context
	fs       *rootfs.FS
	o        Options
	db       *pkgDB
	out      []Finding
	users    []passwdEntry
	shells   map[string]bool
	refs     map[string]refSource
	homes    []home
	accts    *accountBase // stock accounts and memberships
	swept    int          // directory entries the sweep of the system directories looked at
}

type home struct {
	user string
	dir  string
}

// file is a file read from the root.
type file struct {
	path     string
	data     []byte
	fi       fs.FileInfo
	flags    uint32
	pkg      string
	owned    bool
	stock    bool
	conffile bool // the package marks it a configuration file (dpkg conffile, rpm %config)
}

func (f *finder) add(fd Finding) {
	if len(fd.Content) > 4096 {
		fd.Content = fd.Content[:4096] + "…"
	}
	if fd.Stock && fd.Severity > Info {
		fd.Reasons = append(fd.Reasons, "capped at info: file is unchanged from package "+fd.Package)
		fd.Severity = Info
	}
	if fd.Severity == Info && fd.Action != ActionClearFlags {
		fd.Action = ActionNone
	}
	f.out = append(f.out, fd)
}

// read reads a file in a persistence location. Links are resolved within
// the root; a link is reported when linkOK is false (a planted link in
// /etc/cron.d and the like). Problems reading are reported as findings,
// never as errors: a hostile tree must not stop the examination.
func (f *finder) read(p string, kind Kind, linkOK bool) (*file, bool) {
	li, err := f.fs.Lstat(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			f.problem(p, kind, err)
		}
		return nil, false
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		target, _ := f.fs.Readlink(p)
		rel, rerr := f.fs.Resolve(p, true)
		if rerr != nil {
			f.add(Finding{Path: p, Kind: KindSymlink, Severity: High, Action: ActionRemoveLink, Content: target,
				Reasons: []string{fmt.Sprintf("symbolic link %s -> %s cannot be resolved inside the root: %v", p, target, rerr)}})
			return nil, false
		}
		if !linkOK {
			f.add(Finding{Path: p, Kind: KindSymlink, Severity: High, Action: ActionRemoveLink, Content: target,
				Reasons: []string{fmt.Sprintf("planted symbolic link in a %s location: -> %s (resolves to %s inside the root)", kind, target, rootfs.Abs(rel))}})
			return nil, false
		}
	}
	rel, err := f.fs.Resolve(p, true)
	if err != nil {
		f.problem(p, kind, err)
		return nil, false
	}
	fh, err := f.fs.OpenRegular(rel)
	if err != nil {
		if errors.Is(err, rootfs.ErrNotRegular) {
			if st, serr := f.fs.Root().Lstat(rel); serr == nil && st.IsDir() {
				return nil, false
			}
			// A FIFO, socket or device where a file belongs: never opened.
			f.add(Finding{Path: p, Kind: kind, Severity: Medium, Reasons: []string{err.Error()}})
			return nil, false
		}
		f.problem(p, kind, err)
		return nil, false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		f.problem(p, kind, err)
		return nil, false
	}
	fl := &file{path: p, fi: fi}
	if f.mtimes != nil {
		f.mtimes[p] = fi.ModTime()
	}
	fl.flags, _ = rootfs.Flags(fh)
	f.checkFlags(p, kind, fl.flags)
	data, err := rootfs.ReadAll(fh, p, f.o.MaxFileBytes)
	if err != nil {
		f.problem(p, kind, err)
		return nil, false
	}
	fl.data = data
	fl.pkg, fl.owned, fl.stock, fl.conffile = f.db.check(p, data)
	if real := rootfs.Abs(rel); !fl.owned && real != p {
		// Reached through a link (update-motd.d/50-landscape-sysinfo ->
		// /usr/share/landscape/…): dpkg records no digest for links, so
		// the file read is judged by the package that installed it.
		fl.pkg, fl.owned, fl.stock, fl.conffile = f.db.check(real, data)
	}
	return fl, true
}

var errNotDir = errors.New("not a directory")

// pkgDBProblem reports an rpm database the root has but that could not be
// read: packaged files then lose their stock/changed verdict, and on a
// compromised host a damaged package database is worth a look of its own.
func (f *finder) pkgDBProblem() {
	err := f.db.rpmErr
	if err == nil {
		return
	}
	p := f.db.rpmPath
	if p == "" {
		p = "/var/lib/rpm"
	}
	if errors.Is(err, rootfs.ErrSymlinkEscape) || errors.Is(err, rootfs.ErrTooManyLinks) || errors.Is(err, fs.ErrPermission) {
		f.problem(p, KindPackageDB, err)
		return
	}
	f.add(Finding{Path: p, Kind: KindPackageDB, Severity: Medium, Reasons: []string{
		"the rpm database cannot be read, so packaged files are judged by content alone: " + err.Error()}})
}

func (f *finder) problem(p string, kind Kind, err error) {
	sev := Low
	var reason string
	switch {
	case errors.Is(err, rootfs.ErrSymlinkEscape):
		sev = High
		reason = "a symbolic link on the way points out of the root: " + err.Error()
	case errors.Is(err, rootfs.ErrTooManyLinks):
		sev = Medium
		reason = "symbolic link loop: " + err.Error()
	case errors.Is(err, rootfs.ErrTooLarge):
		reason = "too large to examine: " + err.Error()
	case errors.Is(err, fs.ErrPermission):
		// The examiner's limit, not the host's: run as root to see it.
		sev = Info
		reason = "not examined (permission denied; run as root): " + err.Error()
	default:
		if strings.Contains(err.Error(), "not a directory") {
			return
		}
		f.o.Logger.Debug("persist: cannot read", "path", p, "err", err)
		reason = "cannot read: " + err.Error()
	}
	f.add(Finding{Path: p, Kind: kind, Severity: sev, Reasons: []string{reason}})
}

func (f *finder) checkFlags(p string, kind Kind, flags uint32) {
	if flags&(rootfs.FlagImmutable|rootfs.FlagAppend) == 0 {
		return
	}
	var r []string
	if flags&rootfs.FlagImmutable != 0 {
		r = append(r, "marked immutable (chattr +i) to resist removal")
	}
	if flags&rootfs.FlagAppend != 0 {
		r = append(r, "marked append-only (chattr +a)")
	}
	f.add(Finding{Path: p, Kind: KindImmutable, Severity: High, Reasons: r, Action: ActionClearFlags, Content: kind.String()})
}

func (k Kind) String() string { return string(k) }

// dirFlags checks the inode flags of a directory we list.
func (f *finder) dirFlags(p string, kind Kind) {
	rel, err := f.fs.Resolve(p, true)
	if err != nil {
		return
	}
	fh, err := f.fs.OpenRel(rel, os.O_RDONLY|0x10000 /* O_DIRECTORY */, 0)
	if err != nil {
		return
	}
	defer fh.Close()
	if fl, err := rootfs.Flags(fh); err == nil {
		f.checkFlags(p, kind, fl)
	}
}

// list returns the names in directory p (sorted), following links within
// the root; a missing directory is empty.
func (f *finder) list(p string, kind Kind) []fs.DirEntry {
	ents, err := f.fs.ReadDir(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "not a directory") {
			f.problem(p, kind, err)
		}
		return nil
	}
	f.dirFlags(p, kind)
	return ents
}

// since adds a reason when the file changed inside the incident window.
func (f *finder) since(fl *file) (string, bool) {
	if f.o.Since.IsZero() || fl == nil || fl.fi == nil {
		return "", false
	}
	if fl.fi.ModTime().After(f.o.Since) {
		return fmt.Sprintf("changed %s, after %s", fl.fi.ModTime().UTC().Format(time.RFC3339), f.o.Since.UTC().Format(time.RFC3339)), true
	}
	return "", false
}

// raisedKinds are the line-oriented files whose every line runs
// something on its own: a line of such a file that changed inside the
// window is medium even when what it runs looks harmless.
var raisedKinds = map[Kind]bool{KindCron: true, KindSupervisor: true, KindAPTHook: true}

// timestomped reports, on the live root with an incident window, a file
// whose change time (ctime) is inside the window while its modification
// time claims it is older: touch -r /bin/sh x sets mtime, and the kernel
// sets ctime to now. Only the live root keeps ctime: a root restored or
// copied file by file (cp -a, rsync, tar) gets the copy's time as every
// file's ctime, so ctime is not used offline (see the package doc).
func (f *finder) timestomped(fl *file) (string, bool) {
	if !f.live || f.o.Since.IsZero() || fl == nil || fl.fi == nil {
		return "", false
	}
	mt, ct := fl.fi.ModTime(), ctimeOf(fl.fi)
	if !ct.After(f.o.Since) || mt.After(f.o.Since) || ct.Sub(mt) < time.Minute {
		return "", false
	}
	return fmt.Sprintf("changed %s (ctime), inside the incident window, while its modification time says %s: timestomped (touch -r)?",
		ct.UTC().Format(time.RFC3339), mt.UTC().Format(time.RFC3339)), true
}

// dropDirs are the directories where a file is a unit of its own (a
// package's or an attacker's drop), not a shared file edited line by line
// like a user's crontab or /etc/crontab.
var dropDirs = map[string]bool{"/etc/cron.d": true, "/etc/supervisor/conf.d": true, "/etc/supervisord.d": true, "/etc/apt/apt.conf.d": true}

// createdInWindow reports whether a file was created, not only changed,
// inside the incident window: a file of a drop directory changed in the
// window (files there are written whole), or, on the live root, a file
// whose birth time (statx) is in the window. A crontab the malware
// appended to keeps the operator's older lines: they are not raised.
func (f *finder) createdInWindow(fl *file) (bool, string) {
	if f.o.Since.IsZero() || fl.fi == nil || !fl.fi.ModTime().After(f.o.Since) {
		return false, ""
	}
	if dropDirs[path.Dir(fl.path)] {
		return true, fmt.Sprintf("written %s, inside the incident window", fl.fi.ModTime().UTC().Format(time.RFC3339))
	}
	if !f.live {
		return false, ""
	}
	rel, err := f.fs.Resolve(fl.path, true)
	if err != nil {
		return false, ""
	}
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, filepath.Join(f.fs.Dir(), rel), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &stx); err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return false, ""
	}
	if bt := time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)); bt.After(f.o.Since) {
		return true, fmt.Sprintf("created %s (birth time), inside the incident window", bt.UTC().Format(time.RFC3339))
	}
	return false, ""
}

// entry records a judged line.
func (f *finder) entry(fl *file, kind Kind, line int, content, user string, v verdict, action Action) {
	f.programs(&v)
	fd := Finding{Path: fl.path, Line: line, Kind: kind, Severity: v.sev, Reasons: v.reasons, Content: content,
		Referenced: v.refs, User: user, Package: fl.pkg, Stock: fl.stock}
	if r, ok := f.since(fl); ok && (line == 0 || fd.Severity > Info) {
		// A whole file new in the window is worth a look; a line of an
		// edited file is judged by what it does.
		fd.Reasons = append(fd.Reasons, r)
		if fd.Severity < Low {
			fd.Severity = Low
		}
	} else if ok && line > 0 && raisedKinds[kind] && !fl.owned && f.db.present {
		if created, how := f.createdInWindow(fl); created {
			// A line of a cron, supervisord or APT file of no package
			// created inside the window: whatever it runs, it was put
			// there during the incident (or by the operator then: medium,
			// which the default plan leaves).
			fd.Reasons = append(fd.Reasons, "a line of a "+string(kind)+" file no package installed, "+how)
			fd.Severity = Medium
		}
	}
	if r, ok := f.timestomped(fl); ok && (line == 0 || fd.Severity > Info || raisedKinds[kind]) {
		fd.Reasons = append(fd.Reasons, r)
		if fd.Severity < Medium {
			fd.Severity = Medium
		}
	}
	if fd.Severity > Info {
		fd.Action = action
	}
	if fd.Reasons == nil {
		fd.Reasons = []string{kindInventory[kind]}
	}
	if !fd.Stock {
		f.noteRefs(fd)
	}
	f.add(fd)
}

var kindInventory = map[Kind]string{
	KindCron: "scheduled command", KindAt: "pending at job", KindSystemd: "service unit",
	KindRCLocal: "runs at boot", KindInitd: "init script", KindShellProfile: "runs at login",
	KindSSHKey: "authorized key", KindPreload: "preloaded library", KindHosts: "static host entry",
	KindAccount: "account", KindSudoers: "sudo rule", KindUdev: "udev program", KindMotd: "runs at login (motd)",
	KindSupervisor: "supervisord program", KindAPTHook: "apt hook", KindContainer: "container",
}

// noteRefs remembers referenced files of entries worth acting on.
func (f *finder) noteRefs(fd Finding) {
	if fd.Severity < Medium {
		return
	}
	loc := fd.Path
	if fd.Line > 0 {
		loc = fmt.Sprintf("%s:%d", fd.Path, fd.Line)
	}
	for _, p := range fd.Referenced {
		if old, ok := f.refs[p]; !ok || fd.Severity > old.sev {
			f.refs[p] = refSource{from: loc, sev: fd.Severity, kind: fd.Kind}
		}
	}
}

// script judges a whole script (cron.daily, init.d, update-motd.d, at
// job): one finding for the file, naming the lines that matter.
func (f *finder) script(fl *file, kind Kind, action Action) {
	var all verdict
	if fl.stock {
		f.entry(fl, kind, 0, "", "", all, ActionNone)
		return
	}
	all, bad := lineVerdicts(splitLines(fl.data))
	f.programs(&all)
	content := strings.Join(bad, "\n")
	changed := fl.owned && !fl.stock
	switch {
	case all.sev > Info:
	case changed && !fl.conffile:
		// Harmless to read, but a packaged script that is not a
		// configuration file has no business changing: what was added may
		// be what the analysis cannot read.
		all.add(Low, "differs from the copy installed by package "+fl.pkg+", and it is not a configuration file")
		changed = false
	case changed:
		all.reasons = append(all.reasons, "differs from the copy installed by package "+fl.pkg+" (a configuration file, which administrators edit)")
		f.entry(fl, kind, 0, "", "", all, ActionNone)
		return
	case fl.owned || (!f.db.present && !strings.HasPrefix(string(fl.data), "\x7fELF")):
		// Stock (or unknowable) and harmless: inventory only.
		f.entry(fl, kind, 0, "", "", all, ActionNone)
		return
	case f.db.present:
		all.add(Low, "not installed by any package")
	}
	if changed {
		all.reasons = append(all.reasons, "differs from the copy installed by package "+fl.pkg)
	}
	if hasELF(fl.data) {
		all.add(High, "an ELF binary where a script belongs")
	}
	f.entry(fl, kind, 0, content, "", all, action)
}

func (f *finder) loadShells() {
	f.shells = map[string]bool{}
	if data, err := f.fs.ReadFile("/etc/shells", f.o.MaxFileBytes); err == nil {
		for _, l := range splitLines(data) {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "/") {
				f.shells[l] = true
				for _, a := range usrAliases(l) {
					f.shells[a] = true
				}
			}
		}
	}
}

func fingerprint(blob []byte) string {
	s := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(s[:])
}

// findReferenced turns files named by suspicious entries into findings of
// their own, so that Plan quarantines the payload with the entry.
func (f *finder) findReferenced() {
	queue := make([]string, 0, len(f.refs))
	for p := range f.refs {
		queue = append(queue, p)
	}
	sort.Strings(queue)
	for n := 0; len(queue) > 0 && n < maxReferenced; n++ {
		if f.ctx.Err() != nil {
			return
		}
		p := queue[0]
		queue = queue[1:]
		src := f.refs[p]
		rel, err := f.fs.Resolve(p, true)
		if err != nil {
			continue
		}
		fi, err := f.fs.Root().Lstat(rel)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if pids := f.deletedRunning(p); len(pids) > 0 {
				f.add(Finding{Path: p, Kind: KindReferenced, Severity: High,
					Reasons: []string{fmt.Sprintf("referenced by %s; deleted from disk but still running as pid %v: stop it (plugins/scan) before it re-creates its persistence", src.from, pids)}})
			} else if inWritable(p) || strings.Contains(p, "/.") {
				f.add(Finding{Path: p, Kind: KindReferenced, Severity: Low,
					Reasons: []string{"referenced by " + src.from + " but missing (deleted after it ran?)"}})
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		real := rootfs.Abs(rel)
		if pf, ok := f.db.lookup(real); ok {
			fh, err := f.fs.OpenRegular(rel)
			if err != nil {
				continue
			}
			data, err := rootfs.ReadAll(fh, real, f.o.MaxFileBytes)
			fh.Close()
			if err == nil {
				if _, _, stock, _ := f.db.check(real, data); stock {
					if src.kind == KindPreload {
						// The preload line goes; the library, unchanged
						// from its package, stays, but is listed.
						f.add(Finding{Path: real, Kind: KindReferenced, Severity: Info, Package: pf.pkg, Stock: true,
							Reasons: []string{"preloaded by " + src.from + "; unchanged from package " + pf.pkg + ": left in place"}})
					}
					continue // a stock tool (curl, sh, run-parts) named by a bad entry stays
				}
			}
		} else if !f.db.present && systemPath(real) && !inWritable(real) && src.kind != KindPreload {
			// No package DB: never quarantine system binaries on a guess.
			// A library named in ld.so.preload is no guess: whatever it
			// is, every process loads it, so it goes with the line.
			continue
		}
		if isPersistenceConfig(real) {
			continue // judged on its own by the location checks
		}
		fl, ok := f.read(real, KindReferenced, true)
		if !ok {
			continue
		}
		if h, _ := hiddenComponent(real); !inWritable(real) && !h && src.kind != KindPreload &&
			fi.Mode()&0o111 == 0 && !hasELF(fl.data) && !hasShebang(fl.data) {
			// Data a bad entry names in a system place (chattr +i
			// /etc/resolv.conf, a miner's -c /etc/x.json): listed in the
			// entry's referenced files, never quarantined on its own.
			// What can run, and anything in a world-writable or hidden
			// place (a payload's staging), goes with the entry.
			continue
		}
		reasons := []string{"run or loaded by " + src.from}
		if hasELF(fl.data) {
			reasons = append(reasons, "ELF executable")
		}
		sev := src.sev
		var runs []string
		if hasShebang(fl.data) {
			v, _ := lineVerdicts(splitLines(fl.data))
			f.programs(&v)
			if v.sev > sev {
				sev = v.sev
			}
			reasons = append(reasons, v.reasons...)
			runs = v.execs
		}
		if fl.owned && !fl.stock {
			reasons = append(reasons, "differs from the copy installed by package "+fl.pkg)
		}
		f.add(Finding{Path: real, Kind: KindReferenced, Severity: sev, Reasons: reasons, Action: ActionQuarantine, Package: fl.pkg})
		// What a script run by a bad entry runs in turn (/etc/update.sh
		// starting /etc/sysupdate) goes with it.
		for _, e := range runs {
			if _, known := f.refs[e]; !known && sev >= Medium {
				f.refs[e] = refSource{from: real, sev: sev, kind: KindReferenced}
				queue = append(queue, e)
			}
		}
	}
}

// maxReferenced bounds the files findReferenced examines: scripts
// naming scripts must not make Find run without end.
const maxReferenced = 4096

// keyInfo is what the key checks know of one authorized_keys finding.
type keyInfo struct {
	idx    int      // index in f.out
	only   bool     // the only key of its file
	indep  Severity // judged from the key line itself (command=, authorized_keys2), not from times
	usable bool     // a key that gives a login shell (no forced command=)
}

// keyLines returns the parsed keys among the findings, by file.
func (f *finder) keyLines() map[string][]keyInfo {
	out := map[string][]keyInfo{}
	for i, fd := range f.out {
		if fd.Kind != KindSSHKey || fd.Line == 0 {
			continue
		}
		ks := parseAuthorizedKeys([]byte(fd.Content))
		if len(ks) != 1 || ks[0].Err != nil {
			continue
		}
		ki := keyInfo{idx: i, usable: true}
		if cmd, ok := optionValue(ks[0].Options, "command"); ok {
			ki.usable = false
			ki.indep = analyzeCommand(cmd).sev
			if cloudInitRestriction(cmd) && ki.indep == Info {
				continue // never correlated, never guarded: it cannot log in
			}
		}
		if path.Base(fd.Path) == "authorized_keys2" && ki.indep < Medium {
			ki.indep = Medium
		}
		out[fd.Path] = append(out[fd.Path], ki)
	}
	for p, ks := range out {
		if len(ks) == 1 {
			ks[0].only = true
			out[p] = ks
		}
	}
	return out
}

// lockoutReason is recorded on a key left in place because removing it
// could lock the operator out.
const lockoutReason = "the only key of its file and not bad in itself: not removed by default, since it may be the operator's own (launch) key and removing it could lock the operator out; check it by hand"

// correlateKeys judges "keys added recently" without Options.Since: an
// authorized_keys file changed within an hour of a file holding a high or
// critical finding may have been changed by the same intrusion. Without an
// incident window this is a guess (bots find an open host minutes after
// launch, so the operator's own launch key is often written within the
// hour), so a correlated key is at most medium: the default plan (high)
// leaves it, an operator who checked it removes it with a lower
// threshold. A file's only key gets no action at all unless the key line
// is bad in itself (a forced command that downloads or runs from /tmp).
func (f *finder) correlateKeys() {
	if !f.o.Since.IsZero() || len(f.keyFiles) == 0 {
		return
	}
	type anchor struct {
		path string
		t    time.Time
	}
	var anchors []anchor
	for _, fd := range f.out {
		if fd.Severity >= High && fd.Kind != KindSSHKey {
			if t, ok := f.mtimes[fd.Path]; ok {
				anchors = append(anchors, anchor{fd.Path, t})
			}
		}
	}
	for p, ks := range f.keyLines() {
		kt, ok := f.mtimes[p]
		if !ok {
			continue
		}
		for _, a := range anchors {
			d := kt.Sub(a.t)
			if d < -time.Hour || d > time.Hour || a.path == p {
				continue
			}
			for _, ki := range ks {
				fd := &f.out[ki.idx]
				what := "key file"
				if fd.Line == f.keyFiles[p] {
					what = "last key of a file"
				}
				fd.Reasons = append(fd.Reasons, fmt.Sprintf("%s changed %s, within an hour of %s (same intrusion? without an incident window (-since) this is a guess, so at most medium)", what, kt.UTC().Format(time.RFC3339), a.path))
				if ki.indep >= Medium {
					continue // judged bad on its own: severity and action stand
				}
				if fd.Severity < Medium {
					fd.Severity = Medium
				}
				if ki.only {
					fd.Action = ActionNone
					fd.Reasons = append(fd.Reasons, lockoutReason)
				} else {
					fd.Action = ActionRemoveLine
				}
			}
			break
		}
	}
}

// guardOnlyKeys keeps the default plan from removing every way in: a
// file's only key that is marked for removal for its time alone (written
// inside the incident window) stays in place, with the reason, unless
// another usable key on the host (no forced command) is left by the
// default plan. The operator's launch key, written at launch inside a
// window chosen too wide, is then never removed along with the attacker's.
func (f *finder) guardOnlyKeys() {
	byFile := f.keyLines()
	survivor := false
	var guarded []keyInfo
	for _, ks := range byFile {
		for _, ki := range ks {
			fd := f.out[ki.idx]
			acted := fd.Action != ActionNone && fd.Severity >= High
			if ki.usable && !acted {
				survivor = true
			}
			if acted && ki.only && ki.indep < Medium {
				guarded = append(guarded, ki)
			}
		}
	}
	if survivor {
		return
	}
	for _, ki := range guarded {
		fd := &f.out[ki.idx]
		fd.Action = ActionNone
		fd.Reasons = append(fd.Reasons, lockoutReason+" (no other key on the host would remain)")
	}
}

// deletedRunning returns the pids still running p after it was deleted
// (live root only; an offline root has no processes).
func (f *finder) deletedRunning(p string) []int {
	if !isLiveRoot(f.o.Root) {
		return nil
	}
	if f.deleted == nil {
		f.deleted = runningDeleted()
	}
	return f.deleted[p]
}

func systemPath(p string) bool {
	for _, pre := range []string{"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/", "/lib/", "/lib64/", "/usr/lib64/", "/usr/libexec/", "/usr/share/", "/etc/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// isPersistenceConfig: files the location checks judge line by line; a
// bad entry that names /etc/crontab (chattr +i /etc/crontab) must not make
// Plan quarantine the whole crontab.
func isPersistenceConfig(p string) bool {
	switch p {
	case "/etc/crontab", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts", "/etc/sudoers",
		"/etc/ld.so.preload", "/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/rc.local", "/etc/anacrontab":
		return true
	}
	if strings.Contains(p, "/.ssh/") || strings.HasPrefix(p, "/var/spool/cron/") || strings.HasPrefix(p, "/etc/cron") {
		return true
	}
	b := path.Base(p)
	switch b {
	case ".bashrc", ".profile", ".bash_profile", ".zshrc", ".bash_login":
		return true
	}
	return false
}
