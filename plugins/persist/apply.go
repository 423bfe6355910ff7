package persist

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
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
	Seq         int               `json:"seq"`
	Op          Op                `json:"op"`
	Path        string            `json:"path"` // inside the root
	Type        string            `json:"type"` // "file", "symlink", "dir"
	Stored      string            `json:"stored,omitempty"`
	SHA256      string            `json:"sha256,omitempty"`       // original content (file) or target (link)
	AfterSHA256 string            `json:"after_sha256,omitempty"` // remove-lines: content Apply left
	Size        int64             `json:"size"`
	Mode        uint32            `json:"mode"` // permission, setuid/setgid/sticky bits (fs.FileMode)
	ModeString  string            `json:"mode_string"`
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	Atime       time.Time         `json:"atime"`
	Mtime       time.Time         `json:"mtime"`
	Xattrs      map[string][]byte `json:"xattrs,omitempty"`
	Flags       uint32            `json:"flags,omitempty"` // inode flags before Apply (immutable 0x10, append 0x20)
	// SetBack: the flags were set again at the end of Apply (a directory
	// made writable only for the changes in it); Restore clears them
	// while it puts entries back.
	SetBack      bool         `json:"set_back,omitempty"`
	Nlink        uint64       `json:"nlink,omitempty"`
	LinkTarget   string       `json:"link_target,omitempty"`
	RemovedLines []LineChange `json:"removed_lines,omitempty"`
	// Set: the change belongs to a set made all or none (Change.Set).
	Set string `json:"set,omitempty"`
	// Container: a container stopped through docker on the live root
	// (no file changed; Restore starts it again with its old policy).
	Container *ContainerStop `json:"container,omitempty"`
	// Dir is the link-free parent directory (relative to the root) Apply
	// acted in; Restore refuses to act if the path's parent now resolves
	// elsewhere (a link planted after Apply).
	Dir string `json:"dir,omitempty"`
	// Late is the stored copy of what was written to a file while Apply
	// replaced it (the old file's content at the end), when it differs
	// from Stored.
	Late        string    `json:"late,omitempty"`
	ParentAtime time.Time `json:"parent_atime"`
	ParentMtime time.Time `json:"parent_mtime"`
	Severity    Severity  `json:"severity"`
	Reasons     []string  `json:"reasons"`
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// QuarantineDir is a host directory to create the quarantine in
	// (a fresh subdirectory, mode 0700, is made inside it). Default: a
	// fresh directory under DefaultQuarantineBase inside the root, every
	// component of which must be a real directory (not a link) of this
	// user, not writable by others (else ErrQuarantineUnsafe).
	QuarantineDir string
	// RunReloads runs the plan's reloads after the changes. Only on the
	// live root "/": elsewhere Apply fails with ErrNotLive before changing
	// anything.
	RunReloads bool
	// Incident names the quarantine directory (with the time), so that a
	// responder finds it by case; default none.
	Incident string
	// MaxCopy bounds the data (allocated bytes, holes excluded) copied
	// into the quarantine for one file; default DefaultMaxCopy. A file
	// over it is not changed: Apply stops with rootfs.ErrTooLarge
	// (nothing is removed that was not kept).
	MaxCopy int64
	// Key authenticates the manifest (HMAC-SHA256); keep it outside the
	// root being cleaned. Default: the key in DefaultKeyFile, made on
	// first use.
	Key []byte
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
// Each change is recorded in the manifest (written durably and
// authenticated, see DefaultKeyFile) before it is made and backed out of
// the manifest if it is not made, so an interrupted Apply leaves a
// manifest of what it did. It acts through the parent directory held open
// (see the comment at the top of quarantine.go): a file, link or parent
// that changed since Plan is ErrChanged, and nothing is done to it. It
// stops at the first error, sets back the directory flags it cleared
// (Change.SetBack), and returns the partial Result with the error.
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
	key, err := manifestKey(opts.Key, plan.Root, true)
	if err != nil {
		return nil, err
	}
	q, qdone, err := openQuarantine(r, opts.QuarantineDir, opts.Incident)
	if err != nil {
		return nil, err
	}
	qdir := q.Rel
	if err := checkSpace(r, q, plan); err != nil {
		q.Close()
		qdone(true)
		return nil, err
	}
	defer qdone(false)
	defer q.Close()
	max := opts.MaxCopy
	if max <= 0 {
		max = DefaultMaxCopy
	}
	run := opts.Run
	if run == nil {
		run = execRun
	}
	a := &applier{ctx: ctx, fs: r, q: q, log: log, max: max, key: key, stored: map[[2]uint64]storedCopy{}, run: run, live: plan.Live && isLiveRoot(plan.Root),
		m: &Manifest{Version: 2, Root: r.Dir(), Live: plan.Live, Created: time.Now().UTC(), QuarantineDir: qdir, Reloads: plan.Reloads}}
	defer a.close()
	res := &Result{ManifestPath: filepath.Join(qdir, ManifestName), Manifest: a.m}
	if err := a.save(); err != nil {
		return res, err
	}
	for _, c := range plan.Changes {
		err := ctx.Err()
		if err == nil {
			if err = a.apply(c); err != nil {
				err = fmt.Errorf("persist: apply %s %s: %w", c.Op, c.Path, err)
			}
		}
		if err != nil && c.Set != "" {
			// All of a set or none: put back what this Apply made of it.
			if berr := a.backOutSet(c.Set); berr != nil {
				err = errors.Join(err, berr)
			}
		}
		if err != nil {
			// Flags cleared for changes that will not be made go back on.
			if serr := a.setBack(); serr != nil {
				err = errors.Join(err, serr)
			}
			return res, err
		}
	}
	if err := a.setBack(); err != nil {
		return res, err
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

// backOutSet puts back, newest first, the entries of set this Apply made
// (from their quarantined copies, as Restore would) and drops them from
// the manifest. An entry that cannot be put back stays in the manifest
// (Restore can try again) and its error is returned.
func (a *applier) backOutSet(set string) error {
	var errs []error
	back := map[int]bool{}
	for i := len(a.m.Entries) - 1; i >= 0; i-- {
		e := a.m.Entries[i]
		if e.Set != set {
			continue
		}
		if err := restoreEntry(a.fs, a.q, e, false); err != nil {
			errs = append(errs, fmt.Errorf("persist: back out %s %s: %w", e.Op, e.Path, err))
			continue
		}
		back[i] = true
	}
	var keep []Entry
	for i, e := range a.m.Entries {
		if !back[i] {
			keep = append(keep, e)
		}
	}
	a.m.Entries = keep
	if err := a.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runReloads runs each reload, collecting failures (a failed reload does
// not undo the files already changed).
func runReloads(ctx context.Context, reloads []Reload, run func(context.Context, []string) error, log *slog.Logger) []string {
	if run == nil {
		run = execRun
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

// execRun runs a command with os/exec.
func execRun(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
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

// dropLines removes the given 1-based lines from data, or rewrites those
// with a New, checking each still holds the content planned; every other
// byte stays as it was.
func dropLines(data []byte, lines []LineChange) ([]byte, []LineChange, error) {
	drop := map[int]LineChange{}
	for _, l := range lines {
		drop[l.Line] = l
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
		lc, ok := drop[n]
		if !ok {
			out.Write(line)
			continue
		}
		want := lc.Content
		got, nl := strings.CutSuffix(string(line), "\n")
		if long, ok := strings.CutSuffix(want, "…"); ok && lc.New == nil && len(got) > len(long) && strings.HasPrefix(got, long) {
			want = got // Find shortened a very long line
		}
		if got != want {
			return nil, nil, fmt.Errorf("%w: line %d is now %q, planned %q", ErrChanged, n, got, want)
		}
		if lc.New != nil {
			if strings.ContainsAny(*lc.New, "\n") {
				return nil, nil, fmt.Errorf("persist: line %d: new content has a line break", n)
			}
			out.WriteString(*lc.New)
			if nl {
				out.WriteByte('\n')
			}
		}
		removed = append(removed, LineChange{Line: n, Content: got, New: lc.New})
		delete(drop, n)
	}
	for l := range drop {
		return nil, nil, fmt.Errorf("%w: line %d no longer exists", ErrChanged, l)
	}
	return out.Bytes(), removed, nil
}
