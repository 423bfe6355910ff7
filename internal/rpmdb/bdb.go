package rpmdb

import (
	"context"
	"fmt"

	"github.com/abusekit/abusekit/internal/rootfs"
)

func readBDB(ctx context.Context, r *rootfs.FS, name string, lim Limits, add func(uint32, []byte) error) error {
	fh, err := r.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	return fmt.Errorf("%w: Berkeley DB not yet read", ErrUnsupported)
}
