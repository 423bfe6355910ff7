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
//
// Why not cilium/ebpf: it was tried first. Its program loader decodes the
// kernel's whole BTF (several MB) on each load, 30-50 ms twice, 80-90 ms
// before the first record, more than the /proc pass it replaces costs on a
// mid-sized host. The ~30-instruction program here needs four field
// offsets, found by a small, fuzzed walk of the BTF type section, and takes
// 2-3 ms to set up; the kernel's verifier checks every load against the
// kernel's own types, so a wrong offset fails the load, never the read.
package taskfiles
