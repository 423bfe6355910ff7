// Package persist finds and removes a malware's persistence, reversibly,
// on the live host (Root "/") or on an offline root (a snapshot volume
// mounted elsewhere).
//
// [Find] examines every place such malware uses: /etc/crontab,
// /etc/cron.d, cron.{hourly,daily,weekly,monthly}, anacrontab, user
// crontabs (Debian /var/spool/cron/crontabs, RHEL /var/spool/cron), at
// jobs; systemd units, timers, drop-ins and *.wants/ links (system and
// user); rc.local and init.d; the shell start-up files of every account
// and /etc/profile.d; authorized_keys and authorized_keys2; /etc/ld.so.preload
// and the library it names; /etc/hosts; uid-0 and odd-shell accounts;
// sudoers; udev rules; update-motd.d; sshd's key sources
// (AuthorizedKeysFile, AuthorizedKeysCommand); pam_exec and PAM modules
// loaded from writable places; systemd's DefaultEnvironment and
// environment.d; library search paths in /etc/ld.so.conf.d; XDG autostart
// entries; binaries dropped in /tmp,
// /var/tmp and /dev/shm (hidden directories included); files marked
// immutable; packaged tools (ps, ss, sshd, crontab …) that no longer match
// their package; /etc/group (a second gid-0 group, members of sudo,
// wheel, docker … that are system accounts, unknown, or new in the
// window); /etc/shells entries no package installed; supervisord
// [program:x] commands (also supervisord*.conf in hidden directories of
// homes and temp directories); APT hooks (APT::Update::Pre-Invoke,
// DPkg::Post-Invoke … in apt.conf.d); systemd generators; sshd's
// PermitRootLogin, PermitEmptyPasswords and PasswordAuthentication; the
// key files AuthorizedKeysFile names besides the default; Docker
// containers with a restart policy (/var/lib/docker/containers; also
// containerd's and podman's state, below), whose
// command is judged like an ExecStart= and which are stopped, not
// quarantined (below). A command that names a file makes that file
// a finding too; on the live root, a named file that was deleted but is
// still running is reported with its pids.
//
// What an entry runs is resolved to a file (a udev RUN+= named without a
// slash along udev's own directories) and checked against the package
// database: a program, script or library no package installed raises the
// entry — high for an ELF in /etc or in a hidden directory of a home,
// medium in /etc or the system's program and library directories, low in
// /usr/local, /opt and other places administrators install to — one
// level more when it changed inside the incident window; a script such an
// entry runs is followed to what it runs in turn. A sweep of the program
// and library directories (/usr/bin, /usr/sbin, /usr/lib*, /usr/libexec,
// /usr/local, /opt) and /etc lists ELF files and executable scripts no
// package installed (libraries and old scripts are counted, not listed),
// SUID/SGID files no package installed, names with blanks ("ps "), and
// compares packaged SUID programs, PAM modules and, with a window,
// packaged files changed inside it with their package's digest; homes'
// bin directories (a copy of top in ~/.local/bin) and hidden directories
// are swept too. Without package metadata none of this runs: every file
// would look unowned.
//
// Times. Options.Since raises what changed after it (a file's mtime); a
// line of a cron, supervisord or APT file of no package is medium when
// the file was created inside the window (written in a drop directory —
// cron.d, conf.d, apt.conf.d — or, on the live root, with a statx birth
// time inside it), while a crontab the malware appended to keeps its
// older lines as they are. On the live root a file whose change time
// (ctime) is inside the window while its mtime claims to be older was
// probably timestomped (touch -r /bin/sh x sets the one, the kernel the
// other) and is medium at least. Offline, ctime is not used: a root
// copied file by file (cp -a, rsync, tar x) gets the copy's time as every
// file's ctime (and its birth time), and Restore from a quarantine sets
// ctime too; only a block-level copy (an EBS snapshot restored to a
// volume) keeps the times the host had, and Find cannot tell which copy
// it is given.
//
// Healthy services are left running: LD_PRELOAD= of a library in a system
// library directory (jemalloc, tcmalloc) is low, and is judged by the
// package database; a unit of no package whose own program is packaged,
// or which with its program predates the window, only loses its bad
// lines; a file a unit merely names is not a finding for the unit's
// sake; cloud-init's root key restriction (command="echo 'Please login as
// the user …'") is info whenever it was written.
//
// In /tmp, /var/tmp and /dev/shm only files that can run (an execute bit)
// or sit in a hidden path are opened: an ELF there is medium on its own
// (build trees leave binaries in /tmp), critical in a hidden path, and
// acted on when a persistence entry runs it. A script in a hidden path is
// judged by its lines: harmless ones (a checkout's .git/hooks/*.sample)
// are medium, one that downloads or runs code high. A temp directory that
// is itself a symbolic link (/tmp -> /) is reported as a planted link and
// not walked.
//
// Keys "added recently": with Options.Since (the incident window, e.g. the
// report's abuse time minus a margin) an authorized_keys file changed
// after it has its last key marked high (malware appends with >>) and the
// others medium. Without Since, the key file's mtime is compared with the
// rest: changed within an hour of a file holding a high finding, its keys
// are medium at most (a guess: bots find a new host minutes after launch,
// when the operator's own key was written), which the default plan leaves
// alone; otherwise keys are listed as info. Files new in the window are
// low at least. The default plan never locks the operator out: a file's
// only key is not removed unless the key line is bad in itself (a forced
// command that downloads, runs from /tmp …), and with Since only when
// another usable key on the host stays.
//
// Kernel modules named for loading at boot (/etc/modules,
// modules-load.d) are compared with what the installed kernels ship
// (modules.dep, modules.builtin); modprobe.d install hooks are judged as
// commands.
//
// Entries are judged by what they do — a download piped to a shell, base64
// decoded into a shell, execution from world-writable or hidden places
// (of what a command runs: the program of each command of a pipeline or
// list after env, sudo, nohup, nice, timeout, setsid and the like, sh -c
// strings, scripts handed to an interpreter, LD_PRELOAD values; the paths
// it merely names, tar's archive or dd's disk, are data),
// mining pools and miner flags, reverse shells, chattr, switching off
// security tools, erasing history — not by names. Where the root carries
// package metadata an unchanged packaged file is stock and capped at Info,
// and a changed one says which package it came from: dpkg's
// (/var/lib/dpkg/info/*.md5sums and the conffiles in /var/lib/dpkg/status)
// and rpm's database (SQLite on Amazon Linux 2023, RHEL 9 and Fedora;
// Berkeley DB on Amazon Linux 2 and RHEL 7), whose SHA-256 or MD5 of every
// file is compared with the file. An rpm database that cannot be read (a
// corrupt file, a link out of the root) is itself a finding, and the
// root's files are then judged by content alone. A stock Debian, Ubuntu or
// Amazon Linux root yields nothing above Info (see package hosttest for
// the fixtures).
//
// Accounts are fixed as accounts. A second uid-0 account (of no stock
// source) or an account added inside the window is removed from passwd,
// shadow, group and gshadow together: its lines, its own group, its name
// in other groups' member and administrator lists. Any other bad account
// (a system account whose shell became a copy of bash, root with an empty
// password field) is restored, never deleted: its stock shell and uid
// from base-passwd's passwd.master, else from /etc/passwd- (the copy
// shadow's tools leave before a change), else nologin for a system
// account; a system account's password is locked ("!" before the hash).
// The four files are one set ([SetAccounts]): Apply makes all of the
// set's changes or, when one fails, puts back those it made (a crash in
// between leaves them in the manifest, which Restore undoes exactly).
// CleanPlan.Accounts says, account by account, which it is. A member the
// attacker added to sudo, wheel, adm, docker … is taken out of the
// member lists; the group stays. When /etc/group changed inside the
// window and /etc/group- (the copy shadow's tools leave before a change)
// is older, a group or a membership the last change added is medium. The image's default user and the groups
// cloud-init gives it (cloud.cfg's default_user, trusted when packaged
// and unchanged or older than the window; a configuration with YAML
// anchors is not read) are stock and never above info.
//
// A Docker container with a restart policy whose command is judged high
// is stopped, never removed (its image, files and logs stay): on the
// live root docker update --restart=no and docker stop (Restore: the old
// policy and docker start); offline, hostconfig.json's RestartPolicy is
// set to "no" with the rest of the file byte-identical. A container whose
// command is harmless is never stopped. Podman's containers (its SQLite
// state, /var/lib/containers/storage/db.sql, read from a private copy)
// are judged the same way, a restart policy counting only when
// podman-restart.service is enabled, and are reported with the fix
// (podman update --restart=no, podman stop), not acted on. containerd's
// containers (its bbolt metadata, /var/lib/containerd/
// io.containerd.metadata.v1.bolt/meta.db, read from a private copy, every
// namespace: nerdctl's default, the CRI's k8s.io) are judged the same
// way, the restart plugin's labels containerd.io/restart.status=running
// and containerd.io/restart.policy (not "no") making them come back; a
// persistent one judged high is critical. On the live root, while its
// task runs (its bundle's config.json under /run/containerd/
// io.containerd.runtime.v2.task/<namespace>/<id>), Apply runs ctr -n NS
// containers label ID containerd.io/restart.status=stopped (so the
// restart plugin leaves it) and ctr -n NS task kill -s SIGKILL ID; the
// container, its snapshot and image stay; Restore sets the label back to
// running and the restart plugin starts it again. Offline it is reported
// with that fix, not acted on: meta.db is containerd's and is never
// rewritten. Podman's older BoltDB state is not read.
//
// [Plan] turns findings into changes, file by file and line by line;
// [Apply] quarantines whole files into a quarantine directory with a
// manifest (path, SHA-256, mode, owner, times, xattrs, inode flags, the
// reason), removes (or, for accounts, groups and containers, rewrites)
// only the bad lines of line-oriented files (crontabs, shell start-up
// files, authorized_keys, passwd, group, hosts, sudoers) keeping the rest
// byte-identical, disables systemd units of the malware's own
// (their wants links and aliases go into quarantine too, with the timers,
// paths and sockets that start them, and units linked in from elsewhere
// by the file the link leads to) and clears immutable flags where needed,
// recording them. A unit a package ships is never disabled: only its bad
// lines go (disabling ssh.service for one injected ExecStartPost= would
// leave no sshd after the next boot; the finding says to reinstall the
// package). On the live root the plan lists the reloads its changes need
// (cron, systemctl daemon-reload, each user's manager, nscd's and sssd's
// caches when accounts or groups changed). [Restore] puts everything back byte- and metadata-identical:
// contents, mode (setuid bits included), owner, access and modification
// times, xattrs (trusted.* as root), inode flags, symbolic links, and the
// times of the directories involved. Not restorable: change times
// (ctime), inode numbers of quarantined files, and xattrs of symbolic
// links (not recorded). A quarantined file with other hard links keeps
// its content under those names; the manifest says so.
//
// Reads go through an [os.Root]; symbolic links inside the root are
// resolved as if chrooted into it (package internal/rootfs), files are
// opened with O_NOFOLLOW, and a planted link (/etc/cron.d/x -> /etc/shadow,
// ~/.ssh -> /) is itself a finding, never a way out. Every change (Apply
// and Restore) acts through the parent directory held open
// (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS, else an O_NOFOLLOW walk)
// with *at calls on one name, so a parent swapped for a link between check
// and act redirects nothing; the plan records where each parent resolved
// and Apply refuses one that moved (ErrChanged). A line removal writes a
// new file (owner, mode, xattrs and ACLs kept), fsyncs it, exchanges it
// for the old one and fsyncs the directory: readers see the old or the
// new file, never a partial one, the file gets a new inode, and a file
// with other hard links is never written through. Lines appended while
// Apply ran are re-checked under the same open file (ErrChanged) or kept
// in the quarantine. A change on a symbolic link inside the root is made
// on the file it leads to; the link stays.
//
// The manifest is authenticated (HMAC-SHA256, format
// abusekit-manifest/2) with a key kept outside the root: the caller's, or
// the key file in the runner's state directory (DefaultKeyFile); Restore
// refuses an unauthenticated, edited or foreign manifest. Quarantine
// copies keep holes (SEEK_DATA/SEEK_HOLE), store each inode once, are
// bounded by ApplyOptions.MaxCopy and need the free space statfs shows
// before anything changes.
package persist
