package procfs

import (
	"fmt"
	"time"
)

// UserHZ is the clock tick the kernel reports process times in (USER_HZ); it
// is 100 on every Linux architecture abusekit runs on.
const UserHZ = 100

// BootTime reads the boot time (btime) from /proc/stat.
func (fs FS) BootTime() (time.Time, error) {
	b, err := fs.ReadFile("stat")
	if err != nil {
		return time.Time{}, err
	}
	return parseKernelStat(b)
}

// parseKernelStat finds the "btime" line of /proc/stat.
func parseKernelStat(b []byte) (time.Time, error) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		it := fieldIter{b: line}
		k, _ := it.next()
		if string(k) != "btime" {
			continue
		}
		v, _ := it.next()
		n, ok := parseUint(v, 10, 63)
		if !ok {
			return time.Time{}, fmt.Errorf("%w: stat: bad btime %q", ErrFileParse, v)
		}
		return time.Unix(int64(n), 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: stat: no btime line", ErrFileParse)
}
