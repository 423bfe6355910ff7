package procfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSockstat(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want SocketCounts
	}{
		{"sockstat", string(readTestdata(t, "net_sockstat")), SocketCounts{TCP: 30081, UDP: 4}},
		{"sockstat6", string(readTestdata(t, "net_sockstat6")), SocketCounts{TCP6: 3, UDP6: 2}},
		{"empty", "", SocketCounts{}},
		{"raw and frag ignored", "RAW: inuse 7\nFRAG: inuse 9 memory 0\n", SocketCounts{}},
		{"no inuse field", "TCP: orphan 3\n", SocketCounts{}},
		{"bad number", "TCP: inuse x\nUDP: inuse 2\n", SocketCounts{UDP: 2}},
		{"no final newline", "UDP6: inuse 6", SocketCounts{UDP6: 6}},
		{"too big", "TCP: inuse 99999999999\n", SocketCounts{}},
		{"repeated line saturates", "TCP: inuse 2147483647\nTCP: inuse 5\n", SocketCounts{TCP: 1<<31 - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got SocketCounts
			parseSockstat([]byte(tc.in), &got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSocketCounts(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42", "net")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.SocketCounts(42); err == nil {
		t.Fatal("no sockstat: want an error")
	}
	for _, name := range []string{"net_sockstat", "net_sockstat6"} {
		if err := os.WriteFile(filepath.Join(dir, name[len("net_"):]), readTestdata(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := fs.SocketCounts(42)
	if want := (SocketCounts{TCP: 30081, UDP: 4, TCP6: 3, UDP6: 2}); err != nil || c != want {
		t.Fatalf("SocketCounts = %+v, %v; want %+v", c, err, want)
	}
	if c.Total() != 30081+4+3+2 {
		t.Errorf("Total = %d", c.Total())
	}
	if err := os.Remove(filepath.Join(dir, "sockstat6")); err != nil {
		t.Fatal(err)
	}
	c, err = fs.SocketCounts(42)
	if want := (SocketCounts{TCP: 30081, UDP: 4, NoIPv6: true}); err != nil || c != want {
		t.Fatalf("without sockstat6: %+v, %v; want %+v", c, err, want)
	}
}
