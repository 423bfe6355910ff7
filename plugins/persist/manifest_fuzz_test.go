package persist

import (
	"errors"
	"testing"
)

// FuzzOpenManifest feeds arbitrary bytes to the manifest reader: a clear
// ErrBadManifest or a manifest whose MAC checked, never a panic; a sealed
// manifest always opens with its key.
func FuzzOpenManifest(f *testing.F) {
	key := []byte("fuzz-key-0123456789abcdef")
	good, _ := sealManifest(&Manifest{Version: 2, Root: "/", Entries: []Entry{{Seq: 1, Op: OpUnlink, Path: "/etc/cron.d/x", LinkTarget: "/etc/shadow"}}}, key)
	f.Add(good)
	f.Add([]byte(`{"version":1,"entries":[]}`))
	f.Add([]byte(`{"format":"abusekit-manifest/2","hmac_sha256":"zz","manifest":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := openManifest(b, key, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error is not ErrBadManifest: %v", err)
			}
			return
		}
		again, err := sealManifest(m, key)
		if err != nil {
			return // a value that does not marshal back (NaN-free JSON always does)
		}
		if _, err := openManifest(again, key, "again"); err != nil {
			t.Fatalf("resealed manifest does not open: %v", err)
		}
	})
}
