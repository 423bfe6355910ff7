package abuse

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func replyAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// replyTNSReport is the Trust & Safety notice of the seed incident as the
// mail parser reads it (testdata/trust-and-safety/initial-notice.eml, with
// the follow-ups' mitigation and open-ports advice merged in).
func replyTNSReport() Report {
	ip := netip.MustParseAddr
	return Report{
		Provider:  ProviderAWS,
		Source:    SourceTrustAndSafety,
		Kind:      KindPortScan,
		CaseID:    "17001234567",
		AccountID: "123456789012",
		AbuseTime: replyAt("2023-04-27T14:46:47Z"),
		Deadline:  replyAt("2023-04-28T16:20:31Z"),
		Received:  replyAt("2023-04-27T16:20:31Z"),
		Resources: Resources{
			InstanceIDs: []string{"i-0123456789abcdef0"},
			Region:      "ap-northeast-2",
			IPs:         []netip.Addr{ip("13.125.40.201")},
			Exposures:   []Exposure{{Port: 0, Proto: "all", CIDR: "0.0.0.0/0"}},
		},
		Evidence: []Evidence{
			{Time: replyAt("2023-04-27T14:46:47Z"), SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.15"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"},
			{Time: replyAt("2023-04-27T14:46:48Z"), SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.16"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.16  22  Thu Apr 27 14:46:48 2023"},
			{Time: replyAt("2023-04-27T14:46:55Z"), SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.40"), DstPort: 23, Proto: "tcp", Raw: "13.125.40.201  192.0.2.40  23  Thu Apr 27 14:46:55 2023"},
		},
		EvidenceCount:   3,
		Mitigations:     []Mitigation{{Action: "block", Direction: "outbound", Proto: "tcp", Port: 22}},
		RequiredActions: []string{"investigate root cause"},
		Reporter:        "AWS Trust & Safety <ec2-abuse@amazon.com>",
		Subject:         "Your EC2 Abuse Report [17001234567] [AWS ID 123456789012]",
		Activity:        "Port Scanning",
	}
}

var replyWork32Findings = []Finding{
	{What: "process", Summary: "PID 2314 /tmp/.ICE-unix/work32 (running as ec2-user) had 1,874 outbound connections in SYN_SENT to port 22 of random hosts",
		Details: []string{"cmdline: ./work32 -t 512 -p 22", "sha256: 9f2b5c0e1d4a7b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}},
	{What: "persistence", Summary: "two crontab entries of ec2-user restarting the scanner every 5 minutes",
		Details: []string{"*/5 * * * * /tmp/.ICE-unix/work32 >/dev/null 2>&1", "@reboot /tmp/.ICE-unix/.update.sh"}},
}

// replyWork32Actions are both rounds of the seed incident, deliberately out
// of order.
func replyWork32Actions() []Action {
	return []Action{
		{Time: replyAt("2023-04-28T09:30:00Z"), Step: StepInstanceLaunched, Evidence: []string{"i-0fedcba9876543210 from ami-0c9c942bd7bf113a2 (Amazon Linux 2023, 2023-04-20)"}},
		{Time: replyAt("2023-04-27T17:02:11Z"), Step: StepEvidenceCaptured, Evidence: []string{"/var/lib/abusekit/17001234567/proc-2314.tar.zst"}},
		{Time: replyAt("2023-04-27T17:02:15Z"), Step: StepProcessStopped, Summary: "Froze, captured and killed the scanning process (PID 2314, /tmp/.ICE-unix/work32)",
			Evidence: []string{"sha256:9f2b5c0e1d4a7b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}},
		{Time: replyAt("2023-04-27T17:05:40Z"), Step: StepPersistenceRemoved, Summary: "Removed the two crontab entries and the malware files (quarantined)",
			Evidence: []string{"crontab ec2-user: */5 * * * * /tmp/.ICE-unix/work32 >/dev/null 2>&1", "crontab ec2-user: @reboot /tmp/.ICE-unix/.update.sh"}},
		{Time: replyAt("2023-04-27T17:10:00Z"), Step: StepPortChanged, Summary: "Moved sshd from port 22 to port 22022"},
		{Time: replyAt("2023-04-28T09:00:05Z"), Step: StepSnapshot, Evidence: []string{"snap-0a1b2c3d4e5f60718 (vol-0a1b2c3d4e5f60718, /dev/xvda, completed)"}},
		{Time: replyAt("2023-04-28T09:12:00Z"), Step: StepDataBackedUp, Summary: "Backed up the application data over the EC2 serial console"},
		{Time: replyAt("2023-04-28T09:41:00Z"), Step: StepRuleRevoked, Evidence: []string{"sg-0a1b2c3d4e5f60718: ALL 0.0.0.0/0 revoked", "sg-0a1b2c3d4e5f60718: TCP 22 from 203.0.113.0/28 (office) added"}},
		{Time: replyAt("2023-04-28T09:45:00Z"), Step: StepAlarmCreated, Evidence: []string{"i-0fedcba9876543210 NetworkPacketsOut > 50,000/5 min", "i-0fedcba9876543210 CPUUtilization > 90% for 15 min"}},
		{Time: replyAt("2023-04-28T09:50:00Z"), Step: StepInstanceTerminated, Evidence: []string{"i-0123456789abcdef0 (termination after snapshot snap-0a1b2c3d4e5f60718 completed)"}},
		{Time: replyAt("2023-04-28T09:55:00Z"), Step: StepCredentialsRotated, Summary: "Rotated the SSH key pair and the database password used on the old instance"},
	}
}

func TestDraftReplyGolden(t *testing.T) {
	gd, err := os.ReadFile("testdata/guardduty/getfindings-sshbruteforce.json")
	if err != nil {
		t.Fatal(err)
	}
	gdReps, err := ParseGuardDuty(context.Background(), strings.NewReader(string(gd)))
	if err != nil {
		t.Fatal(err)
	}
	firstRound := replyWork32Actions()[1:5]
	target := gdTargetReport(t)
	tests := []struct {
		name    string
		report  Report
		actions []Action
		opts    []ReplyOption
	}{
		{"tns-portscan-full", replyTNSReport(), replyWork32Actions(), []ReplyOption{
			WithFindings(replyWork32Findings...),
			WithRootCause("SSH on port 22 was open to 0.0.0.0/0 with password authentication; the ec2-user password was guessed."),
			WithPrevention("Password authentication for SSH is disabled; only key pairs are accepted."),
			WithSignature("Jane Doe\nOperations, Example Corp"),
		}},
		// The seed's first round: the activity stopped, the open security
		// group not yet closed, the provider's port-22 block still on.
		{"tns-portscan-first-round", replyTNSReport(), firstRound, []ReplyOption{WithFindings(replyWork32Findings...)}},
		{"guardduty-ssh-bruteforce", gdReps[0], []Action{
			{Time: replyAt("2026-11-02T09:40:00Z"), Step: StepInstanceContained, Evidence: []string{"sg-0quarantine00000001 attached; sg-0123abcd4567ef890 detached"}},
			{Time: replyAt("2026-11-02T09:41:30Z"), Step: StepSnapshot, Evidence: []string{"snap-0ffff000011112222 (vol-0abc, completed)"}},
			{Time: replyAt("2026-11-02T09:58:00Z"), Step: StepCredentialsRotated},
		}, nil},
		// GuardDuty's resourceRole TARGET: the instance was brute-forced,
		// it did not attack anyone.
		{"guardduty-ssh-bruteforce-target", target, []Action{
			{Time: replyAt("2026-11-04T06:50:00Z"), Step: StepRuleRevoked, Evidence: []string{"sg-0123abcd4567ef890: tcp/22 from 0.0.0.0/0"}},
			{Time: replyAt("2026-11-04T06:55:00Z"), Step: "logins-reviewed", Summary: "Reviewed sshd logs: no login accepted from 192.0.2.201"},
		}, nil},
		{"terminated-without-snapshot", Report{Provider: ProviderAWS, Source: SourceTrustAndSafety, Kind: KindDDoS, CaseID: "17009999999",
			Resources: Resources{InstanceIDs: []string{"i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"}, Region: "us-east-1"}},
			[]Action{{Time: replyAt("2026-01-02T03:04:05Z"), Step: StepInstanceTerminated}, {Time: replyAt("2026-01-02T04:00:00Z"), Step: "waf-enabled", Summary: "Put the | service behind a WAF"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DraftReply(tt.report, tt.actions, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("reply", tt.name+".txt"), []byte("Subject: "+got.Subject+"\n\n"+got.Text))
			checkGolden(t, filepath.Join("reply", tt.name+".md"), []byte(got.Markdown))
		})
	}
}

// TestDraftReplyContent checks what the reply must say, independently of
// the golden files.
func TestDraftReplyContent(t *testing.T) {
	full, err := DraftReply(replyTNSReport(), replyWork32Actions(), WithFindings(replyWork32Findings...),
		WithRootCause("SSH password authentication open to the world; a weak password was guessed."))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"case 17001234567", "i-0123456789abcdef0", "ap-northeast-2", "123456789012", "13.125.40.201",
		"2023-04-27 17:02:15 UTC - Froze, captured and killed the scanning process",
		"snap-0a1b2c3d4e5f60718", "sg-0a1b2c3d4e5f60718: ALL 0.0.0.0/0 revoked", "@reboot /tmp/.ICE-unix/.update.sh",
		"administrative ports (SSH 22, RDP 3389)", "CloudWatch alarms", "The reported activity has stopped.",
		"The report lists 3 records from 13.125.40.201 to 3 hosts on TCP ports 22, 23 between 2023-04-27 14:46:47 UTC and 2023-04-27 14:46:55 UTC.",
	} {
		if !strings.Contains(full.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// Actions come out in time order.
	if i, j := strings.Index(full.Text, "Captured evidence"), strings.Index(full.Text, "Launched a replacement"); i < 0 || j < 0 || i > j {
		t.Errorf("actions out of order (evidence at %d, launch at %d)", i, j)
	}
	// The instance was replaced: no request to lift the block on the old one.
	if strings.Contains(full.Text, "lift the mitigation") {
		t.Error("asks to lift the mitigation of a terminated instance")
	}
	if strings.Contains(full.Markdown, "## Open items") {
		t.Errorf("full response still has open items:\n%s", full.Markdown)
	}

	first, err := DraftReply(replyTNSReport(), replyWork32Actions()[1:5])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.Text, "lift the mitigation applied to our instance (block OUTBOUND TCP traffic on port 22)") {
		t.Errorf("first round does not ask to lift the port 22 block:\n%s", first.Text)
	}
	if !strings.Contains(first.Markdown, "(ALL 0.0.0.0/0) and no rule-revoked action closes them") {
		t.Errorf("first round does not flag the open security group:\n%s", first.Markdown)
	}
	if !strings.Contains(first.Markdown, "The provider requires: investigate root cause") {
		t.Errorf("first round does not flag the missing root cause:\n%s", first.Markdown)
	}
	if strings.Contains(first.Markdown, "No prevention step") {
		t.Errorf("port change is a prevention step:\n%s", first.Markdown)
	}

	none, err := DraftReply(Report{CaseID: "1"}, []Action{{Time: replyAt("2026-01-01T00:00:00Z"), Step: StepSnapshot}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No action records that the activity was stopped", "No prevention step recorded"} {
		if !strings.Contains(none.Markdown, want) {
			t.Errorf("markdown lacks open item %q", want)
		}
	}
	if strings.Contains(none.Text, "has stopped") {
		t.Error("claims the activity stopped without a stopping action")
	}
}

func TestDraftReplyDeterministic(t *testing.T) {
	acts := replyWork32Actions()
	a, err := DraftReply(replyTNSReport(), acts, WithFindings(replyWork32Findings...))
	if err != nil {
		t.Fatal(err)
	}
	// Reversed input, times in another zone: same reply.
	rev := make([]Action, len(acts))
	seoul := time.FixedZone("KST", 9*3600)
	for i, x := range acts {
		x.Time = x.Time.In(seoul)
		rev[len(acts)-1-i] = x
	}
	b, err := DraftReply(replyTNSReport(), rev, WithFindings(replyWork32Findings...))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("reply depends on input order or zone (-a +b):\n%s", d)
	}
	if acts[0].Step != StepInstanceLaunched {
		t.Error("DraftReply reordered the caller's slice")
	}
}

func TestDraftReplyErrors(t *testing.T) {
	r := replyTNSReport()
	if _, err := DraftReply(r, nil); !errors.Is(err, ErrNoActions) {
		t.Errorf("no actions: err = %v, want ErrNoActions", err)
	}
	if _, err := DraftReply(r, []Action{}); !errors.Is(err, ErrNoActions) {
		t.Errorf("empty actions: err = %v, want ErrNoActions", err)
	}
	if _, err := DraftReply(r, []Action{{Step: StepSnapshot}}); err == nil || !strings.Contains(err.Error(), "no time") {
		t.Errorf("zero time: err = %v", err)
	}
	if _, err := DraftReply(r, []Action{{Time: replyAt("2026-01-01T00:00:00Z"), Step: "custom-thing"}}); err == nil || !strings.Contains(err.Error(), "needs a Summary") {
		t.Errorf("unknown step without summary: err = %v", err)
	}
	if _, err := DraftReply(r, []Action{{Time: replyAt("2026-01-01T00:00:00Z"), Step: "custom-thing", Summary: "Did the custom thing"}}); err != nil {
		t.Errorf("custom step with summary: %v", err)
	}
}

// gdTargetReport is the inbound SSHBruteForce finding (resourceRole
// TARGET) of the EventBridge sample.
func gdTargetReport(t *testing.T) Report {
	t.Helper()
	data, err := os.ReadFile("testdata/guardduty/eventbridge-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := ParseGuardDuty(context.Background(), strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if r.Role != RoleTarget || r.Activity != "UnauthorizedAccess:EC2/SSHBruteForce" {
		t.Fatalf("sample's first finding: role %q activity %q, want an inbound SSHBruteForce", r.Role, r.Activity)
	}
	return r
}

// TestDraftReplyTarget: a reply about a target-role report says the
// instance was attacked, not the attacker, and never that "the reported
// activity has stopped"; the actor-role reply keeps its wording.
func TestDraftReplyTarget(t *testing.T) {
	acts := []Action{{Time: replyAt("2026-11-04T06:50:00Z"), Step: StepInstanceContained}}
	target := gdTargetReport(t)
	got, err := DraftReply(target, acts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GuardDuty names our instance as the target of this activity, not its source", "We investigated and secured the instance.", "any activity originating from these resources"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("target text lacks %q:\n%s", want, got.Text)
		}
	}
	for _, not := range []string{"The reported activity has stopped", "stopped the activity"} {
		if strings.Contains(got.Text, not) {
			t.Errorf("target text says %q:\n%s", not, got.Text)
		}
	}
	for _, want := range []string{"| Role | target (our resources were on the receiving end: probed, attacked or infected, not the attacker) |", "| Severity | 2 (low) |", "check whether the attack succeeded"} {
		if !strings.Contains(got.Markdown, want) {
			t.Errorf("target markdown lacks %q:\n%s", want, got.Markdown)
		}
	}
	if strings.Contains(got.Markdown, "No action records that the activity was stopped") {
		t.Errorf("target markdown asks to stop the activity:\n%s", got.Markdown)
	}

	// A malware finding on the instance (Runtime Monitoring names it
	// TARGET): affected, not "probed or attacked".
	mal := target
	mal.Kind = KindMalware
	got, err = DraftReply(mal, acts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "the instance was affected by it, not reported attacking others") || strings.Contains(got.Text, "probed or attacked from") ||
		!strings.Contains(got.Markdown, "target of malware: find how it got in") {
		t.Errorf("malware target reply:\n%s\n%s", got.Text, got.Markdown)
	}

	actor := target
	actor.Role = RoleActor
	got, err = DraftReply(actor, acts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "The reported activity has stopped.") || strings.Contains(got.Text, "as the target") {
		t.Errorf("actor text:\n%s", got.Text)
	}
	if !strings.Contains(got.Markdown, "| Role | actor (the activity came from our resources) |") {
		t.Errorf("actor markdown:\n%s", got.Markdown)
	}
}

// TestDraftReplyProviderStopped: a report whose provider stopped or
// terminated the instance, or isolated it, is named in words in the reply
// (not "stop ALL ALL traffic on all ports"), and a termination is not asked
// to be lifted.
func TestDraftReplyProviderStopped(t *testing.T) {
	acts := replyWork32Actions()[1:5]
	for _, tt := range []struct {
		m            Mitigation
		want, reject string
	}{
		{Mitigation{Action: MitigationStop}, "lift the mitigation applied to our instance (instance stopped (or account suspended) by the provider)", "ALL ALL"},
		{Mitigation{Action: MitigationIsolate, Direction: "all", Proto: "all"}, "lift the mitigation applied to our instance (all traffic blocked except administrative access)", "ALL ALL"},
		{Mitigation{Action: MitigationTerminate}, "| Provider mitigation | instance terminated by the provider |", "lift the mitigation"},
	} {
		r := replyTNSReport()
		r.Mitigations = []Mitigation{tt.m}
		rep, err := DraftReply(r, acts)
		if err != nil {
			t.Fatal(err)
		}
		all := rep.Text + rep.Markdown
		if !strings.Contains(all, tt.want) || strings.Contains(all, tt.reject) {
			t.Errorf("%s: want %q, not %q, in:\n%s\n%s", tt.m.Action, tt.want, tt.reject, rep.Text, rep.Markdown)
		}
	}
}

// TestDraftReplyOtherProviders: the reply names the resources other
// providers' notices give: an Azure subscription and resource ID, Google
// Cloud projects.
func TestDraftReplyOtherProviders(t *testing.T) {
	r := parseOneFile(t, "testdata/providers/azure-abuse-notice.eml")
	rep, err := DraftReply(r, replyWork32Actions()[1:5])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Azure subscription | 3f2a9c41-7d6e-4b8a-a1c2-9e8d7f6a5b4c |",
		"| Servers | /subscriptions/3f2a9c41-7d6e-4b8a-a1c2-9e8d7f6a5b4c/resourceGroups/shop-prod/providers/Microsoft.Compute/virtualMachines/web-01 |",
	} {
		if !strings.Contains(rep.Markdown, want) {
			t.Errorf("markdown lacks %q:\n%s", want, rep.Markdown)
		}
	}
	g := parseOneFile(t, "testdata/providers/gcp-action-required.eml")
	rep, err = DraftReply(g, replyWork32Actions()[1:5])
	if err != nil {
		t.Fatal(err)
	}
	if want := "| Projects | my-shop-prod-4711, 625834285688 |"; !strings.Contains(rep.Markdown, want) {
		t.Errorf("markdown lacks %q:\n%s", want, rep.Markdown)
	}
}
