package procfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseFileNr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{string(readTestdata(t, "sys_fs_file_nr")), 2176, true},
		{"0\t0\t100\n", 0, true},
		{"42", 42, true},
		{"  7 0 1", 7, true},
		{"", 0, false},
		{"\n12\t0\t1\n", 0, false},
		{"-1\t0\t1\n", 0, false},
		{"x\t0\t1\n", 0, false},
		{"99999999999999999999\t0\t1\n", 0, false},
	} {
		got, err := parseFileNr([]byte(tc.in))
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%q: %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrFileParse) {
			t.Errorf("%q: %d, %v; want ErrFileParse", tc.in, got, err)
		}
	}
}

func TestFileHandles(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys", "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys", "fs", "file-nr"), readTestdata(t, "sys_fs_file_nr"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fs.FileHandles(); err != nil || n != 2176 {
		t.Errorf("FileHandles = %d, %v; want 2176", n, err)
	}
	if _, err := NewDefaultFS().FileHandles(); err != nil {
		if _, serr := os.Stat("/proc/sys/fs/file-nr"); serr == nil {
			t.Errorf("live: %v", err)
		}
	}
}

func FuzzParseFileNr(f *testing.F) {
	f.Add(readTestdata(f, "sys_fs_file_nr"))
	f.Add([]byte("0\t0\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseFileNr(b)
		if err == nil && n < 0 {
			t.Errorf("negative count %d", n)
		}
	})
}
