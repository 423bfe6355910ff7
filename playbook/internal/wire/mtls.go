package wire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvTLS tells a plugin process where to read its one-time mTLS material:
// the host's client certificate, and the plugin's own certificate and
// private key, all minted by the host for this one process. Its value is
// "fd:N", a pipe the host wrote the material into (see TLSFD): a private
// key never travels in the environment, which /proc/PID/environ shows to
// every process of the same user for the plugin's whole life.
const EnvTLS = "ABUSEKIT_PLUGIN_TLS"

// TLSFD is the descriptor the host passes the mTLS pipe on: the first of
// exec.Cmd.ExtraFiles.
const TLSFD = 3

// maxTLSMaterial bounds what a plugin reads from the mTLS pipe.
const maxTLSMaterial = 64 << 10

// ReadTLSFD reads the mTLS material from the descriptor an EnvTLS value
// names ("fd:3") and closes it.
func ReadTLSFD(env string) (string, error) {
	n, ok := strings.CutPrefix(env, "fd:")
	fd, err := strconv.Atoi(n)
	if !ok || err != nil || fd < 3 {
		return "", fmt.Errorf("plugin: %s=%q: want fd:N with N >= 3", EnvTLS, env)
	}
	f := os.NewFile(uintptr(fd), "mtls")
	if f == nil {
		return "", fmt.Errorf("plugin: %s: descriptor %d is not open", EnvTLS, fd)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTLSMaterial+1))
	if err != nil {
		return "", fmt.Errorf("plugin: %s: %w", EnvTLS, err)
	}
	if len(b) > maxTLSMaterial {
		return "", fmt.Errorf("plugin: %s: more than %d bytes", EnvTLS, maxTLSMaterial)
	}
	return string(b), nil
}

// TLSPipe returns the read end of a pipe holding material (as EncodeTLSEnv
// makes it), for exec.Cmd.ExtraFiles[0]. The write end is already closed;
// the caller closes the read end once the child has started.
func TLSPipe(material string) (*os.File, error) {
	if len(material) > maxTLSMaterial {
		return nil, fmt.Errorf("mtls material of %d bytes does not fit the pipe", len(material))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// Far below the pipe's capacity: the write does not block.
	_, err = io.WriteString(w, material)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ServerName is the name in every plugin's one-time certificate.
const ServerName = "abusekit-plugin"

// Identity is a one-time certificate and its key.
type Identity struct {
	Cert tls.Certificate
	Leaf *x509.Certificate
}

// NewIdentity mints a self-signed ECDSA P-256 certificate valid for a day.
// P-256 keeps a plugin's start cheap: go-plugin's AutoMTLS uses P-521,
// whose key generation, signatures and verifications on both sides dominate
// the cost of starting a plugin; and Ed25519, though as quick per operation,
// makes every fresh process build its base-point table (about 1.5 ms of CPU)
// the first time it loads or uses a private key, where P-256's table is
// compiled into the binary.
func NewIdentity(commonName string) (*Identity, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub := &priv.PublicKey
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"abusekit"}},
		DNSNames:              []string{ServerName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, Leaf: leaf}, nil
}

type tlsEnv struct {
	ClientCert []byte `json:"client_cert"`
	ServerCert []byte `json:"server_cert"`
	ServerKey  []byte `json:"server_key"`
}

// EncodeTLSEnv returns the EnvTLS value for a plugin whose identity is
// server, talking to a host whose identity is client.
func EncodeTLSEnv(client, server *Identity) (string, error) {
	key, err := x509.MarshalPKCS8PrivateKey(server.Cert.PrivateKey)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(tlsEnv{ClientCert: client.Leaf.Raw, ServerCert: server.Leaf.Raw, ServerKey: key})
	if err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// ServerTLS turns an EnvTLS value into the plugin's server configuration:
// its own certificate, and only the host's certificate accepted from
// clients.
func ServerTLS(env string) (*tls.Config, error) {
	raw, err := base64.RawStdEncoding.DecodeString(env)
	if err != nil {
		return nil, fmt.Errorf("plugin: %s: %w", EnvTLS, err)
	}
	var e tlsEnv
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("plugin: %s: %w", EnvTLS, err)
	}
	client, err := x509.ParseCertificate(e.ClientCert)
	if err != nil {
		return nil, fmt.Errorf("plugin: %s: client certificate: %w", EnvTLS, err)
	}
	leaf, err := x509.ParseCertificate(e.ServerCert)
	if err != nil {
		return nil, fmt.Errorf("plugin: %s: server certificate: %w", EnvTLS, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(e.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("plugin: %s: server key: %w", EnvTLS, err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("plugin: " + EnvTLS + ": server key is not ECDSA P-256")
	}
	pool := x509.NewCertPool()
	pool.AddCert(client)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{e.ServerCert}, PrivateKey: key, Leaf: leaf}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
		// The channel is a local socket between two processes of one
		// run: X25519 alone spares each start the ML-KEM hybrid's cost.
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil
}

// ClientTLS is the host's configuration for one plugin: its own
// certificate, and only that plugin's certificate accepted.
func ClientTLS(client, server *Identity) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(server.Leaf)
	return &tls.Config{
		Certificates:     []tls.Certificate{client.Cert},
		RootCAs:          pool,
		ServerName:       ServerName,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
}
