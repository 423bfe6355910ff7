package procfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSockstatInUse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want int
	}{
		{"sockstat", string(readTestdata(t, "net_sockstat")), 30081 + 4},
		{"sockstat6", string(readTestdata(t, "net_sockstat6")), 3 + 2},
		{"empty", "", 0},
		{"raw and frag ignored", "RAW: inuse 7\nFRAG: inuse 9 memory 0\n", 0},
		{"no inuse field", "TCP: orphan 3\n", 0},
		{"bad number", "TCP: inuse x\nUDP: inuse 2\n", 2},
		{"no final newline", "UDP6: inuse 6", 6},
		{"too big", "TCP: inuse 99999999999\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseSockstatInUse([]byte(tc.in)); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSocketsInUse(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42", "net")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.SocketsInUse(42); err == nil {
		t.Fatal("no sockstat: want an error")
	}
	for _, name := range []string{"net_sockstat", "net_sockstat6"} {
		if err := os.WriteFile(filepath.Join(dir, name[len("net_"):]), readTestdata(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := fs.SocketsInUse(42)
	if err != nil || n != 30081+4+3+2 {
		t.Fatalf("SocketsInUse = %d, %v; want %d", n, err, 30081+4+3+2)
	}
	if err := os.Remove(filepath.Join(dir, "sockstat6")); err != nil {
		t.Fatal(err)
	}
	if n, err := fs.SocketsInUse(42); err != nil || n != 30081+4 {
		t.Fatalf("without sockstat6: %d, %v", n, err)
	}
}
