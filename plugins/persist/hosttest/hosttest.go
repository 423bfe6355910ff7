// Package hosttest builds host root trees for tests, from Go: stock
// Debian 12, Ubuntu 22.04 and Amazon Linux 2023 roots (with the package
// metadata the real systems carry), and infections modelled on the work32
// and kinsing miners. It is the fixture kit of plugins/persist, public so
// that embedders test their own tools on the same trees, in the way
// net/http/httptest sits beside net/http. It is not tied to testing.T.
//
//	dir := t.TempDir()
//	if err := hosttest.Write(dir, hosttest.Debian12().With(hosttest.Work32(t0)...)); err != nil { … }
package hosttest

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Epoch is the modification time Write gives entries that set none: the
// day the stock image was built. Infections are dated later.
var Epoch = time.Date(2024, 3, 4, 10, 12, 41, 0, time.UTC)

// Entry is one file, directory or symbolic link of a tree. Path is as
// seen inside the root ("/etc/crontab").
type Entry struct {
	Path      string
	Data      string      // file contents
	Link      string      // non-empty: a symbolic link to this target
	Dir       bool        // a directory
	Mode      fs.FileMode // permission bits; 0: 0644 files, 0755 dirs and scripts under cron.*, init.d, update-motd.d
	UID, GID  int         // applied when running as root
	Mtime     time.Time   // zero: Epoch
	Xattrs    map[string]string
	Immutable bool // chattr +i, applied last (needs root and a file system that supports it)
}

// Tree is a list of entries; later entries replace earlier ones with the
// same path.
type Tree []Entry

// With returns a copy of t with more entries.
func (t Tree) With(more ...Entry) Tree {
	out := make(Tree, 0, len(t)+len(more))
	out = append(out, t...)
	return append(out, more...)
}

// Without returns a copy of t without the entries at the given paths.
func (t Tree) Without(paths ...string) Tree {
	drop := map[string]bool{}
	for _, p := range paths {
		drop[p] = true
	}
	var out Tree
	for _, e := range t {
		if !drop[e.Path] {
			out = append(out, e)
		}
	}
	return out
}

// ErrUnsupported is returned (wrapped) by Write when an entry asks for an
// inode flag or xattr the file system or the caller's privileges do not
// allow.
var ErrUnsupported = errors.New("hosttest: not supported here")

// final returns the entries, last one per path winning, in path order.
func (t Tree) final() []Entry {
	m := map[string]Entry{}
	for _, e := range t {
		m[path.Clean("/"+e.Path)] = e
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		e := m[k]
		e.Path = k
		out = append(out, e)
	}
	return out
}

func defaultMode(e Entry) fs.FileMode {
	if e.Mode != 0 {
		return e.Mode
	}
	if e.Dir {
		return 0o755
	}
	d := path.Dir(e.Path)
	if strings.HasPrefix(d, "/etc/cron.") && d != "/etc/cron.d" || d == "/etc/init.d" || d == "/etc/update-motd.d" ||
		strings.HasPrefix(e.Data, "#!") || strings.HasPrefix(e.Data, "\x7fELF") {
		return 0o755
	}
	return 0o644
}

// Write creates the tree under dir (which must exist). Parent directories
// are created 0755. Times, owners (as root), xattrs and, last, immutable
// flags are applied. An entry whose flag or xattr cannot be applied makes
// Write return an error wrapping ErrUnsupported after writing the rest.
func Write(dir string, t Tree) error {
	ents := t.final()
	var unsupported []string
	root := os.Geteuid() == 0
	for _, e := range ents {
		full := filepath.Join(dir, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		switch {
		case e.Link != "":
			_ = os.Remove(full)
			if err := os.Symlink(e.Link, full); err != nil {
				return err
			}
		case e.Dir:
			// Writable while the tree is written (a 0550 /root would
			// stop a non-root writer); final modes are set below.
			if err := os.MkdirAll(full, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(full, defaultMode(e)|0o700); err != nil {
				return err
			}
		default:
			if err := os.WriteFile(full, []byte(e.Data), defaultMode(e)); err != nil {
				return err
			}
			if err := os.Chmod(full, defaultMode(e)); err != nil {
				return err
			}
		}
		if root && (e.UID != 0 || e.GID != 0) {
			if err := os.Lchown(full, e.UID, e.GID); err != nil {
				return err
			}
			if e.Link == "" {
				// chown clears setuid/setgid: set the mode again.
				if err := os.Chmod(full, defaultMode(e)); err != nil {
					return err
				}
			}
		}
		for k, v := range e.Xattrs {
			if err := unix.Lsetxattr(full, k, []byte(v), 0); err != nil {
				unsupported = append(unsupported, fmt.Sprintf("xattr %s on %s: %v", k, e.Path, err))
			}
		}
	}
	// Final directory modes and times, deepest first, so that writing
	// children does not move a parent's mtime afterwards.
	for i := len(ents) - 1; i >= 0; i-- {
		e := ents[i]
		if e.Dir {
			if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(e.Path)), defaultMode(e)); err != nil {
				return err
			}
		}
		mt := e.Mtime
		if mt.IsZero() {
			mt = Epoch
		}
		full := filepath.Join(dir, filepath.FromSlash(e.Path))
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("hosttest: times of %s: %w", e.Path, err)
		}
	}
	for _, e := range ents {
		if !e.Immutable {
			continue
		}
		if err := SetImmutable(filepath.Join(dir, filepath.FromSlash(e.Path)), true); err != nil {
			unsupported = append(unsupported, err.Error())
		}
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsupported, strings.Join(unsupported, "; "))
	}
	return nil
}

// SetImmutable sets or clears chattr +i on a host path (not a link).
func SetImmutable(full string, on bool) error {
	fh, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	fl, err := unix.IoctlGetInt(int(fh.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("%w: FS_IOC_GETFLAGS %s: %v", ErrUnsupported, full, err)
	}
	if on {
		fl |= 0x10
	} else {
		fl &^= 0x10
	}
	if err := unix.IoctlSetPointerInt(int(fh.Fd()), 0x40086602, fl); err != nil {
		return fmt.Errorf("%w: FS_IOC_SETFLAGS %s: %v", ErrUnsupported, full, err)
	}
	return nil
}

// ClearImmutable walks dir, clears chattr +i everywhere and makes every
// directory owner-writable (a 0550 /root), so that t.TempDir's cleanup
// can remove the tree. Errors are ignored.
func ClearImmutable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.Type().IsRegular() || d.IsDir()) {
			_ = SetImmutable(p, false)
		}
		if err == nil && d.IsDir() {
			if fi, err := d.Info(); err == nil {
				_ = os.Chmod(p, fi.Mode().Perm()|0o700)
			}
		}
		return nil
	})
}

// Package describes an installed dpkg package: the files it owns (paths
// inside the root) and which of them are conffiles.
type Package struct {
	Name      string
	Files     []string
	Conffiles []string
}

// WithDpkg adds dpkg metadata for pkgs to t: /var/lib/dpkg/info/<name>.md5sums
// with the MD5 of each file's current contents in t, and
// /var/lib/dpkg/status with their conffiles (added to what an earlier call
// wrote). Files are recorded under the
// name given (e.g. /lib/systemd/system/ssh.service even when the tree keeps
// it under /usr/lib), as Debian's merged-/usr packages do.
func (t Tree) WithDpkg(pkgs ...Package) Tree {
	data := map[string]string{}
	for _, e := range t.final() {
		if e.Link == "" && !e.Dir {
			data[e.Path] = e.Data
		}
	}
	lookup := func(p string) (string, bool) {
		for _, a := range []string{p, "/usr" + p, strings.TrimPrefix(p, "/usr")} {
			if d, ok := data[a]; ok {
				return d, true
			}
		}
		return "", false
	}
	out := t.With(Entry{Path: "/var/lib/dpkg/info", Dir: true})
	var status strings.Builder
	if e, ok := t.Get("/var/lib/dpkg/status"); ok {
		status.WriteString(e.Data) // a second call adds packages
	}
	for _, p := range pkgs {
		var sums strings.Builder
		conf := map[string]bool{}
		for _, c := range p.Conffiles {
			conf[c] = true
		}
		for _, f := range p.Files {
			d, ok := lookup(f)
			if !ok {
				continue
			}
			if conf[f] {
				continue
			}
			s := md5.Sum([]byte(d))
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(s[:]), strings.TrimPrefix(f, "/"))
		}
		out = append(out, Entry{Path: "/var/lib/dpkg/info/" + p.Name + ".md5sums", Data: sums.String()})
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nPriority: important\nArchitecture: amd64\nVersion: 1.0\n", p.Name)
		if len(p.Conffiles) > 0 {
			status.WriteString("Conffiles:\n")
			for _, c := range p.Conffiles {
				d, _ := lookup(c)
				s := md5.Sum([]byte(d))
				fmt.Fprintf(&status, " %s %s\n", c, hex.EncodeToString(s[:]))
			}
		}
		fmt.Fprintf(&status, "Description: %s\n\n", p.Name)
	}
	return append(out, Entry{Path: "/var/lib/dpkg/status", Data: status.String()})
}

// AuthorizedKey returns a syntactically valid ssh-ed25519 authorized_keys
// line whose key is derived from seed (deterministic, never a real key).
func AuthorizedKey(seed, comment string) string {
	s := sha256.Sum256([]byte(seed))
	pub := ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
	var blob []byte
	blob = binary.BigEndian.AppendUint32(blob, uint32(len("ssh-ed25519")))
	blob = append(blob, "ssh-ed25519"...)
	blob = binary.BigEndian.AppendUint32(blob, uint32(len(pub)))
	blob = append(blob, pub...)
	line := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob)
	if comment != "" {
		line += " " + comment
	}
	return line
}

//go:embed all:stock
var stock embed.FS

// fromStock loads stock/<name>/** as entries.
func fromStock(name string) Tree {
	var t Tree
	base := "stock/" + name
	_ = fs.WalkDir(stock, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := stock.ReadFile(p)
		if err != nil {
			return err
		}
		t = append(t, Entry{Path: strings.TrimPrefix(p, base)})
		t[len(t)-1].Data = string(b)
		return nil
	})
	return t
}

// FakeELF is the start of an x86-64 ELF executable followed by marker
// text: enough for magic-number checks, never runnable.
func FakeELF(marker string) string {
	return "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00" + marker
}
