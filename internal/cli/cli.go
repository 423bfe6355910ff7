package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Version is the envelope's version, its "v".
const Version = 1

// Type is a document's "type".
type Type string

// Document types.
const (
	TypePlan     Type = "plan"
	TypeEvent    Type = "event"
	TypeProgress Type = "progress"
	TypeResult   Type = "result"
	TypeInfo     Type = "info"
	TypeWarning  Type = "warning"
	TypeError    Type = "error"
)

// Exit statuses every command uses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Doc is the envelope of one -json line.
type Doc struct {
	V    int    `json:"v"`
	Type Type   `json:"type"`
	Prog string `json:"prog"`
	Kind string `json:"kind,omitempty"`
	Data any    `json:"data,omitempty"`
}

// Message is the payload of an "error", "warning" or "info" document.
type Message struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// Output writes a command's output in the human view or as JSON lines. It
// is safe for concurrent use.
type Output struct {
	Prog   string
	Stdout io.Writer
	Stderr io.Writer
	JSON   bool
	// Code, if set, gives an error's well-known code for "error" documents
	// (playbook's plugin.ErrorCode).
	Code func(error) string

	mu sync.Mutex
	// in reads Ask's answers: one buffered reader per input, so that a
	// second question reads the line after the first answer even when
	// both arrived in one read (a run asks once per step planned late).
	in    *bufio.Reader
	inSrc io.Reader
}

// New returns an Output for prog.
func New(prog string, stdout, stderr io.Writer, jsonOut bool) *Output {
	return &Output{Prog: prog, Stdout: stdout, Stderr: stderr, JSON: jsonOut}
}

// Emit writes one JSON document (with -json only; the human view is the
// command's own, through Printf).
func (o *Output) Emit(t Type, kind string, data any) error {
	if !o.JSON {
		return nil
	}
	b, err := json.Marshal(Doc{V: Version, Type: t, Prog: o.Prog, Kind: kind, Data: data})
	if err != nil {
		return fmt.Errorf("%s: encode %s document: %w", o.Prog, t, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err = o.Stdout.Write(append(b, '\n'))
	return err
}

// DocPrefix is the start of a document whose data a command streams itself
// (parse-report's evidence, record by record): the envelope up to and
// including `"data":`; the command writes the data, then `}` and a newline.
func (o *Output) DocPrefix(t Type, kind string) []byte {
	b, _ := json.Marshal(Doc{V: Version, Type: t, Prog: o.Prog, Kind: kind, Data: json.RawMessage("0")})
	// b is {…,"data":0}: cut the 0}.
	return b[:len(b)-2]
}

// EmitRaw writes one document whose data is already JSON.
func (o *Output) EmitRaw(t Type, kind string, data json.RawMessage) error {
	return o.Emit(t, kind, data)
}

// Printf writes to the human view (stdout, without -json).
func (o *Output) Printf(format string, args ...any) {
	if o.JSON {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.Stdout, format, args...)
}

// Info is a note for the reader: a line on stdout in the human view, an
// "info" document with -json. fields, if not nil, is merged into the
// document's data beside "message".
func (o *Output) Info(kind, message string, fields map[string]any) {
	if !o.JSON {
		o.Printf("%s\n", message)
		return
	}
	data := map[string]any{"message": message}
	for k, v := range fields {
		data[k] = v
	}
	_ = o.Emit(TypeInfo, kind, data)
}

// Warn reports something not read or not used: "prog: warning: message"
// on stderr, and a "warning" document with -json.
func (o *Output) Warn(kind, message string) {
	o.mu.Lock()
	fmt.Fprintf(o.Stderr, "%s: warning: %s\n", o.Prog, message)
	o.mu.Unlock()
	_ = o.Emit(TypeWarning, kind, Message{Message: message})
}

// Fail reports err ("prog: message" on stderr, and an "error" document
// with -json) and returns code, for `return out.Fail(err, cli.ExitFailure)`.
func (o *Output) Fail(err error, code int) int {
	msg := ErrorMessage(err)
	o.mu.Lock()
	fmt.Fprintf(o.Stderr, "%s: %s\n", o.Prog, msg)
	o.mu.Unlock()
	m := Message{Message: msg}
	if o.Code != nil && err != nil {
		m.Code = o.Code(err)
	}
	_ = o.Emit(TypeError, "", m)
	return code
}

// Usage reports bad usage: "prog: message" on stderr (never a document: a
// usage error is about the command line, not the run) and returns
// ExitUsage.
func (o *Output) Usage(message string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.Stderr, "%s: %s\n", o.Prog, message)
	return ExitUsage
}

// ParseFlags parses args with fs (which must be ContinueOnError) and says
// whether to go on; when not, code is the exit status: 0 for -h and -help
// (fs's usage printed), 2 for a bad flag, reported as one line
// "prog: message" (prog is fs's name) and a hint to -h, not the whole
// usage.
func ParseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return true, ExitOK
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return false, ExitOK
	default:
		fmt.Fprintf(out, "%s: %v (%s -h prints the usage)\n", fs.Name(), err, fs.Name())
		return false, ExitUsage
	}
}

// ErrorMessage is err's text with the package prefixes an error chain
// repeats dropped: a segment ("abuse: ") that already appeared earlier in
// the message as a segment of its own is not printed again.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	return Dedup(err.Error())
}

// Dedup drops from a "a: b: a: c" message the later copies of one-word
// segments ("a") that appeared before; segments with spaces or other
// punctuation (the real text) are always kept.
func Dedup(msg string) string {
	parts := strings.Split(msg, ": ")
	if len(parts) < 3 {
		return msg
	}
	seen := map[string]bool{}
	out := parts[:0:0]
	for i, p := range parts {
		word := i < len(parts)-1 && isPrefixWord(p)
		if word && seen[p] {
			continue
		}
		if word {
			seen[p] = true
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// isPrefixWord reports whether s looks like a package or format prefix:
// one word of lower-case letters, digits, '-' and '_' (a path or a
// sentence is never one).
func isPrefixWord(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
