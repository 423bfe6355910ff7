package scan

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/abusekit/abusekit/internal/procfs"
)

// SignalHidden marks a process hidden from /proc readers: a mount over its
// /proc/PID directory (`mount --bind /empty /proc/PID`, a trick of real
// malware) makes ps, top, ss -p, lsof and any /proc reader see an empty
// directory or nothing.
const SignalHidden Signal = "hidden"

// weightHidden is critical: no legitimate program hides itself this way,
// and a hidden process is listed whatever else it scores.
const weightHidden = 100

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
