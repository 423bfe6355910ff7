package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/scan"
	"golang.org/x/sys/unix"
)

// TestWindowSaysAttribution: with -window on the live host, the output
// says how Detect watched the window: connection attempts attributed live
// with BPF (and whether stratum was looked for), or only sampled and why;
// a snapshot says nothing.
func TestWindowSaysAttribution(t *testing.T) {
	t.Cleanup(func() { detect = scan.DetectAll })
	for _, tc := range []struct {
		attr *scan.Attribution
		args []string
		want string
	}{
		{&scan.Attribution{Live: true, Stratum: true}, []string{"-window", "1s"}, "connection attempts attributed live with BPF; first bytes of TCP sends looked at for stratum\n"},
		{&scan.Attribution{Live: true, StratumWhy: "no tracepoint"}, []string{"-window", "1s"}, "attributed live with BPF; stratum not looked for (no tracepoint)"},
		{&scan.Attribution{Why: "scan: live BPF attribution unavailable here: no BTF"}, []string{"-window", "1s"}, "not attributed live (scan: live BPF attribution unavailable here: no BTF)"},
		{&scan.Attribution{Why: "no BTF"}, []string{"-window", "1s", "-json"}, `"attribution":"connection attempts sampled every 250ms, not attributed live (no BTF)`},
		{nil, []string{}, ""},
	} {
		detect = func(ctx context.Context, o scan.Options) (scan.Detection, error) {
			return scan.Detection{Attribution: tc.attr}, nil
		}
		var out, errb bytes.Buffer
		if err := run(tc.args, &out, &errb); err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if strings.Contains(out.String(), "attribut") {
				t.Errorf("%v: %s", tc.args, out.String())
			}
		} else if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out.String())
		}
	}
}

// TestWindowAttributionLive: on the live host, -window says what the Watch
// Detect ran did (one program load, not a separate check).
func TestWindowAttributionLive(t *testing.T) {
	testenv.NeedRoot(t, "loads BPF programs")
	if err := scan.WatchSupported(); errors.Is(err, scan.ErrWatchUnsupported) {
		testenv.Skipf(t, "%v", err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-window", "300ms", "-min-score", "1000"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "connection attempts attributed live with BPF") {
		t.Errorf("output:\n%s", out.String())
	}
}

// ownLoopback moves the calling thread (locked to its goroutine) into a
// network namespace of its own and brings its loopback up: traffic there
// reaches nothing outside the test.
func ownLoopback() error {
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

// TestWatchMode: -watch prints this test process as soon as a thread of it
// connects to closed ports of a loopback of its own (a network namespace
// of that thread) faster than -watch-rate, and stops after -watch-for.
func TestWatchMode(t *testing.T) {
	testenv.NeedRoot(t, "loads a BPF program")
	if err := scan.WatchSupported(); errors.Is(err, scan.ErrWatchUnsupported) {
		testenv.Skipf(t, "%v", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		err := ownLoopback()
		ready <- err
		if err != nil {
			return
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				continue
			}
			unix.Connect(fd, &unix.SockaddrInet4{Port: 1 + i%60000, Addr: [4]byte{127, 0, 0, 1}})
			unix.Close(fd)
			if i%100 == 99 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-watch", "-watch-for", "2s", "-watch-rate", "200"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pid %d (", os.Getpid())
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "connection attempts/s") {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}

// TestWatchModeRaw: -watch prints a process sending hand-built packets from
// a raw IP socket (a thread of this test, in a network namespace of its
// own, sending TCP SYNs to its loopback).
func TestWatchModeRaw(t *testing.T) {
	testenv.NeedRoot(t, "loads a BPF program")
	if err := scan.WatchSupported(); errors.Is(err, scan.ErrWatchUnsupported) {
		testenv.Skipf(t, "%v", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		if err := ownLoopback(); err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
		if err != nil {
			ready <- err
			return
		}
		defer unix.Close(fd)
		ready <- nil
		syn := make([]byte, 20)
		syn[12], syn[13] = 5<<4, 0x02
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			syn[2], syn[3] = byte(i>>8), byte(i)
			unix.Sendto(fd, syn, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
			time.Sleep(time.Millisecond)
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-watch", "-watch-for", "2s", "-watch-rate", "100"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pid %d (", os.Getpid())
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "packets/s sent from raw IP sockets") {
		t.Errorf("output lacks %q sending raw packets:\n%s", want, out.String())
	}
}

// TestWatchModeStratum: -watch prints a process speaking stratum (this
// test: a goroutine sends an xmrig login, then keepalived lines, to a
// loopback pool it also runs) however slow it is, as a miner.
func TestWatchModeStratum(t *testing.T) {
	testenv.NeedRoot(t, "loads a BPF program")
	if err := scan.WatchSupported(); errors.Is(err, scan.ErrWatchUnsupported) {
		testenv.Skipf(t, "%v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 1; ; i++ {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				return
			}
			fmt.Fprintf(c, `{"id":%d,"jsonrpc":"2.0","method":"login","params":{"login":"4Ad","pass":"x","agent":"XMRig/6.21.0"}}`+"\n", i)
			select {
			case <-stop:
				c.Close()
				return
			case <-time.After(100 * time.Millisecond):
			}
			c.Close()
		}
	}()
	var out, errb bytes.Buffer
	if err := run([]string{"-watch", "-watch-for", "2s"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pid %d (", os.Getpid())
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), `speaks stratum ("login") to `+ln.Addr().String()) {
		t.Errorf("output lacks %q speaking stratum:\n%s", want, out.String())
	}
}
