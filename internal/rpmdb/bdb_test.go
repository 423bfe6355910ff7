package rpmdb_test

import (
	"bytes"
	"crypto"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"
	"github.com/abusekit/abusekit/internal/testenv"
)

func needDBLoad(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("db_load"); err != nil {
		testenv.Skipf(t, "needs db_load (apt-get install db-util): %v", err)
	}
}

// record is one key/value pair of an rpm Packages database.
type record struct {
	hnum uint32
	blob []byte
}

// loadBDB writes records into a Berkeley DB hash at path with the real
// db_load, from the printable dump format db_dump writes. Keys are
// 4-byte header numbers in the database's byte order, as rpm writes
// them on a host of that order.
func loadBDB(t testing.TB, path string, recs []record, bigEndian bool, opts ...string) {
	t.Helper()
	needDBLoad(t)
	var b strings.Builder
	b.WriteString("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n")
	for _, r := range recs {
		var k [4]byte
		if bigEndian {
			binary.BigEndian.PutUint32(k[:], r.hnum)
		} else {
			binary.LittleEndian.PutUint32(k[:], r.hnum)
		}
		fmt.Fprintf(&b, " %s\n %s\n", hex.EncodeToString(k[:]), hex.EncodeToString(r.blob))
	}
	b.WriteString("DATA=END\n")
	args := []string{"-t", "hash"}
	for _, o := range opts {
		args = append(args, "-c", o)
	}
	if bigEndian {
		args = append(args, "-c", "db_lorder=4321")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("db_load", append(args, path)...)
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db_load %v: %v\n%s", args, err, out)
	}
}

// sqliteRecords reads the header blobs of a real rpm database.
func sqliteRecords(t testing.TB, path string) []record {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT hnum, blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.hnum, &r.blob); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// bigPackage has enough files that its header overflows any page size.
func bigPackage(n int) rpmdb.Package {
	p := rpmdb.Package{Name: "big", Version: "1", Release: "1", Arch: "x86_64"}
	for i := range n {
		p.Files = append(p.Files, rpmdb.File{
			Path:   fmt.Sprintf("/usr/share/big/d%03d/file-%05d", i/100, i),
			Digest: fmt.Sprintf("%064x", i), Algo: crypto.SHA256, Mode: 0o100644, Size: int64(i),
		})
	}
	return p
}

// TestReadBDB: the headers of a real rpm database, plus encoder-made ones
// (a big one spanning overflow pages, a tiny one that stays on its hash
// page), loaded into Berkeley DB hashes by the real db_load in every
// page size and both byte orders, read the same as from SQLite.
func TestReadBDB(t *testing.T) {
	root := installRoot(t)
	recs := sqliteRecords(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	extra := []rpmdb.Package{bigPackage(3000), {Name: "gpg-pubkey", Version: "d832c631", Release: "5e0e4d5b"}}
	extra = append(extra, samplePackages()...)
	for i, p := range extra {
		recs = append(recs, record{uint32(100 + i), blobsOf([]rpmdb.Package{p})[0]})
	}
	// The sqlite reference: the real database plus the extra headers.
	ref := t.TempDir()
	var blobs [][]byte
	for _, r := range recs {
		blobs = append(blobs, r.blob)
	}
	os.MkdirAll(filepath.Join(ref, "var/lib/rpm"), 0o755)
	if err := rpmdbtest.WriteSQLite(filepath.Join(ref, "var/lib/rpm/rpmdb.sqlite"), blobs); err != nil {
		t.Fatal(err)
	}
	want := readRoot(t, ref)
	if len(want) != len(recs) {
		t.Fatalf("reference has %d packages, want %d", len(want), len(recs))
	}
	// rpm's Berkeley DB keeps its next header number under key 0.
	counter := record{0, binary.LittleEndian.AppendUint32(nil, 200)}

	for _, ps := range []int{512, 4096, 65536} {
		for _, be := range []bool{false, true} {
			for _, chk := range []bool{false, true} {
				name := fmt.Sprintf("page%d-be%v-chksum%v", ps, be, chk)
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					opts := []string{fmt.Sprintf("db_pagesize=%d", ps)}
					if chk {
						opts = append(opts, "chksum=1")
					}
					loadBDB(t, filepath.Join(dir, "var/lib/rpm/Packages"), append([]record{counter}, recs...), be, opts...)
					got := readRoot(t, dir)
					if d := cmp.Diff(want, got, equateEmpty); d != "" {
						t.Errorf("Berkeley DB vs SQLite (-sqlite +bdb):\n%s", d)
					}
				})
			}
		}
	}
}

// TestReadBDBByRPM: rpm's own read-only Berkeley DB backend reads the
// same packages from the same file.
func TestReadBDBByRPM(t *testing.T) {
	root := installRoot(t)
	recs := sqliteRecords(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	for i, p := range samplePackages() {
		recs = append(recs, record{uint32(100 + i), blobsOf([]rpmdb.Package{p})[0]})
	}
	dir := t.TempDir()
	loadBDB(t, filepath.Join(dir, "var/lib/rpm/Packages"), recs, false, "db_pagesize=4096")
	byRPM := rpmQuery(t, dir, "/var/lib/rpm", "_db_backend bdb_ro")
	if len(byRPM) != len(recs) {
		t.Fatalf("rpm bdb_ro lists %d packages, want %d", len(byRPM), len(recs))
	}
	if d := cmp.Diff(byRPM, readRoot(t, dir), equateEmpty); d != "" {
		t.Errorf("rpm bdb_ro vs Read (-rpm +Read):\n%s", d)
	}
}

// TestReadBDBBad: files that are not what they claim give clear errors.
func TestReadBDBBad(t *testing.T) {
	needDBLoad(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	loadBDB(t, good, []record{{1, blobsOf([]rpmdb.Package{bigPackage(200)})[0]}, {2, []byte("tiny")}}, false, "db_pagesize=512")
	gb, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	btree := filepath.Join(dir, "btree")
	cmd := exec.Command("db_load", "-t", "btree", btree)
	cmd.Stdin = strings.NewReader("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 01000000\n 00\nDATA=END\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db_load btree: %v\n%s", err, out)
	}
	bb, err := os.ReadFile(btree)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	mut := func(f func(b []byte)) []byte {
		b := append([]byte(nil), gb...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, rpmdb.ErrCorrupt},
		{"text", bytes.Repeat([]byte("not a database\n"), 100), rpmdb.ErrCorrupt},
		{"btree", bb, rpmdb.ErrUnsupported},
		{"page-size-odd", mut(func(b []byte) { le.PutUint32(b[20:], 1000) }), rpmdb.ErrCorrupt},
		{"encrypted", mut(func(b []byte) { b[24] = 1 }), rpmdb.ErrUnsupported},
		{"buckets-past-end", mut(func(b []byte) { le.PutUint32(b[72:], 1<<20) }), rpmdb.ErrCorrupt},
		{"spares-past-end", mut(func(b []byte) { le.PutUint32(b[96:], 1<<30) }), rpmdb.ErrCorrupt},
		{"truncated", gb[:len(gb)-512], rpmdb.ErrCorrupt},
		// The header's value is tiny: "tiny" is not an rpm header.
		{"bad-header", gb, rpmdb.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755)
			if err := os.WriteFile(filepath.Join(root, "var/lib/rpm/Packages"), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs, err := readErr(t, root, rpmdb.Limits{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read = %d packages, %v; want %v", len(pkgs), err, tt.want)
			}
		})
	}
	// Loops: every page's next pointer aimed back at itself.
	t.Run("loops", func(t *testing.T) {
		for pg := 1; pg < len(gb)/512; pg++ {
			b := mut(func(b []byte) { le.PutUint32(b[pg*512+16:], uint32(pg)) })
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755)
			os.WriteFile(filepath.Join(root, "var/lib/rpm/Packages"), b, 0o644)
			if _, err := readErr(t, root, rpmdb.Limits{}); !errors.Is(err, rpmdb.ErrCorrupt) {
				t.Fatalf("page %d looping: Read = %v, want ErrCorrupt", pg, err)
			}
		}
	})
	t.Run("header-limit", func(t *testing.T) {
		root := t.TempDir()
		loadBDB(t, filepath.Join(root, "var/lib/rpm/Packages"), []record{{1, blobsOf([]rpmdb.Package{bigPackage(200)})[0]}}, false)
		if _, err := readErr(t, root, rpmdb.Limits{MaxHeaderBytes: 1000}); !errors.Is(err, rpmdb.ErrLimit) {
			t.Fatalf("Read = %v, want ErrLimit", err)
		}
		if _, err := readErr(t, root, rpmdb.Limits{MaxDBBytes: 1000}); !errors.Is(err, rpmdb.ErrLimit) {
			t.Fatalf("Read = %v, want ErrLimit", err)
		}
	})
}

// perlBDB is a Berkeley DB client that does what rpm does to its
// Packages database over a host's life: single puts that split buckets
// and grow the table, deletes that free overflow pages, puts that reuse
// them. Perl's DB_File is built on the same libdb as db_load.
const perlBDB = `
use strict;
use DB_File;
use Fcntl;
my ($file, $bsize, $lorder, $ffactor) = @ARGV;
my $info = DB_File::HASHINFO->new();
$info->{bsize} = $bsize;
$info->{lorder} = $lorder;
$info->{ffactor} = $ffactor if $ffactor;
tie my %h, 'DB_File', $file, O_RDWR|O_CREAT, 0644, $info or die "tie $file: $!";
while (my $line = <STDIN>) {
	chomp $line;
	my ($op, $k, $v) = split / /, $line;
	$k = pack("H*", $k);
	if ($op eq "put") { $h{$k} = pack("H*", $v); } elsif ((tied %h)->del($k) != 0) { die "delete: $!"; }
}
untie %h or die "untie: $!";
`

func needPerlDBFile(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("perl", "-MDB_File", "-e", "1").CombinedOutput(); err != nil {
		testenv.Skipf(t, "needs perl with DB_File (libdb): %v %s", err, out)
	}
}

// TestReadBDBLifecycle: a database grown by single puts and shrunk by
// deletes, as rpm -i and rpm -e leave it, reads exactly the live
// packages, as rpm's own reader lists them.
func TestReadBDBLifecycle(t *testing.T) {
	needPerlDBFile(t)
	var pkgs []rpmdb.Package
	for i := range 300 {
		p := bigPackage(i % 70)
		if i%97 == 0 {
			p = bigPackage(2500)
		}
		p.Name = fmt.Sprintf("pkg%03d", i)
		pkgs = append(pkgs, p)
	}
	for _, tc := range []struct {
		name    string
		bsize   int
		lorder  int
		ffactor int  // items per bucket before a split; small: many buckets
		last    bool // erase last: freed pages stay on the free list
	}{{"4096-le", 4096, 1234, 0, false}, {"1024-be-ffactor2", 1024, 4321, 2, false},
		{"16384-le-ffactor1", 16384, 1234, 1, false}, {"4096-le-erase-last", 4096, 1234, 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			key := func(h uint32) string {
				var k [4]byte
				if tc.lorder == 4321 {
					binary.BigEndian.PutUint32(k[:], h)
				} else {
					binary.LittleEndian.PutUint32(k[:], h)
				}
				return hex.EncodeToString(k[:])
			}
			var script strings.Builder
			live := map[uint32]rpmdb.Package{}
			put := func(h uint32, p rpmdb.Package) {
				fmt.Fprintf(&script, "put %s %s\n", key(h), hex.EncodeToString(rpmdbtest.Header(p)))
				live[h] = p
			}
			erase := func() {
				for h := uint32(1); h <= 200; h += 3 { // rpm -e of a third
					fmt.Fprintf(&script, "del %s\n", key(h))
					delete(live, h)
				}
			}
			for i, p := range pkgs[:200] {
				put(uint32(i+1), p)
			}
			if !tc.last {
				erase()
			}
			for i, p := range pkgs[200:] { // later installs reuse freed pages
				put(uint32(201+i), p)
			}
			if tc.last {
				erase()
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "var/lib/rpm/Packages")
			os.MkdirAll(filepath.Dir(path), 0o755)
			cmd := exec.Command("perl", "-e", perlBDB, path, fmt.Sprint(tc.bsize), fmt.Sprint(tc.lorder), fmt.Sprint(tc.ffactor))
			cmd.Stdin = strings.NewReader(script.String())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("perl DB_File: %v\n%s", err, out)
			}
			var want []rpmdb.Package
			for _, p := range live {
				want = append(want, p)
			}
			sortPkgs(want)
			got := readRoot(t, dir)
			if d := cmp.Diff(want, got, equateEmpty); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if tc.lorder == 1234 {
				if _, err := exec.LookPath("rpm"); err == nil {
					if d := cmp.Diff(rpmQuery(t, dir, "/var/lib/rpm", "_db_backend bdb_ro"), got, equateEmpty); d != "" {
						t.Errorf("rpm bdb_ro vs Read (-rpm +Read):\n%s", d)
					}
				}
			}
		})
	}
}
