package taskfiles_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/abusekit/abusekit/plugins/scan/internal/taskfiles"
)

// ExampleRead maps socket inodes to the processes holding them, falling
// back to /proc where the iterator cannot run.
func ExampleRead() {
	files, err := taskfiles.Read(nil)
	if errors.Is(err, taskfiles.ErrUnsupported) {
		fmt.Println("read /proc/PID/fd instead:", err)
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	holders := map[uint32][]uint32{} // socket inode → processes
	for _, f := range files {
		if f.Inode != 0 {
			holders[f.Inode] = append(holders[f.Inode], f.PID)
		}
	}
	fmt.Printf("%d descriptors, %d sockets\n", len(files), len(holders))
}
