package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// server is the gRPC Plugin service over a set of actions.
type server struct {
	pb.UnimplementedPluginServer
	actions Actions
	logger  *slog.Logger
	info    Info

	// The running applies, so that they can be asked to stop (their
	// contexts cancelled) and waited for before the process exits.
	mu      sync.Mutex
	seq     uint64
	running map[uint64]context.CancelFunc // by local sequence number
	byCall  map[uint64]uint64             // host's call_id → sequence number
	notes   map[noteKey]chan error        // notes sent, awaiting NoteSynced
}

func newServer(actions Actions, logger *slog.Logger) *server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &server{actions: actions, logger: logger, running: map[uint64]context.CancelFunc{}, byCall: map[uint64]uint64{}}
}

// track registers a running apply; the returned function unregisters it.
func (s *server) track(callID uint64, cancel context.CancelFunc) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	n := s.seq
	s.running[n] = cancel
	if callID != 0 {
		s.byCall[callID] = n
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.running, n)
		if s.byCall[callID] == n {
			delete(s.byCall, callID)
		}
	}
}

type noteKey struct{ call, seq uint64 }

func (s *server) awaitNote(call, seq uint64) <-chan error {
	ch := make(chan error, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notes == nil {
		s.notes = map[noteKey]chan error{}
	}
	s.notes[noteKey{call, seq}] = ch
	return ch
}

func (s *server) forgetNote(call, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.notes, noteKey{call, seq})
}

// NoteSynced delivers the host's answer to a note an action is waiting on.
func (s *server) NoteSynced(_ context.Context, req *pb.NoteSyncedRequest) (*pb.NoteSyncedResponse, error) {
	s.mu.Lock()
	ch, ok := s.notes[noteKey{req.GetCallId(), req.GetSeq()}]
	s.mu.Unlock()
	if ok {
		select {
		case ch <- wire.Decode(req.GetError()):
		default:
		}
	}
	return &pb.NoteSyncedResponse{}, nil
}

// Cancel cancels the context of a running apply, which then finishes its
// cleanup and sends its result.
func (s *server) Cancel(_ context.Context, req *pb.CancelRequest) (*pb.CancelResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.byCall[req.GetCallId()]
	if ok {
		s.running[n]()
	}
	return &pb.CancelResponse{Found: ok}, nil
}

// cancelAll cancels the context of every running apply.
func (s *server) cancelAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.running {
		cancel()
	}
	return len(s.running)
}

// drain waits until no apply is running, at most grace; it reports whether
// none is.
func (s *server) drain(grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	for {
		s.mu.Lock()
		n := len(s.running)
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	resp := &pb.DescribeResponse{Pid: int64(os.Getpid()), SdkVersion: sdkVersion(),
		Version: s.info.Version, Description: s.info.Description}
	if resp.Version == "" {
		resp.Version = mainVersion()
	}
	names := make([]string, 0, len(s.actions))
	for name := range s.actions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := s.actions[name]
		if a == nil {
			continue
		}
		r := a.impl()
		resp.Actions = append(resp.Actions, &pb.ActionSchema{
			Name:         name,
			Description:  r.description,
			Version:      r.version,
			InputSchema:  r.inputSchema,
			OutputSchema: r.outputSchema,
		})
	}
	return resp, nil
}

func callOf(c *pb.Call) Call {
	return Call{
		Action:           c.GetAction(),
		Incident:         c.GetIncident(),
		Playbook:         c.GetPlaybook(),
		Step:             c.GetStep(),
		IdempotencyToken: c.GetIdempotencyToken(),
		Attempt:          int(c.GetAttempt()),
	}
}

func (s *server) lookup(name string) (*rawAction, error) {
	a, ok := s.actions[name]
	if !ok || a == nil {
		offered := make([]string, 0, len(s.actions))
		for n := range s.actions {
			offered = append(offered, n)
		}
		sort.Strings(offered)
		return nil, fmt.Errorf("%w %q (offered: %v)", ErrUnknownAction, name, offered)
	}
	return a.impl(), nil
}

// guard runs f, turning a panic into an ErrPanic error.
func guard(log *slog.Logger, action string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("action panicked", "action", action, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %s: %v", ErrPanic, action, r)
		}
	}()
	return f()
}

func (s *server) stepLogger(c Call) *slog.Logger {
	return s.logger.With("action", c.Action, "step", c.Step)
}

func (s *server) Plan(ctx context.Context, req *pb.PlanRequest) (*pb.PlanResponse, error) {
	c := callOf(req.GetCall())
	resp, err := s.plan(ctx, c, req.GetCall().GetInput())
	var payload json.RawMessage
	if err == nil {
		payload, err = payloadJSON(resp.Payload)
		if err == nil && len(payload) > maxPayload {
			err = fmt.Errorf("plugin: plan payload of %s is %d bytes, more than the %d allowed", c.Action, len(payload), maxPayload)
		}
	}
	out := &pb.PlanResponse{Error: wire.Encode(err)}
	if err == nil {
		out.Payload = payload
		out.Summary = resp.Summary
		for _, ch := range resp.Changes {
			out.Changes = append(out.Changes, &pb.Change{Kind: string(ch.Kind), Target: ch.Target, Detail: ch.Detail})
		}
	}
	return out, nil
}

func (s *server) plan(ctx context.Context, c Call, input []byte) (*PlanResponse, error) {
	a, err := s.lookup(c.Action)
	if err != nil {
		return nil, err
	}
	var resp PlanResponse
	log := s.stepLogger(c)
	err = guard(log, c.Action, func() error { return a.plan(ctx, c, input, log, &resp) })
	return &resp, err
}

func (s *server) Apply(req *pb.ApplyRequest, stream pb.Plugin_ApplyServer) error {
	c := callOf(req.GetCall())
	var mu sync.Mutex
	done := false
	callID := req.GetCall().GetCallId()
	var seq uint64
	p := Progress{report: func(msg string, d, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		_ = stream.Send(&pb.ApplyEvent{Event: &pb.ApplyEvent_Progress{Progress: &pb.Progress{Message: msg, Done: d, Total: total}}})
	}}
	if callID != 0 {
		p.note = func(ctx context.Context, key string, value []byte) error {
			mu.Lock()
			if done {
				mu.Unlock()
				return errors.New("the action has returned")
			}
			seq++
			n := seq
			synced := s.awaitNote(callID, n)
			defer s.forgetNote(callID, n)
			err := stream.Send(&pb.ApplyEvent{Event: &pb.ApplyEvent_Progress{Progress: &pb.Progress{
				Message: "note " + key, Note: &pb.Note{Seq: n, Key: key, Value: value}}}})
			mu.Unlock()
			if err != nil {
				return fmt.Errorf("send to host: %w", err)
			}
			select {
			case err := <-synced:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-stream.Context().Done():
				return fmt.Errorf("host gone before it kept the note: %w", stream.Context().Err())
			}
		}
	}
	// The action's context ends when the host asks it to stop (Cancel), the
	// stream ends, or the process is told to stop; the action then finishes
	// its cleanup, and the process waits for it (a bounded grace period).
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer s.track(req.GetCall().GetCallId(), cancel)()
	var notes map[string]json.RawMessage
	for _, n := range req.GetCall().GetNotes() {
		if notes == nil {
			notes = map[string]json.RawMessage{}
		}
		notes[n.GetKey()] = json.RawMessage(n.GetValue())
	}
	out, err := s.apply(ctx, c, req.GetCall().GetInput(), p, approvedOf(req.GetCall().GetApproved()), notes)
	mu.Lock()
	defer mu.Unlock()
	done = true
	res := &pb.ApplyResult{Error: wire.Encode(err)}
	if err == nil {
		res.Output = out
	}
	return stream.Send(&pb.ApplyEvent{Event: &pb.ApplyEvent_Result{Result: res}})
}

// approvedOf is the approved plan a call carries, or nil.
func approvedOf(a *pb.ApprovedPlan) *ApprovedPlan {
	if a == nil {
		return nil
	}
	out := &ApprovedPlan{Summary: a.GetSummary()}
	if len(a.GetPayload()) > 0 {
		out.Payload = json.RawMessage(a.GetPayload())
	}
	for _, ch := range a.GetChanges() {
		out.Changes = append(out.Changes, Change{Kind: ChangeKind(ch.GetKind()), Target: ch.GetTarget(), Detail: ch.GetDetail()})
	}
	return out
}

func (s *server) apply(ctx context.Context, c Call, input []byte, p Progress, approved *ApprovedPlan, notes map[string]json.RawMessage) ([]byte, error) {
	a, err := s.lookup(c.Action)
	if err != nil {
		return nil, err
	}
	log := s.stepLogger(c)
	var out []byte
	err = guard(log, c.Action, func() error {
		var err error
		out, err = a.apply(ctx, c, input, log, p, approved, notes)
		return err
	})
	return out, err
}

func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/abusekit/abusekit" {
				return d.Version
			}
		}
		if bi.Main.Path == "github.com/abusekit/abusekit" {
			return bi.Main.Version
		}
	}
	return "unknown"
}

// mainVersion is the version of the plugin executable's main module, from
// its build information ("(devel)" for a build outside a module version).
func mainVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
