package procfs

import (
	"fmt"
	"strconv"
)

// MapRegion is one line of /proc/PID/maps.
type MapRegion struct {
	Start  uint64 `json:"start"`
	End    uint64 `json:"end"`
	Perms  string `json:"perms"` // "r-xp"
	Offset uint64 `json:"offset"`
	Dev    string `json:"dev"` // "fd:01"
	Inode  uint64 `json:"inode"`
	Path   string `json:"path,omitempty"` // may end in " (deleted)"; "[heap]", "[stack]", …
}

// Maps reads /proc/PID/maps.
func (fs FS) Maps(pid int) ([]MapRegion, error) {
	b, err := readFile(fs.PIDPath(pid, "maps"))
	if err != nil {
		return nil, err
	}
	return parseMaps(b)
}

// parseMaps parses /proc/PID/maps lines:
//
//	55d0c8a00000-55d0c8a02000 r--p 00000000 fd:01 1234   /usr/bin/cat
func parseMaps(b []byte) ([]MapRegion, error) {
	var out []MapRegion
	n := 0
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		n++
		if len(line) == 0 {
			continue
		}
		it := fieldIter{b: line}
		var f [5][]byte
		for i := range f {
			v, ok := it.next()
			if !ok {
				return out, fmt.Errorf("%w: maps line %d: %d fields, want at least 5", ErrFileParse, n, i)
			}
			f[i] = v
		}
		lo, hi, ok := cutByte(f[0], '-')
		start, ok1 := parseUint(lo, 16, 64)
		end, ok2 := parseUint(hi, 16, 64)
		off, ok3 := parseUint(f[2], 16, 64)
		ino, ok4 := parseUint(f[4], 10, 64)
		if !ok || !ok1 || !ok2 || !ok3 || !ok4 || end < start || len(f[1]) != 4 {
			return out, fmt.Errorf("%w: maps line %d: %q", ErrFileParse, n, line)
		}
		r := MapRegion{Start: start, End: end, Perms: string(f[1]), Offset: off, Dev: string(f[3]), Inode: ino}
		// The path is the rest of the line after the padding; it may hold spaces.
		rest := it.b
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			rest = rest[1:]
		}
		r.Path = string(rest)
		out = append(out, r)
	}
	return out, nil
}

// String renders the region as its maps line would start.
func (r MapRegion) String() string {
	return strconv.FormatUint(r.Start, 16) + "-" + strconv.FormatUint(r.End, 16) + " " + r.Perms + " " + r.Path
}
