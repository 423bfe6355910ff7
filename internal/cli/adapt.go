package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Helpers for commands whose main returns an error from a run function
// (triage-host, clean-host, snapshot-rebuild): Parse and Exit give them
// the conventions with a line changed each, and Lines puts the JSON values
// they encode into the envelope.

// UsageError is bad usage: Exit reports it with status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef is a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Parse parses flags like ParseFlags, for a run function that returns an
// error: nil, flag.ErrHelp (the usage was printed) or a *UsageError (not
// printed yet: Exit prints it).
func Parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return flag.ErrHelp
	default:
		return &UsageError{Err: fmt.Errorf("%w (%s -h prints the usage)", err, fs.Name())}
	}
}

// Exit reports what a run function returned and gives the exit status: 0
// for nil and flag.ErrHelp; 2 and "prog: message" on stderr for a
// *UsageError; otherwise 1 and "prog: message" on stderr, plus an "error"
// document on stdout when args ask for -json.
func Exit(prog string, args []string, stdout, stderr io.Writer, err error) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\n", prog, ErrorMessage(err))
		return ExitUsage
	default:
		out := New(prog, stdout, stderr, JSONFlag(args))
		out.Code = ErrorCode
		return out.Fail(err, ExitFailure)
	}
}

// JSONFlag reports whether args set -json (the flag package's spellings:
// -json, --json, -json=true…), before the first non-flag argument.
func JSONFlag(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "json" {
			continue
		}
		on = true
		if hasVal {
			on, _ = strconv.ParseBool(val)
		}
	}
	return on
}

// Lines returns a writer that puts each line written to it, a JSON value
// (as json.Encoder writes them), into the envelope as a document's data:
// {"v":1,"type":t,"prog":prog,"kind":kind,"data":<the line>}. A line that
// is not JSON becomes a string.
func Lines(w io.Writer, prog string, t Type, kind string) io.Writer {
	return &lineWriter{out: New(prog, w, io.Discard, true), t: t, kind: kind}
}

type lineWriter struct {
	out  *Output
	t    Type
	kind string
	mu   sync.Mutex
	buf  []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.TrimSpace(l.buf[:i])
		var data any = string(line)
		if json.Valid(line) {
			data = json.RawMessage(append([]byte(nil), line...))
		}
		l.buf = l.buf[i+1:]
		if len(line) == 0 {
			continue
		}
		if err := l.out.Emit(l.t, l.kind, data); err != nil {
			return 0, err
		}
	}
}
