package scan

import (
	"context"
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

// helperEnv makes the test binary act as a helper process instead of
// running tests: "busy" (a benign loopback server), "hold:N" (N loopback
// connections held open, for benchmarks).
const helperEnv = "ABUSEKIT_SCAN_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		runHelper(h)
		os.Exit(0)
	}
	code := m.Run()
	stopLoad()
	os.Exit(code)
}

func runHelper(h string) {
	if h == "detect-once" {
		// One-shot Detect in a fresh process, for BenchmarkDetectProcs.
		if _, err := Detect(context.Background(), Options{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	// Die with the test: the parent's death closes our stdin.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	switch {
	case h == "busy":
		busyServer()
	case h == "own-table":
		ownTable()
	case h == "rawsend":
		rawSend()
	case h == "capture":
		captureOnly()
	case h == "connscan":
		connScan(25000)
	case strings.HasPrefix(h, "connscan:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(h, "connscan:"))
		connScan(max(n, 1))
	case strings.HasPrefix(h, "stratum:"):
		stratumMiner(strings.TrimPrefix(h, "stratum:"))
	case h == "icmpsend":
		icmpSend()
	case h == "udpscan":
		udpSend(true)
	case h == "udpone":
		udpSend(false)
	case strings.HasPrefix(h, "outcomes:"):
		ns, victim, _ := strings.Cut(strings.TrimPrefix(h, "outcomes:"), ":")
		outcomes(ns, victim)
	case strings.HasPrefix(h, "pool:"):
		ns, victim, _ := strings.Cut(strings.TrimPrefix(h, "pool:"), ":")
		stuckPool(ns, victim)
	case strings.HasPrefix(h, "spawn:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(h, "spawn:"))
		spawnChildren(n)
	case strings.HasPrefix(h, "hold:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(h, "hold:"))
		holdConns(n)
	}
	fmt.Println("ready")
	select {}
}

// busyServer is a benign server: hundreds of established loopback
// connections, echo traffic on them, reconnects, and some CPU.
func busyServer() {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	conns := make([]net.Conn, 300)
	for i := range conns {
		if conns[i], err = net.Dial("tcp4", ln.Addr().String()); err != nil {
			panic(err)
		}
	}
	// Echo traffic paced at a few thousand messages a second, a
	// reconnect now and then, and a slice of busy CPU: a busy server, but
	// nowhere near a core (about a fifth of one, more under -race).
	go func() {
		buf := make([]byte, 64)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			<-tick.C
			for j := range 3 {
				c := conns[(i*3+j)%len(conns)]
				c.Write(buf)
				io.ReadFull(c, buf)
			}
			if i%50 == 0 { // churn: replace a connection now and then
				k := i % len(conns)
				conns[k].Close()
				if nc, err := net.Dial("tcp4", ln.Addr().String()); err == nil {
					conns[k] = nc
				}
			}
			if i%20 == 0 {
				for t := time.Now(); time.Since(t) < 2*time.Millisecond; {
				}
			}
		}
	}()
}

// connScan is a connect scanner whose targets answer with RST: in a
// network namespace of its own (its loopback up, nothing listening), one
// thread connects to port after port of 127.0.0.1 at up to rate attempts
// a second ("connscan" 25,000, "connscan:N" N), each refused at once. It
// stops by itself after 60 s.
func connScan(rate int) {
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			ready <- err
			return
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			ready <- err
			return
		}
		ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
		err = unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
		unix.Close(s)
		ready <- err
		start := time.Now()
		deadline := start.Add(60 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				continue
			}
			unix.Connect(fd, &unix.SockaddrInet4{Port: 1 + i%60000, Addr: [4]byte{127, 0, 0, 1}})
			unix.Close(fd)
			if i%100 == 99 { // paced: attempt i is due at i/rate seconds
				if ahead := time.Duration(float64(i+1)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		os.Exit(0)
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
}

// ownLoopback moves the calling thread, locked to it for good, into a
// network namespace of its own with its loopback up.
func ownLoopback() error {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return err
	}
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	return unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
}

// rawSend is a raw SYN sender (hping3's way): from a raw IP socket in a
// network namespace of its own, hand-built TCP SYNs to port after port of
// 127.0.0.1, 2,000 a second. It stops by itself after 60 s.
func rawSend() {
	ready := make(chan error)
	go func() {
		if err := ownLoopback(); err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
		if err != nil {
			ready <- err
			return
		}
		holdRaw = fd
		ready <- nil
		syn := make([]byte, 20)
		syn[0], syn[1] = 0xc3, 0x50 // source port 50000
		syn[12] = 5 << 4            // data offset: 5 words
		syn[13] = 0x02              // SYN
		syn[14], syn[15] = 0xff, 0xff
		start := time.Now()
		for i := 0; time.Since(start) < 60*time.Second; i++ {
			port := 1 + i%60000
			syn[2], syn[3] = byte(port>>8), byte(port)
			unix.Sendto(fd, syn, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
			if i%20 == 19 {
				if ahead := time.Duration(float64(i+1)/2000*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		os.Exit(0)
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
}

var holdRaw int

// captureOnly is a capturer (tcpdump's way): an AF_PACKET socket taking
// every protocol, in a network namespace of its own, that only reads.
func captureOnly() {
	ready := make(chan error)
	go func() {
		if err := ownLoopback(); err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			ready <- err
			return
		}
		ready <- nil
		buf := make([]byte, 65536)
		for {
			if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil && err != unix.EINTR {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// holdConns opens n connections to its own loopback listener and keeps
// both ends: 2n+1 sockets.
func holdConns(n int) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < uint64(2*n+64) {
		lim.Cur = min(max(lim.Max, uint64(2*n+64)), uint64(2*n+64))
		if lim.Max < lim.Cur {
			lim.Max = lim.Cur
		}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var keep []net.Conn
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		s, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		keep = append(keep, c, s)
	}
	holdKeep = keep
}

var holdKeep []net.Conn

// ownTable holds a UDP socket, then gives a thread a descriptor table of
// its own (unshare CLONE_FILES): a copy, so the socket is in both tables
// of the one process.
func ownTable() {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	holdPacket = c
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		done <- unix.Unshare(unix.CLONE_FILES)
		select {}
	}()
	if err := <-done; err != nil {
		panic(err)
	}
}

var holdPacket net.PacketConn

// startHelper starts the test binary as a helper and waits for it to be
// ready. It is killed (by PID) and reaped at cleanup.
func startHelper(t testing.TB, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper %s: %q %v", mode, buf, err)
	}
	return cmd
}
