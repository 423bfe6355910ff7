package scan

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/abusekit/abusekit/internal/procfs"
)

// Kinds of parent a Parent can be.
const (
	KindInit       = "init"              // PID 1, systemd, init
	KindSSHD       = "sshd"              // an SSH server or session
	KindCron       = "cron"              // cron, crond, atd, anacron
	KindTerminal   = "terminal"          // login, getty, tmux, screen, su, sudo
	KindContainer  = "container runtime" // containerd-shim, runc, conmon, dockerd
	KindShell      = "shell"             // a shell not running a loop
	KindSupervisor = "supervisor"        // respawns its child: a shell loop, or forks it again and again
	KindProgram    = "program"           // anything else
)

// SignalSupervised marks a suspect that has a supervisor: stopping it alone
// is undone within seconds.
const SignalSupervised Signal = "supervised"

const weightSupervised = 10

var (
	shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ash": true, "ksh": true, "mksh": true, "busybox": true}
	// A loop in a shell command line: while/until/for … do.
	loopRE = regexp.MustCompile(`(^|[\s;&|(])(while|until|for)\s.*(^|[\s;&|)])do(\s|;|$)`)
)

// parentKind says what a process is as the parent of a suspect, from its
// PID, name, executable and command line. why explains a KindSupervisor.
func parentKind(pid int, comm, exe string, cmdline []string) (kind, why string) {
	base := path.Base(exe)
	if exe == "" {
		base = comm
	}
	switch {
	case pid == 1 || base == "systemd" || base == "init" || comm == "systemd":
		return KindInit, ""
	case strings.HasPrefix(base, "sshd") || strings.HasPrefix(comm, "sshd"):
		return KindSSHD, ""
	case base == "cron" || base == "crond" || base == "atd" || base == "anacron" || comm == "cron" || comm == "crond":
		return KindCron, ""
	case base == "login" || strings.HasSuffix(base, "getty") || strings.HasPrefix(base, "tmux") || base == "screen" || base == "su" || base == "sudo":
		return KindTerminal, ""
	case strings.HasPrefix(base, "containerd-shim") || base == "runc" || base == "conmon" || base == "dockerd" || base == "containerd":
		return KindContainer, ""
	}
	if shells[base] || shells[comm] {
		if l := shellLoopText(cmdline); l != "" {
			return KindSupervisor, fmt.Sprintf("a shell running a loop: %q", l)
		}
		return KindShell, ""
	}
	return KindProgram, ""
}

// shellLoopText returns the command-line argument holding a loop ("" when
// none).
func shellLoopText(cmdline []string) string {
	for _, a := range cmdline[min(1, len(cmdline)):] {
		if len(a) <= 64<<10 && loopRE.MatchString(a) {
			if len(a) > 120 {
				a = a[:119] + "…"
			}
			return a
		}
	}
	return ""
}

// supervisorOf finds in the live tree what supervises pid: its parent, when
// that parent is neither init, sshd, cron, a terminal nor a container
// runtime, and is a shell running a loop or has forked other live children
// running the same executable as pid. It returns the parent's identity and
// why, or ok false.
func supervisorOf(fs procfs.FS, pid int) (sup Identity, why string, ok bool) {
	st, err := fs.Stat(pid)
	if err != nil || st.PPID <= 1 {
		return Identity{}, "", false
	}
	pst, err := fs.Stat(st.PPID)
	if err != nil || pst.IsKernelThread() {
		return Identity{}, "", false
	}
	pexe, _ := fs.Readlink(st.PPID, "exe")
	pexe, _ = strings.CutSuffix(pexe, deletedSuffix)
	cmd, _ := fs.Cmdline(st.PPID)
	kind, why := parentKind(st.PPID, pst.Comm, pexe, cmd)
	switch kind {
	case KindSupervisor:
	case KindProgram, KindShell:
		// Other live children running the same executable: it keeps
		// a set of them running.
		exe, _ := fs.Readlink(pid, "exe")
		n := 0
		if exe != "" {
			// Its children as the kernel lists them (hidden ones too),
			// and as the listing does.
			kids := kernelChildren(fs, st.PPID)
			if pids, err := listPIDs(fs); err == nil {
				for _, q := range pids {
					if qs, err := fs.Stat(q); err == nil && qs.PPID == st.PPID {
						kids = append(kids, q)
					}
				}
			}
			slices.Sort(kids)
			for _, q := range slices.Compact(kids) {
				if q == pid {
					continue
				}
				if qe, _ := fs.Readlink(q, "exe"); qe == exe {
					n++
				}
			}
		}
		if n == 0 {
			return Identity{}, "", false
		}
		why = fmt.Sprintf("it runs %d other process(es) of the same executable %s", n, exe)
	default:
		return Identity{}, "", false
	}
	id, _, err := identify(fs, st.PPID)
	if err != nil {
		return Identity{}, "", false
	}
	return id, why, true
}
