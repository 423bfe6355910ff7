package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
	"golang.org/x/crypto/ssh"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/playbook"
)

// Where the host steps (detect, stop, find, clean, the reinfection check)
// run. respond runs where the cloud credentials are; the host steps run on
// the instance:
//
//   - ssm: over SSM Run Command, the binary staged in -stage-bucket and
//     checked on the instance by its SHA-256. The default, unless respond
//     runs on the instance itself.
//   - ssh: over SSH to -ssh-host, the host key checked against
//     -known-hosts or -ssh-fingerprint, for instances without the agent.
//   - local: in this machine's processes, today's behaviour: the default
//     when this machine IS the instance (its DMI board asset tag, which
//     EC2 Nitro instances set to their instance ID, names it) or when
//     -root is a mounted snapshot rather than a live host.
const (
	transportLocal = "local"
	transportSSM   = "ssm"
	transportSSH   = "ssh"
)

// assetTag is where EC2 Nitro instances carry their instance ID.
var assetTag = "/sys/devices/virtual/dmi/id/board_asset_tag"

// onInstance reports whether this machine is the instance.
func onInstance(instance string) bool {
	b, err := os.ReadFile(assetTag)
	return err == nil && instance != "" && strings.TrimSpace(string(b)) == instance
}

// defaultTransport is the transport when -transport is not given.
func defaultTransport(c *config) string {
	switch {
	case c.demo:
		return transportSSM
	case filepath.Clean(c.root) != "/" || filepath.Clean(c.proc) != "/proc":
		return transportLocal // an offline root: nothing to reach
	case onInstance(c.instance):
		return transportLocal
	}
	return transportSSM
}

// hostBinaries is -host-binary, repeatable: OS/ARCH=PATH.
type hostBinaries map[string]string

func (h hostBinaries) String() string {
	var s []string
	for k, v := range h {
		s = append(s, k+"="+v)
	}
	return strings.Join(s, ",")
}

func (h hostBinaries) Set(v string) error {
	plat, path, ok := strings.Cut(v, "=")
	if !ok || !strings.Contains(plat, "/") || path == "" {
		return fmt.Errorf("want OS/ARCH=PATH (linux/arm64=./respond-arm64), got %q", v)
	}
	h[plat] = path
	return nil
}

// elfArch is the Go architecture an ELF machine runs.
var elfArch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386"}

// checkBinary refuses a binary that is not a Linux executable for p.
func checkBinary(path string, p remote.Platform) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable for %s: %v: %w", path, p, err, remote.ErrPlatformMismatch)
	}
	defer f.Close()
	if got := elfArch[f.Machine]; got != p.Arch {
		return fmt.Errorf("%s is built for %s (%s), the instance is %s: %w", path, got, f.Machine, p, remote.ErrPlatformMismatch)
	}
	return nil
}

// crossPackage is what hostBinary cross-compiles: this command.
var crossPackage = "github.com/abusekit/abusekit/examples/respond"

// hostBinary is the abusekit binary for the instance's platform: the one
// given with -host-binary, this executable when it matches, else one
// cross-compiled with the local Go toolchain (cached by this executable's
// digest and the platform).
func hostBinary(ctx context.Context, c *config, p remote.Platform, cacheDir string) (string, error) {
	if len(c.hostBinaries) > 0 {
		path, err := remote.Binaries(c.hostBinaries).For(p)
		if err != nil {
			return "", err
		}
		return path, checkBinary(path, p)
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH {
		return self, nil
	}
	if p.OS != "linux" {
		return "", fmt.Errorf("the instance is %s: host steps run on Linux instances only: %w", p, remote.ErrPlatformMismatch)
	}
	sum, err := playbook.FileSHA256(self)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "bin", "respond-"+sum[:16]+"-"+p.OS+"-"+p.Arch)
	if _, err := os.Stat(out); err == nil {
		return out, checkBinary(out, p)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the instance is %s and this binary %s/%s, and there is no Go toolchain to build one (give -host-binary %s=PATH): %w",
			p, runtime.GOOS, runtime.GOARCH, p, remote.ErrPlatformMismatch)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-o", out+".part", crossPackage)
	cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cross-compile for %s (or give -host-binary %s=PATH): %v: %s", p, p, err, strings.TrimSpace(string(b)))
	}
	if err := os.Rename(out+".part", out); err != nil {
		return "", err
	}
	return out, checkBinary(out, p)
}

// awsConfig is the runner's own AWS configuration (it holds the cloud
// credentials; host steps never see them).
func awsConfig(ctx context.Context, c *config, static *[2]string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if c.region != "" {
		opts = append(opts, awsconfig.WithRegion(c.region))
	}
	if static != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(static[0], static[1], "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if c.endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.endpoint)
	}
	cfg.Logger = logging.Nop{} // errors are returned; the SDK's own notes would only clutter the terminal
	return cfg, nil
}

// s3Shipper is where the host steps' evidence goes off the instance: the
// output bucket, under the incident's prefix. The instance PUTs to a
// presigned URL (it has no credentials); the runner reads it back.
type s3Shipper struct {
	s3             *s3.Client
	presign        *s3.PresignClient
	bucket, prefix string
}

func (s s3Shipper) key(k string) string { return s.prefix + "/" + k }

func (s s3Shipper) PutURL(ctx context.Context, k string) (string, error) {
	p, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(k))}, s3.WithPresignExpires(6*time.Hour))
	if err != nil {
		return "", err
	}
	return p.URL, nil
}

func (s s3Shipper) Get(ctx context.Context, k string) (io.ReadCloser, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(k))})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

func (s s3Shipper) Where(k string) string { return "s3://" + s.bucket + "/" + s.key(k) }

// hostSide is how the host steps are reached.
type hostSide struct {
	transport string
	remote    *playbook.Remote // nil for local
	binary    string           // the binary staged, for ssm and ssh
	sha256    string
	platform  remote.Platform
	ssmEgress bool // -ssm-endpoint-sg or -ssm-prefix-list given: contain keeps the way to SSM open
}

// newHostSide sets up the transport for the host steps.
func newHostSide(ctx context.Context, c *config, incident string, static *[2]string, cacheDir, attachDir string) (*hostSide, error) {
	hs := &hostSide{transport: c.transport, ssmEgress: strings.TrimSpace(c.ssmEndpointSGs+c.ssmPrefixLists) != ""}
	if hs.transport == "" {
		hs.transport = defaultTransport(c)
	}
	attach := map[string][]string{"stop": {"result.evidence_dir"}}
	switch hs.transport {
	case transportLocal:
		return hs, nil
	case transportSSM:
		if c.stageBucket == "" && c.installed == "" {
			return nil, errors.New("-transport ssm needs -stage-bucket (an S3 bucket the runner stages the binary in and the instance's output goes to) or -installed PATH; -transport local runs the host steps here")
		}
		cfg, err := awsConfig(ctx, c, static)
		if err != nil {
			return nil, err
		}
		if hs.platform, err = remote.InstancePlatform(ctx, awsec2.NewFromConfig(cfg), c.instance); err != nil {
			return nil, err
		}
		if hs.binary, err = hostBinary(ctx, c, hs.platform, cacheDir); err != nil {
			return nil, err
		}
		s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = c.endpoint != ""
			o.DisableLogOutputChecksumValidationSkipped = true
		})
		presign := s3.NewPresignClient(s3c)
		prefix := "abusekit/" + safeName(incident)
		var bin remote.Binary
		if c.installed != "" {
			// Installed on the instance already: checked there against the
			// digest of the binary built for its platform, not staged.
			if !filepath.IsAbs(c.installed) {
				return nil, fmt.Errorf("-installed %q: an absolute path on the instance", c.installed)
			}
			sum, err := playbook.FileSHA256(hs.binary)
			if err != nil {
				return nil, err
			}
			bin = remote.Binary{SHA256: sum, Path: c.installed}
		} else if bin, err = remote.Stage(ctx, s3c, presign, c.stageBucket, prefix, hs.binary, 6*time.Hour); err != nil {
			return nil, err
		}
		hs.sha256 = bin.SHA256
		tr := &remote.SSM{SSM: ssm.NewFromConfig(cfg), S3: s3c, Presign: presign, Instance: c.instance, Binary: bin,
			Bucket: c.stageBucket, Prefix: prefix, StageDir: c.stageDir}
		if c.demo {
			tr.MinPoll, tr.MaxPoll = 5*time.Millisecond, 50*time.Millisecond // the emulator on loopback: polls are cheap
		}
		hs.remote = &playbook.Remote{Transport: tr, Name: transportSSM, Attach: attach, AttachDir: attachDir}
		if c.stageBucket != "" {
			hs.remote.Shipper = s3Shipper{s3: s3c, presign: presign, bucket: c.stageBucket, prefix: prefix}
		}
		return hs, nil
	case transportSSH:
		if c.sshHost == "" {
			return nil, errors.New("-transport ssh needs -ssh-host HOST[:PORT]")
		}
		var check ssh.HostKeyCallback
		var err error
		switch {
		case c.sshFingerprint != "":
			check, err = remote.Fingerprint(c.sshFingerprint)
		case c.knownHosts != "":
			check, err = remote.KnownHosts(c.knownHosts)
		default:
			return nil, errors.New("-transport ssh needs -known-hosts FILE or -ssh-fingerprint SHA256:… (a host key is never accepted blindly)")
		}
		if err != nil {
			return nil, err
		}
		if c.sshKey == "" {
			return nil, errors.New("-transport ssh needs -ssh-key FILE (a private key)")
		}
		pem, err := os.ReadFile(c.sshKey)
		if err != nil {
			return nil, err
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			return nil, fmt.Errorf("-ssh-key: %w", err)
		}
		// SSH reaches hosts that need not be EC2 instances: the platform is
		// the one -host-binary names when it names one, else this one.
		hs.platform = remote.Platform{OS: "linux", Arch: runtime.GOARCH}
		if len(c.hostBinaries) == 1 {
			for k := range c.hostBinaries {
				goos, arch, _ := strings.Cut(k, "/")
				hs.platform = remote.Platform{OS: goos, Arch: arch}
			}
		}
		if hs.binary, err = hostBinary(ctx, c, hs.platform, cacheDir); err != nil {
			return nil, err
		}
		if hs.sha256, err = playbook.FileSHA256(hs.binary); err != nil {
			return nil, err
		}
		addr := c.sshHost
		if !strings.Contains(addr, ":") {
			addr += ":22"
		}
		tr := &remote.SSH{Addr: addr, User: c.sshUser, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeys: check,
			Binary: remote.Binary{SHA256: hs.sha256}, BinaryPath: hs.binary, StageDir: c.stageDir, Sudo: c.sshUser != "root"}
		hs.remote = &playbook.Remote{Transport: tr, Name: transportSSH, Attach: attach, AttachDir: attachDir}
		return hs, nil
	}
	return nil, fmt.Errorf("-transport %q: want local, ssm or ssh", hs.transport)
}
