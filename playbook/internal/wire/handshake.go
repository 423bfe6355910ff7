package wire

import (
	"context"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
)

// ProtocolVersion is the plugin protocol major this build speaks. A host and a
// plugin negotiate the highest version both offer (go-plugin's
// VersionedPlugins); bump it only for incompatible changes to plugin.proto.
const ProtocolVersion = 1

// Environment variables set by the host for a plugin process.
const (
	// EnvBuiltin names the built-in plugin a re-executed host binary serves.
	EnvBuiltin = "ABUSEKIT_PLUGIN"
	// EnvParentPID is the host's PID; the plugin exits when its parent changes.
	EnvParentPID = "ABUSEKIT_PLUGIN_PARENT_PID"
	// EnvLogLevel is the lowest slog level the host wants to receive.
	EnvLogLevel = "ABUSEKIT_PLUGIN_LOG_LEVEL"
	// EnvExeFD is the descriptor of its own binary the plugin was executed
	// from (the host hashed it, then ran it); the SDK closes it.
	EnvExeFD = "ABUSEKIT_PLUGIN_EXE_FD"
	// EnvStopGrace is how long (a Go duration) a plugin lets its running
	// actions finish their cleanup, their contexts cancelled, when its host
	// goes away or it is told to stop (SIGTERM, the host closing it) before
	// it exits anyway.
	EnvStopGrace = "ABUSEKIT_PLUGIN_STOP_GRACE"
)

// DefaultStopGrace is the stop grace period (see EnvStopGrace) when the host
// sets none.
const DefaultStopGrace = 10 * time.Second

// Handshake is the go-plugin handshake of abusekit plugins. The cookie is not
// a secret: it only stops a plugin binary from being run by mistake.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ABUSEKIT_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d3b07384d113edec49eaa6238ad5ff00-abusekit-playbook-plugin",
}

// MaxPayload bounds an action's input and output documents. A journal
// record (MaxRecordSize in package playbook) holds one of them with room to
// spare, and the gRPC message limits are set just above it.
const MaxPayload = 8 << 20

// MaxMessage is the gRPC message size limit on both ends.
const MaxMessage = MaxPayload + 1<<20

// GRPCServer builds the plugin's gRPC server with abusekit's message limits.
func GRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage))...)
}

// DialOptions are the host's gRPC options for a plugin connection.
var DialOptions = []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage))}

// PluginName is the one go-plugin "plugin" every abusekit plugin serves.
const PluginName = "actions"

// GRPCPlugin is the go-plugin glue for the Plugin service. Impl is set on
// the plugin side and nil on the host.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl pb.PluginServer
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the plugin's service.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient returns a pb.PluginClient.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewPluginClient(c), nil
}

// Versioned returns the VersionedPlugins map for one protocol version.
func Versioned(version int, srv pb.PluginServer) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{version: {PluginName: &GRPCPlugin{Impl: srv}}}
}
