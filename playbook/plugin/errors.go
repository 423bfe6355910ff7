package plugin

import (
	"github.com/abusekit/abusekit/playbook/internal/wire"
)

// Errors of the SDK itself. They keep their identity across the process
// boundary like any registered error.
var (
	// ErrUnknownAction: the plugin does not offer the action asked for.
	ErrUnknownAction = wire.ErrUnknownAction
	// ErrInvalidInput: the input document does not decode into the action's
	// input type (unknown field, wrong type, too large).
	ErrInvalidInput = wire.ErrInvalidInput
	// ErrPanic: the action panicked; the plugin process survives it.
	ErrPanic = wire.ErrPanic
	// ErrPlanChanged: Apply found the state it would change differs from
	// the plan the operator approved, and refused (see ApprovedPlan.Check).
	ErrPlanChanged = wire.ErrPlanChanged
)

// RegisterError registers a sentinel error under a well-known code, such as
// RegisterError("persist.symlink_escape", persist.ErrSymlinkEscape), so that
// errors.Is(err, sentinel) holds on the host for an error a plugin returned
// that matched the sentinel there.
//
// Call it from an init function of the package that defines the sentinel's
// adapter, which both the plugin and the host link. Codes are lower case,
// dotted ("pkg.name"). Registering a code twice for different errors, a nil
// error or a malformed code panics. When an error matches several registered
// sentinels, the one registered last wins.
//
// A plugin's error that matches no registered sentinel still reaches the
// host with its full text, as a *RemoteError with an empty Code. The
// context.Canceled and context.DeadlineExceeded errors are registered by the
// SDK.
func RegisterError(code string, sentinel error) { wire.Register(code, sentinel) }

// RemoteError is how an error returned by an action arrives on the host:
// Code is the well-known code it matched (or ""), Message the error's text in
// the plugin, and Unwrap returns the sentinel registered for Code on the host,
// so errors.Is works as if the action had run in-process.
type RemoteError = wire.RemoteError

// ErrorCode returns the registered code err matches, or "".
func ErrorCode(err error) string { return wire.CodeOf(err) }
