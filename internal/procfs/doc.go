// Package procfs reads the Linux /proc files abusekit needs to map sockets
// to processes and to judge and capture a process, fast.
//
// An FS is built from a mount point (NewFS("/proc"), or a fake tree written by
// a test), and every reader hangs off it. Each kernel file has its own source
// file holding a thin reader and an unexported pure parseX([]byte) function
// that is table-tested and fuzzed alone. Parse failures wrap ErrFileParse.
//
// Readers are built for a host with tens of thousands of sockets: the socket
// tables are parsed without per-line allocation beyond the result, and
// SocketInodes lists a process's descriptors with getdents and readlinkat
// relative to the open fd directory, never building a path per descriptor.
package procfs
