package rpmdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzBDB: any file gives key/value pairs or an error wrapping one of the
// package's sentinels, never a panic, a hang or an allocation beyond the
// limits; every page is read at most once.
func FuzzBDB(f *testing.F) {
	// The seed corpus files (db_load-made, see TestUpdateSeeds) double as
	// f.Add seeds with their metadata page mutated.
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzBDB/*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 {
			continue
		}
		q := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		data, err := strconv.Unquote(q)
		if err != nil {
			f.Fatalf("%s: %v", s, err)
		}
		d := []byte(data)
		if len(d) > 80 {
			m := bytes.Clone(d)
			m[72] = 7 // more buckets
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBDB(t, data)
		// Most mutations break the metadata page and stop there; a
		// second pass with its framing repaired reaches the pages.
		if len(data) >= 512 {
			m := bytes.Clone(data)
			binary.LittleEndian.PutUint32(m[12:], hashMagic)
			binary.LittleEndian.PutUint32(m[16:], 9)
			binary.LittleEndian.PutUint32(m[20:], 512)
			m[24], m[25] = 0, pHashMeta
			checkBDB(t, m)
		}
	})
}

// checkBDB walks data as a database: errors wrap a sentinel, values stay
// within the limit, and no page is read twice.
func checkBDB(t *testing.T, data []byte) {
	reads := 0
	r := &countingReader{r: bytes.NewReader(data), n: &reads}
	err := walkBDB(context.Background(), r, int64(len(data)), 1<<16, func(hnum uint32, v []byte) error {
		if len(v) > 1<<16 {
			t.Fatalf("value of %d bytes past the limit", len(v))
		}
		_, err := parseHeader(v, 1000)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrLimit) {
			t.Fatalf("header error %v", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v wraps no sentinel", err)
	}
	if pages := len(data)/512 + 1; reads > pages+1 {
		t.Fatalf("%d reads of a file of at most %d pages", reads, pages)
	}
}

type countingReader struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n *int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	*c.n++
	return c.r.ReadAt(p, off)
}
