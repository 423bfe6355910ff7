package procfs

import (
	"bytes"
	"fmt"
)

// PFKthread is the task flag (stat field 9) the kernel sets on kernel threads.
const PFKthread = 0x00200000

// ProcStat is what abusekit uses of /proc/PID/stat.
type ProcStat struct {
	PID        int
	Comm       string // without the parentheses; the kernel truncates it to 15 bytes
	State      byte   // R, S, D, T, Z, …
	PPID       int
	Flags      uint64
	UTime      uint64 // clock ticks in user mode
	STime      uint64 // clock ticks in kernel mode
	NumThreads int64
	StartTime  uint64 // clock ticks after boot
}

// IsKernelThread reports whether the task is a kernel thread.
func (s ProcStat) IsKernelThread() bool { return s.Flags&PFKthread != 0 }

// Stat reads /proc/PID/stat.
func (fs FS) Stat(pid int) (ProcStat, error) {
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	b, err := readSmall(fs.PIDPath(pid, "stat"), *bp)
	if err != nil {
		return ProcStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so it runs from the first '(' to the last ')'.
func parseProcStat(b []byte) (ProcStat, error) {
	var s ProcStat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return s, fmt.Errorf("%w: stat: no command name", ErrFileParse)
	}
	pid, ok := atoiPositive(bytes.TrimSpace(b[:open]))
	if !ok {
		return s, fmt.Errorf("%w: stat: bad pid %q", ErrFileParse, b[:open])
	}
	s.PID = pid
	s.Comm = string(b[open+1 : closing])
	it := fieldIter{b: bytes.TrimRight(b[closing+1:], "\n")}
	// Fields after the name, 1-based as in proc(5) minus 2: state is 3.
	for i := 3; i <= 22; i++ {
		f, ok := it.next()
		if !ok {
			return s, fmt.Errorf("%w: stat: %d fields, want 22", ErrFileParse, i-1)
		}
		var good = true
		switch i {
		case 3:
			if len(f) != 1 {
				good = false
			}
			s.State = f[0]
		case 4:
			var v int64
			v, good = parseInt(f)
			s.PPID = int(v)
		case 9:
			s.Flags, good = parseUint(f, 10, 64)
		case 14:
			s.UTime, good = parseUint(f, 10, 64)
		case 15:
			s.STime, good = parseUint(f, 10, 64)
		case 20:
			s.NumThreads, good = parseInt(f)
		case 22:
			s.StartTime, good = parseUint(f, 10, 64)
		}
		if !good {
			return s, fmt.Errorf("%w: stat: bad field %d %q", ErrFileParse, i, f)
		}
	}
	return s, nil
}
