package rpmdb

import (
	_ "crypto/md5" // the digest algorithms rpm records
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
)

// Verify reports whether content has the digest rpm recorded for f. A
// file without a recorded digest (directory, link, ghost) or with an
// algorithm Go does not know gives ErrUnsupported.
func (f File) Verify(content io.Reader) (bool, error) {
	if f.Digest == "" {
		return false, fmt.Errorf("%w: %s has no recorded digest", ErrUnsupported, f.Path)
	}
	if f.Algo == 0 || !f.Algo.Available() {
		return false, fmt.Errorf("%w: %s: digest algorithm %v", ErrUnsupported, f.Path, f.Algo)
	}
	h := f.Algo.New()
	if _, err := io.Copy(h, content); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == f.Digest, nil
}
