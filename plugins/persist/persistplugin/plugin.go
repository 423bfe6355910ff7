// Package persistplugin serves plugins/persist as abusekit plugin actions
// (playbook/plugin): "find", "clean" and "restore". It only converts
// between the typed API and requests; the logic lives in package persist.
// Importing it registers persist's sentinel errors, so that errors.Is
// works on the host for an error a plugin returned.
package persistplugin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/persist"
)

func init() {
	plugin.RegisterError("persist.symlink_escape", persist.ErrSymlinkEscape)
	plugin.RegisterError("persist.changed", persist.ErrChanged)
	plugin.RegisterError("persist.exists", persist.ErrExists)
	plugin.RegisterError("persist.bad_manifest", persist.ErrBadManifest)
	plugin.RegisterError("persist.not_live", persist.ErrNotLive)
}

// FindInput is the input of "find" and the first half of "clean".
type FindInput struct {
	Root  string    `json:"root,omitempty"` // default "/"
	Since time.Time `json:"since,omitzero"` // incident window start
	Min   string    `json:"min,omitempty"`  // report findings at or above (default "low")
}

// FindOutput is the output of "find".
type FindOutput struct {
	Findings []persist.Finding `json:"findings"`
	Counts   map[string]int    `json:"counts"` // by severity, all findings
}

// CleanInput is the input of "clean".
type CleanInput struct {
	FindInput
	MinSeverity   string `json:"min_severity,omitempty"`   // act at or above (default "high")
	QuarantineDir string `json:"quarantine_dir,omitempty"` // host dir; default inside the root
	RunReloads    bool   `json:"run_reloads,omitempty"`    // live root only
}

// CleanOutput is the output of "clean".
type CleanOutput struct {
	ManifestPath string           `json:"manifest_path,omitempty"`
	Changes      []persist.Change `json:"changes"`
	Reloads      []persist.Reload `json:"reloads,omitempty"`
	ReloadErrors []string         `json:"reload_errors,omitempty"`
}

// RestoreInput is the input of "restore".
type RestoreInput struct {
	Manifest string `json:"manifest"`
	Root     string `json:"root,omitempty"` // override the manifest's root
	Force    bool   `json:"force,omitempty"`
}

// RestoreOutput is the output of "restore".
type RestoreOutput struct {
	Restored []string `json:"restored"`
}

// NewPlugin returns the actions.
func NewPlugin() plugin.Actions {
	return plugin.Actions{
		"find": plugin.NewAction("find persistence (cron, systemd, rc, profiles, ssh keys, ld.so.preload …) on a root; read-only",
			func(ctx context.Context, req plugin.PlanRequest[FindInput], resp *plugin.PlanResponse) error {
				resp.Summary = "read-only: examine " + root(req.Input.Root) + " for persistence"
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[FindInput], resp *plugin.ApplyResponse[FindOutput]) error {
				fs, err := find(ctx, req.Input, req.Logger)
				if err != nil {
					return err
				}
				min, err := sev(req.Input.Min, persist.Low)
				if err != nil {
					return err
				}
				resp.Output.Counts = map[string]int{}
				resp.Output.Findings = []persist.Finding{}
				for _, f := range fs {
					resp.Output.Counts[f.Severity.String()]++
					if f.Severity >= min {
						resp.Output.Findings = append(resp.Output.Findings, f)
					}
				}
				return nil
			}),
		"clean": plugin.NewAction("quarantine persistence with a manifest; restorable",
			func(ctx context.Context, req plugin.PlanRequest[CleanInput], resp *plugin.PlanResponse) error {
				plan, err := planClean(ctx, req.Input, req.Logger)
				if err != nil {
					return err
				}
				resp.Summary = fmt.Sprintf("%d changes on %s (quarantined, restorable)", len(plan.Changes), plan.Root)
				for _, c := range plan.Changes {
					resp.Changes = append(resp.Changes, change(c))
				}
				for _, r := range plan.Reloads {
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: "service", Detail: fmt.Sprint(r.Command)})
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[CleanInput], resp *plugin.ApplyResponse[CleanOutput]) error {
				plan, err := planClean(ctx, req.Input, req.Logger)
				if err != nil {
					return err
				}
				resp.Output.Changes = plan.Changes
				resp.Output.Reloads = plan.Reloads
				if len(plan.Changes) == 0 {
					return nil
				}
				req.Progress.Report("applying", 0, int64(len(plan.Changes)))
				res, err := persist.Apply(ctx, plan, persist.ApplyOptions{QuarantineDir: req.Input.QuarantineDir, RunReloads: req.Input.RunReloads, Incident: req.Incident, Logger: req.Logger})
				if res != nil {
					resp.Output.ManifestPath = res.ManifestPath
					resp.Output.ReloadErrors = res.ReloadErrors
					req.Progress.Report("applied", int64(len(res.Manifest.Entries)), int64(len(plan.Changes)))
				}
				return err
			}),
		"restore": plugin.NewAction("put back everything a clean quarantined",
			func(ctx context.Context, req plugin.PlanRequest[RestoreInput], resp *plugin.PlanResponse) error {
				m, err := persist.ReadManifest(req.Input.Manifest)
				if err != nil {
					return err
				}
				resp.Summary = fmt.Sprintf("restore %d entries into %s", len(m.Entries), root(firstNonEmpty(req.Input.Root, m.Root)))
				for i := len(m.Entries) - 1; i >= 0; i-- {
					e := m.Entries[i]
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: e.Path, Detail: "undo " + string(e.Op)})
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[RestoreInput], resp *plugin.ApplyResponse[RestoreOutput]) error {
				res, err := persist.Restore(ctx, req.Input.Manifest, persist.RestoreOptions{Root: req.Input.Root, Force: req.Input.Force, Logger: req.Logger})
				if res != nil {
					resp.Output.Restored = res.Restored
				}
				return err
			}),
	}
}

func root(r string) string {
	if r == "" {
		return "/"
	}
	return r
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sev(name string, def persist.Severity) (persist.Severity, error) {
	if name == "" {
		return def, nil
	}
	return persist.ParseSeverity(name)
}

func find(ctx context.Context, in FindInput, log *slog.Logger) ([]persist.Finding, error) {
	return persist.Find(ctx, persist.Options{Root: in.Root, Since: in.Since, Logger: log})
}

func planClean(ctx context.Context, in CleanInput, log *slog.Logger) (*persist.CleanPlan, error) {
	fs, err := persist.Find(ctx, persist.Options{Root: in.Root, Since: in.Since, Logger: log})
	if err != nil {
		return nil, err
	}
	min, err := sev(in.MinSeverity, persist.High)
	if err != nil {
		return nil, err
	}
	return persist.Plan(ctx, fs, persist.PlanOptions{Root: in.Root, MinSeverity: min, Logger: log})
}

func change(c persist.Change) plugin.Change {
	kind := plugin.ChangeDelete
	detail := string(c.Op)
	switch c.Op {
	case persist.OpRemoveLines, persist.OpClearFlags:
		kind = plugin.ChangeUpdate
	}
	for _, l := range c.Lines {
		detail += fmt.Sprintf("; line %d: %s", l.Line, l.Content)
	}
	return plugin.Change{Kind: kind, Target: c.Path, Detail: detail}
}
