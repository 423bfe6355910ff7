package persist

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ---- a sweep of the system's program and library directories ----
//
// Dropped programs are not only run by an entry Find reads: a renamed
// chattr (/usr/bin/tntrecht), a rootkit library waiting for its
// ld.so.preload line, a SUID root shell. The sweep lists, in the system's
// program and library directories and in /etc, the regular files no
// package installed that can run (an ELF, or a script with an execute
// bit), every SUID/SGID file no package installed, and compares packaged
// SUID/SGID files and PAM modules, and packaged files changed inside the
// incident window, with their package's digest (the common tools malware
// replaces are compared by findTrojaned). It reads directory entries and
// one stat per file, and the first bytes only of files no package owns:
// on a stock root it costs little (BenchmarkSweep). Without package
// metadata there is nothing to compare with, and it does not run.
//
// Homes are swept too: ~/.local/bin and ~/bin (a copy of top there comes
// before /usr/bin/top on the PATH) and hidden directories (~/.configrc5),
// where an ELF is what malware leaves and rarely what a user keeps.

// sweepDirs are walked whole; in /usr/local and /opt only SUID files and
// files changed in the window are reported (administrators install
// there).
var sweepDirs = []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/libexec", "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/etc", "/opt"}

// Bounds of the sweep: entries per tree and depth.
const (
	maxSweepEntries = 400000
	maxSweepDepth   = 16
	maxSweepReports = 500 // findings per tree below high; the rest are counted
)

type sweepState struct {
	n        int
	limit    int // entries; 0: maxSweepEntries
	reported int
	dropped  int
}

func (st *sweepState) max() int {
	if st.limit > 0 {
		return st.limit
	}
	return maxSweepEntries
}

func (f *finder) findSweep() {
	if f.db == nil || !f.db.present {
		return
	}
	walked := map[string]bool{}
	for _, dir := range sweepDirs {
		rel, err := f.fs.Resolve(dir, true)
		if err != nil || walked[rel] {
			continue
		}
		walked[rel] = true
		d, err := f.openDir(rel, false)
		if err != nil {
			continue
		}
		st := &sweepState{}
		f.sweepFD(d, dir, 0, st, f.skipPackaged, f.sweepFile)
		f.swept += st.n
		if st.n > maxSweepEntries {
			f.add(Finding{Path: dir, Kind: KindDroppedBinary, Severity: Low,
				Reasons: []string{fmt.Sprintf("sweep stopped after %d entries: examine the rest by hand", maxSweepEntries)}})
		}
		if st.dropped > 0 {
			f.add(Finding{Path: dir, Kind: KindDroppedBinary, Severity: Low,
				Reasons: []string{fmt.Sprintf("%d more files no package installed (libraries, scripts, or beyond the first %d), not listed one by one", st.dropped, maxSweepReports)}})
		}
	}
	f.sweepHomes()
}

// sweepFD walks an open directory with *at calls (names opened with
// O_NOFOLLOW beneath a directory held open; links are never followed).
func (f *finder) sweepFD(d *os.File, dir string, depth int, st *sweepState, skip func(p, name string) bool, visit func(dfd int, name, p string, s *unix.Stat_t, st *sweepState)) {
	defer d.Close()
	if depth > maxSweepDepth || st.n > st.max() || f.ctx.Err() != nil {
		return
	}
	ents, err := d.ReadDir(-1)
	if err != nil && len(ents) == 0 {
		return
	}
	dfd := int(d.Fd())
	for _, e := range ents {
		st.n++
		if st.n > st.max() {
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
				f.sweepFD(os.NewFile(uintptr(fd), p), p, depth+1, st, skip, visit)
			}
		case e.Type().IsRegular():
			if skip != nil && skip(p, e.Name()) {
				continue
			}
			var s unix.Stat_t
			if err := unix.Fstatat(dfd, e.Name(), &s, unix.AT_SYMLINK_NOFOLLOW); err != nil || s.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			visit(dfd, e.Name(), p, &s, st)
		}
	}
}

// knownSetuid are the base names of the SUID/SGID programs distributions
// ship: without an incident window, packaged files are not stat'ed one by
// one (the sweep's main cost on a real root), and these are compared with
// their package's digest instead.
var knownSetuid = map[string]bool{"sudo": true, "su": true, "passwd": true, "chsh": true, "chfn": true, "newgrp": true, "gpasswd": true,
	"mount": true, "umount": true, "pkexec": true, "fusermount": true, "fusermount3": true, "crontab": true, "at": true, "ssh-agent": true,
	"expiry": true, "chage": true, "wall": true, "write": true, "ssh-keysign": true, "dbus-daemon-launch-helper": true,
	"polkit-agent-helper-1": true, "unix_chkpwd": true, "pam_extrausers_chkpwd": true, "staprun": true, "ping": true, "sg": true}

// skipPackaged tells the sweep to pass over a packaged file without a
// stat: with no incident window nothing about it is judged but its
// digest, which only SUID programs and PAM modules get.
func (f *finder) skipPackaged(p, name string) bool {
	if !f.o.Since.IsZero() {
		return false
	}
	pf, owned := f.db.lookup(p)
	if !owned {
		return false
	}
	if !pf.conffile && (knownSetuid[name] || strings.Contains(p, "/security/pam_") && strings.HasSuffix(name, ".so")) {
		f.checkDigest(p, pf, false)
	}
	return true
}

// head reads the first bytes of a file beneath dfd (never following a
// link, never blocking on a FIFO swapped in).
func head(dfd int, name string) []byte {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	if err != nil {
		fd, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
	}
	defer unix.Close(fd)
	b := make([]byte, 4)
	n, _ := unix.Pread(fd, b, 0)
	if n < 0 {
		n = 0
	}
	return b[:n]
}

func statTimes(s *unix.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(s.Mtim.Sec, s.Mtim.Nsec), time.Unix(s.Ctim.Sec, s.Ctim.Nsec)
}

// oddName reports a file name made to pass for another: trailing or
// leading blanks ("ps "), or nothing but blanks and dots.
func oddName(n string) bool {
	return n != strings.TrimSpace(n) || strings.Trim(n, " .\t") == ""
}

func (f *finder) sweepFile(dfd int, name, p string, s *unix.Stat_t, st *sweepState) {
	mode := fs.FileMode(s.Mode & 0o777)
	suid := s.Mode&(unix.S_ISUID|unix.S_ISGID) != 0
	mtime, ctime := statTimes(s)
	window := f.inWindow(mtime, ctime)
	pf, owned := f.db.lookup(p)
	if owned {
		if !pf.conffile && (suid || window || strings.Contains(p, "/security/pam_") && strings.HasSuffix(p, ".so")) {
			f.checkDigest(p, pf, window)
		}
		return
	}
	exec := mode&0o111 != 0
	lib := reSharedLib.MatchString(name)
	etc := strings.HasPrefix(p, "/etc/")
	local := strings.HasPrefix(p, "/usr/local/") || strings.HasPrefix(p, "/opt/")
	if !exec && !lib && !suid || local && !window && !suid {
		return // administrators install their own programs in /usr/local and /opt
	}
	h := head(dfd, name)
	elf, script := hasELF(h), hasShebang(h) && exec
	if !elf && !script && !suid {
		return
	}
	var v verdict
	what := "script"
	if elf {
		what = "ELF file"
	}
	a := "a "
	if elf {
		a = "an "
	}
	switch {
	case suid && s.Uid == 0:
		v.add(High, fmt.Sprintf("SUID/SGID root %s no package installed (mode %04o)", what, s.Mode&0o7777))
	case suid:
		v.add(Medium, fmt.Sprintf("SUID/SGID %s no package installed (mode %04o, uid %d)", what, s.Mode&0o7777, s.Uid))
	case etc && elf:
		v.add(High, "an ELF file no package installed, in /etc, where no program belongs")
	case etc:
		return // scripts in /etc are judged by the location checks
	case local:
		v.add(Medium, a+what+" no package installed, outside the package-managed directories")
	case libDir(p) && !exec:
		v.add(Low, "a shared library no package installed")
	case elf:
		v.add(Medium, "an ELF file no package installed, in a system program directory")
	default:
		v.add(Low, "a script no package installed, in a system program directory")
	}
	if oddName(name) {
		v.add(High, fmt.Sprintf("file name %q made to pass for another (blanks)", name))
	}
	if window && !suid && !etc {
		v.add(raise(v.sev), "changed inside the incident window")
	}
	if v.sev < Medium || v.sev < High && st.reported >= maxSweepReports {
		// Libraries and scripts no package installed, older than the
		// window (pip's, a tarball's): counted, not listed one by one.
		st.dropped++
		return
	}
	st.reported++
	v.reasons = append(v.reasons, fmt.Sprintf("size %d, mode %v, uid %d, modified %s", s.Size, fs.FileMode(s.Mode&0o7777).Perm(), s.Uid, mtime.UTC().Format(time.RFC3339)))
	fd := Finding{Path: p, Kind: KindDroppedBinary, Severity: v.sev, Reasons: v.reasons}
	if v.sev >= High {
		fd.Action = ActionQuarantine
	}
	f.add(fd)
}

// checkDigest compares a packaged file with its package's digest.
func (f *finder) checkDigest(p string, pf pkgFile, window bool) {
	if f.digested == nil {
		f.digested = map[string]bool{}
	}
	if f.digested[p] {
		return
	}
	f.digested[p] = true
	sum, ok := f.fileDigest(p, pf)
	if !ok || strings.EqualFold(sum, pf.digest) {
		return
	}
	for _, o := range pf.also {
		if s, ok := f.fileDigest(p, o); ok && strings.EqualFold(s, o.digest) {
			return
		}
	}
	r := fmt.Sprintf("differs from package %s (%s %s, package says %s): replaced? Reinstall the package; it is left in place", pf.pkg, algoName(pf.algo), sum, pf.digest)
	if window {
		r += "; changed inside the incident window"
	}
	f.add(Finding{Path: p, Kind: KindPackageFile, Severity: High, Package: pf.pkg, Reasons: []string{r}})
}

// sweepHomes looks at what can run in each home's bin directories and
// hidden directories.
func (f *finder) sweepHomes() {
	for _, h := range f.homes {
		rel, err := f.fs.Resolve(h.dir, true)
		if err != nil {
			continue
		}
		d, err := f.openDir(rel, false)
		if err != nil {
			continue
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			continue
		}
		st := &sweepState{limit: f.o.MaxTempEntries}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() || !(strings.HasPrefix(n, ".") || n == "bin") || n == ".ssh" || contains(wellKnownToolDirs, n) {
				continue // toolchains and caches (~/.cache, ~/.cargo …) are not walked: large, and users' own
			}
			dir := h.dir + "/" + n
			drel, err := f.fs.Resolve(dir, false)
			if err != nil {
				continue
			}
			dd, err := f.openDir(drel, true)
			if err != nil {
				continue
			}
			f.sweepFD(dd, dir, 1, st, nil, f.homeFile)
		}
		if st.n > st.max() {
			f.add(Finding{Path: h.dir, Kind: KindDroppedBinary, Severity: Low, User: h.user,
				Reasons: []string{fmt.Sprintf("sweep of the home's hidden directories stopped after %d entries: examine the rest by hand", st.max())}})
		}
		if st.dropped > 0 {
			f.add(Finding{Path: h.dir, Kind: KindDroppedBinary, Severity: Info, User: h.user,
				Reasons: []string{fmt.Sprintf("%d programs in the home's bin and tool directories (low: ~/.cargo, ~/.pyenv, ~/.local/bin …), not listed one by one", st.dropped)}})
		}
	}
}

// wellKnownToolDirs hold programs users install on purpose (toolchains,
// editors' servers): an ELF there is listed low unless it changed inside
// the incident window.
var wellKnownToolDirs = []string{".cargo", ".rustup", ".vscode-server", ".cursor-server", ".pyenv", ".nvm", ".npm", ".cache", ".local/share", ".local/lib", ".sdkman", ".gradle", ".m2", ".conda", ".dotnet", ".bun", ".deno", ".volta", ".go", ".krew", ".docker/cli-plugins"}

func (f *finder) homeFile(dfd int, name, p string, s *unix.Stat_t, st *sweepState) {
	mode := fs.FileMode(s.Mode & 0o777)
	suid := s.Mode&(unix.S_ISUID|unix.S_ISGID) != 0
	if mode&0o111 == 0 && !suid {
		return
	}
	h := head(dfd, name)
	elf, script := hasELF(h), hasShebang(h)
	if !elf && !script {
		return
	}
	mtime, ctime := statTimes(s)
	window := f.inWindow(mtime, ctime)
	var v verdict
	dir := path.Dir(p)
	onPath := strings.HasSuffix(dir, "/.local/bin") || strings.HasSuffix(dir, "/bin") && strings.Count(dir, "/") == 3
	tool := false
	for _, k := range wellKnownToolDirs {
		if strings.Contains(p, "/"+k+"/") {
			tool = true
		}
	}
	switch {
	case suid:
		v.add(High, fmt.Sprintf("SUID/SGID file in a home (mode %04o, uid %d)", s.Mode&0o7777, s.Uid))
	case onPath && elf && f.shadowsSystemTool(name):
		v.add(High, "a copy of the system's "+name+" in a home's bin directory, ahead of it on the PATH")
	case onPath && elf:
		v.add(Low, "an ELF file in a home's bin directory")
	case elf && tool:
		v.add(Low, "an ELF file in a tool directory of a home")
	case elf:
		v.add(Medium, "an ELF file in a hidden directory of a home")
	case window && !onPath && !tool:
		v.add(Low, "an executable script in a hidden directory of a home")
	default:
		return
	}
	if oddName(name) {
		v.add(High, fmt.Sprintf("file name %q made to pass for another (blanks)", name))
	}
	if window {
		v.add(raise(v.sev), "changed inside the incident window")
	}
	if v.sev < Medium || v.sev < High && st.reported >= maxSweepReports {
		st.dropped++ // toolchains in ~/.cargo, ~/.pyenv …: counted, not listed
		return
	}
	st.reported++
	v.reasons = append(v.reasons, fmt.Sprintf("size %d, mode %v, uid %d, modified %s", s.Size, fs.FileMode(s.Mode&0o7777).Perm(), s.Uid, mtime.UTC().Format(time.RFC3339)))
	fd := Finding{Path: p, Kind: KindDroppedBinary, Severity: v.sev, Reasons: v.reasons}
	if v.sev >= High {
		fd.Action = ActionQuarantine
	}
	f.add(fd)
}

// shadowsSystemTool reports whether a program of that name is packaged
// in the system's program directories.
func (f *finder) shadowsSystemTool(name string) bool {
	for _, d := range []string{"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"} {
		if _, ok := f.db.lookup(d + name); ok {
			return true
		}
	}
	// Tools a host may lack but malware copies anyway.
	switch name {
	case "ldd", "top", "ps", "ss", "netstat", "lsof", "crontab", "ls", "find", "sshd", "sudo", "su", "kill", "pkill", "pgrep", "systemctl":
		return true
	}
	return false
}

// openDir opens a directory (rel, inside the root) for listing without
// moving its access time (O_NOATIME, where the kernel allows it): Find
// only reads, and a restore round trip compares directory times.
func (f *finder) openDir(rel string, nofollow bool) (*os.File, error) {
	fl := os.O_RDONLY | syscall.O_DIRECTORY
	if nofollow {
		fl |= syscall.O_NOFOLLOW
	}
	if d, err := f.fs.OpenRel(rel, fl|syscall.O_NOATIME, 0); err == nil {
		return d, nil
	}
	return f.fs.OpenRel(rel, fl, 0)
}
