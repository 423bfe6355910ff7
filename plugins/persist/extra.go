package persist

import (
	"encoding/hex"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// ---- sshd_config: where keys are read from ----

func (f *finder) findSSHConfig() {
	files := []string{"/etc/ssh/sshd_config"}
	for _, e := range f.list("/etc/ssh/sshd_config.d", KindSSHConfig) {
		if strings.HasSuffix(e.Name(), ".conf") {
			files = append(files, "/etc/ssh/sshd_config.d/"+e.Name())
		}
	}
	for _, p := range files {
		fl, ok := f.read(p, KindSSHConfig, true)
		if !ok {
			continue
		}
		for _, d := range parseSSHDKeySources(fl.data) {
			if sshdSettings[d.Name] {
				if v := judgeSSHDSetting(d.Name, d.Args); v.sev > Info {
					f.entry(fl, KindSSHConfig, d.Line, d.Raw, "", v, ActionNone)
				}
				continue
			}
			v := judgeSSHDirective(d.Name, d.Args)
			f.entry(fl, KindSSHConfig, d.Line, d.Raw, "", v, ActionRemoveLine)
		}
	}
}

// judgeSSHDirective judges an sshd key-source directive: the default
// (.ssh/authorized_keys .ssh/authorized_keys2) is info; another file is
// medium, one in a world-writable or hidden place high; a command runs as
// root at every login and is judged as a command.
func judgeSSHDirective(name string, args []string) verdict {
	var v verdict
	switch name {
	case "authorizedkeyscommand", "authorizedprincipalscommand":
		v = analyzeCommand(strings.Join(args, " "))
		if strings.EqualFold(args[0], "none") {
			return verdict{}
		}
		v.add(Medium, "sshd runs "+args[0]+" at every login to fetch keys")
		return v
	}
	for _, a := range args {
		switch a {
		case ".ssh/authorized_keys", ".ssh/authorized_keys2", "%h/.ssh/authorized_keys", "%h/.ssh/authorized_keys2", "none":
			continue
		}
		p := a
		if !strings.HasPrefix(p, "/") {
			p = "/home/%u/" + p
		}
		if jp := judgePath(p); jp.sev > Info {
			v.add(High, "sshd reads keys from a world-writable or hidden place: "+a)
		} else {
			v.add(Medium, "sshd reads keys from a non-default file: "+a)
		}
	}
	return v
}

// ---- packaged tools replaced by trojans ----

// commonlyTrojaned are the tools rootkits and miners replace to hide
// themselves (ps/top/ss/netstat), to keep access (sshd, login, su) or to
// resist removal (chattr, crontab, systemctl).
var commonlyTrojaned = []string{
	"/usr/bin/ps", "/bin/ps", "/usr/bin/top", "/usr/bin/ss", "/bin/ss", "/usr/bin/netstat", "/bin/netstat",
	"/usr/bin/ls", "/bin/ls", "/usr/bin/lsof", "/usr/bin/find", "/usr/bin/pgrep", "/usr/bin/pkill", "/usr/bin/kill", "/bin/kill",
	"/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/login", "/bin/login", "/usr/bin/su", "/bin/su", "/usr/bin/sudo", "/usr/bin/passwd",
	"/usr/bin/chattr", "/usr/bin/lsattr", "/usr/bin/crontab", "/usr/bin/systemctl", "/bin/systemctl",
	"/usr/bin/curl", "/usr/bin/wget", "/usr/sbin/cron", "/usr/sbin/crond",
}

func (f *finder) findTrojaned() {
	if !f.db.present {
		return // no package metadata: nothing to compare with
	}
	seen := map[string]bool{}
	for _, p := range commonlyTrojaned {
		rel, err := f.fs.Resolve(p, true)
		if err != nil || seen[rel] {
			continue
		}
		seen[rel] = true
		real := rootfs.Abs(rel)
		pf, ok := f.db.lookup(real)
		if !ok || pf.conffile {
			continue
		}
		f.checkDigest(real, pf, false)
	}
}

// fileDigest hashes the file at p (inside the root) with pf's algorithm.
func (f *finder) fileDigest(p string, pf pkgFile) (string, bool) {
	rel, err := f.fs.Resolve(p, true)
	if err != nil {
		return "", false
	}
	fh, err := f.fs.OpenRegular(rel)
	if err != nil {
		return "", false
	}
	defer fh.Close()
	h := newHash(pf.algo)
	if h == nil {
		return "", false
	}
	if _, err := io.Copy(h, io.LimitReader(fh, 256<<20)); err != nil {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// ---- deleted binaries still running (live root only) ----

// deletedExes maps the path of every deleted executable a process still
// runs to its pids, from /proc/*/exe ("… (deleted)").
func deletedExes() map[string][]int {
	out := map[string][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil {
			continue
		}
		if p, ok := strings.CutSuffix(t, " (deleted)"); ok {
			out[p] = append(out[p], pid)
		}
	}
	return out
}
