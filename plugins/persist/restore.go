package persist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Root overrides the manifest's root (the volume is mounted elsewhere
	// now).
	Root string
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

// ReadManifest reads and checks a quarantine manifest.
func ReadManifest(manifestPath string) (*Manifest, error) {
	b, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadManifest, manifestPath, err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadManifest, m.Version)
	}
	for _, e := range m.Entries {
		if e.Path == "" || e.Path[0] != '/' || path.Clean(e.Path) != e.Path {
			return nil, fmt.Errorf("%w: entry %d: bad path %q", ErrBadManifest, e.Seq, e.Path)
		}
	}
	return &m, nil
}

// Restore undoes an Apply: in reverse order, every quarantined file and
// link goes back with its contents, mode, owner, xattrs, times and inode
// flags; edited files get their original contents back; cleared flags are
// set again; parent directories get their times back. It refuses to
// overwrite something that exists (ErrExists) or an edited file that
// changed after Apply (ErrChanged, unless Force), and carries on with the
// other entries, returning every error joined.
func Restore(ctx context.Context, manifestPath string, opts RestoreOptions) (*RestoreResult, error) {
	m, err := ReadManifest(manifestPath)
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
	q, err := os.OpenRoot(filepath.Dir(manifestPath))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	defer q.Close()
	res := &RestoreResult{Reloads: m.Reloads}
	var errs []error
	for i := len(m.Entries) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e := m.Entries[i]
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
			_ = r.Lutimes(path.Dir(e.Path), e.ParentAtime, e.ParentMtime)
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

func restoreEntry(r *rootfs.FS, q *os.Root, e Entry, force bool) error {
	rel, err := r.Resolve(e.Path, false)
	if err != nil {
		return err
	}
	switch e.Op {
	case OpClearFlags:
		// Entries inside it are back by now (reverse order): give the
		// directory its times before it becomes immutable again.
		if e.Type == "dir" {
			if err := r.Lutimes(e.Path, e.Atime, e.Mtime); err != nil {
				return err
			}
		}
		return setFlags(r, rel, e)
	case OpUnlink:
		if _, err := r.Root().Lstat(rel); err == nil {
			return ErrExists
		}
		if err := r.Root().Symlink(e.LinkTarget, rel); err != nil {
			return err
		}
		if err := r.Lchown(e.Path, e.UID, e.GID); err != nil && os.Geteuid() == 0 {
			return err
		}
		return r.Lutimes(e.Path, e.Atime, e.Mtime)
	case OpQuarantine:
		if _, err := r.Root().Lstat(rel); err == nil {
			return ErrExists
		}
		data, err := readStored(q, e)
		if err != nil {
			return err
		}
		fh, err := r.OpenRel(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := writeMeta(fh, data, e); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
		if err := r.Lutimes(e.Path, e.Atime, e.Mtime); err != nil {
			return err
		}
		return setFlags(r, rel, e)
	case OpRemoveLines:
		data, err := readStored(q, e)
		if err != nil {
			return err
		}
		if li, err := r.Root().Lstat(rel); err != nil {
			return err
		} else if !li.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is no longer a regular file", ErrChanged, e.Path)
		}
		fh, err := r.OpenRel(rel, os.O_RDWR|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(h, fh); err != nil {
			fh.Close()
			return err
		}
		if cur := hex.EncodeToString(h.Sum(nil)); cur != e.AfterSHA256 && !force {
			fh.Close()
			return fmt.Errorf("%w: now sha256 %s, Apply left %s (Force restores anyway)", ErrChanged, cur, e.AfterSHA256)
		}
		if fl, err := rootfs.Flags(fh); err == nil && fl&(rootfs.FlagImmutable|rootfs.FlagAppend) != 0 {
			if err := rootfs.SetFlags(fh, fl&^(rootfs.FlagImmutable|rootfs.FlagAppend)); err != nil {
				fh.Close()
				return err
			}
		}
		if err := fh.Truncate(0); err != nil {
			fh.Close()
			return err
		}
		if err := writeMeta(fh, data, e); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
		if err := r.Lutimes(e.Path, e.Atime, e.Mtime); err != nil {
			return err
		}
		return setFlags(r, rel, e)
	}
	return fmt.Errorf("%w: unknown op %q", ErrBadManifest, e.Op)
}

func readStored(q *os.Root, e Entry) ([]byte, error) {
	if e.Stored == "" {
		return nil, fmt.Errorf("%w: entry %d has no stored copy", ErrBadManifest, e.Seq)
	}
	data, err := q.ReadFile(e.Stored)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if hashString(string(data)) != e.SHA256 {
		return nil, fmt.Errorf("%w: stored copy %s does not match its sha256", ErrBadManifest, e.Stored)
	}
	return data, nil
}

// writeMeta writes data at offset 0 and restores owner, mode and xattrs.
func writeMeta(fh *os.File, data []byte, e Entry) error {
	if _, err := fh.WriteAt(data, 0); err != nil {
		return err
	}
	if err := fh.Chown(e.UID, e.GID); err != nil && os.Geteuid() == 0 {
		return err
	}
	// Chmod after chown: chown clears setuid/setgid bits.
	if err := fh.Chmod(fs.FileMode(e.Mode)); err != nil {
		return err
	}
	if len(e.Xattrs) > 0 {
		if err := rootfs.SetXattrs(fh, e.Xattrs); err != nil {
			return err
		}
	}
	return fh.Sync()
}

func setFlags(r *rootfs.FS, rel string, e Entry) error {
	if e.Flags&(rootfs.FlagImmutable|rootfs.FlagAppend) == 0 {
		return nil
	}
	fl := os.O_RDONLY
	if e.Type == "dir" {
		fl |= syscall.O_DIRECTORY
	}
	fh, err := r.OpenRel(rel, fl, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	cur, err := rootfs.Flags(fh)
	if err != nil {
		return err
	}
	return rootfs.SetFlags(fh, cur|(e.Flags&(rootfs.FlagImmutable|rootfs.FlagAppend)))
}
