// Command custom-plugin runs a small playbook with a third-party plugin
// (./greeter) out of process: it builds the plugin, pins the binary's
// SHA-256, shows the plan, asks for approval, and applies it.
//
//	go run ./examples/custom-plugin [-yes] [-json] [-name NAME] [-plugin PATH -sha256 HEX] [-journal DIR] [-incident ID]
//
// Without -plugin it builds ./greeter with the go tool into the user cache
// directory (run it from inside the module). Output follows internal/cli:
// with -json one document per line on stdout (the plan, each event, then
// the run), otherwise a human view; the approval prompt goes to stderr;
// errors as "custom-plugin: message" on stderr; the exit status is 1 when
// the run fails or is not approved, 2 on bad usage.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/playbook"
)

//go:embed playbook.yaml
var playbookYAML []byte

const prog = "custom-plugin"

const pluginPackage = "github.com/abusekit/abusekit/examples/custom-plugin/greeter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "one JSON document per line on stdout: the plan, each event, then the run (see internal/cli)")
	yes := fs.Bool("yes", false, "apply without asking")
	name := fs.String("name", "abuse desk", "who to greet")
	pluginPath := fs.String("plugin", "", "prebuilt greeter binary (default: build ./greeter)")
	pluginSum := fs.String("sha256", "", "SHA-256 the -plugin binary must have")
	journalDir := fs.String("journal", "", "journal directory (default: a fresh temporary one)")
	incident := fs.String("incident", "", "incident id (default: custom-plugin-<time>)")
	verbose := fs.Bool("v", false, "log (including the plugin's log) to stderr")
	if ok, code := cli.ParseFlags(fs, args); !ok {
		return code
	}
	out := cli.New(prog, stdout, stderr, *jsonOut)
	out.Code = cli.ErrorCode
	if fs.NArg() != 0 || (*pluginPath != "") != (*pluginSum != "") {
		return out.Usage("usage: custom-plugin [-yes] [-json] [-name NAME] [-plugin PATH -sha256 HEX] [-journal DIR] [-incident ID]")
	}
	fail := func(err error) int { return out.Fail(err, cli.ExitFailure) }

	path, sum := *pluginPath, *pluginSum
	if path == "" {
		var err error
		if path, err = buildPlugin(ctx); err != nil {
			return fail(err)
		}
		if sum, err = playbook.FileSHA256(path); err != nil {
			return fail(err)
		}
	}
	pb, err := playbook.Parse("playbook.yaml", playbookYAML)
	if err != nil {
		return fail(err)
	}
	if *journalDir == "" {
		dir, err := os.MkdirTemp("", "custom-plugin-journal-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		*journalDir = dir
	}
	if *incident == "" {
		*incident = "custom-plugin-" + time.Now().UTC().Format("20060102T150405.000000000")
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident:   *incident,
		Inputs:     map[string]any{"name": *name},
		Plugins:    []playbook.PluginSpec{playbook.External("greeter", path, sum)},
		JournalDir: *journalDir,
		Logger:     logger,
		Approve: func(ctx context.Context, plan *playbook.Plan) (bool, error) {
			out.Plan(plan)
			if *yes {
				return true, nil
			}
			return out.Ask(ctx, stdin, "apply this plan?")
		},
		// A step planned during the run (its input needed an earlier
		// step's output) is shown and asked for again; with -json its plan
		// is in the step_planned event.
		ApproveStep: func(ctx context.Context, sp *playbook.StepPlan) (bool, error) {
			if !out.JSON {
				out.Plan(&playbook.Plan{Playbook: pb.Name, Incident: *incident, Steps: []playbook.StepPlan{*sp}})
			}
			if *yes {
				return true, nil
			}
			return out.Ask(ctx, stdin, fmt.Sprintf("apply step %s?", sp.Step))
		},
		OnEvent: out.Event,
	})
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	res, err := r.Run(ctx)
	if res != nil {
		out.Run(res)
	}
	if err != nil {
		return fail(err)
	}
	return cli.ExitOK
}

// buildPlugin builds ./greeter into the user's cache directory (atomically,
// so concurrent runs do not see a half-written binary) and returns its path.
func buildPlugin(ctx context.Context) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "abusekit", "custom-plugin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	tmp, err := os.CreateTemp(dir, "greeter-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// Static and trimmed, as the SDK's doc advises: no dynamic loader at
	// each plugin start.
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", tmp.Name(), pluginPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the greeter plugin (run from inside the abusekit module, or pass -plugin and -sha256): %v\n%s", err, out.String())
	}
	final := filepath.Join(dir, "greeter")
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}
