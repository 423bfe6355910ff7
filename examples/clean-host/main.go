// Command clean-host finds a malware's persistence on a host root and,
// when asked, removes it reversibly.
//
//	clean-host [-root DIR] [-json] [-since TIME] [-all]                  dry run: print findings and the plan
//	clean-host [-root DIR] -apply [-min-severity high] [-quarantine DIR] [-incident ID] [-reload]
//	clean-host -restore MANIFEST [-root DIR] [-force] [-reload]
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

	"github.com/abusekit/abusekit/plugins/persist"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clean-host:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("clean-host", flag.ContinueOnError)
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
	verbose := fl.Bool("v", false, "debug log on stderr")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	enc := json.NewEncoder(stdout)

	if *restore != "" {
		opts := persist.RestoreOptions{Force: *force, RunReloads: *reload, Logger: log}
		if rootSet(fl) {
			opts.Root = *root
		}
		res, err := persist.Restore(ctx, *restore, opts)
		if res != nil {
			if *asJSON {
				_ = enc.Encode(res)
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
		return nil
	}
	if len(plan.Changes) == 0 {
		if !*asJSON {
			fmt.Fprintln(stdout, "nothing to clean")
		}
		return nil
	}
	res, err := persist.Apply(ctx, plan, persist.ApplyOptions{QuarantineDir: *qdir, RunReloads: *reload, Incident: *incident, Logger: log})
	if res != nil {
		if *asJSON {
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
		for _, l := range c.Lines {
			fmt.Fprintf(w, "               - line %d: %s\n", l.Line, oneLine(l.Content))
		}
	}
	for _, r := range plan.Reloads {
		fmt.Fprintf(w, "  then run: %s  (%s)\n", strings.Join(r.Command, " "), r.Reason)
	}
}
