package rpmdbtest

import (
	"database/sql"
	"fmt"
	"os"
	"path"

	"github.com/abusekit/abusekit/internal/rpmdb"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// WriteSQLite creates the SQLite rpm database file (rpmdb.sqlite, which
// must not exist yet) holding blobs as header numbers 1, 2, …, with the
// schema rpm 4.16+ creates: the Packages table and its index tables. The
// database is left in WAL mode, as rpm
// leaves it, and fully checkpointed.
func WriteSQLite(file string, blobs [][]byte) error {
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("rpmdbtest: %s exists", file)
	}
	db, err := sql.Open("sqlite", file)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("rpmdbtest: %w", err)
	}
	if _, err := db.Exec("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"); err != nil {
		return fmt.Errorf("rpmdbtest: %w", err)
	}
	for _, ix := range indexes {
		q := fmt.Sprintf("CREATE TABLE '%s' (key '%s' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))", ix.name, ix.keyType)
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("rpmdbtest: %s: %w", q, err)
		}
		if ix.keyType == "TEXT" {
			q = fmt.Sprintf("CREATE INDEX '%s_key_idx' ON '%s'(key ASC)", ix.name, ix.name)
			if _, err := db.Exec(q); err != nil {
				return fmt.Errorf("rpmdbtest: %s: %w", q, err)
			}
		}
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, b := range blobs {
		if _, err := tx.Exec("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", i+1, b); err != nil {
			return fmt.Errorf("rpmdbtest: insert header %d: %w", i+1, err)
		}
		p, err := rpmdb.ParseHeader(b)
		if err != nil {
			continue // a deliberately broken header: no index entries
		}
		if _, err := tx.Exec("INSERT INTO Name (key, hnum, idx) VALUES (?, ?, 0)", p.Name, i+1); err != nil {
			return fmt.Errorf("rpmdbtest: insert name %d: %w", i+1, err)
		}
		dirs := map[string]bool{}
		for j, f := range p.Files {
			dir, base := path.Split(f.Path)
			if _, err := tx.Exec("INSERT INTO Basenames (key, hnum, idx) VALUES (?, ?, ?)", base, i+1, j); err != nil {
				return fmt.Errorf("rpmdbtest: insert basename %d: %w", i+1, err)
			}
			if !dirs[dir] {
				dirs[dir] = true
				if _, err := tx.Exec("INSERT INTO Dirnames (key, hnum, idx) VALUES (?, ?, ?)", dir, i+1, len(dirs)-1); err != nil {
					return fmt.Errorf("rpmdbtest: insert dirname %d: %w", i+1, err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	return db.Close()
}

// indexes are the index tables rpm 4.18 creates beside Packages; rpm
// opening the database read-only fails when one is missing. Name,
// Basenames and Dirnames are filled ("rpm -q NAME", "rpm -qf PATH");
// the others stay empty.
var indexes = []struct{ name, keyType string }{
	{"Name", "TEXT"}, {"Basenames", "TEXT"}, {"Group", "TEXT"}, {"Requirename", "TEXT"},
	{"Providename", "TEXT"}, {"Conflictname", "TEXT"}, {"Obsoletename", "TEXT"},
	{"Triggername", "TEXT"}, {"Dirnames", "TEXT"}, {"Installtid", "BLOB"}, {"Sigmd5", "BLOB"},
	{"Sha1header", "TEXT"}, {"Filetriggername", "TEXT"}, {"Transfiletriggername", "TEXT"},
	{"Recommendname", "TEXT"}, {"Suggestname", "TEXT"}, {"Supplementname", "TEXT"},
	{"Enhancename", "TEXT"},
}
