package remote

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Errors of the transport.
var (
	ErrNotManaged       = errors.New("remote: instance is not a managed instance (no SSM agent registered, or no instance profile allowing it)")
	ErrAgentOffline     = errors.New("remote: the instance's SSM agent is offline")
	ErrAccessDenied     = errors.New("remote: access denied")
	ErrTimedOut         = errors.New("remote: command timed out")
	ErrCancelled        = errors.New("remote: command cancelled")
	ErrTampered         = errors.New("remote: staged binary does not match its SHA-256 on the instance")
	ErrOutputTruncated  = errors.New("remote: output longer than Run Command returns and no output bucket to read it from")
	ErrPlatformMismatch = errors.New("remote: no binary for the instance's platform")
)

// Exit statuses the script uses for its own failures.
const (
	exitTampered = 86 // the binary or request does not match its SHA-256
	exitStaging  = 87 // the staging directory could not be made
	exitFetch    = 88 // the binary or request could not be fetched
)

// Request is one invocation of the staged program.
type Request struct {
	// Key identifies the invocation across runs (incident and step, say):
	// Run with a Key it already sent waits for that command instead of
	// sending another. At most 80 characters of [A-Za-z0-9._:/-].
	Key string
	// Args are the program's arguments.
	Args []string
	// Stdin is given to the program on standard input.
	Stdin []byte
	// Env is the program's whole environment besides PATH ("K=V").
	Env []string
	// Timeout bounds the program's run on the instance (executionTimeout,
	// whole seconds, at least 1); 0 means one hour.
	Timeout time.Duration
}

// Result is what the program left.
type Result struct {
	Transport    string `json:"transport"` // "ssm"
	CommandID    string `json:"command_id,omitempty"`
	InstanceID   string `json:"instance_id"`
	Stdout       []byte `json:"-"`
	StdoutSHA256 string `json:"stdout_sha256"`
	Stderr       string `json:"stderr,omitempty"` // at most 8,000 characters
	ExitCode     int    `json:"exit_code"`
	Resumed      bool   `json:"resumed,omitempty"` // the command was sent by an earlier run
}

// ExitError is a program that ran and exited non-zero.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg == "" {
		return fmt.Sprintf("remote: program exited with status %d", e.Code)
	}
	return fmt.Sprintf("remote: program exited with status %d: %s", e.Code, msg)
}

// Platform is an instance's OS and architecture in Go's terms.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// DescribeInstancesAPI is the one EC2 call Platform makes.
type DescribeInstancesAPI interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// InstancePlatform reads an instance's platform from DescribeInstances.
func InstancePlatform(ctx context.Context, api DescribeInstancesAPI, instanceID string) (Platform, error) {
	out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return Platform{}, fmt.Errorf("remote: platform of %s: %w", instanceID, classify(err))
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			p := Platform{OS: "linux"}
			if in.Platform == ec2types.PlatformValuesWindows {
				p.OS = "windows"
			}
			switch in.Architecture {
			case ec2types.ArchitectureValuesX8664, ec2types.ArchitectureValuesX8664Mac:
				p.Arch = "amd64"
			case ec2types.ArchitectureValuesArm64, ec2types.ArchitectureValuesArm64Mac:
				p.Arch = "arm64"
			case ec2types.ArchitectureValuesI386:
				p.Arch = "386"
			default:
				return Platform{}, fmt.Errorf("remote: instance %s has architecture %q: %w", instanceID, in.Architecture, ErrPlatformMismatch)
			}
			return p, nil
		}
	}
	return Platform{}, fmt.Errorf("remote: instance %s not found", instanceID)
}

// Binaries maps platforms ("linux/arm64") to local paths of abusekit
// binaries built for them.
type Binaries map[string]string

// For returns the binary for p, or ErrPlatformMismatch naming what there is.
func (b Binaries) For(p Platform) (string, error) {
	if p.OS != "linux" {
		return "", fmt.Errorf("remote: %s: host steps run on Linux instances only: %w", p, ErrPlatformMismatch)
	}
	if path, ok := b[p.String()]; ok {
		return path, nil
	}
	have := make([]string, 0, len(b))
	for k := range b {
		have = append(have, k)
	}
	return "", fmt.Errorf("remote: the instance is %s, binaries are for %v (give -host-binary %s=PATH): %w", p, have, p, ErrPlatformMismatch)
}

// agentPath is the PATH a host step runs with.
const agentPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// verifyFn is the shell function both transports check digests with:
// openssl's SHA-256 where the host has it (it uses the CPU's SHA
// instructions: 0.07 s of CPU for the 110 MB respond binary, against
// 0.34 s for coreutils' sha256sum, on this project's 2-CPU box), else
// sha256sum.
const verifyFn = `verify() { [ "$({ openssl dgst -sha256 -r "$1" 2>/dev/null || sha256sum "$1" 2>/dev/null; } | cut -d ' ' -f 1)" = "$2" ]; }`

var envRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// programLine is the shell words that run bin (already a shell word) with
// req's arguments and an environment of PATH and req.Env alone: "env -i
// 'PATH=…' 'K=V' /bin/sh -c 'unset PWD OLDPWD; exec "$0" "$@"' BIN 'ARG'…". A host step never gets AWS_* variables;
// newlines in arguments are refused where the line goes into a script.
func programLine(req Request, bin string, newlines bool) (string, error) {
	line := "env -i " + quote(agentPath)
	for _, e := range req.Env {
		if !envRE.MatchString(e) || strings.ContainsAny(e, "\n\x00") {
			return "", fmt.Errorf("remote: environment entry %q is not NAME=VALUE", e)
		}
		if strings.HasPrefix(e, "AWS_") {
			return "", fmt.Errorf("remote: %s: host steps never get cloud credentials or settings", strings.SplitN(e, "=", 2)[0])
		}
		line += " " + quote(e)
	}
	// env takes any word with "=" before the program for one more
	// variable: the program is run by a shell exec'ing its first argument,
	// so that a path with "=" in it (a staging directory) is still the
	// program.
	line += ` /bin/sh -c 'unset PWD OLDPWD; exec "$0" "$@"' ` + bin
	for _, a := range req.Args {
		if strings.ContainsRune(a, 0) || !newlines && strings.ContainsRune(a, '\n') {
			return "", fmt.Errorf("remote: argument %q has a NUL or newline", a)
		}
		line += " " + quote(a)
	}
	return line, nil
}

// quote single-quotes s for sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
