package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The demo's scanner is a real process: this executable, hard-linked (or
// copied) to a hidden directory under the demo's tmp as .work32, started
// with envDemoScanner naming its targets, and then deleted from disk as
// work32 was. It opens non-blocking TCP connections to loopback listeners
// whose accept queues are full (listen backlog 0, nobody accepts): their
// SYNs go unanswered, so its sockets sit in SYN_SENT exactly as an
// infected instance's do, and no packet leaves the machine. It stops by
// itself after demoScannerLife.
const (
	envDemoScanner  = "ABUSEKIT_DEMO_SCANNER"
	demoScannerLife = 2 * time.Minute
	demoListeners   = 24 // distinct ports: well past detect's fan-out thresholds
	demoConnsPerDst = 3  // the first completes into the full queue, the rest stay in SYN_SENT
)

// serveDemoScanner runs the scanner when this process was started as one;
// it returns only when it was not.
func serveDemoScanner() {
	spec := os.Getenv(envDemoScanner)
	if spec == "" {
		return
	}
	os.Exit(demoScanner(spec))
}

func demoScanner(spec string) int {
	var fds []int
	deadline := time.Now().Add(demoScannerLife)
	for round := 0; round < demoConnsPerDst; round++ {
		for _, t := range strings.Split(spec, ",") {
			ap, err := netip.ParseAddrPort(t)
			if err != nil || !ap.Addr().IsLoopback() || !ap.Addr().Is4() {
				fmt.Fprintf(os.Stderr, "demo scanner: %q is not a loopback IPv4 address and port\n", t)
				return 2
			}
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "demo scanner:", err)
				return 1
			}
			err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
			if err != nil && !errors.Is(err, syscall.EINPROGRESS) {
				fmt.Fprintln(os.Stderr, "demo scanner:", err)
				return 1
			}
			fds = append(fds, fd)
		}
		time.Sleep(20 * time.Millisecond) // a first round fills the queues
	}
	time.Sleep(time.Until(deadline))
	for _, fd := range fds {
		syscall.Close(fd)
	}
	return 0
}

// demoScan is the scanner the demo started and the listeners it scans.
type demoScan struct {
	cmd       *exec.Cmd
	done      chan struct{} // closed once the scanner is reaped
	listeners []int
	exe       string // where it ran from (deleted once it started)
}

// startDemoScanner starts the scanner from dir (the demo's tmp).
func startDemoScanner(dir string) (_ *demoScan, err error) {
	s := &demoScan{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var targets []string
	for range demoListeners {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		s.listeners = append(s.listeners, fd)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
		if err := syscall.Listen(fd, 0); err != nil { // never accepted: the queue fills at once
			return nil, err
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			return nil, err
		}
		targets = append(targets, "127.0.0.1:"+strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	hidden := filepath.Join(dir, ".X11-unix")
	if err := os.MkdirAll(hidden, 0o700); err != nil {
		return nil, err
	}
	s.exe = filepath.Join(hidden, ".work32")
	if err := os.Link(self, s.exe); err != nil {
		if err := copyFile(self, s.exe); err != nil {
			return nil, err
		}
	}
	s.cmd = exec.Command(s.exe)
	s.cmd.Env = []string{envDemoScanner + "=" + strings.Join(targets, ","), "PATH=/usr/bin:/bin"}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	// Reaped as soon as it dies (stop waits for it to be gone, not a
	// zombie); Kill goes through the pidfd Go holds, never a reused PID.
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	// Wait until its sockets are there, then delete its executable.
	for deadline := time.Now().Add(10 * time.Second); synSent(s.cmd.Process.Pid) < demoListeners; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, errors.New("the demo scanner opened no connections")
		}
	}
	return s, os.Remove(s.exe)
}

// synSent counts the IPv4 sockets in SYN_SENT in the process's network
// namespace.
func synSent(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[3] == "02" {
			n++
		}
	}
	return n
}

// Alive reports whether the scanner has not yet exited.
func (s *demoScan) Alive() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// PID is the scanner's process ID.
func (s *demoScan) PID() int { return s.cmd.Process.Pid }

// Close kills the scanner if it still runs (it is this process's child:
// by PID, and reaped) and closes the listeners.
func (s *demoScan) Close() {
	if s.done != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
	for _, fd := range s.listeners {
		syscall.Close(fd)
	}
	if s.exe != "" {
		os.Remove(s.exe)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
