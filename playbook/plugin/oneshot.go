package plugin

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// One-shot mode: the executable that serves a built-in plugin over
// go-plugin runs ONE action's Plan or Apply as a plain process, for a host
// that reaches the plugin through a transport with no long-lived channel
// (SSM Run Command, SSH): the request is a JSON document on standard input,
// the answer JSON lines on standard output, the last of which is the
// result. Errors keep their identity as across go-plugin: the result
// carries the registered code (RegisterError), and ReadOneShot maps it back
// to the host's sentinel.
//
// Standard output is the protocol's: while the action runs, os.Stdout is
// its standard error, so that nothing an action prints can forge a line.

// EnvOneShot names, in the environment of a host's executable, the
// built-in plugin whose one action ServeIfPlugin runs in one-shot mode.
const EnvOneShot = "ABUSEKIT_ONESHOT"

// OneShotVersion is the version of the one-shot request and answer format.
const OneShotVersion = 1

// Limits of the one-shot format.
const (
	// MaxOneShotRequest bounds the request document: an input, an approved
	// payload and notes, each at most the payload limit.
	MaxOneShotRequest = 3*maxPayload + 1<<20
	// MaxOneShotLine bounds one line of the answer.
	MaxOneShotLine = 2*maxPayload + 1<<20
	// MaxAttachment bounds one attached directory, archived and compressed.
	MaxAttachment = 256 << 20
	// maxAttachments bounds how many directories one request attaches.
	maxAttachments = 8
	// attachChunk is the size of one attachment line's data before base64.
	attachChunk = 48 << 10
	// maxProgress bounds how many progress lines ReadOneShot keeps.
	maxProgress = 1000
)

// Phases of a one-shot request.
const (
	PhasePlan  = "plan"
	PhaseApply = "apply"
)

// OneShotRequest is what a host writes on a one-shot process's standard
// input.
type OneShotRequest struct {
	Version          int                        `json:"version"`
	Phase            string                     `json:"phase"` // PhasePlan or PhaseApply
	Action           string                     `json:"action"`
	Incident         string                     `json:"incident,omitempty"`
	Playbook         string                     `json:"playbook,omitempty"`
	Step             string                     `json:"step,omitempty"`
	IdempotencyToken string                     `json:"idempotency_token,omitempty"`
	Attempt          int                        `json:"attempt,omitempty"`
	Input            json.RawMessage            `json:"input,omitempty"`
	Approved         *OneShotPlan               `json:"approved,omitempty"`
	Notes            map[string]json.RawMessage `json:"notes,omitempty"`
	// Attach names fields of the output (dotted paths, "result.evidence_dir")
	// whose values are directories on the plugin's host: each is archived
	// (tar, gzip) and sent back with the answer, so that what Apply left
	// there (a stopped process's evidence) is off the host with its SHA-256.
	Attach []string `json:"attach,omitempty"`
	// AttachURLs gives, for attached fields, a URL to PUT the archive to
	// (an S3 presigned URL) instead of sending it in the answer: the
	// answer then carries only its SHA-256 and size.
	AttachURLs map[string]string `json:"attach_urls,omitempty"`
}

// OneShotPlan is a plan in the one-shot format.
type OneShotPlan struct {
	Summary string          `json:"summary,omitempty"`
	Changes []Change        `json:"changes,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// oneShotLine is one line of the answer: exactly one field is set.
type oneShotLine struct {
	Progress   *oneShotProgress   `json:"progress,omitempty"`
	Note       *OneShotNote       `json:"note,omitempty"`
	Attachment *oneShotAttachment `json:"attachment,omitempty"`
	Result     *oneShotResult     `json:"result,omitempty"`
}

type oneShotProgress struct {
	Message string `json:"message"`
	Done    int64  `json:"done,omitempty"`
	Total   int64  `json:"total,omitempty"`
}

// OneShotNote is a note an action kept (Progress.Note).
type OneShotNote struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type oneShotAttachment struct {
	Field  string `json:"field"`
	Path   string `json:"path,omitempty"`
	Seq    int    `json:"seq"`
	Data   string `json:"data,omitempty"` // base64 of the next part of the archive
	Last   bool   `json:"last,omitempty"`
	SHA256 string `json:"sha256,omitempty"` // of the whole archive, on the last part
	Size   int64  `json:"size,omitempty"`   // of the whole archive, on the last part
	Error  string `json:"error,omitempty"`  // the directory could not be archived
	Put    bool   `json:"put,omitempty"`    // the archive was PUT to its AttachURLs URL, not sent here
}

type oneShotResult struct {
	Plan   *OneShotPlan    `json:"plan,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *oneShotError   `json:"error,omitempty"`
}

type oneShotError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// OneShotProgress is one progress report of a one-shot action.
type OneShotProgress struct {
	Message     string
	Done, Total int64
}

// Attachment is a directory the plugin's host archived for the host.
type Attachment struct {
	Field  string // the output field that named it
	Path   string // the directory on the plugin's host
	SHA256 string // of Data, as computed by the reader (checked against the sender's)
	Data   []byte // tar, gzip-compressed; nil when Put
	Error  string // the plugin's host could not archive it
	// Put: the archive was uploaded to the URL the request gave for it;
	// SHA256 and Size are what the sender says it uploaded, to be checked
	// against what is fetched from there.
	Put  bool
	Size int64
}

// OneShotAnswer is what ReadOneShot makes of a one-shot process's output.
type OneShotAnswer struct {
	// Plan is set for a plan request that succeeded.
	Plan *PlanResponse
	// Output is set for an apply request that succeeded.
	Output      json.RawMessage
	Progress    []OneShotProgress
	Notes       []OneShotNote
	Attachments []Attachment
	// Err is the action's error, a *RemoteError whose Unwrap is the host's
	// sentinel for its code.
	Err error
}

// ErrOneShot is a malformed one-shot request or answer.
var ErrOneShot = errors.New("plugin: malformed one-shot document")

func init() { wire.Register("plugin.oneshot_malformed", ErrOneShot) }

// DecodeOneShotRequest reads one request document (at most
// MaxOneShotRequest bytes) and checks it.
func DecodeOneShotRequest(r io.Reader) (*OneShotRequest, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxOneShotRequest+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read request: %v", ErrOneShot, err)
	}
	if len(b) > MaxOneShotRequest {
		return nil, fmt.Errorf("%w: request over %d bytes", ErrOneShot, MaxOneShotRequest)
	}
	var req OneShotRequest
	if err := unmarshalStrict(b, &req); err != nil {
		return nil, fmt.Errorf("%w: request: %v", ErrOneShot, err)
	}
	switch {
	case req.Version != OneShotVersion:
		return nil, fmt.Errorf("%w: request version %d, this build reads %d", ErrOneShot, req.Version, OneShotVersion)
	case req.Phase != PhasePlan && req.Phase != PhaseApply:
		return nil, fmt.Errorf("%w: phase %q: want %q or %q", ErrOneShot, req.Phase, PhasePlan, PhaseApply)
	case req.Action == "":
		return nil, fmt.Errorf("%w: no action", ErrOneShot)
	case len(req.Attach) > maxAttachments:
		return nil, fmt.Errorf("%w: %d attachments, at most %d", ErrOneShot, len(req.Attach), maxAttachments)
	case len(req.Input) > maxPayload:
		return nil, fmt.Errorf("%w: input over %d bytes", ErrInvalidInput, maxPayload)
	}
	for k, v := range req.Notes {
		if k == "" || len(v) == 0 {
			return nil, fmt.Errorf("%w: note %q without a key or value", ErrOneShot, k)
		}
	}
	return &req, nil
}

// ReadOneShot reads a one-shot process's answer: JSON lines, the last a
// result. Lines are bounded (MaxOneShotLine), attachments too
// (MaxAttachment each); anything malformed is an error wrapping ErrOneShot,
// never a panic.
func ReadOneShot(r io.Reader) (*OneShotAnswer, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxOneShotLine)
	ans := &OneShotAnswer{}
	type partial struct {
		a   Attachment
		buf bytes.Buffer
		seq int
	}
	open := map[string]*partial{}
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l oneShotLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrOneShot, n, err)
		}
		set := 0
		for _, p := range []bool{l.Progress != nil, l.Note != nil, l.Attachment != nil, l.Result != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("%w: line %d: %d kinds in one line, want 1", ErrOneShot, n, set)
		}
		switch {
		case l.Progress != nil:
			if len(ans.Progress) < maxProgress {
				ans.Progress = append(ans.Progress, OneShotProgress{Message: l.Progress.Message, Done: l.Progress.Done, Total: l.Progress.Total})
			}
		case l.Note != nil:
			if l.Note.Key == "" || !json.Valid(l.Note.Value) || len(l.Note.Value) > maxPayload {
				return nil, fmt.Errorf("%w: line %d: a note needs a key and a JSON value within %d bytes", ErrOneShot, n, maxPayload)
			}
			ans.Notes = append(ans.Notes, *l.Note)
		case l.Attachment != nil:
			at := l.Attachment
			p := open[at.Field]
			if p == nil {
				if at.Seq != 0 {
					return nil, fmt.Errorf("%w: line %d: attachment %q starts at part %d", ErrOneShot, n, at.Field, at.Seq)
				}
				if len(open)+len(ans.Attachments) >= maxAttachments {
					return nil, fmt.Errorf("%w: line %d: more than %d attachments", ErrOneShot, n, maxAttachments)
				}
				p = &partial{a: Attachment{Field: at.Field, Path: at.Path}}
				open[at.Field] = p
			} else if at.Seq != p.seq {
				return nil, fmt.Errorf("%w: line %d: attachment %q part %d, want %d", ErrOneShot, n, at.Field, at.Seq, p.seq)
			}
			p.seq++
			if at.Data != "" {
				d, err := base64.StdEncoding.DecodeString(at.Data)
				if err != nil {
					return nil, fmt.Errorf("%w: line %d: attachment %q: %v", ErrOneShot, n, at.Field, err)
				}
				if int64(p.buf.Len()+len(d)) > MaxAttachment {
					return nil, fmt.Errorf("%w: line %d: attachment %q over %d bytes", ErrOneShot, n, at.Field, MaxAttachment)
				}
				p.buf.Write(d)
			}
			if at.Error != "" {
				p.a.Error = at.Error
			}
			if !at.Last {
				continue
			}
			delete(open, at.Field)
			if at.Put {
				if p.buf.Len() > 0 || len(at.SHA256) != 64 || at.Size < 0 {
					return nil, fmt.Errorf("%w: line %d: uploaded attachment %q needs a SHA-256 and no data", ErrOneShot, n, at.Field)
				}
				p.a.Put, p.a.SHA256, p.a.Size = true, at.SHA256, at.Size
				ans.Attachments = append(ans.Attachments, p.a)
				continue
			}
			p.a.Data = p.buf.Bytes()
			p.a.Size = int64(len(p.a.Data))
			sum := sha256.Sum256(p.a.Data)
			p.a.SHA256 = hex.EncodeToString(sum[:])
			if p.a.Error == "" && (at.SHA256 != p.a.SHA256 || at.Size != int64(len(p.a.Data))) {
				return nil, fmt.Errorf("%w: attachment %q: received %d bytes with SHA-256 %s, the sender said %d bytes with %s",
					ErrOneShot, at.Field, len(p.a.Data), p.a.SHA256, at.Size, at.SHA256)
			}
			ans.Attachments = append(ans.Attachments, p.a)
		case l.Result != nil:
			if err := ans.setResult(l.Result); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrOneShot, n, err)
			}
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) > 0 {
					return nil, fmt.Errorf("%w: lines after the result", ErrOneShot)
				}
			}
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrOneShot, err)
			}
			if len(open) > 0 {
				return nil, fmt.Errorf("%w: %d attachment(s) cut short", ErrOneShot, len(open))
			}
			return ans, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOneShot, err)
	}
	return nil, fmt.Errorf("%w: no result line (the process ended before its action returned)", ErrOneShot)
}

func (a *OneShotAnswer) setResult(r *oneShotResult) error {
	switch {
	case r.Error != nil:
		if r.Plan != nil || len(r.Output) > 0 {
			return errors.New("a result with an error and a value")
		}
		a.Err = wire.Decode(&pb.Error{Code: r.Error.Code, Message: r.Error.Message})
	case r.Plan != nil:
		if len(r.Output) > 0 {
			return errors.New("a result with a plan and an output")
		}
		a.Plan = &PlanResponse{Summary: r.Plan.Summary, Changes: r.Plan.Changes}
		if len(r.Plan.Payload) > 0 {
			a.Plan.Payload = r.Plan.Payload
		}
	case len(r.Output) > 0:
		a.Output = r.Output
	default:
		return errors.New("an empty result")
	}
	return nil
}

// serveOneShot runs one action of actions from the request on stdin,
// writing the answer to out; logs go to logw. It returns the process's
// exit status: 0 when the answer was written (the action's own error is
// in it), 1 when it could not be.
func serveOneShot(ctx context.Context, actions Actions, stdin io.Reader, out io.Writer, logw io.Writer) int {
	level := slog.LevelInfo
	if s := os.Getenv(wire.EnvLogLevel); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			level = slog.Level(n)
		}
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))
	w := &lineWriter{w: out}
	req, err := DecodeOneShotRequest(stdin)
	if err != nil {
		w.result(&oneShotResult{Error: encodeOneShotErr(err)})
		return w.status()
	}
	srv := newServer(actions, logger)
	c := Call{Action: req.Action, Incident: req.Incident, Playbook: req.Playbook, Step: req.Step,
		IdempotencyToken: req.IdempotencyToken, Attempt: req.Attempt}
	if req.Phase == PhasePlan {
		resp, err := srv.plan(ctx, c, req.Input)
		var payload json.RawMessage
		if err == nil {
			payload, err = payloadJSON(resp.Payload)
			if err == nil && len(payload) > maxPayload {
				err = fmt.Errorf("plugin: plan payload of %s is %d bytes, more than the %d allowed", c.Action, len(payload), maxPayload)
			}
		}
		if err != nil {
			w.result(&oneShotResult{Error: encodeOneShotErr(err)})
		} else {
			w.result(&oneShotResult{Plan: &OneShotPlan{Summary: resp.Summary, Changes: resp.Changes, Payload: payload}})
		}
		return w.status()
	}
	var approved *ApprovedPlan
	if a := req.Approved; a != nil {
		approved = &ApprovedPlan{Summary: a.Summary, Changes: a.Changes, Payload: a.Payload}
	}
	p := Progress{
		report: func(msg string, done, total int64) {
			w.line(oneShotLine{Progress: &oneShotProgress{Message: msg, Done: done, Total: total}})
		},
		// A note is on the answer's stream, flushed (and synced where that
		// stream is a file, as the SSM agent's is) before the action goes
		// on; the host journals it when it reads the answer, before it
		// records the step's end.
		note: func(_ context.Context, key string, value []byte) error {
			return w.line(oneShotLine{Note: &OneShotNote{Key: key, Value: value}})
		},
	}
	outDoc, err := srv.apply(ctx, c, req.Input, p, approved, req.Notes)
	if len(outDoc) > 0 {
		for _, field := range req.Attach {
			w.attach(ctx, field, outDoc, req.AttachURLs[field])
		}
	}
	if err != nil {
		w.result(&oneShotResult{Error: encodeOneShotErr(err)})
	} else {
		if len(outDoc) == 0 {
			outDoc = json.RawMessage("null")
		}
		w.result(&oneShotResult{Output: outDoc})
	}
	return w.status()
}

func encodeOneShotErr(err error) *oneShotError {
	return &oneShotError{Code: wire.CodeOf(err), Message: err.Error()}
}

// lineWriter writes answer lines; the first write error sticks.
type lineWriter struct {
	w   io.Writer
	err error
}

func (l *lineWriter) line(v oneShotLine) error {
	if l.err != nil {
		return l.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		l.err = err
		return err
	}
	if f, ok := l.w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if err := f.Sync(); err != nil {
				l.err = err
				return err
			}
		}
	}
	return nil
}

func (l *lineWriter) result(r *oneShotResult) { l.line(oneShotLine{Result: r}) }

func (l *lineWriter) status() int {
	if l.err != nil {
		return 1
	}
	return 0
}

// attach archives the directory the output's field names and writes it
// as attachment lines.
func (l *lineWriter) attach(ctx context.Context, field string, out json.RawMessage, putURL string) {
	dir, err := outputString(out, field)
	var data []byte
	if err == nil {
		data, err = archiveDir(dir)
	}
	sum := sha256.Sum256(data)
	total := int64(len(data))
	if err == nil && putURL != "" {
		if err = put(ctx, putURL, data); err == nil {
			l.line(oneShotLine{Attachment: &oneShotAttachment{Field: field, Path: dir, Last: true, Put: true,
				SHA256: hex.EncodeToString(sum[:]), Size: total}})
			return
		}
	}
	if err != nil {
		l.line(oneShotLine{Attachment: &oneShotAttachment{Field: field, Path: dir, Last: true, Error: err.Error()}})
		return
	}
	for seq := 0; ; seq++ {
		n := min(len(data), attachChunk)
		at := &oneShotAttachment{Field: field, Seq: seq, Data: base64.StdEncoding.EncodeToString(data[:n])}
		if seq == 0 {
			at.Path = dir
		}
		data = data[n:]
		if len(data) == 0 {
			at.Last, at.SHA256, at.Size = true, hex.EncodeToString(sum[:]), total
		}
		if l.line(oneShotLine{Attachment: at}) != nil || at.Last {
			return
		}
	}
}

// put uploads data to a presigned PUT URL.
func put(ctx context.Context, url string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	req.ContentLength = int64(len(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("upload: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// outputString is the string at a dotted path of an output document.
func outputString(out json.RawMessage, path string) (string, error) {
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return "", err
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("output has no field %q", path)
		}
		if v, ok = m[part]; !ok {
			return "", fmt.Errorf("output has no field %q", path)
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("output field %q is not a path", path)
	}
	return s, nil
}

// archiveDir is a gzip-compressed tar of dir's regular files and
// directories (links are recorded, never followed), at most MaxAttachment
// bytes.
func archiveDir(dir string) ([]byte, error) {
	var buf limitedWriter
	buf.max = MaxAttachment
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // evidence is large; speed over size
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		if !info.Mode().IsRegular() && !info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
			return nil // devices, sockets, fifos: nothing to ship
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, io.LimitReader(f, hdr.Size))
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

type limitedWriter struct {
	bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.max {
		return 0, fmt.Errorf("more than %d bytes", w.max)
	}
	return w.Buffer.Write(p)
}

// ServeOneShot runs one action of actions in one-shot mode: the request
// on standard input, the answer on standard output; it exits the process.
// ServeIfPlugin calls it when EnvOneShot names a built-in plugin.
func ServeOneShot(actions Actions) {
	// The answer's stream is a copy of standard output; standard output
	// itself becomes standard error for the action and anything it runs.
	fd, err := syscall.Dup(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugin: one-shot:", err)
		os.Exit(1)
	}
	syscall.CloseOnExec(fd)
	out := os.NewFile(uintptr(fd), "answer")
	if err := syscall.Dup2(2, 1); err != nil {
		fmt.Fprintln(os.Stderr, "plugin: one-shot:", err)
		os.Exit(1)
	}
	signal.Ignore(syscall.SIGPIPE)
	// SIGTERM (CancelCommand, a timeout, a cancelled SSH step) cancels the
	// action's context; it finishes its cleanup and the answer says so.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := serveOneShot(ctx, actions, os.Stdin, out, os.Stderr)
	stop()
	out.Close()
	os.Exit(code)
}
