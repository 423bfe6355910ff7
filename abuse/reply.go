package abuse

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Corrective steps an Action can record. The text of the reply is written
// from them; any other Step is accepted when the Action has a Summary.
const (
	StepEvidenceCaptured   = "evidence-captured"   // process memory, binary, sockets saved before killing
	StepProcessStopped     = "process-stopped"     // the offending process was frozen, captured and killed
	StepPersistenceRemoved = "persistence-removed" // cron entries, units, keys … quarantined
	StepFilesQuarantined   = "files-quarantined"   // malware files moved to quarantine
	StepPortChanged        = "port-changed"        // sshd moved off port 22
	StepInstanceContained  = "instance-contained"  // quarantine security group, out of ASG/ELB
	StepSnapshot           = "snapshot"            // EBS snapshots of every volume, completed
	StepDataBackedUp       = "data-backed-up"      // data copied off the instance
	StepInstanceStopped    = "instance-stopped"
	StepInstanceTerminated = "instance-terminated"
	StepInstanceLaunched   = "instance-launched" // replacement from a clean image
	StepRuleRevoked        = "rule-revoked"      // security group rules open to the world removed
	StepAlarmCreated       = "alarm-created"     // CloudWatch alarms on network and CPU
	StepCredentialsRotated = "credentials-rotated"
)

// replySteps are the default wording of each known step.
var replySteps = map[string]string{
	StepEvidenceCaptured:   "Captured evidence from the running system (process memory, executable, open connections) before stopping anything",
	StepProcessStopped:     "Stopped the process responsible for the activity",
	StepPersistenceRemoved: "Removed the malware's persistence (quarantined, restorable for analysis)",
	StepFilesQuarantined:   "Quarantined the malware files",
	StepPortChanged:        "Moved SSH off the default port",
	StepInstanceContained:  "Isolated the instance (quarantine security group, detached from load balancing and auto scaling)",
	StepSnapshot:           "Created snapshots of all of the instance's EBS volumes",
	StepDataBackedUp:       "Backed up the data we need from the instance",
	StepInstanceStopped:    "Stopped the compromised instance",
	StepInstanceTerminated: "Terminated the compromised instance",
	StepInstanceLaunched:   "Launched a replacement instance from a clean image",
	StepRuleRevoked:        "Revoked security group rules open to the whole internet (0.0.0.0/0)",
	StepAlarmCreated:       "Created CloudWatch alarms on irregular network and CPU activity",
	StepCredentialsRotated: "Rotated the credentials that were present on the instance",
}

// replyPrevention is what each step says about preventing a recurrence.
var replyPrevention = map[string]string{
	StepRuleRevoked:        "Inbound access is no longer open to 0.0.0.0/0; administrative ports (SSH 22, RDP 3389) are restricted to our own addresses.",
	StepAlarmCreated:       "CloudWatch alarms now notify us of irregular network and CPU activity on our instances.",
	StepInstanceLaunched:   "The workload runs on a new instance built from a clean image; the compromised instance is not reused.",
	StepCredentialsRotated: "All credentials that were present on the compromised instance have been rotated.",
	StepPortChanged:        "SSH no longer listens on the default port.",
}

// replyStopping are the steps after which the activity has ceased.
var replyStopping = []string{StepProcessStopped, StepInstanceContained, StepInstanceStopped, StepInstanceTerminated}

// Action is one corrective step taken, to be reported in the reply.
type Action struct {
	Time     time.Time `json:"time"`               // when it was done; shown in UTC
	Step     string    `json:"step"`               // one of the Step constants, or another name with a Summary
	Summary  string    `json:"summary,omitempty"`  // what was done, one sentence; default: the step's wording
	Evidence []string  `json:"evidence,omitempty"` // snapshot IDs, removed entries, revoked rules, SHA-256 of binaries …
}

// Finding is something found on the instance: the process behind the
// activity, a persistence entry, the way in.
type Finding struct {
	What    string   `json:"what"`              // "process", "persistence", "file", "cause", …
	Summary string   `json:"summary"`           // one line: "PID 2314 /tmp/.x/work32 scanning TCP 22"
	Details []string `json:"details,omitempty"` // command line, SHA-256, the crontab line …
}

// Reply is the drafted answer to the provider.
type Reply struct {
	Subject  string `json:"subject"`  // for the reply mail
	Text     string `json:"text"`     // plain text to paste into the reply
	Markdown string `json:"markdown"` // incident summary for the team's records
}

// ReplyOption adds to a drafted reply.
type ReplyOption func(*replyOptions)

type replyOptions struct {
	findings   []Finding
	rootCause  string
	prevention []string
	signature  string
}

// WithFindings lists what was found on the instance (the process, the
// persistence) under "What we found".
func WithFindings(f ...Finding) ReplyOption {
	return func(o *replyOptions) { o.findings = append(o.findings, f...) }
}

// WithRootCause states how the instance was compromised, in one sentence.
func WithRootCause(s string) ReplyOption { return func(o *replyOptions) { o.rootCause = s } }

// WithPrevention adds prevention steps to those derived from the actions.
func WithPrevention(steps ...string) ReplyOption {
	return func(o *replyOptions) { o.prevention = append(o.prevention, steps...) }
}

// WithSignature ends the text with the given signature (name, team).
func WithSignature(s string) ReplyOption { return func(o *replyOptions) { o.signature = s } }

// ErrNoActions is returned by DraftReply when no corrective action is given:
// a reply to an abuse report must say what was done, and a provider that
// reads "we are looking into it" past the deadline mitigates.
var ErrNoActions = errors.New("abuse: reply: no corrective actions to report")

// DraftReply writes the answer to an abuse report: the case number, the
// resources, what was found, each corrective action with its UTC time and
// evidence, and the steps that prevent a recurrence, as plain text to paste
// into the reply and as a Markdown incident summary (which also lists open
// items: a reported exposure no action closed, an instance terminated
// without a recorded snapshot, …). A report whose Role is RoleTarget is
// answered as one about an instance that was attacked, not the attacker.
// Actions are listed in time order. The output depends only on its
// arguments.
func DraftReply(r Report, actions []Action, opts ...ReplyOption) (Reply, error) {
	var o replyOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(actions) == 0 {
		return Reply{}, ErrNoActions
	}
	acts := make([]Action, len(actions))
	for i, a := range actions {
		a.Step = strings.TrimSpace(a.Step)
		a.Summary = replyLine(a.Summary)
		if a.Time.IsZero() {
			return Reply{}, fmt.Errorf("abuse: reply: action %d (%s): no time", i+1, arfFirst(a.Step, a.Summary))
		}
		if a.Summary == "" {
			a.Summary = replySteps[a.Step]
		}
		if a.Summary == "" {
			return Reply{}, fmt.Errorf("abuse: reply: action %d: step %q needs a Summary", i+1, a.Step)
		}
		a.Time = a.Time.UTC()
		var ev []string
		for _, e := range a.Evidence {
			if e = replyLine(e); e != "" {
				ev = append(ev, e)
			}
		}
		a.Evidence = ev
		acts[i] = a
	}
	slices.SortStableFunc(acts, func(a, b Action) int { return a.Time.Compare(b.Time) })

	d := replyDraft{r: r, acts: acts, o: o}
	return Reply{Subject: d.subject(), Text: d.text(), Markdown: d.markdown()}, nil
}

type replyDraft struct {
	r    Report
	acts []Action
	o    replyOptions
}

// replyLine folds a value onto one line.
func replyLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func replyTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func (d *replyDraft) has(steps ...string) bool {
	for _, a := range d.acts {
		if slices.Contains(steps, a.Step) {
			return true
		}
	}
	return false
}

func (d *replyDraft) caseRef() string {
	if d.r.CaseID != "" {
		return "case " + d.r.CaseID
	}
	return "your report"
}

func (d *replyDraft) subject() string {
	if d.r.Source == SourceGuardDuty {
		return "GuardDuty finding " + arfFirst(d.r.CaseID, "(no ID)") + " (" + d.activity() + "): corrective actions taken"
	}
	s := replyLine(d.r.Subject)
	if s != "" {
		if !strings.HasPrefix(strings.ToLower(s), "re:") {
			s = "Re: " + s
		}
		return s
	}
	if d.r.CaseID != "" {
		return "Re: Abuse report, case " + d.r.CaseID + ": corrective actions taken"
	}
	return "Re: Abuse report: corrective actions taken"
}

// activity names the reported activity in words.
func (d *replyDraft) activity() string {
	if a := replyLine(d.r.Activity); a != "" {
		return a
	}
	switch d.r.Kind {
	case KindPortScan:
		return "port scanning"
	case KindIntrusion:
		return "login attempts (brute force)"
	case KindDDoS:
		return "denial of service traffic"
	case KindSpam:
		return "spam"
	case KindMalware:
		return "malware activity"
	case KindPhishing:
		return "phishing"
	case KindCopyright:
		return "copyright infringement"
	}
	return "the reported activity"
}

// resources lists the implicated resources, one "label: value" per line.
func (d *replyDraft) resources() [][2]string {
	var rows [][2]string
	res := d.r.Resources
	aws := d.r.Provider == ProviderAWS
	if d.r.AccountID != "" {
		label := "Account"
		switch {
		case aws:
			label = "AWS account"
		case d.r.Provider == ProviderAzure:
			label = "Azure subscription"
		}
		rows = append(rows, [2]string{label, d.r.AccountID})
	}
	if res.Region != "" {
		rows = append(rows, [2]string{"Region", res.Region})
	}
	if len(res.InstanceIDs) > 0 {
		label := "Instance"
		if aws {
			label = "EC2 instance"
		}
		if len(res.InstanceIDs) > 1 {
			label += "s"
		}
		rows = append(rows, [2]string{label, strings.Join(res.InstanceIDs, ", ")})
	}
	if len(res.IPs) > 0 {
		ips := make([]string, len(res.IPs))
		for i, a := range res.IPs {
			ips[i] = a.String()
		}
		rows = append(rows, [2]string{"IP addresses", strings.Join(ips, ", ")})
	}
	if len(res.SecurityGroups) > 0 {
		rows = append(rows, [2]string{"Security groups", strings.Join(res.SecurityGroups, ", ")})
	}
	if len(res.Projects) > 0 {
		rows = append(rows, [2]string{"Projects", strings.Join(res.Projects, ", ")})
	}
	if len(res.Hosts) > 0 { // an Azure resource ID, a Linode, an OVH server
		rows = append(rows, [2]string{"Servers", strings.Join(res.Hosts, ", ")})
	}
	return rows
}

// evidenceSummary describes the reported evidence in one sentence.
func (d *replyDraft) evidenceSummary() string {
	ev := d.r.Evidence
	n := max(d.r.EvidenceCount, len(ev))
	if n == 0 {
		return ""
	}
	var srcs, dsts []netip.Addr
	var ports []int
	protos := map[string]bool{}
	var first, last time.Time
	for _, e := range ev {
		if e.SrcIP.IsValid() && !slices.Contains(srcs, e.SrcIP) {
			srcs = append(srcs, e.SrcIP)
		}
		if e.DstIP.IsValid() && !slices.Contains(dsts, e.DstIP) {
			dsts = append(dsts, e.DstIP)
		}
		if e.DstPort != 0 && !slices.Contains(ports, int(e.DstPort)) {
			ports = append(ports, int(e.DstPort))
		}
		if e.Proto != "" {
			protos[e.Proto] = true
		}
		if !e.Time.IsZero() {
			if first.IsZero() || e.Time.Before(first) {
				first = e.Time
			}
			if last.IsZero() || e.Time.After(last) {
				last = e.Time
			}
		}
	}
	slices.SortFunc(srcs, func(a, b netip.Addr) int { return a.Compare(b) })
	slices.Sort(ports)
	var b strings.Builder
	fmt.Fprintf(&b, "The report lists %d %s", n, replyPlural(n, "record", "records"))
	if len(srcs) > 0 {
		b.WriteString(" from " + replyAddrs(srcs, 3))
	}
	if len(dsts) > 0 {
		fmt.Fprintf(&b, " to %d %s", len(dsts), replyPlural(len(dsts), "host", "hosts"))
	}
	if len(ports) > 0 {
		proto := ""
		if len(protos) == 1 {
			for p := range protos {
				proto = strings.ToUpper(p) + " "
			}
		}
		ps := make([]string, 0, 5)
		for i, p := range ports {
			if i == 5 {
				ps = append(ps, fmt.Sprintf("and %d more", len(ports)-5))
				break
			}
			ps = append(ps, strconv.Itoa(p))
		}
		fmt.Fprintf(&b, " on %s%s %s", proto, replyPlural(len(ports), "port", "ports"), strings.Join(ps, ", "))
	}
	switch {
	case !first.IsZero() && first.Equal(last):
		b.WriteString(" at " + replyTime(first))
	case !first.IsZero():
		b.WriteString(" between " + replyTime(first) + " and " + replyTime(last))
	}
	if len(ev) < n {
		fmt.Fprintf(&b, " (%d of them read)", len(ev))
	}
	return b.String() + "."
}

func replyPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func replyAddrs(a []netip.Addr, limit int) string {
	var s []string
	for i, x := range a {
		if i == limit {
			s = append(s, fmt.Sprintf("and %d more", len(a)-limit))
			break
		}
		s = append(s, x.String())
	}
	return strings.Join(s, ", ")
}

// prevention lists the prevention steps: derived from the actions, then
// those given with WithPrevention.
func (d *replyDraft) prevention() []string {
	var out []string
	for _, step := range []string{StepRuleRevoked, StepAlarmCreated, StepInstanceLaunched, StepCredentialsRotated, StepPortChanged} {
		if d.has(step) {
			out = arfAppendUnique(out, replyPrevention[step])
		}
	}
	for _, p := range d.o.prevention {
		out = arfAppendUnique(out, replyLine(p))
	}
	return out
}

// openItems are what the Markdown summary flags for the operator.
func (d *replyDraft) openItems() []string {
	var out []string
	switch {
	case d.target() && d.r.Kind == KindMalware:
		out = append(out, "Our instance was the target of malware: find how it got in and what else it changed (users, keys, persistence) before closing.")
	case d.target():
		out = append(out, "Our instance was the target: check whether the attack succeeded (logins accepted from the evidence addresses, new users, keys or processes) before closing.")
	case !d.has(replyStopping...):
		out = append(out, "No action records that the activity was stopped (process-stopped, instance-contained, instance-stopped or instance-terminated).")
	}
	if len(d.r.Resources.Exposures) > 0 && !d.has(StepRuleRevoked) {
		var ex []string
		for _, e := range d.r.Resources.Exposures {
			ex = append(ex, replyExposure(e))
		}
		out = append(out, "The provider reported rules open to the world ("+strings.Join(ex, "; ")+") and no rule-revoked action closes them.")
	}
	var snap time.Time
	for _, a := range d.acts {
		if a.Step == StepSnapshot && snap.IsZero() {
			snap = a.Time
		}
		if a.Step == StepInstanceTerminated && (snap.IsZero() || snap.After(a.Time)) {
			out = append(out, "An instance was terminated at "+replyTime(a.Time)+" with no snapshot recorded before it.")
		}
	}
	for _, ra := range d.r.RequiredActions {
		if strings.Contains(strings.ToLower(ra), "root cause") && d.o.rootCause == "" {
			out = append(out, "The provider requires: "+replyLine(ra)+"; the reply states no root cause (WithRootCause).")
		}
	}
	if len(d.prevention()) == 0 {
		out = append(out, "No prevention step recorded (restricted security groups, CloudWatch alarms, clean rebuild, rotated credentials).")
	}
	return out
}

func replyExposure(e Exposure) string {
	s := strings.ToUpper(arfFirst(e.Proto, "all"))
	if e.Port != 0 {
		s += " port " + strconv.Itoa(int(e.Port))
	}
	return s + " " + arfFirst(e.CIDR, "0.0.0.0/0")
}

func replyMitigation(m Mitigation) string {
	switch m.Action {
	case MitigationStop:
		return "instance stopped (or account suspended) by the provider"
	case MitigationTerminate:
		return "instance terminated by the provider"
	case MitigationIsolate:
		return "all traffic blocked except administrative access"
	}
	port := "all ports"
	if m.Port != 0 {
		port = "port " + strconv.Itoa(int(m.Port))
	}
	return fmt.Sprintf("%s %s %s traffic on %s", arfFirst(m.Action, "block"), strings.ToUpper(arfFirst(m.Direction, "all")), strings.ToUpper(arfFirst(m.Proto, "all")), port)
}

func (d *replyDraft) greeting() string {
	if d.r.Source == SourceTrustAndSafety || (d.r.Provider == ProviderAWS && d.r.Source != SourceGuardDuty) {
		return "Hello AWS Trust & Safety team,"
	}
	return "Hello,"
}

func (d *replyDraft) text() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("%s\n\n", d.greeting())
	intro := "Thank you for the report regarding " + d.caseRef() + " (" + d.activity()
	if d.r.Source == SourceGuardDuty {
		// A finding, not a complaint: the text is the incident note sent to
		// the security team (or quoted to the provider).
		intro = "Regarding GuardDuty finding " + arfFirst(d.r.CaseID, "(no ID)") + " (" + d.activity()
	}
	if !d.r.AbuseTime.IsZero() {
		if d.r.Source == SourceGuardDuty {
			intro += ", first seen " + replyTime(d.r.AbuseTime)
		} else {
			intro += ", abuse time " + replyTime(d.r.AbuseTime)
		}
	}
	intro += ")."
	if d.target() {
		// The instance was probed or attacked: nothing of ours to stop,
		// the question is whether the attack got in.
		intro += " " + d.targetNote()
		switch {
		case d.has(replyStopping...):
			intro += " We investigated and secured the instance. The actions we took are listed below."
		default:
			intro += " We investigated and took the actions listed below."
		}
		w("%s\n", intro)
		d.textBody(w)
		return b.String()
	}
	switch {
	case d.has(replyStopping...) && (d.o.rootCause != "" || len(d.o.findings) > 0):
		intro += " We investigated, found the cause and stopped the activity. The corrective actions we took are listed below."
	case d.has(replyStopping...):
		intro += " We investigated and stopped the activity. The corrective actions we took are listed below."
	default:
		intro += " We investigated and took the corrective actions listed below."
	}
	w("%s\n", intro)
	d.textBody(w)
	return b.String()
}

// target reports whether the report names the resources as the target of
// the activity rather than its source.
func (d *replyDraft) target() bool { return d.r.Role == RoleTarget }

// targetNote says, for a target-role report, which way the activity went.
func (d *replyDraft) targetNote() string {
	who := "The report names"
	if d.r.Source == SourceGuardDuty {
		who = "GuardDuty names"
	}
	if d.r.Kind == KindMalware {
		// Runtime and malware findings name the instance the malware ran
		// on as the TARGET: compromised, not reported attacking others.
		return who + " our instance as the target of this activity: the instance was affected by it, not reported attacking others."
	}
	return who + " our instance as the target of this activity, not its source: it was probed or attacked from the remote addresses in the evidence."
}

// textBody writes the text after the introduction.
func (d *replyDraft) textBody(w func(string, ...any)) {
	if rows := d.resources(); len(rows) > 0 {
		w("\nAffected resources:\n")
		for _, row := range rows {
			w("- %s: %s\n", row[0], row[1])
		}
	}
	if s := d.evidenceSummary(); s != "" {
		w("\n%s\n", s)
	}
	if d.o.rootCause != "" || len(d.o.findings) > 0 {
		w("\nWhat we found:\n")
		if rc := replyLine(d.o.rootCause); rc != "" {
			w("- Root cause: %s\n", rc)
		}
		for _, f := range d.o.findings {
			label := ""
			if f.What != "" {
				label = replyLine(f.What) + ": "
			}
			w("- %s%s\n", label, replyLine(f.Summary))
			for _, det := range f.Details {
				if det = replyLine(det); det != "" {
					w("    %s\n", det)
				}
			}
		}
	}
	w("\nCorrective actions taken (times in UTC):\n")
	for i, a := range d.acts {
		w("%d. %s - %s\n", i+1, replyTime(a.Time), a.Summary)
		for _, e := range a.Evidence {
			w("   - %s\n", e)
		}
	}
	if p := d.prevention(); len(p) > 0 {
		w("\nTo prevent this from happening again:\n")
		for _, s := range p {
			w("- %s\n", s)
		}
	}
	if len(d.r.Mitigations) > 0 && !d.has(StepInstanceTerminated) {
		var ms []string
		for _, m := range d.r.Mitigations {
			if m.Action != MitigationTerminate { // nothing to lift
				ms = append(ms, replyMitigation(m))
			}
		}
		if len(ms) > 0 {
			w("\nThe cause has been removed; we kindly ask you to lift the mitigation applied to our instance (%s).\n", strings.Join(ms, "; "))
		}
	}
	switch {
	case d.target():
		w("\nPlease let us know if you observe any activity originating from these resources.\n\nRegards,\n")
	case d.has(replyStopping...):
		w("\nThe reported activity has stopped. Please let us know if you observe any further activity from these resources.\n\nRegards,\n")
	default:
		w("\nPlease let us know if you observe any further activity from these resources.\n\nRegards,\n")
	}
	if s := strings.TrimSpace(d.o.signature); s != "" {
		w("%s\n", s)
	}
}

// replyCell makes s safe inside a Markdown table cell.
func replyCell(s string) string {
	return strings.ReplaceAll(replyLine(s), "|", `\|`)
}

func (d *replyDraft) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := "Abuse report"
	if d.r.Source == SourceGuardDuty {
		title = "GuardDuty finding"
	}
	if d.r.CaseID != "" {
		title += " " + d.r.CaseID
	}
	w("# %s: %s\n\n", replyCell(title), replyCell(d.activity()))
	w("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			w("| %s | %s |\n", k, replyCell(v))
		}
	}
	row("Case", d.r.CaseID)
	row("Source", string(d.r.Source))
	row("Provider", d.r.Provider)
	row("Kind", string(d.r.Kind))
	row("Reported activity", d.r.Activity)
	switch d.r.Role {
	case RoleActor:
		row("Role", "actor (the activity came from our resources)")
	case RoleTarget:
		row("Role", "target (our resources were on the receiving end: probed, attacked or infected, not the attacker)")
	}
	if sv := d.r.Severity; sv.Label != "" {
		row("Severity", strconv.FormatFloat(sv.Score, 'f', -1, 64)+" ("+sv.Label+")")
	}
	if !d.r.AbuseTime.IsZero() {
		row("Abuse time", replyTime(d.r.AbuseTime))
	}
	if !d.r.Received.IsZero() {
		row("Received", replyTime(d.r.Received))
	}
	if !d.r.Deadline.IsZero() {
		row("Reply due", replyTime(d.r.Deadline))
	}
	row("Reporter", d.r.Reporter)
	for _, r := range d.resources() {
		row(r[0], r[1])
	}
	for _, m := range d.r.Mitigations {
		row("Provider mitigation", replyMitigation(m))
	}
	for _, e := range d.r.Resources.Exposures {
		row("Reported exposure", replyExposure(e))
	}
	if s := d.evidenceSummary(); s != "" {
		w("\n## Reported evidence\n\n%s\n", s)
		ev := d.r.Evidence
		if len(ev) > 0 {
			w("\n| Time (UTC) | Source | Destination | Proto |\n|---|---|---|---|\n")
			for i, e := range ev {
				if i == 10 {
					w("\n…and %d more.\n", max(d.r.EvidenceCount, len(ev))-10)
					break
				}
				t := ""
				if !e.Time.IsZero() {
					t = e.Time.UTC().Format("2006-01-02 15:04:05")
				}
				w("| %s | %s | %s | %s |\n", t, gdHostPort(e.SrcIP, e.SrcPort), gdHostPort(e.DstIP, e.DstPort), replyCell(e.Proto))
			}
		}
	}
	if d.o.rootCause != "" || len(d.o.findings) > 0 {
		w("\n## Findings\n\n")
		if rc := replyLine(d.o.rootCause); rc != "" {
			w("- **Root cause:** %s\n", rc)
		}
		for _, f := range d.o.findings {
			label := ""
			if f.What != "" {
				label = "**" + replyLine(f.What) + ":** "
			}
			w("- %s%s\n", label, replyLine(f.Summary))
			for _, det := range f.Details {
				if det = replyLine(det); det != "" {
					w("  - `%s`\n", strings.ReplaceAll(det, "`", "'"))
				}
			}
		}
	}
	w("\n## Timeline\n\n| Time (UTC) | Step | Action | Evidence |\n|---|---|---|---|\n")
	for _, a := range d.acts {
		w("| %s | %s | %s | %s |\n", a.Time.Format("2006-01-02 15:04:05"), replyCell(a.Step), replyCell(a.Summary), replyCell(strings.Join(a.Evidence, "; ")))
	}
	if p := d.prevention(); len(p) > 0 {
		w("\n## Prevention\n\n")
		for _, s := range p {
			w("- %s\n", s)
		}
	}
	if items := d.openItems(); len(items) > 0 {
		w("\n## Open items\n\n")
		for _, s := range items {
			w("- [ ] %s\n", s)
		}
	}
	return b.String()
}
