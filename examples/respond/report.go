package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/persist/persistplugin"
	"github.com/abusekit/abusekit/plugins/scan/scanplugin"
)

// reportFiles are the files a run leaves for the operator.
type reportFiles struct {
	Reply  string `json:"reply"`  // reply.txt: the reply to send the provider
	Report string `json:"report"` // incident-report.md: what happened, for the team
}

// safeName makes an incident id a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
	if s == "" || strings.Trim(s, ".") == "" {
		return "incident"
	}
	return s
}

// writeReport writes reply.txt and incident-report.md into dir.
func writeReport(dir string, rep abuse.Report, reply abuse.Reply, run *playbook.Run, tl timeline, scope string, hs *hostSide, calls []playbook.RemoteCall) (reportFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return reportFiles{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return reportFiles{}, err
	}
	f := reportFiles{Reply: filepath.Join(abs, "reply.txt"), Report: filepath.Join(abs, "incident-report.md")}
	if err := os.WriteFile(f.Reply, []byte("Subject: "+reply.Subject+"\n\n"+reply.Text), 0o600); err != nil {
		return f, err
	}
	return f, os.WriteFile(f.Report, []byte(incidentReport(rep, reply, run, tl, scope, hs, calls)), 0o600)
}

// incidentReport is the Markdown incident report: timeline, evidence and
// its hashes, cloud resources, findings, what was quarantined and where,
// and the reinfection check. scope says what detect looked at when it was
// limited ("" = every process).
func incidentReport(rep abuse.Report, reply abuse.Reply, run *playbook.Run, tl timeline, scope string, hs *hostSide, calls []playbook.RemoteCall) string {
	finished := tl.finished
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Incident %s", run.Incident)
	w("")
	w("- Report: %s from %s, abuse time %s, reply due %s", rep.Kind, firstNonEmpty(rep.Provider, "the provider"),
		timeOrUnknown(rep.AbuseTime), timeOrUnknown(rep.Deadline))
	w("- Resources: instances %v, addresses %v, region %s", rep.Resources.InstanceIDs, rep.Resources.IPs, firstNonEmpty(rep.Resources.Region, "unknown"))
	w("- Run: %s in %s (journal %s)", run.Status, run.Duration.Round(time.Millisecond), firstNonEmpty(run.Journal, "none"))
	w("")
	w("## Timeline")
	w("")
	if hs != nil && hs.transport != transportLocal {
		w("Host steps ran on the instance over %s (binary for %s, SHA-256 %s); cloud steps ran here.", hs.transport, hs.platform, hs.sha256)
		w("")
	}
	w("| started (UTC) | finished (UTC) | duration | step | plugin | status | transport | command | |")
	w("|---|---|---|---|---|---|---|---|---|")
	stamp := func(m map[string]time.Time, id string) string {
		if t, ok := m[id]; ok {
			return t.UTC().Format("2006-01-02 15:04:05.000")
		}
		return ""
	}
	for _, s := range run.Steps {
		d := ""
		if s.Duration > 0 {
			d = s.Duration.Round(time.Millisecond).String()
		}
		note := s.Error
		if s.Resumed {
			note = firstNonEmpty(note, "done by an earlier run")
		}
		w("| %s | %s | %s | %s | %s.%s | %s | %s | %s | %s |", stamp(tl.started, s.ID), stamp(finished, s.ID), d, s.ID, s.Plugin, s.Action,
			s.Status, s.Transport, s.CommandID, strings.ReplaceAll(note, "|", "\\|"))
	}
	if len(calls) > 0 {
		w("")
		w("Commands sent to the instance (plans included):")
		w("")
		w("| step | phase | command | key | round trip | output SHA-256 | |")
		w("|---|---|---|---|---|---|---|")
		for _, c := range calls {
			note := c.Error
			if c.Resumed {
				note = firstNonEmpty(note, "sent by an earlier run; waited for")
			}
			w("| %s | %s | %s | `%s` | %s | %s | %s |", c.Step, c.Phase, c.CommandID, c.Key, c.End.Sub(c.Start).Round(time.Millisecond),
				c.StdoutSHA256, strings.ReplaceAll(note, "|", "\\|"))
		}
	}
	out := map[string]json.RawMessage{}
	for _, s := range run.Steps {
		if s.Status == playbook.StatusSucceeded {
			out[s.ID] = s.Output
		}
	}
	w("")
	w("## The process")
	w("")
	var det scanplugin.DetectOutput
	if json.Unmarshal(out["detect"], &det) == nil && len(det.Suspects) > 0 {
		top := det.Suspects[0]
		w("PID %d `%s` (%s), score %d, start ticks %d, executable %d:%d%s:", top.PID, top.Comm, top.Exe, top.Score, top.StartTicks,
			top.ExeDev, top.ExeIno, map[bool]string{true: " (deleted)"}[top.ExeDeleted])
		w("")
		for _, r := range top.Reasons {
			w("- %s", r)
		}
	} else {
		w("detect listed no suspect.")
	}
	var stop scanplugin.StopOutput
	if json.Unmarshal(out["stop"], &stop) == nil && stop.Result.Manifest != "" {
		w("")
		w("Frozen %v, killed %v. Evidence in `%s`; manifest `%s` (SHA-256 %s).", stop.Result.Frozen, stop.Result.Killed,
			stop.Result.EvidenceDir, stop.Result.Manifest, fileSHA256(stop.Result.Manifest))
		for _, warn := range stop.Result.Warnings {
			w("- not captured: %s", warn)
		}
	}
	for _, c := range calls {
		for _, a := range c.Attachments {
			w("")
			if a.Error != "" {
				w("Evidence `%s` of step %s was NOT shipped off the host: %s", a.RemotePath, c.Step, a.Error)
				continue
			}
			via := "its output"
			if a.Shipped != "" {
				via = a.Shipped
			}
			w("Evidence `%s` shipped off the host (command %s, through %s): `%s`, %d bytes, SHA-256 %s (checked on arrival).",
				a.RemotePath, c.CommandID, via, a.Local, a.Size, a.SHA256)
		}
	}
	w("")
	w("## Persistence")
	w("")
	var find persistplugin.FindOutput
	if json.Unmarshal(out["find"], &find) == nil {
		w("%d findings by severity: %v.", len(find.Findings), find.Counts)
	}
	var clean persistplugin.CleanOutput
	if json.Unmarshal(out["clean"], &clean) == nil && len(clean.Changes) > 0 {
		w("")
		w("Quarantined (restorable from the manifest `%s`, SHA-256 %s):", clean.ManifestPath, fileSHA256(clean.ManifestPath))
		w("")
		for _, c := range clean.Changes {
			w("- %s `%s`: %s", c.Op, c.Path, strings.Join(c.Reasons, "; "))
		}
	}
	w("")
	w("## Cloud")
	w("")
	var snap ec2plugin.SnapshotOutput
	if json.Unmarshal(out["snapshot"], &snap) == nil {
		w("- Forensic snapshots: %v", snap.SnapshotIDs)
	}
	if _, ok := out["contain"]; ok {
		w("- Contained: the instance's interfaces moved to a quarantine security group")
	}
	var reb ec2plugin.RebuildOutput
	if json.Unmarshal(out["rebuild"], &reb) == nil && reb.InstanceID != "" {
		w("- Replacement instance: %s", reb.InstanceID)
	}
	var term ec2plugin.TerminateOutput
	if json.Unmarshal(out["terminate"], &term) == nil && term.InstanceID != "" {
		w("- Terminated: %s (after its snapshots completed)", term.InstanceID)
	}
	w("")
	w("## Reinfection check")
	w("")
	if scope != "" {
		w("(detect looked at %s.)", scope)
		w("")
	}
	var re scanplugin.DetectOutput
	switch raw, ok := out["recheck"]; {
	case !ok:
		w("Not run (-recheck 0, or the run did not get there).")
	case json.Unmarshal(raw, &re) != nil:
		w("Its output could not be read.")
	case len(re.Suspects) == 0:
		w("Looked again at %s: nothing scanning.", finished["recheck"].UTC().Format(time.RFC3339))
	default:
		w("**Looked again at %s: %d suspect(s) — the host is reinfected or was not cleaned:**", finished["recheck"].UTC().Format(time.RFC3339), len(re.Suspects))
		for _, s := range re.Suspects {
			w("- PID %d %s (%s), score %d", s.PID, s.Comm, s.Exe, s.Score)
		}
	}
	w("")
	w("## Reply")
	w("")
	w("Subject: %s", reply.Subject)
	w("")
	for _, line := range strings.Split(strings.TrimRight(reply.Text, "\n"), "\n") {
		w("    %s", line)
	}
	return b.String()
}

// timeline is when each step started (its first attempt) and finished,
// from the run's events.
type timeline struct{ started, finished map[string]time.Time }

func newTimeline() timeline {
	return timeline{started: map[string]time.Time{}, finished: map[string]time.Time{}}
}

func (tl timeline) event(e playbook.Event) {
	switch e.Kind {
	case playbook.EventStepStarted:
		if _, ok := tl.started[e.Step]; !ok {
			tl.started[e.Step] = e.Time
		}
	case playbook.EventStepFinished:
		tl.finished[e.Step] = e.Time
	}
}

func timeOrUnknown(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// fileSHA256 is the hex SHA-256 of a file, or why there is none.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}
