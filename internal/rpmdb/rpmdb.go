package rpmdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// Limits bound what Read accepts from a database. A zero field takes the
// DefaultLimits value.
type Limits struct {
	MaxDBBytes     int64 // database file(s) size, SQLite with its WAL
	MaxHeaderBytes int   // one package header
	MaxPackages    int   // packages in the database
	MaxFiles       int   // files over all packages
}

// DefaultLimits are generous for real systems: a full Fedora
// workstation's database is ~150 MiB, ~2,500 packages, ~400,000 files.
var DefaultLimits = Limits{
	MaxDBBytes:     512 << 20,
	MaxHeaderBytes: 64 << 20,
	MaxPackages:    100_000,
	MaxFiles:       5_000_000,
}

func (l Limits) withDefaults() Limits {
	if l.MaxDBBytes <= 0 {
		l.MaxDBBytes = DefaultLimits.MaxDBBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if l.MaxPackages <= 0 {
		l.MaxPackages = DefaultLimits.MaxPackages
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	return l
}

// Format is the storage an rpm database uses.
type Format int

const (
	SQLite     Format = iota + 1 // rpmdb.sqlite: rpm >= 4.16 (AL2023, RHEL 9, Fedora >= 33)
	BerkeleyDB                   // Packages, a Berkeley DB hash: rpm < 4.16 (AL2, RHEL/CentOS 7 and 8)
)

func (f Format) String() string {
	switch f {
	case SQLite:
		return "sqlite"
	case BerkeleyDB:
		return "bdb"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Database is an rpm database found under a root.
type Database struct {
	Path   string // as seen inside the root: "/var/lib/rpm/rpmdb.sqlite"
	Format Format
}

// candidates are where rpm keeps its package table, by %_dbpath:
// /var/lib/rpm (RHEL, Amazon Linux, Fedora < 36) and
// /usr/lib/sysimage/rpm (Fedora >= 36, openSUSE; /var/lib/rpm is then
// usually a link to it).
var candidates = []Database{
	{"/var/lib/rpm/rpmdb.sqlite", SQLite},
	{"/usr/lib/sysimage/rpm/rpmdb.sqlite", SQLite},
	{"/var/lib/rpm/Packages", BerkeleyDB},
	{"/usr/lib/sysimage/rpm/Packages", BerkeleyDB},
}

// Locate finds the rpm database under r. When more than one candidate
// exists (a leftover from a backend conversion, or both database
// directories), the most recently written one is the one rpm uses; a tie
// goes to SQLite and to /var/lib/rpm. A candidate whose path resolves
// outside the root is an error, not skipped: something hostile is there.
// No candidate at all is ErrNoDatabase.
func Locate(r *rootfs.FS) (Database, error) {
	var (
		best    Database
		bestFI  fs.FileInfo
		bestMod int64
	)
	for _, c := range candidates {
		fi, err := r.Stat(c.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return Database{}, fmt.Errorf("rpmdb: %s: %w", c.Path, err)
		}
		if bestFI != nil && os.SameFile(fi, bestFI) {
			continue
		}
		mod := fi.ModTime().UnixNano()
		if c.Format == SQLite {
			if wi, err := r.Stat(c.Path + "-wal"); err == nil && wi.ModTime().UnixNano() > mod {
				mod = wi.ModTime().UnixNano()
			}
		}
		if bestFI == nil || mod > bestMod {
			best, bestFI, bestMod = c, fi, mod
		}
	}
	if bestFI == nil {
		return Database{}, fmt.Errorf("%w under %s", ErrNoDatabase, r.Dir())
	}
	return best, nil
}

// Read finds the rpm database under r (see Locate) and reads every
// installed package with its files. A root without one gives
// ErrNoDatabase; a database that is corrupt, hostile (a link out of the
// root, a FIFO), or beyond lim gives an error and no packages.
//
// The root is never written: an SQLite database is copied, with its
// write-ahead log, into a private temporary directory and read there; a
// Berkeley DB is read in place with positioned reads.
func Read(ctx context.Context, r *rootfs.FS, lim Limits) ([]Package, error) {
	db, err := Locate(r)
	if err != nil {
		return nil, err
	}
	return ReadDatabase(ctx, r, db, lim)
}

// ReadDatabase reads the database db under r.
func ReadDatabase(ctx context.Context, r *rootfs.FS, db Database, lim Limits) ([]Package, error) {
	lim = lim.withDefaults()
	c := &collector{lim: lim}
	var err error
	switch db.Format {
	case SQLite:
		err = readSQLite(ctx, r, db.Path, lim, c.add)
	case BerkeleyDB:
		err = readBDB(ctx, r, db.Path, lim, c.add)
	default:
		err = fmt.Errorf("%w: format %v", ErrUnsupported, db.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %s: %w", db.Path, err)
	}
	return c.pkgs, nil
}

// collector parses blobs into packages within the limits.
type collector struct {
	lim   Limits
	pkgs  []Package
	files int
}

func (c *collector) add(hnum uint32, blob []byte) error {
	if hnum == 0 {
		// Header number 0 is not a package (Berkeley DB rpm keeps its
		// next-number counter there).
		return nil
	}
	if len(blob) > c.lim.MaxHeaderBytes {
		return fmt.Errorf("%w: header %d is %d bytes (limit %d)", ErrLimit, hnum, len(blob), c.lim.MaxHeaderBytes)
	}
	if len(c.pkgs) >= c.lim.MaxPackages {
		return fmt.Errorf("%w: more than %d packages", ErrLimit, c.lim.MaxPackages)
	}
	left := c.lim.MaxFiles - c.files
	p, err := parseHeader(blob, min(left, DefaultMaxPackageFiles))
	if err != nil {
		return fmt.Errorf("header %d: %w", hnum, err)
	}
	c.files += len(p.Files)
	c.pkgs = append(c.pkgs, *p)
	return nil
}
