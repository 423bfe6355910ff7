// Package pluginproto is the generated gRPC code of the plugin wire protocol
// (plugin.proto). Nothing outside playbook/ should import it.
//
// The generated files are committed; CI does not run protoc. To regenerate:
//
//	apt-get install -y protobuf-compiler
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./internal/pluginproto
package pluginproto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
