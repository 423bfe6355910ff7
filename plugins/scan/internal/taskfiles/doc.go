// Package taskfiles lists the open files of every process of the host in
// one pass, through a BPF task_file iterator, with the inode of each one
// that is a socket: the socket → process map that /proc/PID/fd gives at the
// cost of one readlink per descriptor, for a fraction of it.
//
// The iterator program is assembled here and loaded with plain bpf(2)
// calls; the few kernel field offsets it needs come from the kernel's BTF
// (/sys/kernel/btf/vmlinux) and the verifier checks its loads against the
// kernel's types. It needs root (CAP_BPF and CAP_PERFMON, or
// CAP_SYS_ADMIN), a kernel with BTF (5.8 or later) and the caller in the
// initial PID namespace; otherwise Read wraps ErrUnsupported and callers
// read /proc. Nothing is kept loaded between calls: each Read loads the
// program, reads the iterator to the end and unloads it (where the kernel
// audits BPF, each load and unload is logged).
package taskfiles
