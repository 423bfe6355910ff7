package playbook_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// TestPluginChannelIsMutuallyAuthenticated dials a started plugin's socket
// the way another local process could: without TLS, and with TLS but a
// certificate the host did not mint. Both must be refused, in both mTLS
// modes.
func TestPluginChannelIsMutuallyAuthenticated(t *testing.T) {
	for _, auto := range []bool{false, true} {
		name := "p256"
		if auto {
			name = "go-plugin-automtls"
		}
		t.Run(name, func(t *testing.T) {
			h := playbook.NewHost(playbook.HostOptions{GoPluginAutoMTLS: auto})
			defer h.Close()
			if err := h.Start(t.Context(), playbook.Builtin("util")); err != nil {
				t.Fatal(err)
			}
			p, _ := h.Plugin("util")
			network, addr := playbook.PluginAddr(p)
			stranger, err := wire.NewIdentity("stranger")
			if err != nil {
				t.Fatal(err)
			}
			for cname, creds := range map[string]credentials.TransportCredentials{
				"plaintext":      insecure.NewCredentials(),
				"foreign-cert":   credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{stranger.Cert}, InsecureSkipVerify: true}),
				"no-client-cert": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}),
			} {
				conn, err := grpc.NewClient("passthrough:///plugin",
					grpc.WithTransportCredentials(creds),
					grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
						return (&net.Dialer{}).DialContext(ctx, network, addr)
					}))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				_, err = pb.NewPluginClient(conn).Describe(ctx, &pb.DescribeRequest{})
				cancel()
				conn.Close()
				if err == nil {
					t.Errorf("%s: a client the host did not authenticate called the plugin", cname)
				}
			}
			// The host itself still can.
			if _, err := p.Plan(t.Context(), playbook.Call{Action: "greet", Input: []byte(`{"name":"x"}`)}); err != nil {
				t.Errorf("host call: %v", err)
			}
		})
	}
}
