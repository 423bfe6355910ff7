package plugin

import (
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// Builtin is a built-in plugin: its actions and what it says of itself
// (version and description) in the host's Describe call.
type Builtin struct {
	Actions Actions
	Info    Info
}

// ServeBuiltinIfPlugin is ServeIfPlugin for built-in plugins that describe
// themselves: the one the host started this executable as reports its
// Info. The map holds constructors, so that a process builds only the
// plugin it serves (an action's schemas are made when it is built) and the
// host's own process builds none:
//
//	func main() {
//		plugin.ServeBuiltinIfPlugin(map[string]func() plugin.Builtin{"scan": scanplugin.NewBuiltin})
//		// … the host's own main …
//	}
//
// Like ServeIfPlugin, it also runs one action in one-shot mode when
// EnvOneShot names a built-in (a host step sent over SSM Run Command or
// SSH runs this executable so on the instance).
func ServeBuiltinIfPlugin(builtins map[string]func() Builtin) {
	if name, ok := os.LookupEnv(EnvOneShot); ok {
		ServeOneShot(builtinNamed(builtins, name).Actions)
	}
	name, ok := os.LookupEnv(wire.EnvBuiltin)
	if !ok {
		return
	}
	b := builtinNamed(builtins, name)
	os.Exit(serve(b.Actions, b.Info, os.Stderr))
}

// builtinNamed builds the built-in plugin name, or exits: this process was
// started as a plugin it does not have.
func builtinNamed(builtins map[string]func() Builtin, name string) Builtin {
	newBuiltin, ok := builtins[name]
	if !ok || newBuiltin == nil {
		fmt.Fprintf(os.Stderr, "plugin: this executable has no built-in plugin %q\n", name)
		os.Exit(1)
	}
	return newBuiltin()
}

// ModuleVersion is the version of module path (the main module or a
// dependency) in this executable, from its build information, for a
// built-in plugin's Info.Version:
//
//   - a release ("v1.4.0"): that version;
//   - otherwise, when the build knows its commit (VCS stamping of the main
//     module, or the commit of a pseudo-version):
//     "0.0.0-devel+<first 12 hex digits of the commit>", with ".dirty"
//     added for a main module built from a modified tree;
//   - otherwise "(devel)".
func ModuleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	return moduleVersion(bi, path)
}

// pseudoVersion matches the time-and-commit part of a Go module
// pseudo-version (v0.0.0-20261207224650-251141b8a1b2, v1.2.4-0.2026…-…).
var pseudoVersion = regexp.MustCompile(`[-.]\d{14}-([0-9a-f]{12})(\+.*)?$`)

// hexDigits matches a commit's hex digits (a revision of another form,
// which would not make a valid version, is left out).
var hexDigits = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// releaseVersion matches a semantic version without pre-release words
// other than a tag's own (v1.4.0, v2.0.0-rc.1) and without build metadata
// (+dirty).
var releaseVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+incompatible)?$`)

func moduleVersion(bi *debug.BuildInfo, path string) string {
	var m *debug.Module
	switch {
	case bi == nil:
		return "(devel)"
	case bi.Main.Path == path:
		m = &bi.Main
	default:
		for _, d := range bi.Deps {
			if d.Path == path {
				m = d
				break
			}
		}
	}
	if m == nil {
		return "(devel)"
	}
	if m.Replace != nil {
		m = m.Replace
	}
	v := m.Version
	if releaseVersion.MatchString(v) && !pseudoVersion.MatchString(v) {
		return v
	}
	if m == &bi.Main || bi.Main.Path == path {
		var rev string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) >= 12 && hexDigits.MatchString(rev[:12]) {
			v := "0.0.0-devel+" + strings.ToLower(rev[:12])
			if dirty {
				v += ".dirty"
			}
			return v
		}
	}
	if sm := pseudoVersion.FindStringSubmatch(v); sm != nil {
		v := "0.0.0-devel+" + sm[1]
		if strings.Contains(sm[2], "dirty") {
			v += ".dirty"
		}
		return v
	}
	return "(devel)"
}
