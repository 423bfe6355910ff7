package persist

import (
	"regexp"
	"strings"
)

// verdict is what analyzeCommand makes of one command line.
type verdict struct {
	sev     Severity
	reasons []string
	refs    []string // absolute paths the command names (inside the root)
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
		out = appendUnique(out, p)
	}
	return out
}

// analyzeCommand judges a command line (a cron command, an ExecStart=, a
// line of a shell start-up file) by what it does.
func analyzeCommand(cmd string) verdict {
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
	if rePreload.MatchString(c) {
		v.add(High, "sets a preloaded library (LD_PRELOAD / ld.so.preload)")
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
	v.refs = commandRefs(c)
	for _, p := range v.refs {
		v.merge(judgePath(p))
	}
	// A bare-word miner name in argv[0] is judged by the pool flags above;
	// a path under /tmp is judged by judgePath.
	return v
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
