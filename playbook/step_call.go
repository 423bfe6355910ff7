package playbook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook/internal/wire"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// applyAfter is Apply with the call held back until ready returns nil.
//
// The runner's ready makes the step's start durable (the journal's
// fdatasync). The Apply stream is opened first, so that while the disk
// works the host's gRPC writer sends the stream's headers and the plugin
// process wakes, reads them and starts the stream's handler, which then
// waits for the request: nothing of the call (action, input, token)
// reaches the plugin before ready has returned, and if ready fails the
// stream is reset, the handler's read of the request fails and no action
// runs. (A plugin left idle through the sync and woken by the whole call
// at once took twice a warm call's time: see BenchmarkStepOutOfProcess.)
//
// ready, if not nil, is called exactly once, on the calling goroutine,
// before anything else is returned (errors of the call included), so the
// caller's start record and event always precede the outcome. It returns
// the context of the call from then on (the caller's attempt timeout
// starts there, not before the sync): ctx serves until then.
func (p *Plugin) applyAfter(ctx context.Context, c Call, progress func(Progress), ready func() (context.Context, error)) (json.RawMessage, error) {
	if ready == nil {
		ready = func() (context.Context, error) { return ctx, nil }
	}
	err := p.checkCall(c)
	if err == nil && p.remote != nil {
		ctx, err := ready()
		if err != nil {
			return nil, err
		}
		return p.remoteApply(ctx, c, progress)
	}
	// The stream outlives ctx by the grace period: when ctx ends the plugin
	// is asked to stop the action, which then finishes its cleanup and
	// sends its result on this stream.
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	var stream eventStream
	var open func(*pb.ApplyRequest) error // sends the request on the opened stream
	if err == nil {
		stream, open, err = p.openApply(sctx)
		if err != nil {
			err = p.transportError(ctx, err)
		}
	}
	cctx, rerr := ready()
	if rerr != nil {
		return nil, rerr // scancel resets the stream: the plugin got no call
	}
	if err != nil {
		return nil, err
	}
	ctx = cctx
	if err := ctx.Err(); err != nil {
		// Ended while the start was being made durable: not sent.
		return nil, p.transportError(ctx, err)
	}
	id := p.calls.Add(1)
	w := c.wire()
	w.CallId = id
	p.mu.Lock()
	p.inflight[id] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.inflight, id)
		p.mu.Unlock()
	}()
	if err := open(&pb.ApplyRequest{Call: w}); err != nil {
		return nil, p.transportError(ctx, err)
	}
	// When ctx ends, the plugin is asked to stop the action; if its result
	// has not come within the grace period, the stream is cancelled. The
	// stream is read here, on the caller's goroutine: no goroutine hop
	// between the gRPC reader and the caller per event.
	var graceOver atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		grace := p.askToStop(id)
		select {
		case <-grace:
			graceOver.Store(true)
			scancel()
		case <-sctx.Done():
		}
	})
	defer stop()
	for {
		ev, err := stream.Recv()
		if err != nil {
			if graceOver.Load() {
				return nil, fmt.Errorf("plugin %s: %w (the action did not return within the %v stop grace period)", p.name, ctx.Err(), p.grace)
			}
			if err == io.EOF {
				return nil, fmt.Errorf("%w: apply stream ended without a result", ErrHandshake)
			}
			return nil, p.transportError(ctx, err)
		}
		switch e := ev.GetEvent().(type) {
		case *pb.ApplyEvent_Progress:
			if n := e.Progress.GetNote(); n != nil {
				p.noteSynced(id, n, c.OnNote)
				continue
			}
			if progress != nil {
				progress(Progress{Message: e.Progress.GetMessage(), Done: e.Progress.GetDone(), Total: e.Progress.GetTotal()})
			}
		case *pb.ApplyEvent_Result:
			if err := wire.Decode(e.Result.GetError()); err != nil {
				return nil, err
			}
			out := e.Result.GetOutput()
			if len(out) == 0 {
				out = []byte("null")
			}
			return json.RawMessage(out), nil
		}
	}
}

// checkCall refuses a call the plugin cannot take, before anything is sent.
func (p *Plugin) checkCall(c Call) error {
	if _, ok := p.actions[c.Action]; !ok {
		return p.unknownAction(c.Action)
	}
	if len(c.Input) > wire.MaxPayload {
		return fmt.Errorf("%w: input is %d bytes, more than the %d allowed", plugin.ErrInvalidInput, len(c.Input), wire.MaxPayload)
	}
	return nil
}

// eventStream is the receiving side of an Apply stream.
type eventStream interface {
	Recv() (*pb.ApplyEvent, error)
}

// openApply opens an Apply stream without sending its request; send
// sends the request and closes the sending side.
func (p *Plugin) openApply(ctx context.Context) (eventStream, func(*pb.ApplyRequest) error, error) {
	conn := p.grpcConn()
	if conn == nil {
		// No connection of our own to open a stream on (a client that is
		// not go-plugin's gRPC one): the generated client opens the
		// stream when it sends the request.
		ls := &lazyStream{}
		send := func(req *pb.ApplyRequest) error {
			var err error
			ls.s, err = p.rpc.Apply(ctx, req)
			return err
		}
		return ls, send, nil
	}
	cs, err := conn.NewStream(ctx, &pb.Plugin_ServiceDesc.Streams[applyStream], pb.Plugin_Apply_FullMethodName, grpc.StaticMethod())
	if err != nil {
		return nil, nil, err
	}
	stream := &grpc.GenericClientStream[pb.ApplyRequest, pb.ApplyEvent]{ClientStream: cs}
	send := func(req *pb.ApplyRequest) error {
		if err := stream.SendMsg(req); err != nil {
			return err
		}
		return stream.CloseSend()
	}
	return stream, send, nil
}

// applyStream is the index of the Apply stream in the service description.
var applyStream = func() int {
	for i, s := range pb.Plugin_ServiceDesc.Streams {
		if s.StreamName == "Apply" {
			return i
		}
	}
	panic("playbook: the plugin service has no Apply stream")
}()

// grpcConn is the plugin's gRPC connection, nil if it has none.
func (p *Plugin) grpcConn() grpc.ClientConnInterface {
	if p.client == nil {
		return nil
	}
	cp, err := p.client.Client() // the client made at start, cached
	if err != nil {
		return nil
	}
	if gc, ok := cp.(*goplugin.GRPCClient); ok && gc.Conn != nil {
		return gc.Conn
	}
	return nil
}

// lazyStream is a stream the generated client opens with the request.
type lazyStream struct {
	s grpc.ServerStreamingClient[pb.ApplyEvent]
}

func (l *lazyStream) Recv() (*pb.ApplyEvent, error) { return l.s.Recv() }
