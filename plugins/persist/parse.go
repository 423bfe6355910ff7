package persist

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// Parsers here are pure functions over file contents: table-tested and
// fuzzed alone, never touching the file system.

// splitLines splits data into lines without their terminators; a final
// line without "\n" is kept. Line i (0-based) is line i+1 of the file.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

type cronLine struct {
	Line     int
	Raw      string
	Env      bool   // NAME=value
	User     string // system crontabs only
	Schedule string
	Command  string
	Err      error
}

var errCronFields = errors.New("too few fields for a cron entry")
var errCronSchedule = errors.New("bad schedule field")

var cronSpecials = map[string]bool{"@reboot": true, "@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

// parseCrontab parses a crontab. system crontabs (/etc/crontab,
// /etc/cron.d/*) carry a user field after the schedule. Comments and blank
// lines are left out; environment settings are returned with Env set.
func parseCrontab(data []byte, system bool) []cronLine {
	var out []cronLine
	for i, raw := range splitLines(data) {
		t := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if t == "" || t[0] == '#' {
			continue
		}
		cl := cronLine{Line: i + 1, Raw: raw}
		if isEnvLine(t) {
			cl.Env = true
			cl.Command = t
			out = append(out, cl)
			continue
		}
		fields := strings.Fields(t)
		nsched := 5
		if strings.HasPrefix(fields[0], "@") {
			if !cronSpecials[strings.ToLower(fields[0])] {
				cl.Err = errCronSchedule
				cl.Command = t
				out = append(out, cl)
				continue
			}
			nsched = 1
		}
		need := nsched + 1
		if system {
			need++
		}
		if len(fields) < need {
			cl.Err = errCronFields
			cl.Command = t
			out = append(out, cl)
			continue
		}
		for _, f := range fields[:nsched] {
			if nsched == 5 && !validCronField(f) {
				cl.Err = errCronSchedule
			}
		}
		cl.Schedule = strings.Join(fields[:nsched], " ")
		rest := fields[nsched:]
		if system {
			cl.User = rest[0]
			rest = rest[1:]
		}
		cl.Command = commandTail(t, len(fields)-len(rest))
		out = append(out, cl)
	}
	return out
}

// commandTail returns t after its first n whitespace-separated fields,
// keeping the command's own spacing.
func commandTail(t string, n int) string {
	s := t
	for i := 0; i < n; i++ {
		s = strings.TrimLeft(s, " \t")
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			return ""
		}
		s = s[j:]
	}
	return strings.TrimSpace(s)
}

func validCronField(f string) bool {
	for _, r := range f {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '/', r == ',', r == '-', r == '?':
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return f != ""
}

func isEnvLine(t string) bool {
	eq := strings.IndexByte(t, '=')
	if eq <= 0 {
		return false
	}
	name := strings.TrimSpace(t[:eq])
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

type anacronLine struct {
	Line    int
	Raw     string
	Env     bool
	Command string
	Err     error
}

// parseAnacrontab parses /etc/anacrontab: "period delay id command".
func parseAnacrontab(data []byte) []anacronLine {
	var out []anacronLine
	for i, raw := range splitLines(data) {
		t := strings.TrimSpace(raw)
		if t == "" || t[0] == '#' {
			continue
		}
		al := anacronLine{Line: i + 1, Raw: raw}
		if isEnvLine(t) && !strings.ContainsAny(strings.SplitN(t, "=", 2)[0], " \t") {
			al.Env = true
			al.Command = t
		} else if f := strings.Fields(t); len(f) < 4 {
			al.Err = errCronFields
			al.Command = t
		} else {
			al.Command = commandTail(t, 3)
		}
		out = append(out, al)
	}
	return out
}

type unitEntry struct {
	Line    int // line of the key
	Section string
	Key     string
	Value   string
}

// parseUnit parses a systemd unit or drop-in (an INI dialect: sections,
// Key=Value, comments with # or ;, lines continued with a backslash).
func parseUnit(data []byte) []unitEntry {
	var out []unitEntry
	section := ""
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if t[0] == '[' {
			if j := strings.IndexByte(t, ']'); j > 0 {
				section = t[1:j]
			}
			continue
		}
		start := i
		for strings.HasSuffix(t, "\\") && i+1 < len(lines) && i-start < 1000 {
			i++
			t = strings.TrimSuffix(t, "\\") + " " + strings.TrimSpace(lines[i])
		}
		eq := strings.IndexByte(t, '=')
		if eq <= 0 || strings.TrimSpace(t[:eq]) == "" {
			continue
		}
		out = append(out, unitEntry{Line: start + 1, Section: section, Key: strings.TrimSpace(t[:eq]), Value: strings.TrimSpace(t[eq+1:])})
	}
	return out
}

// execCommand strips the systemd Exec prefixes (@ - : + !) from an
// ExecStart= value.
func execCommand(v string) string {
	return strings.TrimLeft(v, "@-:+! ")
}

type passwdEntry struct {
	Line               int
	Raw                string
	Name, Pass         string
	UID, GID           int
	Gecos, Home, Shell string
	Err                error
}

var errPasswdFields = errors.New("not 7 colon-separated fields")
var errPasswdID = errors.New("uid or gid not a number")

// parsePasswd parses /etc/passwd; NIS "+"/"-" lines and comments are kept
// out.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for i, raw := range splitLines(data) {
		t := strings.TrimSuffix(raw, "\r")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
			continue
		}
		e := passwdEntry{Line: i + 1, Raw: raw}
		f := strings.Split(t, ":")
		if len(f) != 7 {
			e.Err = errPasswdFields
			if len(f) > 0 {
				e.Name = f[0]
			}
			out = append(out, e)
			continue
		}
		e.Name, e.Pass, e.Gecos, e.Home, e.Shell = f[0], f[1], f[4], f[5], f[6]
		var err1, err2 error
		e.UID, err1 = strconv.Atoi(f[2])
		e.GID, err2 = strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			e.Err = errPasswdID
		}
		out = append(out, e)
	}
	return out
}

type shadowEntry struct {
	Line int
	Name string
	Hash string
}

func parseShadow(data []byte) []shadowEntry {
	var out []shadowEntry
	for i, raw := range splitLines(data) {
		f := strings.SplitN(raw, ":", 3)
		if len(f) < 2 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		out = append(out, shadowEntry{Line: i + 1, Name: f[0], Hash: f[1]})
	}
	return out
}

type keyEntry struct {
	Line    int
	Raw     string
	Options string
	Type    string
	Blob    []byte
	Comment string
	Err     error
}

var errKeyFormat = errors.New("not an authorized_keys entry")

func isKeyType(s string) bool {
	switch {
	case s == "ssh-rsa", s == "ssh-dss", s == "ssh-ed25519", s == "ssh-ed448",
		strings.HasPrefix(s, "ecdsa-sha2-"), strings.HasPrefix(s, "sk-"),
		strings.HasSuffix(s, "-cert-v01@openssh.com"):
		return true
	}
	return false
}

// parseAuthorizedKeys parses authorized_keys: [options] type base64 [comment].
// Options may hold quoted strings with spaces (command="…").
func parseAuthorizedKeys(data []byte) []keyEntry {
	var out []keyEntry
	for i, raw := range splitLines(data) {
		t := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if t == "" || t[0] == '#' {
			continue
		}
		e := keyEntry{Line: i + 1, Raw: raw}
		rest := t
		if f := strings.Fields(rest); len(f) == 0 || !isKeyType(f[0]) {
			// Options come first: scan to the first unquoted blank.
			inq := false
			j := 0
			for ; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' && inq && j+1 < len(rest) {
					j++
					continue
				}
				if c == '"' {
					inq = !inq
				}
				if !inq && (c == ' ' || c == '\t') {
					break
				}
			}
			e.Options = rest[:j]
			rest = strings.TrimSpace(rest[min(j, len(rest)):])
		}
		f := strings.Fields(rest)
		if len(f) < 2 || !isKeyType(f[0]) {
			e.Err = errKeyFormat
			out = append(out, e)
			continue
		}
		e.Type = f[0]
		blob, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			e.Err = errKeyFormat
		}
		e.Blob = blob
		if len(f) > 2 {
			e.Comment = strings.Join(f[2:], " ")
		}
		out = append(out, e)
	}
	return out
}

// optionValue returns the value of a key option (command="…"). The
// options are walked as sshd reads them: comma-separated, a name compared
// case-insensitively, a value in double quotes with \" escapes. A name
// inside another option's quoted value (environment="X=command=\"…\"")
// is not an option. Positions are taken in opts itself, never in a
// transformed copy (strings.ToLower turns an invalid UTF-8 byte into three).
func optionValue(opts, name string) (string, bool) {
	i := 0
	for i < len(opts) {
		// The option's name runs to '=', ',' or the end.
		j := i
		for j < len(opts) && opts[j] != '=' && opts[j] != ',' {
			j++
		}
		match := strings.EqualFold(opts[i:j], name)
		if j == len(opts) || opts[j] == ',' {
			i = j + 1
			continue
		}
		// opts[j] == '=': a quoted value (or, leniently, a bare one up to ',').
		j++
		var b strings.Builder
		if j < len(opts) && opts[j] == '"' {
			j++
			for ; j < len(opts); j++ {
				if opts[j] == '\\' && j+1 < len(opts) && opts[j+1] == '"' {
					j++
					b.WriteByte('"')
					continue
				}
				if opts[j] == '"' {
					j++
					break
				}
				b.WriteByte(opts[j])
			}
		} else {
			for ; j < len(opts) && opts[j] != ','; j++ {
				b.WriteByte(opts[j])
			}
		}
		if match {
			return b.String(), true
		}
		// Skip to the comma after the value.
		for j < len(opts) && opts[j] != ',' {
			j++
		}
		i = j + 1
	}
	return "", false
}

type hostsEntry struct {
	Line  int
	Raw   string
	Addr  string
	Names []string
}

// parseHosts parses /etc/hosts.
func parseHosts(data []byte) []hostsEntry {
	var out []hostsEntry
	for i, raw := range splitLines(data) {
		t := raw
		if j := strings.IndexByte(t, '#'); j >= 0 {
			t = t[:j]
		}
		f := strings.Fields(t)
		if len(f) < 2 {
			continue
		}
		out = append(out, hostsEntry{Line: i + 1, Raw: raw, Addr: f[0], Names: f[1:]})
	}
	return out
}

type udevCmd struct {
	Line    int
	Key     string
	Command string
}

// parseUdevRules extracts the programs a rules file runs: RUN, PROGRAM and
// IMPORT{program} assignments.
func parseUdevRules(data []byte) []udevCmd {
	var out []udevCmd
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		start := i
		for strings.HasSuffix(t, "\\") && i+1 < len(lines) && i-start < 1000 {
			i++
			t = strings.TrimSuffix(t, "\\") + strings.TrimSpace(lines[i])
		}
		if t == "" || t[0] == '#' {
			continue
		}
		for _, kv := range splitUdev(t) {
			k := kv[0]
			if strings.HasPrefix(k, "RUN") || k == "PROGRAM" || k == "IMPORT{program}" {
				out = append(out, udevCmd{Line: start + 1, Key: k, Command: kv[1]})
			}
		}
	}
	return out
}

// splitUdev splits `K=="v", K2+="v2"` into key/value pairs.
func splitUdev(t string) [][2]string {
	var out [][2]string
	for len(t) > 0 {
		t = strings.TrimLeft(t, ", \t")
		j := strings.IndexAny(t, "=+-!:")
		if j <= 0 {
			break
		}
		key := strings.TrimSpace(t[:j])
		q := strings.IndexByte(t, '"')
		if q < 0 {
			break
		}
		e := strings.IndexByte(t[q+1:], '"')
		if e < 0 {
			break
		}
		out = append(out, [2]string{key, t[q+1 : q+1+e]})
		t = t[q+1+e+1:]
	}
	return out
}

// hasELF reports an ELF header; hasShebang a script.
func hasELF(head []byte) bool     { return bytes.HasPrefix(head, []byte("\x7fELF")) }
func hasShebang(head []byte) bool { return bytes.HasPrefix(head, []byte("#!")) }

// sudoKind tells the lines of a sudoers file apart.
type sudoKind int

const (
	sudoSpec     sudoKind = iota // user host = (runas) commands
	sudoInclude                  // #include, @include, #includedir, @includedir
	sudoDefaults                 // Defaults…
	sudoAlias                    // User_Alias, Cmnd_Alias …
)

type sudoLine struct {
	Line     int
	Raw      string
	Kind     sudoKind
	Include  string   // the included file or directory
	Settings string   // Defaults: the rest of the line
	Who      string   // spec: the user, %group or alias the rule is for
	Commands []string // spec: each command, tags (NOPASSWD:) and runas removed
	NoPasswd bool
	All      bool // a command is ALL
}

var reSudoSpec = regexp.MustCompile(`^(\S+)\s+\S+\s*=\s*(\([^)]*\)\s*)?(.*)$`)
var reSudoTag = regexp.MustCompile(`^\s*([A-Z_]+:\s*)+`)

// parseSudoers parses a sudoers file line by line: comments and blank
// lines are left out, as are spec lines it cannot read.
func parseSudoers(data []byte) []sudoLine {
	var out []sudoLine
	for i, line := range splitLines(data) {
		t := strings.TrimSpace(line)
		if t == "" || (strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "#include")) {
			continue
		}
		sl := sudoLine{Line: i + 1, Raw: line}
		switch {
		case strings.HasPrefix(t, "#include") || strings.HasPrefix(t, "@include"):
			sl.Kind = sudoInclude
			if f := strings.Fields(t); len(f) == 2 {
				sl.Include = f[1]
			}
		case strings.HasPrefix(t, "Defaults"):
			sl.Kind = sudoDefaults
			sl.Settings = strings.TrimSpace(strings.TrimPrefix(t, "Defaults"))
		case strings.Contains(t, "_Alias"):
			sl.Kind = sudoAlias
		default:
			m := reSudoSpec.FindStringSubmatch(t)
			if m == nil {
				continue
			}
			sl.Who = m[1]
			sl.NoPasswd = strings.Contains(m[3], "NOPASSWD")
			sl.Commands = sudoCommands(m[3])
			for _, c := range sl.Commands {
				if c == "ALL" {
					sl.All = true
				}
			}
		}
		out = append(out, sl)
	}
	return out
}

// sudoCommands splits a sudoers command list at unescaped commas and
// removes each command's runas list and tags (NOPASSWD:, SETENV: …).
func sudoCommands(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		c := strings.TrimSpace(cur.String())
		cur.Reset()
		for {
			c = strings.TrimSpace(reSudoTag.ReplaceAllString(c, ""))
			if strings.HasPrefix(c, "(") {
				if j := strings.IndexByte(c, ')'); j > 0 {
					c = c[j+1:]
					continue
				}
			}
			break
		}
		if c != "" {
			out = append(out, c)
		}
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ',':
			flush()
		default:
			cur.WriteByte(s[i])
		}
	}
	flush()
	return out
}

// sshdDirective is one key-source directive of sshd_config.
type sshdDirective struct {
	Line int
	Raw  string
	Name string // lower case: authorizedkeysfile, authorizedkeyscommand …
	Args []string
}

var sshdKeyDirectives = map[string]bool{"authorizedkeysfile": true, "authorizedkeyscommand": true, "authorizedprincipalsfile": true, "authorizedprincipalscommand": true,
	"permitrootlogin": true, "passwordauthentication": true, "permitemptypasswords": true}

// sshdSettings are the directives of sshdKeyDirectives that are settings,
// not key sources.
var sshdSettings = map[string]bool{"permitrootlogin": true, "passwordauthentication": true, "permitemptypasswords": true}

// parseSSHDKeySources returns the directives of an sshd_config (or a file
// of sshd_config.d) that say where keys come from.
func parseSSHDKeySources(data []byte) []sshdDirective {
	var out []sshdDirective
	for i, line := range splitLines(data) {
		t := line
		// sshd accepts "Keyword=value" as well as "Keyword value".
		if j := strings.IndexAny(t, " \t="); j > 0 && t[j] == '=' {
			t = t[:j] + " " + t[j+1:]
		}
		fields := strings.Fields(t)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || !sshdKeyDirectives[strings.ToLower(fields[0])] {
			continue
		}
		out = append(out, sshdDirective{Line: i + 1, Raw: line, Name: strings.ToLower(fields[0]), Args: fields[1:]})
	}
	return out
}

// pamLine is one rule of a /etc/pam.d file that runs or loads something
// worth judging.
type pamLine struct {
	Line      int
	Raw       string
	Exec      bool     // pam_exec.so
	Command   string   // pam_exec: the program and its arguments
	AuthTok   bool     // pam_exec: expose_authtok
	ModPaths  []string // modules named by absolute path
	Module    string   // the module as written
	ModuleArg []string
}

// parsePAM parses a PAM configuration file: "type control module args".
// Only lines naming a module are returned.
func parsePAM(data []byte) []pamLine {
	var out []pamLine
	for i, line := range splitLines(data) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		pl := pamLine{Line: i + 1, Raw: line}
		found := false
		for j, w := range fields {
			if strings.HasSuffix(w, "pam_exec.so") {
				// Arguments up to the program are options (quiet,
				// expose_authtok, log=…); the rest is the command.
				k := j + 1
				for k < len(fields) && !strings.HasPrefix(fields[k], "/") {
					if fields[k] == "expose_authtok" {
						pl.AuthTok = true
					}
					k++
				}
				pl.Exec = true
				pl.Module = w
				pl.Command = strings.Join(fields[k:], " ")
				pl.ModuleArg = fields[j+1:]
				if strings.HasPrefix(w, "/") {
					pl.ModPaths = append(pl.ModPaths, w)
				}
				found = true
				break
			}
			if strings.HasSuffix(w, ".so") {
				if !found {
					pl.Module = w
					pl.ModuleArg = fields[j+1:]
				}
				if strings.HasPrefix(w, "/") {
					pl.ModPaths = append(pl.ModPaths, w)
				}
				found = true
			}
		}
		if found {
			out = append(out, pl)
		}
	}
	return out
}

// preloadLine is one line of /etc/ld.so.preload with the libraries it
// names (separated by blanks or colons).
type preloadLine struct {
	Line int
	Raw  string
	Libs []string
}

func parsePreload(data []byte) []preloadLine {
	var out []preloadLine
	for i, line := range splitLines(data) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		libs := strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' })
		if len(libs) == 0 {
			continue // separators only: the loader ignores the line
		}
		out = append(out, preloadLine{Line: i + 1, Raw: line, Libs: libs})
	}
	return out
}

// ldConfLine is a directory line of /etc/ld.so.conf or a file it
// includes.
type ldConfLine struct {
	Line int
	Raw  string
	Dir  string
}

func parseLdSoConf(data []byte) []ldConfLine {
	var out []ldConfLine
	for i, line := range splitLines(data) {
		t := strings.TrimSpace(line)
		if j := strings.IndexByte(t, '#'); j >= 0 {
			t = strings.TrimSpace(t[:j])
		}
		if t == "" || strings.HasPrefix(t, "include") || strings.HasPrefix(t, "hwcap") {
			continue
		}
		// Old glibc allowed "dir=TYPE"; directories may be separated by
		// blanks, colons or commas.
		for _, d := range strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' || r == ',' }) {
			if k := strings.IndexByte(d, '='); k >= 0 {
				d = d[:k]
			}
			if d == "" {
				continue
			}
			out = append(out, ldConfLine{Line: i + 1, Raw: line, Dir: d})
		}
	}
	return out
}

// moduleLine is a module named for loading at boot (/etc/modules,
// modules-load.d).
type moduleLine struct {
	Line int
	Raw  string
	Name string // normalised (modName)
}

func parseModulesLoad(data []byte) []moduleLine {
	var out []moduleLine
	for i, line := range splitLines(data) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if name := modName(strings.Fields(t)[0]); name != "" {
			out = append(out, moduleLine{Line: i + 1, Raw: line, Name: name})
		}
	}
	return out
}

// modprobeHook is an install or remove command of modprobe.d.
type modprobeHook struct {
	Line    int
	Raw     string
	Verb    string // install, remove
	Module  string
	Command string
}

func parseModprobeHooks(data []byte) []modprobeHook {
	var out []modprobeHook
	for i, line := range splitLines(data) {
		fields := strings.Fields(line)
		if len(fields) < 3 || (fields[0] != "install" && fields[0] != "remove") {
			continue
		}
		out = append(out, modprobeHook{Line: i + 1, Raw: line, Verb: fields[0], Module: fields[1], Command: strings.Join(fields[2:], " ")})
	}
	return out
}
