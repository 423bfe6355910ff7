package persist

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// verdict is what analyzeCommand makes of one command line.
type verdict struct {
	sev     Severity
	reasons []string
	refs    []string // absolute paths the command names (inside the root)
	execs   []string // of refs, the programs, scripts and libraries it runs or loads
}

func (v *verdict) add(s Severity, reason string) {
	if s > v.sev {
		v.sev = s
	}
	v.reasons = appendUnique(v.reasons, reason)
}

func (v *verdict) merge(o verdict) {
	if o.sev > v.sev {
		v.sev = o.sev
	}
	v.reasons = appendUnique(v.reasons, o.reasons...)
	v.refs = appendUnique(v.refs, o.refs...)
	if len(v.execs) < maxRefs {
		v.execs = appendUnique(v.execs, o.execs...)
	}
}

var (
	reDownload   = regexp.MustCompile(`(?i)(^|[^\w.-])(curl|wget|fetch|tftp|lwp-download|lynx\s+-source|aria2c)(\s|$|\))`)
	rePipeShell  = regexp.MustCompile(`(^|[^|])\|\s*(sudo\s+(-\S+\s+)*)?(env\s+)?(\S*/)?(ba|da|z|k|a|c|tc|fi)?sh(\s|$|;|\)|&|"|')`)
	rePipeInterp = regexp.MustCompile(`(^|[^|])\|\s*(\S*/)?(python[23.]*|perl|php|ruby|node)(\s+-)?(\s|$|;|\)|'|")`)
	reSubstDl    = regexp.MustCompile(`(?i)(\$\(|<\(|` + "`" + `)\s*(curl|wget|fetch)\b`)
	reBase64     = regexp.MustCompile(`(?i)\bbase64\s+(-\w*d\w*|--decode)\b|\bopenssl\s+(enc\s+)?-?base64\s+-d\b|b64decode`)
	reEval       = regexp.MustCompile(`\beval\b`)
	reRevShell   = regexp.MustCompile(`/dev/(tcp|udp)/|\b(nc|ncat|netcat)\b[^|;&]*\s-(e|c)\s|\bsocat\b[^|;&]*\bexec:|\bbash\s+-i\s*>&|pty\.spawn|socket\.socket\(.*connect`)
	reMining     = regexp.MustCompile(`(?i)stratum\+(tcp|ssl|tls)://|--donate-level|--cpu-max-threads-hint|--randomx|\s-a\s+(rx/0|cn/r|cn/\w+|argon2)|--coin[= ](monero|xmr)|--rig-id|--nicehash|\bxmrig\b|cryptonight`)
	rePoolHost   = regexp.MustCompile(`(?i)\b(\w[\w-]*\.)*(minexmr\.com|supportxmr\.com|nanopool\.org|moneroocean\.stream|hashvault\.pro|c3pool\.(com|org)|2miners\.com|f2pool\.com|nicehash\.com|xmrpool\.eu|minergate\.com|herominers\.com|monerohash\.com|dwarfpool\.com|unmineable\.com|crypto-pool\.fr|ethermine\.org|xmr\.pool\.\w+)\b`)
	reInsmod     = regexp.MustCompile(`\binsmod\s+(-\S+\s+)*\S+\.ko\b`)
	reChattr     = regexp.MustCompile(`(^|[^\w-])(chattr|tntrecht|lsattr\s.*;\s*chattr)\b`)
	reDisableSec = regexp.MustCompile(`(?i)\b(systemctl|service|chkconfig|update-rc\.d)\b[^|;&]*\b(stop|disable|mask|off|remove)\b[^|;&]*\b(apparmor|auditd?|firewalld|ufw|selinux|aegis|aliyun\w*|cloudmonitor|qcloud\w*|yunjing|barad_agent|amazon-ssm-agent|amazon-cloudwatch-agent|falcon-sensor|osqueryd?|wazuh\w*|ossec\w*|clamav\w*|clamd|rkhunter|crowdstrike|sentinel\w*|bcm-agent|snoopy)\b|\bsetenforce\s+0\b|\bufw\s+disable\b|\biptables\s+(-F|--flush)\b|SELINUX=disabled|\bnmi_watchdog\b|kernel\.nmi_watchdog=0`)
	reKillOthers = regexp.MustCompile(`(?i)\b(pkill|killall)\s+(-9\s+)?(-f\s+)?\S+|\bps\b[^|]*\|[^|]*\bgrep\b[^|]*\|[^|]*(awk|cut)[^|]*\|\s*(xargs\s+)?(-I\s*\S+\s+)?kill\b`)
	reAntiForens = regexp.MustCompile(`\bhistory\s+-c\b|\bunset\s+HISTFILE\b|\bHISTFILE=/dev/null\b|\bHISTSIZE=0\b|(>|rm\s+-\w*\s+)\s*/var/log/(wtmp|btmp|lastlog|secure|auth\.log|syslog|messages)|\brm\s+-\w*r\w*\s+/var/log\b`)
	reCronWrite  = regexp.MustCompile(`\bcrontab\s+(-\s|-$|/|\S+\.(txt|cron|tmp))|>>?\s*/etc/(crontab|cron\.d/)|>>?\s*/var/spool/cron/`)
	reKeyWrite   = regexp.MustCompile(`>>?\s*\S*\.ssh/authorized_keys2?\b`)
	rePreload    = regexp.MustCompile(`/etc/ld\.so\.preload|\bLD_PRELOAD=`)
	reChmodX     = regexp.MustCompile(`\bchmod\s+(\+x|[0-7]?[0-7][0-7][15]|[0-7]?7[0-7][0-7]|a\+x|u\+x)\b`)
	reIPURL      = regexp.MustCompile(`(?i)(https?|ftp|tftp)://\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	reURL        = regexp.MustCompile(`(?i)\b(https?|ftp|tftp)://[^\s'"|;&)]+`)
	reBlob       = regexp.MustCompile(`[A-Za-z0-9+/]{120,}={0,2}`)
	reRedirect   = regexp.MustCompile(`\d?>>?&?\s*\S+|<\s*[^(\s]\S*`)
	rePathTok    = regexp.MustCompile(`(^|[\s'"=;|&()\x60:,])(/[A-Za-z0-9._+@%~/,\-]+)`)
)

// writable places: world-writable directories an attacker can drop into
// without root.
var writablePrefixes = []string{"/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/var/crash/", "/run/lock/", "/var/lock/", "/dev/mqueue/"}

func inWritable(p string) bool {
	for _, w := range writablePrefixes {
		if strings.HasPrefix(p, w) {
			return true
		}
	}
	return false
}

// hiddenComponent reports whether a path has a component starting with a
// dot (other than . and ..), and whether it sits under a home directory.
func hiddenComponent(p string) (hidden, home bool) {
	parts := strings.Split(p, "/")
	for i, c := range parts {
		if len(c) > 1 && c[0] == '.' && c != ".." {
			home = len(parts) > 1 && (parts[1] == "root" || parts[1] == "home")
			// /home/u/.x or /root/.x: a dotfile directory in a home.
			_ = i
			return true, home
		}
	}
	return false, false
}

var ignoredRefs = map[string]bool{"/dev/null": true, "/dev/zero": true, "/dev/stdin": true, "/dev/stdout": true, "/dev/stderr": true, "/dev/console": true, "/dev/random": true, "/dev/urandom": true, "/": true}

// maxRefs bounds the paths recorded for one command line, and
// maxLineReasons the lines of a script named in its reasons: a hostile
// file of a million distinct paths or bad lines must not make Find slow
// (each list is kept free of duplicates) or a finding huge.
const (
	maxRefs        = 64
	maxLineReasons = 32
)

// lineVerdicts judges each line of a script: the verdict of the worst,
// reasons naming their line (the first maxLineReasons bad lines, then a
// count of the rest), and the bad lines themselves.
func lineVerdicts(lines []string) (all verdict, bad []string) {
	return lineVerdictsWith(lines, analyzeCommand)
}

// lineVerdictsWith is lineVerdicts with another judge of a line.
func lineVerdictsWith(lines []string, analyze func(string) verdict) (all verdict, bad []string) {
	named, more := 0, 0
	for i, line := range lines {
		v := analyze(line)
		if len(all.execs) < maxRefs {
			// What every line runs, harmless-looking or not: the caller
			// checks the programs themselves (packaged or not).
			all.execs = appendUnique(all.execs, v.execs...)
		}
		if v.sev == Info {
			continue
		}
		if v.sev > all.sev {
			all.sev = v.sev
		}
		if named < maxLineReasons {
			named++
			for _, r := range v.reasons {
				all.reasons = append(all.reasons, fmt.Sprintf("line %d: %s", i+1, r))
			}
			bad = append(bad, strings.TrimSpace(line))
			if len(all.refs) < maxRefs {
				all.refs = appendUnique(all.refs, v.refs...)
			}
		} else {
			more++
		}
	}
	if more > 0 {
		all.reasons = append(all.reasons, fmt.Sprintf("and %d more such lines", more))
	}
	return all, bad
}

// commandRefs extracts the absolute paths a command names, leaving out
// redirection targets, URLs, globs and pseudo-files.
func commandRefs(cmd string) []string {
	cmd = reURL.ReplaceAllString(cmd, " ")
	cmd = strings.NewReplacer(`"`, "", "'", "").Replace(cmd)
	cmd = reRedirect.ReplaceAllString(cmd, " ")
	var out []string
	for _, m := range rePathTok.FindAllStringSubmatch(cmd, -1) {
		p := strings.TrimRight(m[2], ",")
		if ignoredRefs[p] || strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/sys/") || strings.HasPrefix(p, "/dev/tcp/") || strings.HasPrefix(p, "/dev/udp/") || strings.HasPrefix(p, "/dev/fd/") {
			continue
		}
		if strings.Contains(p, "//") {
			continue
		}
		if out = appendUnique(out, p); len(out) >= maxRefs {
			break
		}
	}
	return out
}

// analyzeCommand judges a command line (a cron command, an ExecStart=, a
// line of a shell start-up file) by what it does.
func analyzeCommand(cmd string) verdict { return analyzeCommandIn(cmd, false) }

// analyzeTempLine judges a line of a script that itself sits in a temp
// directory: that it runs other files from there (a build's configure
// sourcing its config.site) says nothing, unless they hide (a hidden
// path); what the line does still counts.
func analyzeTempLine(cmd string) verdict { return analyzeCommandIn(cmd, true) }

func analyzeCommandIn(cmd string, inTemp bool) verdict {
	var v verdict
	c := strings.TrimSpace(cmd)
	if c == "" || strings.HasPrefix(c, "#") {
		return v
	}
	dl := reDownload.MatchString(c)
	if dl && (rePipeShell.MatchString(c) || rePipeInterp.MatchString(c)) {
		v.add(Critical, "downloads a script and pipes it to a shell")
	}
	if reSubstDl.MatchString(c) {
		v.add(Critical, "runs the output of a download")
	}
	if reBase64.MatchString(c) {
		if rePipeShell.MatchString(c) || rePipeInterp.MatchString(c) || reEval.MatchString(c) {
			v.add(Critical, "decodes base64 and runs it")
		} else {
			v.add(High, "decodes base64 data")
		}
	}
	if reRevShell.MatchString(c) {
		v.add(Critical, "opens a reverse shell")
	}
	if reMining.MatchString(c) {
		v.add(Critical, "runs a cryptocurrency miner (pool protocol or miner flags)")
	} else if rePoolHost.MatchString(c) {
		v.add(Critical, "names a mining pool host")
	}
	if reInsmod.MatchString(c) {
		v.add(High, "loads a kernel module from a file (insmod)")
	}
	if reChattr.MatchString(c) {
		v.add(High, "changes immutable attributes (chattr)")
	}
	if reDisableSec.MatchString(c) {
		v.add(High, "disables security or monitoring tools")
	}
	if reKillOthers.MatchString(c) {
		v.add(Medium, "kills other processes by name")
	}
	if reAntiForens.MatchString(c) {
		v.add(High, "erases shell history or logs")
	}
	if reCronWrite.MatchString(c) {
		v.add(High, "installs cron entries")
	}
	if reKeyWrite.MatchString(c) {
		v.add(High, "adds ssh authorized keys")
	}
	var sc execScan
	sc.scan(c, 0)
	if rePreload.MatchString(c) {
		if ordinaryPreloads(c, sc.preloads) {
			// Environment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2:
			// an allocator swapped in, from where libraries live. Whether a
			// package installed it is judged with the root's package db.
			v.add(Low, "preloads a library from a system library directory (LD_PRELOAD="+strings.Join(sc.preloads, ":")+")")
		} else {
			v.add(High, "sets a preloaded library (LD_PRELOAD / ld.so.preload)")
		}
	}
	if dl {
		switch {
		case reChmodX.MatchString(c):
			v.add(High, "downloads a file and makes it executable")
		case reIPURL.MatchString(c):
			v.add(High, "downloads from a bare IP address")
		default:
			if reURL.MatchString(c) {
				v.add(Low, "downloads from the network")
			}
		}
	}
	if reBlob.MatchString(c) {
		v.add(Medium, "contains a long encoded blob")
	}
	// Where a command runs from is judged for what it executes (the
	// program, a script given to a shell or interpreter, a preloaded
	// library); the paths it merely names (tar's archive, dd's disk, rm's
	// victim) are data, listed in refs but not judged as run.
	v.refs = commandRefs(c)
	for _, p := range sc.out {
		if hidden, _ := hiddenComponent(p); !inTemp || !inWritable(p) || hidden {
			v.merge(judgePath(p))
		}
		v.refs = appendUnique(v.refs, p)
		v.execs = appendUnique(v.execs, p)
		if reSharedLib.MatchString(path.Base(p)) && libDir(p) && !contains(sc.preloads, p) {
			// XorDDoS: cp /lib/libudev.so /lib/libudev.so.6; /lib/libudev.so.6
			v.add(High, "runs a file named as a shared library, in a library directory, as a program ("+p+")")
		}
	}
	for _, d := range sc.pathDirs {
		if jv := judgePath(d + "/"); jv.sev > Low {
			v.add(Medium, "puts a world-writable or hidden directory on PATH ("+d+")")
		}
	}
	// A bare-word miner name in argv[0] is judged by the pool flags above.
	return v
}

// ordinaryPreloads reports whether a command's LD_PRELOAD= values are all
// absolute paths in system library directories, outside world-writable
// and hidden places, and it does not write /etc/ld.so.preload.
func ordinaryPreloads(c string, libs []string) bool {
	if len(libs) == 0 || strings.Contains(c, "/etc/ld.so.preload") || strings.Count(c, "LD_PRELOAD=") != 1 {
		return false
	}
	for _, l := range libs {
		h, _ := hiddenComponent(l)
		if !strings.HasPrefix(l, "/") || h || inWritable(l) || !libDir(l) || strings.ContainsAny(l, "$`*?") {
			return false
		}
	}
	return true
}

// judgePath judges a path an entry runs or loads, by where it is.
func judgePath(p string) verdict {
	var v verdict
	if inWritable(p) {
		v.add(High, "runs from a world-writable directory ("+p+")")
		if h, _ := hiddenComponent(p); h {
			v.add(High, "runs from a hidden path ("+p+")")
		}
		return v
	}
	if strings.HasPrefix(p, "/dev/") {
		v.add(High, "runs from /dev ("+p+")")
		return v
	}
	if h, home := hiddenComponent(p); h {
		if home {
			v.add(Low, "runs from a hidden directory in a home ("+p+")")
		} else {
			v.add(High, "runs from a hidden path ("+p+")")
		}
	}
	return v
}

// ---- what a command line runs ----

// maxShellDepth bounds the nesting execTargets follows (sh -c inside
// $(…) inside sh -c …): hostile input must not recurse without end.
const maxShellDepth = 8

// execTargets returns the absolute paths a command line runs or loads:
// the program of each simple command (of pipelines, lists, subshells and
// $(…)/`…` substitutions), found after variable assignments, shell
// keywords and wrappers (env, sudo, nohup, nice, timeout, setsid, …);
// the command string of sh -c / bash -c, judged the same way; scripts
// handed to an interpreter (sh X, python X, perl X, . X); and LD_PRELOAD
// values. Arguments are data: `tar czf /var/tmp/x.tgz /etc` runs tar,
// not /var/tmp/x.tgz, and `hdparm -S 120 /dev/sdb` runs hdparm.
func execTargets(cmd string) []string {
	var sc execScan
	sc.scan(cmd, 0)
	return sc.out
}

// execScan collects what a command line runs. cwd follows `cd DIR`
// through a list, so that `cd /tmp/.x && ./run` runs /tmp/.x/run;
// pathDirs are directories a PATH= assignment puts on the search path.
type execScan struct {
	out      []string
	cwd      string
	pathDirs []string
	preloads []string // of out, the libraries LD_PRELOAD / LD_AUDIT load
}

func (sc *execScan) scan(cmd string, depth int) {
	if depth > maxShellDepth {
		return
	}
	cmds, subs := shellSplit(cmd)
	for _, s := range subs {
		sub := execScan{cwd: sc.cwd}
		sub.scan(s, depth+1)
		for _, p := range sub.out {
			sc.add(p, false)
		}
		if len(sc.pathDirs) < maxRefs {
			sc.pathDirs = appendUnique(sc.pathDirs, sub.pathDirs...)
		}
	}
	for _, words := range cmds {
		sc.simple(words, depth)
	}
}

// add records p as run; a relative p counts when a cd before it said
// where it is (rel: any relative name, as a script given to an
// interpreter; otherwise only one with a slash, as a program: a bare
// name is looked up in PATH).
func (sc *execScan) add(p string, rel bool) {
	p = strings.TrimRight(p, ",")
	if p == "" || strings.ContainsAny(p, "*?[") {
		return // a glob (a case pattern, for f in /tmp/*): not one file run
	}
	if !strings.HasPrefix(p, "/") {
		if sc.cwd == "" || strings.Contains(p, "$") || !rel && !strings.Contains(p, "/") {
			return
		}
		p = path.Join(sc.cwd, p)
		if strings.ContainsAny(p, "*?[") {
			return // cd to a glob (cd /tmp/.x*): where it runs is not one place
		}
	}
	if ignoredRefs[p] || strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/sys/") ||
		strings.HasPrefix(p, "/dev/fd/") || strings.Contains(p, "//") || len(sc.out) >= maxRefs {
		return
	}
	sc.out = appendUnique(sc.out, p)
}

// shellKeywords start or join commands without being one.
var shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true,
	"while": true, "until": true, "!": true, "{": true, "}": true, "time": true, "esac": true}

// wrapperArgs names, for each command that runs another command given
// after it, the short options that take a value.
var wrapperArgs = map[string]string{
	"env": "uSC", "sudo": "ugCDhprtUT", "doas": "uC", "nohup": "", "setsid": "", "stdbuf": "ioe", "exec": "a",
	"command": "", "builtin": "", "nice": "n", "ionice": "cnp", "timeout": "sk", "chrt": "", "taskset": "", "runuser": "ugs",
	"busybox": "", "strace": "oeEpsu", "ltrace": "oeu", "watch": "nd", "unbuffer": "", "daemonize": "acelopu",
	"chroot": "", "flock": "wEc", "systemd-run": "pEu", "catchsegv": "", "proxychains": "f", "proxychains4": "f", "torsocks": "",
	"unshare": "SGRw", "screen": "SceLlpTt", "xargs": "aIdEeLlnPs", "nsenter": "tSGrwmuinpUC", "setpriv": "",
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true, "mksh": true, "csh": true, "tcsh": true, "fish": true}

func isInterpreter(b string) bool {
	for _, p := range []string{"python", "perl", "ruby", "php", "node", "nodejs", "lua", "tclsh", "pwsh", "Rscript"} {
		if b == p || strings.HasPrefix(b, p) && strings.Trim(b[len(p):], "0123456789.") == "" {
			return true
		}
	}
	return false
}

// assignment splits NAME=value.
func assignment(w string) (string, string, bool) {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return "", "", false
	}
	for _, r := range w[:eq] {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return w[:eq], w[eq+1:], true
}

func (sc *execScan) assign(name, value string) {
	if name == "PATH" {
		for _, d := range strings.Split(value, ":") {
			if strings.HasPrefix(d, "/") && len(sc.pathDirs) < maxRefs {
				sc.pathDirs = appendUnique(sc.pathDirs, path.Clean(d))
			}
		}
	}
	if name == "LD_PRELOAD" || name == "LD_AUDIT" {
		for _, lib := range strings.FieldsFunc(value, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' }) {
			sc.add(lib, false)
			if len(sc.preloads) < maxRefs {
				sc.preloads = appendUnique(sc.preloads, lib)
			}
		}
	}
}

// simple finds what one simple command (its words, quotes removed) runs.
func (sc *execScan) simple(words []string, depth int) {
	i := 0
	for i < len(words) {
		w := words[i]
		if name, val, ok := assignment(w); ok {
			sc.assign(name, val)
			i++
			continue
		}
		if shellKeywords[w] {
			i++
			continue
		}
		b := path.Base(w)
		switch {
		case w == "cd" || w == "pushd":
			if i+1 < len(words) && strings.HasPrefix(words[i+1], "/") {
				sc.cwd = path.Clean(words[i+1])
			} else if i+1 < len(words) && sc.cwd != "" && !strings.HasPrefix(words[i+1], "-") && !strings.Contains(words[i+1], "$") {
				sc.cwd = path.Join(sc.cwd, words[i+1])
			} else {
				sc.cwd = "" // cd, cd ~, cd "$DIR": no longer known
			}
			return
		case b == "export" || b == "declare" || b == "typeset" || b == "readonly" || b == "local":
			for _, a := range words[i+1:] {
				if name, val, ok := assignment(a); ok {
					sc.assign(name, val)
				}
			}
			return
		case b == "." || b == "source":
			if i+1 < len(words) {
				sc.add(words[i+1], true)
			}
			return
		case b == "su":
			// su [-] [user] -c 'cmd'
			for j := i + 1; j+1 < len(words); j++ {
				if words[j] == "-c" || words[j] == "--command" {
					sc.scan(words[j+1], depth+1)
				}
			}
			sc.add(w, false)
			return
		case b == "start-stop-daemon":
			for j := i + 1; j+1 < len(words); j++ {
				switch words[j] {
				case "-x", "--exec", "-a", "--startas":
					sc.add(words[j+1], false)
				}
			}
			sc.add(w, false)
			return
		case b == "java":
			for j := i + 1; j+1 < len(words); j++ {
				if words[j] == "-jar" {
					sc.add(words[j+1], true)
				}
			}
			sc.add(w, false)
			return
		case b == "find":
			// find … -exec CMD {} ; runs CMD.
			for j := i + 1; j+1 < len(words); j++ {
				if words[j] == "-exec" || words[j] == "-execdir" || words[j] == "-ok" {
					sc.add(words[j+1], false)
				}
			}
			sc.add(w, false)
			return
		case b == "tmux":
			// tmux new-session -d 'cmd': the last word is a shell command.
			sc.add(w, false)
			if len(words) > i+2 && !strings.HasPrefix(words[len(words)-1], "-") {
				sc.scan(words[len(words)-1], depth+1)
			}
			return
		case shells[b]:
			sc.add(w, false)
			sc.interp(words[i+1:], true, depth)
			return
		case isInterpreter(b):
			sc.add(w, false)
			sc.interp(words[i+1:], false, depth)
			return
		}
		if opts, ok := wrapperArgs[b]; ok {
			sc.add(w, false)
			i = sc.skipWrapper(b, opts, words, i+1, depth)
			continue
		}
		sc.add(w, false)
		return
	}
}

// skipWrapper steps over a wrapper's options (and values the wrapper
// takes before the command: nice's increment, timeout's duration, chrt's
// priority, taskset's mask, flock's lock file) and returns the index of
// the wrapped command.
func (sc *execScan) skipWrapper(b, opts string, words []string, i, depth int) int {
	for i < len(words) {
		w := words[i]
		if w == "--" {
			return i + 1
		}
		if name, val, ok := assignment(w); ok && b == "env" {
			sc.assign(name, val)
			i++
			continue
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			break
		}
		if b == "env" && (w == "-S" || strings.HasPrefix(w, "--split-string")) {
			s := strings.TrimPrefix(strings.TrimPrefix(w, "--split-string"), "=")
			if s == "" && i+1 < len(words) {
				s = words[i+1]
			}
			sc.scan(s, depth+1)
			return len(words)
		}
		if (b == "flock" || b == "runuser") && (w == "-c" || w == "--command") && i+1 < len(words) {
			sc.scan(words[i+1], depth+1)
			return len(words)
		}
		i++
		// -n 19, or a cluster whose last option takes the value (-dmS name).
		if !strings.HasPrefix(w, "--") && len(w) >= 2 && strings.IndexByte(opts, w[len(w)-1]) >= 0 && i < len(words) {
			i++
		}
	}
	// Values some wrappers take before the command.
	switch b {
	case "nice", "chrt", "taskset":
		if i < len(words) && strings.Trim(words[i], "0123456789,-xabcdef") == "" {
			i++
		}
	case "timeout", "flock", "chroot":
		if i < len(words) {
			i++ // the duration, the lock file, the new root
		}
	}
	return i
}

// interp handles the arguments of a shell (sh -c 'cmd', sh script) or
// another interpreter (python script.py; python -c code runs no file).
func (sc *execScan) interp(args []string, shell bool, depth int) {
	for j := 0; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			if j+1 < len(args) {
				sc.add(args[j+1], true)
			}
			return
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			if shell && !strings.HasPrefix(a, "--") && strings.ContainsRune(a[1:], 'c') {
				if j+1 < len(args) {
					sc.scan(args[j+1], depth+1)
				}
				return
			}
			if !shell && (a == "-c" || a == "-e" || a == "-E" || a == "-r") {
				// Inline code: no script file, but a file it names in a
				// world-writable or hidden place (os.system('/tmp/.x/y'))
				// is as good as run; other paths are data.
				if j+1 < len(args) {
					for _, p := range commandRefs(args[j+1]) {
						if h, _ := hiddenComponent(p); inWritable(p) || h {
							sc.add(p, false)
						}
					}
				}
				return
			}
			if !shell && a == "-m" {
				return // a module: no script file
			}
			if shell && (a == "-o" || a == "+o" || a == "-O" || a == "+O") || !shell && (a == "-W" || a == "-X" || a == "-I" || a == "-M") {
				j++ // the option's value
			}
			continue
		}
		sc.add(a, true)
		return
	}
}

// maxParsedLine and maxParsedNesting bound the input handed to the
// shell parser: anything longer, or nested deeper (the parser recurses
// per level: 60000 "(" cost it half a second and a deep stack; no real
// command line nests 64 brackets), goes to shellSplitLoose, which is
// linear.
const (
	maxParsedLine    = 64 << 10
	maxParsedNesting = 64
)

// bracketDepth returns how deep (, { and [ nest in s, quotes ignored: an
// upper bound cheap enough to check before parsing.
func bracketDepth(s string) int {
	d, deepest := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '{', '[':
			d++
			deepest = max(deepest, d)
		case ')', '}', ']':
			d = max(d-1, 0)
		}
	}
	return deepest
}

// shellParsers holds bash parsers for reuse (a Parser is not safe for
// concurrent use; comments are dropped, as they run nothing).
var shellParsers = sync.Pool{New: func() any { return syntax.NewParser(syntax.Variant(syntax.LangBash)) }}

// shellSplit splits a command line into simple commands (their words,
// quotes removed, redirections and comments left out) and returns the
// bodies of $(…), `…`, <(…) and >(…) substitutions separately, as text
// for the caller to split in turn. A substitution inside a word leaves
// "$SUB" in its place; parameter expansions stay as written ("$HOME/x").
// Assignments before a command (LD_PRELOAD=/x cmd) and those of export,
// declare, local, readonly and typeset lead the words as NAME=value.
//
// The line is read by mvdan.cc/sh's bash parser, which knows quoting,
// nesting, here-documents, case patterns and compound commands as a
// shell does. Lines it rejects (truncated, obfuscated or not shell at
// all: malware writes such lines too), lines over 64 KiB and lines
// nested more than 64 brackets deep go to shellSplitLoose, the tolerant
// tokenizer this package had before, so that what a broken or hostile
// line runs is still read as well as it was, in linear time.
func shellSplit(s string) (cmds [][]string, subs []string) {
	if len(s) > maxParsedLine || bracketDepth(s) > maxParsedNesting {
		return shellSplitLoose(s)
	}
	p := shellParsers.Get().(*syntax.Parser)
	f, err := p.Parse(strings.NewReader(s), "")
	shellParsers.Put(p)
	if err != nil {
		return shellSplitLoose(s)
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			var words []string
			for _, a := range n.Assigns {
				if a.Name != nil && a.Index == nil && a.Array == nil {
					words = append(words, a.Name.Value+"="+wordText(s, a.Value))
				}
			}
			for _, w := range n.Args {
				if t := wordText(s, w); t != "" || !onlyProcSubst(w) {
					words = append(words, t)
				}
			}
			if len(words) > 0 {
				cmds = append(cmds, words)
			}
		case *syntax.DeclClause:
			words := []string{n.Variant.Value}
			for _, a := range n.Args {
				switch {
				case a.Name != nil && a.Naked:
					words = append(words, a.Name.Value)
				case a.Name != nil && a.Index == nil && a.Array == nil:
					words = append(words, a.Name.Value+"="+wordText(s, a.Value))
				case a.Name == nil && a.Value != nil:
					words = append(words, wordText(s, a.Value))
				}
			}
			cmds = append(cmds, words)
		case *syntax.CmdSubst:
			if n.Backquotes {
				subs = append(subs, unescapeBackquoted(source(s, n.Left.Offset()+1, n.Right.Offset())))
			} else {
				subs = append(subs, source(s, n.Left.Offset()+2, n.Right.Offset()))
			}
			return false
		case *syntax.ProcSubst:
			subs = append(subs, source(s, n.OpPos.Offset()+2, n.Rparen.Offset()))
			return false
		}
		return true
	})
	return cmds, subs
}

// source returns s[i:j], or "" when the positions do not fit s.
func source(s string, i, j uint) string {
	if i > j || j > uint(len(s)) {
		return ""
	}
	return s[i:j]
}

// wordText returns a word with its quotes removed; parameter and
// arithmetic expansions stay as written, a command substitution becomes
// "$SUB" and a process substitution nothing.
func wordText(s string, w *syntax.Word) string {
	if w == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range w.Parts {
		partText(&b, s, p, false)
	}
	return b.String()
}

func partText(b *strings.Builder, s string, p syntax.WordPart, dq bool) {
	switch p := p.(type) {
	case *syntax.Lit:
		unescapeLit(b, p.Value, dq)
	case *syntax.SglQuoted:
		if p.Dollar {
			b.WriteString(source(s, p.Pos().Offset(), p.End().Offset())) // $'…': escapes not decoded
		} else {
			b.WriteString(p.Value)
		}
	case *syntax.DblQuoted:
		for _, q := range p.Parts {
			partText(b, s, q, true)
		}
	case *syntax.CmdSubst:
		b.WriteString("$SUB")
	case *syntax.ProcSubst:
	default: // ${…}, $((…)), extended globs: as written
		b.WriteString(source(s, p.Pos().Offset(), p.End().Offset()))
	}
}

// unescapeLit removes the backslashes of a literal: all of them outside
// double quotes, inside only those before $ ` " \ (as the shell does).
func unescapeLit(b *strings.Builder, v string, dq bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (!dq || strings.IndexByte("$`\"\\\n", v[i+1]) >= 0) {
			i++
		}
		b.WriteByte(v[i])
	}
}

// unescapeBackquoted turns the text between backquotes into the command
// it runs: there \\, \` and \$ stand for \, ` and $.
func unescapeBackquoted(v string) string {
	if !strings.Contains(v, "\\") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\\`$", v[i+1]) >= 0 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// onlyProcSubst reports whether w is made of process substitutions
// alone (diff <(a) <(b)): such a word is a /dev/fd path, not a word to
// judge.
func onlyProcSubst(w *syntax.Word) bool {
	for _, p := range w.Parts {
		if _, ok := p.(*syntax.ProcSubst); !ok {
			return false
		}
	}
	return true
}

// shellSplitLoose is shellSplit's fallback for lines the shell parser
// rejects: it splits a command line into simple commands (their words,
// quotes removed, redirections and comments left out) at ; & | && || and
// parentheses, and returns the bodies of $(…), `…`, <(…) and >(…)
// substitutions separately. It is a reader of what a line runs, not a
// shell: unbalanced input ends the current word, never an error.
func shellSplitLoose(s string) (cmds [][]string, subs []string) {
	var words []string
	var cur strings.Builder
	inWord := false
	skipTarget := false // the next word is a redirection's target
	endWord := func() {
		if inWord {
			if skipTarget {
				skipTarget = false
			} else {
				words = append(words, cur.String())
			}
			cur.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		skipTarget = false
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	n := len(s)
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < n:
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = n - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < n && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < n:
					i++
					cur.WriteByte(s[i])
				case s[i] == '$' && i+1 < n && s[i+1] == '(':
					body, end := matchParen(s, i+2)
					subs = append(subs, body)
					cur.WriteString("$SUB")
					i = end
				case s[i] == '`':
					j := strings.IndexByte(s[i+1:], '`')
					if j < 0 {
						j = n - i - 1
					}
					subs = append(subs, s[i+1:i+1+j])
					cur.WriteString("$SUB")
					i += j + 1
				default:
					cur.WriteByte(s[i])
				}
			}
		case c == '$' && i+1 < n && s[i+1] == '(':
			body, end := matchParen(s, i+2)
			subs = append(subs, body)
			cur.WriteString("$SUB")
			inWord = true
			i = end
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				j = n - i - 1
			}
			subs = append(subs, s[i+1:i+1+j])
			cur.WriteString("$SUB")
			inWord = true
			i += j + 1
		case (c == '<' || c == '>') && i+1 < n && s[i+1] == '(':
			body, end := matchParen(s, i+2)
			subs = append(subs, body)
			endWord()
			i = end
		case c == '<' || c == '>' || c == '&' && i+1 < n && s[i+1] == '>':
			// A redirection: a file descriptor number before it is part
			// of it, the word after it is its target.
			if inWord && strings.Trim(cur.String(), "0123456789") == "" {
				cur.Reset()
				inWord = false
			}
			endWord()
			for i+1 < n && strings.IndexByte("<>&|", s[i+1]) >= 0 {
				i++
			}
			if s[i] == '&' && i+1 < n && (s[i+1] == '-' || s[i+1] >= '0' && s[i+1] <= '9') {
				// >&2, 2>&1, >&-: a descriptor, not a file.
				for i+1 < n && (s[i+1] == '-' || s[i+1] >= '0' && s[i+1] <= '9') {
					i++
				}
				continue
			}
			skipTarget = true
		case c == ';' || c == '|' || c == '&' || c == '(' || c == ')' || c == '\n':
			endCmd()
		case c == ' ' || c == '\t' || c == '\r':
			endWord()
		case c == '#' && !inWord:
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = n
			} else {
				i += j - 1
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds, subs
}

// matchParen returns the text from i up to the parenthesis that closes
// one opened before i, and the index of that parenthesis (or the end).
func matchParen(s string, i int) (string, int) {
	depth := 1
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '\'':
			k := strings.IndexByte(s[j+1:], '\'')
			if k < 0 {
				return s[i:], len(s)
			}
			j += k + 1
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[i:j], j
			}
		}
	}
	return s[i:], len(s)
}
