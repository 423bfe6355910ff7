package scan

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/testenv"
)

// TestDetectLiveBenign runs Detect on the live host with a real busy
// server (300 established loopback connections, reconnects, some CPU): it
// must not be listed, over a window or in one snapshot.
func TestDetectLiveBenign(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		testenv.Skipf(t, "no live /proc")
	}
	srv := startHelper(t, "busy")
	time.Sleep(300 * time.Millisecond)
	for _, w := range []time.Duration{0, time.Second} {
		sus, err := Detect(context.Background(), Options{Window: w})
		if err != nil {
			t.Fatal(err)
		}
		if s := find(sus, srv.Process.Pid); s != nil {
			t.Errorf("window %s: busy benign server listed: %v", w, s.Reasons)
		}
	}
	// It is seen, with its sockets and its CPU, when everything is listed.
	sus, err := Detect(context.Background(), Options{MinScore: -1, MaxSockets: 1000, Window: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s := find(sus, srv.Process.Pid); s != nil {
		t.Logf("busy server when everything is listed: %.0f%% CPU, %d sockets, %v", s.CPUPercent, s.SocketCount, s.Reasons)
	}
	socks, err := Sockets(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range socks {
		for _, p := range s.PIDs {
			if p == srv.Process.Pid && s.State == "ESTABLISHED" {
				n++
			}
		}
	}
	if n < 550 { // 300 connections, both ends, a few mid-reconnect
		t.Errorf("Sockets shows %d established sockets of the server, want ≥ 550", n)
	}
}
