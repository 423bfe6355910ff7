// Command run-playbook runs any playbook file with abusekit's built-in
// plugins (abuse, scan, persist, ec2) and external plugin binaries, with the
// plan / approve / apply / resume behaviour and the output conventions of
// respond, so that a plugin author can try a playbook without writing a Go
// host.
//
//	run-playbook FILE.yaml [-input k=v …] [-input-json k=JSON …] [-plugin name=PATH[@SHA256] …]
//	             [-apply [-yes]] [-json] [-plan-out FILE] [-incident ID [-replan]] [-journal DIR] [-upgrade] [-v]
//	run-playbook [FILE.yaml] -describe PLUGIN [-json]
//
// External plugins are named in the playbook's plugins: section
//
//	plugins:
//	  greeter: {path: ./bin/greeter, min_version: "1.0", env: [GREETER_TOKEN]}
//
// or with -plugin name=PATH[@SHA256] (which wins over the file). Each is
// pinned by the lock file beside the playbook (FILE.lock.json: version and
// SHA-256 of every external plugin, as Terraform's .terraform.lock.hcl): the
// first run writes it, later runs refuse a binary that does not match it,
// naming the plugin, the expected and the found SHA-256, and -upgrade
// rewrites it. An external plugin gets none of the host's environment but
// the variables its env: names. Built-in plugins are this executable itself
// and are not locked; the ec2 plugin gets the standard AWS variables.
//
// By default it only plans: every step is checked against its plugin's
// schemas, the plan is printed, nothing changes. -apply asks for approval
// on stderr (-yes skips the question) and applies. The journal lives in the
// persistent state directory (/var/lib/abusekit/journal as root, else
// $XDG_STATE_HOME/abusekit/journal; -journal overrides) and its path is
// printed: running again with the same -incident resumes, without running
// again the steps that completed.
//
// -describe PLUGIN prints a plugin's version, description, actions and
// their input and output schemas.
//
// Output follows internal/cli: with -json one document per line on stdout
// ({"v":1,"type":"plan"|"event"|"result"|"info"|"warning"|"error",
// "prog":"run-playbook","kind":…,"data":…}); errors as "run-playbook:
// message" on stderr; exit 0 on success, 1 on failure or refusal, 2 on bad
// usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/abusekit/abusekit/abuse/abuseplugin"
	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/persist/persistplugin"
	"github.com/abusekit/abusekit/plugins/scan/scanplugin"
)

const prog = "run-playbook"

// builtins are the plugins this executable serves to itself, with their
// descriptions and the version of abusekit they were built from; only the
// one a process serves is built.
func builtins() map[string]func() plugin.Builtin {
	return map[string]func() plugin.Builtin{
		"abuse":   abuseplugin.NewBuiltin,
		"scan":    scanplugin.NewBuiltin,
		"persist": persistplugin.NewBuiltin,
		"ec2":     ec2plugin.NewBuiltin,
	}
}

func main() {
	plugin.ServeBuiltinIfPlugin(builtins())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	file                     string
	inputs                   map[string]any
	plugins                  map[string]playbook.PluginSource
	apply, yes, jsonOut      bool
	upgrade, verbose, replan bool
	planOut, incident        string
	journal, lock, describe  string
}

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func usageLine() string {
	return "usage: run-playbook FILE.yaml [-input k=v …] [-plugin name=PATH[@SHA256] …] [-apply [-yes]] [-json] [-plan-out FILE] [-incident ID [-replan]] [-journal DIR] [-upgrade]\n" +
		"       run-playbook [FILE.yaml] -describe PLUGIN [-json]"
}

// parseFlags reads flags before and after the playbook file.
func parseFlags(args []string, stderr io.Writer) (*config, bool, int) {
	c := &config{inputs: map[string]any{}, plugins: map[string]playbook.PluginSource{}}
	var inputs, inputsJSON, plugins multi
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&inputs, "input", "a playbook input, `name=value` (a string); repeatable")
	fs.Var(&inputsJSON, "input-json", "a playbook input, `name=JSON` (a number, true, a list…); repeatable")
	fs.Var(&plugins, "plugin", "an external plugin, `name=PATH[@SHA256]`; repeatable; wins over the playbook's plugins: section")
	fs.BoolVar(&c.apply, "apply", false, "apply the plan after approval (default: plan only)")
	fs.BoolVar(&c.yes, "yes", false, "with -apply: approve without asking")
	fs.BoolVar(&c.jsonOut, "json", false, "one JSON document per line on stdout (see internal/cli)")
	fs.StringVar(&c.planOut, "plan-out", "", "write the whole plan as JSON to this file")
	fs.StringVar(&c.incident, "incident", "", "incident id; a run with the id of an earlier one resumes it (default: PLAYBOOK-TIME)")
	fs.StringVar(&c.journal, "journal", "", "journal directory (default: the state directory's journal/: /var/lib/abusekit/journal as root, else $XDG_STATE_HOME/abusekit/journal)")
	fs.StringVar(&c.lock, "lock", "", "lock file (default: FILE.lock.json beside the playbook)")
	fs.BoolVar(&c.replan, "replan", false, "resume even though the playbook or inputs changed, re-planning the steps the change affects (default: refuse, naming what changed)")
	fs.BoolVar(&c.upgrade, "upgrade", false, "accept the external plugins as they are now and rewrite the lock file")
	fs.StringVar(&c.describe, "describe", "", "print `PLUGIN`'s version, actions and their input and output schemas, and exit")
	fs.BoolVar(&c.verbose, "v", false, "log (plugins' logs included) to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine())
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if ok, code := cli.ParseFlags(fs, args); !ok {
			return nil, false, code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fail := func(format string, a ...any) (*config, bool, int) {
		fmt.Fprintf(stderr, "%s: "+format+"\n", append([]any{prog}, a...)...)
		return nil, false, cli.ExitUsage
	}
	switch {
	case len(pos) > 1:
		return fail("one playbook file, not %d\n%s", len(pos), usageLine())
	case len(pos) == 0 && c.describe == "":
		return fail("no playbook file\n%s", usageLine())
	case len(pos) == 1:
		c.file = pos[0]
	}
	if c.yes && !c.apply {
		return fail("-yes approves an -apply: give -apply too")
	}
	for _, kv := range inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fail("-input %q: want name=value", kv)
		}
		c.inputs[k] = v
	}
	for _, kv := range inputsJSON {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fail("-input-json %q: want name=JSON", kv)
		}
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			return fail("-input-json %s: %v", k, err)
		}
		c.inputs[k] = x
	}
	for _, p := range plugins {
		name, rest, ok := strings.Cut(p, "=")
		if !ok || name == "" || rest == "" {
			return fail("-plugin %q: want name=PATH[@SHA256]", p)
		}
		src := playbook.PluginSource{Name: name, Path: rest}
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			src.Path, src.SHA256 = rest[:i], strings.ToLower(rest[i+1:])
			if len(src.SHA256) != 64 || strings.Trim(src.SHA256, "0123456789abcdef") != "" {
				return fail("-plugin %s: %q is not a SHA-256 (64 hex digits)", name, rest[i+1:])
			}
		}
		if _, dup := c.plugins[name]; dup {
			return fail("-plugin %s given twice", name)
		}
		c.plugins[name] = src
	}
	return c, true, 0
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, ok, code := parseFlags(args, stderr)
	if !ok {
		return code
	}
	out := cli.New(prog, stdout, stderr, c.jsonOut)
	out.Code = cli.ErrorCode
	if err := runPlaybook(ctx, c, stdin, out); err != nil {
		return out.Fail(err, cli.ExitFailure)
	}
	return cli.ExitOK
}

// ErrBuiltinName: an external plugin cannot take a built-in plugin's name.
var ErrBuiltinName = errors.New("an external plugin cannot have a built-in plugin's name")

func runPlaybook(ctx context.Context, c *config, stdin io.Reader, out *cli.Output) error {
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(out.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var pb *playbook.Playbook
	var srcs []playbook.PluginSource
	if c.file != "" {
		var err error
		if pb, srcs, err = playbook.LoadWithPlugins(c.file); err != nil {
			return err
		}
	}
	// The command line wins over the file.
	byName := map[string]playbook.PluginSource{}
	for _, s := range srcs {
		byName[s.Name] = s
	}
	for n, s := range c.plugins {
		byName[n] = s
	}
	stateDir := cli.StateDir()
	stateEnv := "ABUSEKIT_STATE_DIR=" + stateDir
	builtinSpecs := map[string]playbook.PluginSpec{
		"abuse":   playbook.Builtin("abuse"),
		"scan":    playbook.Builtin("scan"),
		"persist": playbook.Builtin("persist", stateEnv),
		"ec2":     playbook.Builtin("ec2", append(playbook.HostEnv(playbook.AWSEnv...), stateEnv)...),
	}
	// The plugins this run needs: the steps' (or the one to describe).
	need := map[string]bool{}
	if c.describe != "" {
		need[c.describe] = true
	} else {
		for _, s := range pb.Steps {
			need[s.Plugin] = true
		}
	}
	var external []playbook.PluginSource
	for _, n := range sortedNames(byName) {
		if _, builtin := builtinSpecs[n]; builtin {
			return fmt.Errorf("plugin %s: %w", n, ErrBuiltinName)
		}
		if need[n] {
			external = append(external, byName[n])
		}
	}
	lockFile := c.lock
	if lockFile == "" && c.file != "" {
		lockFile = playbook.LockPath(c.file)
	}
	lock := &playbook.Lock{Format: playbook.LockFormat}
	if lockFile != "" {
		var err error
		if lock, err = playbook.ReadLock(lockFile); err != nil {
			return err
		}
	}
	extSpecs, err := lock.LockedSpecs(lockFile, external, c.upgrade)
	if err != nil {
		return err
	}
	specs := append([]playbook.PluginSpec(nil), extSpecs...)
	for n, s := range builtinSpecs {
		if need[n] {
			specs = append(specs, s)
		}
	}
	if c.describe != "" {
		return describe(ctx, c, out, logger, specs, lock, lockFile, extSpecs)
	}

	incident := c.incident
	if incident == "" {
		incident = pb.Name + "-" + time.Now().UTC().Format("20060102T150405Z")
	}
	journal := c.journal
	if journal == "" {
		journal = filepath.Join(stateDir, "journal")
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident:   incident,
		Inputs:     c.inputs,
		Plugins:    specs,
		JournalDir: journal,
		Logger:     logger,
		OnEvent:    out.Event,
		Replan:     c.replan,
		// A step whose inputs come from earlier steps is planned during the
		// run and shown and asked for again before it acts (-yes: not asked).
		ApproveStep: func(ctx context.Context, sp *playbook.StepPlan) (bool, error) {
			if c.yes {
				return true, nil
			}
			if !out.JSON {
				out.Plan(&playbook.Plan{Playbook: pb.Name, Incident: incident, Steps: []playbook.StepPlan{*sp}})
			}
			return out.Ask(ctx, stdin, fmt.Sprintf("apply step %s?", sp.Step))
		},
	})
	if errors.Is(err, playbook.ErrUnknownPlugin) {
		return fmt.Errorf("%w (built in: abuse, scan, persist, ec2; name any other in the playbook's plugins: section or with -plugin NAME=PATH)", err)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Start(ctx); err != nil {
		return err
	}
	if err := recordLock(c, out, r.Host(), lock, lockFile, extSpecs); err != nil {
		return err
	}
	plan, err := r.Plan(ctx)
	if err != nil {
		return err
	}
	out.Plan(plan)
	if c.planOut != "" {
		if err := cli.WritePlan(c.planOut, plan); err != nil {
			return err
		}
	}
	out.Info("journal", fmt.Sprintf("journal: %s (run again with -incident %s to resume)", playbook.JournalPath(journal, incident), incident),
		map[string]any{"dir": journal, "incident": incident})
	if !c.apply {
		out.Info("dry_run", "dry run: nothing changed (-apply applies the plan)", nil)
		return nil
	}
	if !c.yes {
		ok, err := out.Ask(ctx, stdin, "apply this plan?")
		if err != nil {
			return fmt.Errorf("%w: %w", playbook.ErrNotApproved, err)
		}
		if !ok {
			return playbook.ErrNotApproved
		}
	}
	res, err := r.Apply(ctx, plan)
	if res != nil {
		out.Run(res)
	}
	return err
}

// recordLock checks the started external plugins' versions against the
// lock and writes it when it changed (a first run, a new plugin, -upgrade).
func recordLock(c *config, out *cli.Output, h *playbook.Host, lock *playbook.Lock, lockFile string, ext []playbook.PluginSpec) error {
	if lockFile == "" || len(ext) == 0 && !c.upgrade {
		return nil
	}
	changed, err := lock.Record(lockFile, h, ext, c.upgrade)
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	if err := lock.WriteFile(lockFile); err != nil {
		return err
	}
	var pins []string
	for _, n := range lock.Names() {
		lp := lock.Plugins[n]
		pins = append(pins, fmt.Sprintf("%s %s sha256:%s", n, lp.Version, lp.SHA256))
	}
	out.Info("lock", fmt.Sprintf("lock file: wrote %s (%s)", lockFile, strings.Join(pins, ", ")),
		map[string]any{"path": lockFile, "plugins": lock.Plugins})
	return nil
}

func describe(ctx context.Context, c *config, out *cli.Output, logger *slog.Logger, specs []playbook.PluginSpec, lock *playbook.Lock, lockFile string, ext []playbook.PluginSpec) error {
	if len(specs) == 0 {
		return fmt.Errorf("plugin %s: %w: not built in (abuse, scan, persist, ec2), not in the playbook's plugins: section and not given with -plugin", c.describe, playbook.ErrUnknownPlugin)
	}
	h := playbook.NewHost(playbook.HostOptions{Logger: logger})
	defer h.Close()
	if err := h.Start(ctx, specs...); err != nil {
		return err
	}
	if err := recordLock(c, out, h, lock, lockFile, ext); err != nil {
		return err
	}
	p, err := h.Plugin(c.describe)
	if err != nil {
		return err
	}
	d := p.Describe()
	if out.JSON {
		return out.Emit(cli.TypeResult, "plugin", d)
	}
	out.Printf("%s", d.Text())
	return nil
}

func sortedNames(m map[string]playbook.PluginSource) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
