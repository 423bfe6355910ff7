package hosttest

import "io/fs"

// The programs and libraries of the stock Debian and Ubuntu roots: enough
// of /usr/bin, /usr/sbin and /usr/lib for a sweep of the system's program
// directories to have something packaged to pass over, and for the tools
// malware replaces (ps, top, ss, sshd, crontab, pam_unix.so) to have a
// packaged copy to be compared with. Contents are FakeELF markers (never
// runnable); every file is recorded in the dpkg metadata of its package,
// as `dpkg -S` names it on a real Debian 12 cloud image.

type binFile struct {
	path string
	pkg  string
	mode fs.FileMode // 0: 0755
}

var debianBinFiles = []binFile{
	{"/usr/bin/bash", "bash", 0},
	{"/usr/bin/dash", "dash", 0},
	{"/usr/bin/ps", "procps", 0},
	{"/usr/bin/top", "procps", 0},
	{"/usr/bin/pgrep", "procps", 0},
	{"/usr/bin/kill", "procps", 0},
	{"/usr/bin/ss", "iproute2", 0},
	{"/usr/bin/ip", "iproute2", 0},
	{"/usr/bin/ls", "coreutils", 0},
	{"/usr/bin/cat", "coreutils", 0},
	{"/usr/bin/chattr", "e2fsprogs", 0},
	{"/usr/bin/lsattr", "e2fsprogs", 0},
	{"/usr/bin/curl", "curl", 0},
	{"/usr/bin/wget", "wget", 0},
	{"/usr/bin/find", "findutils", 0},
	{"/usr/bin/logger", "bsdutils", 0},
	{"/usr/bin/systemctl", "systemd", 0},
	{"/usr/bin/crontab", "cron", fs.ModeSetgid | 0o755},
	{"/usr/sbin/cron", "cron", 0},
	{"/usr/sbin/sshd", "openssh-server", 0},
	{"/usr/lib/openssh/sftp-server", "openssh-sftp-server", 0},
	{"/usr/bin/ssh", "openssh-client", 0},
	{"/usr/bin/sudo", "sudo", fs.ModeSetuid | 0o755},
	{"/usr/bin/passwd", "passwd", fs.ModeSetuid | 0o755},
	{"/usr/bin/su", "util-linux", fs.ModeSetuid | 0o755},
	{"/usr/bin/mount", "mount", fs.ModeSetuid | 0o755},
	{"/usr/bin/run-parts", "debianutils", 0},
	{"/usr/sbin/e2scrub_all", "e2fsprogs", 0},
	{"/usr/sbin/dpkg-preconfigure", "debconf", 0},
	{"/usr/lib/x86_64-linux-gnu/libc.so.6", "libc6", 0o644},
	{"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "libjemalloc2", 0o644},
	{"/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "libgoogle-perftools4", 0o644},
	{"/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "libpam-modules", 0o644},
	{"/usr/lib/x86_64-linux-gnu/security/pam_env.so", "libpam-modules", 0o644},
	{"/usr/lib/x86_64-linux-gnu/security/pam_systemd.so", "libpam-systemd", 0o644},
	{"/usr/lib/systemd/systemd", "systemd", 0},
	{"/usr/lib/systemd/system-generators/systemd-fstab-generator", "systemd", 0},
	{"/usr/lib/systemd/system-generators/systemd-getty-generator", "systemd", 0},
	{"/usr/lib/udev/hwclock-set", "util-linux", 0},
	{"/usr/lib/udev/cdrom_id", "udev", 0},
	{"/usr/bin/supervisord", "supervisor", 0},
}

// debianBins returns the program entries and the packages that own them.
func debianBins() (Tree, []Package) {
	var t Tree
	owners := map[string]*Package{}
	var order []string
	for _, b := range debianBinFiles {
		mode := b.mode
		if mode == 0 {
			mode = 0o755
		}
		t = append(t, Entry{Path: b.path, Data: FakeELF("stock " + b.path), Mode: mode})
		p, ok := owners[b.pkg]
		if !ok {
			p = &Package{Name: b.pkg}
			owners[b.pkg] = p
			order = append(order, b.pkg)
		}
		p.Files = append(p.Files, b.path)
	}
	t = append(t,
		Entry{Path: "/usr/bin/sh", Link: "dash"},
		Entry{Path: "/usr/bin/rbash", Link: "bash"},
		Entry{Path: "/usr/share/doc/procps/README", Data: "procps\n"},
		// Configuration the stock image carries next to its programs.
		Entry{Path: "/etc/group", Data: debianGroup},
		Entry{Path: "/etc/apt/apt.conf.d/70debconf", Data: "// Pre-configure all packages with debconf before they are installed.\n// If you don't like it, comment it out.\nDPkg::Pre-Install-Pkgs {\"/usr/sbin/dpkg-preconfigure --apt || true\";};\n"},
		Entry{Path: "/etc/apt/apt.conf.d/docker-clean", Data: "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\nAPT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\nDir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n"},
		Entry{Path: "/etc/apt/apt.conf.d/01autoremove", Data: "APT\n{\n  NeverAutoRemove\n  {\n\t\"^firmware-linux.*\";\n\t\"^linux-firmware$\";\n  };\n};\n"},
	)
	pkgs := make([]Package, 0, len(order)+2)
	for _, n := range order {
		pkgs = append(pkgs, *owners[n])
	}
	pkgs = append(pkgs,
		Package{Name: "debconf", Files: []string{"/etc/apt/apt.conf.d/70debconf"}, Conffiles: []string{"/etc/apt/apt.conf.d/70debconf"}},
		Package{Name: "apt", Files: []string{"/etc/apt/apt.conf.d/01autoremove"}, Conffiles: []string{"/etc/apt/apt.conf.d/01autoremove"}},
		Package{Name: "procps", Files: []string{"/usr/share/doc/procps/README"}},
	)
	return t, pkgs
}

// debianGroup is a Debian 12 cloud image's /etc/group: the login user
// "admin" in the groups cloud-init gives the default user.
const debianGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:admin
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:admin
fax:x:21:
voice:x:22:
cdrom:x:24:admin
floppy:x:25:admin
tape:x:26:
sudo:x:27:admin
audio:x:29:admin
dip:x:30:admin
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
shadow:x:42:
utmp:x:43:
video:x:44:admin
sasl:x:45:
plugdev:x:46:admin
staff:x:50:
games:x:60:
users:x:100:
nogroup:x:65534:
systemd-journal:x:999:
systemd-network:x:998:
systemd-timesync:x:997:
input:x:101:
sgx:x:102:
kvm:x:103:
render:x:104:
crontab:x:105:
netdev:x:106:admin
messagebus:x:107:
_ssh:x:108:
admin:x:1000:
`
