package procfs

import (
	"bytes"
	"fmt"
)

// ProcStatus is what abusekit uses of /proc/PID/status.
type ProcStatus struct {
	Name  string
	Tgid  int
	PPid  int
	UIDs  [4]uint32 // real, effective, saved, filesystem
	GIDs  [4]uint32
	VmRSS uint64 // kB
}

// Status reads /proc/PID/status.
func (fs FS) Status(pid int) (ProcStatus, error) {
	b, err := readFile(fs.PIDPath(pid, "status"))
	if err != nil {
		return ProcStatus{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus parses the "Key:\tvalue" lines of /proc/PID/status; keys
// it does not use are ignored, and Uid/Gid lines are required.
func parseProcStatus(b []byte) (ProcStatus, error) {
	var s ProcStatus
	var haveUID, haveGID bool
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		key, val, ok := cutByte(line, ':')
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch string(key) {
		case "Name":
			s.Name = string(val)
		case "Tgid", "PPid":
			n, ok := parseInt(val)
			if !ok {
				return s, fmt.Errorf("%w: status: bad %s %q", ErrFileParse, key, val)
			}
			if key[0] == 'T' {
				s.Tgid = int(n)
			} else {
				s.PPid = int(n)
			}
		case "Uid", "Gid":
			dst := &s.UIDs
			if key[0] == 'G' {
				dst = &s.GIDs
				haveGID = true
			} else {
				haveUID = true
			}
			it := fieldIter{b: val}
			for i := range dst {
				f, ok := it.next()
				if !ok {
					return s, fmt.Errorf("%w: status: %s has %d ids, want 4", ErrFileParse, key, i)
				}
				v, ok := parseUint(f, 10, 32)
				if !ok {
					return s, fmt.Errorf("%w: status: bad %s %q", ErrFileParse, key, f)
				}
				dst[i] = uint32(v)
			}
		case "VmRSS":
			it := fieldIter{b: val}
			f, _ := it.next()
			v, ok := parseUint(f, 10, 64)
			if !ok {
				return s, fmt.Errorf("%w: status: bad VmRSS %q", ErrFileParse, val)
			}
			s.VmRSS = v
		}
	}
	if !haveUID || !haveGID {
		return s, fmt.Errorf("%w: status: no Uid or Gid line", ErrFileParse)
	}
	return s, nil
}
