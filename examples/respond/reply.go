package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/plugins/ec2/ec2plugin"
	"github.com/abusekit/abusekit/plugins/persist/persistplugin"
	"github.com/abusekit/abusekit/plugins/scan/scanplugin"
)

// draftReply turns what the run did into the corrective actions and
// findings the provider asks for, and drafts the reply. finished maps each
// step to when it finished (the step_finished events).
func draftReply(rep abuse.Report, run *playbook.Run, finished map[string]time.Time) (abuse.Reply, error) {
	var (
		actions   []abuse.Action
		findings  []abuse.Finding
		worldOpen []string // the world-open rules harden revoked
	)
	when := func(s playbook.StepResult) time.Time { return finished[s.ID].UTC() }
	for _, s := range run.Steps {
		if s.Status != playbook.StatusSucceeded || len(s.Output) == 0 {
			continue
		}
		switch s.ID {
		case "detect":
			var out scanplugin.DetectOutput
			if json.Unmarshal(s.Output, &out) != nil || len(out.Suspects) == 0 {
				continue
			}
			top := out.Suspects[0]
			exe := top.Exe
			if top.ExeDeleted {
				exe += " (deleted)"
			}
			f := abuse.Finding{What: "process", Summary: fmt.Sprintf("PID %d %s, score %d", top.PID, exe, top.Score),
				Details: []string{"command line: " + strings.Join(top.Cmdline, " ")}}
			for _, r := range top.Reasons {
				f.Details = append(f.Details, r.String())
			}
			findings = append(findings, f)
		case "stop":
			var out scanplugin.StopOutput
			if json.Unmarshal(s.Output, &out) != nil {
				continue
			}
			actions = append(actions, abuse.Action{Time: when(s), Step: abuse.StepProcessStopped,
				Evidence: []string{fmt.Sprintf("killed %v; evidence in %s (manifest %s)", out.Result.Killed, out.Result.EvidenceDir, out.Result.Manifest)}})
		case "clean":
			var out persistplugin.CleanOutput
			if json.Unmarshal(s.Output, &out) != nil || len(out.Changes) == 0 {
				continue
			}
			a := abuse.Action{Time: when(s), Step: abuse.StepPersistenceRemoved}
			for _, c := range out.Changes {
				a.Evidence = append(a.Evidence, fmt.Sprintf("%s %s", c.Op, c.Path))
				findings = append(findings, abuse.Finding{What: "persistence", Summary: c.Path, Details: c.Reasons})
			}
			if out.ManifestPath != "" {
				a.Evidence = append(a.Evidence, "quarantine manifest "+out.ManifestPath)
			}
			actions = append(actions, a)
		case "contain":
			actions = append(actions, abuse.Action{Time: when(s), Step: abuse.StepInstanceContained})
		case "snapshot":
			var out ec2plugin.SnapshotOutput
			if json.Unmarshal(s.Output, &out) == nil {
				actions = append(actions, abuse.Action{Time: when(s), Step: abuse.StepSnapshot, Evidence: out.SnapshotIDs})
			}
		case "harden":
			var out ec2plugin.HardenOutput
			if json.Unmarshal(s.Output, &out) != nil || out.Plan == nil {
				continue
			}
			a := abuse.Action{Time: when(s), Step: abuse.StepRuleRevoked}
			for _, g := range out.Plan.Groups {
				for _, r := range g.Open {
					a.Evidence = append(a.Evidence, fmt.Sprintf("%s (%s): %s", g.GroupID, g.Name, r))
					worldOpen = append(worldOpen, fmt.Sprintf("%s %s", g.Name, r))
				}
			}
			if len(a.Evidence) > 0 {
				actions = append(actions, a)
			}
		case "rebuild":
			var out ec2plugin.RebuildOutput
			if json.Unmarshal(s.Output, &out) == nil {
				actions = append(actions, abuse.Action{Time: when(s), Step: abuse.StepInstanceLaunched, Evidence: []string{out.InstanceID}})
			}
		case "alarms":
			var out ec2plugin.AlarmsOutput
			if json.Unmarshal(s.Output, &out) != nil || out.Plan == nil {
				continue
			}
			a := abuse.Action{Time: when(s), Step: abuse.StepAlarmCreated}
			for _, al := range out.Plan.Alarms {
				a.Evidence = append(a.Evidence, al.Name)
			}
			actions = append(actions, a)
		case "terminate":
			var out ec2plugin.TerminateOutput
			if json.Unmarshal(s.Output, &out) == nil {
				actions = append(actions, abuse.Action{Time: when(s), Step: abuse.StepInstanceTerminated, Evidence: []string{out.InstanceID}})
			}
		}
	}
	opts := []abuse.ReplyOption{abuse.WithFindings(findings...)}
	if len(worldOpen) > 0 {
		opts = append(opts, abuse.WithRootCause("the instance's security group allowed inbound traffic from the whole internet ("+
			strings.Join(worldOpen, "; ")+"), so the host could be reached and attacked from anywhere"))
	}
	return abuse.DraftReply(rep, actions, opts...)
}
