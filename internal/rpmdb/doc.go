// Package rpmdb reads the rpm package database of a root — a live host's /
// or a snapshot volume mounted elsewhere — so that a caller can tell the
// files a package shipped from files changed or added since: every
// installed package with, for each file it owns, the path, the digest rpm
// recorded, mode, flags (%config, %ghost), size and link target.
//
// [Read] finds the database where rpm keeps it ([Locate]):
//
//   - /var/lib/rpm/rpmdb.sqlite or /usr/lib/sysimage/rpm/rpmdb.sqlite:
//     SQLite, rpm 4.16 and later (Amazon Linux 2023, RHEL 9, Fedora 33+).
//     Read with modernc.org/sqlite (pure Go) from a private copy of the
//     file and its write-ahead log: rpm runs SQLite in WAL mode, and
//     recent transactions may live only in the log.
//   - /var/lib/rpm/Packages or /usr/lib/sysimage/rpm/Packages: a Berkeley
//     DB hash, rpm before 4.16 (Amazon Linux 2, CentOS/RHEL 7 and 8).
//     Read by a small reader written here from the documented on-disk
//     format (metadata page, hash buckets, overflow chains), either byte
//     order, page sizes 512 to 64 KiB.
//
// Each database value is an rpm header, parsed by [ParseHeader].
//
// # The root is hostile
//
// The database belongs to the host being examined, which may be
// compromised. Every read goes through [rootfs.FS]: a symbolic link is
// resolved as if chrooted into the root and never leads a read outside
// it; FIFOs and devices are never opened. The root is never written: the
// SQLite copy lives in a private temporary directory, removed afterwards,
// and SQLite runs with trusted_schema off and reads nothing but the
// Packages table. Every count, offset and page number in a header or a
// Berkeley DB page is checked; overflow chains are checked for loops;
// [Limits] bound the database size, header size, packages and files.
// Bad input gives an error wrapping [ErrCorrupt], [ErrLimit] or
// [ErrUnsupported], never a panic, a hang or an unbounded allocation.
//
// # Not supported
//
// The ndb backend (openSUSE's Packages.db), Berkeley DB files that are
// encrypted, and databases of rpm older than 4.0 (no header-only blobs).
// The signature header is not read.
//
// # Using the digests
//
// A file's Digest is the hex digest of its content, in the algorithm
// Algo, as rpm computed it at build time: "" for directories, symbolic
// links and %ghost files. A %config file may legitimately differ from
// it. Several packages may own one path (directories; multilib
// packages sharing a file): compare against each owner.
package rpmdb
