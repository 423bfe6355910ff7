package hosttest

import (
	"strings"
)

// Account records the stock roots carry besides /etc/passwd, shadow and
// group, in the shapes the distributions ship them:
//
//   - /etc/gshadow (name:password:administrators:members), "*" for the
//     password and the same members as /etc/group;
//   - Debian's base-passwd master files (/usr/share/base-passwd/passwd.master
//     and group.master): the static system accounts and groups with "*"
//     for the password and root's shell /bin/sh, as base-passwd 3.6 has
//     them;
//   - cloud-init's /etc/cloud/cloud.cfg with system_info.default_user: the
//     image's login user and the groups cloud-init gives it.

// gshadowOf derives the gshadow file of a group file.
func gshadowOf(group string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(group, "\n"), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 4 {
			continue
		}
		b.WriteString(f[0] + ":*::" + f[3] + "\n")
	}
	return b.String()
}

// basePasswdMaster derives base-passwd's passwd.master and group.master
// from a Debian passwd and group: the accounts and groups below 100 and
// nobody/nogroup, password "*", no members.
func basePasswdMaster(passwd, group string) (string, string) {
	var pw, gr strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(passwd, "\n"), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 7 || !(len(f[2]) <= 2 || f[2] == "65534") {
			continue
		}
		f[1] = "*"
		if f[0] == "root" {
			f[6] = "/bin/sh"
		}
		pw.WriteString(strings.Join(f, ":") + "\n")
	}
	for _, l := range strings.Split(strings.TrimSuffix(group, "\n"), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 4 || !(len(f[2]) <= 2 || f[2] == "65534") {
			continue
		}
		gr.WriteString(f[0] + ":*:" + f[2] + ":\n")
	}
	return pw.String(), gr.String()
}

// cloudCfg is /etc/cloud/cloud.cfg's default_user part for an image.
func cloudCfg(user, gecos string, groups []string) string {
	return "# The top level settings are used as module\n# and base configuration.\n\n" +
		"# A set of users which may be applied and/or used by various modules\n# when a 'default' entry is found it will reference the 'default_user'\n# from the distro configuration specified below\nusers:\n   - default\n\n" +
		"disable_root: true\n\n" +
		"system_info:\n   # This will affect which distro class gets used\n   distro: " + map[string]string{"admin": "debian", "ubuntu": "ubuntu", "ec2-user": "amazon"}[user] + "\n" +
		"   # Default user name + that default users groups (if added/used)\n   default_user:\n     name: " + user + "\n     lock_passwd: True\n     gecos: " + gecos + "\n" +
		"     groups: [" + strings.Join(groups, ", ") + "]\n     sudo: [\"ALL=(ALL) NOPASSWD:ALL\"]\n     shell: /bin/bash\n"
}

var (
	debianCloudGroups = []string{"adm", "audio", "cdrom", "dialout", "dip", "floppy", "netdev", "plugdev", "sudo", "video"}
	ubuntuCloudGroups = []string{"adm", "audio", "cdrom", "dialout", "dip", "floppy", "lxd", "netdev", "plugdev", "sudo", "video"}
	al2023CloudGroups = []string{"adm", "wheel", "systemd-journal"}
)

// al2023Group is an Amazon Linux 2023 image's /etc/group (setup's groups
// and those of the packages the image carries), ec2-user in the groups
// cloud-init gives it.
const al2023Group = `root:x:0:
bin:x:1:
daemon:x:2:
sys:x:3:
adm:x:4:ec2-user
tty:x:5:
disk:x:6:
lp:x:7:
mem:x:8:
kmem:x:9:
wheel:x:10:ec2-user
cdrom:x:11:
mail:x:12:
man:x:15:
dialout:x:18:
floppy:x:19:
games:x:20:
tape:x:33:
video:x:39:
ftp:x:50:
lock:x:54:
audio:x:63:
users:x:100:
nobody:x:65534:
utmp:x:22:
utempter:x:35:
input:x:999:
kvm:x:36:
render:x:998:
systemd-journal:x:190:ec2-user
systemd-coredump:x:997:
dbus:x:81:
systemd-network:x:192:
systemd-oom:x:996:
systemd-resolve:x:193:
sshd:x:74:
rpc:x:32:
chrony:x:994:
ec2-instance-connect:x:993:
rpcuser:x:29:
tcpdump:x:72:
ec2-user:x:1000:
`
