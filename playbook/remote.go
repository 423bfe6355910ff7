package playbook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/abusekit/abusekit/internal/remote"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// Transport carries one invocation of a plugin's executable to the host it
// runs on and brings back what it printed: internal/remote's SSM (Run
// Command) and SSH transports are two.
type Transport interface {
	Run(ctx context.Context, req remote.Request) (*remote.Result, error)
}

// Remote runs a plugin's Plan and Apply on another host, each call one
// process there in the SDK's one-shot mode (plugin.EnvOneShot), through a
// Transport. The actions and their schemas still come from the local
// executable (the same build), started as usual and asked to describe
// itself; only Plan and Apply go over the transport.
//
// A call's Request.Key is derived from the step's idempotency token (which
// derives from incident, playbook and step), the phase, the attempt and the
// request's input: a runner killed while an Apply runs remotely and resumed
// finds the command it sent (SSM) and waits for it instead of sending it
// again. Plans are read-only and sent afresh each time.
//
// The remote process's environment is PATH and the plugin spec's Env alone;
// a spec with any AWS_* variable is refused (host plugins never see cloud
// credentials, whichever transport carries them).
type Remote struct {
	// Transport carries the calls. Required.
	Transport Transport
	// Name is the transport's name in step results ("ssm", "ssh").
	Name string
	// Attach names, per action, output fields whose values are directories
	// on the remote host to bring back with the answer (archived, hashed):
	// {"stop": {"result.evidence_dir"}} ships a stopped process's evidence.
	Attach map[string][]string
	// AttachDir is where the runner's side keeps what was attached:
	// AttachDir/STEP/FIELD.tar.gz. Required with Attach.
	AttachDir string
	// Shipper, if set, is where attached directories go: the remote
	// process PUTs each archive to a URL the Shipper gives (an S3 presigned
	// URL in the output bucket) and the runner fetches it from there and
	// hashes it; without one they come back inside the answer.
	Shipper Shipper
	// Timeout bounds one call on the remote host when ctx has no deadline
	// (default one hour).
	Timeout time.Duration

	mu    sync.Mutex
	calls []RemoteCall
}

// Shipper stores what remote Applies attach, by key.
type Shipper interface {
	// PutURL is a URL the remote host can PUT the object to.
	PutURL(ctx context.Context, key string) (string, error)
	// Get reads the object back.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Where names the object for the record ("s3://bucket/key").
	Where(key string) string
}

// RemoteCall is what one call over a Transport did.
type RemoteCall struct {
	Step         string       `json:"step"`
	Action       string       `json:"action"`
	Phase        string       `json:"phase"` // "plan" or "apply"
	Transport    string       `json:"transport"`
	CommandID    string       `json:"command_id,omitempty"`
	Instance     string       `json:"instance,omitempty"`
	Key          string       `json:"key"`
	Resumed      bool         `json:"resumed,omitempty"` // an earlier run sent the command; this one waited for it
	StdoutSHA256 string       `json:"stdout_sha256,omitempty"`
	Start        time.Time    `json:"start"`
	End          time.Time    `json:"end"`
	Attachments  []Attachment `json:"attachments,omitempty"`
	Error        string       `json:"error,omitempty"`
}

// Attachment is a directory a remote Apply left on its host, now on the
// runner's side.
type Attachment struct {
	Field      string `json:"field"`
	RemotePath string `json:"remote_path"`
	Local      string `json:"local,omitempty"`   // the .tar.gz written
	Shipped    string `json:"shipped,omitempty"` // where it was uploaded to from the host (s3://…)
	SHA256     string `json:"sha256,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Calls returns the calls made so far, in order.
func (r *Remote) Calls() []RemoteCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RemoteCall(nil), r.calls...)
}

func (r *Remote) record(c RemoteCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *Remote) name() string {
	if r.Name == "" {
		return "remote"
	}
	return r.Name
}

// check refuses a remote spec that would hand credentials to the host.
func (r *Remote) check(s PluginSpec) error {
	if r.Transport == nil {
		return errors.New("remote plugin without a Transport")
	}
	if len(r.Attach) > 0 && r.AttachDir == "" {
		return errors.New("remote plugin with Attach and no AttachDir")
	}
	for _, kv := range s.Env {
		if strings.HasPrefix(kv, "AWS_") {
			return fmt.Errorf("%s: a plugin run on another host never gets cloud credentials or settings", strings.SplitN(kv, "=", 2)[0])
		}
	}
	return nil
}

// StepWhere says where a step's last call ran.
type StepWhere struct {
	Transport string // "local", "ssm", "ssh"
	CommandID string // ssm only
}

type whereKey struct{}

// withWhere returns a context in which a remote Apply records where it ran.
func withWhere(ctx context.Context) (context.Context, *StepWhere) {
	w := &StepWhere{}
	return context.WithValue(ctx, whereKey{}, w), w
}

// stepWhere is where the step ran: what a remote call recorded, else local.
func stepWhere(w *StepWhere) (transport, commandID string) {
	if w == nil || w.Transport == "" {
		return "local", ""
	}
	return w.Transport, w.CommandID
}

var keyUnsafe = regexp.MustCompile(`[^A-Za-z0-9._:/-]`)

// remoteKey is the Request.Key of a call: the same for every run of the
// same attempt of the same step with the same input.
func remoteKey(c Call, phase string) string {
	tok := keyUnsafe.ReplaceAllString(c.IdempotencyToken, "")
	if len(tok) > 32 {
		tok = tok[:32]
	}
	if tok == "" {
		tok = "none"
	}
	if phase == plugin.PhasePlan {
		var nonce [6]byte
		rand.Read(nonce[:])
		return tok + "/plan/" + hex.EncodeToString(nonce[:])
	}
	// The input, not the approved plan: a step deferred in the run that
	// sent the command is planned (its inputs known from the journal) in
	// the run that resumes it, and is the same command.
	h := sha256.Sum256(c.Input)
	return tok + "/apply/" + strconv.Itoa(c.Attempt) + "/" + hex.EncodeToString(h[:6])
}

// remoteCall runs one phase of c on the remote host.
func (p *Plugin) remoteCall(ctx context.Context, c Call, phase string) (*plugin.OneShotAnswer, error) {
	r := p.remote
	req := plugin.OneShotRequest{Version: plugin.OneShotVersion, Phase: phase, Action: c.Action, Incident: c.Incident,
		Playbook: c.Playbook, Step: c.Step, IdempotencyToken: c.IdempotencyToken, Attempt: c.Attempt, Input: c.Input}
	if phase == plugin.PhaseApply {
		if a := c.Approved; a != nil {
			req.Approved = &plugin.OneShotPlan{Summary: a.Summary, Changes: a.Changes, Payload: a.Payload}
		}
		req.Notes = c.Notes
		req.Attach = r.Attach[c.Action]
	}
	call := RemoteCall{Step: c.Step, Action: c.Action, Phase: phase, Transport: r.name(), Key: remoteKey(c, phase), Start: time.Now()}
	if r.Shipper != nil && len(req.Attach) > 0 {
		req.AttachURLs = map[string]string{}
		for _, f := range req.Attach {
			u, err := r.Shipper.PutURL(ctx, shipKey(call.Key, f))
			if err != nil {
				return nil, fmt.Errorf("plugin %s: where to ship %s: %w", p.name, f, err)
			}
			req.AttachURLs[f] = u
		}
	}
	stdin, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	env := []string{plugin.EnvOneShot + "=" + p.name}
	for _, kv := range p.spec.Env {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Second)
	}
	res, err := r.Transport.Run(ctx, remote.Request{Key: call.Key, Stdin: stdin, Env: env, Timeout: timeout})
	call.End = time.Now()
	if res != nil {
		if res.Transport != "" {
			call.Transport = res.Transport
		}
		call.CommandID, call.Instance, call.Resumed, call.StdoutSHA256 = res.CommandID, res.InstanceID, res.Resumed, res.StdoutSHA256
	}
	if w, ok := ctx.Value(whereKey{}).(*StepWhere); ok && phase == plugin.PhaseApply {
		w.Transport, w.CommandID = call.Transport, call.CommandID
	}
	if err != nil {
		call.Error = err.Error()
		r.record(call)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", err, cerr)
		}
		return nil, fmt.Errorf("plugin %s over %s: %w", p.name, call.Transport, err)
	}
	ans, err := plugin.ReadOneShot(bytes.NewReader(res.Stdout))
	if err != nil {
		call.Error = err.Error()
		r.record(call)
		return nil, fmt.Errorf("plugin %s over %s (command %s): %w (output begins %q; stderr ends %q)", p.name, call.Transport, call.CommandID, err,
			clipText(string(res.Stdout), 120, false), clipText(res.Stderr, 300, true))
	}
	for _, a := range ans.Attachments {
		call.Attachments = append(call.Attachments, r.keep(ctx, c.Step, call.Key, a))
	}
	if ans.Err != nil {
		call.Error = ans.Err.Error()
	}
	r.record(call)
	return ans, nil
}

// keep writes an attachment under AttachDir/STEP/.
func (r *Remote) keep(ctx context.Context, step, key string, a plugin.Attachment) Attachment {
	out := Attachment{Field: a.Field, RemotePath: a.Path, SHA256: a.SHA256, Size: a.Size, Error: a.Error}
	if a.Error != "" {
		return out
	}
	if a.Put {
		if r.Shipper == nil {
			out.Error = "uploaded, but this runner has no Shipper to fetch it from"
			return out
		}
		k := shipKey(key, a.Field)
		out.Shipped = r.Shipper.Where(k)
		data, err := fetch(ctx, r.Shipper, k)
		if err != nil {
			out.Error = fmt.Sprintf("fetch %s: %v", out.Shipped, err)
			return out
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != a.SHA256 || int64(len(data)) != a.Size {
			out.Error = fmt.Sprintf("%s holds %d bytes with SHA-256 %s; the host said it uploaded %d bytes with %s", out.Shipped, len(data), got, a.Size, a.SHA256)
			return out
		}
		a.Data = data
	}
	dir := filepath.Join(r.AttachDir, keyUnsafe.ReplaceAllString(step, "_"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		out.Error = err.Error()
		return out
	}
	out.Local = filepath.Join(dir, keyUnsafe.ReplaceAllString(a.Field, "_")+".tar.gz")
	if err := os.WriteFile(out.Local, a.Data, 0o600); err != nil {
		out.Error, out.Local = err.Error(), ""
	}
	return out
}

// shipKey is where an attached field of a call goes.
func shipKey(callKey, field string) string {
	return "evidence/" + callKey + "/" + keyUnsafe.ReplaceAllString(field, "_") + ".tar.gz"
}

func fetch(ctx context.Context, s Shipper, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, plugin.MaxAttachment+1))
	if err != nil {
		return nil, err
	}
	if len(b) > plugin.MaxAttachment {
		return nil, fmt.Errorf("over %d bytes", plugin.MaxAttachment)
	}
	return b, nil
}

// remotePlan is Plan over the transport.
func (p *Plugin) remotePlan(ctx context.Context, c Call) (plugin.PlanResponse, error) {
	ans, err := p.remoteCall(ctx, c, plugin.PhasePlan)
	if err != nil {
		return plugin.PlanResponse{}, err
	}
	if ans.Err != nil {
		return plugin.PlanResponse{}, ans.Err
	}
	if ans.Plan == nil {
		return plugin.PlanResponse{}, fmt.Errorf("plugin %s: %w: a plan request answered without a plan", p.name, plugin.ErrOneShot)
	}
	return *ans.Plan, nil
}

// remoteApply is Apply over the transport: progress and notes arrive with
// the answer, and are passed on (notes journaled through OnNote) before
// the result.
func (p *Plugin) remoteApply(ctx context.Context, c Call, progress func(Progress)) (json.RawMessage, error) {
	ans, err := p.remoteCall(ctx, c, plugin.PhaseApply)
	if err != nil {
		return nil, err
	}
	for _, pr := range ans.Progress {
		if progress != nil {
			progress(Progress{Message: pr.Message, Done: pr.Done, Total: pr.Total})
		}
	}
	for _, n := range ans.Notes {
		if c.OnNote != nil {
			if err := c.OnNote(n.Key, n.Value); err != nil {
				return nil, fmt.Errorf("plugin %s: keep note %s: %w", p.name, n.Key, err)
			}
		}
	}
	for _, a := range p.remote.lastAttachments(c.Step) {
		if progress != nil {
			msg := fmt.Sprintf("%s shipped off the host: %s (%d bytes, sha256 %s)", a.RemotePath, a.Local, a.Size, a.SHA256)
			if a.Shipped != "" {
				msg = fmt.Sprintf("%s shipped off the host to %s, fetched to %s (%d bytes, sha256 %s checked)", a.RemotePath, a.Shipped, a.Local, a.Size, a.SHA256)
			}
			if a.Error != "" {
				msg = fmt.Sprintf("%s not shipped: %s", a.RemotePath, a.Error)
			}
			progress(Progress{Message: msg})
		}
	}
	if ans.Err != nil {
		return nil, ans.Err
	}
	if ans.Output == nil {
		return nil, fmt.Errorf("plugin %s: %w: an apply request answered without an output", p.name, plugin.ErrOneShot)
	}
	return ans.Output, nil
}

func (r *Remote) lastAttachments(step string) []Attachment {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.calls) - 1; i >= 0; i-- {
		if r.calls[i].Step == step {
			return r.calls[i].Attachments
		}
	}
	return nil
}

// clipText is at most n bytes of s: its start, or its end.
func clipText(s string, n int, end bool) string {
	if len(s) <= n {
		return s
	}
	if end {
		return "…" + s[len(s)-n:]
	}
	return s[:n] + "…"
}
