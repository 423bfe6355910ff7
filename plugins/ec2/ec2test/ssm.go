package ec2test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Systems Manager Run Command, as the AWS JSON 1.1 protocol serves it
// (X-Amz-Target: AmazonSSM.<Operation>): SendCommand with the
// AWS-RunShellScript document, GetCommandInvocation, ListCommands,
// ListCommandInvocations, CancelCommand and DescribeInstanceInformation.
//
// An instance is a managed instance once ManageInstance registers it with
// an Executor, which runs what SendCommand sends it (LocalExecutor: real
// processes on this machine). What the real service does and this one
// copies:
//
//   - SendCommand to an instance that is not managed (or not running)
//     fails with InvalidInstanceId; to a managed instance whose agent is
//     offline it is accepted and stays Pending until its delivery timeout
//     (TimeoutSeconds, default 3600 s), then TimedOut / DeliveryTimedOut.
//   - GetCommandInvocation returns at most 24,000 characters of standard
//     output and 8,000 of standard error; with OutputS3BucketName the whole
//     of both is written to that bucket, under
//     PREFIX/COMMAND-ID/INSTANCE-ID/awsrunShellScript/0.awsrunShellScript/,
//     and the invocation carries their URLs.
//   - executionTimeout (default 3600 s) ends a command as TimedOut /
//     ExecutionTimedOut with response code -1; CancelCommand ends it as
//     Cancelled with response code -1. Both kill the command's processes.
//   - SendCommand has no client token: a caller that must not send a
//     command twice looks for its own Comment in ListCommands first.

const (
	ssmStdoutLimit = 24000 // characters GetCommandInvocation returns of standard output
	ssmStderrLimit = 8000  // … of standard error
	ssmPluginLimit = 2500  // … of a plugin's Output in ListCommandInvocations
	// ssmCaptureLimit bounds what the emulator keeps of one command's
	// output stream in memory (the rest is dropped and noted).
	ssmCaptureLimit = 64 << 20
	runShellScript  = "AWS-RunShellScript"
	runShellPlugin  = "aws:runShellScript"
)

// Command is what a managed instance's Executor is asked to run.
type Command struct {
	CommandID        string
	InstanceID       string
	DocumentName     string
	Comment          string
	Commands         []string // the script's lines, run as one shell script
	WorkingDirectory string
	Timeout          time.Duration // executionTimeout; the context ends with it too
}

// Script is the shell script the agent runs: the commands, one per line.
func (c Command) Script() string { return strings.Join(c.Commands, "\n") + "\n" }

// CommandResult is what an Executor reports back.
type CommandResult struct {
	Stdout, Stderr []byte
	ExitCode       int
	// Err, when set, fails the invocation with its message on standard
	// error (the agent could not run the script at all).
	Err error
}

// Executor runs the commands sent to a managed instance. Execute returns
// when the command has ended; ctx is cancelled by CancelCommand and by the
// command's execution timeout, and Execute must then stop what it started.
type Executor interface {
	Execute(ctx context.Context, c Command) CommandResult
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, c Command) CommandResult

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, c Command) CommandResult { return f(ctx, c) }

// ManagedInstance describes how a managed instance's agent presents itself
// in DescribeInstanceInformation. The zero value is an online Amazon Linux
// 2023 agent.
type ManagedInstance struct {
	PlatformType    string // "Linux" (default) or "Windows"
	PlatformName    string // default "Amazon Linux"
	PlatformVersion string // default "2023"
	AgentVersion    string // default "3.3.1142.0"
	Offline         bool   // ConnectionLost: commands stay Pending until their delivery timeout
}

type managed struct {
	info ManagedInstance
	exec Executor
}

type invocation struct {
	instanceID    string
	status        string // Pending, InProgress, Success, Failed, TimedOut, Cancelled
	details       string
	code          int
	start, end    time.Time
	stdout        []byte
	stderr        []byte
	stdoutURL     string
	stderrURL     string
	cancel        context.CancelFunc
	cancelled     bool
	deliveryUntil time.Time
}

type ssmCommand struct {
	id, document, comment string
	params                map[string][]string
	instanceIDs           []string
	requested             time.Time
	expires               time.Time
	timeoutSecs           int64
	bucket, prefix        string
	invs                  map[string]*invocation
}

type ssmState struct {
	mu       sync.Mutex
	managed  map[string]*managed
	commands []*ssmCommand // in the order they were sent
	byID     map[string]*ssmCommand
	wg       sync.WaitGroup
}

func (s *Server) ssm() *ssmState {
	s.extOnce.Do(s.initExt)
	return s.ext.ssm
}

// ManageInstance registers instance id (which must exist) as a managed
// instance whose agent runs commands with ex.
func (s *Server) ManageInstance(id string, ex Executor, mi ManagedInstance) error {
	if ex == nil {
		return errors.New("ec2test: ManageInstance: nil executor")
	}
	s.mu.Lock()
	_, ok := s.st.instances.get(id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("ec2test: ManageInstance: no instance %s", id)
	}
	if mi.PlatformType == "" {
		mi.PlatformType = "Linux"
	}
	if mi.PlatformName == "" {
		mi.PlatformName = "Amazon Linux"
	}
	if mi.PlatformVersion == "" {
		mi.PlatformVersion = "2023"
	}
	if mi.AgentVersion == "" {
		mi.AgentVersion = "3.3.1142.0"
	}
	st := s.ssm()
	st.mu.Lock()
	st.managed[id] = &managed{info: mi, exec: ex}
	st.mu.Unlock()
	return nil
}

// SetAgentOnline marks a managed instance's agent online or offline
// (ConnectionLost). Commands sent while it is offline are delivered when
// it comes back before their delivery timeout.
func (s *Server) SetAgentOnline(id string, online bool) error {
	st := s.ssm()
	st.mu.Lock()
	m, ok := st.managed[id]
	if !ok {
		st.mu.Unlock()
		return fmt.Errorf("ec2test: SetAgentOnline: %s is not a managed instance", id)
	}
	m.info.Offline = !online
	var deliver []*ssmCommand
	if online {
		for _, c := range st.commands {
			s.expireLocked(c) // what waited past its delivery timeout is not delivered
			if inv := c.invs[id]; inv != nil && inv.status == "Pending" && inv.cancel == nil {
				deliver = append(deliver, c)
			}
		}
	}
	st.mu.Unlock()
	for _, c := range deliver {
		s.deliver(c, id)
	}
	return nil
}

// WaitCommands waits until every command the server has started has ended
// (tests call it before they inspect processes).
func (s *Server) WaitCommands() { s.ssm().wg.Wait() }

// SentCommands returns the command ids in the order they were sent.
func (s *Server) SentCommands() []string {
	st := s.ssm()
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, len(st.commands))
	for i, c := range st.commands {
		out[i] = c.id
	}
	return out
}

// managedLocked returns instance id's agent, registering it first when the
// server manages every instance (WithSSMExecutor). st.mu is held.
func (s *Server) managedLocked(id string) *managed {
	st := s.ext.ssm
	if m := st.managed[id]; m != nil || s.opts.ssmExec == nil {
		return m
	}
	s.mu.Lock()
	in, ok := s.st.instances.get(id)
	running := ok && in.state == "running"
	s.mu.Unlock()
	if !running {
		return nil
	}
	m := &managed{exec: s.opts.ssmExec, info: ManagedInstance{PlatformType: "Linux", PlatformName: "Amazon Linux",
		PlatformVersion: "2023", AgentVersion: "3.3.1142.0"}}
	st.managed[id] = m
	return m
}

func (s *Server) serveSSM(w http.ResponseWriter, r *http.Request, body []byte) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	id := s.newRequestID()
	writeErr := func(e *apiError) {
		s.record("ssm", op, "awsjson", e.code)
		b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(e.status)
		w.Write(b)
	}
	var in map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			writeErr(&apiError{status: 400, code: "SerializationException", msg: err.Error()})
			return
		}
	}
	if in == nil {
		in = map[string]json.RawMessage{}
	}
	var (
		out  any
		aerr *apiError
	)
	switch op {
	case "SendCommand":
		out, aerr = s.ssmSendCommand(in)
	case "GetCommandInvocation":
		out, aerr = s.ssmGetCommandInvocation(in)
	case "ListCommands":
		out, aerr = s.ssmListCommands(in)
	case "ListCommandInvocations":
		out, aerr = s.ssmListCommandInvocations(in)
	case "CancelCommand":
		out, aerr = s.ssmCancelCommand(in)
	case "DescribeInstanceInformation":
		out, aerr = s.ssmDescribeInstanceInformation(in)
	default:
		aerr = &apiError{status: 400, code: "UnknownOperationException", msg: "Unknown operation " + op}
	}
	if aerr != nil {
		writeErr(aerr)
		return
	}
	s.record("ssm", op, "awsjson", "")
	b, err := json.Marshal(out)
	if err != nil {
		writeErr(&apiError{status: 500, code: "InternalServerError", msg: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// field decodes in[name] into v; a missing field leaves v as it is.
func field(in map[string]json.RawMessage, name string, v any) *apiError {
	raw, ok := in[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &apiError{status: 400, code: "SerializationException", msg: fmt.Sprintf("%s: %v", name, err)}
	}
	return nil
}

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

func (s *Server) ssmSendCommand(in map[string]json.RawMessage) (any, *apiError) {
	var (
		doc, comment, bucket, prefix string
		ids                          []string
		targets                      []struct {
			Key    string
			Values []string
		}
		params  map[string][]string
		timeout int64 = 3600
	)
	for name, v := range map[string]any{"DocumentName": &doc, "Comment": &comment, "OutputS3BucketName": &bucket,
		"OutputS3KeyPrefix": &prefix, "InstanceIds": &ids, "Targets": &targets, "Parameters": &params, "TimeoutSeconds": &timeout} {
		if e := field(in, name, v); e != nil {
			return nil, e
		}
	}
	if doc == "" {
		return nil, errf("ValidationException", "1 validation error detected: Value null at 'documentName' failed to satisfy constraint: Member must not be null")
	}
	if doc != runShellScript {
		return nil, errf("InvalidDocument", "Document %s does not exist in your account", doc)
	}
	if len(comment) > 100 {
		return nil, errf("ValidationException", "1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	if timeout < 30 || timeout > 2592000 {
		return nil, errf("ValidationException", "1 validation error detected: Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000", timeout)
	}
	for _, t := range targets {
		if t.Key != "InstanceIds" {
			return nil, errf("InvalidTarget", "target key %s is not supported by this emulator (InstanceIds only)", t.Key)
		}
		ids = append(ids, t.Values...)
	}
	if len(ids) == 0 {
		return nil, errf("ValidationException", "InstanceIds or Targets must be given")
	}
	if len(ids) > 50 {
		return nil, errf("ValidationException", "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	if len(params["commands"]) == 0 {
		return nil, errf("InvalidParameters", "document %s does not support the parameters given: commands is required", doc)
	}
	for k := range params {
		switch k {
		case "commands", "workingDirectory", "executionTimeout":
		default:
			return nil, errf("InvalidParameters", "Parameter \"%s\" is not defined in document %s", k, doc)
		}
	}
	exec := int64(3600)
	if v := params["executionTimeout"]; len(v) > 0 {
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || n < 1 || n > 172800 {
			return nil, errf("InvalidParameters", "executionTimeout %q is not between 1 and 172800", v[0])
		}
		exec = n
	}
	if bucket != "" && !s.s3().hasBucket(bucket) {
		// The agent, not the API, fails to upload; the command runs and
		// its invocation carries no URLs. Emulate the API: accept.
		s.opts.logger.Debug("ec2test: SendCommand to a missing output bucket", "bucket", bucket)
	}

	now := s.now()
	st := s.ssm()
	s.mu.Lock()
	var bad []string
	for _, id := range ids {
		in, ok := s.st.instances.get(id)
		if !ok || in.state != "running" {
			bad = append(bad, id)
		}
	}
	cmdID := s.uuidLocked()
	s.mu.Unlock()
	st.mu.Lock()
	for _, id := range ids {
		if s.managedLocked(id) == nil && !contains(bad, id) {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		st.mu.Unlock()
		return nil, errf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", strings.Join(bad, ", "), AccountID)
	}
	c := &ssmCommand{id: cmdID, document: doc, comment: comment, params: params, instanceIDs: ids, requested: now,
		expires: now.Add(time.Duration(timeout) * time.Second), timeoutSecs: exec, bucket: bucket, prefix: prefix,
		invs: map[string]*invocation{}}
	var online []string
	for _, id := range ids {
		c.invs[id] = &invocation{instanceID: id, status: "Pending", details: "Pending", code: -1, deliveryUntil: c.expires}
		if !st.managed[id].info.Offline {
			online = append(online, id)
		}
	}
	st.commands = append(st.commands, c)
	st.byID[c.id] = c
	st.mu.Unlock()
	for _, id := range online {
		s.deliver(c, id)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return map[string]any{"Command": s.commandJSON(c)}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// uuidLocked returns a random UUID from the server's generator.
func (s *Server) uuidLocked() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// deliver starts command c on instance id in the background.
func (s *Server) deliver(c *ssmCommand, id string) {
	st := s.ssm()
	st.mu.Lock()
	inv := c.invs[id]
	m := st.managed[id]
	if inv == nil || m == nil || inv.status != "Pending" || inv.cancel != nil || inv.cancelled {
		st.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.timeoutSecs)*time.Second)
	inv.cancel = cancel
	inv.status, inv.details = "InProgress", "InProgress"
	inv.start = s.now()
	cmd := Command{CommandID: c.id, InstanceID: id, DocumentName: c.document, Comment: c.comment,
		Commands: c.params["commands"], Timeout: time.Duration(c.timeoutSecs) * time.Second}
	if wd := c.params["workingDirectory"]; len(wd) > 0 {
		cmd.WorkingDirectory = wd[0]
	}
	ex := m.exec
	st.wg.Add(1)
	st.mu.Unlock()
	go func() {
		defer st.wg.Done()
		defer cancel()
		res := ex.Execute(ctx, cmd)
		s.finish(c, id, ctx, res)
	}()
}

func (s *Server) finish(c *ssmCommand, id string, ctx context.Context, res CommandResult) {
	stdout, stderr := res.Stdout, res.Stderr
	if res.Err != nil {
		stderr = append(stderr, []byte("failed to run commands: "+res.Err.Error()+"\n")...)
	}
	st := s.ssm()
	st.mu.Lock()
	inv := c.invs[id]
	inv.end = s.now()
	inv.stdout, inv.stderr = capOutput(stdout), capOutput(stderr)
	switch {
	case inv.cancelled:
		inv.status, inv.details, inv.code = "Cancelled", "Cancelled", -1
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		inv.status, inv.details, inv.code = "TimedOut", "ExecutionTimedOut", -1
	case res.Err != nil:
		inv.status, inv.details, inv.code = "Failed", "Failed", -1
	case res.ExitCode == 0:
		inv.status, inv.details, inv.code = "Success", "Success", 0
	default:
		inv.status, inv.details, inv.code = "Failed", "Failed", res.ExitCode
	}
	bucket, prefix := c.bucket, c.prefix
	st.mu.Unlock()
	if bucket == "" {
		return
	}
	base := strings.Trim(prefix, "/")
	if base != "" {
		base += "/"
	}
	base += c.id + "/" + id + "/awsrunShellScript/0.awsrunShellScript/"
	var outURL, errURL string
	if s.s3().put(bucket, base+"stdout", inv.stdout, "text/plain", s.now()) == nil {
		outURL = fmt.Sprintf("https://s3.%s.amazonaws.com/%s/%sstdout", s.opts.region, bucket, base)
	}
	if len(inv.stderr) > 0 && s.s3().put(bucket, base+"stderr", inv.stderr, "text/plain", s.now()) == nil {
		errURL = fmt.Sprintf("https://s3.%s.amazonaws.com/%s/%sstderr", s.opts.region, bucket, base)
	}
	st.mu.Lock()
	inv.stdoutURL, inv.stderrURL = outURL, errURL
	st.mu.Unlock()
}

func capOutput(b []byte) []byte {
	if len(b) > ssmCaptureLimit {
		return append(b[:ssmCaptureLimit:ssmCaptureLimit], []byte("\n---Output truncated by ec2test---\n")...)
	}
	return b
}

// truncChars returns the first n characters (runes) of b.
func truncChars(b []byte, n int) string {
	s := string(b)
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// expireLocked moves invocations still Pending past their delivery timeout
// to TimedOut (DeliveryTimedOut).
func (s *Server) expireLocked(c *ssmCommand) {
	now := s.now()
	for _, inv := range c.invs {
		if inv.status == "Pending" && inv.cancel == nil && !now.Before(inv.deliveryUntil) {
			inv.status, inv.details, inv.code = "TimedOut", "DeliveryTimedOut", -1
			inv.end = now
		}
	}
}

// commandStatus aggregates the invocations as the service does.
func commandStatus(c *ssmCommand) (status string, completed, errs int) {
	pending, running := 0, 0
	count := map[string]int{}
	for _, inv := range c.invs {
		count[inv.status]++
		switch inv.status {
		case "Pending":
			pending++
		case "InProgress", "Cancelling":
			running++
		default:
			completed++
			if inv.status != "Success" {
				errs++
			}
		}
	}
	switch {
	case running > 0 || (pending > 0 && completed > 0):
		return "InProgress", completed, errs
	case pending > 0:
		return "Pending", completed, errs
	case count["Success"] == len(c.invs):
		return "Success", completed, errs
	case count["Cancelled"] > 0:
		return "Cancelled", completed, errs
	case count["TimedOut"] > 0:
		return "TimedOut", completed, errs
	default:
		return "Failed", completed, errs
	}
}

func (s *Server) commandJSON(c *ssmCommand) map[string]any {
	s.expireLocked(c)
	status, completed, errs := commandStatus(c)
	params := map[string][]string{}
	for k, v := range c.params {
		params[k] = v
	}
	m := map[string]any{
		"CommandId": c.id, "DocumentName": c.document, "DocumentVersion": "$DEFAULT", "Comment": c.comment,
		"Parameters": params, "InstanceIds": c.instanceIDs, "Targets": []any{},
		"RequestedDateTime": epoch(c.requested), "ExpiresAfter": epoch(c.expires),
		"Status": status, "StatusDetails": status,
		"TargetCount": len(c.invs), "CompletedCount": completed, "ErrorCount": errs, "DeliveryTimedOutCount": 0,
		"MaxConcurrency": "50", "MaxErrors": "0", "TimeoutSeconds": int64(c.expires.Sub(c.requested) / time.Second),
		"OutputS3Region": "",
	}
	if c.bucket != "" {
		m["OutputS3BucketName"], m["OutputS3KeyPrefix"] = c.bucket, c.prefix
	}
	return m
}

func (s *Server) findCommand(id string) *ssmCommand {
	return s.ssm().byID[id]
}

func (s *Server) ssmGetCommandInvocation(in map[string]json.RawMessage) (any, *apiError) {
	var cmdID, instID, plugin string
	for name, v := range map[string]any{"CommandId": &cmdID, "InstanceId": &instID, "PluginName": &plugin} {
		if e := field(in, name, v); e != nil {
			return nil, e
		}
	}
	if plugin != "" && plugin != runShellPlugin {
		return nil, errf("InvalidPluginName", "The plugin name %s is not valid", plugin)
	}
	st := s.ssm()
	st.mu.Lock()
	defer st.mu.Unlock()
	c := s.findCommand(cmdID)
	if c == nil {
		return nil, errf("InvalidCommandId", "")
	}
	inv := c.invs[instID]
	if inv == nil {
		return nil, errf("InvocationDoesNotExist", "")
	}
	s.expireLocked(c)
	var elapsed string
	if !inv.start.IsZero() {
		end := inv.end
		if end.IsZero() {
			end = s.now()
		}
		d := end.Sub(inv.start)
		elapsed = fmt.Sprintf("PT%.3fS", d.Seconds())
	}
	return map[string]any{
		"CommandId": c.id, "InstanceId": instID, "Comment": c.comment, "DocumentName": c.document,
		"DocumentVersion": "$DEFAULT", "PluginName": runShellPlugin, "ResponseCode": inv.code,
		"ExecutionStartDateTime": isoTime(inv.start), "ExecutionElapsedTime": elapsed,
		"ExecutionEndDateTime": isoTime(inv.end), "Status": inv.status, "StatusDetails": inv.details,
		"StandardOutputContent": truncChars(inv.stdout, ssmStdoutLimit), "StandardOutputUrl": inv.stdoutURL,
		"StandardErrorContent": truncChars(inv.stderr, ssmStderrLimit), "StandardErrorUrl": inv.stderrURL,
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}, nil
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// ssmPage applies MaxResults / NextToken to n items: the half-open range to
// return and the next token ("" at the end).
func ssmPage(in map[string]json.RawMessage, n, def, max int) (lo, hi int, next string, aerr *apiError) {
	var maxResults int
	var token string
	if e := field(in, "MaxResults", &maxResults); e != nil {
		return 0, 0, "", e
	}
	if e := field(in, "NextToken", &token); e != nil {
		return 0, 0, "", e
	}
	if maxResults == 0 {
		maxResults = def
	}
	if maxResults < 1 || maxResults > max {
		return 0, 0, "", errf("ValidationException", "MaxResults %d is not between 1 and %d", maxResults, max)
	}
	if token != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(token, "tok-"))
		if err != nil || v < 0 || v > n || !strings.HasPrefix(token, "tok-") {
			return 0, 0, "", errf("InvalidNextToken", "The specified token is not valid.")
		}
		lo = v
	}
	hi = min(lo+maxResults, n)
	if hi < n {
		next = "tok-" + strconv.Itoa(hi)
	}
	return lo, hi, next, nil
}

// matching returns the commands a list call names (CommandId, InstanceId),
// newest first as the service lists them.
func (s *Server) matching(in map[string]json.RawMessage) ([]*ssmCommand, *apiError) {
	var cmdID, instID string
	if e := field(in, "CommandId", &cmdID); e != nil {
		return nil, e
	}
	if e := field(in, "InstanceId", &instID); e != nil {
		return nil, e
	}
	st := s.ssm()
	var out []*ssmCommand
	for i := len(st.commands) - 1; i >= 0; i-- {
		c := st.commands[i]
		if cmdID != "" && c.id != cmdID {
			continue
		}
		if instID != "" && c.invs[instID] == nil {
			continue
		}
		out = append(out, c)
	}
	if cmdID != "" && len(out) == 0 {
		return nil, errf("InvalidCommandId", "")
	}
	return out, nil
}

func (s *Server) ssmListCommands(in map[string]json.RawMessage) (any, *apiError) {
	st := s.ssm()
	st.mu.Lock()
	defer st.mu.Unlock()
	cmds, aerr := s.matching(in)
	if aerr != nil {
		return nil, aerr
	}
	lo, hi, next, aerr := ssmPage(in, len(cmds), 50, 50)
	if aerr != nil {
		return nil, aerr
	}
	list := []any{}
	for _, c := range cmds[lo:hi] {
		list = append(list, s.commandJSON(c))
	}
	out := map[string]any{"Commands": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) ssmListCommandInvocations(in map[string]json.RawMessage) (any, *apiError) {
	var details bool
	if e := field(in, "Details", &details); e != nil {
		return nil, e
	}
	var instID string
	if e := field(in, "InstanceId", &instID); e != nil {
		return nil, e
	}
	st := s.ssm()
	st.mu.Lock()
	defer st.mu.Unlock()
	cmds, aerr := s.matching(in)
	if aerr != nil {
		return nil, aerr
	}
	type pair struct {
		c   *ssmCommand
		inv *invocation
	}
	var all []pair
	for _, c := range cmds {
		s.expireLocked(c)
		ids := append([]string(nil), c.instanceIDs...)
		sort.Strings(ids)
		for _, id := range ids {
			if instID == "" || id == instID {
				all = append(all, pair{c, c.invs[id]})
			}
		}
	}
	lo, hi, next, aerr := ssmPage(in, len(all), 50, 50)
	if aerr != nil {
		return nil, aerr
	}
	list := []any{}
	for _, p := range all[lo:hi] {
		m := map[string]any{
			"CommandId": p.c.id, "InstanceId": p.inv.instanceID, "Comment": p.c.comment, "DocumentName": p.c.document,
			"DocumentVersion": "$DEFAULT", "RequestedDateTime": epoch(p.c.requested), "Status": p.inv.status,
			"StatusDetails": p.inv.details, "StandardOutputUrl": p.inv.stdoutURL, "StandardErrorUrl": p.inv.stderrURL,
			"CommandPlugins": []any{},
		}
		if details {
			m["CommandPlugins"] = []any{map[string]any{
				"Name": runShellPlugin, "Status": p.inv.status, "StatusDetails": p.inv.details, "ResponseCode": p.inv.code,
				"ResponseStartDateTime": epoch(p.inv.start), "ResponseFinishDateTime": epoch(p.inv.end),
				"Output": truncChars(p.inv.stdout, ssmPluginLimit), "StandardOutputUrl": p.inv.stdoutURL,
				"StandardErrorUrl": p.inv.stderrURL, "OutputS3BucketName": p.c.bucket, "OutputS3KeyPrefix": p.c.prefix,
			}}
		}
		list = append(list, m)
	}
	out := map[string]any{"CommandInvocations": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) ssmCancelCommand(in map[string]json.RawMessage) (any, *apiError) {
	var cmdID string
	var ids []string
	if e := field(in, "CommandId", &cmdID); e != nil {
		return nil, e
	}
	if e := field(in, "InstanceIds", &ids); e != nil {
		return nil, e
	}
	st := s.ssm()
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.byID[cmdID]
	if c == nil {
		return nil, errf("InvalidCommandId", "")
	}
	if len(ids) == 0 {
		ids = c.instanceIDs
	}
	for _, id := range ids {
		inv := c.invs[id]
		if inv == nil {
			return nil, errf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", id, AccountID)
		}
		switch inv.status {
		case "Pending":
			inv.cancelled = true
			inv.status, inv.details, inv.end = "Cancelled", "Cancelled", s.now()
		case "InProgress":
			inv.cancelled = true
			inv.details = "Cancelling"
			inv.status = "Cancelling"
			inv.cancel()
		}
	}
	return map[string]any{}, nil
}

func (s *Server) ssmDescribeInstanceInformation(in map[string]json.RawMessage) (any, *apiError) {
	var filters []struct {
		Key    string
		Values []string
	}
	var legacy []struct {
		Key      string `json:"key"`
		ValueSet []string
	}
	if e := field(in, "Filters", &filters); e != nil {
		return nil, e
	}
	if e := field(in, "InstanceInformationFilterList", &legacy); e != nil {
		return nil, e
	}
	want := map[string]bool{}
	for _, f := range filters {
		switch f.Key {
		case "InstanceIds":
			for _, v := range f.Values {
				want[v] = true
			}
		case "PingStatus", "PlatformTypes":
		default:
			return nil, errf("InvalidInstanceInformationFilterValue", "filter key %s is not supported by this emulator", f.Key)
		}
	}
	for _, f := range legacy {
		if f.Key == "InstanceIds" {
			for _, v := range f.ValueSet {
				want[v] = true
			}
		}
	}
	st := s.ssm()
	var running []string
	if s.opts.ssmExec != nil {
		s.mu.Lock()
		for _, in := range s.st.instances.all() {
			if in.state == "running" {
				running = append(running, in.id)
			}
		}
		s.mu.Unlock()
	}
	st.mu.Lock()
	for _, id := range running {
		s.managedLocked(id)
	}
	ids := make([]string, 0, len(st.managed))
	for id := range st.managed {
		if len(want) == 0 || want[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	infos := make(map[string]ManagedInstance, len(ids))
	for _, id := range ids {
		infos[id] = st.managed[id].info
	}
	st.mu.Unlock()
	lo, hi, next, aerr := ssmPage(in, len(ids), 50, 50)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	list := []any{}
	s.mu.Lock()
	for _, id := range ids[lo:hi] {
		mi := infos[id]
		ping := "Online"
		if mi.Offline {
			ping = "ConnectionLost"
		}
		var ip string
		if inst, ok := s.st.instances.get(id); ok && len(inst.enis) > 0 {
			if e, ok := s.st.enis.get(inst.enis[0]); ok {
				ip = e.privateIP
			}
		}
		list = append(list, map[string]any{
			"InstanceId": id, "PingStatus": ping, "LastPingDateTime": epoch(now), "AgentVersion": mi.AgentVersion,
			"IsLatestVersion": true, "PlatformType": mi.PlatformType, "PlatformName": mi.PlatformName,
			"PlatformVersion": mi.PlatformVersion, "ResourceType": "EC2Instance", "IPAddress": ip,
			"ComputerName": "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal",
		})
	}
	s.mu.Unlock()
	out := map[string]any{"InstanceInformationList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}
