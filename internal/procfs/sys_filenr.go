package procfs

import "fmt"

// FileHandles reads /proc/sys/fs/file-nr: the number of open file
// descriptions (struct file) on the whole host, each counted once however
// many descriptors or processes share it. It is a cheap bound on how many
// descriptors a pass over every process will meet.
func (fs FS) FileHandles() (int, error) {
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	b, err := readSmall(fs.Path("sys", "fs", "file-nr"), *bp)
	if err != nil {
		return 0, err
	}
	return parseFileNr(b)
}

// parseFileNr parses file-nr: "allocated unused max", tab-separated.
func parseFileNr(b []byte) (int, error) {
	line, _ := nextLine(b)
	it := fieldIter{b: line}
	v, _ := it.next()
	n, ok := parseUint(v, 10, 62)
	if !ok {
		return 0, fmt.Errorf("%w: file-nr: bad count %q", ErrFileParse, v)
	}
	return int(n), nil
}
