package taskfiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrUnsupported is wrapped when the kernel cannot run the iterator (no
// BPF, no BTF, not permitted) or when its process numbers are not those of
// the caller's PID namespace. Callers fall back to /proc.
var ErrUnsupported = errors.New("taskfiles: BPF task_file iterator unavailable")

// File is one open file of one process.
type File struct {
	PID   uint32 // thread group id
	Inode uint32 // socket inode; 0 for a file that is not a socket
}

// vmlinuxBTF is where the kernel publishes its own type information.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// Read appends to dst one File for every open descriptor of every process
// of the host, in one pass of a BPF task_file iterator through the kernel's
// task and descriptor tables, and returns it. A thread that shares its
// descriptor table with its thread group leader is not listed twice; a
// thread with a table of its own is listed under its thread group id.
// Processes the kernel hides from the iterator are missing: callers
// check any process they know of without a File another way.
//
// It wraps ErrUnsupported when the iterator cannot run here.
func Read(dst []File) ([]File, error) {
	bi, err := kernelBTF()
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	prog, err := loadProgram(bi)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	defer unix.Close(prog)
	return readIter(prog, dst)
}

// kernelBTF looks up what the program needs in the running kernel's BTF.
func kernelBTF() (btfInfo, error) {
	raw, err := mapFile(vmlinuxBTF)
	if err != nil {
		// Older kernels cannot map it: read it.
		if raw, err = os.ReadFile(vmlinuxBTF); err != nil {
			return btfInfo{}, err
		}
		return lookup(raw)
	}
	defer unix.Munmap(raw)
	return lookup(raw)
}

// mapFile maps a file read-only: the kernel's BTF is megabytes, read
// through sysfs a page per system call (~5 ms), mapped in one.
func mapFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size <= 0 || st.Size > 1<<30 {
		return nil, fmt.Errorf("%s: size %d", path, st.Size)
	}
	b, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return b, nil
}

// Program instructions (include/uapi/linux/bpf.h), assembled by hand: the
// program is a dozen instructions, and a BPF library's loader would decode
// all of the kernel's BTF again to find the attach point.
type insn struct {
	code uint8
	regs uint8 // dst | src<<4
	off  int16
	imm  int32
}

const (
	r0, r1, r2, r3, r4, r6, r7, r8, r9, fp = 0, 1, 2, 3, 4, 6, 7, 8, 9, 10

	ldxW, ldxH, ldxDW = 0x61, 0x69, 0x79 // dst = *(size *)(src + off)
	stxW              = 0x63             // *(u32 *)(dst + off) = src
	stW               = 0x62             // *(u32 *)(dst + off) = imm
	movX, movK        = 0xbf, 0xb7       // 64-bit dst = src / imm
	addK, andK, rshK  = 0x07, 0x57, 0x77
	jeqK, jneK, jneX  = 0x15, 0x55, 0x5d
	call, exit        = 0x85, 0x95

	fnGetCurrentPidTgid = 14
	fnSeqWrite          = 127

	progTypeTracing = 26
	attachTraceIter = 28

	cmdProgLoad   = 5
	cmdLinkCreate = 28
	cmdIterCreate = 33
)

func i(code, dst, src uint8, off int16, imm int32) insn {
	return insn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// program is, per descriptor of each task (ctx: struct bpf_iter__task_file,
// meta at 0, task at 8, fd at 16, file at 24):
//
//	ino = S_ISSOCK(file->f_inode->i_mode) ? file->f_inode->i_ino : 0
//	if task->tgid == current's tgid: write {0, task->tgid}  (who we are, as the kernel numbers us)
//	write {task->tgid, ino}
func program(bi btfInfo) []insn {
	p := []insn{
		i(movX, r6, r1, 0, 0),
		i(ldxDW, r7, r6, 24, 0), // file
		i(jeqK, r7, 0, -1, 0),   // → exit
		i(ldxDW, r8, r6, 8, 0),  // task
		i(jeqK, r8, 0, -1, 0),   // → exit
		i(ldxW, r9, r8, bi.tgid, 0),
		i(stxW, fp, r9, -8, 0),
		i(stW, fp, 0, -4, 0),
		i(ldxDW, r2, r7, bi.fInode, 0),
		i(jeqK, r2, 0, -2, 0), // → own
		i(ldxH, r3, r2, bi.iMode, 0),
		i(andK, r3, 0, 0, 0xf000),
		i(jneK, r3, 0, -2, 0xc000), // → own
		i(ldxDW, r3, r2, bi.iIno, 0),
		i(stxW, fp, r3, -4, 0),
		// own:
		i(call, 0, 0, 0, fnGetCurrentPidTgid),
		i(rshK, r0, 0, 0, 32),
		i(jneX, r0, r9, -3, 0), // → write
		i(stW, fp, 0, -16, 0),
		i(stxW, fp, r9, -12, 0),
		i(ldxDW, r1, r6, 0, 0), // meta
		i(ldxDW, r1, r1, 0, 0), // meta->seq
		i(movX, r2, fp, 0, 0),
		i(addK, r2, 0, 0, -16),
		i(movK, r3, 0, 0, 8),
		i(call, 0, 0, 0, fnSeqWrite),
		// write:
		i(ldxDW, r1, r6, 0, 0),
		i(ldxDW, r1, r1, 0, 0),
		i(movX, r2, fp, 0, 0),
		i(addK, r2, 0, 0, -8),
		i(movK, r3, 0, 0, 8),
		i(call, 0, 0, 0, fnSeqWrite),
		// exit:
		i(movK, r0, 0, 0, 0),
		i(exit, 0, 0, 0, 0),
	}
	// Resolve the labels: -1 exit, -2 own, -3 write.
	labels := map[int16]int{-1: len(p) - 2, -2: 15, -3: 26}
	for k := range p {
		if t, ok := labels[p[k].off]; ok && p[k].code&0x07 == 0x05 {
			p[k].off = int16(t - k - 1)
		}
	}
	return p
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// loadProgram loads the iterator program; the verifier checks each load
// against the kernel's types, so wrong offsets fail here, not at run time.
func loadProgram(bi btfInfo) (int, error) {
	p := program(bi)
	license := []byte("Dual MIT/GPL\x00") // bpf_seq_write is for GPL-compatible programs
	var log [4096]byte
	var attr struct {
		progType, insnCnt       uint32
		insns, license          uint64
		logLevel, logSize       uint32
		logBuf                  uint64
		kernVersion, progFlags  uint32
		progName                [16]byte
		progIfindex, attachType uint32
		progBTFFD, funcInfoSize uint32
		funcInfo                uint64
		funcInfoCnt, lineSize   uint32
		lineInfo                uint64
		lineInfoCnt, attachBTF  uint32
	}
	attr.progType, attr.insnCnt = progTypeTracing, uint32(len(p))
	attr.insns = uint64(uintptr(unsafe.Pointer(&p[0])))
	attr.license = uint64(uintptr(unsafe.Pointer(&license[0])))
	attr.attachType, attr.attachBTF = attachTraceIter, bi.iterFunc
	copy(attr.progName[:], "abusekit_fds")
	// The verifier gives up with EAGAIN when a signal is pending (the Go
	// runtime preempts with signals): try again, as libbpf does.
	fd, err := bpf(cmdProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	for try := 0; try < 20 && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)); try++ {
		fd, err = bpf(cmdProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	}
	if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
		// Again, with the verifier's log for the error.
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
		if fd, err = bpf(cmdProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
			n := 0
			for n < len(log) && log[n] != 0 {
				n++
			}
			err = fmt.Errorf("%w: %s", err, log[:n])
		}
	}
	runtime.KeepAlive(p)
	runtime.KeepAlive(license)
	runtime.KeepAlive(&log)
	if err != nil {
		return -1, fmt.Errorf("load program: %w", err)
	}
	return fd, nil
}

// readIter attaches the program as an iterator and reads it to the end.
func readIter(prog int, dst []File) ([]File, error) {
	var la struct {
		progFD, targetFD, attachType, flags uint32
		iterInfo                            uint64
		iterInfoLen, _                      uint32
	}
	la.progFD, la.attachType = uint32(prog), attachTraceIter
	link, err := bpf(cmdLinkCreate, unsafe.Pointer(&la), unsafe.Sizeof(la))
	if err != nil {
		return dst, fmt.Errorf("%w: link: %w", ErrUnsupported, err)
	}
	defer unix.Close(link)
	ia := struct{ linkFD, flags uint32 }{linkFD: uint32(link)}
	it, err := bpf(cmdIterCreate, unsafe.Pointer(&ia), unsafe.Sizeof(ia))
	if err != nil {
		return dst, fmt.Errorf("%w: iterator: %w", ErrUnsupported, err)
	}
	defer unix.Close(it)
	buf := make([]byte, 64<<10)
	self, pid := uint32(0), uint32(os.Getpid())
	start := len(dst)
	for again := 0; ; {
		n, err := unix.Read(it, buf)
		if err != nil {
			// EAGAIN: the kernel stopped after a million objects with
			// nothing to show; the next read goes on from there.
			if (errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN)) && again < 1000 {
				again++
				continue
			}
			return dst[:start], fmt.Errorf("taskfiles: read iterator: %w", err)
		}
		if n == 0 {
			break
		}
		if n%8 != 0 {
			return dst[:start], fmt.Errorf("taskfiles: read iterator: %d bytes, not whole records", n)
		}
		for b := buf[:n]; len(b) > 0; b = b[8:] {
			f := File{PID: binary.NativeEndian.Uint32(b), Inode: binary.NativeEndian.Uint32(b[4:])}
			if f.PID == 0 {
				self = f.Inode
				continue
			}
			dst = append(dst, f)
		}
	}
	if self != pid {
		// The kernel's numbers are not the ones this PID namespace sees.
		return dst[:start], fmt.Errorf("%w: the iterator numbers this process %d, not %d", ErrUnsupported, self, pid)
	}
	return dst, nil
}
