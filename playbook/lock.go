package playbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A lock file pins, beside a playbook, each external plugin it runs to the
// version and SHA-256 seen when the lock was written, as Terraform's
// .terraform.lock.hcl pins providers: a later run refuses a plugin binary
// that is not the locked one (ErrLockMismatch), until the lock is
// rewritten on purpose (run-playbook -upgrade). Built-in plugins are the
// host's own executable and are not locked.
//
// The file is JSON, FILE.lock.json for FILE.yaml:
//
//	{
//	  "version": 1,
//	  "plugins": {
//	    "greeter": {"version": "1.2.0", "sha256": "9f86d0…", "protocol": 1}
//	  }
//	}

// LockFormat is the version of the lock file's format.
const LockFormat = 1

// maxLockSize bounds a lock file.
const maxLockSize = 1 << 20

// ErrLockMismatch is wrapped by every *LockError: a plugin is not the one
// the lock file pins.
var ErrLockMismatch = errors.New("playbook: plugin does not match the lock file")

// ErrLockFile is wrapped by errors reading a lock file that is not valid.
var ErrLockFile = errors.New("playbook: invalid lock file")

// Lock is a playbook's lock file.
type Lock struct {
	Format  int                     `json:"version"`
	Plugins map[string]LockedPlugin `json:"plugins"`
}

// LockedPlugin pins one plugin.
type LockedPlugin struct {
	Version  string `json:"version"`            // as the plugin reported it (Describe)
	SHA256   string `json:"sha256"`             // hex SHA-256 of the binary
	Protocol int    `json:"protocol,omitempty"` // the protocol version negotiated
}

// LockError says which plugin does not match its lock, in what, and how.
type LockError struct {
	File   string // the lock file
	Plugin string
	Field  string // "sha256" or "version"
	Want   string // what the lock pins
	Got    string // what was found
}

func (e *LockError) Error() string {
	return fmt.Sprintf("plugin %s: %s is %s, lock file %s pins %s (if the new plugin is trusted, -upgrade rewrites the lock)",
		e.Plugin, e.Field, e.Got, e.File, e.Want)
}

func (e *LockError) Unwrap() error { return ErrLockMismatch }

// LockPath is the lock file beside a playbook file: "pb.yaml" →
// "pb.lock.json".
func LockPath(playbookFile string) string {
	ext := filepath.Ext(playbookFile)
	switch ext {
	case ".yaml", ".yml", ".json":
		return strings.TrimSuffix(playbookFile, ext) + ".lock.json"
	}
	return playbookFile + ".lock.json"
}

// ReadLock reads a lock file; a missing one is an empty Lock (and no
// error), for a first run to fill in.
func ReadLock(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Lock{Format: LockFormat, Plugins: map[string]LockedPlugin{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("playbook: lock file: %w", err)
	}
	return ParseLock(path, b)
}

// ParseLock reads a lock file's content; name is used in errors.
func ParseLock(name string, b []byte) (*Lock, error) {
	if len(b) > maxLockSize {
		return nil, fmt.Errorf("%w: %s: %d bytes is larger than %d", ErrLockFile, name, len(b), maxLockSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLockFile, name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: more than one JSON document", ErrLockFile, name)
	}
	if l.Format != LockFormat {
		return nil, fmt.Errorf("%w: %s: version %d, this host reads version %d", ErrLockFile, name, l.Format, LockFormat)
	}
	if l.Plugins == nil {
		l.Plugins = map[string]LockedPlugin{}
	}
	for _, n := range sortedKeys(lockNames(l.Plugins)) {
		lp := l.Plugins[n]
		if !nameRE.MatchString(n) {
			return nil, fmt.Errorf("%w: %s: %q is not a plugin name", ErrLockFile, name, n)
		}
		if !isSHA256Hex(lp.SHA256) {
			return nil, fmt.Errorf("%w: %s: plugin %s: sha256 %q is not 64 lower-case hex digits", ErrLockFile, name, n, lp.SHA256)
		}
	}
	return &l, nil
}

// Marshal is the lock file's content: indented, plugins sorted, ending in a
// newline, so that it diffs well under version control.
func (l *Lock) Marshal() ([]byte, error) {
	c := Lock{Format: LockFormat, Plugins: l.Plugins}
	if c.Plugins == nil {
		c.Plugins = map[string]LockedPlugin{}
	}
	b, err := json.MarshalIndent(c, "", "  ") // map keys are sorted
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes the lock atomically: a temporary file in the same
// directory, synced, renamed over path, and the directory synced.
func (l *Lock) WriteFile(path string) error {
	b, err := l.Marshal()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("playbook: lock file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// CheckSHA256 checks a plugin binary's SHA-256 against the lock. A plugin
// the lock does not name passes (it is added by Pin).
func (l *Lock) CheckSHA256(file, name, got string) error {
	lp, ok := l.Plugins[name]
	if !ok || strings.EqualFold(lp.SHA256, got) {
		return nil
	}
	return &LockError{File: file, Plugin: name, Field: "sha256", Want: lp.SHA256, Got: got}
}

// CheckVersion checks a started plugin's reported version against the lock.
func (l *Lock) CheckVersion(file, name, got string) error {
	lp, ok := l.Plugins[name]
	if !ok || lp.Version == got {
		return nil
	}
	return &LockError{File: file, Plugin: name, Field: "version", Want: lp.Version, Got: got}
}

// Pin records a plugin's version, SHA-256 and protocol; it reports whether
// the lock changed.
func (l *Lock) Pin(name, version, sha256Hex string, protocol int) bool {
	if l.Plugins == nil {
		l.Plugins = map[string]LockedPlugin{}
	}
	lp := LockedPlugin{Version: version, SHA256: strings.ToLower(sha256Hex), Protocol: protocol}
	if old, ok := l.Plugins[name]; ok && old == lp {
		return false
	}
	l.Plugins[name] = lp
	return true
}

// Prune drops the plugins not in keep; it reports whether the lock changed.
func (l *Lock) Prune(keep map[string]bool) bool {
	changed := false
	for n := range l.Plugins {
		if !keep[n] {
			delete(l.Plugins, n)
			changed = true
		}
	}
	return changed
}

// Names is the locked plugins' names, sorted.
func (l *Lock) Names() []string {
	names := make([]string, 0, len(l.Plugins))
	for n := range l.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lockNames(m map[string]LockedPlugin) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
