package persist

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// ---- supervisord: [program:x] command= ----

// supervisorProgram is one [program:name] section's command.
type supervisorProgram struct {
	Line    int // of command=
	Name    string
	Command string
}

// parseSupervisor reads the [program:x] sections of a supervisord
// configuration (INI: "key = value", continuation lines indented, ; and #
// comments at the start of a line or after whitespace).
func parseSupervisor(data []byte) []supervisorProgram {
	var out []supervisorProgram
	section := ""
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimSuffix(lines[i], "\r")
		t := strings.TrimSpace(raw)
		if t == "" || t[0] == ';' || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			if j := strings.IndexByte(t, ']'); j > 0 {
				section = strings.TrimSpace(t[1:j])
			}
			continue
		}
		name, ok := strings.CutPrefix(section, "program:")
		if !ok {
			continue
		}
		k, v, found := strings.Cut(t, "=")
		if !found || strings.TrimSpace(k) != "command" {
			continue
		}
		start := i
		v = strings.TrimSpace(v)
		for i+1 < len(lines) && i-start < 1000 {
			next := strings.TrimSuffix(lines[i+1], "\r")
			if next == "" || (next[0] != ' ' && next[0] != '\t') || strings.TrimSpace(next) == "" {
				break
			}
			i++
			v += " " + strings.TrimSpace(next)
		}
		if c := strings.Index(v, " ;"); c >= 0 {
			v = strings.TrimSpace(v[:c])
		}
		out = append(out, supervisorProgram{Line: start + 1, Name: strings.TrimSpace(name), Command: v})
	}
	return out
}

// supervisorFiles lists supervisord configurations: the distributions'
// places, and supervisord.conf files in the hidden directories of homes
// and of the temp directories (a miner's own supervisord).
func (f *finder) supervisorFiles() []string {
	files := []string{"/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"}
	for _, d := range []string{"/etc/supervisor/conf.d", "/etc/supervisord.d"} {
		for _, e := range f.list(d, KindSupervisor) {
			if n := e.Name(); strings.HasSuffix(n, ".conf") || strings.HasSuffix(n, ".ini") {
				files = append(files, d+"/"+n)
			}
		}
	}
	var dirs []string
	for _, h := range f.homes {
		dirs = append(dirs, h.dir, h.dir+"/.config")
	}
	dirs = append(dirs, tempDirs...)
	for _, base := range dirs {
		for _, e := range f.list(base, KindSupervisor) {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), ".") {
				if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasPrefix(strings.TrimPrefix(n, "."), "supervisor") && strings.HasSuffix(n, ".conf") {
					files = append(files, base+"/"+n)
				}
				continue
			}
			for _, c := range f.list(base+"/"+e.Name(), KindSupervisor) {
				if n := c.Name(); strings.HasPrefix(n, "supervisor") && strings.HasSuffix(n, ".conf") {
					files = append(files, base+"/"+e.Name()+"/"+n)
				}
			}
		}
	}
	return files
}

func (f *finder) findSupervisor() {
	for _, p := range f.supervisorFiles() {
		fl, ok := f.read(p, KindSupervisor, true)
		if !ok {
			continue
		}
		hidden, _ := hiddenComponent(p)
		for _, pr := range parseSupervisor(fl.data) {
			v := analyzeCommand(pr.Command)
			if hidden || inWritable(p) {
				v.add(Medium, "supervisord configuration in a hidden or world-writable place")
			}
			if v.sev == Info {
				v.reasons = []string{"supervisord program " + pr.Name}
			}
			// A program section of the malware's own file goes with the
			// file; a line of a packaged or shared configuration is only
			// reported (a section without command= stops supervisord, and
			// every healthy program with it).
			action := ActionQuarantine
			if fl.owned || strings.HasSuffix(p, "/supervisord.conf") && strings.HasPrefix(p, "/etc/") {
				action = ActionNone
			}
			f.entry(fl, KindSupervisor, pr.Line, "command="+pr.Command, "", v, action)
		}
	}
}

// ---- APT hooks: commands apt and dpkg run as root ----

// aptHook is one command an apt.conf file hooks into apt or dpkg.
type aptHook struct {
	Line    int
	Key     string // APT::Update::Pre-Invoke …
	Command string
}

// aptHookKeys are the apt.conf options whose values are shell commands.
var aptHookKeys = map[string]bool{
	"apt::update::pre-invoke": true, "apt::update::post-invoke": true, "apt::update::post-invoke-success": true,
	"dpkg::pre-invoke": true, "dpkg::post-invoke": true, "dpkg::pre-install-pkgs": true, "dpkg::post-install-pkgs": true,
	"apt::install::pre-invoke": true, "apt::install::post-invoke": true, "apt::install::post-invoke-success": true,
	"aptlistbugs::pre-install-pkgs": true, "dpkg::options": false,
}

// parseAPTConf reads apt.conf syntax (apt.conf(5)): scopes `A::B { … };`
// or `A { B { … }; };`, values in double quotes, // and /* */ comments,
// and returns the values of hook options with their lines.
func parseAPTConf(data []byte) []aptHook {
	var out []aptHook
	s := string(data)
	line := 1
	var stack []string
	pending := ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			line++
		case c == ' ' || c == '\t' || c == '\r':
		case c == '/' && i+1 < len(s) && s[i+1] == '/', c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i--
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return out
			}
			line += strings.Count(s[i:i+2+j+2], "\n")
			i += 2 + j + 1
		case c == '{':
			if len(stack) < 64 {
				stack = append(stack, pending)
			}
			pending = ""
		case c == '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			pending = ""
		case c == ';':
			pending = ""
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return out
			}
			val := s[i+1 : i+1+j]
			key := strings.Join(append(append([]string{}, stack...), pending), "::")
			key = strings.Trim(strings.ReplaceAll(key, "::::", "::"), ":")
			if aptHookKeys[strings.ToLower(key)] {
				out = append(out, aptHook{Line: line, Key: key, Command: val})
			}
			line += strings.Count(val, "\n")
			i += j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"", rune(s[j])) {
				j++
			}
			word := s[i:j]
			if pending == "" {
				pending = word
			} else {
				pending += "::" + word
			}
			i = j - 1
		}
	}
	return out
}

func (f *finder) findAPTHooks() {
	files := []string{"/etc/apt/apt.conf"}
	for _, e := range f.list("/etc/apt/apt.conf.d", KindAPTHook) {
		if !e.IsDir() {
			files = append(files, "/etc/apt/apt.conf.d/"+e.Name())
		}
	}
	for _, p := range files {
		fl, ok := f.read(p, KindAPTHook, true)
		if !ok {
			continue
		}
		for _, h := range parseAPTConf(fl.data) {
			v := analyzeCommand(h.Command)
			if v.sev == Info {
				v.reasons = []string{h.Key + " hook"}
			}
			action := ActionRemoveLine
			if !fl.owned {
				action = ActionQuarantine // a hook file of the malware's own
			}
			lines := splitLines(fl.data)
			content := h.Key + ` "` + h.Command + `"`
			if h.Line-1 < len(lines) {
				content = lines[h.Line-1]
			}
			f.entry(fl, KindAPTHook, h.Line, content, "root", v, action)
		}
	}
}

// ---- /etc/shells ----

// findShells judges /etc/shells: an entry in a world-writable or hidden
// place, or a file no package installed (a copy of bash made a "shell"
// for a backdoor account) is a way back in.
func (f *finder) findShells() {
	fl, ok := f.read("/etc/shells", KindAccount, true)
	if !ok {
		return
	}
	for i, l := range splitLines(fl.data) {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "/") {
			continue
		}
		v := judgePath(t)
		if v.sev > Info {
			v.add(High, "a login shell in a world-writable or hidden place: "+t)
		}
		if pi, ok := f.prog(t); ok && f.db.present && !pi.owned {
			sev := Medium
			if pi.elf && (programDir(pi.real) || strings.HasPrefix(pi.real, "/etc/")) {
				sev = High
			}
			r := "a login shell no package installed: " + t
			if f.inWindow(pi.mtime, pi.ctime) {
				sev = raise(sev)
				r += ", changed inside the incident window"
			}
			v.add(sev, r)
			v.refs = appendUnique(v.refs, pi.real)
		}
		if v.sev > Info {
			f.entry(fl, KindAccount, i+1, l, "", v, ActionRemoveLine)
		}
	}
}

// ---- systemd generators: run as root at every boot and daemon-reload ----

var generatorDirs = []string{"/etc/systemd/system-generators", "/run/systemd/system-generators", "/usr/local/lib/systemd/system-generators",
	"/usr/lib/systemd/system-generators", "/lib/systemd/system-generators", "/etc/systemd/user-generators", "/usr/local/lib/systemd/user-generators",
	"/usr/lib/systemd/user-generators", "/lib/systemd/user-generators"}

func (f *finder) findGenerators() {
	seen := map[string]bool{}
	for _, dir := range generatorDirs {
		rel, err := f.fs.Resolve(dir, true)
		if err != nil || seen[rel] {
			continue
		}
		seen[rel] = true
		for _, e := range f.list(dir, KindSystemd) {
			p := dir + "/" + e.Name()
			fl, ok := f.read(p, KindSystemd, true)
			if !ok || fl.stock {
				continue
			}
			var v verdict
			if hasShebang(fl.data) {
				v, _ = lineVerdicts(splitLines(fl.data))
				f.programs(&v)
			}
			switch {
			case fl.owned:
				v.add(High, "systemd generator differs from the copy installed by package "+fl.pkg)
			case f.db.present:
				v.add(High, "systemd generator no package installed: runs as root early at every boot and daemon-reload")
			case vendorUnitPath(p):
				// No package metadata: a vendor generator is taken as stock.
				v.reasons = append(v.reasons, "systemd generator (no package metadata to tell it from a stock one)")
			default:
				v.add(Low, "systemd generator outside the vendor directories (no package metadata to tell who installed it)")
			}
			f.entry(fl, KindSystemd, 0, "", "root", v, ActionQuarantine)
		}
	}
}

// ---- sshd settings that let attackers in ----

// judgeSSHDSetting judges PermitRootLogin, PasswordAuthentication and
// PermitEmptyPasswords (cloud images ship prohibit-password / no / no).
func judgeSSHDSetting(name string, args []string) verdict {
	var v verdict
	val := strings.ToLower(args[0])
	switch name {
	case "permitrootlogin":
		if val == "yes" {
			v.add(Medium, "PermitRootLogin yes: root may log in with a password")
		}
	case "passwordauthentication":
		if val == "yes" {
			v.add(Low, "PasswordAuthentication yes: password logins (brute-forced by the bots that spread miners)")
		}
	case "permitemptypasswords":
		if val == "yes" {
			v.add(High, "PermitEmptyPasswords yes: accounts without a password may log in")
		}
	}
	return v
}

// ---- files AuthorizedKeysFile names besides the default ----

// findExtraKeyFiles reads, for every home, the key files sshd_config's
// AuthorizedKeysFile names besides ~/.ssh/authorized_keys{,2}: keys there
// log in as well, and Find would not otherwise look.
func (f *finder) findExtraKeyFiles() {
	var patterns []string
	files := []string{"/etc/ssh/sshd_config"}
	for _, e := range f.list("/etc/ssh/sshd_config.d", KindSSHConfig) {
		if strings.HasSuffix(e.Name(), ".conf") {
			files = append(files, "/etc/ssh/sshd_config.d/"+e.Name())
		}
	}
	for _, p := range files {
		data, err := f.fs.ReadFile(p, f.o.MaxFileBytes)
		if err != nil {
			continue
		}
		for _, d := range parseSSHDKeySources(data) {
			if d.Name != "authorizedkeysfile" {
				continue
			}
			for _, a := range d.Args {
				switch a {
				case ".ssh/authorized_keys", ".ssh/authorized_keys2", "%h/.ssh/authorized_keys", "%h/.ssh/authorized_keys2", "none":
					continue
				}
				patterns = appendUnique(patterns, a)
			}
		}
	}
	seen := map[string]bool{}
	for _, pat := range patterns {
		for _, h := range f.homes {
			p := strings.NewReplacer("%h", h.dir, "%u", h.user, "%%", "%").Replace(pat)
			if !strings.HasPrefix(p, "/") {
				p = h.dir + "/" + p
			}
			p = path.Clean(p)
			if seen[p] {
				continue
			}
			seen[p] = true
			fl, ok := f.read(p, KindSSHKey, false)
			if !ok {
				continue
			}
			for _, k := range parseAuthorizedKeys(fl.data) {
				var v verdict
				if k.Err != nil {
					v.add(Low, "unparseable authorized_keys line")
				} else {
					v.add(Medium, fmt.Sprintf("%s key %s %s, in %s, which sshd reads for %s because of AuthorizedKeysFile %s", k.Type, fingerprint(k.Blob), k.Comment, p, h.user, pat))
				}
				if cmd, ok := optionValue(k.Options, "command"); ok {
					v.merge(analyzeCommand(cmd))
				}
				f.entry(fl, KindSSHKey, k.Line, k.Raw, h.user, v, ActionRemoveLine)
			}
		}
	}
}

// ---- containers that restart with the host ----

// containerInfo is what Find reads of one Docker container's state.
type containerInfo struct {
	ID, Name, Image string
	Command         string
	Restart         string // restart policy: always, unless-stopped, on-failure, no
	Privileged      bool
	HostRoot        bool // a bind mount of the host's /
}

// parseContainer reads dockerd's config.v2.json and hostconfig.json of one
// container (either may be empty).
func parseContainer(config, host []byte) (containerInfo, error) {
	var c struct {
		ID     string
		Name   string
		Path   string
		Args   []string
		Config struct {
			Image      string
			Entrypoint []string
			Cmd        []string
		}
		HostConfig *struct {
			RestartPolicy struct{ Name string }
			Privileged    bool
			Binds         []string
		}
	}
	var h struct {
		RestartPolicy struct{ Name string }
		Privileged    bool
		Binds         []string
	}
	var ci containerInfo
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c); err != nil {
			return ci, fmt.Errorf("persist: container config: %w", err)
		}
	}
	if len(host) > 0 {
		if err := json.Unmarshal(host, &h); err != nil {
			return ci, fmt.Errorf("persist: container hostconfig: %w", err)
		}
	} else if c.HostConfig != nil {
		h.RestartPolicy, h.Privileged, h.Binds = c.HostConfig.RestartPolicy, c.HostConfig.Privileged, c.HostConfig.Binds
	}
	ci.ID, ci.Name, ci.Image = c.ID, strings.TrimPrefix(c.Name, "/"), c.Config.Image
	argv := append([]string{c.Path}, c.Args...)
	if c.Path == "" {
		argv = append(append([]string{}, c.Config.Entrypoint...), c.Config.Cmd...)
	}
	ci.Command = shellJoin(argv)
	ci.Restart = h.RestartPolicy.Name
	ci.Privileged = h.Privileged
	for _, b := range h.Binds {
		if src, _, _ := strings.Cut(b, ":"); src == "/" {
			ci.HostRoot = true
		}
	}
	return ci, nil
}

// shellJoin quotes argv as a shell would need it, so that analyzeCommand
// reads sh -c's script as one word.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if a == "" && i == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"$`\\|&;<>(){}*?[]#~") {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// findContainers judges the Docker containers recorded on the root: one
// with a restart policy comes back with dockerd at every boot, so its
// command is persistence like a unit's ExecStart=.
func (f *finder) findContainers() {
	const base = "/var/lib/docker/containers"
	for _, e := range f.list(base, KindContainer) {
		if !e.IsDir() {
			continue
		}
		dir := base + "/" + e.Name()
		cfg, ok := f.read(dir+"/config.v2.json", KindContainer, false)
		if !ok {
			continue
		}
		var host []byte
		if h, ok := f.read(dir+"/hostconfig.json", KindContainer, false); ok {
			host = h.data
		}
		ci, err := parseContainer(cfg.data, host)
		if err != nil {
			f.add(Finding{Path: cfg.path, Kind: KindContainer, Severity: Low, Reasons: []string{err.Error()}})
			continue
		}
		v := analyzeCommand(ci.Command)
		if ci.HostRoot {
			v.add(Medium, "mounts the host's / into the container")
		}
		if ci.Privileged && ci.HostRoot {
			v.add(High, "a privileged container with the host's / mounted: root on the host")
		}
		persistent := ci.Restart != "" && ci.Restart != "no"
		if persistent {
			v.reasons = append(v.reasons, "restart policy "+ci.Restart+": dockerd starts it again at every boot")
		} else if v.sev > Medium {
			v.sev = Medium // stopped for good unless someone starts it
			v.reasons = append(v.reasons, "no restart policy: does not come back by itself")
		}
		if v.sev == Info {
			v.reasons = []string{"container " + ci.Name + " (" + ci.Image + ")"}
		}
		action := ActionNone
		if persistent && v.sev >= High {
			// Judged by what it runs, not by its age: a healthy
			// container is never stopped.
			action = ActionStopContainer
			v.reasons = append(v.reasons, fmt.Sprintf("container %s %s, image %s: fix: stop it and set its restart policy to no (live: docker update --restart=no, docker stop; offline: hostconfig.json); it is not removed, its files are not quarantined", ci.Name, shortID(ci.ID), ci.Image))
		} else {
			v.reasons = append(v.reasons, fmt.Sprintf("container %s %s, image %s", ci.Name, shortID(ci.ID), ci.Image))
		}
		fd := Finding{Path: cfg.path, Kind: KindContainer, Severity: v.sev, Reasons: v.reasons, Content: ci.Command, Referenced: v.refs, Action: action, Container: e.Name()}
		if r, ok := f.since(cfg); ok {
			fd.Reasons = append(fd.Reasons, r)
			if fd.Severity < Low {
				fd.Severity = Low
			}
		}
		f.add(fd)
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
