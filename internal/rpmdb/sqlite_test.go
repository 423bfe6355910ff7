package rpmdb_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"

	_ "modernc.org/sqlite"
)

func blobsOf(pkgs []rpmdb.Package) [][]byte {
	var out [][]byte
	for _, p := range pkgs {
		out = append(out, rpmdbtest.Header(p))
	}
	return out
}

// sqliteRoot lays out a root whose /var/lib/rpm/rpmdb.sqlite holds pkgs.
func sqliteRoot(t testing.TB, pkgs []rpmdb.Package) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "var/lib/rpm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rpmdbtest.WriteSQLite(filepath.Join(dir, "rpmdb.sqlite"), blobsOf(pkgs)); err != nil {
		t.Fatal(err)
	}
	return root
}

func readErr(t *testing.T, dir string, lim rpmdb.Limits) ([]rpmdb.Package, error) {
	t.Helper()
	r, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return rpmdb.Read(ctx, r, lim)
}

func TestReadSQLite(t *testing.T) {
	want := samplePackages()
	got := readRoot(t, sqliteRoot(t, want))
	sortPkgs(want)
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestWriteSQLiteReadByRPM checks the fixture writer against the real
// rpm: what rpmdbtest writes, rpm reads as its own database.
func TestWriteSQLiteReadByRPM(t *testing.T) {
	needRPM(t)
	want := samplePackages()
	root := sqliteRoot(t, want)
	sortPkgs(want)
	if d := cmp.Diff(want, rpmQuery(t, root, "/var/lib/rpm", "_db_backend sqlite"), equateEmpty); d != "" {
		t.Errorf("rpm -qa on a rpmdbtest database (-want +rpm):\n%s", d)
	}
}

// treeState is every file under dir with its content hash, mode and
// modification time, to prove a read left the root untouched.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s := fi.Mode().String() + " " + fi.ModTime().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " " + string(sha256.New().Sum(b))
		}
		out[p] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadSQLiteWAL: a package installed while another process (rpm)
// holds the database open lives only in the write-ahead log; Read sees
// it, and neither the database nor its log is written.
func TestReadSQLiteWAL(t *testing.T) {
	pkgs := samplePackages()
	root := sqliteRoot(t, pkgs[:1])
	path := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA journal_mode = WAL", "PRAGMA wal_autocheckpoint = 0"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range blobsOf(pkgs[1:]) {
		if _, err := db.Exec("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", i+2, b); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log to test with: %v", err)
	}
	before := treeState(t, root)
	got := readRoot(t, root)
	if d := cmp.Diff(before, treeState(t, root)); d != "" {
		t.Errorf("Read changed the root (-before +after):\n%s", d)
	}
	sortPkgs(pkgs)
	if d := cmp.Diff(pkgs, got, equateEmpty); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestReadSQLiteBad(t *testing.T) {
	writeDB := func(t *testing.T, stmts ...string) string {
		root := t.TempDir()
		dir := filepath.Join(root, "var/lib/rpm")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", filepath.Join(dir, "rpmdb.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	tests := []struct {
		name string
		root func(t *testing.T) string
		want error
	}{
		{"not-sqlite", func(t *testing.T) string {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755)
			os.WriteFile(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), []byte("this is not an SQLite database, it is a trap\n"), 0o644)
			return root
		}, rpmdb.ErrCorrupt},
		{"no-packages-table", func(t *testing.T) string {
			return writeDB(t, "CREATE TABLE Other (x)")
		}, rpmdb.ErrCorrupt},
		{"packages-is-a-view", func(t *testing.T) string {
			return writeDB(t, "CREATE TABLE T (hnum INTEGER, blob BLOB)",
				"CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x AS hnum, x'00' AS blob FROM c")
		}, rpmdb.ErrCorrupt},
		{"corrupt-header", func(t *testing.T) string {
			return writeDB(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
				"INSERT INTO Packages VALUES (1, x'0000000100000004')")
		}, rpmdb.ErrCorrupt},
		{"text-blob-is-checked-too", func(t *testing.T) string {
			return writeDB(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
				"INSERT INTO Packages VALUES (1, 'text')")
		}, rpmdb.ErrCorrupt},
		{"no-database", func(t *testing.T) string { return t.TempDir() }, rpmdb.ErrNoDatabase},
		{"dbpath-is-a-file", func(t *testing.T) string {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "var/lib"), 0o755)
			os.WriteFile(filepath.Join(root, "var/lib/rpm"), nil, 0o644)
			return root
		}, rpmdb.ErrNoDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := readErr(t, tt.root(t), rpmdb.Limits{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read = %d packages, %v; want %v", len(pkgs), err, tt.want)
			}
			if pkgs != nil {
				t.Errorf("packages returned with the error: %v", pkgs)
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	pkgs := samplePackages()
	root := sqliteRoot(t, pkgs)
	fi, err := os.Stat(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	for name, lim := range map[string]rpmdb.Limits{
		"db-bytes":     {MaxDBBytes: fi.Size() - 1},
		"header-bytes": {MaxHeaderBytes: 200},
		"packages":     {MaxPackages: len(pkgs) - 1},
		"files":        {MaxFiles: 7},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := readErr(t, root, lim); !errors.Is(err, rpmdb.ErrLimit) {
				t.Fatalf("Read = %v, want ErrLimit", err)
			}
		})
	}
	// At the limits exactly, it reads.
	files := 0
	for _, p := range pkgs {
		files += len(p.Files)
	}
	if got, err := readErr(t, root, rpmdb.Limits{MaxDBBytes: fi.Size(), MaxPackages: len(pkgs), MaxFiles: files}); err != nil || len(got) != len(pkgs) {
		t.Fatalf("Read at the limits = %d packages, %v", len(got), err)
	}
}

func TestReadCanceled(t *testing.T) {
	root := sqliteRoot(t, samplePackages())
	r, err := rootfs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rpmdb.Read(ctx, r, rpmdb.Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

// TestReadHostileLinks: the database path is planted by whoever owns the
// root. A link never leads the read out of it, a FIFO or device is never
// opened, and a link within the root (Fedora's /var/lib/rpm ->
// ../../usr/lib/sysimage/rpm) is followed there.
func TestReadHostileLinks(t *testing.T) {
	outside := t.TempDir()
	if err := rpmdbtest.WriteSQLite(filepath.Join(outside, "rpmdb.sqlite"), blobsOf([]rpmdb.Package{{Name: "outside", Version: "1", Release: "1"}})); err != nil {
		t.Fatal(err)
	}
	mk := func(t *testing.T, name string, plant func(p string) error) string {
		root := t.TempDir()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := plant(p); err != nil {
			t.Fatal(err)
		}
		return root
	}
	link := func(target string) func(string) error {
		return func(p string) error { return os.Symlink(target, p) }
	}
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o644) }
	tests := []struct {
		name string
		root func(t *testing.T) string
		want error // nil: the read must fail with some error
	}{
		{"relative-escape", func(t *testing.T) string {
			return mk(t, "var/lib/rpm/rpmdb.sqlite", link("../../../../../../../../"+outside+"/rpmdb.sqlite"))
		}, rootfs.ErrSymlinkEscape},
		{"dir-escape", func(t *testing.T) string {
			return mk(t, "var/lib/rpm", link("../../../../../../../../"+outside))
		}, rootfs.ErrSymlinkEscape},
		// An absolute link is resolved as if chrooted: the host path does
		// not exist inside the root.
		{"absolute-host-path", func(t *testing.T) string {
			return mk(t, "var/lib/rpm/rpmdb.sqlite", link(outside+"/rpmdb.sqlite"))
		}, rpmdb.ErrNoDatabase},
		{"fifo", func(t *testing.T) string {
			return mk(t, "var/lib/rpm/rpmdb.sqlite", fifo)
		}, rootfs.ErrNotRegular},
		{"fifo-wal", func(t *testing.T) string {
			root := sqliteRoot(t, samplePackages())
			if err := fifo(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite-wal")); err != nil {
				t.Fatal(err)
			}
			return root
		}, rootfs.ErrNotRegular},
		{"bdb-fifo", func(t *testing.T) string {
			return mk(t, "var/lib/rpm/Packages", fifo)
		}, rootfs.ErrNotRegular},
		// An absolute link is the root's own file: read, and refused
		// for what it is.
		{"bdb-to-shadow", func(t *testing.T) string {
			root := mk(t, "var/lib/rpm/Packages", link("/etc/shadow"))
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/shadow"), []byte("root:$6$salt$hash:19000:0:99999:7:::\n"), 0o600)
			return root
		}, rpmdb.ErrCorrupt},
		{"sqlite-to-shadow", func(t *testing.T) string {
			root := mk(t, "var/lib/rpm/rpmdb.sqlite", link("/etc/shadow"))
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/shadow"), []byte("root:$6$salt$hash:19000:0:99999:7:::\n"), 0o600)
			return root
		}, rpmdb.ErrCorrupt},
		{"bdb-device", func(t *testing.T) string {
			return mk(t, "var/lib/rpm/Packages", link("/dev/zero"))
		}, rpmdb.ErrNoDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var (
				pkgs []rpmdb.Package
				err  error
			)
			go func() {
				defer close(done)
				pkgs, err = readErr(t, tt.root(t), rpmdb.Limits{})
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Read hangs")
			}
			if err == nil || !errors.Is(err, tt.want) {
				t.Fatalf("Read = %v, %v; want %v", pkgs, err, tt.want)
			}
		})
	}
	t.Run("fedora-link-within-root", func(t *testing.T) {
		root := t.TempDir()
		sys := filepath.Join(root, "usr/lib/sysimage/rpm")
		if err := os.MkdirAll(sys, 0o755); err != nil {
			t.Fatal(err)
		}
		want := samplePackages()[:2]
		if err := rpmdbtest.WriteSQLite(filepath.Join(sys, "rpmdb.sqlite"), blobsOf(want)); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, "var/lib"), 0o755)
		if err := os.Symlink("../../usr/lib/sysimage/rpm", filepath.Join(root, "var/lib/rpm")); err != nil {
			t.Fatal(err)
		}
		sortPkgs(want)
		if d := cmp.Diff(want, readRoot(t, root), equateEmpty); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
}

// TestLocateNewest: with two distinct databases, the one rpm wrote last
// is the one in use.
func TestLocateNewest(t *testing.T) {
	root := sqliteRoot(t, samplePackages()[:1])
	sys := filepath.Join(root, "usr/lib/sysimage/rpm")
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rpmdbtest.WriteSQLite(filepath.Join(sys, "rpmdb.sqlite"), blobsOf(samplePackages()[1:2])); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite-wal"} {
		os.Chtimes(filepath.Join(root, p), old, old)
	}
	r, err := rootfs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db, err := rpmdb.Locate(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := (rpmdb.Database{Path: "/usr/lib/sysimage/rpm/rpmdb.sqlite", Format: rpmdb.SQLite}); db != want {
		t.Errorf("Locate = %+v, want %+v", db, want)
	}
	if got := readRoot(t, root); len(got) != 1 || got[0].Name != "bash" {
		t.Errorf("Read gave %+v, want bash from the newer database", got)
	}
}

// TestReadCleansUp: the private copy of an SQLite database is removed
// after a read, whether it succeeded or not.
func TestReadCleansUp(t *testing.T) {
	good := sqliteRoot(t, samplePackages())
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "var/lib/rpm"), 0o755)
	os.WriteFile(filepath.Join(bad, "var/lib/rpm/rpmdb.sqlite"), []byte("garbage"), 0o644)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, err := readErr(t, good, rpmdb.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := readErr(t, bad, rpmdb.Limits{}); err == nil {
		t.Fatal("garbage read without error")
	}
	if _, err := readErr(t, good, rpmdb.Limits{MaxPackages: 1}); err == nil {
		t.Fatal("limit not enforced")
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}
