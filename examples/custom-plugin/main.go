// Command custom-plugin runs a small playbook with a third-party plugin
// (./greeter) out of process: it builds the plugin, pins the binary's
// SHA-256, shows the plan, asks for approval, and applies it.
//
//	go run ./examples/custom-plugin [-yes] [-json] [-name NAME] [-plugin PATH -sha256 HEX] [-journal DIR] [-incident ID]
//
// Without -plugin it builds ./greeter with the go tool into the user cache
// directory (run it from inside the module). With -json it prints one JSON
// line per event and, last, the run; otherwise a human view. Errors go to
// stderr; the exit status is 1 when the run fails or is not approved, 2 on
// bad usage.
package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
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

	"github.com/abusekit/abusekit/playbook"
)

//go:embed playbook.yaml
var playbookYAML []byte

const pluginPackage = "github.com/abusekit/abusekit/examples/custom-plugin/greeter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("custom-plugin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON line per event, then the run")
	yes := fs.Bool("yes", false, "apply without asking")
	name := fs.String("name", "abuse desk", "who to greet")
	pluginPath := fs.String("plugin", "", "prebuilt greeter binary (default: build ./greeter)")
	pluginSum := fs.String("sha256", "", "SHA-256 the -plugin binary must have")
	journalDir := fs.String("journal", "", "journal directory (default: a fresh temporary one)")
	incident := fs.String("incident", "", "incident id (default: custom-plugin-<time>)")
	verbose := fs.Bool("v", false, "log (including the plugin's log) to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h: the usage is printed, nothing went wrong
		}
		return 2
	}
	if fs.NArg() != 0 || (*pluginPath != "") != (*pluginSum != "") {
		fmt.Fprintln(stderr, "usage: custom-plugin [-yes] [-json] [-name NAME] [-plugin PATH -sha256 HEX] [-journal DIR] [-incident ID]")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "custom-plugin:", err)
		return 1
	}

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
	enc := json.NewEncoder(stdout)
	r, err := playbook.NewRunner(pb, playbook.Options{
		Incident:   *incident,
		Inputs:     map[string]any{"name": *name},
		Plugins:    []playbook.PluginSpec{playbook.External("greeter", path, sum)},
		JournalDir: *journalDir,
		Logger:     logger,
		Approve: func(ctx context.Context, plan *playbook.Plan) (bool, error) {
			// The plan is for the operator: on stdout in the human view,
			// on stderr with -json so stdout stays machine-readable.
			if *jsonOut {
				printPlan(stderr, plan)
			} else {
				printPlan(stdout, plan)
			}
			if *yes {
				return true, nil
			}
			return ask(ctx, stdin, stderr)
		},
		OnEvent: func(e playbook.Event) {
			if *jsonOut {
				_ = enc.Encode(e)
				return
			}
			printEvent(stdout, e)
		},
	})
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	res, err := r.Run(ctx)
	if res != nil {
		if *jsonOut {
			_ = enc.Encode(res)
		} else {
			fmt.Fprintf(stdout, "%s: %s in %v (host pid %d, journal %s)\n", res.Playbook, res.Status, res.Duration.Round(time.Microsecond), res.HostPID, res.Journal)
			for _, s := range res.Steps {
				fmt.Fprintf(stdout, "  %-6s %s.%s %s (plugin pid %d) %s\n", s.ID, s.Plugin, s.Action, s.Status, s.PluginPID, s.Output)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
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

func printPlan(w io.Writer, plan *playbook.Plan) {
	fmt.Fprintf(w, "plan for %s (incident %s):\n", plan.Playbook, plan.Incident)
	for _, s := range plan.Steps {
		fmt.Fprintf(w, "  %-6s %s.%s: %s", s.Step, s.Plugin, s.Action, s.Status)
		if s.Summary != "" {
			fmt.Fprintf(w, ": %s", s.Summary)
		}
		if s.Reason != "" {
			fmt.Fprintf(w, " (%s)", s.Reason)
		}
		fmt.Fprintln(w)
		for _, c := range s.Changes {
			fmt.Fprintf(w, "         %s %s %s\n", c.Kind, c.Target, c.Detail)
		}
	}
}

// ask prompts for approval on stderr and reads the answer from stdin.
func ask(ctx context.Context, stdin io.Reader, stderr io.Writer) (bool, error) {
	fmt.Fprint(stderr, "apply this plan? [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		return a == "y" || a == "yes", nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func printEvent(w io.Writer, e playbook.Event) {
	switch e.Kind {
	case playbook.EventStepStarted:
		fmt.Fprintf(w, "▶ %s (%s.%s, attempt %d, plugin pid %d)\n", e.Step, e.Plugin, e.Action, e.Attempt, e.PluginPID)
	case playbook.EventStepProgress:
		fmt.Fprintf(w, "  … %s (%d/%d)\n", e.Message, e.Done, e.Total)
	case playbook.EventStepFinished:
		msg := e.Message
		if e.Error != "" {
			msg = e.Error
		}
		fmt.Fprintf(w, "%s %s %s in %v %s\n", mark(e.Status), e.Step, e.Status, e.Duration.Round(time.Microsecond), msg)
	}
}

func mark(s playbook.Status) string {
	switch s {
	case playbook.StatusSucceeded:
		return "✓"
	case playbook.StatusSkipped:
		return "–"
	default:
		return "✗"
	}
}
