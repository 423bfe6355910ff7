package playbook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"golang.org/x/sys/unix"

	"github.com/abusekit/abusekit/internal/hclogslog"
	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook/internal/wire"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// PluginSpec says how to start one plugin.
type PluginSpec struct {
	// Name is how steps refer to the plugin.
	Name string
	// Path is the plugin's executable. Empty means a built-in plugin: the
	// host's own executable (os.Executable) re-executed with the plugin's
	// name in its environment, served by plugin.ServeIfPlugin.
	Path string
	// SHA256 is the hex SHA-256 the executable must have. Required with
	// Path; for a built-in plugin it defaults to the host executable's own.
	SHA256 string
	// Env is the plugin's whole environment ("KEY=value"); nothing of the
	// host's environment is inherited, so cloud credentials reach only the
	// plugins they are given to. Without a PATH entry, PATH is
	// /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin.
	Env []string
	// Reattach, if set, connects to a plugin already being served (by
	// plugintest, or under a debugger) instead of starting a process. It has
	// no mTLS and no checksum.
	Reattach *plugin.ReattachConfig
	// StartTimeout bounds starting and handshaking (default 30s).
	StartTimeout time.Duration
	// MinVersion, if set, is the lowest plugin version the host accepts
	// ("1.4" or "v1.4.0"): the plugin must report a semantic version with
	// the same major and at least this minor and patch, else it is refused
	// (ErrPluginVersion).
	MinVersion string
	// Remote, if set, runs the plugin's Plan and Apply on another host
	// through a transport (SSM Run Command, SSH); the local executable is
	// still started, for its actions and schemas. See Remote.
	Remote *Remote
}

// Builtin names a built-in plugin of the host's own executable.
func Builtin(name string, env ...string) PluginSpec {
	return PluginSpec{Name: name, Env: env}
}

// External names a third-party plugin binary, pinned by its SHA-256.
func External(name, path, sha256Hex string, env ...string) PluginSpec {
	return PluginSpec{Name: name, Path: path, SHA256: sha256Hex, Env: env}
}

// Refusals when starting a plugin. Each is wrapped in a *PluginError.
var (
	ErrChecksumMismatch = errors.New("playbook: plugin binary checksum mismatch")
	ErrNotPinned        = errors.New("playbook: plugin binary not pinned by SHA-256")
	ErrHandshake        = errors.New("playbook: plugin handshake failed")
	ErrProtocolVersion  = errors.New("playbook: incompatible plugin protocol version")
	ErrUnknownPlugin    = errors.New("playbook: unknown plugin")
	ErrPluginVersion    = errors.New("playbook: plugin version not accepted")
	// ErrUnknownAction is plugin.ErrUnknownAction: a step asks a plugin
	// for an action it does not offer.
	ErrUnknownAction = plugin.ErrUnknownAction
	// ErrPlanChanged is plugin.ErrPlanChanged: a step's Apply found the
	// state differs from the plan that was approved, and refused.
	ErrPlanChanged = plugin.ErrPlanChanged
)

// PluginError is a failure to start or talk to a plugin.
type PluginError struct {
	Plugin string
	Path   string
	Err    error
}

func (e *PluginError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("plugin %s (%s): %v", e.Plugin, e.Path, e.Err)
	}
	return fmt.Sprintf("plugin %s: %v", e.Plugin, e.Err)
}

func (e *PluginError) Unwrap() error { return e.Err }

// HostOptions configures a Host.
type HostOptions struct {
	// Logger receives the host's records and every plugin's log records
	// (with a "plugin" attribute). Default: discard.
	Logger *slog.Logger
	// GoPluginAutoMTLS uses go-plugin's own AutoMTLS (one-time P-521
	// certificates negotiated at start) instead of the default: one-time
	// ECDSA P-256 certificates the host mints for itself and for each plugin
	// process, which authenticate both ends the same way at a fraction of
	// the start-up cost.
	GoPluginAutoMTLS bool
	// StopGrace bounds how long a running action is given to finish its
	// cleanup once asked to stop, before its plugin is stopped anyway: when
	// the context of Apply ends (the runner was interrupted, SIGINT or
	// SIGTERM turned into a cancelled context), the host cancels the
	// action's context in the plugin and waits this long for its result;
	// Close waits this long for running actions before stopping a plugin;
	// and a plugin whose host went away waits this long for its running
	// actions before exiting. Zero means 10s; negative means no grace.
	StopGrace time.Duration
}

// Host starts plugins and talks to them. It is safe for concurrent use.
type Host struct {
	logger   *slog.Logger
	autoMTLS bool
	grace    time.Duration

	idOnce sync.Once
	id     *wire.Identity
	idErr  error

	mu      sync.Mutex
	plugins map[string]*Plugin
	closed  bool
}

// hostVersions is the set of protocol versions this host speaks; a variable
// so that tests can play an older host.
var hostVersions = []int{wire.ProtocolVersion}

// NewHost returns a Host with no plugins started.
func NewHost(opts HostOptions) *Host {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	grace := opts.StopGrace
	switch {
	case grace == 0:
		grace = wire.DefaultStopGrace
	case grace < 0:
		grace = 0
	}
	return &Host{logger: l, autoMTLS: opts.GoPluginAutoMTLS, grace: grace, plugins: make(map[string]*Plugin)}
}

// Start starts the plugins, in parallel, and handshakes with each. If any
// fails, the ones this call started are stopped and the errors (each a
// *PluginError) are returned joined.
func (h *Host) Start(ctx context.Context, specs ...PluginSpec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" {
			return errors.New("playbook: plugin spec without a name")
		}
		if seen[s.Name] {
			return fmt.Errorf("playbook: plugin %q given twice", s.Name)
		}
		seen[s.Name] = true
	}
	h.mu.Lock()
	for _, s := range specs {
		if _, ok := h.plugins[s.Name]; ok {
			h.mu.Unlock()
			return fmt.Errorf("playbook: plugin %q already started", s.Name)
		}
	}
	h.mu.Unlock()

	started := make([]*Plugin, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { started[i], errs[i] = h.start(ctx, s) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range started {
			if p != nil {
				p.kill()
			}
		}
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		for _, p := range started {
			p.kill()
		}
		return errors.New("playbook: host closed")
	}
	for _, p := range started {
		h.plugins[p.name] = p
	}
	return nil
}

// Plugin returns a started plugin by name.
func (h *Host) Plugin(name string) (*Plugin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[name]
	if !ok {
		return nil, &PluginError{Plugin: name, Err: ErrUnknownPlugin}
	}
	return p, nil
}

// Restart replaces a plugin whose process has exited (crashed, killed)
// with a freshly started one from the same spec. A plugin still running is
// returned as it is.
func (h *Host) Restart(ctx context.Context, name string) (*Plugin, error) {
	old, err := h.Plugin(name)
	if err != nil {
		return nil, err
	}
	if !old.Exited() {
		return old, nil
	}
	old.kill()
	p, err := h.start(ctx, old.spec)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		p.kill()
		return nil, errors.New("playbook: host closed")
	}
	h.plugins[name] = p
	h.logger.Warn("plugin process had exited; restarted", "plugin", name, "old_pid", old.pid, "pid", p.pid)
	return p, nil
}

// Plugins returns the started plugins' names, sorted.
func (h *Host) Plugins() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.plugins))
	for n := range h.plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close stops every plugin process and waits for them to exit. Actions
// still running are asked to stop first (their contexts cancelled) and
// given StopGrace to finish their cleanup and return.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	ps := h.plugins
	h.plugins = map[string]*Plugin{}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.stop)
	}
	wg.Wait()
	return nil
}

// The binary a plugin runs is opened once: that descriptor is hashed
// against the pin and that descriptor is executed (/proc/self/fd/N in the
// child), so the file at the path being replaced between the check and the
// exec (a rename, a swapped link) cannot make the host run something other
// than what it checked.

var selfSum struct {
	once sync.Once
	path string
	sum  string
	err  error
}

// selfExe is what a built-in plugin executes: the host's running
// executable, whatever its path now holds.
const selfExe = "/proc/self/exe"

// executableSum returns the host's own executable and the SHA-256 of the
// file it is running (/proc/self/exe), computed once per process.
func executableSum() (string, string, error) {
	selfSum.once.Do(func() {
		selfSum.path, selfSum.err = os.Executable()
		if selfSum.err != nil {
			return
		}
		f, err := os.Open(selfExe)
		if err != nil {
			selfSum.err = err
			return
		}
		defer f.Close()
		before, err := identifyFD(f)
		if err != nil {
			selfSum.err = err
			return
		}
		selfSum.sum, selfSum.err = hashFD(f, before.size)
		if selfSum.err != nil {
			return
		}
		// The file was just hashed: if it did not change meanwhile, that
		// hash is a verification of the built-in plugins' pin (which
		// defaults to it), and need not be done again for each of them.
		if after, err := identifyFD(f); err == nil && after == before {
			verified.Lock()
			if verified.m == nil {
				verified.m = map[fileID]string{}
			}
			verified.m[before] = selfSum.sum
			verified.Unlock()
		}
	})
	return selfSum.path, selfSum.sum, selfSum.err
}

func hashFD(f *os.File, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 returns the hex SHA-256 of a file, the value to pin a plugin
// binary with.
func FileSHA256(path string) (string, error) { return fileSHA256(path) }

// verified caches successful checksum checks by file identity, so that a
// binary started many times (the host's own executable serving every
// built-in plugin, say) is hashed once. Any change to the file changes its
// ctime (which no caller can set) and so misses the cache.
//
// Concurrent checks of one file against one pin (the plugins of one
// playbook started in parallel from one binary) share a single hashing.
var verified struct {
	sync.Mutex
	m        map[fileID]string // identity → the pin it matched
	bad      map[fileID]string // identity → its SHA-256, which matched no pin
	inflight map[verifyKey]*verifyCall
}

// binaryHashes counts the plugin binaries hashed by verifyChecksum.
var binaryHashes atomic.Int64

type verifyKey struct {
	id  fileID
	pin string
}

type verifyCall struct {
	done chan struct{}
	got  string
	err  error
}

// fileID identifies an open file's content: its inode and what changes
// whenever the content does.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func identifyFD(f *os.File) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileID{}, fmt.Errorf("%s is not a regular file", f.Name())
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, nil
}

// errChangedWhileVerified: the binary's content changed while it was hashed
// or before it was executed.
var errChangedWhileVerified = errors.New("the file changed while it was being verified")

// verifyChecksum checks the open binary f against its pin, unless the same
// file (by identity) was verified against the same pin before. It returns
// the identity it verified, and on a mismatch the hex SHA-256 it found.
func verifyChecksum(f *os.File, want []byte) (fileID, string, error) {
	id, err := identifyFD(f)
	if err != nil {
		return fileID{}, "", fmt.Errorf("error verifying checksum: %w", err)
	}
	key := hex.EncodeToString(want)
	vk := verifyKey{id, key}
	verified.Lock()
	if verified.m[id] == key {
		verified.Unlock()
		return id, "", nil
	}
	if got, ok := verified.bad[id]; ok && got != key {
		verified.Unlock()
		return id, got, goplugin.ErrChecksumsDoNotMatch
	}
	if c, ok := verified.inflight[vk]; ok {
		verified.Unlock()
		<-c.done
		return id, c.got, c.err
	}
	c := &verifyCall{done: make(chan struct{})}
	if verified.inflight == nil {
		verified.inflight = map[verifyKey]*verifyCall{}
	}
	verified.inflight[vk] = c
	verified.Unlock()
	c.got, c.err = hashAndCache(f, id, key)
	verified.Lock()
	delete(verified.inflight, vk)
	verified.Unlock()
	close(c.done)
	return id, c.got, c.err
}

// hashAndCache hashes the open file f, identified as id, against the hex
// pin key and caches a match. On a mismatch it returns what it found.
func hashAndCache(f *os.File, id fileID, key string) (string, error) {
	binaryHashes.Add(1)
	got, err := hashFD(f, id.size)
	if err != nil {
		return "", fmt.Errorf("error verifying checksum: %w", err)
	}
	if after, err := identifyFD(f); err != nil || after != id {
		return got, fmt.Errorf("%w: %w", goplugin.ErrChecksumsDoNotMatch, errChangedWhileVerified)
	}
	if got != key {
		verified.Lock()
		if verified.bad == nil || len(verified.bad) > 64 {
			verified.bad = map[fileID]string{}
		}
		verified.bad[id] = got
		verified.Unlock()
		return got, goplugin.ErrChecksumsDoNotMatch
	}
	verified.Lock()
	if verified.m == nil {
		verified.m = map[fileID]string{}
	}
	verified.m[id] = key
	verified.Unlock()
	return got, nil
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (h *Host) start(ctx context.Context, s PluginSpec) (*Plugin, error) {
	logger := h.logger.With("plugin", s.Name)
	if s.Remote != nil {
		if err := s.Remote.check(s); err != nil {
			return nil, &PluginError{Plugin: s.Name, Err: err}
		}
	}
	timeout := s.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	versions := map[int]goplugin.PluginSet{}
	for _, v := range hostVersions {
		versions[v] = goplugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{}}
	}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  goplugin.HandshakeConfig{MagicCookieKey: wire.Handshake.MagicCookieKey, MagicCookieValue: wire.Handshake.MagicCookieValue},
		VersionedPlugins: versions,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		GRPCDialOptions:  wire.DialOptions,
		Logger:           quietStderr{hclogslog.ForPlugin(h.logger, s.Name)},
		StartTimeout:     timeout,
	}
	path := s.Path
	stderr := &tailBuffer{max: 4 << 10}
	var tlsPipe *os.File // the plugin's one-time mTLS material, for fd 3
	var exe *os.File     // the binary, open once: hashed, then executed
	var exeID fileID     // its identity when hashed
	if s.Reattach != nil {
		addr, err := s.Reattach.ResolveAddr()
		if err != nil {
			return nil, &PluginError{Plugin: s.Name, Err: err}
		}
		set, ok := versions[s.Reattach.ProtocolVersion]
		if !ok {
			return nil, &PluginError{Plugin: s.Name, Err: fmt.Errorf("%w: plugin serves %d, host speaks %v", ErrProtocolVersion, s.Reattach.ProtocolVersion, hostVersions)}
		}
		cfg.Plugins = set
		cfg.Reattach = &goplugin.ReattachConfig{
			Protocol:        goplugin.ProtocolGRPC,
			ProtocolVersion: s.Reattach.ProtocolVersion,
			Addr:            addr,
			Pid:             s.Reattach.Pid,
			Test:            true,
		}
	} else {
		sum := s.SHA256
		var env []string
		open := path
		if path == "" {
			self, selfSHA, err := executableSum()
			if err != nil {
				return nil, &PluginError{Plugin: s.Name, Err: fmt.Errorf("built-in plugin: own executable: %w", err)}
			}
			path, open = self, selfExe
			if sum == "" {
				sum = selfSHA
			}
			env = append(env, wire.EnvBuiltin+"="+s.Name)
		}
		if sum == "" {
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: ErrNotPinned}
		}
		want, err := hex.DecodeString(sum)
		if err != nil || len(want) != sha256.Size {
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("%w: SHA256 %q is not 64 hex digits", ErrNotPinned, sum)}
		}
		hasPath := false
		for _, kv := range s.Env {
			if strings.HasPrefix(kv, "PATH=") {
				hasPath = true
			}
		}
		env = append(env, s.Env...)
		if !hasPath {
			env = append(env, defaultPath)
		}
		env = append(env,
			wire.EnvParentPID+"="+strconv.Itoa(os.Getpid()),
			wire.EnvLogLevel+"="+strconv.Itoa(int(minLevel(h.logger))),
			wire.EnvStopGrace+"="+h.grace.String(),
		)
		exe, err = os.OpenFile(open, os.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("%w: %w", ErrHandshake, err)}
		}
		// Closed once the child is started (below), or here on a refusal.
		var got string
		exeID, got, err = verifyChecksum(exe, want)
		if err != nil {
			exe.Close()
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: checksumError(err, s, got)}
		}
		if h.autoMTLS {
			cfg.AutoMTLS = true
		} else {
			h.idOnce.Do(func() { h.id, h.idErr = wire.NewIdentity("abusekit-host") })
			if h.idErr != nil {
				exe.Close()
				return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("host mTLS identity: %w", h.idErr)}
			}
			pid, err := wire.NewIdentity("abusekit-plugin-" + s.Name)
			if err != nil {
				exe.Close()
				return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("plugin mTLS identity: %w", err)}
			}
			tlsEnv, err := wire.EncodeTLSEnv(h.id, pid)
			if err != nil {
				exe.Close()
				return nil, &PluginError{Plugin: s.Name, Path: path, Err: err}
			}
			tlsPipe, err = wire.TLSPipe(tlsEnv)
			if err != nil {
				exe.Close()
				return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("plugin mTLS pipe: %w", err)}
			}
			env = append(env, fmt.Sprintf("%s=fd:%d", wire.EnvTLS, wire.TLSFD))
			cfg.TLSConfig = wire.ClientTLS(h.id, pid)
		}
		// The child executes the descriptor that was hashed, passed to it
		// as its fd 3 + len(ExtraFiles); the SDK closes it once running.
		var extra []*os.File
		if tlsPipe != nil {
			extra = append(extra, tlsPipe) // fd 3 in the plugin
		}
		exeFD := 3 + len(extra)
		extra = append(extra, exe)
		cmd := exec.Command("/proc/self/fd/" + strconv.Itoa(exeFD))
		cmd.Args[0] = path
		cmd.Env = append(env, wire.EnvExeFD+"="+strconv.Itoa(exeFD))
		cmd.ExtraFiles = extra
		cfg.Cmd = cmd
		cfg.SkipHostEnv = true
		stderrLog := hclogslog.NewStderrWriter(h.logger.With("plugin", s.Name))
		cfg.Stderr = io.MultiWriter(stderr, stderrLog)
		// What an action prints to os.Stdout or os.Stderr (which go-plugin
		// streams over gRPC) is logged too, rather than lost.
		cfg.SyncStdout = hclogslog.NewStderrWriter(h.logger.With("plugin", s.Name, "stream", "stdout"))
		cfg.SyncStderr = hclogslog.NewStderrWriter(h.logger.With("plugin", s.Name, "stream", "stderr"))
	}

	client := goplugin.NewClient(cfg)
	type result struct {
		rpc goplugin.ClientProtocol
		err error
	}
	ch := make(chan result, 1)
	go func() {
		rpc, err := client.Client()
		// The plugin has its copy of the mTLS pipe (or never will): the
		// host's goes, here where no start can still be under way.
		if tlsPipe != nil {
			tlsPipe.Close()
		}
		// The binary was executed (or never will be): had its content
		// changed in place since it was hashed, refuse what runs.
		if exe != nil {
			if now, ierr := identifyFD(exe); err == nil && (ierr != nil || now != exeID) {
				err = fmt.Errorf("%w: %w", goplugin.ErrChecksumsDoNotMatch, errChangedWhileVerified)
			}
			exe.Close()
		}
		ch <- result{rpc, err}
	}()
	var rpc goplugin.ClientProtocol
	select {
	case r := <-ch:
		if r.err != nil {
			client.Kill()
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: classifyStartError(r.err, path, s, stderr)}
		}
		rpc = r.rpc
	case <-ctx.Done():
		go func() { <-ch; client.Kill() }()
		return nil, &PluginError{Plugin: s.Name, Path: path, Err: ctx.Err()}
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("%w: %v", ErrHandshake, err)}
	}
	pc, ok := raw.(pb.PluginClient)
	if !ok {
		client.Kill()
		return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("%w: unexpected client type %T", ErrHandshake, raw)}
	}
	p := &Plugin{name: s.Name, path: path, spec: s, client: client, rpc: pc, version: client.NegotiatedVersion(),
		grace: h.grace, logger: logger, inflight: map[uint64]bool{}, remote: s.Remote}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := pc.Describe(dctx, &pb.DescribeRequest{})
	if err != nil {
		client.Kill()
		return nil, &PluginError{Plugin: s.Name, Path: path, Err: fmt.Errorf("%w: describe: %v", ErrHandshake, err)}
	}
	p.pid = int(d.GetPid())
	p.pluginVersion, p.description = d.GetVersion(), d.GetDescription()
	if s.MinVersion != "" {
		if err := versionAtLeast(p.pluginVersion, s.MinVersion); err != nil {
			client.Kill()
			return nil, &PluginError{Plugin: s.Name, Path: path, Err: err}
		}
	}
	p.actions = make(map[string]ActionInfo, len(d.GetActions()))
	p.inSchema = make(map[string]*wire.SchemaNode, len(d.GetActions()))
	p.outSchema = make(map[string]*wire.SchemaNode, len(d.GetActions()))
	for _, a := range d.GetActions() {
		p.inSchema[a.GetName()] = wire.ParseSchema(a.GetInputSchema())
		p.outSchema[a.GetName()] = wire.ParseSchema(a.GetOutputSchema())
		p.actions[a.GetName()] = ActionInfo{
			Name:         a.GetName(),
			Description:  a.GetDescription(),
			Version:      a.GetVersion(),
			InputSchema:  json.RawMessage(a.GetInputSchema()),
			OutputSchema: json.RawMessage(a.GetOutputSchema()),
		}
	}
	logger.Debug("plugin started", "path", path, "pid", p.pid, "protocol", p.version, "actions", len(p.actions))
	return p, nil
}

func classifyStartError(err error, path string, s PluginSpec, stderr *tailBuffer) error {
	msg := err.Error()
	tail := strings.TrimSpace(stderr.String())
	if tail != "" {
		tail = "; plugin stderr: " + tail
	}
	switch {
	case errors.Is(err, goplugin.ErrChecksumsDoNotMatch):
		return checksumError(err, s, "")
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w: host speaks %v: %v", ErrProtocolVersion, hostVersions, err)
	default:
		return fmt.Errorf("%w: %v%s", ErrHandshake, err, tail)
	}
}

// checksumError is a refused pin: got is the SHA-256 found, if known.
func checksumError(err error, s PluginSpec, got string) error {
	if !errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
		return fmt.Errorf("%w: %w", ErrChecksumMismatch, err)
	}
	want := s.SHA256
	if want == "" {
		_, want, _ = executableSum()
	}
	if errors.Is(err, errChangedWhileVerified) {
		return fmt.Errorf("%w: pinned sha256 %s: %w (refusing to run it)", ErrChecksumMismatch, want, errChangedWhileVerified)
	}
	return fmt.Errorf("%w: pinned sha256 %s, file has %s (refusing to run it)", ErrChecksumMismatch, want, got)
}

func minLevel(l *slog.Logger) slog.Level {
	for _, lv := range []slog.Level{hclogslog.LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if l.Enabled(context.Background(), lv) {
			return lv
		}
	}
	return slog.LevelError
}

// quietStderr is the go-plugin client's logger with go-plugin's own parsing
// of plugin stderr turned off: that parser panics on a JSON line whose
// @message or @level is not a string, which would let a plugin crash its
// host. The host reads the raw stderr (ClientConfig.Stderr) with
// hclogslog.StderrWriter instead. go-plugin names the stderr logger after
// the plugin's executable; its only other named logger is "stdio".
type quietStderr struct{ hclog.Logger }

func (q quietStderr) Named(name string) hclog.Logger {
	if name == "stdio" {
		return q.Logger.Named(name)
	}
	return offLogger
}

// offLogger is at level Off, which is what makes go-plugin skip parsing.
var offLogger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, []byte("?")))
}

// ActionInfo describes one action a plugin offers.
type ActionInfo struct {
	Name         string
	Description  string
	Version      string          // the action's own version, if it has one
	InputSchema  json.RawMessage // JSON Schema
	OutputSchema json.RawMessage // JSON Schema
}

// Plugin is one started plugin.
type Plugin struct {
	name    string
	path    string
	spec    PluginSpec
	client  *goplugin.Client
	rpc     pb.PluginClient
	pid     int
	version int
	actions map[string]ActionInfo
	// The actions' schemas, parsed.
	inSchema, outSchema map[string]*wire.SchemaNode
	grace               time.Duration
	logger              *slog.Logger
	pluginVersion       string
	description         string
	remote              *Remote // Plan and Apply over a transport (nil: this process)

	calls    atomic.Uint64 // call ids
	mu       sync.Mutex
	inflight map[uint64]bool // call ids of running applies
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return p.name }

// PID is the plugin process's id.
func (p *Plugin) PID() int { return p.pid }

// Version is the version the plugin reports ("(devel)" or "" if unknown).
func (p *Plugin) Version() string { return p.pluginVersion }

// Description is the plugin's own description.
func (p *Plugin) Description() string { return p.description }

// ProtocolVersion is the negotiated protocol version.
func (p *Plugin) ProtocolVersion() int { return p.version }

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// exitedWithin reports whether the plugin process exits within d: after a
// transport error the process may be dying but not yet reaped.
func (p *Plugin) exitedWithin(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.client.Exited() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Actions lists the actions the plugin offers, sorted by name.
func (p *Plugin) Actions() []ActionInfo {
	out := make([]ActionInfo, 0, len(p.actions))
	for _, a := range p.actions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Action returns one action's description.
func (p *Plugin) Action(name string) (ActionInfo, bool) {
	a, ok := p.actions[name]
	return a, ok
}

func (p *Plugin) kill() { p.client.Kill() }

// stop asks the plugin's running actions to stop, waits at most the grace
// period for them to return, and stops the plugin.
func (p *Plugin) stop() {
	p.mu.Lock()
	ids := make([]uint64, 0, len(p.inflight))
	for id := range p.inflight {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	if len(ids) > 0 && !p.client.Exited() {
		p.logger.Warn("closing: asking running actions to stop", "actions", len(ids), "grace", p.grace)
		deadline := time.Now().Add(p.grace)
		for _, id := range ids {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			_, _ = p.rpc.Cancel(ctx, &pb.CancelRequest{CallId: id})
			cancel()
		}
		for p.running() > 0 && !p.client.Exited() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	p.kill()
}

func (p *Plugin) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

// askToStop asks the plugin to cancel a running apply's context and returns
// a channel that fires when the grace period for its result is over (at
// once if the plugin cannot be asked).
func (p *Plugin) askToStop(id uint64) <-chan time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), p.grace)
	defer cancel()
	r, err := p.rpc.Cancel(ctx, &pb.CancelRequest{CallId: id})
	if err != nil || !r.GetFound() {
		// An older plugin without Cancel, or one that no longer runs it:
		// the stream is cancelled at once.
		return time.After(0)
	}
	p.logger.Info("asked a running action to stop; waiting for its cleanup", "call", id, "grace", p.grace)
	return time.After(p.grace)
}

// Call is one request to an action, as the runner makes it.
type Call struct {
	Action           string
	Input            json.RawMessage
	Incident         string
	Playbook         string
	Step             string
	IdempotencyToken string
	Attempt          int
	// Approved is the plan approved for the step (Apply only; nil if none).
	Approved *plugin.ApprovedPlan
	// Notes are the notes earlier attempts of the step kept (Apply only).
	Notes map[string]json.RawMessage
	// OnNote is called for each note the action keeps (plugin
	// Progress.Note) while the action waits; it returns once the note is
	// durable, or the error the action gets. Nil: notes are accepted and
	// not kept.
	OnNote func(key string, value json.RawMessage) error
}

func (c Call) wire() *pb.Call {
	var approved *pb.ApprovedPlan
	if a := c.Approved; a != nil {
		approved = &pb.ApprovedPlan{Summary: a.Summary, Payload: a.Payload}
		for _, ch := range a.Changes {
			approved.Changes = append(approved.Changes, &pb.Change{Kind: string(ch.Kind), Target: ch.Target, Detail: ch.Detail})
		}
	}
	var notes []*pb.Note
	for _, k := range sortedNoteKeys(c.Notes) {
		notes = append(notes, &pb.Note{Key: k, Value: c.Notes[k]})
	}
	return &pb.Call{
		Notes:            notes,
		Approved:         approved,
		Action:           c.Action,
		Input:            c.Input,
		Incident:         c.Incident,
		Playbook:         c.Playbook,
		Step:             c.Step,
		IdempotencyToken: c.IdempotencyToken,
		Attempt:          int32(c.Attempt),
	}
}

// Plan asks the plugin for an action's plan.
func (p *Plugin) Plan(ctx context.Context, c Call) (plugin.PlanResponse, error) {
	if err := p.checkCall(c); err != nil {
		return plugin.PlanResponse{}, err
	}
	if p.remote != nil {
		return p.remotePlan(ctx, c)
	}
	r, err := p.rpc.Plan(ctx, &pb.PlanRequest{Call: c.wire()})
	if err != nil {
		return plugin.PlanResponse{}, p.transportError(ctx, err)
	}
	if err := wire.Decode(r.GetError()); err != nil {
		return plugin.PlanResponse{}, err
	}
	resp := plugin.PlanResponse{Summary: r.GetSummary()}
	if len(r.GetPayload()) > 0 {
		resp.Payload = json.RawMessage(r.GetPayload())
	}
	for _, ch := range r.GetChanges() {
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeKind(ch.GetKind()), Target: ch.GetTarget(), Detail: ch.GetDetail()})
	}
	return resp, nil
}

// Progress is one progress report of an action.
type Progress struct {
	Message string
	Done    int64
	Total   int64
}

// Apply runs an action, calling progress (if not nil) for each progress
// report, and returns its output document.
func (p *Plugin) Apply(ctx context.Context, c Call, progress func(Progress)) (json.RawMessage, error) {
	return p.applyAfter(ctx, c, progress, nil)
}

// noteSynced keeps a note an action sent and tells the action it is kept.
func (p *Plugin) noteSynced(id uint64, n *pb.Note, keep func(string, json.RawMessage) error) {
	var err error
	switch {
	case n.GetKey() == "":
		err = errors.New("note without a key")
	case len(n.GetValue()) > wire.MaxPayload || !json.Valid(n.GetValue()):
		err = errors.New("note value is not a JSON document within the payload limit")
	case keep != nil:
		err = keep(n.GetKey(), json.RawMessage(n.GetValue()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, rerr := p.rpc.NoteSynced(ctx, &pb.NoteSyncedRequest{CallId: id, Seq: n.GetSeq(), Error: wire.Encode(err)}); rerr != nil {
		p.logger.Warn("could not tell the action its note is kept", "key", n.GetKey(), "error", rerr)
	}
}

func sortedNoteKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (p *Plugin) unknownAction(name string) error {
	offered := make([]string, 0, len(p.actions))
	for n := range p.actions {
		offered = append(offered, n)
	}
	sort.Strings(offered)
	return fmt.Errorf("%w %q in plugin %s (offered: %v)", ErrUnknownAction, name, p.name, offered)
}

// transportError reports an RPC failure, preferring the context's error when
// the context ended (so errors.Is(err, context.Canceled) holds).
func (p *Plugin) transportError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("plugin %s: %w", p.name, cerr)
	}
	if p.client.Exited() {
		return fmt.Errorf("plugin %s (pid %d) exited: %v", p.name, p.pid, err)
	}
	return fmt.Errorf("plugin %s: %v", p.name, err)
}

// AWSEnv names the variables the AWS SDK's default credential and config
// chain reads, for HostEnv: give them to the cloud plugins, and to no other.
var AWSEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_EC2_METADATA_DISABLED",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_CA_BUNDLE", "HOME",
}

// HostEnv returns "NAME=value" for each named variable set in the host's
// environment, for PluginSpec.Env:
//
//	playbook.Builtin("ec2", playbook.HostEnv(playbook.AWSEnv...)...)
func HostEnv(names ...string) []string {
	var out []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			out = append(out, n+"="+v)
		}
	}
	return out
}

// parseSemver reads "v1.2.3", "1.2.3", "1.2" or "1" (a pre-release or build
// suffix is ignored) into major, minor and patch.
func parseSemver(v string) ([3]int, bool) {
	var out [3]int
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// versionAtLeast accepts have when it has min's major and is not older.
func versionAtLeast(have, min string) error {
	m, ok := parseSemver(min)
	if !ok {
		return fmt.Errorf("%w: MinVersion %q is not a semantic version", ErrPluginVersion, min)
	}
	h, ok := parseSemver(have)
	if !ok {
		return fmt.Errorf("%w: plugin reports version %q, want %s or later (same major)", ErrPluginVersion, have, min)
	}
	if h[0] != m[0] || h[1] < m[1] || (h[1] == m[1] && h[2] < m[2]) {
		return fmt.Errorf("%w: plugin is version %s, want %s or later with major %d", ErrPluginVersion, have, min, m[0])
	}
	return nil
}
