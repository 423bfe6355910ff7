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

	"golang.org/x/sys/unix"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Root overrides the manifest's root (the volume is mounted elsewhere
	// now).
	Root string
	// Key checks the manifest's HMAC; default: the key in
	// DefaultKeyFile.
	Key []byte
	// Force restores edited files even when they changed after Apply.
	Force bool
	// RunReloads runs the manifest's reloads after restoring, on the live
	// root only (ErrNotLive elsewhere, before anything is restored).
	RunReloads bool
	Run        func(ctx context.Context, argv []string) error // default os/exec
	Logger     *slog.Logger
}

// RestoreResult lists what Restore put back.
type RestoreResult struct {
	Restored     []string `json:"restored"`          // paths inside the root, in restore order
	Reloads      []Reload `json:"reloads,omitempty"` // to run on a live root so services see the old files
	ReloadErrors []string `json:"reload_errors,omitempty"`
}

// ReadManifest reads a quarantine manifest and checks it with the key in
// DefaultKeyFile (see ReadManifestKey).
func ReadManifest(manifestPath string) (*Manifest, error) {
	return ReadManifestKey(manifestPath, nil)
}

// ReadManifestKey reads a quarantine manifest and checks its HMAC with
// key (nil: the key in DefaultKeyFile): a manifest forged or edited on
// the host, or unauthenticated, is ErrBadManifest.
func ReadManifestKey(manifestPath string, key []byte) (*Manifest, error) {
	fh, err := os.OpenFile(manifestPath, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	defer fh.Close()
	b, err := rootfs.ReadAll(fh, manifestPath, 256<<20)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	k, err := manifestKey(key, "", false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	m, err := openManifest(b, k, manifestPath)
	if err != nil {
		return nil, err
	}
	if m.Version != 2 {
		return nil, fmt.Errorf("%w: version %d", ErrBadManifest, m.Version)
	}
	for _, e := range m.Entries {
		if e.Path == "" || e.Path[0] != '/' || path.Clean(e.Path) != e.Path {
			return nil, fmt.Errorf("%w: entry %d: bad path %q", ErrBadManifest, e.Seq, e.Path)
		}
	}
	return m, nil
}

// Restore undoes an Apply: in reverse order, every quarantined file and
// link goes back with its contents, mode, owner, xattrs, times and inode
// flags; edited files get their original contents back; cleared flags are
// set again; parent directories get their times back. It refuses to
// overwrite something that exists (ErrExists) or an edited file that
// changed after Apply (ErrChanged, unless Force), and to act in a parent
// directory that now resolves elsewhere than at Apply (ErrChanged: a link
// planted since), and carries on with the other entries, returning every
// error joined. A manifest whose HMAC does not check with the key
// (RestoreOptions.Key or DefaultKeyFile's) is ErrBadManifest and nothing
// is restored. Files are created under a private name and renamed into
// place without replacing anything (RENAME_NOREPLACE), or swapped in for
// the edited file (RENAME_EXCHANGE); a FIFO or device found in place is
// never opened for writing.
func Restore(ctx context.Context, manifestPath string, opts RestoreOptions) (*RestoreResult, error) {
	m, err := ReadManifestKey(manifestPath, opts.Key)
	if err != nil {
		return nil, err
	}
	root := opts.Root
	if root == "" {
		root = m.Root
	}
	if opts.RunReloads && len(m.Reloads) > 0 && !isLiveRoot(root) {
		return nil, fmt.Errorf("%w: root is %s", ErrNotLive, root)
	}
	r, err := rootfs.Open(root)
	if err != nil {
		return nil, fmt.Errorf("persist: restore: %w", err)
	}
	defer r.Close()
	q, err := rootfs.OpenHostDir(filepath.Dir(manifestPath))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	defer q.Close()
	res := &RestoreResult{Reloads: m.Reloads}
	var errs []error
	// Directories Apply made immutable again: writable while their
	// entries go back (their own entry sets the flags last).
	for _, e := range m.Entries {
		if e.Op == OpClearFlags && e.SetBack {
			if err := clearAgain(r, e); err != nil {
				errs = append(errs, fmt.Errorf("persist: restore: clear flags of %s: %w", e.Path, err))
			}
		}
	}
	for i := len(m.Entries) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e := m.Entries[i]
		if e.Op == OpStopContainer && e.Stored == "" {
			// Stopped through docker on the live root.
			err := fmt.Errorf("%w: the container was stopped on the live root, and this root is %s", ErrNotLive, root)
			if isLiveRoot(root) {
				err = restoreContainerLive(ctx, e, opts.Run, restoreLog(opts.Logger))
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("persist: restore %s %s: %w", e.Op, e.Path, err))
				continue
			}
			res.Restored = append(res.Restored, e.Path)
			continue
		}
		if err := restoreEntry(r, q, e, opts.Force); err != nil {
			errs = append(errs, fmt.Errorf("persist: restore %s %s: %w", e.Op, e.Path, err))
			continue
		}
		res.Restored = append(res.Restored, e.Path)
	}
	// Parent directory times last, earliest record winning.
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := m.Entries[i]
		if !e.ParentMtime.IsZero() {
			if d, _, err := r.OpenParentDir(e.Path); err == nil {
				if e.Dir == "" || d.Rel == e.Dir {
					_ = rootfs.Futimes(d.File(), e.ParentAtime, e.ParentMtime)
				}
				d.Close()
			}
		}
	}
	if opts.RunReloads && len(m.Reloads) > 0 {
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		res.ReloadErrors = runReloads(ctx, m.Reloads, opts.Run, log)
	}
	return res, errors.Join(errs...)
}

func restoreEntry(r *rootfs.FS, q *rootfs.Dir, e Entry, force bool) error {
	d, base, err := r.OpenParentDir(e.Path)
	if err != nil {
		return changed(err)
	}
	defer d.Close()
	if e.Dir != "" && d.Rel != e.Dir {
		return fmt.Errorf("%w: the parent directory now resolves to %s, was %s at Apply (a link planted since?)", ErrChanged, rootfs.Abs(d.Rel), rootfs.Abs(e.Dir))
	}
	switch e.Op {
	case OpClearFlags:
		fh, done, err := openAt(d, base, e.Type)
		if err != nil {
			return err
		}
		defer done()
		// Entries inside it are back by now (reverse order): give the
		// directory its times before it becomes immutable again.
		if e.Type == "dir" {
			if err := rootfs.Futimes(fh, e.Atime, e.Mtime); err != nil {
				return err
			}
		}
		return restoreFlagsFD(fh, &e)
	case OpUnlink:
		if _, err := d.Lstat(base); err == nil {
			return ErrExists
		}
		tmp := rootfs.TempName("restore")
		if err := d.Symlink(e.LinkTarget, tmp); err != nil {
			return err
		}
		if err := d.Lchown(tmp, e.UID, e.GID); err != nil && os.Geteuid() == 0 {
			_ = d.Unlink(tmp)
			return err
		}
		if err := d.Lutimes(tmp, e.Atime, e.Mtime); err != nil {
			_ = d.Unlink(tmp)
			return err
		}
		if err := d.Rename(tmp, d, base, unix.RENAME_NOREPLACE); err != nil {
			_ = d.Unlink(tmp)
			if errors.Is(err, fs.ErrExist) {
				return ErrExists
			}
			return err
		}
		return d.Sync()
	case OpQuarantine:
		if _, err := d.Lstat(base); err == nil {
			return ErrExists
		}
		tmp, w, err := restoreCopy(d, q, e)
		if err != nil {
			return err
		}
		defer w.Close()
		if err := d.Rename(tmp, d, base, unix.RENAME_NOREPLACE); err != nil {
			_ = d.Unlink(tmp)
			if errors.Is(err, fs.ErrExist) {
				return ErrExists
			}
			return err
		}
		if err := restoreFlagsFD(w, &e); err != nil {
			return err
		}
		return d.Sync()
	case OpRemoveLines, OpStopContainer:
		cur, err := d.OpenRegular(base)
		if err != nil {
			if errors.Is(err, rootfs.ErrNotRegular) {
				return fmt.Errorf("%w: %w", ErrChanged, err)
			}
			return err
		}
		defer cur.Close()
		ci, err := cur.Stat()
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(h, cur); err != nil {
			return err
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != e.AfterSHA256 && !force {
			return fmt.Errorf("%w: now sha256 %s, Apply left %s (Force restores anyway)", ErrChanged, sum, e.AfterSHA256)
		}
		tmp, w, err := restoreCopy(d, q, e)
		if err != nil {
			return err
		}
		defer w.Close()
		var cleared Entry
		if err := clearFlagsFD(cur, &cleared); err != nil {
			_ = d.Unlink(tmp)
			return err
		}
		if err := replace(d, tmp, base, ci); err != nil {
			_ = restoreFlagsFD(cur, &cleared)
			_ = d.Unlink(tmp)
			return changed(err)
		}
		if err := restoreFlagsFD(w, &e); err != nil {
			return err
		}
		return d.Sync()
	}
	return fmt.Errorf("%w: unknown op %q", ErrBadManifest, e.Op)
}

func restoreLog(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// clearAgain clears the +i/+a flags Apply set back on e's directory.
func clearAgain(r *rootfs.FS, e Entry) error {
	d, base, err := r.OpenParentDir(e.Path)
	if err != nil {
		return changed(err)
	}
	defer d.Close()
	if e.Dir != "" && d.Rel != e.Dir {
		return fmt.Errorf("%w: the parent directory now resolves to %s, was %s at Apply", ErrChanged, rootfs.Abs(d.Rel), rootfs.Abs(e.Dir))
	}
	fh, done, err := openAt(d, base, e.Type)
	if err != nil {
		return err
	}
	defer done()
	var cleared Entry
	return clearFlagsFD(fh, &cleared)
}

// restoreCopy writes the stored copy of e into a new file in d with e's
// owner, mode, xattrs and times, fsynced, and returns its name and the
// open file (for the flags, set once it has its name).
func restoreCopy(d, q *rootfs.Dir, e Entry) (string, *os.File, error) {
	src, err := openStored(q, e.Stored)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	tmp := rootfs.TempName("restore")
	w, err := d.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, *os.File, error) {
		w.Close()
		_ = d.Unlink(tmp)
		return "", nil, err
	}
	h := sha256.New()
	if _, _, err := rootfs.CopySparse(w, src, 0, h); err != nil {
		return fail(err)
	}
	if hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fail(fmt.Errorf("%w: stored copy %s does not match its sha256", ErrBadManifest, e.Stored))
	}
	if err := writeFile(w, bytes.NewReader(nil), &e); err != nil {
		return fail(err)
	}
	if err := rootfs.Futimes(w, e.Atime, e.Mtime); err != nil {
		return fail(err)
	}
	if err := w.Sync(); err != nil {
		return fail(err)
	}
	return tmp, w, nil
}

// openStored opens a stored copy ("files/NNNN") in the quarantine as a
// regular file, never through a link.
func openStored(q *rootfs.Dir, stored string) (*os.File, error) {
	dir, name, ok := strings.Cut(stored, "/")
	if stored == "" || !ok || dir != "files" || name == "" || strings.ContainsRune(name, '/') || name == ".." || name == "." {
		return nil, fmt.Errorf("%w: bad stored name %q", ErrBadManifest, stored)
	}
	files, err := q.OpenDirAt("files")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	defer files.Close()
	fh, err := files.OpenRegular(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	return fh, nil
}
