package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
func capture(ctx context.Context, fs procfs.FS, plan StopPlan, members []pidfd, cgroupsBefore map[int]string) (string, []string, error) {
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
	c := &capturer{fs: fs, root: root, m: m, maxFile: plan.Options.MaxFileSize, memLeft: plan.Options.MaxMemory}
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
	warns   []string
	exes    map[[2]uint64]string // dev,ino → path of the copy
}

func (c *capturer) warn(format string, args ...any) {
	c.warns = append(c.warns, fmt.Sprintf(format, args...))
}

func (c *capturer) json(name, source string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	b = append(b, '\n')
	if err := c.root.WriteFile(name, b, 0o600); err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	sum := sha256.Sum256(b)
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: source, Size: int64(len(b)),
		SHA256: hex.EncodeToString(sum[:]), CapturedAt: time.Now().UTC()})
}

// copy copies src into name, hashing it on the way, up to limit bytes.
func (c *capturer) copy(name, src string, limit int64) {
	f, err := os.Open(src)
	if err != nil {
		c.warn("%s: %v", src, err)
		return
	}
	defer f.Close()
	c.copyFrom(name, src, f, limit)
}

func (c *capturer) copyFrom(name, src string, r io.Reader, limit int64) {
	out, err := c.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, limit+1))
	trunc := false
	if n > limit {
		// Keep exactly limit bytes, hashed as written.
		trunc = true
		out.Close()
		c.root.Remove(name)
		c.copyTruncated(name, src, limit)
		return
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.warn("%s: %v (kept %d bytes)", src, err, n)
	}
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: src, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
		CapturedAt: time.Now().UTC(), Truncated: trunc})
}

func (c *capturer) copyTruncated(name, src string, limit int64) {
	f, err := os.Open(src)
	if err != nil {
		c.warn("%s: %v", src, err)
		return
	}
	defer f.Close()
	out, err := c.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		c.warn("%s: %v", name, err)
		return
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(f, limit))
	out.Close()
	if err != nil {
		c.warn("%s: %v", src, err)
	}
	c.warn("%s: truncated to %d bytes", src, limit)
	c.m.Files = append(c.m.Files, ManifestFile{Path: name, Source: src, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
		CapturedAt: time.Now().UTC(), Truncated: true})
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
				c.copy(d+"/net/"+t, src("net", t), c.maxFile)
			}
		}
	}
	// Memory layout, then memory.
	c.copy(d+"/maps", src("maps"), c.maxFile)
	if c.memLeft > 0 {
		c.memory(d, pid)
	}
	for _, f := range []string{"environ", "cmdline", "status", "stat", "cgroup", "limits", "loginuid", "mountinfo"} {
		c.copy(d+"/"+f, src(f), c.maxFile)
	}
	links := map[string]string{}
	for _, l := range []string{"cwd", "root", "exe"} {
		if t, err := c.fs.Readlink(pid, l); err == nil {
			links[l] = t
		} else {
			c.warn("%s of %d: %v", l, pid, err)
		}
	}
	c.json(d+"/links.json", src(), links)
	// The executable, through /proc/PID/exe so that a deleted one is
	// copied too; a tree sharing the target's executable is copied once.
	if c.exes == nil {
		c.exes = map[[2]uint64]string{}
	}
	key := [2]uint64{id.ExeDev, id.ExeIno}
	if prev, ok := c.exes[key]; ok && id.ExeIno != 0 {
		links["exe_copy"] = prev
	} else {
		c.copy(d+"/exe", src("exe"), c.maxFile)
		c.exes[key] = d + "/exe"
	}
	// Files it holds open that are deleted from disk.
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
		c.copy(d+"/deleted-fds/"+strconv.Itoa(fd.Num), p, c.maxFile)
	}
}

// memory copies readable private and file regions from /proc/PID/mem, up
// to the remaining budget.
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
	for _, r := range regions {
		if c.memLeft <= 0 {
			c.warn("memory of %d: budget exhausted; later regions not captured", pid)
			return
		}
		if r.Perms[0] != 'r' || r.Path == "[vvar]" || r.Path == "[vsyscall]" || r.Path == "[vvar_vclock]" {
			continue
		}
		size := int64(r.End - r.Start)
		n := min(size, c.memLeft)
		name := fmt.Sprintf("%s/mem/%x-%x", d, r.Start, r.End)
		before := len(c.m.Files)
		c.copyFrom(name, fmt.Sprintf("%s@%x (%s %s)", c.fs.PIDPath(pid, "mem"), r.Start, r.Perms, r.Path),
			io.NewSectionReader(mem, int64(r.Start), n), n)
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
