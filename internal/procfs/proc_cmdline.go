package procfs

import "bytes"

// Cmdline reads /proc/PID/cmdline as its arguments. A process that rewrote
// its argument area into one string with spaces comes back as one element.
func (fs FS) Cmdline(pid int) ([]string, error) {
	b, err := readFile(fs.PIDPath(pid, "cmdline"))
	if err != nil {
		return nil, err
	}
	return parseCmdline(b), nil
}

// parseCmdline splits NUL-separated arguments; a trailing NUL ends the last
// one rather than starting an empty one.
func parseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}
