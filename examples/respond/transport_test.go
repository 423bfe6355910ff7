package main

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/playbook"
)

func TestDefaultTransport(t *testing.T) {
	tag := filepath.Join(t.TempDir(), "board_asset_tag")
	os.WriteFile(tag, []byte("i-0123456789abcdef0\n"), 0o444)
	old := assetTag
	assetTag = tag
	t.Cleanup(func() { assetTag = old })
	for _, tt := range []struct {
		c    config
		want string
	}{
		{config{demo: true, root: "/", proc: "/proc"}, "ssm"},
		{config{root: "/", proc: "/proc", instance: "i-0aaaaaaaaaaaaaaaa"}, "ssm"},
		{config{root: "/", proc: "/proc", instance: "i-0123456789abcdef0"}, "local"}, // respond runs on the instance itself
		{config{root: "/mnt/evidence", proc: "/proc", instance: "i-0aaaaaaaaaaaaaaaa"}, "local"},
	} {
		if got := defaultTransport(&tt.c); got != tt.want {
			t.Errorf("defaultTransport(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// The binary staged must be built for the instance: a -host-binary whose
// ELF machine is not the instance's, or none for its platform, is refused.
func TestHostBinaryPlatform(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	ctx := context.Background()
	here := remote.Platform{OS: "linux", Arch: runtime.GOARCH}
	there := remote.Platform{OS: "linux", Arch: other}

	c := &config{hostBinaries: hostBinaries{}}
	if err := c.hostBinaries.Set("linux/" + other + "=" + exe); err != nil {
		t.Fatal(err)
	}
	if _, err := hostBinary(ctx, c, there, t.TempDir()); !errors.Is(err, remote.ErrPlatformMismatch) || !strings.Contains(err.Error(), "is built for "+runtime.GOARCH) {
		t.Errorf("a %s binary given for %s: %v, want ErrPlatformMismatch", runtime.GOARCH, there, err)
	}
	if _, err := hostBinary(ctx, c, here, t.TempDir()); !errors.Is(err, remote.ErrPlatformMismatch) || !strings.Contains(err.Error(), "-host-binary "+here.String()+"=PATH") {
		t.Errorf("no binary for %s: %v, want ErrPlatformMismatch naming the flag", here, err)
	}
	if _, err := hostBinary(ctx, c, remote.Platform{OS: "windows", Arch: runtime.GOARCH}, t.TempDir()); !errors.Is(err, remote.ErrPlatformMismatch) {
		t.Errorf("a Windows instance: %v, want ErrPlatformMismatch", err)
	}
	// Without -host-binary, this binary serves an instance like this machine.
	got, err := hostBinary(ctx, &config{}, here, t.TempDir())
	if err != nil || got != exe {
		t.Errorf("hostBinary for %s = %q, %v; want this executable", here, got, err)
	}
	if err := c.hostBinaries.Set("arm64=./x"); err == nil {
		t.Error("-host-binary without OS/ARCH accepted")
	}
}

// Without -host-binary, an instance of another architecture gets a binary
// cross-compiled with the local Go toolchain (here a stand-in package, as
// building all of respond for it would take minutes), checked to be an ELF
// for that architecture, and cached: a second incident does not build again.
func TestHostBinaryCrossCompiled(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Skipf(t, "no Go toolchain to cross-compile with: %v", err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	old := crossPackage
	crossPackage = "github.com/abusekit/abusekit/examples/respond/internal/crosstest"
	t.Cleanup(func() { crossPackage = old })
	cache := t.TempDir()
	there := remote.Platform{OS: "linux", Arch: other}
	got, err := hostBinary(context.Background(), &config{}, there, cache)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	machine := f.Machine
	f.Close()
	want := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[other]
	if machine != want || !strings.HasPrefix(got, cache) {
		t.Errorf("built %s for %s: machine %v, want %v in the cache %s", got, there, machine, want, cache)
	}
	fi, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := hostBinary(context.Background(), &config{}, there, cache)
	if err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(again)
	if err != nil {
		t.Fatal(err)
	}
	if again != got || !os.SameFile(fi, fi2) || !fi.ModTime().Equal(fi2.ModTime()) {
		t.Errorf("second call built again: %s (%v), was %s (%v)", again, fi2.ModTime(), got, fi.ModTime())
	}
}

func TestHostSideNeeds(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		c    config
		want string
	}{
		{config{transport: "ssm", root: "/", proc: "/proc"}, "-stage-bucket"},
		{config{transport: "ssh", root: "/", proc: "/proc"}, "-ssh-host"},
		{config{transport: "ssh", sshHost: "10.0.0.1", root: "/", proc: "/proc"}, "never accepted blindly"},
		{config{transport: "carrier-pigeon", root: "/", proc: "/proc"}, "want local, ssm or ssh"},
	} {
		if _, err := newHostSide(ctx, &tt.c, "INC", nil, t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %q", tt.c, err, tt.want)
		}
	}
}

// What the host says (plans, progress, errors) reaches the terminal with
// its control characters shown, never as escape sequences.
func TestPrintableHumanView(t *testing.T) {
	var b strings.Builder
	p := newPrinter(&b, false)
	p.event(playbook.Event{Step: "detect", Message: "found\x1b]0;owned\x07 \x1b[2Jit\u009b"})
	p.run(&playbook.Run{Incident: "I", Status: playbook.StatusFailed, Steps: []playbook.StepResult{{ID: "stop", Status: playbook.StatusFailed, Error: "bad\r\ninput"}}})
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r\u009b") {
		t.Errorf("control characters reached the terminal: %q", out)
	}
	for _, want := range []string{`found\x1b]0;owned\x07 \x1b[2Jit\x9b`, `bad\x0d\x0ainput`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// -installed: the binary already on the instance is checked there against
// the digest of the binary for its platform, and refused when it differs.
// (The error line names ErrTampered without its repeated "remote: " prefix:
// internal/cli drops package prefixes already said.)
func TestInstalledBinaryChecked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runDocs(t, "-demo", "-json", "-installed", exe) // plans find and clean on the instance with it

	var out, errb strings.Builder
	other := filepath.Join(t.TempDir(), "abusekit")
	os.WriteFile(other, []byte("#!/bin/sh\necho '{\"result\":{\"output\":{}}}'\n"), 0o755)
	if code := run(context.Background(), []string{"-demo", "-json", "-installed", other}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), other+" does not match SHA-256") || !strings.Contains(errb.String(), strings.TrimPrefix(remote.ErrTampered.Error(), "remote: ")) {
		t.Errorf("a different installed binary: exit %d, stderr %q", code, errb.String())
	}
}
