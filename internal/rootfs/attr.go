package rootfs

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Inode flags (chattr) from linux/fs.h.
const (
	FlagAppend    uint32 = 0x00000020 // FS_APPEND_FL, chattr +a
	FlagImmutable uint32 = 0x00000010 // FS_IMMUTABLE_FL, chattr +i
)

const fsIocSetflags = 0x40086602 // FS_IOC_SETFLAGS

// ErrFlagsUnsupported is returned (wrapped) when the file system does not
// support inode flags (tmpfs, overlayfs on some kernels).
var ErrFlagsUnsupported = errors.New("rootfs: file system does not support inode flags")

// Flags reads the inode flags (lsattr) of an open file.
func Flags(fh *os.File) (uint32, error) {
	v, err := unix.IoctlGetInt(int(fh.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		if errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) {
			return 0, fmt.Errorf("%w: %s: %w", ErrFlagsUnsupported, fh.Name(), err)
		}
		return 0, fmt.Errorf("rootfs: FS_IOC_GETFLAGS %s: %w", fh.Name(), err)
	}
	return uint32(v), nil
}

// SetFlags writes the inode flags (chattr) of an open file. Changing
// FlagImmutable or FlagAppend needs CAP_LINUX_IMMUTABLE.
func SetFlags(fh *os.File, flags uint32) error {
	if err := unix.IoctlSetPointerInt(int(fh.Fd()), fsIocSetflags, int(flags)); err != nil {
		if errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EOPNOTSUPP) {
			return fmt.Errorf("%w: %s: %w", ErrFlagsUnsupported, fh.Name(), err)
		}
		return fmt.Errorf("rootfs: FS_IOC_SETFLAGS %s: %w", fh.Name(), err)
	}
	return nil
}

// Xattrs reads every extended attribute of an open file that the caller
// may read (trusted.* needs CAP_SYS_ADMIN; unreadable ones are skipped).
func Xattrs(fh *os.File) (map[string][]byte, error) {
	fd := int(fh.Fd())
	sz, err := unix.Flistxattr(fd, nil)
	if err != nil {
		if errors.Is(err, syscall.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("rootfs: listxattr %s: %w", fh.Name(), err)
	}
	if sz == 0 {
		return nil, nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Flistxattr(fd, buf)
	if err != nil {
		return nil, fmt.Errorf("rootfs: listxattr %s: %w", fh.Name(), err)
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(string(buf[:sz]), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			continue
		}
		v := make([]byte, n)
		n, err = unix.Fgetxattr(fd, name, v)
		if err != nil {
			continue
		}
		out[name] = v[:n]
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// SetXattrs writes the given extended attributes to an open file, in name
// order.
func SetXattrs(fh *os.File, x map[string][]byte) error {
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := unix.Fsetxattr(int(fh.Fd()), k, x[k], 0); err != nil {
			return fmt.Errorf("rootfs: setxattr %s %s: %w", fh.Name(), k, err)
		}
	}
	return nil
}
