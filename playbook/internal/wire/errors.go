package wire

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
)

// Sentinels of the SDK itself, registered under well-known codes.
var (
	ErrUnknownAction = errors.New("plugin: unknown action")
	ErrInvalidInput  = errors.New("plugin: invalid input")
	ErrPanic         = errors.New("plugin: action panicked")
	ErrPlanChanged   = errors.New("plugin: the state differs from the approved plan")
)

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$`)

type entry struct {
	code string
	err  error
}

var registry struct {
	sync.RWMutex
	byCode map[string]error
	order  []entry
}

func init() {
	Register("context.canceled", context.Canceled)
	Register("context.deadline_exceeded", context.DeadlineExceeded)
	Register("plugin.unknown_action", ErrUnknownAction)
	Register("plugin.invalid_input", ErrInvalidInput)
	Register("plugin.panic", ErrPanic)
	Register("plugin.plan_changed", ErrPlanChanged)
}

// Register maps code to sentinel in both directions. It panics on a malformed
// code, a nil error, or a code already taken by a different error: those are
// programming errors made at init time. Registering the same pair twice is
// allowed.
func Register(code string, sentinel error) {
	if !codeRE.MatchString(code) {
		panic(fmt.Sprintf("plugin: RegisterError: code %q is not of the form \"pkg.name\" (lower case, dots)", code))
	}
	if sentinel == nil {
		panic(fmt.Sprintf("plugin: RegisterError(%q): nil error", code))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.byCode == nil {
		registry.byCode = make(map[string]error)
	}
	if old, ok := registry.byCode[code]; ok {
		if old == sentinel {
			return
		}
		panic(fmt.Sprintf("plugin: RegisterError: code %q already registered for %v", code, old))
	}
	registry.byCode[code] = sentinel
	// Later registrations are tried first, so a specific sentinel registered
	// after a general one it wraps still gets its own code.
	registry.order = append([]entry{{code, sentinel}}, registry.order...)
}

// Lookup returns the sentinel registered under code.
func Lookup(code string) (error, bool) {
	registry.RLock()
	defer registry.RUnlock()
	err, ok := registry.byCode[code]
	return err, ok
}

// CodeOf returns the code of the registered sentinel err matches, or "".
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var re *RemoteError
	if errors.As(err, &re) && re.Code != "" {
		return re.Code
	}
	registry.RLock()
	defer registry.RUnlock()
	for _, e := range registry.order {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return ""
}

// Encode turns err into its wire form (nil for nil).
func Encode(err error) *pb.Error {
	if err == nil {
		return nil
	}
	return &pb.Error{Code: CodeOf(err), Message: err.Error()}
}

// Decode turns a wire error into a *RemoteError (nil for nil).
func Decode(e *pb.Error) error {
	if e == nil {
		return nil
	}
	re := &RemoteError{Code: e.GetCode(), Message: e.GetMessage()}
	if re.Code != "" {
		re.sentinel, _ = Lookup(re.Code)
	}
	return re
}

// RemoteError is an error returned by an action in a plugin process. Its
// identity survives the process boundary through the code registry:
// errors.Is(err, sentinel) holds on the host when the plugin's error matched
// a sentinel registered under Code on both sides.
type RemoteError struct {
	Code    string // well-known code, "" when the plugin's error matched none
	Message string // the error's text in the plugin

	sentinel error
}

func (e *RemoteError) Error() string {
	if e.Message == "" && e.sentinel != nil {
		return e.sentinel.Error()
	}
	return e.Message
}

// Unwrap returns the host-side sentinel registered for Code, if any.
func (e *RemoteError) Unwrap() error { return e.sentinel }
