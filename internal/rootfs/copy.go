package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopySparse copies the regular file src to dst from offset 0, writing
// only its data extents (found with SEEK_DATA/SEEK_HOLE) so holes stay
// holes, and feeds every byte of the logical content (holes as zeros) to
// h when h is not nil. At most max bytes of data are copied (max <= 0:
// no limit); more is ErrTooLarge. It returns the logical size copied and
// the data bytes written. A file system without SEEK_DATA is copied
// densely.
func CopySparse(dst, src *os.File, max int64, h io.Writer) (size, data int64, err error) {
	var off int64
	buf := make([]byte, 256<<10)
	zeros := func(n int64) error {
		if h == nil {
			return nil
		}
		var z [32 << 10]byte
		for n > 0 {
			k := int64(len(z))
			if n < k {
				k = n
			}
			if _, err := h.Write(z[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	sparse := true
	for {
		start, end := off, int64(-1)
		if sparse {
			s, err := unix.Seek(int(src.Fd()), off, unix.SEEK_DATA)
			switch {
			case errors.Is(err, syscall.ENXIO):
				start = -1 // no data after off: the rest is a hole
			case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP):
				sparse = false
			case err != nil:
				return off, data, fmt.Errorf("rootfs: seek data %s: %w", src.Name(), err)
			default:
				start = s
				e, err := unix.Seek(int(src.Fd()), s, unix.SEEK_HOLE)
				if err != nil {
					return off, data, fmt.Errorf("rootfs: seek hole %s: %w", src.Name(), err)
				}
				end = e
			}
		}
		if start < 0 {
			fi, err := src.Stat()
			if err != nil {
				return off, data, err
			}
			if fi.Size() > off {
				if err := zeros(fi.Size() - off); err != nil {
					return off, data, err
				}
				off = fi.Size()
			}
			break
		}
		if err := zeros(start - off); err != nil {
			return off, data, err
		}
		off = start
		// Copy [off, end) (or to EOF when end is unknown).
		stop := false
		for end < 0 || off < end {
			want := int64(len(buf))
			if end >= 0 && end-off < want {
				want = end - off
			}
			n, rerr := src.ReadAt(buf[:want], off)
			if n > 0 {
				data += int64(n)
				if max > 0 && data > max {
					return off, data, fmt.Errorf("%w: %s has more than %d bytes of data", ErrTooLarge, src.Name(), max)
				}
				if _, err := dst.WriteAt(buf[:n], off); err != nil {
					return off, data, err
				}
				if h != nil {
					if _, err := h.Write(buf[:n]); err != nil {
						return off, data, err
					}
				}
				off += int64(n)
			}
			if rerr == io.EOF {
				stop = true
				break
			}
			if rerr != nil {
				return off, data, rerr
			}
		}
		if stop {
			break
		}
	}
	if err := dst.Truncate(off); err != nil {
		return off, data, err
	}
	return off, data, nil
}
