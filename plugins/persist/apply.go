package persist

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// ManifestName is the manifest's file name inside a quarantine directory.
const ManifestName = "manifest.json"

// DefaultQuarantineBase is where Apply puts quarantine directories, inside
// the root, when ApplyOptions.QuarantineDir is empty.
const DefaultQuarantineBase = "/var/lib/abusekit/quarantine"

// Manifest records everything Apply changed, enough for Restore to put it
// back byte- and metadata-identical.
type Manifest struct {
	Version       int       `json:"version"`
	Root          string    `json:"root"` // host path of the root when applied
	Live          bool      `json:"live"`
	Created       time.Time `json:"created"`
	QuarantineDir string    `json:"quarantine_dir"` // host path
	Entries       []Entry   `json:"entries"`
	// Reloads are the plan's reloads; ReloadsRun says Apply ran them.
	// Restore needs the same ones to make services see the old files.
	Reloads    []Reload `json:"reloads,omitempty"`
	ReloadsRun bool     `json:"reloads_run,omitempty"`
}

// Entry is one change Apply made.
type Entry struct {
	Seq          int               `json:"seq"`
	Op           Op                `json:"op"`
	Path         string            `json:"path"` // inside the root
	Type         string            `json:"type"` // "file", "symlink", "dir"
	Stored       string            `json:"stored,omitempty"`
	SHA256       string            `json:"sha256,omitempty"`       // original content (file) or target (link)
	AfterSHA256  string            `json:"after_sha256,omitempty"` // remove-lines: content Apply left
	Size         int64             `json:"size"`
	Mode         uint32            `json:"mode"` // permission, setuid/setgid/sticky bits (fs.FileMode)
	ModeString   string            `json:"mode_string"`
	UID          int               `json:"uid"`
	GID          int               `json:"gid"`
	Atime        time.Time         `json:"atime"`
	Mtime        time.Time         `json:"mtime"`
	Xattrs       map[string][]byte `json:"xattrs,omitempty"`
	Flags        uint32            `json:"flags,omitempty"` // inode flags before Apply (immutable 0x10, append 0x20)
	Nlink        uint64            `json:"nlink,omitempty"`
	LinkTarget   string            `json:"link_target,omitempty"`
	RemovedLines []LineChange      `json:"removed_lines,omitempty"`
	ParentAtime  time.Time         `json:"parent_atime"`
	ParentMtime  time.Time         `json:"parent_mtime"`
	Severity     Severity          `json:"severity"`
	Reasons      []string          `json:"reasons"`
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// QuarantineDir is a host directory to create the quarantine in
	// (a fresh subdirectory is made inside it). Default: a fresh directory
	// under DefaultQuarantineBase inside the root.
	QuarantineDir string
	// RunReloads runs the plan's reloads after the changes. Only on the
	// live root "/": elsewhere Apply fails with ErrNotLive before changing
	// anything.
	RunReloads bool
	// Incident names the quarantine directory (with the time), so that a
	// responder finds it by case; default none.
	Incident string
	// Run executes a reload command; default os/exec.
	Run    func(ctx context.Context, argv []string) error
	Logger *slog.Logger
}

// Result is what Apply did.
type Result struct {
	ManifestPath string    `json:"manifest_path"`
	Manifest     *Manifest `json:"manifest"`
	ReloadErrors []string  `json:"reload_errors,omitempty"`
}

// Apply makes the plan's changes, quarantining everything it removes.
// The manifest is written after every change, so an interrupted Apply
// leaves a manifest of what it did. It stops at the first error (a file
// that changed since Plan is ErrChanged) and returns the partial Result
// with the error.
func Apply(ctx context.Context, plan *CleanPlan, opts ApplyOptions) (*Result, error) {
	if plan == nil {
		return nil, errors.New("persist: apply: nil plan")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.RunReloads && len(plan.Reloads) > 0 && !(plan.Live && isLiveRoot(plan.Root)) {
		return nil, fmt.Errorf("%w: root is %s", ErrNotLive, plan.Root)
	}
	r, err := rootfs.Open(plan.Root)
	if err != nil {
		return nil, fmt.Errorf("persist: apply: %w", err)
	}
	defer r.Close()
	q, qdir, err := openQuarantine(r, opts.QuarantineDir, opts.Incident)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	a := &applier{ctx: ctx, fs: r, q: q, log: log, m: &Manifest{Version: 1, Root: r.Dir(), Live: plan.Live,
		Created: time.Now().UTC(), QuarantineDir: qdir, Reloads: plan.Reloads}}
	res := &Result{ManifestPath: filepath.Join(qdir, ManifestName), Manifest: a.m}
	if err := a.save(); err != nil {
		return res, err
	}
	for _, c := range plan.Changes {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := a.apply(c); err != nil {
			return res, fmt.Errorf("persist: apply %s %s: %w", c.Op, c.Path, err)
		}
		if err := a.save(); err != nil {
			return res, err
		}
	}
	if opts.RunReloads && len(plan.Reloads) > 0 {
		res.ReloadErrors = runReloads(ctx, plan.Reloads, opts.Run, log)
		a.m.ReloadsRun = true
		if err := a.save(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// runReloads runs each reload, collecting failures (a failed reload does
// not undo the files already changed).
func runReloads(ctx context.Context, reloads []Reload, run func(context.Context, []string) error, log *slog.Logger) []string {
	if run == nil {
		run = func(ctx context.Context, argv []string) error {
			out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
			}
			return nil
		}
	}
	var errs []string
	for _, rl := range reloads {
		if err := run(ctx, rl.Command); err != nil {
			errs = append(errs, err.Error())
			log.Warn("persist: reload failed", "command", rl.Command, "err", err)
		}
	}
	return errs
}

func openQuarantine(r *rootfs.FS, dir, incident string) (*os.Root, string, error) {
	name := time.Now().UTC().Format("20060102T150405Z") + "-" + randHex(4)
	if incident != "" {
		name = safeName(incident) + "-" + name
	}
	if dir == "" {
		base := rootfs.Rel(DefaultQuarantineBase)
		rel, err := r.Resolve(base, true)
		if err != nil {
			return nil, "", fmt.Errorf("persist: quarantine: %w", err)
		}
		if err := r.Root().MkdirAll(rel, 0o700); err != nil {
			return nil, "", fmt.Errorf("persist: quarantine: %w", err)
		}
		if err := r.Root().Mkdir(rel+"/"+name, 0o700); err != nil {
			return nil, "", fmt.Errorf("persist: quarantine: %w", err)
		}
		q, err := r.Root().OpenRoot(rel + "/" + name)
		if err != nil {
			return nil, "", fmt.Errorf("persist: quarantine: %w", err)
		}
		return q, filepath.Join(r.Dir(), filepath.FromSlash(rel), name), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("persist: quarantine: %w", err)
	}
	full := filepath.Join(dir, name)
	if err := os.Mkdir(full, 0o700); err != nil {
		return nil, "", fmt.Errorf("persist: quarantine: %w", err)
	}
	q, err := os.OpenRoot(full)
	if err != nil {
		return nil, "", fmt.Errorf("persist: quarantine: %w", err)
	}
	abs, _ := filepath.Abs(full)
	return q, abs, nil
}

// safeName keeps letters, digits, dot, dash and underscore of s (an
// incident ID from a report) for use as one path component.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return strings.TrimLeft(b.String(), ".")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type applier struct {
	ctx context.Context
	fs  *rootfs.FS
	q   *os.Root
	log *slog.Logger
	m   *Manifest
}

// save writes the manifest atomically.
func (a *applier) save() error {
	b, err := json.MarshalIndent(a.m, "", "  ")
	if err != nil {
		return err
	}
	tmp := ManifestName + ".tmp"
	if err := a.q.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("persist: write manifest: %w", err)
	}
	if err := a.q.Rename(tmp, ManifestName); err != nil {
		return fmt.Errorf("persist: write manifest: %w", err)
	}
	return nil
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

func (a *applier) parentTimes(e *Entry) {
	dir := path.Dir(e.Path)
	if fi, err := a.fs.Stat(dir); err == nil {
		e.ParentAtime, e.ParentMtime = rootfs.Times(fi)
	}
}

func (a *applier) apply(c Change) error {
	e := Entry{Seq: len(a.m.Entries) + 1, Op: c.Op, Path: c.Path, Severity: c.Severity, Reasons: c.Reasons}
	rel, err := a.fs.Resolve(c.Path, false)
	if err != nil {
		return err
	}
	li, err := a.fs.Root().Lstat(rel)
	if err != nil {
		return err
	}
	a.parentTimes(&e)
	meta(&e, li)
	if e.Nlink > 1 && li.Mode().IsRegular() && c.Op == OpQuarantine {
		e.Reasons = append(append([]string{}, e.Reasons...), fmt.Sprintf("warning: %d hard links; the other names keep this content (find them by inode)", e.Nlink))
	}
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
		return a.clearFlags(&e, rel, c)
	case OpUnlink:
		return a.unlink(&e, rel, c)
	case OpQuarantine:
		if e.Type == "symlink" {
			e.Op = OpUnlink
			return a.unlink(&e, rel, c)
		}
		if e.Type != "file" {
			return fmt.Errorf("only files are quarantined: %w", fs.ErrInvalid)
		}
		return a.quarantine(&e, rel, c)
	case OpRemoveLines:
		if e.Type != "file" {
			return fmt.Errorf("lines are removed from files only: %w", fs.ErrInvalid)
		}
		return a.removeLines(&e, rel, c)
	}
	return fmt.Errorf("unknown op %q", c.Op)
}

func openFlags(op Op, typ string) int {
	if typ == "dir" {
		return os.O_RDONLY | syscall.O_DIRECTORY
	}
	if op == OpRemoveLines {
		return os.O_RDWR
	}
	return os.O_RDONLY
}

// clearFlags clears chattr +i/+a on an open file, recording the old value.
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

func (a *applier) clearFlags(e *Entry, rel string, c Change) error {
	if e.Type == "symlink" {
		return fmt.Errorf("flags of a symbolic link: %w", fs.ErrInvalid)
	}
	fh, err := a.fs.OpenRel(rel, openFlags(OpClearFlags, e.Type), 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := clearFlagsFD(fh, e); err != nil {
		return err
	}
	a.m.Entries = append(a.m.Entries, *e)
	return nil
}

func (a *applier) unlink(e *Entry, rel string, c Change) error {
	if e.Type != "symlink" {
		return fmt.Errorf("%w: expected a symbolic link", ErrChanged)
	}
	t, err := a.fs.Root().Readlink(rel)
	if err != nil {
		return err
	}
	e.LinkTarget = t
	e.SHA256 = hashString(t)
	if c.SHA256 != "" && c.SHA256 != e.SHA256 {
		return fmt.Errorf("%w: link now points to %s", ErrChanged, t)
	}
	if err := a.fs.Root().Remove(rel); err != nil {
		return err
	}
	a.m.Entries = append(a.m.Entries, *e)
	return nil
}

// store copies fh into the quarantine, returning the stored name and the
// SHA-256 of what was copied.
func (a *applier) store(fh *os.File, seq int) (string, string, error) {
	name := fmt.Sprintf("files/%04d", seq)
	if err := a.q.MkdirAll("files", 0o700); err != nil {
		return "", "", err
	}
	out, err := a.q.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o400)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		out.Close()
		return "", "", err
	}
	if _, err := io.Copy(io.MultiWriter(out, h), fh); err != nil {
		out.Close()
		return "", "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", "", err
	}
	if err := out.Close(); err != nil {
		return "", "", err
	}
	return name, hex.EncodeToString(h.Sum(nil)), nil
}

func (a *applier) quarantine(e *Entry, rel string, c Change) error {
	fh, err := a.fs.OpenRegular(rel)
	if err != nil {
		return err
	}
	defer fh.Close()
	if e.Xattrs, err = rootfs.Xattrs(fh); err != nil {
		return err
	}
	stored, sum, err := a.store(fh, e.Seq)
	if err != nil {
		return err
	}
	e.Stored, e.SHA256 = stored, sum
	if c.SHA256 != "" && c.SHA256 != sum {
		_ = a.q.Remove(stored)
		return fmt.Errorf("%w: sha256 %s, planned %s", ErrChanged, sum, c.SHA256)
	}
	if err := clearFlagsFD(fh, e); err != nil {
		return err
	}
	// The copy took a while: if the name now leads to another file (the
	// malware, still running, re-created it by rename), removing the name
	// would lose that file, never copied.
	if err := a.sameFile(rel, fh); err != nil {
		restoreFlagsFD(fh, e)
		_ = a.q.Remove(stored)
		return err
	}
	if err := a.fs.Root().Remove(rel); err != nil {
		return err
	}
	a.m.Entries = append(a.m.Entries, *e)
	return nil
}

// testHookBeforeSwap runs, in tests only, between Apply's copy of a file
// and its removal or rewrite: the window the sameFile check guards.
var testHookBeforeSwap func(rel string)

// sameFile reports ErrChanged unless rel still names the file open as fh.
func (a *applier) sameFile(rel string, fh *os.File) error {
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(rel)
	}
	held, err := fh.Stat()
	if err != nil {
		return err
	}
	now, err := a.fs.Root().Lstat(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: removed while it was being copied", ErrChanged)
		}
		return err
	}
	if !os.SameFile(held, now) {
		return fmt.Errorf("%w: replaced by another file while it was being copied", ErrChanged)
	}
	return nil
}

// restoreFlagsFD sets again the flags clearFlagsFD cleared, when Apply
// backs out of a change.
func restoreFlagsFD(fh *os.File, e *Entry) {
	if e.Flags&(rootfs.FlagImmutable|rootfs.FlagAppend) != 0 {
		_ = rootfs.SetFlags(fh, e.Flags)
	}
}

func (a *applier) removeLines(e *Entry, rel string, c Change) error {
	fh, err := a.fs.OpenRegular(rel)
	if err != nil {
		return err
	}
	defer fh.Close()
	if e.Xattrs, err = rootfs.Xattrs(fh); err != nil {
		return err
	}
	stored, sum, err := a.store(fh, e.Seq)
	if err != nil {
		return err
	}
	e.Stored, e.SHA256 = stored, sum
	backOut := func(err error) error {
		_ = a.q.Remove(stored)
		return err
	}
	if c.SHA256 != "" && c.SHA256 != sum {
		return backOut(fmt.Errorf("%w: sha256 %s, planned %s", ErrChanged, sum, c.SHA256))
	}
	orig, err := a.q.ReadFile(stored)
	if err != nil {
		return backOut(err)
	}
	after, removed, err := dropLines(orig, c.Lines)
	if err != nil {
		return backOut(err)
	}
	e.RemovedLines = removed
	e.AfterSHA256 = hashString(string(after))
	if err := clearFlagsFD(fh, e); err != nil {
		return backOut(err)
	}
	// Write through the name only if it still leads to the file copied:
	// the malware, still running, may have put another file there.
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(rel)
	}
	w, err := a.fs.OpenRel(rel, os.O_WRONLY, 0)
	if err != nil {
		restoreFlagsFD(fh, e)
		return backOut(err)
	}
	defer w.Close()
	held, err1 := fh.Stat()
	now, err2 := w.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		restoreFlagsFD(fh, e)
		return backOut(fmt.Errorf("%w: replaced by another file while it was being copied", ErrChanged))
	}
	// Record before writing: a crash mid-write still leaves the manifest
	// pointing at the complete original.
	a.m.Entries = append(a.m.Entries, *e)
	if err := a.save(); err != nil {
		return err
	}
	return writeInPlace(w, after)
}

// writeInPlace rewrites an open file's contents keeping its inode (owner,
// mode, xattrs, ACLs and hard links stay).
func writeInPlace(w *os.File, data []byte) error {
	if err := w.Truncate(0); err != nil {
		return err
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		return err
	}
	if err := w.Sync(); err != nil {
		return err
	}
	return w.Close()
}

// dropLines removes the given 1-based lines from data, checking each still
// holds the content planned; every other byte stays as it was.
func dropLines(data []byte, lines []LineChange) ([]byte, []LineChange, error) {
	drop := map[int]string{}
	for _, l := range lines {
		drop[l.Line] = l.Content
	}
	var out bytes.Buffer
	var removed []LineChange
	n := 0
	rest := data
	for len(rest) > 0 {
		n++
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i+1], rest[i+1:]
		}
		want, ok := drop[n]
		if !ok {
			out.Write(line)
			continue
		}
		got := strings.TrimSuffix(string(line), "\n")
		if long, ok := strings.CutSuffix(want, "…"); ok && len(got) > len(long) && strings.HasPrefix(got, long) {
			want = got // Find shortened a very long line
		}
		if got != want {
			return nil, nil, fmt.Errorf("%w: line %d is now %q, planned %q", ErrChanged, n, got, want)
		}
		removed = append(removed, LineChange{Line: n, Content: got})
		delete(drop, n)
	}
	for l := range drop {
		return nil, nil, fmt.Errorf("%w: line %d no longer exists", ErrChanged, l)
	}
	return out.Bytes(), removed, nil
}
