// Package plugin is the abusekit plugin SDK: the only package a plugin
// author imports.
//
// A plugin serves actions. An action has plain Go input and output types, a
// Plan that says what it would change without changing anything, and an
// Apply that does the work:
//
//	type GreetInput struct{ Name string `json:"name"` }
//	type GreetOutput struct{ Message string `json:"message"` }
//
//	type greeter struct{}
//
//	func (greeter) Plan(ctx context.Context, req plugin.PlanRequest[GreetInput], resp *plugin.PlanResponse) error {
//		resp.Summary = "greet " + req.Input.Name
//		return nil
//	}
//
//	func (greeter) Apply(ctx context.Context, req plugin.ApplyRequest[GreetInput], resp *plugin.ApplyResponse[GreetOutput]) error {
//		resp.Output.Message = "hello, " + req.Input.Name
//		return nil
//	}
//
//	func main() {
//		plugin.Serve(plugin.Actions{"greet": plugin.Typed[GreetInput, GreetOutput](greeter{})})
//	}
//
// A plan may carry a Payload, the action's own record of what it planned;
// the runner keeps the approved plan (journaled) and gives it back to Apply
// as req.Approved, whichever plugin process runs it. An Apply that plans
// again from the state it sees compares with req.Approved.Check and refuses
// a difference with ErrPlanChanged; the RefuseChangedPlan option makes the
// SDK do that before calling Apply.
//
// Requests and responses are structs, so fields can be added later without
// breaking anyone; optional behaviour is an extra interface (Describer).
//
// # Versions
//
// A plugin reports its version and a description to the host
// (Serve(actions, WithInfo(Info{Version: "1.4.0", Description: "…"}));
// without it, the version of the executable's main module), and each action
// its own version if it has one (Versioner, ActionVersion). A host can
// require a minimum (playbook.PluginSpec.MinVersion, same major).
//
// # Schemas
//
// An action's input and output types are published to the host as JSON
// Schemas, which struct tags complete:
//
//	type PostInput struct {
//		URL    string `json:"url" schema:"required,format=uri" description:"where to post"`
//		Method string `json:"method,omitempty" schema:"enum=POST|PUT,default=POST"`
//		Token  string `json:"token,omitempty" schema:"secret"`
//	}
//
// (schema words: required, enum=a|b, default=v, secret, format=name; a
// secret's value reaches the action but plans and the journal show
// "(secret)" in its place). The
// runner checks every step's input against it when it plans, before any
// step runs, naming file, line and field path of each misfit; the SDK checks
// it again before Plan and Apply (types, required fields, enums, unknown
// fields: an ErrInvalidInput naming the field path), fills the defaults of
// absent fields, and decodes strictly.
//
// Serve hides go-plugin: the handshake, mutual TLS, protocol versions, the
// process exit, and hclog. Actions log through req.Logger (or slog.Default),
// which reaches the host's slog with level and attributes intact. A plugin
// process exits by itself when its host goes away.
//
// # Notes before changes
//
// An action about to change something it may have to undo (a security
// group swap, a file moved away) first keeps what it needs to undo it with
// req.Progress.Note(ctx, key, value): the runner journals the note, synced,
// and only then does Note return. If the plugin or the runner dies after
// the change, the next attempt of the step, or a resumed run of the
// incident, finds the note in req.Notes. An error from Note means the note
// is not kept: do not make the change.
//
// # Stopping
//
// An action's ctx ends when the host asks it to stop: the run was
// interrupted (SIGINT or SIGTERM to the runner), its step timed out, the
// host is closing, or the host process is gone. An action then undoes or
// finishes what it must (a cleanup that must always run) and returns; it
// has the host's stop grace period for that (playbook.HostOptions.StopGrace,
// 10s by default), during which the host waits for its result and the
// plugin process does not exit. SIGTERM to the plugin process itself stops
// it the same way; SIGINT is left to the host. Writing to a host that is
// gone is an error, not a SIGPIPE.
//
// Errors keep their identity across the process boundary through a registry
// of well-known codes: a package registers its sentinels once, in an init
// function linked into both the plugin and the host,
//
//	func init() { plugin.RegisterError("persist.symlink_escape", persist.ErrSymlinkEscape) }
//
// and an action returning an error that wraps persist.ErrSymlinkEscape makes
// errors.Is(err, persist.ErrSymlinkEscape) true on the host.
//
// # Built-in adapters
//
// A typed package (plugins/scan, plugins/persist, …) offers its actions as a
// value of type Actions, usually from a NewPlugin function beside its typed
// API; an adapter only converts between the typed API and its request and
// response, and registers the package's sentinels:
//
//	func init() { plugin.RegisterError("scan.not_found", scan.ErrNotFound) }
//
//	func NewPlugin() plugin.Actions {
//		return plugin.Actions{
//			"detect": plugin.NewAction("find the processes behind a report",
//				func(ctx context.Context, req plugin.PlanRequest[scan.Config], resp *plugin.PlanResponse) error {
//					resp.Summary = "read-only: list suspects"
//					return nil
//				},
//				func(ctx context.Context, req plugin.ApplyRequest[scan.Config], resp *plugin.ApplyResponse[scan.Result]) error {
//					var err error
//					resp.Output, err = scan.Detect(ctx, req.Input)
//					return err
//				}),
//		}
//	}
//
// A host serves them as built-ins with ServeIfPlugin at the top of main.
//
// # One-shot mode
//
// The same executable can run ONE action's Plan or Apply as a plain
// process, for a host that reaches it over a transport with no long-lived
// channel (SSM Run Command, SSH): ServeIfPlugin does so when EnvOneShot
// names a built-in plugin. The request (OneShotRequest: phase, action,
// input, idempotency token, approved plan, notes) is one JSON document on
// standard input; the answer is JSON lines on standard output (progress,
// notes, attached directories, then the result), read back with
// ReadOneShot, errors keeping their codes so that errors.Is works on the
// host. While the action runs its standard output is standard error.
//
// # Building
//
// A plugin is started afresh for every playbook run, so what its process
// does before it serves counts at every start. Build it static,
//
//	CGO_ENABLED=0 go build -trimpath -o greeter ./greeter
//
// which spares each start the dynamic loader (about 0.8 ms of CPU per
// start measured on the example plugin), and import in the plugin only
// what its actions need: every package linked in runs its init at each
// start. This package itself links, beyond the standard library, only
// go-plugin (with hclog), gRPC and protobuf.
package plugin
