// Package wire holds what the plugin SDK (playbook/plugin) and the plugin host
// (playbook) must agree on: the go-plugin handshake, the gRPC plugin glue, the
// registry of well-known error codes and their encoding, and a small JSON
// Schema reflector for action inputs and outputs. Nothing here is public API.
package wire
