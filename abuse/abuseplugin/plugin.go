package abuseplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook/plugin"
)

func init() {
	plugin.RegisterError("abuse.unknown_format", abuse.ErrUnknownFormat)
	plugin.RegisterError("abuse.too_large", abuse.ErrTooLarge)
	plugin.RegisterError("abuse.no_actions", abuse.ErrNoActions)
	plugin.RegisterError("abuseplugin.exists", ErrExists)
}

// ErrExists is returned by "reply" when a draft file exists with other
// contents and overwrite is not set.
var ErrExists = errors.New("abuseplugin: output file exists")

// DefaultMaxEvidence is how many evidence records "parse" keeps per report
// unless max_evidence says otherwise: a plugin's output is at most 8 MiB.
const DefaultMaxEvidence = 10000

// maxOutput is the plugin transport's payload limit (8 MiB); a larger
// output is refused here with a hint rather than by the transport.
const maxOutput = 8 << 20

// Limits is abuse.Limits as JSON; zero fields keep abuse's defaults.
type Limits struct {
	MaxBytes     int64 `json:"max_bytes,omitempty" description:"bytes of input read at most, a larger file is refused; 0: 256 MiB"`
	MaxLineBytes int   `json:"max_line_bytes,omitempty" description:"bytes of one line at most; 0: 1 MiB"`
	MaxParts     int   `json:"max_parts,omitempty" description:"MIME parts read at most, forwarded messages included; 0: 1000"`
	MaxDepth     int   `json:"max_depth,omitempty" description:"nesting depth of MIME parts and forwarded messages at most; 0: 16"`
	MaxReports   int   `json:"max_reports,omitempty" description:"reports read from one input (an mbox, a GuardDuty export) at most; 0: 100000"`
}

func (l Limits) abuse() abuse.Limits {
	return abuse.Limits{MaxBytes: l.MaxBytes, MaxLineBytes: l.MaxLineBytes, MaxParts: l.MaxParts, MaxDepth: l.MaxDepth, MaxReports: l.MaxReports}
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return abuse.DefaultLimits.MaxBytes
}

// ParseInput is the input of "parse": exactly one of Path, Text and Data.
type ParseInput struct {
	// Path is a file on the plugin's host (relative: to its working
	// directory). It must be a regular file of at most Limits.MaxBytes.
	Path string `json:"path,omitempty" description:"a regular file on the plugin's host to read (relative: to its working directory); exactly one of path, text and data"`
	Text string `json:"text,omitempty" description:"the report itself, as text (a mail, a log, a pasted notice); exactly one of path, text and data"`
	Data []byte `json:"data,omitempty" description:"the report itself, as bytes (base64 in JSON); exactly one of path, text and data"`
	// ReferenceTime is abuse.WithReferenceTime: the time that times without
	// a year, and relative deadlines of pasted text, are read against.
	ReferenceTime time.Time `json:"reference_time,omitzero" description:"the time that times without a year (syslog) are read against instead of the notice's date, and relative deadlines of input without a date; absent: the notice's date, else now"`
	Limits        Limits    `json:"limits,omitzero" description:"bounds on what is read; absent or zero fields: abuse's defaults"`
	// MaxEvidence caps the evidence records each report keeps (0:
	// DefaultMaxEvidence, negative: no cap); EvidenceCount counts them all.
	MaxEvidence int `json:"max_evidence,omitempty" description:"evidence records kept per report (0: 10000, negative: no cap); evidence_count still counts them all"`
}

// ParseOutput is the output of "parse".
type ParseOutput struct {
	Reports []abuse.Report `json:"reports" description:"the reports read, in input order; empty when the input holds none"`
	// IncidentID is abuse.IncidentID of the first report ("" when none).
	IncidentID string `json:"incident_id" description:"the first report's incident id: its case number, else r- and 16 hex digits of a hash of its identifying fields ([a-z0-9-]); empty when no report"`
}

// ReplyInput is the input of "reply": the arguments of abuse.DraftReply and,
// optionally, where to write the drafts.
type ReplyInput struct {
	Report     abuse.Report    `json:"report" schema:"required" description:"the report answered (usually steps.parse.reports[0])"`
	Actions    []abuse.Action  `json:"actions" schema:"required" description:"the corrective actions taken, listed in time order; at least one"`
	Findings   []abuse.Finding `json:"findings,omitempty" description:"what was found on the instance: the process, persistence, the way in"`
	RootCause  string          `json:"root_cause,omitempty" description:"how the instance was compromised, one paragraph; empty: not said"`
	Prevention []string        `json:"prevention,omitempty" description:"the steps taken against a recurrence, one per item"`
	Signature  string          `json:"signature,omitempty" description:"the lines that close the reply (name, team); empty: none"`
	// OutputDir, when set, is an existing directory on the plugin's host
	// to write the drafts into (see the package documentation).
	OutputDir string `json:"output_dir,omitempty" description:"an existing directory on the plugin's host to write <incident>-reply.txt and <incident>-summary.md into (mode 0600); empty: write nothing"`
	// Overwrite replaces draft files that exist with other contents.
	Overwrite bool `json:"overwrite,omitempty" description:"replace draft files that exist with other contents (else the step fails with abuseplugin.exists)"`
}

// ReplyOutput is the output of "reply": the drafted abuse.Reply (subject,
// text, markdown inline) and the files written or found identical.
type ReplyOutput struct {
	abuse.Reply
	Files []string `json:"files,omitempty" description:"absolute paths of the draft files written, or found with the same contents; absent without output_dir"`
}

// NewPlugin returns the actions "parse" and "reply".
func NewPlugin() plugin.Actions {
	return plugin.Actions{
		"parse": plugin.NewAction("read an abuse report (mail, mbox, Trust & Safety, GuardDuty, X-ARF, ARF, log, text) into typed reports and the incident id",
			planParse, applyParse, plugin.FieldDocs(nil, parseOutputDocs)),
		"reply": plugin.NewAction("draft the reply to the provider from a report and the corrective actions; writes files only when given output_dir",
			planReply, applyReply, plugin.FieldDocs(replyInputDocs, replyOutputDocs)),
	}
}

func planParse(ctx context.Context, req plugin.PlanRequest[ParseInput], resp *plugin.PlanResponse) error {
	in := req.Input
	src, err := openInput(in)
	if err != nil {
		return err
	}
	defer src.Close()
	// A streamed parse that keeps no evidence: bounded memory whatever the
	// input, and junk fails the plan rather than the apply.
	var (
		reports, evidence int
		sources           []string
		id                string
	)
	_, err = abuse.Parse(ctx, src, append(parseOptions(in, req.Logger),
		abuse.WithEvidenceFunc(func(abuse.Evidence) error { evidence++; return nil }),
		abuse.WithReportFunc(func(r abuse.Report) error {
			if reports++; reports == 1 {
				id = abuse.IncidentID(r)
			}
			if !slices.Contains(sources, string(r.Source)) {
				sources = append(sources, string(r.Source))
			}
			return nil
		}))...)
	if err != nil {
		return fmt.Errorf("%s: %w", src.name, err)
	}
	detail := fmt.Sprintf("%d bytes: %d report(s) [%s], %d evidence record(s)", src.size, reports, strings.Join(sources, ", "), evidence)
	if id != "" {
		detail += ", incident " + id
	}
	resp.Summary = "read-only: parse " + src.name + " (" + detail + ")"
	resp.Changes = []plugin.Change{{Kind: plugin.ChangeRead, Target: src.name, Detail: detail}}
	return nil
}

func applyParse(ctx context.Context, req plugin.ApplyRequest[ParseInput], resp *plugin.ApplyResponse[ParseOutput]) error {
	in := req.Input
	src, err := openInput(in)
	if err != nil {
		return err
	}
	defer src.Close()
	reps, err := abuse.Parse(ctx, src, parseOptions(in, req.Logger)...)
	if err != nil {
		return fmt.Errorf("%s: %w", src.name, err)
	}
	if reps == nil {
		reps = []abuse.Report{}
	}
	resp.Output.Reports = reps
	if len(reps) > 0 {
		resp.Output.IncidentID = abuse.IncidentID(reps[0])
	}
	// Counted, not kept: the SDK encodes the output itself.
	var n countWriter
	if err := json.NewEncoder(&n).Encode(resp.Output); err != nil {
		return err
	}
	if size := int64(n) - 1; size > maxOutput { // less Encode's newline
		return fmt.Errorf("%s: %w: %d reports are %d bytes of JSON, more than the %d a plugin may return; lower max_evidence",
			src.name, abuse.ErrTooLarge, len(reps), size, maxOutput)
	}
	req.Progress.Report(fmt.Sprintf("parsed %d report(s)", len(reps)), src.size, src.size)
	return nil
}

func parseOptions(in ParseInput, log *slog.Logger) []abuse.Option {
	opts := []abuse.Option{abuse.WithLogger(log), abuse.WithLimits(in.Limits.abuse())}
	if !in.ReferenceTime.IsZero() {
		opts = append(opts, abuse.WithReferenceTime(in.ReferenceTime))
	}
	maxEvidence := in.MaxEvidence
	if maxEvidence == 0 {
		maxEvidence = DefaultMaxEvidence
	}
	return append(opts, abuse.WithMaxEvidence(maxEvidence))
}

// source is the input of "parse", opened.
type source struct {
	io.Reader
	name string // the file's absolute path, or "text" / "data"
	size int64
	f    *os.File
}

func (s *source) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// openInput opens the one input of in. A file must be regular (a FIFO or a
// device could block or never end) and within the size limit.
func openInput(in ParseInput) (*source, error) {
	n := 0
	for _, set := range []bool{in.Path != "", in.Text != "", in.Data != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: parse needs exactly one of path, text and data (%d given)", plugin.ErrInvalidInput, n)
	}
	max := in.Limits.maxBytes()
	switch {
	case in.Text != "":
		return checkSize(&source{Reader: strings.NewReader(in.Text), name: "text", size: int64(len(in.Text))}, max)
	case in.Data != nil:
		return checkSize(&source{Reader: bytes.NewReader(in.Data), name: "data", size: int64(len(in.Data))}, max)
	}
	path, err := filepath.Abs(in.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: path %q: %v", plugin.ErrInvalidInput, in.Path, err)
	}
	// O_NONBLOCK: opening a FIFO does not wait for a writer; it is refused
	// below as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", plugin.ErrInvalidInput, path, st.Mode().Type())
	}
	// abuse.Parse enforces the limit again while reading, so a file that
	// grows meanwhile is still cut off.
	return checkSize(&source{Reader: f, name: path, size: st.Size(), f: f}, max)
}

func checkSize(s *source, max int64) (*source, error) {
	if s.size > max {
		s.Close()
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the %d allowed (limits.max_bytes)", s.name, abuse.ErrTooLarge, s.size, max)
	}
	return s, nil
}

func draft(in ReplyInput) (abuse.Reply, error) {
	return abuse.DraftReply(in.Report, in.Actions,
		abuse.WithFindings(in.Findings...),
		abuse.WithRootCause(in.RootCause),
		abuse.WithPrevention(in.Prevention...),
		abuse.WithSignature(in.Signature))
}

// draftFile is one file "reply" writes.
type draftFile struct {
	path string
	data []byte
}

// draftFiles names the files of a reply in dir and their contents.
func draftFiles(dir string, r abuse.Report, rep abuse.Reply) ([]draftFile, error) {
	if dir == "" {
		return nil, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: output_dir %q: %v", plugin.ErrInvalidInput, dir, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%w: output_dir %s is not a directory", plugin.ErrInvalidInput, abs)
	}
	id := abuse.IncidentID(r) // only [a-z0-9-]: safe as a file name
	return []draftFile{
		{filepath.Join(abs, id+"-reply.txt"), []byte("Subject: " + rep.Subject + "\n\n" + rep.Text)},
		{filepath.Join(abs, id+"-summary.md"), []byte(rep.Markdown)},
	}, nil
}

// state says what writing f would do: "create", "replace" or "unchanged".
func (f draftFile) state(overwrite bool) (string, error) {
	st, err := os.Lstat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return "create", nil
	}
	if err != nil {
		return "", err
	}
	if st.Mode().IsRegular() && st.Size() == int64(len(f.data)) {
		if b, err := os.ReadFile(f.path); err == nil && bytes.Equal(b, f.data) {
			return "unchanged", nil
		}
	}
	if !overwrite || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s (%s; set overwrite to replace a regular file)", ErrExists, f.path, st.Mode().Type())
	}
	return "replace", nil
}

// write writes f whole into a temporary file beside it and links it into
// place: the final name never holds a partial draft, and without overwrite
// an existing file is never replaced (link fails where rename would not).
func (f draftFile) write(overwrite bool) (bool, error) {
	state, err := f.state(overwrite)
	if err != nil || state == "unchanged" {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(f.data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if state == "replace" {
		err = os.Rename(tmp.Name(), f.path)
	} else if err = os.Link(tmp.Name(), f.path); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%w: %s (created meanwhile)", ErrExists, f.path)
	}
	if err != nil {
		return false, err
	}
	return true, syncDir(filepath.Dir(f.path))
}

func planReply(ctx context.Context, req plugin.PlanRequest[ReplyInput], resp *plugin.PlanResponse) error {
	in := req.Input
	rep, err := draft(in)
	if err != nil {
		return err
	}
	files, err := draftFiles(in.OutputDir, in.Report, rep)
	if err != nil {
		return err
	}
	resp.Summary = fmt.Sprintf("draft the reply %q (%d actions)", rep.Subject, len(in.Actions))
	if len(files) == 0 {
		resp.Summary += "; writes nothing"
	}
	for _, f := range files {
		state, err := f.state(in.Overwrite)
		if err != nil {
			return err
		}
		switch state {
		case "create":
			resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: f.path, Detail: fmt.Sprintf("%d bytes, mode 0600", len(f.data))})
		case "replace":
			resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: f.path, Detail: fmt.Sprintf("overwrite with %d bytes", len(f.data))})
		}
	}
	return nil
}

func applyReply(ctx context.Context, req plugin.ApplyRequest[ReplyInput], resp *plugin.ApplyResponse[ReplyOutput]) error {
	in := req.Input
	rep, err := draft(in)
	if err != nil {
		return err
	}
	resp.Output.Reply = rep
	files, err := draftFiles(in.OutputDir, in.Report, rep)
	if err != nil {
		return err
	}
	// Check every file before writing any, so that a refusal leaves none.
	for _, f := range files {
		if _, err := f.state(in.Overwrite); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		wrote, err := f.write(in.Overwrite)
		if err != nil {
			return err
		}
		if wrote {
			req.Logger.Info("abuse: reply draft written", "path", f.path, "bytes", len(f.data))
		}
		resp.Output.Files = append(resp.Output.Files, f.path)
	}
	return nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// countWriter counts the bytes written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
