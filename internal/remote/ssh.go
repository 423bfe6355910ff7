package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKey is an SSH server whose host key is not the one expected.
var ErrHostKey = errors.New("remote: ssh host key does not match")

// exitNotStaged is the probe's status for "the binary is not there yet".
const exitNotStaged = 89

// SSH runs programs on one host over SSH, for instances without the SSM
// agent. The host key is always checked (HostKeys): against known_hosts
// lines or a fingerprint the operator gives, never accepted blindly. The
// binary is copied over the connection when the host lacks a copy with
// its digest, and checked there against its SHA-256 before every run.
//
// Unlike SSM, SSH has no record of what was sent: a runner killed
// mid-step cannot find the step again, so a resumed run runs it anew.
type SSH struct {
	Addr     string // host:port
	User     string
	Auth     []ssh.AuthMethod
	HostKeys ssh.HostKeyCallback // KnownHosts or Fingerprint; required
	// Binary is the local file copied to the host (BinaryPath) and its
	// digest, or an installed path (Binary.Path) checked the same way.
	Binary     Binary
	BinaryPath string
	StageDir   string        // default /var/lib/abusekit/bin
	Sudo       bool          // run the program with sudo -n (a non-root login user)
	Timeout    time.Duration // dial and handshake; default 15 s
	MaxOutput  int64         // bytes of standard output kept; default 256 MiB
}

// KnownHosts checks host keys against OpenSSH known_hosts files.
func KnownHosts(files ...string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("remote: known_hosts: %w", err)
	}
	return func(host string, addr net.Addr, key ssh.PublicKey) error {
		if err := cb(host, addr, key); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrHostKey, host, err)
		}
		return nil
	}, nil
}

// Fingerprint accepts exactly the host key whose SHA256 fingerprint, as
// ssh-keygen -lf prints it ("SHA256:…"), is fp.
func Fingerprint(fp string) (ssh.HostKeyCallback, error) {
	if !strings.HasPrefix(fp, "SHA256:") || len(fp) < 20 {
		return nil, fmt.Errorf("remote: host key fingerprint %q: want SHA256:… as ssh-keygen -lf prints it", fp)
	}
	return func(host string, _ net.Addr, key ssh.PublicKey) error {
		if got := ssh.FingerprintSHA256(key); got != fp {
			return fmt.Errorf("%w: %s presented %s, expected %s", ErrHostKey, host, got, fp)
		}
		return nil
	}, nil
}

// Run runs the program with req on the host and waits for it. Cancelling
// ctx sends the program SIGTERM (an OpenSSH "signal" request), then
// SIGKILL after a grace period, then closes the connection: without a
// terminal, sshd does not end a program whose client went away.
func (t *SSH) Run(ctx context.Context, req Request) (*Result, error) {
	if t.HostKeys == nil {
		return nil, errors.New("remote: ssh: no host key check (give known_hosts or a fingerprint)")
	}
	if len(t.Binary.SHA256) != 64 {
		return nil, errors.New("remote: Binary.SHA256 must be a hex SHA-256")
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("remote: ssh %s: %w", t.Addr, err)
	}
	nc.SetDeadline(time.Now().Add(timeout))
	cc, chans, reqs, err := ssh.NewClientConn(nc, t.Addr, &ssh.ClientConfig{User: t.User, Auth: t.Auth, HostKeyCallback: t.HostKeys, Timeout: timeout})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("remote: ssh %s: %w", t.Addr, err)
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	defer client.Close()

	return t.run(ctx, client, req)
}

func (t *SSH) dir() string {
	if t.StageDir == "" {
		return "/var/lib/abusekit/bin"
	}
	return t.StageDir
}

func (t *SSH) bin() string {
	if t.Binary.Path != "" && t.BinaryPath == "" {
		return t.Binary.Path
	}
	return t.dir() + "/abusekit-" + strings.ToLower(t.Binary.SHA256)
}

func (t *SSH) run(ctx context.Context, client *ssh.Client, req Request) (*Result, error) {
	sum := strings.ToLower(t.Binary.SHA256)
	b := quote(t.bin())
	res := &Result{Transport: "ssh", InstanceID: t.Addr}
	if t.BinaryPath != "" {
		code, _, stderr, err := t.session(ctx, client, nil, 0, verifyFn+"; verify "+b+" "+sum+" || exit "+fmt.Sprint(exitNotStaged))
		if err != nil {
			return nil, err
		}
		switch code {
		case 0:
		case exitNotStaged:
			if err := t.upload(ctx, client, sum); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("remote: ssh %s: probe the staged binary: status %d: %s", t.Addr, code, stderr)
		}
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	pidFile := quote(t.dir() + "/run-" + hex.EncodeToString(nonce[:]) + ".pid")
	line := verifyFn + "; verify " + b + " " + sum + " || { echo \"abusekit: " + strings.ReplaceAll(t.bin(), `"`, ``) +
		" does not match SHA-256 " + sum + "\" >&2; exit " + fmt.Sprint(exitTampered) + "; }; " +
		"umask 077; mkdir -p " + quote(t.dir()) + " && echo $$ > " + pidFile + " || exit " + fmt.Sprint(exitStaging) + "; "
	prog, err := programLine(req, b, true)
	if err != nil {
		return nil, err
	}
	if t.Sudo {
		prog = "sudo -n " + prog
	}
	line += "exec " + prog
	if req.Timeout > 0 {
		line = "timeout -s KILL " + fmt.Sprint(int64((req.Timeout+time.Second-1)/time.Second)) + " sh -c " + quote(line)
	}
	max := t.MaxOutput
	if max <= 0 {
		max = 256 << 20
	}
	// The shell sshd starts is a session leader and execs the program, so
	// the PID it records is the program's process group.
	kill := "p=$(cat " + pidFile + " 2>/dev/null) && [ -n \"$p\" ] && { kill -TERM -- -$p 2>/dev/null; sleep 2; kill -KILL -- -$p 2>/dev/null; }; rm -f " + pidFile
	if t.Sudo {
		kill = "sudo -n sh -c " + quote(kill)
	}
	code, stdout, stderr, err := t.session(ctx, client, req.Stdin, max, line, kill)
	if err != nil {
		return nil, err
	}
	if c, err := client.NewSession(); err == nil {
		c.Run("rm -f " + pidFile)
		c.Close()
	}
	res.ExitCode, res.Stdout, res.Stderr = code, stdout, stderr
	s := sha256.Sum256(stdout)
	res.StdoutSHA256 = hex.EncodeToString(s[:])
	switch {
	case code == 0:
		return res, nil
	case code == exitTampered:
		return res, fmt.Errorf("remote: ssh %s: %s: %w", t.Addr, strings.TrimSpace(stderr), ErrTampered)
	case code == 137 && req.Timeout > 0: // timeout -s KILL
		return res, fmt.Errorf("remote: ssh %s: program ran past %s: %w", t.Addr, req.Timeout, ErrTimedOut)
	default:
		return res, &ExitError{Code: code, Stderr: stderr}
	}
}

// upload copies the local binary to the host's staging directory and
// checks it there.
func (t *SSH) upload(ctx context.Context, client *ssh.Client, sum string) error {
	data, err := os.ReadFile(t.BinaryPath)
	if err != nil {
		return fmt.Errorf("remote: ssh: %w", err)
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
		return fmt.Errorf("remote: ssh: %s does not match the SHA-256 it was staged with", t.BinaryPath)
	}
	d, b := quote(t.dir()), quote(t.bin())
	script := "umask 077; " + verifyFn + "; mkdir -p " + d + " && chmod 700 " + d + " || exit " + fmt.Sprint(exitStaging) +
		"; cat > " + b + ".part || exit " + fmt.Sprint(exitStaging) + "; verify " + b + ".part " + sum +
		" || { rm -f " + b + ".part; echo 'abusekit: the copy does not match its SHA-256' >&2; exit " + fmt.Sprint(exitTampered) + "; }" +
		"; chmod 700 " + b + ".part && mv -f " + b + ".part " + b
	if t.Sudo {
		script = "sudo -n sh -c " + quote(script)
	}
	code, _, stderr, err := t.session(ctx, client, data, 1<<20, script)
	if err != nil {
		return err
	}
	if code == exitTampered {
		return fmt.Errorf("remote: ssh %s: upload: %s: %w", t.Addr, strings.TrimSpace(stderr), ErrTampered)
	}
	if code != 0 {
		return fmt.Errorf("remote: ssh %s: upload: status %d: %s", t.Addr, code, strings.TrimSpace(stderr))
	}
	return nil
}

// session runs one command with stdin and returns its status and output
// (standard output up to max bytes: more is an error, never a cut result).
func (t *SSH) session(ctx context.Context, client *ssh.Client, stdin []byte, max int64, cmd string, onCancel ...string) (int, []byte, string, error) {
	s, err := client.NewSession()
	if err != nil {
		return 0, nil, "", fmt.Errorf("remote: ssh %s: session: %w", t.Addr, err)
	}
	defer s.Close()
	if max <= 0 {
		max = 1 << 20
	}
	stdout := &limitedBuffer{max: max}
	stderr := &limitedBuffer{max: 8000}
	s.Stdin, s.Stdout, s.Stderr = bytes.NewReader(stdin), stdout, stderr
	if err := s.Start(cmd); err != nil {
		return 0, nil, "", fmt.Errorf("remote: ssh %s: %w", t.Addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// OpenSSH delivers "signal" requests only to privilege-separated
		// sessions (not to root logins): the process group the command
		// recorded is killed from a session of its own as well.
		s.Signal(ssh.SIGTERM)
		for _, c := range onCancel {
			if k, kerr := client.NewSession(); kerr == nil {
				k.Run(c)
				k.Close()
			}
		}
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			client.Close()
			err = <-done
		}
		return 0, nil, "", fmt.Errorf("remote: ssh %s: %w: %w", t.Addr, ErrCancelled, ctx.Err())
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			return 128 + signalNumber(ee.Signal()), stdout.Bytes(), stderr.String(), nil
		}
		return ee.ExitStatus(), stdout.Bytes(), stderr.String(), nil
	case errors.As(err, &missing):
		return 0, nil, "", fmt.Errorf("remote: ssh %s: the session ended without an exit status", t.Addr)
	default:
		return 0, nil, "", fmt.Errorf("remote: ssh %s: %w", t.Addr, err)
	}
	if stdout.over {
		return 0, nil, "", fmt.Errorf("remote: ssh %s: output over %d bytes: %w", t.Addr, max, ErrOutputTruncated)
	}
	return 0, stdout.Bytes(), stderr.String(), nil
}

func signalNumber(name string) int {
	switch name {
	case "KILL":
		return 9
	case "TERM":
		return 15
	case "INT":
		return 2
	case "HUP":
		return 1
	}
	return 0
}

// limitedBuffer keeps the first max bytes and notes what went past.
type limitedBuffer struct {
	bytes.Buffer
	max  int64
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.max - int64(b.Len())
	if int64(len(p)) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)
