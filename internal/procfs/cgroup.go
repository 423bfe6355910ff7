package procfs

import (
	"strconv"
	"strings"
)

// Cgroup is one line of /proc/PID/cgroup: "ID:controllers:path". The
// cgroup v2 line has ID 0 and no controllers.
type Cgroup struct {
	ID          int
	Controllers []string
	Path        string
}

// Cgroups reads /proc/PID/cgroup.
func (fs FS) Cgroups(pid int) ([]Cgroup, error) {
	b, err := fs.ReadFile(strconv.Itoa(pid), "cgroup")
	if err != nil {
		return nil, err
	}
	return parseCgroup(b), nil
}

// CgroupV2Path is the path of the cgroup v2 line of cgs ("" when none).
func CgroupV2Path(cgs []Cgroup) string {
	for _, c := range cgs {
		if c.ID == 0 && len(c.Controllers) == 0 {
			return c.Path
		}
	}
	return ""
}

// parseCgroup parses /proc/PID/cgroup. A line that is not
// "ID:controllers:path" is skipped; the path may itself hold colons.
func parseCgroup(b []byte) []Cgroup {
	var out []Cgroup
	for _, line := range strings.Split(string(b), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctl, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(id)
		if err != nil || n < 0 {
			continue
		}
		c := Cgroup{ID: n, Path: path}
		if ctl != "" {
			c.Controllers = strings.Split(ctl, ",")
		}
		out = append(out, c)
	}
	return out
}

// Cgroup2Mounts gives the mount points of the cgroup v2 file systems the
// caller sees, from /proc/self/mountinfo.
func (fs FS) Cgroup2Mounts() ([]string, error) {
	b, err := fs.ReadFile("self", "mountinfo")
	if err != nil {
		return nil, err
	}
	return parseCgroup2Mounts(b), nil
}

// parseCgroup2Mounts returns the mount point (field 5) of every mountinfo
// line whose file system type (after the " - " separator) is cgroup2,
// with the kernel's octal escapes (\040 for a space, \011, \012, \134)
// decoded.
func parseCgroup2Mounts(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) >= 5 {
			out = append(out, unescapeMountinfo(f[4]))
		}
	}
	return out
}

// unescapeMountinfo decodes the \ooo escapes the kernel writes for space,
// tab, newline and backslash in mountinfo paths; anything else stays.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
