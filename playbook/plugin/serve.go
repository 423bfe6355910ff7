package plugin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/abusekit/abusekit/internal/hclogslog"
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// Serve serves actions as a plugin process and exits the process when the
// host is done with it. It is all a plugin's main does:
//
//	func main() { plugin.Serve(plugin.Actions{"greet": greetAction}) }
//
// Serve logs through slog to stderr, in the format the host reads back into
// its own log (slog.Default is set to that logger too), exits when the host
// process goes away (even when it was killed), and refuses, with a message
// on stderr and exit status 1, to run when not started by a host.
func Serve(actions Actions, opts ...ServeOption) {
	var info Info
	for _, o := range opts {
		o(&info)
	}
	os.Exit(serve(actions, info, os.Stderr))
}

// Info is what a plugin says of itself in the host's Describe call.
type Info struct {
	// Version is the plugin's semantic version ("1.4.0"). Empty: the
	// version of the executable's main module, from its build information
	// (the host's own, for a built-in plugin).
	Version string
	// Description is one line on what the plugin is for.
	Description string
}

// ServeOption sets what Serve says of the plugin.
type ServeOption func(*Info)

// WithInfo sets the plugin's version and description.
func WithInfo(info Info) ServeOption { return func(i *Info) { *i = info } }

// ServeIfPlugin serves the built-in plugin named in the environment, if the
// host started this executable as one, and exits; otherwise it returns at
// once. A host that offers built-in plugins calls it first thing in main:
//
//	func main() {
//		plugin.ServeIfPlugin(map[string]plugin.Actions{"scan": scanActions})
//		// … the host's own main …
//	}
//
// The host then names the plugin with playbook.Builtin("scan"), and runs its
// own executable as that plugin, so nothing needs to be built or installed
// beside it and the checksum pinned is the host's own.
//
// With EnvOneShot naming a built-in plugin instead, it runs one action of
// it in one-shot mode (ServeOneShot) and exits.
func ServeIfPlugin(builtins map[string]Actions) {
	// One dispatch for both entry points (one-shot mode, then a host's
	// re-execution): ServeBuiltinIfPlugin with no Info.
	m := make(map[string]func() Builtin, len(builtins))
	for name, actions := range builtins {
		m[name] = func() Builtin { return Builtin{Actions: actions} }
	}
	ServeBuiltinIfPlugin(m)
}

// Running reports whether this process was started by a host as a plugin.
func Running() bool {
	return os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue
}

func serve(actions Actions, info Info, stderr io.Writer) int {
	if !Running() {
		fmt.Fprintln(stderr, "This program is an abusekit plugin: a playbook host starts it. It is not meant to be run directly.")
		return 1
	}
	level := slog.LevelInfo
	if s := os.Getenv(wire.EnvLogLevel); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			level = slog.Level(n)
		}
	}
	logger := slog.New(hclogslog.NewHandler(stderr, level))
	slog.SetDefault(logger)

	// The host executed this process from a descriptor of its binary (the
	// one it hashed); the plugin has no use for it.
	if v, ok := os.LookupEnv(wire.EnvExeFD); ok {
		os.Unsetenv(wire.EnvExeFD)
		if fd, err := strconv.Atoi(v); err == nil && fd > 2 {
			_ = syscall.Close(fd)
		}
	}

	grace := wire.DefaultStopGrace
	if v := os.Getenv(wire.EnvStopGrace); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			grace = d
		}
	}
	srv := newServer(actions, logger)
	srv.info = info
	// Writing to the host's pipe after it is gone must be an error, not a
	// SIGPIPE that kills the process in the middle of an action's cleanup.
	signal.Ignore(syscall.SIGPIPE)
	if err := watchParent(srv, grace); err != nil {
		logger.Error("not serving", "error", err)
		return 1
	}
	// SIGTERM (a service manager stopping the whole group, say) stops the
	// plugin as gracefully as its host going away does. SIGINT (a terminal's
	// ^C to the group) is left to the host, which asks its plugins to stop.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		stopRunning(srv, grace, "SIGTERM")
		os.Exit(128 + int(syscall.SIGTERM))
	}()
	cfg := &goplugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Versioned(wire.ProtocolVersion, srv),
		GRPCServer:       wire.GRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     stderr,
			Level:      hclog.Warn,
			JSONFormat: true,
		}),
	}
	// The host minted this process's one-time mTLS identity; without it
	// (a host using go-plugin's AutoMTLS) go-plugin negotiates its own.
	if env, ok := os.LookupEnv(wire.EnvTLS); ok {
		os.Unsetenv(wire.EnvTLS) // not for the plugin's own children
		material, err := wire.ReadTLSFD(env)
		if err != nil {
			logger.Error("not serving", "error", err)
			return 1
		}
		tlsConfig, err := wire.ServerTLS(material)
		if err != nil {
			logger.Error("not serving", "error", err)
			return 1
		}
		cfg.TLSProvider = func() (*tls.Config, error) { return tlsConfig, nil }
	}
	goplugin.Serve(cfg)
	// The host closed the plugin (go-plugin's Shutdown stops the gRPC
	// server, which cancels the running applies' contexts): let them finish.
	stopRunning(srv, grace, "host closed the plugin")
	return 0
}

// stopRunning cancels the running actions' contexts and waits, at most
// grace, for them to return.
func stopRunning(srv *server, grace time.Duration, why string) {
	n := srv.cancelAll()
	if n == 0 {
		return
	}
	slog.Warn("stopping: running actions cancelled; waiting for them to finish", "why", why, "actions", n, "grace", grace)
	if !srv.drain(grace) {
		slog.Error("stopping: actions still running after the grace period; exiting anyway", "why", why, "grace", grace)
	}
}

// watchParent makes the plugin exit when the host that started it is gone,
// however it went (SIGKILL included): the process is re-parented then, which
// a poll of getppid notices.
func watchParent(srv *server, grace time.Duration) error {
	ppid := os.Getppid()
	if s := os.Getenv(wire.EnvParentPID); s != "" {
		want, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("plugin: bad %s=%q", wire.EnvParentPID, s)
		}
		// A parent other than the host is a wrapper (a script that did not
		// exec); then the host must at least still be there.
		if want != ppid && syscall.Kill(want, 0) != nil {
			return fmt.Errorf("plugin: host %d is already gone (parent is %d)", want, ppid)
		}
	}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				slog.Error("host process is gone; exiting", "host_pid", ppid)
				stopRunning(srv, grace, "host process is gone")
				os.Exit(3)
			}
		}
	}()
	return nil
}

// ReattachConfig locates a plugin served in a process the host did not
// start: a test (see playbook/plugintest) or a debugger. Set it as
// playbook.PluginSpec.Reattach.
type ReattachConfig struct {
	Network         string // "unix" or "tcp"
	Addr            string
	Pid             int
	ProtocolVersion int
}

// ServeInProcess serves actions from this process over the real transport
// (gRPC, as a plugin process would) until ctx is cancelled, for tests and
// debuggers. It returns where to reattach and a channel closed once serving
// has stopped. The transport has no mTLS in this mode.
func ServeInProcess(ctx context.Context, actions Actions, logger *slog.Logger) (*ReattachConfig, <-chan struct{}, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reattach := make(chan *goplugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Versioned(wire.ProtocolVersion, newServer(actions, logger)),
		GRPCServer:       wire.GRPCServer,
		Logger:           hclogslog.FromSlog(logger),
		Test: &goplugin.ServeTestConfig{
			Context:          ctx,
			ReattachConfigCh: reattach,
			CloseCh:          closed,
		},
	})
	select {
	case rc := <-reattach:
		return &ReattachConfig{
			Network:         rc.Addr.Network(),
			Addr:            rc.Addr.String(),
			Pid:             rc.Pid,
			ProtocolVersion: rc.ProtocolVersion,
		}, closed, nil
	case <-closed:
		return nil, closed, errors.New("plugin: in-process server stopped before it started")
	case <-ctx.Done():
		return nil, closed, ctx.Err()
	}
}

// ResolveAddr turns a ReattachConfig's address back into a net.Addr.
func (rc *ReattachConfig) ResolveAddr() (net.Addr, error) {
	switch rc.Network {
	case "unix":
		return net.ResolveUnixAddr("unix", rc.Addr)
	case "tcp":
		return net.ResolveTCPAddr("tcp", rc.Addr)
	default:
		return nil, fmt.Errorf("plugin: unknown reattach network %q", rc.Network)
	}
}
