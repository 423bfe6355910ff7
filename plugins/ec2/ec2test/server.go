package ec2test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Test credentials that Config hands to SDK clients. The server does not
// check signatures; it reads the credential scope only to learn which
// service a request is for.
const (
	TestAccessKeyID     = "AKIAEC2TESTEXAMPLE00"
	TestSecretAccessKey = "ec2test/secret/key/not/a/real/one/0000000"
	// AccountID is the account that owns everything the server creates.
	AccountID = "123456789012"
)

// Server is an in-process AWS endpoint for EC2, Auto Scaling, Elastic
// Load Balancing v2 and CloudWatch, in the style of net/http/httptest.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT, without a trailing slash.
	URL string
	// Listener is the loopback listener the server accepts on.
	Listener net.Listener

	hs      *http.Server
	started bool
	closed  bool

	opts options

	mu    sync.Mutex // guards st, calls, faults, buckets, rng
	st    *state
	calls []Call
	rng   *rand.Rand

	faultsMu sync.Mutex
	faults   Faults
	buckets  map[string]*bucket

	extOnce sync.Once   // SSM and S3 (ssm.go, s3.go), made on first use
	ext     extServices // guarded by their own locks

	resolverOnce sync.Once      // Route 53 Resolver DNS Firewall (resolver.go)
	res          *resolverState // guarded by its own lock
}

// Call is one request the server answered, in arrival order.
type Call struct {
	Service   string // "ec2", "autoscaling", "elasticloadbalancing", "monitoring"
	Operation string // e.g. "DescribeInstances"
	Protocol  string // "ec2query", "awsquery", "rpcv2cbor", "awsjson"
	Error     string // error code returned, "" on success
}

// Option configures a Server.
type Option func(*options)

type options struct {
	region        string
	snapshotDelay time.Duration
	imageDelay    time.Duration
	pendingDelay  time.Duration
	stopDelay     time.Duration
	termDelay     time.Duration
	statusDelay   time.Duration
	healthDelay   time.Duration
	deregDelay    time.Duration
	clock         func() time.Time
	seed          uint64
	faults        Faults
	limits        RateLimits
	logger        *slog.Logger
	addr          string
	ssmExec       Executor
}

// WithRegion sets the region the account lives in (default us-east-1).
// Availability zones are REGION+"a", "b" and "c".
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithSnapshotDelay sets how long a snapshot stays "pending" (progress
// rising linearly) before it is "completed". Default 0: completed at the
// first request after creation. CreateSnapshot(s) always answer "pending".
func WithSnapshotDelay(d time.Duration) Option { return func(o *options) { o.snapshotDelay = d } }

// WithImageDelay sets how long an image from CreateImage or RegisterImage
// stays "pending" before it is "available" (default 0).
func WithImageDelay(d time.Duration) Option { return func(o *options) { o.imageDelay = d } }

// WithInstanceDelays sets how long instances stay pending, stopping and
// shutting-down before they are running, stopped and terminated
// (default 0 each: the next request sees the new state).
func WithInstanceDelays(pending, stopping, shuttingDown time.Duration) Option {
	return func(o *options) { o.pendingDelay, o.stopDelay, o.termDelay = pending, stopping, shuttingDown }
}

// WithStatusCheckDelay sets how long after reaching running an instance's
// status checks stay "initializing" before they are "ok" (default 0).
func WithStatusCheckDelay(d time.Duration) Option { return func(o *options) { o.statusDelay = d } }

// WithTargetDelays sets how long a newly registered ELB target stays
// "initial" before it is "healthy", and how long a deregistered target
// stays "draining" (default 0 each; AWS's deregistration delay defaults to
// 300 s).
func WithTargetDelays(health, deregistration time.Duration) Option {
	return func(o *options) { o.healthDelay, o.deregDelay = health, deregistration }
}

// WithClock replaces time.Now for every state transition, timestamp and
// token bucket. Tests that drive snapshot completion advance it.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithSeed makes identifiers, request ids and random faults deterministic.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithFaults sets the initial fault injection; SetFaults changes it later.
func WithFaults(f Faults) Option { return func(o *options) { o.faults = f } }

// WithRateLimits replaces the token buckets used when Faults.Throttle is
// on (default DefaultRateLimits()).
func WithRateLimits(l RateLimits) Option { return func(o *options) { o.limits = l } }

// WithLogger logs each request at Debug (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSSMExecutor makes every running instance a managed instance (an
// online Amazon Linux 2023 agent) whose commands ex runs, as if each had
// the SSM agent and an instance profile allowing it; ManageInstance still
// sets one instance apart. Default: only instances given to
// ManageInstance are managed.
func WithSSMExecutor(ex Executor) Option { return func(o *options) { o.ssmExec = ex } }

// WithAddr sets the listen address for NewServer/NewUnstartedServer
// (default 127.0.0.1:0). Only loopback addresses are accepted.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// NewServer starts a server on a loopback port. Close it when done.
// It panics if it cannot listen, like httptest.NewServer.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a server that is listening but not yet
// serving; call Start. Seeding helpers may be used before Start.
func NewUnstartedServer(opts ...Option) *Server {
	s, err := newServer(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Listen is NewUnstartedServer returning the listen error instead of
// panicking (for the standalone binary).
func Listen(opts ...Option) (*Server, error) { return newServer(opts...) }

func newServer(opts ...Option) (*Server, error) {
	o := options{region: "us-east-1", addr: "127.0.0.1:0", limits: DefaultRateLimits()}
	for _, f := range opts {
		f(&o)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.region == "" {
		return nil, errors.New("ec2test: empty region")
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return nil, fmt.Errorf("ec2test: listen address %q: %w", o.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("ec2test: listen address %q is not loopback", o.addr)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("ec2test: listen: %w", err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		Listener: ln,
		opts:     o,
		rng:      newRand(o.seed),
		faults:   o.faults,
		buckets:  make(map[string]*bucket),
	}
	s.st = newState(s)
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// Start serves on the listener. It panics if called twice.
func (s *Server) Start() {
	if s.started {
		panic("ec2test: Server already started")
	}
	s.started = true
	go s.hs.Serve(s.Listener) //nolint:errcheck // returns on Close
}

// Close stops the server and closes idle connections.
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if !s.started {
		s.Listener.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil {
		s.hs.Close()
	}
}

// Region is the server's region.
func (s *Server) Region() string { return s.opts.region }

// Client returns an HTTP client for the server, sized for many
// concurrent requests. It hands the transport a private copy of each
// request body: aws-sdk-go-v2 closes the body it sent as soon as the
// response headers arrive, and net/http's write loop, which still probes
// the body for EOF, then closes the connection under a response that is
// being read ("use of closed network connection", aws/aws-sdk-go-v2
// issue 2737). A loopback server answers fast enough to hit that race
// often; real endpoints rarely do.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: bufferedBodies{&http.Transport{
		Proxy:               nil,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}}}
}

type bufferedBodies struct{ rt http.RoundTripper }

func (b bufferedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return b.rt.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("ec2test: read request body: %w", err)
	}
	r2 := req.Clone(req.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r2.ContentLength = int64(len(body))
	return b.rt.RoundTrip(r2)
}

// Config returns an aws.Config for SDK clients: static test credentials,
// the server's region, BaseEndpoint = URL, adaptive retry mode and the
// server's HTTP client. Use it as ec2.NewFromConfig(srv.Config()).
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       s.opts.region,
		Credentials:  credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   s.Client(),
		RetryMode:    aws.RetryModeAdaptive,
	}
}

// Calls returns a copy of the request trace.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Operations returns the operation names of the trace, in order.
func (s *Server) Operations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.Operation
	}
	return out
}

// ResetCalls clears the request trace.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

func (s *Server) now() time.Time { return s.opts.clock().UTC() }

// ServeHTTP dispatches on protocol and service.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isS3(r) { // S3 bodies are objects: read by serveS3, not here
		s.serveS3(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBody+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxQueryBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	service := scopeService(r.Header.Get("Authorization"))
	switch {
	case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor") ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/cbor"):
		s.serveCBOR(w, r, body)
		return
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json") &&
		strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."):
		s.serveSSM(w, r, body)
		return
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json") &&
		strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Route53Resolver."):
		s.serveResolver(w, r, body)
		return
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json") &&
		strings.HasPrefix(r.Header.Get("X-Amz-Target"), "GraniteServiceVersion20100801."):
		s.serveCWJSON(w, r, body)
		return
	}
	if r.Method == http.MethodGet {
		body = []byte(r.URL.RawQuery)
	}
	q, err := parseQuery(body)
	if err != nil {
		s.writeQueryError(w, service, "", &apiError{status: 400, code: "MalformedQueryString", msg: err.Error()})
		return
	}
	action := q.str("Action")
	if service == "" {
		service = serviceForVersion(q.str("Version"), action)
	}
	if action == "" {
		s.writeQueryError(w, service, "", &apiError{status: 400, code: "MissingAction", msg: "The request must contain the parameter Action"})
		return
	}
	s.opts.logger.Debug("ec2test request", "service", service, "action", action)
	var h func(*qnode) (any, error)
	switch service {
	case "ec2":
		h = s.ec2Handler(action)
	case "autoscaling":
		h = s.asgHandler(action)
	case "elasticloadbalancing":
		h = s.elbHandler(action)
	case "iam":
		h = s.iamHandler(action)
	case "monitoring":
		s.serveCWQuery(w, action, q)
		return
	}
	if h == nil {
		s.record(service, action, protoFor(service), "InvalidAction")
		s.writeQueryError(w, service, action, &apiError{status: 400, code: "InvalidAction",
			msg: fmt.Sprintf("The action %s is not valid for this web service.", action)})
		return
	}
	if ferr := s.injectFault(service, credRegion(r.Header.Get("Authorization")), action, q); ferr != nil {
		s.record(service, action, protoFor(service), ferr.code)
		s.writeQueryError(w, service, action, ferr)
		return
	}
	lostFrac := s.CurrentFaults().LostReplyFraction
	s.mu.Lock()
	s.st.tick(s.now())
	res, herr := s.callHandler(h, q)
	if herr == nil {
		if lost := s.lostReplyLocked(lostFrac); lost != nil {
			herr = lost // applied, but the caller sees a 5xx
		}
	}
	code := ""
	if herr != nil {
		code = asAPIError(herr).code
	}
	s.calls = append(s.calls, Call{Service: service, Operation: action, Protocol: protoFor(service), Error: code})
	reqID := s.requestIDLocked()
	s.mu.Unlock()
	if herr != nil {
		s.writeQueryErrorID(w, service, action, asAPIError(herr), reqID)
		return
	}
	if service == "ec2" {
		writeEC2(w, action, reqID, res)
	} else {
		writeAWSQuery(w, service, action, reqID, res)
	}
}

// callHandler runs a handler, turning a panic into an InternalError so
// that a bug answers 500 instead of killing the test binary.
func (s *Server) callHandler(h func(*qnode) (any, error), q *qnode) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &apiError{status: 500, code: "InternalError", msg: fmt.Sprintf("ec2test: handler panic: %v", p)}
		}
	}()
	return h(q)
}

func (s *Server) record(service, op, proto, code string) {
	s.mu.Lock()
	s.calls = append(s.calls, Call{Service: service, Operation: op, Protocol: proto, Error: code})
	s.mu.Unlock()
}

func protoFor(service string) string {
	if service == "ec2" {
		return "ec2query"
	}
	return "awsquery"
}

// scopeService returns the service name of a SigV4 credential scope when
// it is one of the query-protocol services this server routes by scope:
// "Credential=AKID/20260101/us-east-1/ec2/aws4_request" -> "ec2".
func scopeService(auth string) string {
	switch s := credService(auth); s {
	case "ec2", "autoscaling", "elasticloadbalancing", "monitoring", "iam":
		return s
	}
	return ""
}

// serviceForVersion guesses the service of an unsigned request from its
// API version, then from the action name.
func serviceForVersion(version, action string) string {
	switch version {
	case "2016-11-15":
		return "ec2"
	case "2011-01-01":
		return "autoscaling"
	case "2015-12-01":
		return "elasticloadbalancing"
	case "2010-08-01":
		return "monitoring"
	case "2010-05-08":
		return "iam"
	}
	if svc, ok := knownActions[action]; ok {
		return svc
	}
	return "ec2"
}

func (s *Server) requestIDLocked() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// apiError is an error answered to the client with an AWS error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(code, format string, args ...any) *apiError {
	return &apiError{status: 400, code: code, msg: fmt.Sprintf(format, args...)}
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{status: 500, code: "InternalError", msg: err.Error()}
}

func (s *Server) writeQueryError(w http.ResponseWriter, service, action string, e *apiError) {
	s.mu.Lock()
	id := s.requestIDLocked()
	s.mu.Unlock()
	s.writeQueryErrorID(w, service, action, e, id)
}

func (s *Server) writeQueryErrorID(w http.ResponseWriter, service, action string, e *apiError, reqID string) {
	var b bytes.Buffer
	if service == "ec2" || service == "" {
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response><Errors><Error><Code>")
		xmlEscape(&b, e.code)
		b.WriteString("</Code><Message>")
		xmlEscape(&b, e.msg)
		b.WriteString("</Message></Error></Errors><RequestID>")
		b.WriteString(reqID)
		b.WriteString("</RequestID></Response>")
	} else {
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		b.WriteString(`<ErrorResponse xmlns="` + xmlnsFor(service) + `"><Error><Type>` + typ + "</Type><Code>")
		xmlEscape(&b, e.code)
		b.WriteString("</Code><Message>")
		xmlEscape(&b, e.msg)
		b.WriteString("</Message></Error><RequestId>" + reqID + "</RequestId></ErrorResponse>")
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(e.status)
	w.Write(b.Bytes())
}
