// Package scan finds the process behind an abuse report and stops it
// without losing evidence.
//
// Sockets maps every TCP, UDP, raw and packet socket of a host to the
// processes holding it. On the live host TCP and UDP come through netlink
// sock_diag (INET_DIAG), one dump per network namespace that a process is
// in; raw and AF_PACKET sockets (masscan and zmap send from the latter and
// never show up as SYN_SENT) and any root that is not the live /proc are
// read from /proc/PID/net/*, once per namespace. Socket inodes are mapped to
// processes, on a large live host (256 processes or 2,048 open files), in one
// pass of a BPF task_file iterator over every process's descriptor table
// (package internal/taskfiles: no readlink per descriptor); elsewhere, and
// for any process the iterator does not list or where it cannot run, by
// reading each /proc/PID/fd with getdents and readlinkat, in parallel.
//
// Detect scores every process on the signals listed with the Signal
// constants (SYN_SENT fan-out, connect rate over Options.Window, raw and
// packet sockets, deleted or scratch-directory executables, comm and
// executable disagreeing, known scanner and miner names, CPU, a cron
// parent, a user process named like a kernel thread, connections to mining
// pool ports, a saturated CPU with a few long outbound connections, and,
// over a window where Watch runs, stratum spoken, attempts mostly refused
// or unanswered and UDP to many destinations) and,
// given an abuse.Report, on sockets matching its evidence,
// which weighs most: a socket to an address the report lists (+80), or
// from the reported source to a reported port (+70; reports list only a
// sample of the targets), outweighs any behavioural signal. On EC2 a
// report names the instance's public address while its sockets show the
// private one: Options.InstanceAddrs gives the private addresses. Each
// Suspect carries the reasons for its score, each with its weight, and the
// identity (start ticks, executable device and inode) that Stop checks.
// Options.NoBPF keeps the descriptor pass on /proc (on a host that audits
// BPF, each iterator load and unload is logged).
//
// Each suspect's parents are listed with what they are (init, sshd, cron,
// a terminal, a container runtime, a shell, a program); a parent that is a
// shell loop, or that forked other processes of the suspect's executable
// during the window, is its Supervisor. PlanStop warns when it would leave
// a supervisor alive; StopOptions.Supervisor stops the supervisor's tree.
//
// PlanStop and Stop stop a process safely: the plan checks the refusals
// (PID 1, kernel threads, the caller and its ancestors, a changed identity)
// and records the process's identity (start time, executable device and
// inode); Stop, only when told to apply, opens pidfds (so a reused PID can
// never be signalled), freezes the process tree (a cgroup v2 freezer when
// the host has one, else SIGSTOP), captures evidence most volatile first
// into a directory with a SHA-256 manifest (sockets, descriptors, maps,
// memory (DefaultMaxMemory, anonymous first), environ, cmdline, status,
// links, parent chain, the executable copied through /proc/PID/exe even
// when deleted, and deleted
// files held open, each inode once and with its holes kept, every copy
// within StopOptions.MaxFileSize and all of them within MaxEvidence, after a
// statfs check that refuses with ErrEvidenceSpace before anything is frozen
// when the disk has no room), re-checks every identity right before and
// kills. On every way out (success, error, cancellation) it thaws what it
// froze and removes the freezer cgroup; processes are moved into the cgroup
// by PID number (the kernel has no other way) with a liveness check on their
// pidfd before and after each write, so a PID reused meanwhile is moved
// straight back out instead of frozen with the suspect.
//
// A process hidden by a mount over its /proc/PID directory (`mount --bind
// /empty /proc/PID`) is found in the mount table: Detect lists it as
// SignalHidden (critical, whatever MinScore says), and Detect, Sockets,
// PlanStop and Stop then read the host through a fresh, detached procfs
// instance (fsopen/fsmount) in which it is whole; Stop leaves the mount in
// place and records it in hidden-mounts.json. A process the BPF task
// iterator sees that two /proc listings in a row leave out (hidden from
// getdents) is read by name and listed as SignalHidden too. Sockets that
// no process holds in two passes in a row are a finding of their own
// (SignalUnheld, a
// Suspect with PID 0): critical when every process's descriptors could be
// read, weak and naming the unreadable processes otherwise.
//
// Watch attributes outbound TCP connection attempts to processes live, with
// BPF programs (cilium/ebpf, written as instructions, field offsets from
// the kernel's BTF) on the inet_sock_set_state raw tracepoint: a connect
// scanner whose targets answer with RST never lingers in the socket table,
// but each of its attempts passes SYN_SENT in its own connect call; the
// same program counts, in the kernel, how each attempt ended (answered,
// refused by a RST, unanswered), for the process that made it, though the
// answer arrives in softirq. A second program, on net_dev_queue, counts the
// packets each process sends from raw IP and AF_PACKET sockets (a raw SYN
// sender such as masscan or hping3 transmits, a capturer holding the same
// sockets such as tcpdump does not: SignalRawSend; the RSTs and ICMP
// errors the kernel sends from its own raw sockets, in whatever process
// runs, are no process's) and its UDP datagrams and their new
// destinations (SignalUDPFanout). A third, on the
// tcp_sendmsg_locked raw tracepoint (or fentry on tcp_sendmsg), copies the
// first bytes of the first send seen on each TCP socket that begins with
// '{': a miner's stratum request (login, mining.subscribe, keepalived, …)
// names it whatever it is called and whatever port its pool uses
// (SignalStratum; not through TLS). Detect over a window on the live host
// runs Watch alongside its samples (the window starts once the programs
// run) and falls back to the samples alone where it cannot run
// (DetectAll says which, and why);
// bench/scan-watch.sh measures it against the sampling path.
//
// Every function takes the procfs mount point in its options, so tests
// and offline analysis run on a fake tree (see package scantest). Package
// scanplugin serves Detect and Stop as playbook plugin actions.
//
// Speed is measured, not asserted: bench/scan.sh loads the host with ~30,000
// loopback TCP sockets held by 75 processes (then 2,000 more processes) and
// runs Sockets, Detect, gopsutil v4 net.ConnectionsWithContext and
// `ss -tanp` side by side, printing wall-clock and CPU-time ratios. Most of
// Sockets' time is the kernel's: the sock_diag dump of each network
// namespace, and the descriptor pass (the BPF iterator's, or one
// readlinkat per descriptor on the host without it).
package scan
