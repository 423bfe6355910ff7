// Package playbook composes abusekit's response steps into playbooks that
// plan, wait for approval, apply, journal and resume, with every step served
// by an out-of-process plugin (hashicorp/go-plugin over gRPC).
//
// A playbook is a list of steps, each an action of a plugin with an input
// document; a step's input and condition can refer to the outputs of earlier
// steps by name (steps.detect.suspects[0].pid). Build one in Go with New, or
// read a YAML file with Load; both validate, and a YAML error names file,
// line and field.
//
// A Runner runs one playbook for one incident:
//
//	r, err := playbook.NewRunner(pb, playbook.Options{
//		Incident:   "case-123",
//		Plugins:    []playbook.PluginSpec{playbook.Builtin("scan"), playbook.External("greeter", path, sha)},
//		JournalDir: "/var/lib/abusekit/journal",
//		Approve:    askOperator, // or playbook.AutoApprove
//	})
//	defer r.Close()
//	run, err := r.Run(ctx) // Plan, Approve, Apply
//
// Plan checks every step against its plugin first: the action exists, and
// the step's input fits the action's input schema (field names, types,
// required fields, enums; see plugin's Schemas), every misfit named by file,
// line and field path. It then asks every step whose input is known for
// its plan and returns one typed Plan; Apply runs it, reporting typed
// Events and slog records. Every step is approved before it acts: a step
// whose input or condition needs outputs of earlier steps is deferred in
// the plan, and Apply plans it as soon as they are known, reports that plan
// (EventStepPlanned, with the plan in the event) and asks for its approval
// (Options.ApproveStep, else Options.Approve with a plan of that one step;
// AutoApprove is -yes) before the step acts. A refusal, or no approver at
// all, stops the run before the step (ErrNotApproved, StatusNotApproved),
// journaled; a later run for the incident resumes there. The approved plan lives in the runner, not in
// the plugins: Apply journals it (synced) before any step runs and gives
// each planned step's part back to its plugin (plugin.ApplyRequest.Approved,
// with the plan's own Payload), so that an Apply in a restarted plugin acts
// on what was approved; one that finds the state changed refuses with
// ErrPlanChanged. A failed step stops the run with a *StepError whose Err
// keeps the plugin's
// error identity across the process boundary (see plugin.RegisterError).
//
// # Journal and resume
//
// Each incident has one append-only JSON-lines journal, in
// Options.JournalDir; DefaultJournalDir is the persistent default
// (/var/lib/abusekit/journal as root, the XDG state directory otherwise),
// and Runner.JournalPath the file to print so that any run can be resumed. Every step's start
// is on stable storage (fdatasync) before its plugin is called, and its end
// before the next step starts; the journal's directory, and every parent
// directory the runner creates for it, is fsynced when created. A runner
// killed mid-playbook and started again for the same incident resumes: steps
// the journal shows done are not run again (their outputs come from the
// journal), and the interrupted step runs again with the same idempotency
// token, which a plugin uses as the client token of anything it creates. The
// token is derived from incident, playbook and step, so it is the same in
// every attempt, retry and resume.
//
// Each run records in the journal what it was made from (RunDigest: digests
// of the playbook's canonical content, of each step and of each input's
// value). A resume whose playbook or inputs differ from the journal's last
// run is refused with a *ResumeError (errors.Is ErrResumeChanged) naming the
// inputs and steps that changed, rather than reusing results of another
// run. With Options.Replan it re-plans exactly the steps the change affects
// (changed or added steps, steps using a changed input, and transitively
// steps using their outputs; a step skipped by a condition that now holds
// runs), journaled so that an interrupted re-plan resumes the same way;
// completed steps the change does not affect stay done. A re-planned step
// gets a new idempotency token (derived from the old one and how many times
// it was re-planned), so that it does not meet the client tokens of what
// its earlier version created.
//
// An action that must be able to undo a change keeps a note first
// (plugin Progress.Note): a step_note record, synced before the action
// goes on, given back to every later attempt and resumed run of the step.
//
// # Plugins
//
// The Host starts plugins in parallel, over gRPC only, each binary pinned
// by its SHA-256 (hashed once per file identity), protocol versions
// negotiated (VersionedPlugins), and an
// explicit environment per plugin (SkipHostEnv): cloud credentials reach
// only the plugins given them. The binary is opened once, that descriptor
// is hashed and that descriptor is executed (/proc/self/fd/N), so replacing
// the file at the path between the check and the exec cannot make the host
// run anything but what it checked; a content change in place after the hash
// (seen as a new ctime on the open file) refuses the started plugin. A
// built-in plugin executes /proc/self/exe, the file the host itself runs. The channel is mutually authenticated TLS
// with one-time certificates: by default ECDSA P-256 certificates the host mints
// for itself and for each plugin process (TLS 1.3, each end accepting only
// the other's certificate); HostOptions.GoPluginAutoMTLS selects go-plugin's
// own AutoMTLS instead, whose P-521 certificates make a plugin start about
// three times as expensive. Plugin log records arrive
// in the host's slog. A plugin exits by itself when its host goes away, even
// when the host was killed with SIGKILL.
//
// Stopping never cuts an action's cleanup short within the stop grace
// period (HostOptions.StopGrace, Options.StopGrace; 10s by default): when
// Apply's context ends, the host cancels the running action's context in
// the plugin (the Cancel call) and keeps waiting for its result, which the
// journal records; Close does the same for actions still running; and a
// plugin whose host went away cancels its actions and waits for them before
// it exits.
//
// Built-in plugins live inside the host's own executable: the host
// re-executes itself (os.Executable) with the plugin's name in the
// environment, and plugin.ServeIfPlugin at the top of its main serves it.
// Third-party plugins are separate binaries, found by path and pinned by
// SHA-256 (External). Both go through the same host code. A plugin author
// imports only playbook/plugin; playbook/plugintest tests a plugin
// in-process and over the real transport.
//
// Starting a plugin is refused, with a *PluginError wrapping a sentinel,
// when its binary does not match its pin (ErrChecksumMismatch), it does not
// complete the handshake (ErrHandshake), or it speaks no protocol version
// the host speaks (ErrProtocolVersion); a step naming an action its plugin
// does not offer fails its plan (ErrUnknownAction).
package playbook
