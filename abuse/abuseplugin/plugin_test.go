package abuseplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

// cmpOpts compares reports: netip.Addr by value, ParseOutput without its
// encoding cache.
var cmpOpts = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.IgnoreUnexported(ParseOutput{})}

// testdata is abuse's sample reports.
func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, parts...)...)
}

// direct is what abuse.Parse gives for a file with the plugin's defaults.
func direct(t *testing.T, path string, opts ...abuse.Option) []abuse.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reps, err := abuse.Parse(context.Background(), f, append([]abuse.Option{abuse.WithMaxEvidence(DefaultMaxEvidence)}, opts...)...)
	if err != nil {
		t.Fatalf("abuse.Parse(%s): %v", path, err)
	}
	return reps
}

// The adapter adds nothing: every format, read by path, as text and as
// bytes, gives what abuse.Parse gives, after the trip through JSON.
func TestParseIsAbuseParse(t *testing.T) {
	ctx := context.Background()
	parse := NewPlugin()["parse"]
	for _, name := range []string{
		"trust-and-safety/initial-notice.eml",
		"trust-and-safety/initial-notice-latin1.eml",
		"trust-and-safety/followup-no-response.eml",
		"mbox/notices.mbox",
		"guardduty/getfindings-sshbruteforce.json",
		"guardduty/s3-export.jsonl.gz",
		"xarf/xarf4-port-scan.json",
		"arf/spam-abuse.eml",
		"plain/sshd-auth.log",
		"plain/operator-note.txt",
	} {
		t.Run(name, func(t *testing.T) {
			path := testdata(name)
			want := direct(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ins := []ParseInput{{Path: path}, {Data: data}}
			if utf8.Valid(data) { // JSON carries text as UTF-8 only
				ins = append(ins, ParseInput{Text: string(data)})
			}
			for _, in := range ins {
				got, err := plugintest.Apply[ParseOutput](ctx, parse, in)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if diff := cmp.Diff(want, got.Reports, cmpOpts); diff != "" {
					t.Errorf("reports differ from abuse.Parse (-want +got):\n%s", diff)
				}
				if len(want) == 0 {
					t.Fatal("abuse.Parse found no report; pick another sample")
				}
				if wantID := abuse.IncidentID(want[0]); got.IncidentID != wantID {
					t.Errorf("incident id %q, want %q", got.IncidentID, wantID)
				}
			}
		})
	}
}

// Options reach abuse.Parse: the reference time (a pasted follow-up's
// deadline counts from it) and max_evidence.
func TestParseOptions(t *testing.T) {
	ctx := context.Background()
	parse := NewPlugin()["parse"]
	path := testdata("plain", "pasted-followup.txt")
	ref := time.Date(2023, 4, 28, 9, 0, 0, 0, time.UTC)
	want := direct(t, path, abuse.WithReferenceTime(ref))
	got, err := plugintest.Apply[ParseOutput](ctx, parse, ParseInput{Path: path, ReferenceTime: ref})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Reports, cmpOpts); diff != "" {
		t.Errorf("with reference time (-want +got):\n%s", diff)
	}
	without := direct(t, path)
	if cmp.Equal(want, without, cmpOpts) {
		t.Fatal("the reference time changes nothing in this sample; the test cannot fail")
	}

	path = testdata("trust-and-safety", "initial-notice.eml")
	want = direct(t, path, abuse.WithMaxEvidence(1))
	got, err = plugintest.Apply[ParseOutput](ctx, parse, ParseInput{Path: path, MaxEvidence: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Reports, cmpOpts); diff != "" {
		t.Errorf("max_evidence 1 (-want +got):\n%s", diff)
	}
	if len(got.Reports[0].Evidence) != 1 || got.Reports[0].EvidenceCount != 3 {
		t.Errorf("max_evidence 1: %d kept of %d", len(got.Reports[0].Evidence), got.Reports[0].EvidenceCount)
	}
}

func TestParsePlan(t *testing.T) {
	ctx := context.Background()
	parse := NewPlugin()["parse"]
	path, err := filepath.Abs(testdata("trust-and-safety", "initial-notice.eml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := plugintest.Plan(ctx, parse, ParseInput{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	wantDetail := fmt.Sprintf("%d bytes: 1 report(s) [trust-and-safety], 3 evidence record(s), incident 17001234567", st.Size())
	want := []plugin.Change{{Kind: plugin.ChangeRead, Target: path, Detail: wantDetail}}
	if diff := cmp.Diff(want, plan.Changes); diff != "" {
		t.Errorf("plan changes (-want +got):\n%s", diff)
	}
	if !strings.Contains(plan.Summary, "read-only") || !strings.Contains(plan.Summary, path) {
		t.Errorf("summary %q", plan.Summary)
	}

	// An mbox: every message counted, the sources found named.
	plan, err = plugintest.Plan(ctx, parse, ParseInput{Path: testdata("mbox", "notices.mbox")})
	if err != nil {
		t.Fatal(err)
	}
	reps := direct(t, testdata("mbox", "notices.mbox"))
	if !strings.Contains(plan.Changes[0].Detail, fmt.Sprintf(" %d report(s) ", len(reps))) {
		t.Errorf("mbox plan %q, want %d reports", plan.Changes[0].Detail, len(reps))
	}

	// Inline text.
	plan, err = plugintest.Plan(ctx, parse, ParseInput{Text: "Instance i-0123456789abcdef0 at 198.51.100.7 was scanning port 22.\n"})
	if err != nil || len(plan.Changes) != 1 || plan.Changes[0].Target != "text" {
		t.Errorf("text plan: %+v, %v", plan, err)
	}
}

// Bad input fails with an error that keeps its identity, in Plan and in
// Apply, and never blocks.
func TestParseRefusals(t *testing.T) {
	ctx := context.Background()
	parse := NewPlugin()["parse"]
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	if err := os.WriteFile(junk, []byte{0, 1, 2, 3, 0xff, 0xfe, '\n', 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	longLine := filepath.Join(dir, "long-line.txt")
	if err := os.WriteFile(longLine, append(bytes.Repeat([]byte("a"), 4096), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	notice := testdata("trust-and-safety", "initial-notice.eml")
	for _, tc := range []struct {
		name  string
		in    ParseInput
		want  error
		apply bool // Apply only (Plan would fail the same way)
	}{
		{"junk", ParseInput{Path: junk}, abuse.ErrUnknownFormat, false},
		{"junk bytes", ParseInput{Data: []byte{0, 0, 0, 0xff}}, abuse.ErrUnknownFormat, false},
		{"empty file", ParseInput{Path: empty}, abuse.ErrUnknownFormat, false},
		{"file over max_bytes", ParseInput{Path: notice, Limits: Limits{MaxBytes: 100}}, abuse.ErrTooLarge, false},
		{"text over max_bytes", ParseInput{Text: strings.Repeat("x", 200), Limits: Limits{MaxBytes: 100}}, abuse.ErrTooLarge, false},
		{"line over max_line_bytes", ParseInput{Path: longLine, Limits: Limits{MaxLineBytes: 1024}}, abuse.ErrTooLarge, false},
		{"fifo", ParseInput{Path: fifo}, plugin.ErrInvalidInput, false},
		{"directory", ParseInput{Path: dir}, plugin.ErrInvalidInput, false},
		{"missing", ParseInput{Path: filepath.Join(dir, "missing")}, os.ErrNotExist, true},
		{"nothing", ParseInput{}, plugin.ErrInvalidInput, false},
		{"path and text", ParseInput{Path: notice, Text: "x"}, plugin.ErrInvalidInput, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if !tc.apply {
				if _, err := plugintest.Plan(ctx, parse, tc.in); !errors.Is(err, tc.want) {
					t.Errorf("plan: err = %v, want %v", err, tc.want)
				}
			}
			_, err := plugintest.Apply[ParseOutput](ctx, parse, tc.in)
			if tc.want == os.ErrNotExist {
				// An unregistered error crosses as text.
				if err == nil || !strings.Contains(err.Error(), "no such file") {
					t.Errorf("apply: err = %v, want a missing file", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("apply: err = %v, want %v", err, tc.want)
			}
		})
	}
}

// An output the transport could not carry is refused with a hint, as
// ErrTooLarge; with evidence capped the same input goes through.
func TestParseOutputTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-line log")
	}
	var b bytes.Buffer
	b.WriteString("(attacker's IP) (IP being scanned) (TCP port being scanned)\n")
	for i := range 200000 {
		fmt.Fprintf(&b, "13.125.40.201  192.0.%d.%d  22  Thu Apr 27 14:%02d:%02d 2023\n", i/250%250, i%250, i/60%60, i%60)
	}
	path := filepath.Join(t.TempDir(), "scan.log")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := NewPlugin()["parse"]
	_, err := plugintest.Apply[ParseOutput](context.Background(), parse, ParseInput{Path: path, MaxEvidence: -1})
	if !errors.Is(err, abuse.ErrTooLarge) || !strings.Contains(err.Error(), "max_evidence") {
		t.Fatalf("no evidence cap: err = %v, want ErrTooLarge naming max_evidence", err)
	}
	out, err := plugintest.Apply[ParseOutput](context.Background(), parse, ParseInput{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reports) != 1 || len(out.Reports[0].Evidence) != DefaultMaxEvidence || out.Reports[0].EvidenceCount != 200000 {
		t.Errorf("default cap: %d reports, %d evidence kept of %d", len(out.Reports), len(out.Reports[0].Evidence), out.Reports[0].EvidenceCount)
	}
}

// replyInput is the seed incident's first round of corrective actions.
func replyInput(t *testing.T) ReplyInput {
	t.Helper()
	reps := direct(t, testdata("trust-and-safety", "initial-notice.eml"))
	at := func(hms string) time.Time {
		tm, err := time.Parse(time.DateTime, "2023-04-27 "+hms)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	return ReplyInput{
		Report: reps[0],
		Actions: []abuse.Action{
			{Time: at("17:02:15"), Step: abuse.StepProcessStopped, Summary: "Captured and killed the scanning process (PID 2314, /tmp/.ICE-unix/work32)",
				Evidence: []string{"sha256:9f2b5c0e1d4a7b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}},
			{Time: at("17:05:40"), Step: abuse.StepPersistenceRemoved, Evidence: []string{"*/5 * * * * /tmp/.ICE-unix/work32"}},
			{Time: at("17:41:00"), Step: abuse.StepRuleRevoked, Evidence: []string{"sg-0a1b2c3d4e5f60718: ALL 0.0.0.0/0 revoked"}},
		},
		Findings:   []abuse.Finding{{What: "process", Summary: "PID 2314 /tmp/.ICE-unix/work32 scanning TCP 22", Details: []string{"cmdline: ./work32 -t 512 -p 22"}}},
		RootCause:  "SSH on port 22 was open to 0.0.0.0/0 with password authentication.",
		Prevention: []string{"Password authentication is disabled for SSH."},
		Signature:  "Jane Doe, Example Corp operations",
	}
}

func draftDirect(t *testing.T, in ReplyInput) abuse.Reply {
	t.Helper()
	r, err := abuse.DraftReply(in.Report, in.Actions, abuse.WithFindings(in.Findings...), abuse.WithRootCause(in.RootCause),
		abuse.WithPrevention(in.Prevention...), abuse.WithSignature(in.Signature))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReplyIsDraftReply(t *testing.T) {
	ctx := context.Background()
	reply := NewPlugin()["reply"]
	in := replyInput(t)
	want := draftDirect(t, in)
	got, err := plugintest.Apply[ReplyOutput](ctx, reply, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ReplyOutput{Reply: want}, got); diff != "" {
		t.Errorf("reply differs from abuse.DraftReply (-want +got):\n%s", diff)
	}
	for _, s := range []string{in.RootCause, in.Prevention[0], in.Signature, in.Findings[0].Summary} {
		if !strings.Contains(got.Text, s) {
			t.Errorf("text lacks %q", s)
		}
	}
	plan, err := plugintest.Plan(ctx, reply, in)
	if err != nil || len(plan.Changes) != 0 || !strings.Contains(plan.Summary, "writes nothing") {
		t.Errorf("plan without output_dir: %+v, %v", plan, err)
	}
	// No actions: ErrNoActions, already in the plan.
	in.Actions = nil
	if _, err := plugintest.Plan(ctx, reply, in); !errors.Is(err, abuse.ErrNoActions) {
		t.Errorf("plan: err = %v, want ErrNoActions", err)
	}
	if _, err := plugintest.Apply[ReplyOutput](ctx, reply, in); !errors.Is(err, abuse.ErrNoActions) {
		t.Errorf("apply: err = %v, want ErrNoActions", err)
	}
}

func TestReplyFiles(t *testing.T) {
	ctx := context.Background()
	reply := NewPlugin()["reply"]
	dir := t.TempDir()
	in := replyInput(t)
	in.OutputDir = dir
	want := draftDirect(t, in)
	txt, md := filepath.Join(dir, "17001234567-reply.txt"), filepath.Join(dir, "17001234567-summary.md")
	wantFiles := map[string]string{txt: "Subject: " + want.Subject + "\n\n" + want.Text, md: want.Markdown}

	// Plan names the files and writes nothing.
	plan, err := plugintest.Plan(ctx, reply, in)
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []plugin.Change{
		{Kind: plugin.ChangeCreate, Target: txt, Detail: fmt.Sprintf("%d bytes, mode 0600", len(wantFiles[txt]))},
		{Kind: plugin.ChangeCreate, Target: md, Detail: fmt.Sprintf("%d bytes, mode 0600", len(wantFiles[md]))},
	}
	if diff := cmp.Diff(wantChanges, plan.Changes); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("plan wrote %d files", len(ents))
	}

	got, err := plugintest.Apply[ReplyOutput](ctx, reply, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ReplyOutput{Reply: want, Files: []string{txt, md}}, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	checkFiles := func(want map[string]string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		if len(ents) != len(want) {
			t.Errorf("%d entries in the output dir, want %d (no temporary files left)", len(ents), len(want))
		}
		for p, w := range want {
			b, err := os.ReadFile(p)
			if err != nil || string(b) != w {
				t.Errorf("%s: %v\n%s", p, err, b)
			}
			if st, err := os.Stat(p); err == nil && st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v", p, st.Mode())
			}
		}
	}
	checkFiles(wantFiles)

	// The same step again (a resume): nothing to do, not an error.
	plan, err = plugintest.Plan(ctx, reply, in)
	if err != nil || len(plan.Changes) != 0 {
		t.Errorf("plan of a re-run: %+v, %v", plan, err)
	}
	if got, err := plugintest.Apply[ReplyOutput](ctx, reply, in); err != nil || len(got.Files) != 2 {
		t.Errorf("re-run: %+v, %v", got.Files, err)
	}
	checkFiles(wantFiles)

	// Another draft: refused, in the plan and in the apply, nothing touched.
	in.Signature = "John Roe, Example Corp security"
	if _, err := plugintest.Plan(ctx, reply, in); !errors.Is(err, ErrExists) {
		t.Errorf("plan over other drafts: err = %v, want ErrExists", err)
	}
	if _, err := plugintest.Apply[ReplyOutput](ctx, reply, in); !errors.Is(err, ErrExists) {
		t.Errorf("apply over other drafts: err = %v, want ErrExists", err)
	}
	checkFiles(wantFiles)

	// Asked to overwrite: replaced.
	in.Overwrite = true
	want = draftDirect(t, in)
	plan, err = plugintest.Plan(ctx, reply, in)
	if err != nil || len(plan.Changes) != 1 || plan.Changes[0].Kind != plugin.ChangeUpdate || plan.Changes[0].Target != txt {
		t.Errorf("plan with overwrite (the summary has no signature): %+v, %v", plan, err)
	}
	if _, err := plugintest.Apply[ReplyOutput](ctx, reply, in); err != nil {
		t.Fatal(err)
	}
	checkFiles(map[string]string{txt: "Subject: " + want.Subject + "\n\n" + want.Text, md: want.Markdown})

	// Not a directory.
	in.OutputDir = txt
	if _, err := plugintest.Plan(ctx, reply, in); !errors.Is(err, plugin.ErrInvalidInput) {
		t.Errorf("output_dir a file: err = %v", err)
	}
}

// A link at a draft's name is never followed nor replaced, even with
// overwrite: the draft could otherwise land wherever the link points.
func TestReplyDoesNotFollowLinks(t *testing.T) {
	ctx := context.Background()
	dir, elsewhere := t.TempDir(), t.TempDir()
	target := filepath.Join(elsewhere, "authorized_keys")
	if err := os.WriteFile(target, []byte("ssh-ed25519 AAAA ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "17001234567-reply.txt")); err != nil {
		t.Fatal(err)
	}
	in := replyInput(t)
	in.OutputDir, in.Overwrite = dir, true
	if _, err := plugintest.Plan(ctx, NewPlugin()["reply"], in); !errors.Is(err, ErrExists) {
		t.Errorf("plan: err = %v, want ErrExists", err)
	}
	if _, err := plugintest.Apply[ReplyOutput](ctx, NewPlugin()["reply"], in); !errors.Is(err, ErrExists) {
		t.Errorf("apply: err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "ssh-ed25519 AAAA ops\n" {
		t.Errorf("link target changed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries in the output dir, want the link alone", len(ents))
	}
}
