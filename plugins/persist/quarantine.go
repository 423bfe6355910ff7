package persist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"golang.org/x/sys/unix"
)

// How Apply and Restore act on a hostile root. Every change is made
// relative to the parent directory held open (rootfs.Dir: openat2 with
// RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), never by re-walking a path
// between a check and the action:
//
//   - a file or link is removed by RemoveExact (renamed aside, its inode
//     checked against the one copied, then unlinked);
//   - a file whose lines are removed is replaced, not rewritten: a new
//     file with the same owner, mode, xattrs (ACLs are xattrs) is written
//     and fsynced next to it, the old one's content is read again under
//     the same open file, and the new one takes its name by
//     renameat2(RENAME_EXCHANGE), the directory fsynced. Readers never see
//     a half-written file, a hard link is never written through (the
//     other names keep the old content: the entry says so), and what was
//     appended meanwhile is either refused (ErrChanged) or kept (Late);
//   - flags cleared for a rewrite (chattr +i/+a) are set again on the
//     new file;
//   - every file is opened O_NONBLOCK|O_NOFOLLOW and its type checked on
//     the open file, so a FIFO or device swapped in neither blocks nor is
//     written;
//   - quarantine copies keep holes (SEEK_DATA/SEEK_HOLE), are bounded by
//     ApplyOptions.MaxCopy, made once per inode, and Apply checks the
//     free space of the quarantine's file system before it starts;
//   - the manifest is written to a new file, fsynced, renamed and the
//     directory fsynced, every time.

// DefaultMaxCopy is ApplyOptions.MaxCopy's default: 1 GiB of data per
// file.
const DefaultMaxCopy = 1 << 30

// maxLineFile bounds a file whose lines are removed (read whole).
const maxLineFile = 64 << 20

// ErrQuarantineUnsafe is returned (wrapped) when the quarantine directory
// cannot be made safely: its base is reached through a link, is not a
// directory, or is writable by others.
var ErrQuarantineUnsafe = errors.New("persist: quarantine directory is not safe")

// ErrNoSpace is returned (wrapped) when the quarantine's file system has
// not the room for what the plan would copy; nothing was changed.
var ErrNoSpace = errors.New("persist: not enough free space for the quarantine")

// openQuarantine creates a fresh quarantine directory (mode 0700) and
// holds it open. Inside the root (no dir given), every component of
// DefaultQuarantineBase is opened without following links and created
// 0700 when missing; an existing one must be a directory owned by this
// user and not writable by others. The fresh directory itself must not
// exist.
//
// It returns the quarantine directory, and a function to call when done
// with it that releases the base directory held open, first removing the
// quarantine directory through it when remove is true (it must be empty).
func openQuarantine(r *rootfs.FS, dir, incident string) (*rootfs.Dir, func(remove bool), error) {
	name := time.Now().UTC().Format("20060102T150405Z") + "-" + randHex(4)
	if incident != "" {
		name = safeName(incident) + "-" + name
	}
	var base *rootfs.Dir
	var host string
	if dir == "" {
		d, err := r.OpenDir(".")
		if err != nil {
			return nil, nil, fmt.Errorf("persist: quarantine: %w", err)
		}
		for _, c := range strings.Split(rootfs.Rel(DefaultQuarantineBase), "/") {
			next, err := d.OpenDirAt(c)
			if errors.Is(err, fs.ErrNotExist) {
				if err = d.Mkdir(c, 0o700); err == nil {
					err = d.Sync()
				}
				if err == nil || errors.Is(err, fs.ErrExist) {
					next, err = d.OpenDirAt(c)
				}
			}
			d.Close()
			if err != nil {
				if errors.Is(err, rootfs.ErrPathChanged) {
					return nil, nil, fmt.Errorf("%w: %s/%s is a link or not a directory: %w", ErrQuarantineUnsafe, rootfs.Abs(d.Rel), c, err)
				}
				return nil, nil, fmt.Errorf("persist: quarantine: %w", err)
			}
			d = next
			if err := safeDir(d); err != nil {
				d.Close()
				return nil, nil, err
			}
		}
		base, host = d, filepath.Join(r.Dir(), filepath.FromSlash(d.Rel))
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("persist: quarantine: %w", err)
		}
		d, err := rootfs.OpenHostDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("persist: quarantine: %w", err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		base, host = d, abs
	}
	if err := base.Mkdir(name, 0o700); err != nil {
		base.Close()
		return nil, nil, fmt.Errorf("%w: %w", ErrQuarantineUnsafe, err)
	}
	q, err := base.OpenDirAt(name)
	if err == nil {
		err = base.Sync()
	}
	if err != nil {
		_ = base.Rmdir(name)
		base.Close()
		if q != nil {
			q.Close()
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrQuarantineUnsafe, err)
	}
	q.Rel = filepath.Join(host, name)
	done := func(remove bool) {
		if remove {
			_ = base.Rmdir(name)
		}
		base.Close()
	}
	return q, done, nil
}

// safeDir refuses a quarantine base directory someone else could change
// (another owner, or group/other write permission).
func safeDir(d *rootfs.Dir) error {
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	uid, _ := rootfs.Owner(fi)
	if uid != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is owned by uid %d with mode %s", ErrQuarantineUnsafe, rootfs.Abs(d.Rel), uid, fi.Mode().Perm())
	}
	return nil
}

// checkSpace refuses a plan whose copies would not fit on the
// quarantine's file system (with 16 MiB to spare).
func checkSpace(r *rootfs.FS, q *rootfs.Dir, plan *CleanPlan) error {
	var need int64 = 16 << 20
	for _, c := range plan.Changes {
		if c.Op != OpQuarantine && c.Op != OpRemoveLines {
			continue
		}
		if fi, err := r.Lstat(c.Path); err == nil && fi.Mode().IsRegular() {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				need += st.Blocks * 512
			}
		}
	}
	avail, err := statfsAvail(q)
	if err != nil {
		return fmt.Errorf("persist: quarantine: statfs: %w", err)
	}
	if avail < need {
		return fmt.Errorf("%w: %s has %d bytes free, the plan needs %d", ErrNoSpace, q.Rel, avail, need)
	}
	return nil
}

// statfsAvail is the space available to this user on d's file system
// (a variable for tests).
var statfsAvail = func(d *rootfs.Dir) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(d.File().Fd()), &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

type storedCopy struct{ name, sum string }

type applier struct {
	ctx    context.Context
	fs     *rootfs.FS
	q      *rootfs.Dir
	files  *rootfs.Dir // q/files, made on first use
	log    *slog.Logger
	m      *Manifest
	max    int64
	key    []byte                   // authenticates the manifest
	stored map[[2]uint64]storedCopy // by device and inode: each copied once
	// setBackWanted: entries (by Seq) whose flags Apply sets again at the
	// end (Change.SetBack).
	setBackWanted map[int]bool
	seq           int // last Seq given
	run           func(context.Context, []string) error
	live          bool // the plan's root is this host's "/"
}

func (a *applier) close() {
	if a.files != nil {
		a.files.Close()
	}
}

// save writes the manifest durably: a new file, fsynced, renamed over the
// old one, the directory fsynced.
func (a *applier) save() error {
	b, err := sealManifest(a.m, a.key)
	if err != nil {
		return err
	}
	if err := writeDurable(a.q, ManifestName, b); err != nil {
		return fmt.Errorf("persist: write manifest: %w", err)
	}
	return nil
}

func writeDurable(d *rootfs.Dir, name string, data []byte) error {
	tmp := name + ".tmp"
	fh, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	if err := d.Rename(tmp, d, name, 0); err != nil {
		return err
	}
	return d.Sync()
}

// record appends e to the manifest and saves it; unrecord backs it out.
func (a *applier) record(e *Entry) error {
	a.m.Entries = append(a.m.Entries, *e)
	return a.save()
}

func (a *applier) unrecord() {
	a.m.Entries = a.m.Entries[:len(a.m.Entries)-1]
	_ = a.save()
}

// nextSeq numbers entries (and their stored copies) uniquely, also after
// entries were backed out of the manifest.
func (a *applier) nextSeq() int {
	a.seq++
	if n := len(a.m.Entries) + 1; a.seq < n {
		a.seq = n
	}
	return a.seq
}

// meta fills an entry from a FileInfo.
func meta(e *Entry, fi fs.FileInfo) {
	e.Size = fi.Size()
	e.Mode = uint32(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
	e.ModeString = fi.Mode().String()
	e.UID, e.GID = rootfs.Owner(fi)
	e.Atime, e.Mtime = rootfs.Times(fi)
	e.Nlink = rootfs.Nlink(fi)
}

// changed turns "the tree moved under us" into ErrChanged.
func changed(err error) error {
	if errors.Is(err, rootfs.ErrPathChanged) && !errors.Is(err, ErrChanged) {
		return fmt.Errorf("%w: %w", ErrChanged, err)
	}
	return err
}

func (a *applier) apply(c Change) error {
	e := Entry{Seq: a.nextSeq(), Op: c.Op, Path: c.Path, Severity: c.Severity, Reasons: c.Reasons, Set: c.Set}
	d, base, err := a.fs.OpenParentDir(c.Path)
	if err != nil {
		return changed(err)
	}
	defer d.Close()
	if c.Dir != "" && d.Rel != c.Dir {
		return fmt.Errorf("%w: the parent directory now resolves to %s, planned %s", ErrChanged, rootfs.Abs(d.Rel), rootfs.Abs(c.Dir))
	}
	e.Dir = d.Rel
	li, err := d.Lstat(base)
	if err != nil {
		return err
	}
	if pi, err := d.Stat(); err == nil {
		e.ParentAtime, e.ParentMtime = rootfs.Times(pi)
	}
	meta(&e, li)
	switch {
	case li.Mode()&fs.ModeSymlink != 0:
		e.Type = "symlink"
	case li.IsDir():
		e.Type = "dir"
	case li.Mode().IsRegular():
		e.Type = "file"
	default:
		return fmt.Errorf("not a regular file, link or directory: %w", fs.ErrInvalid)
	}
	switch c.Op {
	case OpClearFlags:
		return a.clearFlags(&e, d, base, c)
	case OpUnlink:
		return a.unlink(&e, d, base, c, li)
	case OpQuarantine:
		if e.Type == "symlink" {
			e.Op = OpUnlink
			return a.unlink(&e, d, base, c, li)
		}
		if e.Type != "file" {
			return fmt.Errorf("only files are quarantined: %w", fs.ErrInvalid)
		}
		return a.quarantine(&e, d, base, c, li)
	case OpRemoveLines:
		if e.Type != "file" {
			return fmt.Errorf("lines are removed from files only: %w", fs.ErrInvalid)
		}
		return a.removeLines(&e, d, base, c, li)
	case OpStopContainer:
		if a.live {
			return a.stopLive(&e, c)
		}
		if e.Type != "file" || len(c.Lines) == 0 {
			return fmt.Errorf("a container's hostconfig.json is edited on an offline root only: %w", fs.ErrInvalid)
		}
		e.Container = c.Container
		return a.removeLines(&e, d, base, c, li)
	}
	return fmt.Errorf("unknown op %q", c.Op)
}

// clearFlagsFD clears chattr +i/+a on an open file, recording the old
// value.
func clearFlagsFD(fh *os.File, e *Entry) error {
	fl, err := rootfs.Flags(fh)
	if err != nil {
		if errors.Is(err, rootfs.ErrFlagsUnsupported) {
			return nil
		}
		return err
	}
	e.Flags = fl
	if fl&(rootfs.FlagImmutable|rootfs.FlagAppend) != 0 {
		return rootfs.SetFlags(fh, fl&^(rootfs.FlagImmutable|rootfs.FlagAppend))
	}
	return nil
}

// restoreFlagsFD sets the +i/+a flags recorded in e on fh again (on the
// file Apply backs out of, or on the file that replaced it).
func restoreFlagsFD(fh *os.File, e *Entry) error {
	want := e.Flags & (rootfs.FlagImmutable | rootfs.FlagAppend)
	if want == 0 {
		return nil
	}
	cur, err := rootfs.Flags(fh)
	if err != nil {
		return err
	}
	return rootfs.SetFlags(fh, cur|want)
}

// openAt opens name in d as a regular file or (typ "dir") a directory,
// never following a link, non-blocking, type checked on the open file.
func openAt(d *rootfs.Dir, name, typ string) (*os.File, func(), error) {
	if typ == "dir" {
		sub, err := d.OpenDirAt(name)
		if err != nil {
			return nil, nil, changed(err)
		}
		return sub.File(), func() { sub.Close() }, nil
	}
	fh, err := d.OpenRegular(name)
	if err != nil {
		if errors.Is(err, rootfs.ErrNotRegular) {
			return nil, nil, fmt.Errorf("%w: %w", ErrChanged, err)
		}
		return nil, nil, err
	}
	return fh, func() { fh.Close() }, nil
}

// setBack sets again the flags of the directories cleared only for the
// changes in them, and records it.
func (a *applier) setBack() error {
	dirty := false
	for i := range a.m.Entries {
		e := &a.m.Entries[i]
		if e.Op != OpClearFlags || !a.setBackWanted[e.Seq] || e.Flags&(rootfs.FlagImmutable|rootfs.FlagAppend) == 0 {
			continue
		}
		d, base, err := a.fs.OpenParentDir(e.Path)
		if err != nil {
			return changed(err)
		}
		if d.Rel != e.Dir {
			d.Close()
			return fmt.Errorf("%w: %s: the parent now resolves to %s", ErrChanged, e.Path, rootfs.Abs(d.Rel))
		}
		fh, done, err := openAt(d, base, e.Type)
		if err != nil {
			d.Close()
			return err
		}
		err = restoreFlagsFD(fh, e)
		done()
		d.Close()
		if err != nil {
			return fmt.Errorf("persist: set flags of %s again: %w", e.Path, err)
		}
		e.SetBack, dirty = true, true
	}
	if dirty {
		return a.save()
	}
	return nil
}

func (a *applier) clearFlags(e *Entry, d *rootfs.Dir, base string, c Change) error {
	if e.Type == "symlink" {
		return fmt.Errorf("flags of a symbolic link: %w", fs.ErrInvalid)
	}
	fh, done, err := openAt(d, base, e.Type)
	if err != nil {
		return err
	}
	defer done()
	if err := clearFlagsFD(fh, e); err != nil {
		return err
	}
	if c.SetBack {
		if a.setBackWanted == nil {
			a.setBackWanted = map[int]bool{}
		}
		a.setBackWanted[e.Seq] = true
	}
	return a.record(e)
}

func (a *applier) unlink(e *Entry, d *rootfs.Dir, base string, c Change, li fs.FileInfo) error {
	if e.Type != "symlink" {
		return fmt.Errorf("%w: expected a symbolic link", ErrChanged)
	}
	t, err := d.Readlink(base)
	if err != nil {
		return err
	}
	e.LinkTarget = t
	e.SHA256 = hashString(t)
	if c.SHA256 != "" && c.SHA256 != e.SHA256 {
		return fmt.Errorf("%w: link now points to %s", ErrChanged, t)
	}
	if err := a.record(e); err != nil {
		return err
	}
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(path.Join(d.Rel, base))
	}
	if err := d.RemoveExact(base, li); err != nil {
		a.unrecord()
		return changed(err)
	}
	return d.Sync()
}

// testHookBeforeSwap runs, in tests only, between Apply's copy of a file
// (or its check of a link) and its removal or replacement.
var testHookBeforeSwap func(rel string)

// testHookAfterSwap runs, in tests only, right after a rewritten file
// took the old one's name.
var testHookAfterSwap func(rel string)

// filesDir opens (making it on first use) the quarantine's files/.
func (a *applier) filesDir() (*rootfs.Dir, error) {
	if a.files != nil {
		return a.files, nil
	}
	if err := a.q.Mkdir("files", 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	d, err := a.q.OpenDirAt("files")
	if err != nil {
		return nil, err
	}
	if err := a.q.Sync(); err != nil {
		d.Close()
		return nil, err
	}
	a.files = d
	return d, nil
}

// store copies the open file fh into the quarantine (holes kept, at most
// a.max bytes of data, each inode once), returning the stored name and
// the SHA-256 of the content.
func (a *applier) store(fh *os.File, fi fs.FileInfo, seq int, suffix string) (string, string, error) {
	var key [2]uint64
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && suffix == "" {
		key = [2]uint64{st.Dev, st.Ino}
		if s, ok := a.stored[key]; ok {
			return s.name, s.sum, nil
		}
		if st.Blocks*512 > a.max+1<<20 {
			return "", "", fmt.Errorf("%w: %d bytes allocated, quarantine limit %d (ApplyOptions.MaxCopy)", rootfs.ErrTooLarge, st.Blocks*512, a.max)
		}
	}
	files, err := a.filesDir()
	if err != nil {
		return "", "", err
	}
	base := fmt.Sprintf("%04d%s", seq, suffix)
	out, err := files.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	if _, _, err := rootfs.CopySparse(out, fh, a.max, h); err != nil {
		out.Close()
		_ = files.Unlink(base)
		return "", "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", "", err
	}
	if err := out.Close(); err != nil {
		return "", "", err
	}
	if err := files.Sync(); err != nil {
		return "", "", err
	}
	sc := storedCopy{"files/" + base, hex.EncodeToString(h.Sum(nil))}
	if ok && suffix == "" {
		a.stored[key] = sc
	}
	return sc.name, sc.sum, nil
}

// unstore removes a copy Apply backs out of (unless another entry shares
// it).
func (a *applier) unstore(name string) {
	for k, s := range a.stored {
		if s.name == name {
			delete(a.stored, k)
		}
	}
	if a.files != nil {
		_ = a.files.Unlink(strings.TrimPrefix(name, "files/"))
	}
}

// openSame opens name in d as a regular file and checks it is the file
// li described (no swap between the lstat and the open).
func openSame(d *rootfs.Dir, name string, li fs.FileInfo) (*os.File, fs.FileInfo, error) {
	fh, _, err := openAt(d, name, "file")
	if err != nil {
		return nil, nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	if !rootfs.SameFile(fi, li) {
		fh.Close()
		return nil, nil, fmt.Errorf("%w: replaced while being opened", ErrChanged)
	}
	return fh, fi, nil
}

func (a *applier) quarantine(e *Entry, d *rootfs.Dir, base string, c Change, li fs.FileInfo) error {
	fh, fi, err := openSame(d, base, li)
	if err != nil {
		return err
	}
	defer fh.Close()
	meta(e, fi)
	if e.Nlink > 1 {
		e.Reasons = append(append([]string{}, e.Reasons...), fmt.Sprintf("warning: %d hard links; the other names keep this content (find them by inode)", e.Nlink))
	}
	if e.Xattrs, err = rootfs.Xattrs(fh); err != nil {
		return err
	}
	shared := len(a.stored)
	stored, sum, err := a.store(fh, fi, e.Seq, "")
	if err != nil {
		return err
	}
	fresh := len(a.stored) > shared
	e.Stored, e.SHA256 = stored, sum
	backOut := func(err error) error {
		if fresh {
			a.unstore(stored)
		}
		return err
	}
	if c.SHA256 != "" && c.SHA256 != sum {
		return backOut(fmt.Errorf("%w: sha256 %s, planned %s", ErrChanged, sum, c.SHA256))
	}
	if err := clearFlagsFD(fh, e); err != nil {
		return backOut(err)
	}
	if err := a.record(e); err != nil {
		_ = restoreFlagsFD(fh, e)
		return backOut(err)
	}
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(path.Join(d.Rel, base))
	}
	// The name is removed only if it still names the file copied: the
	// malware, still running, may have put another file there.
	if err := d.RemoveExact(base, fi); err != nil {
		a.unrecord()
		_ = restoreFlagsFD(fh, e)
		return backOut(changed(err))
	}
	return d.Sync()
}

// readWhole reads an open regular file from offset 0, at most max bytes.
func readWhole(fh *os.File, max int64) ([]byte, error) {
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return rootfs.ReadAll(fh, fh.Name(), max)
}

func (a *applier) removeLines(e *Entry, d *rootfs.Dir, base string, c Change, li fs.FileInfo) error {
	fh, fi, err := openSame(d, base, li)
	if err != nil {
		return err
	}
	defer fh.Close()
	meta(e, fi)
	orig, err := readWhole(fh, maxLineFile)
	if err != nil {
		return err
	}
	if e.Xattrs, err = rootfs.Xattrs(fh); err != nil {
		return err
	}
	if c.SHA256 != "" && hashString(string(orig)) != c.SHA256 {
		return fmt.Errorf("%w: sha256 %s, planned %s", ErrChanged, hashString(string(orig)), c.SHA256)
	}
	after, removed, err := dropLines(orig, c.Lines)
	if err != nil {
		return err
	}
	stored, sum, err := a.storeBytes(orig, e.Seq, "")
	if err != nil {
		return err
	}
	e.Stored, e.SHA256 = stored, sum
	e.RemovedLines = removed
	e.AfterSHA256 = hashString(string(after))
	if e.Nlink > 1 {
		e.Reasons = append(append([]string{}, e.Reasons...), fmt.Sprintf("warning: %d hard links; replaced under this name only, the other names keep the old content (find them by inode)", e.Nlink))
	}
	tmp := rootfs.TempName("new")
	w, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		a.unstore(stored)
		return err
	}
	defer w.Close()
	backOut := func(err error) error {
		_ = d.Unlink(tmp)
		a.unstore(stored)
		return err
	}
	if err := writeFile(w, bytes.NewReader(after), e); err != nil {
		return backOut(err)
	}
	// Replacing a file needs it mutable (and the directory writable).
	if err := clearFlagsFD(fh, e); err != nil {
		return backOut(err)
	}
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(path.Join(d.Rel, base))
	}
	// Whatever was written to the file since it was copied would be lost
	// with it: read it again under the same open file.
	if now, err := readWhole(fh, maxLineFile); err != nil || !bytes.Equal(now, orig) {
		_ = restoreFlagsFD(fh, e)
		if err == nil {
			err = fmt.Errorf("%w: written to while being cleaned (%d bytes, copied %d); left as it is", ErrChanged, len(now), len(orig))
		}
		return backOut(err)
	}
	// Record before replacing: a crash leaves the manifest pointing at
	// the complete original.
	if err := a.record(e); err != nil {
		_ = restoreFlagsFD(fh, e)
		return backOut(err)
	}
	if err := replace(d, tmp, base, fi); err != nil {
		a.unrecord()
		_ = restoreFlagsFD(fh, e)
		return backOut(changed(err))
	}
	if c.KeepFlagsCleared {
		// A finding asked for the flags to go: they stay cleared.
	} else if err := restoreFlagsFD(w, e); err != nil {
		a.log.Warn("persist: apply: flags not set back on the cleaned file", "path", e.Path, "err", err)
	}
	if err := d.Sync(); err != nil {
		return err
	}
	if testHookAfterSwap != nil {
		testHookAfterSwap(path.Join(d.Rel, base))
	}
	// A writer that opened the old file before the rename may still have
	// written to it: keep what it wrote.
	if late, err := readWhole(fh, maxLineFile); err == nil && !bytes.Equal(late, orig) {
		name, _, serr := a.storeBytes(late, e.Seq, ".late")
		if serr != nil {
			return fmt.Errorf("%w: written to while being replaced, and the late content could not be kept: %w", ErrChanged, serr)
		}
		a.m.Entries[len(a.m.Entries)-1].Late = name
		if err := a.save(); err != nil {
			return err
		}
		a.log.Warn("persist: apply: file written to while being replaced; its late content is kept", "path", e.Path, "stored", name)
	}
	return nil
}

// storeBytes keeps data in the quarantine as files/<seq><suffix>.
func (a *applier) storeBytes(data []byte, seq int, suffix string) (string, string, error) {
	files, err := a.filesDir()
	if err != nil {
		return "", "", err
	}
	base := fmt.Sprintf("%04d%s", seq, suffix)
	out, err := files.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", "", err
	}
	_, werr := out.Write(data)
	if werr == nil {
		werr = out.Sync()
	}
	if cerr := out.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = files.Sync()
	}
	if werr != nil {
		_ = files.Unlink(base)
		return "", "", werr
	}
	return "files/" + base, hashString(string(data)), nil
}

// writeFile fills a new file with content and gives it e's owner, mode
// and xattrs (ACLs included: system.posix_acl_*), then fsyncs it.
func writeFile(w *os.File, content io.Reader, e *Entry) error {
	if f, ok := content.(*os.File); ok {
		if _, _, err := rootfs.CopySparse(w, f, 0, nil); err != nil {
			return err
		}
	} else if _, err := io.Copy(w, content); err != nil {
		return err
	}
	if err := w.Chown(e.UID, e.GID); err != nil && os.Geteuid() == 0 {
		return err
	}
	// Chmod after chown: chown clears setuid/setgid bits.
	if err := w.Chmod(fs.FileMode(e.Mode)); err != nil {
		return err
	}
	if len(e.Xattrs) > 0 {
		if err := rootfs.SetXattrs(w, e.Xattrs); err != nil {
			return err
		}
	}
	return w.Sync()
}

// replace gives the new file tmp the name base in d, atomically, only if
// base still names the file old describes: renameat2(RENAME_EXCHANGE),
// then the old file (now at tmp) is checked and removed, or exchanged
// back when it was another file.
func replace(d *rootfs.Dir, tmp, base string, old fs.FileInfo) error {
	if err := d.Rename(tmp, d, base, unix.RENAME_EXCHANGE); err != nil {
		if !errors.Is(err, syscall.EINVAL) {
			return err
		}
		// No RENAME_EXCHANGE on this file system: check, then rename.
		now, err := d.Lstat(base)
		if err != nil {
			return err
		}
		if !rootfs.SameFile(now, old) {
			return fmt.Errorf("%w: replaced by another file while it was being copied", rootfs.ErrPathChanged)
		}
		return d.Rename(tmp, d, base, 0)
	}
	moved, err := d.Lstat(tmp)
	if err == nil && rootfs.SameFile(moved, old) {
		return d.Unlink(tmp)
	}
	if berr := d.Rename(tmp, d, base, unix.RENAME_EXCHANGE); berr != nil {
		return fmt.Errorf("%w: %s was replaced, and putting it back failed (the replacement is at %s): %w", rootfs.ErrPathChanged, base, tmp, berr)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: replaced by another file while it was being copied", rootfs.ErrPathChanged)
}
