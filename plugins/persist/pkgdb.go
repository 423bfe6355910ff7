package persist

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"strings"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// pkgDB tells stock files from changed ones using the root's own package
// metadata. dpkg keeps an MD5 of every installed file in
// /var/lib/dpkg/info/<pkg>.md5sums and of every conffile in
// /var/lib/dpkg/status; both are plain text and cheap to read. The rpm
// database (Berkeley DB or SQLite) is not read: on rpm roots files are
// judged by content alone.
type pkgDB struct {
	present bool
	files   map[string]pkgFile // "/etc/crontab" -> …
}

type pkgFile struct {
	pkg      string
	md5      string
	conffile bool
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
		into[p] = pkgFile{pkg: pkg, md5: line[:32]}
	}
}

// parseDpkgConffiles reads the Conffiles: fields of /var/lib/dpkg/status.
func parseDpkgConffiles(data []byte, into map[string]pkgFile) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	pkg := ""
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Package: "):
			pkg = strings.TrimSpace(line[len("Package: "):])
			in = false
		case strings.HasPrefix(line, "Conffiles:"):
			in = true
		case in && strings.HasPrefix(line, " "):
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "/") {
				into[f[0][1:]] = pkgFile{pkg: pkg, md5: f[1], conffile: true}
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

// check reports whether path belongs to a package and is unchanged.
func (db *pkgDB) check(p string, data []byte) (pkg string, owned, stock bool) {
	f, ok := db.lookup(p)
	if !ok {
		return "", false, false
	}
	sum := md5.Sum(data)
	return f.pkg, true, strings.EqualFold(hex.EncodeToString(sum[:]), f.md5)
}
