package plugin

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestModuleVersion(t *testing.T) {
	const mod = "github.com/abusekit/abusekit"
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "251141b8a1b2c3d4e5f60718293a4b5c6d7e8f90"
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"release main module", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "v1.4.0"}, Settings: vcs(rev, "false")}, "v1.4.0"},
		{"release candidate", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "v2.0.0-rc.1"}}, "v2.0.0-rc.1"},
		{"devel main module with VCS", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: vcs(rev, "false")}, "0.0.0-devel+251141b8a1b2"},
		{"modified tree", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: vcs(rev, "true")}, "0.0.0-devel+251141b8a1b2.dirty"},
		{"VCS-stamped pseudo-version of the main module", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "v0.0.0-20261207224650-251141b8a1b2+dirty"}, Settings: vcs(rev, "true")}, "0.0.0-devel+251141b8a1b2.dirty"},
		{"devel main module without VCS", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}}, "(devel)"},
		{"revision not hex", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: vcs("00000000000 x", "false")}, "(devel)"},
		{"short revision", &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: vcs("abc", "false")}, "(devel)"},
		{"release dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Settings: vcs(rev, "false"),
			Deps: []*debug.Module{{Path: "example.com/other", Version: "v9.9.9"}, {Path: mod, Version: "v1.2.3"}}}, "v1.2.3"},
		{"pseudo-version dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v3.0.0"},
			Deps: []*debug.Module{{Path: mod, Version: "v1.2.4-0.20261207224650-0123456789ab"}}}, "0.0.0-devel+0123456789ab"},
		{"replaced by a local directory", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v3.0.0"}, Settings: vcs(rev, "false"),
			Deps: []*debug.Module{{Path: mod, Version: "v1.2.3", Replace: &debug.Module{Path: "../abusekit", Version: ""}}}}, "(devel)"},
		{"replaced by a release", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host"},
			Deps: []*debug.Module{{Path: mod, Version: "v1.2.3", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.2.5"}}}}, "v1.2.5"},
		{"not in the build", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v3.0.0"}, Settings: vcs(rev, "false")}, "(devel)"},
		{"the host's commit is not the dependency's", &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Settings: vcs(rev, "false"),
			Deps: []*debug.Module{{Path: mod, Version: "(devel)"}}}, "(devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleVersion(tt.bi, mod); got != tt.want {
				t.Errorf("moduleVersion = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzModuleVersion: whatever the build information says, the version is
// a release taken as it is, 0.0.0-devel+ and 12 hex digits (.dirty), or
// (devel).
func FuzzModuleVersion(f *testing.F) {
	f.Add("v1.4.0", "251141b8a1b2c3d4e5f60718293a4b5c6d7e8f90", "false")
	f.Add("v0.0.0-20261207224650-251141b8a1b2+dirty", "251141b8a1b2c3d4e5f60718293a4b5c6d7e8f90", "true")
	f.Add("(devel)", "", "")
	f.Fuzz(func(t *testing.T, version, rev, modified string) {
		for _, bi := range []*debug.BuildInfo{
			{Main: debug.Module{Path: "m", Version: version}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}},
			{Main: debug.Module{Path: "host"}, Deps: []*debug.Module{{Path: "m", Version: version}}},
		} {
			got := moduleVersion(bi, "m")
			switch {
			case got == "(devel)", got == version && releaseVersion.MatchString(got):
			case devel.MatchString(got):
			default:
				t.Errorf("moduleVersion(version %q, revision %q) = %q", version, rev, got)
			}
		}
	})
}

var devel = regexp.MustCompile(`^0\.0\.0-devel\+[0-9a-f]{12}(\.dirty)?$`)
