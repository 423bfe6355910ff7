package scan

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/abusekit/abusekit/internal/procfs"
)

// SignalHidden marks a process hidden from /proc readers: a mount over its
// /proc/PID directory (`mount --bind /empty /proc/PID`, a trick of real
// malware) makes ps, top, ss -p, lsof and any /proc reader see an empty
// directory or nothing.
const SignalHidden Signal = "hidden"

// SignalUnheld marks sockets that no process holds: no descriptor of any
// process listed in /proc (or seen by the BPF iterator) refers to them, in
// two passes in a row. A process hidden from both, or a socket passed in
// flight over a Unix socket (SCM_RIGHTS) and closed by its sender, leaves
// them; so can a kernel user of sockets (an NFS mount, WireGuard, VXLAN),
// which the reason text names as the benign explanation to rule out.
const SignalUnheld Signal = "unheld-sockets"

// weightHidden is critical: no legitimate program hides itself this way,
// and a hidden process is listed whatever else it scores.
const weightHidden = 100

// weightUnheldUnsure is for sockets without a holder when some process's
// descriptors were unreadable: below DefaultMinScore.
const weightUnheldUnsure = 20

// unheldSuspect is the finding for sockets no process holds, listed as a
// Suspect with PID 0 (nothing to stop: PlanStop refuses PID 0).
//
// When some process's descriptors could not be read (unreadable lists
// them), the sockets may be that process's: the finding then weighs
// weightUnheldUnsure, names those processes, and is listed only from
// MinScore like any other.
func unheldSuspect(socks []*Socket, unreadable []int, max int) Suspect {
	slices.SortFunc(socks, func(a, b *Socket) int { return cmp.Compare(a.Inode, b.Inode) })
	w := weightHidden
	text := fmt.Sprintf("%d socket(s) held by no process in /proc, in two passes (e.g. %s): a process hidden from /proc and from the BPF iterator, a socket in flight over a Unix socket, or a kernel user of sockets (NFS, WireGuard, VXLAN)",
		len(socks), socks[0])
	if len(unreadable) > 0 {
		w = weightUnheldUnsure
		text = fmt.Sprintf("%d socket(s) with no holder found (e.g. %s); the descriptors of pid(s) %v could not be read, so they may be theirs",
			len(socks), socks[0], unreadable[:min(len(unreadable), 8)])
	}
	s := Suspect{Comm: "(no process)", Score: w, SocketCount: len(socks), NetNS: socks[0].NetNS}
	s.Reasons = []Reason{{Signal: SignalUnheld, Weight: w, Text: text}}
	for _, sk := range socks[:min(len(socks), max)] {
		s.Sockets = append(s.Sockets, *sk)
	}
	return s
}

// unheld lists the sockets of a snapshot with an inode and no holder.
func unheld(s *snapshot) map[uint64]*Socket {
	if s.held == len(s.socks) {
		return nil // every socket has a holder: nothing to look for
	}
	var out map[uint64]*Socket
	for ino, sk := range s.socks {
		if ino != 0 && len(sk.PIDs) == 0 {
			if out == nil {
				out = map[uint64]*Socket{}
			}
			out[ino] = sk
		}
	}
	return out
}

// liveView is the procfs to read for the live host. When a mount covers a
// process directory of the live /proc, it is a fresh, detached procfs
// instance (procfs.OpenFresh), in which hidden processes are whole; hidden
// maps each such PID to the mounts over it. Anywhere else (a fake tree, a
// mounted snapshot, or no mount over /proc/PID) it is fs itself. done
// releases the fresh instance.
func liveView(fs procfs.FS, log *slog.Logger) (view procfs.FS, hidden map[int][]procfs.Mount, done func()) {
	done = func() {}
	if !fs.IsLive() {
		return fs, nil, done
	}
	hidden, err := fs.PIDMounts()
	if err != nil {
		log.Debug("scan: mount table unreadable; hidden processes not looked for", "err", err)
		return fs, nil, done
	}
	if len(hidden) == 0 {
		return fs, nil, done
	}
	fresh, closeFresh, err := procfs.OpenFresh()
	if err != nil {
		log.Warn("scan: processes hidden by mounts over /proc/PID, and no fresh procfs to read them", "pids", len(hidden), "err", err)
		return fs, hidden, done
	}
	log.Info("scan: processes hidden by mounts over /proc/PID; reading a fresh procfs instance", "pids", len(hidden))
	return fresh, hidden, func() { closeFresh() }
}

// hiddenText describes the mounts hiding a process.
func hiddenText(pid int, ms []procfs.Mount) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s (mount %d: %s %s%s)", m.MountPoint, m.ID, m.FSType, m.Source, m.Root))
	}
	return fmt.Sprintf("hidden from /proc readers by a mount over its directory: %s", strings.Join(parts, ", "))
}

// unreadable lists the processes of a snapshot whose descriptors could not
// be read.
func unreadable(s *snapshot) []int {
	var out []int
	for pid, p := range s.procs {
		if p.fdErr {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// stillUnheld keeps the sockets of cand that a second pass also finds with
// no holder: a socket opened or closed between the process pass and the
// socket dump of one pass is held, or gone, in the next.
func stillUnheld(ctx context.Context, fs procfs.FS, o Options, cand map[uint64]*Socket) ([]*Socket, error) {
	if len(cand) == 0 {
		return nil, nil
	}
	again, err := take(ctx, fs, o, false)
	if err != nil {
		return nil, err
	}
	var out []*Socket
	for ino, sk := range cand {
		if now, ok := again.socks[ino]; ok && len(now.PIDs) == 0 {
			out = append(out, sk)
		}
	}
	return out, nil
}
