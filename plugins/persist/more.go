package persist

import (
	"strings"
)

// ---- systemd manager environment: DefaultEnvironment=LD_PRELOAD=… ----

func (f *finder) findSystemdManager() {
	files := []string{"/etc/systemd/system.conf", "/etc/systemd/user.conf"}
	for _, d := range []string{"/etc/systemd/system.conf.d", "/etc/systemd/user.conf.d", "/etc/environment.d"} {
		for _, e := range f.list(d, KindSystemd) {
			if strings.HasSuffix(e.Name(), ".conf") {
				files = append(files, d+"/"+e.Name())
			}
		}
	}
	for _, p := range files {
		fl, ok := f.read(p, KindSystemd, true)
		if !ok {
			continue
		}
		if strings.HasPrefix(p, "/etc/environment.d/") {
			f.lines(fl, KindSystemd, "")
			continue
		}
		for _, e := range parseUnit(fl.data) {
			if e.Key != "DefaultEnvironment" && e.Key != "ManagerEnvironment" {
				continue
			}
			v := analyzeCommand(e.Value)
			if v.sev > Info {
				f.entry(fl, KindSystemd, e.Line, e.Key+"="+e.Value, "", v, ActionRemoveLine)
			}
		}
	}
}

// ---- dynamic linker search path: /etc/ld.so.conf(.d) ----

func (f *finder) findLibraryPath() {
	files := []string{"/etc/ld.so.conf"}
	for _, e := range f.list("/etc/ld.so.conf.d", KindLibraryPath) {
		files = append(files, "/etc/ld.so.conf.d/"+e.Name())
	}
	for _, p := range files {
		fl, ok := f.read(p, KindLibraryPath, true)
		if !ok {
			continue
		}
		var v verdict
		var cur ldConfLine
		flush := func() {
			if v.sev > Low {
				f.entry(fl, KindLibraryPath, cur.Line, cur.Raw, "", v, ActionRemoveLine)
			}
			v = verdict{}
		}
		for _, l := range parseLdSoConf(fl.data) {
			if l.Line != cur.Line {
				flush()
			}
			cur = l
			if jv := judgePath(strings.TrimSuffix(l.Dir, "/") + "/"); jv.sev > Low {
				v.merge(jv)
				v.add(High, "adds a world-writable or hidden directory to the library search path: "+l.Dir)
			}
		}
		flush()
	}
}

// ---- PAM: pam_exec.so runs a program at every login ----

func (f *finder) findPAM() {
	for _, e := range f.list("/etc/pam.d", KindPAM) {
		p := "/etc/pam.d/" + e.Name()
		fl, ok := f.read(p, KindPAM, true)
		if !ok {
			continue
		}
		for _, l := range parsePAM(fl.data) {
			var v verdict
			if l.Exec {
				v = analyzeCommand(l.Command)
				v.add(Medium, "pam_exec runs "+l.Command+" at every authentication")
				if l.AuthTok {
					v.add(High, "hands users' passwords to the program (expose_authtok)")
				}
			}
			for _, m := range l.ModPaths {
				if jp := judgePath(m); jp.sev > Low {
					v.merge(jp)
					v.add(High, "loads a PAM module from a world-writable or hidden place")
				}
			}
			if v.sev > Info {
				f.entry(fl, KindPAM, l.Line, l.Raw, "", v, ActionRemoveLine)
			}
		}
	}
}

// ---- XDG autostart ----

func (f *finder) findAutostart() {
	dirs := []string{"/etc/xdg/autostart"}
	for _, h := range f.homes {
		dirs = append(dirs, h.dir+"/.config/autostart")
	}
	for _, d := range dirs {
		for _, e := range f.list(d, KindAutostart) {
			if !strings.HasSuffix(e.Name(), ".desktop") {
				continue
			}
			fl, ok := f.read(d+"/"+e.Name(), KindAutostart, true)
			if !ok || fl.stock {
				continue
			}
			for _, u := range parseUnit(fl.data) {
				if u.Key == "Exec" {
					if v := analyzeCommand(u.Value); v.sev > Info {
						f.entry(fl, KindAutostart, u.Line, "Exec="+u.Value, "", v, ActionQuarantine)
					}
				}
			}
		}
	}
}
