package hosttest

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"
)

// WithRpm adds an rpm database for pkgs to t, as Amazon Linux 2023, RHEL 9
// and Fedora keep it: /var/lib/rpm/rpmdb.sqlite with rpm's own schema,
// every packaged file recorded with the SHA-256 of its contents in t, its
// mode and size, Conffiles flagged %config, links with their targets.
// Files a package names but t does not hold are left out. It replaces any
// rpm database an earlier call wrote.
//
// Building the database needs a scratch directory (os.MkdirTemp); WithRpm
// panics if the machine cannot give one, as a fixture kit may.
func (t Tree) WithRpm(pkgs ...Package) Tree {
	return t.withRpmDB(rpmDBOf(t, pkgs))
}

// withRpmDB adds db as the tree's rpm database.
func (t Tree) withRpmDB(db string) Tree {
	return t.With(
		Entry{Path: "/var/lib/rpm", Dir: true},
		Entry{Path: "/var/lib/rpm/rpmdb.sqlite", Data: db},
	)
}

// rpmDBOf builds the rpm database WithRpm adds.
func rpmDBOf(t Tree, pkgs []Package) string {
	blob, err := rpmSQLite(t, pkgs)
	if err != nil {
		panic(fmt.Sprintf("hosttest: building the rpm database: %v", err))
	}
	return string(blob)
}

// RpmPackages gives the rpm packages WithRpm would record for pkgs in t.
func (t Tree) RpmPackages(pkgs ...Package) []rpmdb.Package {
	final := map[string]Entry{}
	for _, e := range t.final() {
		final[e.Path] = e
	}
	var out []rpmdb.Package
	for _, p := range pkgs {
		conf := map[string]bool{}
		for _, c := range p.Conffiles {
			conf[c] = true
		}
		rp := rpmdb.Package{Name: p.Name, Version: "1.0", Release: "1.amzn2023", Arch: "x86_64"}
		files := append([]string(nil), p.Files...)
		sort.Strings(files)
		for _, f := range files {
			e, ok := final[f]
			if !ok || e.Dir {
				continue
			}
			rf := rpmdb.File{Path: f, Algo: crypto.SHA256}
			if conf[f] {
				rf.Flags |= rpmdb.FlagConfig
			}
			if e.Link != "" {
				rf.Mode = 0o120777
				rf.LinkTo = e.Link
				rf.Size = int64(len(e.Link))
			} else {
				sum := sha256.Sum256([]byte(e.Data))
				rf.Digest = hex.EncodeToString(sum[:])
				rf.Mode = 0o100000 | uint16(defaultMode(e).Perm())
				rf.Size = int64(len(e.Data))
			}
			rp.Files = append(rp.Files, rf)
		}
		out = append(out, rp)
	}
	return out
}

func rpmSQLite(t Tree, pkgs []Package) ([]byte, error) {
	dir, err := os.MkdirTemp("", "hosttest-rpm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var blobs [][]byte
	for _, p := range t.RpmPackages(pkgs...) {
		blobs = append(blobs, rpmdbtest.Header(p))
	}
	db := filepath.Join(dir, "rpmdb.sqlite")
	if err := rpmdbtest.WriteSQLite(db, blobs); err != nil {
		return nil, err
	}
	return os.ReadFile(db)
}
