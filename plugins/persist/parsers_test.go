package persist

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSudoers(t *testing.T) {
	data := []byte("# comment\n#includedir /etc/sudoers.d\nDefaults\tenv_reset\nCmnd_Alias X = /bin/ls\n" +
		"%sudo\tALL=(ALL:ALL) ALL\n" +
		"deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx, SETENV: /tmp/.x/y\\, z\n" +
		"garbage\n")
	got := parseSudoers(data)
	want := []sudoLine{
		{Line: 2, Raw: "#includedir /etc/sudoers.d", Kind: sudoInclude, Include: "/etc/sudoers.d"},
		{Line: 3, Raw: "Defaults\tenv_reset", Kind: sudoDefaults, Settings: "env_reset"},
		{Line: 4, Raw: "Cmnd_Alias X = /bin/ls", Kind: sudoAlias},
		{Line: 5, Raw: "%sudo\tALL=(ALL:ALL) ALL", Who: "%sudo", Commands: []string{"ALL"}, All: true},
		{Line: 6, Raw: "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx, SETENV: /tmp/.x/y\\, z", Who: "deploy",
			Commands: []string{"/usr/bin/systemctl restart nginx", "/tmp/.x/y, z"}, NoPasswd: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A sudo rule is judged per command: a command run from a hidden temp
// path is high even after a harmless one and behind tags.
func TestSudoersCommandsJudged(t *testing.T) {
	for _, sl := range parseSudoers([]byte("deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx, /tmp/.x/y\n")) {
		var v verdict
		for _, c := range sl.Commands {
			v.merge(analyzeCommand(c))
		}
		if v.sev != High {
			t.Errorf("severity %v (%v), want high", v.sev, v.reasons)
		}
	}
}

func TestParseSmallConfigs(t *testing.T) {
	if diff := cmp.Diff([]sshdDirective{{Line: 2, Raw: "AuthorizedKeysFile=.ssh/authorized_keys /var/tmp/.k", Name: "authorizedkeysfile", Args: []string{".ssh/authorized_keys", "/var/tmp/.k"}},
		{Line: 3, Raw: "PermitRootLogin no", Name: "permitrootlogin", Args: []string{"no"}}},
		parseSSHDKeySources([]byte("#AuthorizedKeysFile x\nAuthorizedKeysFile=.ssh/authorized_keys /var/tmp/.k\nPermitRootLogin no\nUsePAM yes\n"))); diff != "" {
		t.Errorf("sshd (-want +got):\n%s", diff)
	}
	pam := parsePAM([]byte("#%PAM-1.0\nauth required pam_env.so\nsession optional pam_exec.so quiet expose_authtok /tmp/.p arg\naccount required /var/tmp/.m/pam_x.so\n"))
	if len(pam) != 3 || !pam[1].Exec || pam[1].Command != "/tmp/.p arg" || !pam[1].AuthTok || !cmp.Equal(pam[2].ModPaths, []string{"/var/tmp/.m/pam_x.so"}) {
		t.Errorf("pam %+v", pam)
	}
	if diff := cmp.Diff([]preloadLine{{Line: 2, Raw: " /lib/a.so:/tmp/b.so /c.so", Libs: []string{"/lib/a.so", "/tmp/b.so", "/c.so"}}},
		parsePreload([]byte("# x\n /lib/a.so:/tmp/b.so /c.so\n\n"))); diff != "" {
		t.Errorf("preload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ldConfLine{{Line: 2, Raw: "/usr/local/lib # local", Dir: "/usr/local/lib"}, {Line: 3, Raw: "/opt/a:/dev/shm/.l", Dir: "/opt/a"}, {Line: 3, Raw: "/opt/a:/dev/shm/.l", Dir: "/dev/shm/.l"}},
		parseLdSoConf([]byte("include /etc/ld.so.conf.d/*.conf\n/usr/local/lib # local\n/opt/a:/dev/shm/.l\n"))); diff != "" {
		t.Errorf("ld.so.conf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]moduleLine{{Line: 2, Raw: "dia-morphine.ko opt=1", Name: "dia_morphine"}}, parseModulesLoad([]byte("# m\ndia-morphine.ko opt=1\n;x\n"))); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]modprobeHook{{Line: 1, Raw: "install usb_storage /bin/sh -c 'x'", Verb: "install", Module: "usb_storage", Command: "/bin/sh -c 'x'"}}, parseModprobeHooks([]byte("install usb_storage /bin/sh -c 'x'\noptions a b\n"))); diff != "" {
		t.Errorf("modprobe (-want +got):\n%s", diff)
	}
}

// A hostile line or script is bounded: a command naming 5,000 distinct
// paths records maxRefs of them, a script of 2,000 bad lines names the
// first maxLineReasons and counts the rest.
func TestAnalyzeBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "/tmp/.x/%d; ", i)
	}
	v := analyzeCommand(b.String())
	if len(v.refs) > 2*maxRefs || v.sev < High {
		t.Errorf("%d refs, severity %v", len(v.refs), v.sev)
	}
	var lines []string
	for i := 0; i < 2000; i++ {
		lines = append(lines, fmt.Sprintf("/var/tmp/.m/%d &", i))
	}
	all, bad := lineVerdicts(lines)
	if len(bad) != maxLineReasons || all.sev < High || len(all.reasons) > 3*maxLineReasons+1 {
		t.Errorf("%d bad lines, %d reasons, severity %v", len(bad), len(all.reasons), all.sev)
	}
	if last := all.reasons[len(all.reasons)-1]; last != fmt.Sprintf("and %d more such lines", 2000-maxLineReasons) {
		t.Errorf("last reason %q", last)
	}
}
