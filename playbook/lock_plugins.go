package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
)

// PluginSource says where an external plugin comes from: the plugins:
// section of a playbook file, or a host's command line
// (run-playbook -plugin name=PATH@SHA256).
//
//	plugins:
//	  greeter:
//	    path: ./bin/greeter        # relative to the playbook file
//	    sha256: 9f86d0…            # optional: the lock file pins it anyway
//	    min_version: "1.2"         # optional: refuse older plugins
//	    env: [GREETER_TOKEN]       # host variables the plugin is given (none by default)
type PluginSource struct {
	Name       string   `yaml:"-"`
	Path       string   `yaml:"path"`
	SHA256     string   `yaml:"sha256"`
	MinVersion string   `yaml:"min_version"`
	Env        []string `yaml:"env"`
}

// LoadWithPlugins reads a playbook file that may name its external plugins
// in a top-level plugins: section (which Load refuses), and returns the
// playbook and those plugins, their relative paths made relative to the
// file's directory. Errors keep the file's lines and columns.
func LoadWithPlugins(path string) (*Playbook, []PluginSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("playbook: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, nil, &ValidationError{File: path, Err: fmt.Errorf("%w: %d bytes is larger than %d", ErrInvalid, st.Size(), MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("playbook: %w", err)
	}
	rest, srcs, err := SplitPlugins(path, data)
	if err != nil {
		return nil, nil, err
	}
	pb, err := Parse(path, rest)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(path)
	for i := range srcs {
		if !filepath.IsAbs(srcs[i].Path) {
			srcs[i].Path = filepath.Join(dir, srcs[i].Path)
		}
	}
	return pb, srcs, nil
}

// SplitPlugins takes the top-level plugins: section out of a playbook's
// YAML: it returns the YAML with that section's lines blanked (so Parse
// reports every other error at its own line and column) and the plugins
// the section names, sorted by name.
func SplitPlugins(filename string, data []byte) ([]byte, []PluginSource, error) {
	if len(data) > MaxFileSize {
		return nil, nil, &ValidationError{File: filename, Err: fmt.Errorf("%w: %d bytes is larger than %d", ErrInvalid, len(data), MaxFileSize)}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	start := -1
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("plugins:")) {
			if start >= 0 {
				return nil, nil, &ValidationError{File: filename, Line: i + 1, Column: 1, Field: "plugins", Err: fmt.Errorf("%w: plugins given twice", ErrInvalid)}
			}
			start = i
		}
	}
	if start < 0 {
		return data, nil, nil
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if len(l) > 0 && l[0] != ' ' && l[0] != '\t' && l[0] != '#' && l[0] != '\n' && l[0] != '\r' {
			end = i
			break
		}
	}
	// The section alone, at its own lines, for positions in its errors.
	var section, rest bytes.Buffer
	for i, l := range lines {
		nl := ""
		if bytes.HasSuffix(l, []byte("\n")) {
			nl = "\n"
		}
		if i >= start && i < end {
			section.Write(l)
			rest.WriteString(nl)
		} else {
			section.WriteString(nl)
			rest.Write(l)
		}
	}
	var doc struct {
		Plugins map[string]PluginSource `yaml:"plugins"`
	}
	if err := decodePluginsSection(section.Bytes(), &doc); err != nil {
		ve := yamlError(filename, err).(*ValidationError)
		ve.Field = "plugins"
		return nil, nil, ve
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ValidationError{File: filename, Line: start + 1, Column: 1, Field: field,
			Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)})
	}
	var srcs []PluginSource
	for name, s := range doc.Plugins {
		s.Name = name
		f := "plugins." + name
		if !nameRE.MatchString(name) {
			bad(f, "%q is not a plugin name", name)
		}
		if s.Path == "" {
			bad(f+".path", "required")
		}
		if s.SHA256 != "" && !isSHA256Hex(strings.ToLower(s.SHA256)) {
			bad(f+".sha256", "%q is not 64 hex digits", s.SHA256)
		}
		for _, e := range s.Env {
			if e == "" || strings.ContainsAny(e, "= \t") {
				bad(f+".env", "%q is not an environment variable name", e)
			}
		}
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].Name < srcs[j].Name })
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return rest.Bytes(), srcs, nil
}

// LockedSpecs turns external plugin sources into the specs a Host starts,
// checked against the lock (file is its path, for errors): each binary is
// hashed, and one that does not match the SHA-256 its source names, or
// that the lock pins, is refused with a *LockError (ErrLockMismatch) naming
// plugin, expected and got, before anything is started. With upgrade the
// lock's pins are not checked (Record then rewrites them). Each spec is
// pinned to the SHA-256 checked here, so the Host refuses a binary swapped
// after this check.
func (l *Lock) LockedSpecs(file string, srcs []PluginSource, upgrade bool) ([]PluginSpec, error) {
	var specs []PluginSpec
	var errs []error
	for _, s := range srcs {
		got, err := FileSHA256(s.Path)
		if err != nil {
			errs = append(errs, &PluginError{Plugin: s.Name, Path: s.Path, Err: err})
			continue
		}
		if s.SHA256 != "" && !strings.EqualFold(s.SHA256, got) {
			errs = append(errs, &PluginError{Plugin: s.Name, Path: s.Path,
				Err: fmt.Errorf("%w: want %s (as given), got %s", ErrChecksumMismatch, strings.ToLower(s.SHA256), got)})
			continue
		}
		if !upgrade {
			if err := l.CheckSHA256(file, s.Name, got); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		spec := External(s.Name, s.Path, got, HostEnv(s.Env...)...)
		spec.MinVersion = s.MinVersion
		specs = append(specs, spec)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return specs, nil
}

// Record checks the started external plugins' versions against the lock
// (unless upgrade) and pins what is new or, with upgrade, everything; it
// drops plugins no longer used. It reports whether the lock changed, for
// the caller to write it.
func (l *Lock) Record(file string, h *Host, specs []PluginSpec, upgrade bool) (bool, error) {
	changed := false
	keep := map[string]bool{}
	var errs []error
	for _, s := range specs {
		keep[s.Name] = true
		p, err := h.Plugin(s.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, locked := l.Plugins[s.Name]; locked && !upgrade {
			if err := l.CheckVersion(file, s.Name, p.Version()); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if l.Pin(s.Name, p.Version(), s.SHA256, p.ProtocolVersion()) {
			changed = true
		}
	}
	if len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	if upgrade && l.Prune(keep) {
		changed = true
	}
	return changed, nil
}

// decodePluginsSection decodes the section strictly. go-yaml panics on some
// malformed input (found by FuzzSplitPlugins: a tag on a sequence that is
// not one); that is an invalid file, not a crash of the host.
func decodePluginsSection(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML decoder failed on this input: %v", r)
		}
	}()
	return yaml.UnmarshalWithOptions(b, v, yaml.DisallowUnknownField())
}
