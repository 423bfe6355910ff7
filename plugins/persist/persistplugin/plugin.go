// Package persistplugin serves plugins/persist as abusekit plugin actions
// (playbook/plugin): "find", "plan", "clean" and "restore". It only
// converts between the typed API and requests; the logic lives in package
// persist. Importing it registers persist's sentinel errors, so that
// errors.Is works on the host for an error a plugin returned.
//
// What "clean" applies is the plan that was approved, never a fresh look
// at the root: its Plan phase makes the persist.CleanPlan (every change
// with the SHA-256 of what it will touch) and its Apply phase applies that
// very plan, which refuses a file that changed since with
// persist.ErrChanged. The plan reaches Apply in one of two ways: in the
// step's input (CleanInput.Plan: the output of "plan", or a reviewed plan
// file passed as a playbook input), or kept by the plugin between the two
// phases of one run. A step whose plan was deferred (its input depends on
// earlier steps' outputs) had no plan to approve: it is planned when it
// runs, and its output says so (PlannedAtApply).
package persistplugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
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
	plugin.RegisterError("persist.manifest_key", persist.ErrManifestKey)
	plugin.RegisterError("persist.quarantine_unsafe", persist.ErrQuarantineUnsafe)
	plugin.RegisterError("persist.no_space", persist.ErrNoSpace)
}

// FindInput is the input of "find" and the first half of "clean".
type FindInput struct {
	Root  string    `json:"root,omitempty" description:"the host's root to examine: / for the live host, or a mounted snapshot; empty: / (with clean's plan: the plan's root, which a given root must match)"`
	Since time.Time `json:"since,omitzero" description:"start of the incident window: files changed since weigh more; absent: no window"`
	Min   string    `json:"min,omitempty" schema:"enum=info|low|medium|high|critical,default=low" description:"find: report findings at or above this severity (plan and clean act from min_severity)"`
}

// FindOutput is the output of "find".
type FindOutput struct {
	Findings []Finding      `json:"findings" description:"persistence entries found at or above min, most severe first"`
	Counts   map[string]int `json:"counts" description:"number of findings by severity name, all of them (below min included)"`
}

// Finding is persist.Finding as "find" outputs it: the same fields and
// JSON, but without persist.Finding's MarshalJSON, which would leave the
// output schema blind to them (a type that marshals itself has no schema).
type Finding persist.Finding

// PlanInput is the input of "plan".
type PlanInput struct {
	FindInput
	MinSeverity string `json:"min_severity,omitempty" schema:"enum=info|low|medium|high|critical,default=high" description:"act on findings at or above this severity"`
}

// PlanOutput is the output of "plan": the plan "clean" takes as input.
type PlanOutput struct {
	Plan   *persist.CleanPlan `json:"plan" description:"the plan, every change with the SHA-256 of what it touches: give it to clean as plan"`
	SHA256 string             `json:"sha256" description:"SHA-256 of the plan, hex, as clean's summary and output show it"`
}

// CleanInput is the input of "clean".
type CleanInput struct {
	FindInput
	MinSeverity   string `json:"min_severity,omitempty" schema:"enum=info|low|medium|high|critical,default=high" description:"act on findings at or above this severity (unused with plan)"`
	QuarantineDir string `json:"quarantine_dir,omitempty" description:"a directory on the plugin's host in which a fresh subdirectory (mode 0700) receives what is removed, and the manifest; empty: a fresh directory under /var/lib/abusekit/quarantine inside the root"`
	RunReloads    bool   `json:"run_reloads,omitempty" description:"run the reloads (systemctl daemon-reload, …) that make services see the change; live root only"`
	// MaxCopy bounds the data copied into the quarantine per file
	// (persist.ApplyOptions.MaxCopy; default persist.DefaultMaxCopy).
	MaxCopy int64 `json:"max_copy,omitempty" description:"bytes (allocated, holes excluded) copied into the quarantine per file at most, a larger file is left unchanged and stops the clean; 0 or negative: 1 GiB"`
	// ManifestKey (hex) authenticates the manifest; default the key file
	// in the plugin's state directory (persist.DefaultKeyFile). Give the
	// same to restore.
	ManifestKey string `json:"manifest_key,omitempty" schema:"secret" description:"hex key (16 bytes or more) that authenticates the manifest; empty: the key file in the plugin's state directory. Give the same to restore"`
	// Plan, when set, is the approved plan (the output of "plan", or a
	// reviewed plan file): clean applies exactly it, without examining
	// the root again (Root, Since and MinSeverity are then unused). A
	// file that changed since it was planned is persist.ErrChanged.
	Plan *persist.CleanPlan `json:"plan,omitempty" description:"the approved plan (plan's output, or a reviewed plan file): applied exactly, the root not examined again; absent: plan from root, since and min_severity"`
}

// CleanOutput is the output of "clean".
type CleanOutput struct {
	ManifestPath string           `json:"manifest_path,omitempty" description:"the manifest of what was changed, which restore takes; absent when nothing changed"`
	Changes      []persist.Change `json:"changes" description:"the changes applied"`
	Reloads      []persist.Reload `json:"reloads,omitempty" description:"reloads that make services see the changes: run with run_reloads, else for the operator to run"`
	ReloadErrors []string         `json:"reload_errors,omitempty" description:"reloads that failed, with their error"`
	// PlanSHA256 is the digest of the plan applied: the one clean's plan
	// summary showed for approval.
	PlanSHA256 string `json:"plan_sha256" description:"SHA-256 of the plan applied, hex, as the approved plan's summary showed it"`
	// PlannedAtApply: no approved plan reached this step (its plan was
	// deferred, or the plugin was restarted), so it was planned when it
	// ran.
	PlannedAtApply bool `json:"planned_at_apply,omitempty" description:"no approved plan reached the step (deferred, or the plugin restarted): it was planned when it ran"`
}

// RestoreInput is the input of "restore".
type RestoreInput struct {
	Manifest   string `json:"manifest" schema:"required" description:"path of the manifest clean wrote (its manifest_path)"`
	Root       string `json:"root,omitempty" description:"restore into this root instead of the manifest's (a snapshot mounted elsewhere); empty: the manifest's"`
	Force      bool   `json:"force,omitempty" description:"restore edited files even when they changed after clean"`
	RunReloads bool   `json:"run_reloads,omitempty" description:"run the manifest's reloads after restoring; live root only"`
	// ManifestKey (hex) is the key clean was given, if any.
	ManifestKey string `json:"manifest_key,omitempty" schema:"secret" description:"the hex key clean was given; empty: the key file in the plugin's state directory"`
}

// manifestKey decodes an optional hex key.
func manifestKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("%w: manifest_key must be hex of at least 16 bytes", persist.ErrManifestKey)
	}
	return k, nil
}

// RestoreOutput is the output of "restore".
type RestoreOutput struct {
	Restored []string `json:"restored" description:"paths put back"`
	// Reloads make the services see the restored files; run by Restore
	// when RunReloads, else for the operator to run (on a live root).
	Reloads      []persist.Reload `json:"reloads,omitempty" description:"reloads that make services see the restored files"`
	ReloadsRun   bool             `json:"reloads_run,omitempty" description:"the reloads were run (run_reloads)"`
	ReloadErrors []string         `json:"reload_errors,omitempty" description:"reloads that failed, with their error"`
}

// approved keeps the plans clean's Plan phase made, for its Apply phase
// in the same plugin process.
type approved struct {
	mu    sync.Mutex
	plans map[string]*persist.CleanPlan
}

// key names one step's plan: its idempotency token and what the plan was
// made from.
func (a *approved) key(c plugin.Call, in CleanInput) string {
	b, _ := json.Marshal(struct {
		Token string
		Root  string
		Since time.Time
		Min   string
	}{c.IdempotencyToken, root(in.Root), in.Since, in.MinSeverity})
	return string(b)
}

func (a *approved) put(k string, p *persist.CleanPlan) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.plans == nil {
		a.plans = map[string]*persist.CleanPlan{}
	}
	a.plans[k] = p
}

func (a *approved) get(k string) *persist.CleanPlan {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.plans[k]
}

// NewPlugin returns the actions.
func NewPlugin() plugin.Actions {
	kept := &approved{}
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
				resp.Output.Findings = []Finding{}
				for _, f := range fs {
					resp.Output.Counts[f.Severity.String()]++
					if f.Severity >= min {
						if f.Reasons == nil {
							f.Reasons = []string{} // as persist.Finding.MarshalJSON keeps it
						}
						resp.Output.Findings = append(resp.Output.Findings, Finding(f))
					}
				}
				return nil
			}, plugin.FieldDocs(nil, findOutputDocs)),
		"plan": plugin.NewAction("plan a clean (changes with the SHA-256 of what each touches) for clean's input; read-only",
			func(ctx context.Context, req plugin.PlanRequest[PlanInput], resp *plugin.PlanResponse) error {
				resp.Summary = "read-only: plan a clean of " + root(req.Input.Root)
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[PlanInput], resp *plugin.ApplyResponse[PlanOutput]) error {
				plan, err := planClean(ctx, CleanInput{FindInput: req.Input.FindInput, MinSeverity: req.Input.MinSeverity}, req.Logger)
				if err != nil {
					return err
				}
				resp.Output = PlanOutput{Plan: plan, SHA256: planDigest(plan)}
				return nil
			}, plugin.FieldDocs(nil, planOutputDocs)),
		"clean": plugin.NewAction("quarantine persistence with a manifest; restorable; applies exactly the approved plan",
			func(ctx context.Context, req plugin.PlanRequest[CleanInput], resp *plugin.PlanResponse) error {
				var plan *persist.CleanPlan
				if req.Input.Plan != nil {
					plan = req.Input.Plan
					if err := checkPlanRoot(req.Input); err != nil {
						return err
					}
					if err := plan.Check(ctx); err != nil {
						return err // stale: nothing to approve
					}
				} else {
					var err error
					if plan, err = planClean(ctx, req.Input, req.Logger); err != nil {
						return err
					}
					kept.put(kept.key(req.Call, req.Input), plan)
				}
				// The plan itself is the payload the runner journals with the
				// approval and gives back to Apply: a restarted plugin applies
				// what was approved, not a new look at the root.
				resp.Payload = plan
				resp.Summary = fmt.Sprintf("%d changes on %s (quarantined, restorable); plan sha256 %s", len(plan.Changes), plan.Root, planDigest(plan))
				for _, c := range plan.Changes {
					resp.Changes = append(resp.Changes, change(c))
				}
				for _, r := range plan.Reloads {
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: "service", Detail: fmt.Sprint(r.Command)})
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[CleanInput], resp *plugin.ApplyResponse[CleanOutput]) error {
				plan := req.Input.Plan
				if plan != nil {
					if err := checkPlanRoot(req.Input); err != nil {
						return err
					}
				} else {
					plan = kept.get(kept.key(req.Call, req.Input))
				}
				if plan == nil && req.Approved != nil && len(req.Approved.Payload) > 0 {
					// This process did not make the plan (the plugin was
					// restarted): the approved one comes from the journal.
					var p persist.CleanPlan
					if err := req.Approved.DecodePayload(&p); err != nil {
						return fmt.Errorf("%w: the approved clean plan: %v", plugin.ErrPlanChanged, err)
					}
					if filepath.Clean(p.Root) != filepath.Clean(root(req.Input.Root)) {
						return fmt.Errorf("%w: the approved plan is for root %s, this step's is %s", plugin.ErrPlanChanged, p.Root, root(req.Input.Root))
					}
					plan = &p
				}
				if plan == nil {
					req.Logger.Warn("persist: clean: no approved plan reached this step; planning now", "root", root(req.Input.Root))
					var err error
					if plan, err = planClean(ctx, req.Input, req.Logger); err != nil {
						return err
					}
					resp.Output.PlannedAtApply = true
				}
				resp.Output.PlanSHA256 = planDigest(plan)
				resp.Output.Changes = plan.Changes
				resp.Output.Reloads = plan.Reloads
				if len(plan.Changes) == 0 {
					return nil
				}
				req.Progress.Report("applying", 0, int64(len(plan.Changes)))
				key, err := manifestKey(req.Input.ManifestKey)
				if err != nil {
					return err
				}
				res, err := persist.Apply(ctx, plan, persist.ApplyOptions{QuarantineDir: req.Input.QuarantineDir, RunReloads: req.Input.RunReloads, Incident: req.Incident, Logger: req.Logger,
					MaxCopy: req.Input.MaxCopy, Key: key})
				if res != nil {
					resp.Output.ManifestPath = res.ManifestPath
					resp.Output.ReloadErrors = res.ReloadErrors
					req.Progress.Report("applied", int64(len(res.Manifest.Entries)), int64(len(plan.Changes)))
				}
				return err
			}, plugin.FieldDocs(cleanInputDocs, cleanOutputDocs)),
		"restore": plugin.NewAction("put back everything a clean quarantined",
			func(ctx context.Context, req plugin.PlanRequest[RestoreInput], resp *plugin.PlanResponse) error {
				key, err := manifestKey(req.Input.ManifestKey)
				if err != nil {
					return err
				}
				m, err := persist.ReadManifestKey(req.Input.Manifest, key)
				if err != nil {
					return err
				}
				resp.Summary = fmt.Sprintf("restore %d entries into %s", len(m.Entries), root(firstNonEmpty(req.Input.Root, m.Root)))
				for i := len(m.Entries) - 1; i >= 0; i-- {
					e := m.Entries[i]
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeCreate, Target: e.Path, Detail: "undo " + string(e.Op)})
				}
				for _, r := range m.Reloads {
					detail := "then run " + fmt.Sprint(r.Command)
					if req.Input.RunReloads {
						detail = "run " + fmt.Sprint(r.Command)
					}
					resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: "service", Detail: detail})
				}
				return nil
			},
			func(ctx context.Context, req plugin.ApplyRequest[RestoreInput], resp *plugin.ApplyResponse[RestoreOutput]) error {
				key, err := manifestKey(req.Input.ManifestKey)
				if err != nil {
					return err
				}
				res, err := persist.Restore(ctx, req.Input.Manifest, persist.RestoreOptions{Root: req.Input.Root, Force: req.Input.Force, RunReloads: req.Input.RunReloads, Logger: req.Logger, Key: key})
				if res != nil {
					resp.Output.Restored = res.Restored
					resp.Output.Reloads = res.Reloads
					resp.Output.ReloadsRun = req.Input.RunReloads && len(res.Reloads) > 0
					resp.Output.ReloadErrors = res.ReloadErrors
				}
				return err
			}, plugin.FieldDocs(nil, restoreOutDocs)),
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

// checkPlanRoot refuses a plan given with a root it was not made for.
func checkPlanRoot(in CleanInput) error {
	if in.Root == "" {
		return nil
	}
	abs, err := filepath.Abs(in.Root)
	if err != nil {
		return err
	}
	if abs != in.Plan.Root {
		return fmt.Errorf("%w: the plan was made for root %s, not %s", plugin.ErrInvalidInput, in.Plan.Root, in.Root)
	}
	return nil
}

// planDigest is the SHA-256 of a plan's JSON: what the operator approved
// and what clean applied can be matched by it.
func planDigest(p *persist.CleanPlan) string {
	b, _ := json.Marshal(p)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func change(c persist.Change) plugin.Change {
	kind := plugin.ChangeDelete
	detail := string(c.Op)
	if c.SHA256 != "" {
		detail += " (sha256 " + c.SHA256 + ")"
	}
	switch c.Op {
	case persist.OpRemoveLines, persist.OpClearFlags:
		kind = plugin.ChangeUpdate
	}
	for _, l := range c.Lines {
		detail += fmt.Sprintf("; line %d: %s", l.Line, l.Content)
	}
	return plugin.Change{Kind: kind, Target: c.Path, Detail: detail}
}
