package ec2test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// LocalExecutor runs the commands sent to a managed instance as a real
// shell script on this machine, as the SSM agent does on an instance: the
// commands are written to a script file (_script.sh) in a directory of
// their own and run with /bin/sh, in their own process group, which is
// killed when the command is cancelled or times out.
//
// The script's environment is Env alone (never the emulator's own: a host
// step must not see cloud credentials); its default is a PATH, HOME and
// LANG. Its standard output and error are kept up to 64 MiB each.
type LocalExecutor struct {
	// Env is the script's whole environment; nil means DefaultAgentEnv().
	Env []string
	// Dir holds the scripts ("" = the system temporary directory).
	Dir string
	// KillGrace is how long a cancelled script has between SIGTERM to its
	// process group and SIGKILL (default 2 s).
	KillGrace time.Duration
}

// DefaultAgentEnv is the environment the SSM agent gives a script: a
// system PATH, HOME and LANG, no AWS_* variables.
func DefaultAgentEnv() []string {
	home := os.Getenv("HOME")
	if home == "" {
		home = "/root"
	}
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "LANG=C.UTF-8"}
}

// Execute runs c.Script() and waits for it.
func (e LocalExecutor) Execute(ctx context.Context, c Command) CommandResult {
	dir, err := os.MkdirTemp(e.Dir, "ec2test-ssm-")
	if err != nil {
		return CommandResult{Err: err}
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "_script.sh")
	if err := os.WriteFile(script, []byte(c.Script()), 0o700); err != nil {
		return CommandResult{Err: err}
	}
	cmd := exec.Command("/bin/sh", script)
	cmd.Env = e.Env
	if cmd.Env == nil {
		cmd.Env = DefaultAgentEnv()
	}
	cmd.Dir = c.WorkingDirectory
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	stdout, stderr := &cappedBuffer{max: ssmCaptureLimit}, &cappedBuffer{max: ssmCaptureLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return CommandResult{Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		grace := e.KillGrace
		if grace <= 0 {
			grace = 2 * time.Second
		}
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-done
		}
		// Children that left the group's leader behind still get KILL.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	res := CommandResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		res.ExitCode = ee.ExitCode()
		if res.ExitCode < 0 { // killed by a signal
			res.ExitCode = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	default:
		res.Err = fmt.Errorf("wait: %w", werr)
	}
	return res
}

// cappedBuffer keeps the first max bytes written and counts the rest.
type cappedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
		b.dropped += int64(len(p) - min(room, len(p)))
	} else {
		b.dropped += int64(len(p))
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	out := b.buf.Bytes()
	if b.dropped > 0 {
		out = append(out, fmt.Sprintf("\n---%d bytes of output dropped by ec2test---\n", b.dropped)...)
	}
	return out
}
