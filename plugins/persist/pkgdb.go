package persist

import (
	"bytes"
	"context"
	"crypto"
	_ "crypto/md5" // crypto.MD5 for digest: dpkg, old rpm
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"strings"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/rpmdb"
)

// pkgDB tells stock files from changed ones using the root's own package
// metadata. dpkg keeps an MD5 of every installed file in
// /var/lib/dpkg/info/<pkg>.md5sums and of every conffile in
// /var/lib/dpkg/status; both are plain text and cheap to read. rpm keeps a
// digest (SHA-256 on current distributions, MD5 on old ones) of every file
// in its database, SQLite on Amazon Linux 2023, RHEL 9 and Fedora, Berkeley
// DB on Amazon Linux 2 and RHEL 7 (package internal/rpmdb reads both).
type pkgDB struct {
	present bool
	files   map[string]pkgFile // "etc/crontab" -> …
	// rpmErr is why a root that has an rpm database could not have it
	// read (corrupt, beyond limits, a link out of the root); nil otherwise.
	rpmErr  error
	rpmPath string
}

type pkgFile struct {
	pkg      string
	digest   string      // lower-case hex
	algo     crypto.Hash // 0 = MD5 (dpkg)
	conffile bool
	// also: other rpm packages owning the same path with another digest
	// (multilib pairs, conflicting packages); the file is stock if it
	// matches any owner.
	also []pkgFile
}

// loadPkgDB reads whichever package metadata the root has: dpkg's, rpm's,
// or both (a Debian root with rpm installed keeps an rpm database too;
// dpkg's record wins for a file both list).
func loadPkgDB(ctx context.Context, r *rootfs.FS, max int64) *pkgDB {
	db := loadDpkg(ctx, r, max)
	loc, err := rpmdb.Locate(r)
	if errors.Is(err, rpmdb.ErrNoDatabase) {
		return db
	}
	if err == nil {
		db.rpmPath = loc.Path
		var pkgs []rpmdb.Package
		pkgs, err = rpmdb.ReadDatabase(ctx, r, loc, rpmdb.Limits{})
		if err == nil {
			db.present = true
			db.addRpm(pkgs)
			return db
		}
	}
	db.rpmErr = err
	return db
}

// addRpm records the regular files of pkgs that rpm keeps a digest of.
// Ghosts (owned, never shipped) and entries whose digest algorithm Go
// does not know are left out: their content says nothing about the
// package.
func (db *pkgDB) addRpm(pkgs []rpmdb.Package) {
	for i := range pkgs {
		p := &pkgs[i]
		for _, f := range p.Files {
			if f.Digest == "" || f.Ghost() || f.Algo == 0 || !f.Algo.Available() {
				continue
			}
			key := strings.TrimPrefix(f.Path, "/")
			pf := pkgFile{pkg: p.Name, digest: f.Digest, algo: f.Algo, conffile: f.Config()}
			if old, ok := db.files[key]; ok {
				if old.algo != 0 && !strings.EqualFold(old.digest, pf.digest) {
					old.also = append(old.also, pf)
					db.files[key] = old
				}
				continue // dpkg's record, or the same content, stands
			}
			db.files[key] = pf
		}
	}
}

func loadDpkg(ctx context.Context, r *rootfs.FS, max int64) *pkgDB {
	db := &pkgDB{files: map[string]pkgFile{}}
	ents, err := r.ReadDir("/var/lib/dpkg/info")
	if err != nil {
		return db
	}
	db.present = true
	for _, e := range ents {
		if ctx.Err() != nil {
			return db
		}
		name := e.Name()
		if !strings.HasSuffix(name, ".md5sums") || !e.Type().IsRegular() {
			continue
		}
		pkg := strings.TrimSuffix(name, ".md5sums")
		if i := strings.IndexByte(pkg, ':'); i >= 0 {
			pkg = pkg[:i]
		}
		data, err := r.ReadFile("/var/lib/dpkg/info/"+name, max)
		if err != nil {
			continue
		}
		parseMD5Sums(data, pkg, db.files)
	}
	if data, err := r.ReadFile("/var/lib/dpkg/status", 64<<20); err == nil {
		parseDpkgConffiles(data, db.files)
	}
	return db
}

// parseMD5Sums reads "<md5>  <path without leading slash>" lines.
//
// One string holds the whole file and the map keys and sums are slices of
// it: a full Debian install lists ~50,000 files, and one allocation per
// package instead of two per file keeps Find on a live root fast.
func parseMD5Sums(data []byte, pkg string, into map[string]pkgFile) {
	// Keys are the paths as md5sums stores them, without the leading "/".
	s := string(data)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if len(line) < 35 || line[32] != ' ' {
			continue
		}
		p := strings.TrimLeft(strings.TrimSpace(line[33:]), "/")
		into[p] = pkgFile{pkg: pkg, digest: line[:32]}
	}
}

// parseDpkgConffiles reads the Conffiles: fields of /var/lib/dpkg/status.
// The whole file is in memory (bounded by the caller), so lines are cut
// from it directly: a very long line (a huge Description) is skipped over,
// never the end of the parse.
func parseDpkgConffiles(data []byte, into map[string]pkgFile) {
	pkg := ""
	in := false
	for rest := data; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		if len(raw) > 1<<20 {
			in = false // no field we read is this long
			continue
		}
		line := strings.TrimSuffix(string(raw), "\r")
		switch {
		case strings.HasPrefix(line, "Package: "):
			pkg = strings.TrimSpace(line[len("Package: "):])
			in = false
		case strings.HasPrefix(line, "Conffiles:"):
			in = true
		case in && strings.HasPrefix(line, " "):
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "/") {
				into[f[0][1:]] = pkgFile{pkg: pkg, digest: f[1], conffile: true}
			}
		default:
			in = false
		}
	}
}

// usrAliases lists the other names a path has on a merged-/usr system.
func usrAliases(p string) []string {
	out := []string{p}
	for _, pre := range []string{"/lib/", "/lib64/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(p, pre) {
			out = append(out, "/usr"+p)
		}
		if strings.HasPrefix(p, "/usr"+pre) {
			out = append(out, p[4:])
		}
	}
	return out
}

// lookup returns the package record for path (or an alias of it).
func (db *pkgDB) lookup(p string) (pkgFile, bool) {
	if db == nil {
		return pkgFile{}, false
	}
	for _, a := range usrAliases(p) {
		if f, ok := db.files[strings.TrimPrefix(a, "/")]; ok {
			return f, true
		}
	}
	return pkgFile{}, false
}

// check reports whether path belongs to a package, is unchanged, and is
// a configuration file of it.
func (db *pkgDB) check(p string, data []byte) (pkg string, owned, stock, conffile bool) {
	f, ok := db.lookup(p)
	if !ok {
		return "", false, false, false
	}
	if strings.EqualFold(digest(f.algo, data), f.digest) {
		return f.pkg, true, true, f.conffile
	}
	for _, o := range f.also {
		if strings.EqualFold(digest(o.algo, data), o.digest) {
			return o.pkg, true, true, o.conffile
		}
	}
	return f.pkg, true, false, f.conffile
}

// newHash returns a hash of algo (MD5 when 0), or nil when Go has no
// implementation of it linked in (the imports above register every
// algorithm dpkg and rpm use).
func newHash(algo crypto.Hash) hash.Hash {
	if algo == 0 {
		algo = crypto.MD5
	}
	if !algo.Available() {
		return nil
	}
	return algo.New()
}

// algoName names algo as a finding's reason does ("SHA-256").
func algoName(algo crypto.Hash) string {
	if algo == 0 {
		return crypto.MD5.String()
	}
	return algo.String()
}

// digest is the lower-case hex digest of data with algo, "" when algo is
// unavailable.
func digest(algo crypto.Hash, data []byte) string {
	h := newHash(algo)
	if h == nil {
		return ""
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
