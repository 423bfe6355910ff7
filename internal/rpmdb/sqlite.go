package rpmdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

// copyAttempts bounds the retries when the database changes while it is
// copied (rpm writing on a live root).
const copyAttempts = 3

// readSQLite copies the database at name (with its write-ahead log: rpm
// runs SQLite in WAL mode, and recent transactions may live only there)
// into a private directory, and reads rpm's Packages table from the copy.
// The root is never opened for writing, and SQLite never sees its path.
func readSQLite(ctx context.Context, r *rootfs.FS, name string, lim Limits, add func(uint32, []byte) error) error {
	dir, err := os.MkdirTemp("", "rpmdb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "rpmdb.sqlite")
	if err := copyStable(ctx, r, name, dst, lim.MaxDBBytes); err != nil {
		return err
	}
	return queryPackages(ctx, dst, lim, add)
}

type fileState struct {
	exists bool
	size   int64
	mod    time.Time
}

func stateOf(r *rootfs.FS, name string) fileState {
	fi, err := r.Stat(name)
	if err != nil {
		return fileState{}
	}
	return fileState{true, fi.Size(), fi.ModTime()}
}

// copyStable copies name and name-wal to dst and dst-wal, again when
// either changed during the copy.
func copyStable(ctx context.Context, r *rootfs.FS, name, dst string, max int64) error {
	for attempt := 1; ; attempt++ {
		before := [2]fileState{stateOf(r, name), stateOf(r, name+"-wal")}
		budget := max
		n, err := copyFile(ctx, r, name, dst, budget)
		if err != nil {
			return err
		}
		budget -= n
		os.Remove(dst + "-wal")
		if _, err := copyFile(ctx, r, name+"-wal", dst+"-wal", budget); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		after := [2]fileState{stateOf(r, name), stateOf(r, name+"-wal")}
		if before == after || attempt == copyAttempts {
			return nil
		}
	}
}

// copyFile copies the regular file name inside the root to the host path
// dst, at most max bytes.
func copyFile(ctx context.Context, r *rootfs.FS, name, dst string, max int64) (int64, error) {
	src, err := r.Open(name)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil {
		return 0, err
	} else if fi.Size() > max {
		return 0, fmt.Errorf("%w: %s is %d bytes (limit %d left)", ErrLimit, name, fi.Size(), max)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(&ctxReader{ctx, src}, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copy %s: %w", name, err)
	}
	if n > max {
		return n, fmt.Errorf("%w: %s grew past %d bytes", ErrLimit, name, max)
	}
	return n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// queryPackages reads rpm's table
//
//	Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)
//
// from the private copy at path. A blob over the header limit is not
// fetched at all.
func queryPackages(ctx context.Context, path string, lim Limits, add func(uint32, []byte) error) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer conn.Close()
	// The file is the suspect's: no schema-defined functions or views
	// get to run with our trust.
	if _, err := conn.ExecContext(ctx, "PRAGMA trusted_schema = OFF"); err != nil {
		return fmt.Errorf("sqlite: %w: %w", ErrCorrupt, err)
	}
	var typ string
	switch err := conn.QueryRowContext(ctx, "SELECT type FROM sqlite_master WHERE name = 'Packages'").Scan(&typ); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %w: no Packages table", ErrCorrupt)
	case err != nil:
		return fmt.Errorf("sqlite: %w: %w", ErrCorrupt, err)
	case typ != "table":
		return fmt.Errorf("sqlite: %w: Packages is a %s, not a table", ErrCorrupt, typ)
	}
	rows, err := conn.QueryContext(ctx,
		"SELECT hnum, octet_length(blob), CASE WHEN octet_length(blob) <= ? THEN CAST(blob AS BLOB) END FROM Packages ORDER BY hnum",
		lim.MaxHeaderBytes)
	if err != nil {
		return fmt.Errorf("sqlite: %w: %w", ErrCorrupt, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			hnum int64
			size sql.NullInt64
			blob sql.RawBytes
		)
		if err := rows.Scan(&hnum, &size, &blob); err != nil {
			return fmt.Errorf("sqlite: %w: %w", ErrCorrupt, err)
		}
		if hnum < 0 || hnum > 1<<32-1 {
			return fmt.Errorf("sqlite: %w: header number %d", ErrCorrupt, hnum)
		}
		if size.Int64 > int64(lim.MaxHeaderBytes) {
			return fmt.Errorf("%w: header %d is %d bytes (limit %d)", ErrLimit, hnum, size.Int64, lim.MaxHeaderBytes)
		}
		if err := add(uint32(hnum), blob); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: %w: %w", ErrCorrupt, err)
	}
	return nil
}
