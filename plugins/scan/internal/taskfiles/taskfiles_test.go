package taskfiles

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readOrSkip runs Read, skipping the test where the iterator cannot run.
func readOrSkip(t *testing.T) []File {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program")
	}
	files, err := Read(nil)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("no BPF task_file iterator here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sockInode is the inode of socket fd.
func sockInode(t *testing.T, fd int) uint32 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Fatalf("fd %d is not a socket", fd)
	}
	return uint32(st.Ino)
}

// udpSockets opens n UDP sockets on loopback and returns their inodes.
func udpSockets(t *testing.T, n int) (map[uint32]bool, []*os.File) {
	t.Helper()
	inodes := map[uint32]bool{}
	var files []*os.File
	for range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.(*net.UDPConn).File() // a dup: the same socket
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		inodes[sockInode(t, int(f.Fd()))] = true
		files = append(files, f)
	}
	return inodes, files
}

// holders is every socket inode Read lists, with the processes listed as
// holding it, and the descriptor count of each process.
func holders(files []File) (map[uint32][]uint32, map[uint32]int) {
	socks, nfd := map[uint32][]uint32{}, map[uint32]int{}
	for _, f := range files {
		nfd[f.PID]++
		if f.Inode != 0 {
			socks[f.Inode] = append(socks[f.Inode], f.PID)
		}
	}
	return socks, nfd
}

// TestRead lists real sockets: those this process holds, one it shares
// with a child, and the child's other descriptors.
func TestRead(t *testing.T) {
	inodes, files := udpSockets(t, 50)
	child := exec.Command("/bin/sleep", "30")
	child.ExtraFiles = []*os.File{files[0]} // fd 3 of the child
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	// Wait for the exec: until then the child is a copy of this process
	// with its descriptors.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if exe, _ := os.Readlink("/proc/" + itoa(uint32(child.Process.Pid)) + "/exe"); strings.HasSuffix(exe, "sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("child did not exec sleep")
		}
	}
	shared := sockInode(t, int(files[0].Fd()))

	socks, nfd := holders(readOrSkip(t))
	self, kid := uint32(os.Getpid()), uint32(child.Process.Pid)
	for ino := range inodes {
		want := []uint32{self}
		if ino == shared {
			want = []uint32{self, kid}
		}
		got := socks[ino]
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("socket %d: holders %v, want %v", ino, got, want)
		}
	}
	if nfd[kid] < 4 { // stdin, stdout, stderr, the socket (and any this test inherited)
		t.Errorf("child: %d descriptors listed, want at least 4", nfd[kid])
	}
	// Every process /proc shows with descriptors, the iterator lists with
	// as many (give or take those opened or closed meanwhile: only
	// processes this test started are compared exactly).
	for _, pid := range []uint32{kid} {
		ents, err := os.ReadDir("/proc/" + itoa(pid) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != nfd[pid] {
			t.Errorf("pid %d: /proc lists %d descriptors, the iterator %d", pid, len(ents), nfd[pid])
		}
	}
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// ownTableEnv makes the test binary a helper: a thread of it unshares
// its descriptor table (CLONE_FILES), opens a socket there, prints the
// socket's inode and waits. A helper process, as the Go runtime may start
// threads of its own from the unshared one: they would share its table
// and hold copies of every descriptor of the test process.
const ownTableEnv = "ABUSEKIT_TASKFILES_OWN_TABLE"

// pidNSEnv makes the test binary a helper that runs Read and prints
// whether it wrapped ErrUnsupported (run in a PID namespace of its own).
const pidNSEnv = "ABUSEKIT_TASKFILES_PIDNS"

func TestMain(m *testing.M) {
	if os.Getenv(ownTableEnv) != "" {
		ownTableHelper()
		return
	}
	if os.Getenv(pidNSEnv) != "" {
		files, err := Read(nil)
		fmt.Printf("pid %d: %d files, unsupported=%v, err=%v\n", os.Getpid(), len(files), errors.Is(err, ErrUnsupported), err)
		return
	}
	os.Exit(m.Run())
}

// TestReadOtherPIDNamespace: in a PID namespace of its own the iterator
// numbers processes as the initial namespace does, not as the caller's
// /proc does: Read refuses (ErrUnsupported) and lists nothing, rather than
// hand out numbers of other processes.
func TestReadOtherPIDNamespace(t *testing.T) {
	readOrSkip(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pidNSEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("no new PID namespace: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "pid 1: 0 files, unsupported=true") {
		t.Errorf("in a new PID namespace: %s", out)
	}
}

func ownTableHelper() {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		if err := unix.Unshare(unix.CLONE_FILES); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		fmt.Println(st.Ino)
		<-done
	}()
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	close(done)
}

// TestReadOwnTable: a thread with a descriptor table of its own holds a
// socket /proc/PID/fd does not show; the iterator lists it under the
// thread group id.
func TestReadOwnTable(t *testing.T) {
	readOrSkip(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ownTableEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	var line string
	if _, err := fmt.Fscanln(out, &line); err != nil {
		t.Fatal(err)
	}
	ino, err := strconv.ParseUint(line, 10, 32)
	if err != nil {
		t.Skipf("helper: %s", line)
	}
	socks, _ := holders(readOrSkip(t))
	if h := socks[uint32(ino)]; len(h) != 1 || h[0] != uint32(cmd.Process.Pid) {
		t.Errorf("socket %d of a thread with its own table: holders %v, want [%d]", ino, h, cmd.Process.Pid)
	}
	// /proc/PID/fd is the leader's table: it does not show it.
	ents, _ := os.ReadDir("/proc/" + itoa(uint32(cmd.Process.Pid)) + "/fd")
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/" + itoa(uint32(cmd.Process.Pid)) + "/fd/" + e.Name()); l == "socket:["+line+"]" {
			t.Logf("/proc/%d/fd shows it too (fd %s)", cmd.Process.Pid, e.Name())
		}
	}
}

// signalling keeps signalling the calling thread (locked to it) every
// pause until the returned stop is called.
func signalling(t *testing.T, pause time.Duration) (stop func()) {
	runtime.LockOSThread()
	tid, pid := unix.Gettid(), os.Getpid()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
				unix.Tgkill(pid, tid, unix.SIGURG) // the Go runtime ignores a stray SIGURG
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}
	}()
	return func() { close(quit); <-done; runtime.UnlockOSThread() }
}

// TestReadSignals reads the iterator while another goroutine keeps
// signalling the reading thread: a read cut short must not end the
// listing.
func TestReadSignals(t *testing.T) {
	readOrSkip(t)
	inodes, _ := udpSockets(t, 1500)
	bi, err := kernelBTF()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := loadProgram(bi)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	stop := signalling(t, 0)
	defer stop()
	for i := range 5 {
		files, err := readIter(prog, nil)
		if err != nil {
			t.Fatal(err)
		}
		socks, _ := holders(files)
		n := 0
		for ino := range inodes {
			if len(socks[ino]) > 0 {
				n++
			}
		}
		if n != len(inodes) {
			t.Fatalf("read %d: %d of %d sockets listed", i, n, len(inodes))
		}
	}
}

// TestLoadSignals loads the program while the loading thread is
// signalled every millisecond (the runtime preempts a goroutine after 10
// ms): the verifier gives up with EAGAIN when a signal is pending, and
// Read tries again.
func TestLoadSignals(t *testing.T) {
	readOrSkip(t)
	stop := signalling(t, time.Millisecond)
	defer stop()
	for range 20 {
		if _, err := Read(nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProgramLoads checks the kernel's verifier accepts the program with
// the offsets found in this kernel's BTF.
func TestProgramLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program")
	}
	if _, err := os.Stat(vmlinuxBTF); err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	bi, err := kernelBTF()
	if err != nil {
		t.Fatal(err)
	}
	if bi.iterFunc == 0 || bi.fInode == 0 || bi.tgid == 0 || bi.iIno == 0 {
		t.Errorf("offsets %+v: a zero where the kernel has none", bi)
	}
	fd, err := loadProgram(bi)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	// A wrong offset for file.f_inode reads something that is not a
	// pointer to an inode: the verifier refuses it.
	bad := bi
	bad.fInode += 8
	if fd, err := loadProgram(bad); err == nil {
		unix.Close(fd)
		t.Error("program with a wrong f_inode offset loaded")
	}
}
