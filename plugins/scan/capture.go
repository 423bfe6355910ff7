package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"golang.org/x/sys/unix"
)

// Manifest is the index of an evidence directory, written last as
// manifest.json. Every file it lists has its SHA-256.
type Manifest struct {
	Tool     string         `json:"tool"`
	Created  time.Time      `json:"created"`
	Finished time.Time      `json:"finished"`
	Hostname string         `json:"hostname"`
	Target   Identity       `json:"target"`
	Tree     []Identity     `json:"tree"`
	Files    []ManifestFile `json:"files"` // in capture order: most volatile first
	Errors   []string       `json:"errors,omitempty"`
}

// ManifestFile is one captured file.
type ManifestFile struct {
	Path       string    `json:"path"`   // relative to the evidence directory
	Source     string    `json:"source"` // where it was read from
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	CapturedAt time.Time `json:"captured_at"`
	Truncated  bool      `json:"truncated,omitempty"` // hit MaxFileSize or MaxMemory
}

// capture writes the evidence of a frozen tree. It returns the manifest's
// path and the evidence it could not get; err is for failures that leave
// no usable evidence directory.
func capture(ctx context.Context, fs procfs.FS, plan StopPlan, members []pidfd, cgroupsBefore map[int]string, budget int64, hidden map[int][]procfs.Mount) (string, []string, error) {
	dir := plan.EvidenceDir
	if err := prepareEvidenceDir(dir); err != nil {
		return "", nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", nil, err
	}
	defer root.Close()
	host, _ := os.Hostname()
	m := &Manifest{Tool: "abusekit/plugins/scan", Created: time.Now().UTC(), Hostname: host, Target: plan.Target}
	for _, mb := range members[1:] {
		m.Tree = append(m.Tree, mb.id)
	}
	c := &capturer{fs: fs, root: root, m: m, maxFile: plan.Options.MaxFileSize, memLeft: plan.Options.MaxMemory, left: budget,
		inodes: map[[2]uint64]string{}}
	if c.maxFile <= 0 {
		c.maxFile = DefaultMaxFileSize
	}
	pids := make([]int, len(members))
	for i, mb := range members {
		pids[i] = mb.id.PID
	}

	// 1. Sockets of the whole tree: the most volatile (peers time out).
	if socks, err := Sockets(ctx, Options{Root: fs.Root()}); err != nil {
		c.warn("sockets: %v", err)
	} else {
		var mine []Socket
		for _, s := range socks {
			if slices.ContainsFunc(s.PIDs, func(p int) bool { return slices.Contains(pids, p) }) {
				mine = append(mine, s)
			}
		}
		c.json("sockets.json", "netlink sock_diag, /proc/PID/net/*, /proc/PID/fd", mine)
	}
	for i, mb := range members {
		if err := ctx.Err(); err != nil {
			return "", c.warns, err
		}
		c.process(mb.id, i == 0)
	}
	// The parent chain of the target, with identities.
	var chain []Identity
	for p, seen := plan.Target.PID, map[int]bool{}; p > 0 && !seen[p]; {
		seen[p] = true
		st, err := fs.Stat(p)
		if err != nil {
			break
		}
		if p != plan.Target.PID {
			id, _, _ := identify(fs, p)
			chain = append(chain, id)
		}
		p = st.PPID
	}
	c.json("parents.json", "/proc/PID/stat of each ancestor", chain)
	// Mounts hiding processes of the tree, left in place.
	mine := map[int][]procfs.Mount{}
	for _, mb := range members {
		if ms := hidden[mb.id.PID]; ms != nil {
			mine[mb.id.PID] = ms
		}
	}
	if len(mine) > 0 {
		c.json("hidden-mounts.json", "/proc/self/mountinfo: mounts over /proc/PID of the tree (the processes were read through a fresh procfs instance)", mine)
	}
	if cgroupsBefore != nil {
		// /proc/PID/cgroup now names the freezer; this is where they were.
		c.json("cgroups-before-freeze.json", "/proc/PID/cgroup before the move to the freezer", cgroupsBefore)
	}

	m.Finished = time.Now().UTC()
	m.Errors = c.warns
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", c.warns, err
	}
	if err := root.WriteFile("manifest.json", append(b, '\n'), 0o600); err != nil {
		return "", c.warns, err
	}
	return path.Join(dir, "manifest.json"), c.warns, nil
}

type capturer struct {
	fs      procfs.FS
	root    *os.Root
	m       *Manifest
	maxFile int64
	memLeft int64
	left    int64 // evidence budget: bytes that may still be written
	warns   []string
	inodes  map[[2]uint64]string // dev,ino of each regular file copied → path of the copy
	full    bool                 // the budget ran out (warned once)
}

func (c *capturer) warn(format string, args ...any) {
	c.warns = append(c.warns, fmt.Sprintf(format, args...))
}

// room is how many bytes one file may take: MaxFileSize, within what is
// left of the evidence budget. ok is false (and the exhaustion warned once)
// when nothing is left.
func (c *capturer) room(limit int64) (int64, bool) {
	if c.left <= 0 {
		if !c.full {
			c.full = true
			c.warn("evidence budget exhausted: later files not captured")
		}
		return 0, false
	}
	return min(limit, c.left), true
}

func (c *capturer) json(name, source string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	b = append(b, '\n')
	if _, ok := c.room(int64(len(b))); !ok {
		c.warn("%s: not written (evidence budget exhausted)", name)
		return
	}
	if err := c.root.WriteFile(name, b, 0o600); err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	c.left -= int64(len(b))
	sum := sha256.Sum256(b)
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: source, Size: int64(len(b)),
		SHA256: hex.EncodeToString(sum[:]), CapturedAt: time.Now().UTC()})
}

// copy copies src into name, up to MaxFileSize within the budget. A
// regular file (the executable, a deleted file held open) is copied once
// per inode, holes kept; it returns the path of the copy ("" if none),
// which for an inode already copied is the earlier one.
func (c *capturer) copy(name, src string) string {
	// O_NONBLOCK: a FIFO or device behind the link cannot block the open.
	f, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		c.warn("%s: %v", src, err)
		return ""
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		c.warn("%s: %v", src, err)
		return ""
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > 0 {
		key := [2]uint64{st.Dev, st.Ino}
		if prev, ok := c.inodes[key]; ok {
			return prev
		}
		if c.copySparse(name, src, f, st.Size) {
			c.inodes[key] = name
			return name
		}
		return ""
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		c.warn("%s: not a regular file (mode %o); not copied", src, st.Mode)
		return ""
	}
	// /proc files report size 0: copied as a stream.
	limit, ok := c.room(c.maxFile)
	if !ok {
		return ""
	}
	if c.copyFrom(name, src, f, limit) {
		return name
	}
	return ""
}

// copyFrom copies at most limit bytes of r into name, hashing them; more
// than limit is kept truncated and flagged.
func (c *capturer) copyFrom(name, src string, r io.Reader, limit int64) bool {
	out, err := c.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		c.warn("%s: %v", name, err)
		return false
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, limit))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	c.left -= n
	if err != nil {
		c.warn("%s: %v (kept %d bytes)", src, err, n)
	}
	trunc := false
	if n == limit {
		// Anything beyond the limit is left out.
		var one [1]byte
		if k, _ := r.Read(one[:]); k > 0 {
			trunc = true
			c.warn("%s: truncated to %d bytes", src, limit)
		}
	}
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: src, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
		CapturedAt: time.Now().UTC(), Truncated: trunc})
	return true
}

// copySparse copies a regular file of the given size, at most MaxFileSize
// logical bytes within the budget, reading only its data (SEEK_DATA and
// SEEK_HOLE) and writing it at the same offsets, so holes stay holes and a
// sparse file costs only its data. Only data counts against the budget;
// the hash is of the logical content (holes hash as zeros).
func (c *capturer) copySparse(name, src string, f *os.File, size int64) bool {
	if _, ok := c.room(1); !ok {
		return false
	}
	logical := min(size, c.maxFile)
	trunc := size > logical
	out, err := c.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		c.warn("%s: %v", name, err)
		return false
	}
	defer out.Close()
	h := sha256.New()
	fd := int(f.Fd())
	buf := make([]byte, 256<<10)
	zeros := make([]byte, 64<<10)
	hashZeros := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	var off int64 // everything before off is hashed and written
	var copyErr error
	for off < logical {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = logical // a hole to the end
		} else if err != nil {
			data = off // no SEEK_DATA here: all data
		}
		data = min(data, logical)
		hashZeros(data - off)
		off = data
		if off >= logical {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil || hole <= data {
			hole = logical
		}
		hole = min(hole, logical)
		for off < hole {
			want := min(int64(len(buf)), hole-off)
			if c.left < want {
				want = c.left
			}
			if want <= 0 {
				copyErr = errors.New("evidence budget exhausted")
				break
			}
			n, err := unix.Pread(fd, buf[:want], off)
			if n > 0 {
				if _, werr := out.WriteAt(buf[:n], off); werr != nil {
					copyErr = werr
					break
				}
				h.Write(buf[:n])
				off += int64(n)
				c.left -= int64(n)
			}
			if err != nil || n == 0 {
				if err == nil {
					err = io.ErrUnexpectedEOF // the file shrank
				}
				copyErr = err
				break
			}
		}
		if copyErr != nil {
			break
		}
	}
	// A hole at the end: the size says so.
	if err := out.Truncate(off); err != nil && copyErr == nil {
		copyErr = err
	}
	if copyErr != nil {
		trunc = true
		c.warn("%s: %v (kept %d of %d bytes)", src, copyErr, off, size)
	} else if trunc {
		c.warn("%s: truncated to %d bytes", src, off)
	}
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: src, Size: off, SHA256: hex.EncodeToString(h.Sum(nil)),
		CapturedAt: time.Now().UTC(), Truncated: trunc})
	return true
}

// process captures one frozen process, most volatile first.
func (c *capturer) process(id Identity, target bool) {
	pid := id.PID
	d := "pid-" + strconv.Itoa(pid)
	if err := c.root.Mkdir(d, 0o700); err != nil {
		c.warn("%s: %v", d, err)
		return
	}
	src := func(elems ...string) string { return c.fs.PIDPath(pid, elems...) }
	// Descriptors and the socket tables of its namespace.
	fds, err := c.fs.FDs(pid)
	if err != nil {
		c.warn("fds of %d: %v", pid, err)
	}
	c.json(d+"/fds.json", src("fd"), fds)
	if target {
		if err := c.root.Mkdir(d+"/net", 0o700); err == nil {
			for _, t := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6", "packet", "unix"} {
				c.copy(d+"/net/"+t, src("net", t))
			}
		}
	}
	// Memory layout, then memory.
	c.copy(d+"/maps", src("maps"))
	if c.memLeft > 0 {
		c.memory(d, pid)
	}
	for _, f := range []string{"environ", "cmdline", "status", "stat", "cgroup", "limits", "loginuid", "mountinfo"} {
		c.copy(d+"/"+f, src(f))
	}
	links := map[string]string{}
	for _, l := range []string{"cwd", "root", "exe"} {
		if t, err := c.fs.Readlink(pid, l); err == nil {
			links[l] = t
		} else {
			c.warn("%s of %d: %v", l, pid, err)
		}
	}
	// The executable, through /proc/PID/exe so that a deleted one is
	// copied too; an inode already copied (a tree sharing the target's
	// executable) is not copied again.
	if p := c.copy(d+"/exe", src("exe")); p != "" && p != d+"/exe" {
		links["exe_copy"] = p
	}
	c.json(d+"/links.json", src(), links)
	// Files it holds open that are deleted from disk, each inode once
	// (a file held on many descriptors, or by the whole tree, is one
	// copy); deleted-fds.json maps each descriptor to its copy.
	held := map[int]string{}
	for _, fd := range fds {
		if !isDeleted(fd.Target) || !strings.HasPrefix(fd.Target, "/") {
			continue
		}
		p := src("fd", strconv.Itoa(fd.Num))
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := c.root.MkdirAll(d+"/deleted-fds", 0o700); err != nil {
			c.warn("%v", err)
			continue
		}
		if cp := c.copy(d+"/deleted-fds/"+strconv.Itoa(fd.Num), p); cp != "" {
			held[fd.Num] = cp
		}
	}
	if len(held) > 0 {
		c.json(d+"/deleted-fds.json", src("fd"), held)
	}
}

// memRank orders memory regions for capture: 0 anonymous (heap, stack,
// anonymous mappings), 1 file-backed writable or from a deleted file, 2
// other file-backed.
func memRank(r procfs.MapRegion) int {
	switch {
	case r.Inode == 0 || r.Path == "[heap]" || strings.HasPrefix(r.Path, "[stack"):
		return 0
	case len(r.Perms) > 1 && r.Perms[1] == 'w', strings.HasSuffix(r.Path, deletedSuffix):
		return 1
	}
	return 2
}

// memory copies readable regions from /proc/PID/mem, most telling first
// (memRank), each to its own file hashed in the manifest, up to the
// remaining memory budget.
func (c *capturer) memory(d string, pid int) {
	regions, err := c.fs.Maps(pid)
	if err != nil {
		c.warn("maps of %d: %v", pid, err)
		return
	}
	mem, err := os.Open(c.fs.PIDPath(pid, "mem"))
	if err != nil {
		c.warn("mem of %d: %v", pid, err)
		return
	}
	defer mem.Close()
	if err := c.root.Mkdir(d+"/mem", 0o700); err != nil {
		c.warn("%v", err)
		return
	}
	// What is most likely the malware's own first: anonymous memory (heap,
	// stack, anonymous mappings: unpacked code, configuration, keys), then
	// file-backed writable data, then file-backed code (on disk already,
	// unless deleted). Address order within each.
	slices.SortStableFunc(regions, func(a, b procfs.MapRegion) int { return memRank(a) - memRank(b) })
	for _, r := range regions {
		if c.memLeft <= 0 {
			c.warn("memory of %d: budget exhausted; later regions not captured", pid)
			return
		}
		if r.Perms[0] != 'r' || r.Path == "[vvar]" || r.Path == "[vsyscall]" || r.Path == "[vvar_vclock]" {
			continue
		}
		size := int64(r.End - r.Start)
		n, ok := c.room(c.memLeft)
		if !ok {
			return
		}
		n = min(size, n)
		name := fmt.Sprintf("%s/mem/%x-%x", d, r.Start, r.End)
		before := len(c.m.Files)
		c.copyFrom(name, fmt.Sprintf("%s@%x (%s %s)", c.fs.PIDPath(pid, "mem"), r.Start, r.Perms, r.Path),
			io.NewSectionReader(mem, int64(r.Start), size), n)
		if len(c.m.Files) > before {
			f := &c.m.Files[len(c.m.Files)-1]
			f.Truncated = f.Size < size
			c.memLeft -= f.Size
		}
	}
}

// prepareEvidenceDir makes the evidence directory, or checks an existing
// one: on a compromised host it must be ours alone (not a symlink planted to
// redirect the evidence, not writable by others) and empty.
func prepareEvidenceDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("evidence directory %s is not a directory (symlink?)", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0) {
		return fmt.Errorf("evidence directory %s is owned by uid %d or writable by others (mode %v)", dir, st.Uid, fi.Mode().Perm())
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return err
	} else if len(ents) > 0 {
		return fmt.Errorf("evidence directory %s is not empty", dir)
	}
	return nil
}

// EvidenceReserve is what Stop leaves free on the evidence filesystem for
// the host (logs, the services still running); MinEvidence is the least
// budget it starts with.
const (
	EvidenceReserve = 64 << 20
	MinEvidence     = 8 << 20
)

// evidenceBudget checks free space on the evidence filesystem (statfs)
// before anything is frozen: the budget is max, lowered to what is free
// above EvidenceReserve (with a warning); less than MinEvidence is
// ErrEvidenceSpace.
func evidenceBudget(dir string, max int64) (int64, string, error) {
	if max <= 0 {
		max = DefaultMaxEvidence
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, "", fmt.Errorf("scan: statfs %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	room := free - EvidenceReserve
	if room < MinEvidence {
		return 0, "", fmt.Errorf("%w: %s has %d bytes free, Stop needs %d above the %d it leaves to the host (nothing frozen or killed)",
			ErrEvidenceSpace, dir, free, MinEvidence, EvidenceReserve)
	}
	if room < max {
		return room, fmt.Sprintf("evidence budget lowered from %d to %d bytes: %s has %d free", max, room, dir, free), nil
	}
	return max, "", nil
}
