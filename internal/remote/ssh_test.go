package remote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/internal/testenv"
)

// sshHost is a real OpenSSH sshd in a network namespace of the test's own,
// reached over a veth pair (10.200.231.1 here, 10.200.231.2 there).
type sshHost struct {
	addr      string
	hostKey   ssh.PublicKey
	clientKey ssh.Signer
	knownHost string // a known_hosts file naming the host key
	stage     string
}

func startSSHD(t *testing.T) *sshHost {
	t.Helper()
	testenv.NeedRoot(t, "a network namespace and an sshd")
	sshd := testenv.LookPath(t, "/usr/sbin/sshd", "openssh-server")
	testenv.LookPath(t, "ip", "iproute2")
	ns := fmt.Sprintf("abk-ssh-%d", os.Getpid())
	hostIf, nsIf := fmt.Sprintf("abks%d", os.Getpid()%100000), fmt.Sprintf("abkn%d", os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	ip("addr", "add", "10.200.231.1/30", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("-n", ns, "addr", "add", "10.200.231.2/30", "dev", nsIf)
	ip("-n", ns, "link", "set", nsIf, "up")
	ip("-n", ns, "link", "set", "lo", "up")

	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) { // sshd's privilege separation directory
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	dir := t.TempDir()
	writeKey := func(name string) ssh.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	host, client := writeKey("host_key"), writeKey("client_key")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client.PublicKey()), 0o600)
	cfg := strings.Join([]string{
		"Port 2222", "ListenAddress 10.200.231.2", "HostKey " + filepath.Join(dir, "host_key"), "PidFile none",
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"), "PermitRootLogin prohibit-password",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel ERROR",
	}, "\n") + "\n"
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	cmd := exec.Command("ip", "netns", "exec", ns, sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "10.200.231.2:2222"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %v", addr, err)
		}
	}
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte("[10.200.231.2]:2222 "+string(ssh.MarshalAuthorizedKey(host.PublicKey()))), 0o600)
	return &sshHost{addr: addr, hostKey: host.PublicKey(), clientKey: client, knownHost: known, stage: t.TempDir()}
}

func (h *sshHost) transport(t *testing.T) *remote.SSH {
	t.Helper()
	cb, err := remote.KnownHosts(h.knownHost)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &remote.SSH{Addr: h.addr, User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(h.clientKey)}, HostKeys: cb,
		Binary: remote.Binary{SHA256: hex.EncodeToString(sum[:])}, BinaryPath: exe, StageDir: h.stage}
}

// Host steps over SSH against a real OpenSSH sshd: the binary is copied
// once and checked, runs with its own environment, and a host whose key
// is not the expected one is refused.
func TestSSHRun(t *testing.T) {
	h := startSSHD(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
	ctx := context.Background()
	tr := h.transport(t)
	res, err := tr.Run(ctx, remote.Request{Key: "INC-1/detect", Args: []string{"echo", "a b"}, Stdin: []byte(`{"pid":1}`), Env: helperEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := "stdin={\"pid\":1}\nargs=[\"a b\"]\nenv=[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\" \"REMOTE_HELPER=1\"]\n"
	if string(res.Stdout) != want || res.Transport != "ssh" || res.ExitCode != 0 {
		t.Errorf("result %+v, output %q; want %q", res, res.Stdout, want)
	}
	// Staged: a second run needs no copy (the local file is gone).
	tr2 := h.transport(t)
	tr2.BinaryPath = filepath.Join(t.TempDir(), "gone")
	if _, err := tr2.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Errorf("second run with the binary staged: %v", err)
	}
	_, err = h.transport(t).Run(ctx, remote.Request{Key: "k", Args: []string{"fail"}, Env: helperEnv})
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("failing program: %v, want *ExitError 3", err)
	}
	if _, err := h.transport(t).Run(ctx, remote.Request{Key: "k", Args: []string{"sleep", "30s"}, Env: helperEnv, Timeout: time.Second}); !errors.Is(err, remote.ErrTimedOut) {
		t.Errorf("program past its timeout: %v, want ErrTimedOut", err)
	}

	// Host keys: the right fingerprint works; another key is refused.
	fp := h.transport(t)
	if fp.HostKeys, err = remote.Fingerprint(ssh.FingerprintSHA256(h.hostKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := fp.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Errorf("with the host key's fingerprint: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewSignerFromKey(other)
	bad := h.transport(t)
	bad.HostKeys, _ = remote.Fingerprint(ssh.FingerprintSHA256(otherKey.PublicKey()))
	if _, err := bad.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrHostKey) {
		t.Errorf("another host key: %v, want ErrHostKey", err)
	}
	wrongKnown := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrongKnown, []byte("[10.200.231.2]:2222 "+string(ssh.MarshalAuthorizedKey(otherKey.PublicKey()))), 0o600)
	bad.HostKeys, _ = remote.KnownHosts(wrongKnown)
	if _, err := bad.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrHostKey) {
		t.Errorf("known_hosts with another key: %v, want ErrHostKey", err)
	}
	bad.HostKeys = nil
	if _, err := bad.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); err == nil {
		t.Error("ran with no host key check")
	}
}

// A staged copy replaced on the host is copied again; an installed binary
// that does not match never runs; a cancelled step's program is ended.
func TestSSHTamperedAndCancelled(t *testing.T) {
	h := startSSHD(t)
	ctx := context.Background()
	tr := h.transport(t)
	if _, err := tr.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	evil := []byte("#!/bin/sh\ntouch " + marker + "\n")
	staged := filepath.Join(h.stage, "abusekit-"+tr.Binary.SHA256)
	os.WriteFile(staged, evil, 0o700)
	if _, err := h.transport(t).Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); err != nil {
		t.Errorf("after the staged copy was replaced: %v", err)
	}
	installed := filepath.Join(t.TempDir(), "abusekit")
	os.WriteFile(installed, evil, 0o700)
	inst := h.transport(t)
	inst.BinaryPath, inst.Binary.Path = "", installed
	if _, err := inst.Run(ctx, remote.Request{Key: "k", Args: []string{"echo"}, Env: helperEnv}); !errors.Is(err, remote.ErrTampered) {
		t.Errorf("tampered installed binary: %v, want ErrTampered", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a binary that did not match its SHA-256 ran")
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := h.transport(t).Run(cctx, remote.Request{Key: "k", Args: []string{"sleep", "60s"}, Env: helperEnv})
		errc <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); !running(staged, "60s"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the step's program never ran")
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, remote.ErrCancelled) {
		t.Errorf("cancelled step: %v, want ErrCancelled", err)
	}
	for deadline := time.Now().Add(5 * time.Second); running(staged, "60s"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled step's program still runs on the host")
		}
	}
}

// running reports whether a process runs exe with arg (PIDs are shared
// with the sshd's network namespace).
func running(exe, arg string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if l, err := os.Readlink(p); err == nil && l == exe {
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			if strings.Contains(string(cmdline), arg) {
				return true
			}
		}
	}
	return false
}
