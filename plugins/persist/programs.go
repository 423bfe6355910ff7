package persist

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// ---- what an entry runs: is it a program a package installed? ----
//
// Malware that has root drops its programs where programs live
// (/usr/bin/bioset, /etc/sysupdate, /usr/sbin/watchdogs, ~/.configrc5/a/upd)
// rather than in /tmp. A persistence entry whose program no package
// installed is a signal, judged by where the program is and when it
// changed: strongest in /etc (no program belongs there) and in hidden
// directories of a home, then in the system's program and library
// directories, weakest in /usr/local, /opt and the like, where
// administrators install their own. A program changed inside the
// incident window (Options.Since) is raised one level. Without package
// metadata nothing is judged this way (every file would look unowned).

var reSharedLib = regexp.MustCompile(`^lib[\w.+-]*\.so(\.\d+)*$|\.so(\.\d+)*$`)

// libDir reports whether p lies in a library directory.
func libDir(p string) bool {
	for _, pre := range []string{"/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/usr/local/lib/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// programDir reports whether p lies in a directory the system keeps its
// programs and libraries in.
func programDir(p string) bool {
	for _, pre := range []string{"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/libexec/", "/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/usr/games/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// progInfo is what Find knows of a file an entry runs.
type progInfo struct {
	real         string // path inside the root after links
	owned        bool
	pkg          string
	elf, script  bool
	mode         fs.FileMode
	mtime, ctime time.Time
}

// prog looks p up inside the root (cached). ok is false when p is not a
// regular file there.
func (f *finder) prog(p string) (progInfo, bool) {
	if f.progs == nil {
		f.progs = map[string]*progInfo{}
	}
	if pi, seen := f.progs[p]; seen {
		if pi == nil {
			return progInfo{}, false
		}
		return *pi, true
	}
	f.progs[p] = nil
	rel, err := f.fs.Resolve(p, true)
	if err != nil {
		return progInfo{}, false
	}
	fi, err := f.fs.Root().Lstat(rel)
	if err != nil || !fi.Mode().IsRegular() {
		return progInfo{}, false
	}
	pi := &progInfo{real: rootfs.Abs(rel), mode: fi.Mode(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		pi.ctime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	if pf, ok := f.db.lookup(pi.real); ok {
		pi.owned, pi.pkg = true, pf.pkg
	}
	if fh, err := f.fs.OpenRegular(rel); err == nil {
		head := make([]byte, 4)
		n, _ := fh.ReadAt(head, 0)
		fh.Close()
		pi.elf, pi.script = hasELF(head[:n]), hasShebang(head[:n])
	}
	f.progs[p] = pi
	return *pi, true
}

// inWindow reports whether a file changed inside the incident window: its
// modification time, or on the live root its change time (touch -r
// /bin/sh sets the one, never the other; see timestomped).
func (f *finder) inWindow(mtime, ctime time.Time) bool {
	if f.o.Since.IsZero() {
		return false
	}
	return mtime.After(f.o.Since) || f.live && ctime.After(f.o.Since)
}

// unownedSeverity grades a program no package installed by where it is.
func unownedSeverity(pi progInfo) (Severity, string) {
	p := pi.real
	hidden, home := hiddenComponent(p)
	switch {
	case inWritable(p) || strings.HasPrefix(p, "/dev/"):
		return Info, "" // judged by its place already
	case strings.HasPrefix(p, "/etc/") && pi.elf:
		return High, "an executable in /etc, where no program belongs"
	case strings.HasPrefix(p, "/etc/"):
		return Medium, "in /etc"
	case hidden && home && pi.elf:
		return High, "an executable in a hidden directory of a home"
	case hidden:
		return Medium, "in a hidden directory"
	case programDir(p):
		return Medium, "in a system program or library directory"
	}
	return Low, "outside the package-managed directories"
}

func raise(s Severity) Severity {
	if s < Critical {
		return s + 1
	}
	return s
}

// programs judges the files v says its entry runs: a program, script or
// library no package installed raises the verdict (see above). The file
// is added to the referenced files, so that it becomes a finding of its
// own when the entry is acted on.
func (f *finder) programs(v *verdict) {
	if f.db == nil || !f.db.present {
		return
	}
	for _, p := range v.execs {
		pi, ok := f.prog(p)
		if !ok || pi.owned {
			continue
		}
		sev, where := unownedSeverity(pi)
		if sev == Info {
			continue
		}
		r := fmt.Sprintf("runs %s, which no package installed (%s)", p, where)
		if f.inWindow(pi.mtime, pi.ctime) {
			sev = raise(sev)
			r += ", changed inside the incident window"
		}
		v.add(sev, r)
		v.refs = appendUnique(v.refs, pi.real)
	}
}

// ctimeOf returns a file's change time (zero when unknown).
func ctimeOf(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return time.Time{}
}

// reCloudInitRestriction is the forced command cloud-init puts on root's
// key when disable_root is set: it names the user to log in as, waits and
// exits.
var reCloudInitRestriction = regexp.MustCompile(`^echo 'Please login as the user "[^"';$` + "`" + `\\]+" rather than the user "root"\.';\s*echo;\s*sleep \d+(;\s*exit \d+)?;?$`)

// cloudInitRestriction reports whether cmd is cloud-init's root key
// restriction.
func cloudInitRestriction(cmd string) bool {
	return reCloudInitRestriction.MatchString(strings.TrimSpace(cmd))
}
