package scan

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stratumMiner is a miner's network side under a harmless name (the test
// binary's): it connects to the pool at addr, logs in as xmrig does (a
// JSON-RPC "login" with a wallet, a password and an agent), reads the job
// and then sends a "keepalived" every 100 ms, for at most 60 s. It uses
// no CPU to speak of, and the pool port is no pool port.
func stratumMiner(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(c, `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","algo":["rx/0"]}}`+"\n")
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		panic(err)
	}
	go func() {
		for i := 2; i < 600; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := fmt.Fprintf(c, `{"id":%d,"jsonrpc":"2.0","method":"keepalived","params":{"id":"a1b2c3"}}`+"\n", i); err != nil {
				os.Exit(0)
			}
			if _, err := r.ReadString('\n'); err != nil {
				os.Exit(0)
			}
		}
		os.Exit(0)
	}()
}

// servePool is a stratum pool on a loopback port: it answers a login with
// a job and anything else with a status, one line for each line.
func servePool(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewScanner(c)
			for r.Scan() {
				reply := `{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}`
				if bytes.Contains(r.Bytes(), []byte(`"method":"login"`)) {
					reply = `{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"a1b2c3","job":{"blob":"0e0e","job_id":"1","target":"b88d0600","algo":"rx/0","height":3000000,"seed_hash":"00"},"extensions":["algo","keepalive"],"status":"OK"}}`
				}
				if _, err := fmt.Fprintln(c, reply); err != nil {
					return
				}
			}
		}()
	}
}

// udpSend sends UDP datagrams from a network namespace of its own (its
// loopback up), 2,000 a second for at most 60 s: to port after port of
// 127.0.0.1 (a UDP scan: every datagram a new destination) when scan is
// set, else all to one port (a chatty client of one service).
func udpSend(scan bool) {
	ready := make(chan error)
	go func() {
		if err := ownLoopback(); err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			ready <- err
			return
		}
		ready <- nil
		start := time.Now()
		msg := []byte("probe")
		for i := 0; time.Since(start) < 60*time.Second; i++ {
			port := 5353
			if scan {
				port = 1 + i%60000
			}
			unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
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

// outcomes makes connection attempts with the three outcomes from the
// named network namespace, 50 rounds a second for at most 60 s, each
// round: one to a listener on its loopback (answered), two to closed
// ports of its loopback (refused: RST) and two to victim, whose replies
// are black-holed (unanswered: closed by this process 200 ms later, still
// in SYN_SENT).
func outcomes(ns, victim string) {
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ready <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			ready <- err
			return
		}
		lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
		}
		if err == nil {
			err = unix.Listen(lfd, 4096)
		}
		if err != nil {
			ready <- err
			return
		}
		sa, err := unix.Getsockname(lfd)
		if err != nil {
			ready <- err
			return
		}
		lport := sa.(*unix.SockaddrInet4).Port
		vip := netip.MustParseAddr(victim).As4()
		ready <- nil
		var pending []int
		start := time.Now()
		for i := 0; time.Since(start) < 60*time.Second; i++ {
			// answered: accepted by the kernel, closed at once
			if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); err == nil {
				unix.Connect(fd, &unix.SockaddrInet4{Port: lport, Addr: [4]byte{127, 0, 0, 1}})
				unix.Close(fd)
			}
			if afd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK); err == nil {
				unix.Close(afd)
			}
			for j := range 2 {
				if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); err == nil {
					unix.Connect(fd, &unix.SockaddrInet4{Port: 20000 + (2*i+j)%20000, Addr: [4]byte{127, 0, 0, 1}})
					unix.Close(fd)
				}
				if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0); err == nil {
					unix.Connect(fd, &unix.SockaddrInet4{Port: 1 + (2*i+j)%1000, Addr: vip})
					pending = append(pending, fd)
				}
			}
			if len(pending) > 20 { // 10 rounds, 200 ms
				for _, fd := range pending[:2] {
					unix.Close(fd)
				}
				pending = pending[2:]
			}
			if ahead := time.Duration(i+1)*20*time.Millisecond - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		os.Exit(0)
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
}

// spawnChildren starts n children running sleep, each killed if this
// process dies (PR_SET_PDEATHSIG): a parent keeping a set of the same
// program running, as a supervisor does.
func spawnChildren(n int) {
	for range n {
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		spawned = append(spawned, cmd)
	}
}

var spawned []*exec.Cmd

// stuckPool is a connection pool stuck on a dead database: from the named
// network namespace it keeps 10 connections to victim:5432, whose replies
// are black-holed, each given up after 500 ms and tried again, for at
// most 60 s: 20 attempts a second to one host and port, all unanswered.
func stuckPool(ns, victim string) {
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ready <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		ready <- err
		vip := netip.MustParseAddr(victim).As4()
		slots := make([]int, 10)
		start := time.Now()
		for i := 0; time.Since(start) < 60*time.Second; i++ {
			k := i % len(slots)
			if slots[k] > 0 {
				unix.Close(slots[k])
			}
			if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0); err == nil {
				unix.Connect(fd, &unix.SockaddrInet4{Port: 5432, Addr: vip})
				slots[k] = fd
			}
			time.Sleep(50 * time.Millisecond)
		}
		os.Exit(0)
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
}

// icmpSend is a monitoring pinger (fping's way): from a raw ICMP socket in
// a network namespace of its own, echo requests to 127.0.0.1, 2,000 a
// second, for at most 60 s.
func icmpSend() {
	ready := make(chan error)
	go func() {
		if err := ownLoopback(); err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err != nil {
			ready <- err
			return
		}
		ready <- nil
		start := time.Now()
		for i := 0; time.Since(start) < 60*time.Second; i++ {
			echo := []byte{8, 0, 0, 0, 0x12, 0x34, byte(i >> 8), byte(i)}
			sum := uint32(0)
			for j := 0; j < len(echo); j += 2 {
				sum += uint32(echo[j])<<8 | uint32(echo[j+1])
			}
			for sum > 0xffff {
				sum = sum>>16 + sum&0xffff
			}
			echo[2], echo[3] = byte(^sum>>8), byte(^sum)
			unix.Sendto(fd, echo, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
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
