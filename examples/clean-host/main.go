// Command clean-host finds a malware's persistence on a host root and,
// when asked, removes it reversibly.
//
//	clean-host [-root DIR] [-json] [-since TIME] [-all] [-save-plan FILE]  dry run: print findings and the plan
//	clean-host [-root DIR] -apply [-min-severity high] [-quarantine DIR] [-incident ID] [-reload]
//	clean-host -apply -plan FILE [-quarantine DIR] [-incident ID] [-reload]
//	clean-host -restore MANIFEST [-root DIR] [-force] [-reload]
//
// -save-plan writes the dry run's plan (every change with the SHA-256 of
// what it touches) for review; -apply -plan applies exactly that plan,
// without examining the root again, and refuses a file that changed since
// (persist.ErrChanged): what is applied is what was reviewed.
//
// The default root is "/" (the live host); point -root at a snapshot
// volume mounted elsewhere to clean it offline. -json prints one JSON
// document per line: a finding per line in a dry run, then the result.
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
	"strings"
	"time"

	"github.com/abusekit/abusekit/internal/cli"
	"github.com/abusekit/abusekit/plugins/persist"
)

const prog = "clean-host"

func main() {
	// Exit status, errors and -json follow internal/cli.
	os.Exit(cli.Exit(prog, os.Args[1:], os.Stdout, os.Stderr, run(os.Args[1:], os.Stdout, os.Stderr)))
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet(prog, flag.ContinueOnError)
	fl.SetOutput(stderr)
	root := fl.String("root", "/", "root of the tree to examine (a mounted snapshot volume, or / for this host)")
	asJSON := fl.Bool("json", false, "one JSON document per line on stdout")
	apply := fl.Bool("apply", false, "clean: quarantine files and remove bad lines (default is a dry run)")
	restore := fl.String("restore", "", "restore everything recorded in this quarantine manifest")
	force := fl.Bool("force", false, "with -restore: restore edited files even if they changed after -apply")
	since := fl.String("since", "", "incident window start (RFC 3339): files changed after it are suspicious")
	minSev := fl.String("min-severity", "high", "act on findings at or above this severity (info, low, medium, high, critical)")
	all := fl.Bool("all", false, "print info findings too (the inventory)")
	qdir := fl.String("quarantine", "", "host directory for the quarantine (default: /var/lib/abusekit/quarantine inside the root)")
	incident := fl.String("incident", "", "with -apply: incident ID naming the quarantine directory")
	reload := fl.Bool("reload", false, "with -apply or -restore on the live root /: run the reloads (cron, systemctl daemon-reload)")
	savePlan := fl.String("save-plan", "", "dry run: write the plan as JSON to this file, for review and -apply -plan")
	planFile := fl.String("plan", "", "with -apply: apply exactly this saved plan (no new examination); a file changed since is refused")
	verbose := fl.Bool("v", false, "debug log on stderr")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return cli.Usagef("unexpected arguments %q", fl.Args())
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// -json: each finding, and the outcome of a restore or an apply, is
	// one document in internal/cli's envelope.
	enc := json.NewEncoder(cli.Lines(stdout, prog, cli.TypeResult, "finding"))
	encResult := func(kind string) *json.Encoder { return json.NewEncoder(cli.Lines(stdout, prog, cli.TypeResult, kind)) }

	if *restore != "" {
		opts := persist.RestoreOptions{Force: *force, RunReloads: *reload, Logger: log}
		if rootSet(fl) {
			opts.Root = *root
		}
		res, err := persist.Restore(ctx, *restore, opts)
		if res != nil {
			if *asJSON {
				_ = encResult("restore").Encode(res)
			} else {
				for _, p := range res.Restored {
					fmt.Fprintln(stdout, "restored", p)
				}
				if !*reload {
					for _, r := range res.Reloads {
						fmt.Fprintf(stdout, "then run: %s  (%s)\n", strings.Join(r.Command, " "), r.Reason)
					}
				}
			}
		}
		return err
	}

	if *planFile != "" {
		if !*apply {
			return errors.New("-plan needs -apply (a dry run makes a plan; -save-plan keeps it)")
		}
		b, err := os.ReadFile(*planFile)
		if err != nil {
			return err
		}
		var plan persist.CleanPlan
		if err := json.Unmarshal(b, &plan); err != nil {
			return fmt.Errorf("-plan %s: %w", *planFile, err)
		}
		if rootSet(fl) && *root != plan.Root {
			return fmt.Errorf("-plan %s was made for root %s, not %s", *planFile, plan.Root, *root)
		}
		if err := plan.Check(ctx); err != nil {
			return fmt.Errorf("the plan no longer matches the root (nothing changed): %w", err)
		}
		return applyPlan(ctx, &plan, persist.ApplyOptions{QuarantineDir: *qdir, RunReloads: *reload, Incident: *incident, Logger: log}, *asJSON, encResult("apply"), stdout, stderr)
	}
	sev, err := persist.ParseSeverity(*minSev)
	if err != nil {
		return err
	}
	opts := persist.Options{Root: *root, Logger: log}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return fmt.Errorf("-since: %w", err)
		}
		opts.Since = t
	}
	findings, err := persist.Find(ctx, opts)
	if err != nil {
		return err
	}
	for _, f := range findings {
		if f.Severity == persist.Info && !*all {
			continue
		}
		if *asJSON {
			if err := enc.Encode(f); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, f)
			if f.Content != "" {
				fmt.Fprintf(stdout, "         %s\n", oneLine(f.Content))
			}
		}
	}
	plan, err := persist.Plan(ctx, findings, persist.PlanOptions{Root: *root, MinSeverity: sev, Logger: log})
	if err != nil {
		return err
	}
	if !*apply {
		if !*asJSON {
			printPlan(stdout, plan)
		}
		if *savePlan != "" {
			b, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(*savePlan, append(b, '\n'), 0o600); err != nil {
				return err
			}
			if !*asJSON {
				fmt.Fprintf(stdout, "plan saved: %s (apply exactly it with: clean-host -apply -plan %s)\n", *savePlan, *savePlan)
			}
		}
		return nil
	}
	return applyPlan(ctx, plan, persist.ApplyOptions{QuarantineDir: *qdir, RunReloads: *reload, Incident: *incident, Logger: log}, *asJSON, encResult("apply"), stdout, stderr)
}

func applyPlan(ctx context.Context, plan *persist.CleanPlan, opts persist.ApplyOptions, asJSON bool, enc *json.Encoder, stdout, stderr io.Writer) error {
	if len(plan.Changes) == 0 {
		if !asJSON {
			fmt.Fprintln(stdout, "nothing to clean")
		}
		return nil
	}
	res, err := persist.Apply(ctx, plan, opts)
	if res != nil {
		if asJSON {
			_ = enc.Encode(struct {
				ManifestPath string   `json:"manifest_path"`
				Changes      int      `json:"changes"`
				ReloadErrors []string `json:"reload_errors,omitempty"`
			}{res.ManifestPath, len(res.Manifest.Entries), res.ReloadErrors})
		} else {
			fmt.Fprintf(stdout, "cleaned %d entries; manifest: %s\n", len(res.Manifest.Entries), res.ManifestPath)
			fmt.Fprintf(stdout, "undo with: clean-host -restore %s\n", res.ManifestPath)
			for _, e := range res.ReloadErrors {
				fmt.Fprintln(stderr, "reload failed:", e)
			}
		}
	}
	if err != nil {
		return err
	}
	if len(res.ReloadErrors) > 0 {
		return errors.New("some reloads failed")
	}
	return nil
}

func rootSet(fl *flag.FlagSet) bool {
	set := false
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "root" {
			set = true
		}
	})
	return set
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func printPlan(w io.Writer, plan *persist.CleanPlan) {
	if len(plan.Changes) == 0 {
		fmt.Fprintln(w, "\nplan: nothing to change")
		return
	}
	fmt.Fprintf(w, "\nplan (dry run; -apply to make it), root %s:\n", plan.Root)
	for _, c := range plan.Changes {
		fmt.Fprintf(w, "  %-12s %s\n", c.Op, c.Path)
		if k := c.Container; k != nil {
			fmt.Fprintf(w, "               container %s %s: restart policy %s -> no, stopped (not removed)\n", k.Name, k.ID, k.Restart)
		}
		for _, l := range c.Lines {
			if l.New != nil {
				fmt.Fprintf(w, "               ~ line %d: %s\n                      -> %s\n", l.Line, oneLine(l.Content), oneLine(*l.New))
				continue
			}
			fmt.Fprintf(w, "               - line %d: %s\n", l.Line, oneLine(l.Content))
		}
	}
	for _, a := range plan.Accounts {
		switch a.Op {
		case "restore":
			lock := ""
			if a.LockPassword {
				lock = ", password locked"
			}
			fmt.Fprintf(w, "  account %s: restored, not deleted: %s (from %s%s)\n", a.User, a.New, a.Source, lock)
		default:
			fmt.Fprintf(w, "  account %s: removed from %s\n", a.User, strings.Join(a.Files, ", "))
		}
	}
	for _, r := range plan.Reloads {
		fmt.Fprintf(w, "  then run: %s  (%s)\n", strings.Join(r.Command, " "), r.Reason)
	}
}
