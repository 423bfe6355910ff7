package rpmdb_test

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"
)

// benchPackages is a database the size of a full server install: 500
// packages of 200 files each (Amazon Linux 2023 has ~400 packages and
// ~60,000 files). Headers carry only the file tags, so the per-header
// cost is a lower bound of a real header's (which adds changelogs,
// dependencies and scripts that are skipped).
func benchPackages() []rpmdb.Package {
	pkgs := make([]rpmdb.Package, 500)
	for i := range pkgs {
		p := rpmdb.Package{Name: fmt.Sprintf("pkg%03d", i), Version: "1.0", Release: "1.amzn2023", Arch: "x86_64"}
		for j := range 200 {
			p.Files = append(p.Files, rpmdb.File{
				Path:   fmt.Sprintf("/usr/lib/pkg%03d/sub%02d/file%03d.so", i, j/20, j),
				Digest: fmt.Sprintf("%064x", i*1000+j), Algo: crypto.SHA256,
				Mode: 0o100755, Size: int64(j * 100),
			})
		}
		pkgs[i] = p
	}
	return pkgs
}

func BenchmarkRead(b *testing.B) {
	pkgs := benchPackages()
	blobs := blobsOf(pkgs)
	var total int64
	for _, bl := range blobs {
		total += int64(len(bl))
	}
	b.Run("ParseHeader", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for _, bl := range blobs {
				if _, err := rpmdb.ParseHeader(bl); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	run := func(b *testing.B, dir string) {
		r, err := rootfs.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			got, err := rpmdb.Read(context.Background(), r, rpmdb.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != len(pkgs) {
				b.Fatalf("%d packages", len(got))
			}
		}
	}
	sqliteDir := b.TempDir()
	os.MkdirAll(filepath.Join(sqliteDir, "var/lib/rpm"), 0o755)
	if err := rpmdbtest.WriteSQLite(filepath.Join(sqliteDir, "var/lib/rpm/rpmdb.sqlite"), blobs); err != nil {
		b.Fatal(err)
	}
	b.Run("SQLite", func(b *testing.B) { run(b, sqliteDir) })
	// The peer: rpm itself listing every file and digest of the same
	// database (what "rpm -Va" starts from).
	b.Run("rpm-qa", func(b *testing.B) {
		needRPM(b)
		b.SetBytes(total)
		for b.Loop() {
			out, err := exec.Command("rpm", "--root", sqliteDir, "--dbpath", "/var/lib/rpm", "-qa",
				"--qf", "[%{FILENAMES} %{FILEDIGESTS} %{FILEMODES} %{FILEFLAGS}\\n]").Output()
			if err != nil {
				b.Fatal(err)
			}
			if len(out) < 100000 {
				b.Fatalf("rpm printed %d bytes", len(out))
			}
		}
	})
	b.Run("BerkeleyDB", func(b *testing.B) {
		dir := b.TempDir()
		var recs []record
		for i, bl := range blobs {
			recs = append(recs, record{uint32(i + 1), bl})
		}
		loadBDB(b, filepath.Join(dir, "var/lib/rpm/Packages"), recs, false, "db_pagesize=4096")
		run(b, dir)
	})
}
