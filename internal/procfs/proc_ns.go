package procfs

import (
	"fmt"
	"strings"
)

// NetNS returns the inode of the network namespace of process pid, from the
// /proc/PID/ns/net link ("net:[4026531840]").
func (fs FS) NetNS(pid int) (uint64, error) {
	l, err := fs.Readlink(pid, "ns", "net")
	if err != nil {
		return 0, err
	}
	return parseNSLink(l, "net")
}

// parseNSLink parses a namespace link "kind:[inode]".
func parseNSLink(l, kind string) (uint64, error) {
	rest, ok := strings.CutPrefix(l, kind+":[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, fmt.Errorf("%w: namespace link %q", ErrFileParse, l)
	}
	n, ok := parseUint([]byte(rest[:len(rest)-1]), 10, 64)
	if !ok {
		return 0, fmt.Errorf("%w: namespace link %q", ErrFileParse, l)
	}
	return n, nil
}
