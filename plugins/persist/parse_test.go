package persist

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseCrontab(t *testing.T) {
	data := []byte("# c\nSHELL=/bin/sh\n17 *\t* * *\troot\tcd / && run-parts  --report /etc/cron.hourly\n@reboot root /x  -a\n@bogus x\n1 2 3\n*/5 * * * * nobody\n* * * * * root echo 100%\r\n")
	got := parseCrontab(data, true)
	want := []cronLine{
		{Line: 2, Raw: "SHELL=/bin/sh", Env: true, Command: "SHELL=/bin/sh"},
		{Line: 3, Raw: "17 *\t* * *\troot\tcd / && run-parts  --report /etc/cron.hourly", User: "root", Schedule: "17 * * * *", Command: "cd / && run-parts  --report /etc/cron.hourly"},
		{Line: 4, Raw: "@reboot root /x  -a", User: "root", Schedule: "@reboot", Command: "/x  -a"},
		{Line: 5, Raw: "@bogus x", Command: "@bogus x", Err: errCronSchedule},
		{Line: 6, Raw: "1 2 3", Command: "1 2 3", Err: errCronFields},
		{Line: 7, Raw: "*/5 * * * * nobody", Command: "*/5 * * * * nobody", Err: errCronFields},
		{Line: 8, Raw: "* * * * * root echo 100%\r", User: "root", Schedule: "* * * * *", Command: "echo 100%"},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("system (-want +got):\n%s", diff)
	}
	user := parseCrontab([]byte("*/5 * * * * /tmp/.X11-unix/.work32 >/dev/null 2>&1\n"), false)
	if len(user) != 1 || user[0].User != "" || user[0].Command != "/tmp/.X11-unix/.work32 >/dev/null 2>&1" {
		t.Errorf("user crontab: %+v", user)
	}
}

func TestParseUnit(t *testing.T) {
	data := []byte("[Unit]\nDescription=x\n# c\n; c\n[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\nEnvironment=A=1\n=bad\nnoequals\n")
	want := []unitEntry{
		{Line: 2, Section: "Unit", Key: "Description", Value: "x"},
		{Line: 6, Section: "Service", Key: "ExecStart", Value: "/bin/sh -c  'echo hi'"},
		{Line: 8, Section: "Service", Key: "Environment", Value: "A=1"},
	}
	if diff := cmp.Diff(want, parseUnit(data)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := execCommand("-@/usr/bin/x --y"); got != "/usr/bin/x --y" {
		t.Errorf("execCommand = %q", got)
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	data := []byte(`# comment
no-pty,command="echo \"a b\"; sleep 1" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me@host
ssh-rsa AAAAB3NzaC1yc2E=
from="10.0.0.1"
ssh-rsa not!base64 x
`)
	got := parseAuthorizedKeys(data)
	if len(got) != 4 {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	if got[0].Line != 2 || got[0].Type != "ssh-ed25519" || got[0].Comment != "me@host" || got[0].Err != nil {
		t.Errorf("entry 0: %+v", got[0])
	}
	if cmd, ok := optionValue(got[0].Options, "command"); !ok || cmd != `echo "a b"; sleep 1` {
		t.Errorf("command option = %q, %v", cmd, ok)
	}
	if got[1].Options != "" || got[1].Type != "ssh-rsa" || got[1].Err != nil {
		t.Errorf("entry 1: %+v", got[1])
	}
	if got[2].Err == nil || got[3].Err == nil {
		t.Errorf("bad lines accepted: %+v %+v", got[2], got[3])
	}
}

func TestParsePasswdHostsUdev(t *testing.T) {
	pw := parsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\n+::::::\nbad\nx:x:a:0::/:/bin/sh\n"))
	if len(pw) != 3 || pw[0].UID != 0 || pw[1].Err != errPasswdFields || pw[2].Err != errPasswdID {
		t.Errorf("passwd: %+v", pw)
	}
	h := parseHosts([]byte("127.0.0.1 localhost # c\n# 1.2.3.4 x\n::1\n198.51.100.1 a b\n"))
	want := []hostsEntry{{Line: 1, Raw: "127.0.0.1 localhost # c", Addr: "127.0.0.1", Names: []string{"localhost"}}, {Line: 4, Raw: "198.51.100.1 a b", Addr: "198.51.100.1", Names: []string{"a", "b"}}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	u := parseUdevRules([]byte("# c\nACTION==\"add\", RUN+=\"/bin/a\", \\\n  PROGRAM=\"/bin/b\"\nKERNEL==\"x\", IMPORT{program}=\"c\", RUN{builtin}+=\"kmod load\"\n"))
	wantU := []udevCmd{{Line: 2, Key: "RUN", Command: "/bin/a"}, {Line: 2, Key: "PROGRAM", Command: "/bin/b"}, {Line: 4, Key: "IMPORT{program}", Command: "c"}, {Line: 4, Key: "RUN{builtin}", Command: "kmod load"}}
	if diff := cmp.Diff(wantU, u); diff != "" {
		t.Errorf("udev (-want +got):\n%s", diff)
	}
}

func TestOptionValue(t *testing.T) {
	type res struct {
		V  string
		OK bool
	}
	for _, c := range []struct {
		opts string
		want res
	}{
		{`command="x"`, res{"x", true}},
		{`no-pty,COMMAND="a \"b\" c",from="10.0.0.1"`, res{`a "b" c`, true}},
		// Invalid UTF-8 before the option: strings.ToLower grows each byte
		// into three, and a position found there overruns the original.
		{"\xd6\xd6\xd6\xd6command=\"x\"", res{}},
		{"\xd6,command=\"x\"", res{"x", true}},
		{`environment="A=command=\"y\"",no-pty`, res{}},
		{`environment="A=command=\"y\"",command="z"`, res{"z", true}},
		{`xcommand="y"`, res{}},
		{`command="unterminated`, res{"unterminated", true}},
		{`command=`, res{"", true}},
		{`no-pty`, res{}},
		{``, res{}},
	} {
		v, ok := optionValue(c.opts, "command")
		if diff := cmp.Diff(c.want, res{v, ok}); diff != "" {
			t.Errorf("optionValue(%q) (-want +got):\n%s", c.opts, diff)
		}
	}
}
