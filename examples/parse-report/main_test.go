package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/cli/clitest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parse-report-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "parse-report")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testdata = "../../abuse/testdata/"

func runBin(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// docs splits -json output into its documents (internal/cli's envelope),
// checking each is one; data is kept raw.
type doc struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Prog string          `json:"prog"`
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

func docs(t *testing.T, out string) []doc {
	t.Helper()
	var ds []doc
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var d doc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %.200q: %v", sc.Text(), err)
		}
		if d.V != 1 || d.Prog != "parse-report" || d.Type == "" {
			t.Errorf("line not in the envelope: %.200s", sc.Text())
		}
		ds = append(ds, d)
	}
	return ds
}

// reports is the data of the report documents of -json output.
func reports(t *testing.T, out string) []json.RawMessage {
	t.Helper()
	var rs []json.RawMessage
	for _, d := range docs(t, out) {
		if d.Type == "result" && d.Kind == "report" {
			rs = append(rs, d.Data)
		}
	}
	return rs
}

func TestSummary(t *testing.T) {
	out, errOut, code := runBin(t, nil, "-now", "2023-04-29T12:00:00Z", testdata+"trust-and-safety/followup-no-response.eml", testdata+"trust-and-safety/open-ports-advice.eml", testdata+"trust-and-safety/mitigation-notice.eml")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"trust-and-safety report (aws), kind portscan",
		"case:        17001234567",
		"activity:    Port Scanning",
		"role:        actor (the activity came from these resources)",
		"account:     123456789012  region ap-northeast-2",
		"instances:   i-0123456789abcdef0",
		"abuse time:  2023-04-27T14:46:47Z",
		"deadline:    2023-04-29T18:02:11Z (6h 2m left)",
		"required:    investigate root cause",
		"evidence:    5 records, 5 distinct targets, 4 distinct ports (tcp)",
		"top ports:   22×2 23×1 2375×1 6379×1",
		"    13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023",
		"exposure:    all traffic open to 0.0.0.0/0",
		"exposure:    tcp port 3389 open to ::/0",
		"mitigation:  block outbound tcp port 22",
		"deadline:    2023-04-30T20:15:40Z (1d 8h left)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestSummaryTarget: a GuardDuty finding about an inbound brute force says
// the instance was the target, with the finding's severity.
func TestSummaryTarget(t *testing.T) {
	out, errOut, code := runBin(t, nil, testdata+"guardduty/eventbridge-stream.jsonl")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"activity:    UnauthorizedAccess:EC2/SSHBruteForce\n  role:        target (these resources were probed or attacked, not the attacker)\n  severity:    2 (low)",
		"activity:    Backdoor:EC2/Spambot\n  role:        actor (the activity came from these resources)\n  severity:    5 (medium)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestJSONMatchesParse checks that the streamed -json output, read back,
// is exactly what abuse.Parse returns for every sample.
func TestJSONMatchesParse(t *testing.T) {
	files, _ := filepath.Glob(testdata + "*/*")
	n := 0
	for _, p := range files {
		if strings.HasSuffix(p, ".json") || strings.Contains(p, "/fuzz") {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		want, perr := abuse.Parse(context.Background(), f)
		f.Close()
		if perr != nil {
			continue // not every testdata file is a report (some are broken on purpose)
		}
		n++
		out, errOut, code := runBin(t, nil, "-json", p)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", p, code, errOut)
			continue
		}
		var got []abuse.Report
		for _, d := range reports(t, out) {
			var r abuse.Report
			if err := json.Unmarshal(d, &r); err != nil {
				t.Fatalf("%s: %.200s: %v", p, d, err)
			}
			got = append(got, r)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s: -json differs from Parse (-want +got):\n%s", p, diff)
		}
	}
	if n < 10 {
		t.Errorf("only %d samples parsed", n)
	}
}

func TestStdinAndErrors(t *testing.T) {
	f, err := os.Open(testdata + "trust-and-safety/initial-notice.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, _, code := runBin(t, f, "-")
	if code != 0 || !strings.Contains(out, "stdin #1: trust-and-safety report (aws), kind portscan") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}

	out, errOut, code := runBin(t, strings.NewReader("\x00\x01\x02binary junk\xff"), "-json", "-", testdata+"trust-and-safety/initial-notice.eml", "/nonexistent/notice.eml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	// One line per error, each package prefix once.
	wantErr := "parse-report: -: abuse: unknown report format: input is none of aws-health, guardduty, x-arf, mbox, mail, trust-and-safety, firewall-log, plain\n" +
		"parse-report: /nonexistent/notice.eml: open /nonexistent/notice.eml: no such file or directory\n"
	if errOut != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, wantErr)
	}
	if rs := reports(t, out); len(rs) != 1 || !strings.Contains(string(rs[0]), `"case_id":"17001234567"`) {
		t.Errorf("the good file must still be printed, stdout = %q", out)
	}
	var types []string
	for _, d := range docs(t, out) {
		types = append(types, d.Type)
	}
	if diff := cmp.Diff([]string{"error", "result", "error"}, types); diff != "" {
		t.Errorf("documents in order (-want +got):\n%s", diff)
	}

	// Text no reader takes: the error chain's "abuse: " prefix is printed
	// once (the library's message is "abuse: plain: abuse: unknown …").
	out, errOut, code = runBin(t, strings.NewReader("garbage\n"), "-")
	if want := "parse-report: -: abuse: plain: unknown report format: text names no instance, IP address, case or evidence (formats tried: aws-health, guardduty, x-arf, mbox, mail, trust-and-safety, firewall-log, plain)\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("garbage: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}

	if _, errOut, code := runBin(t, nil); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("no args: exit %d, stderr %q", code, errOut)
	}
}

// TestLargeLogStreams pipes a forwarded log of 200,000 lines through -json
// and checks every record comes out, in order.
func TestLargeLogStreams(t *testing.T) {
	const lines = 200000
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		fmt.Fprint(w, "(attacker's IP) (IP being scanned) (TCP port being scanned)\n")
		for i := 0; i < lines; i++ {
			fmt.Fprintf(w, "13.125.40.201  10.%d.%d.%d  %d  Thu Apr 27 14:%02d:%02d 2023\n", i>>16&255, i>>8&255, i&255, 1+i%1024, i/60%60, i%60)
		}
		w.Flush()
		pw.Close()
	}()
	out, errOut, code := runBin(t, pr, "-json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Evidence      []abuse.Evidence `json:"evidence"`
		EvidenceCount int              `json:"evidence_count"`
		Source        string           `json:"source"`
	}
	rs := reports(t, out)
	if len(rs) != 1 {
		t.Fatalf("%d reports", len(rs))
	}
	if err := json.Unmarshal(rs[0], &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Evidence) != lines || r.EvidenceCount != lines || r.Source != "firewall-log" {
		t.Fatalf("%d records, count %d, source %q", len(r.Evidence), r.EvidenceCount, r.Source)
	}
	if last := r.Evidence[lines-1]; last.DstPort != 1+(lines-1)%1024 {
		t.Errorf("last record %+v", last)
	}
}

// A broken message of an mbox is skipped with a warning on stderr; the
// others are printed and the exit status is 0.
func TestMboxWarning(t *testing.T) {
	notice, err := os.ReadFile(testdata + "trust-and-safety/initial-notice.eml")
	if err != nil {
		t.Fatal(err)
	}
	in := "From a@example.com Thu Apr 27 16:20:31 2023\nbroken header line\n\nx\n\nFrom ec2-abuse@amazon.com Thu Apr 27 16:20:31 2023\n" + string(notice)
	out, errOut, code := runBin(t, strings.NewReader(in), "-json", "-")
	if code != 0 || len(reports(t, out)) != 1 || !strings.Contains(errOut, "level=WARN") || !strings.Contains(errOut, "line=1") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// TestStrictWarnings: a report with warnings prints them (summary; stderr
// and "warnings" with -json) and, with -strict, exits 3; a clean report
// exits 0 under -strict.
func TestStrictWarnings(t *testing.T) {
	mail := "From: ec2-abuse@amazon.com\r\nSubject: Your EC2 Abuse Report [17001234567]\r\nDate: Thu, 27 Apr 2023 15:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nAWS ID: 123456789012 Region: us-east-1 EC2 Instance Id: i-0123456789abcdef0\r\n" +
		"--b\r\nContent-Type: application/x-7z-compressed\r\nContent-Disposition: attachment; filename=\"scan-log.7z\"\r\nContent-Transfer-Encoding: base64\r\n\r\nN3q8ryccAAQ=\r\n--b--\r\n"
	p := filepath.Join(t.TempDir(), "notice.eml")
	if err := os.WriteFile(p, []byte(mail), 0o600); err != nil {
		t.Fatal(err)
	}
	const warning = "unknown-attachment: part 2 (scan-log.7z, application/x-7z-compressed): attachment of a type no reader knows: not read"
	out, errOut, code := runBin(t, nil, p)
	if code != 0 || errOut != "" || !strings.Contains(out, "WARNING:     "+warning) {
		t.Errorf("summary: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if out, errOut, code = runBin(t, nil, "-strict", p); code != 3 || !strings.Contains(out, warning) || !strings.Contains(errOut, "-strict: 1 report(s) with warnings") {
		t.Errorf("-strict: exit %d, stderr %q\n%s", code, errOut, out)
	}
	out, errOut, code = runBin(t, nil, "-json", "-strict", p)
	if code != 3 || errOut != "parse-report: warning: "+p+": report 1: "+warning+"\nparse-report: -strict: 1 report(s) with warnings\n" {
		t.Errorf("-json -strict: exit %d, stderr %q", code, errOut)
	}
	var rep abuse.Report
	if rs := reports(t, out); len(rs) != 1 || json.Unmarshal(rs[0], &rep) != nil || len(rep.Warnings) != 1 || rep.Warnings[0].Code != abuse.WarnUnknownAttachment {
		t.Errorf("-json: warnings %+v\n%s", rep.Warnings, out)
	}
	var types []string
	for _, d := range docs(t, out) {
		types = append(types, d.Type+"/"+d.Kind)
	}
	if diff := cmp.Diff([]string{"result/report", "warning/report", "error/"}, types); diff != "" {
		t.Errorf("-json -strict documents (-want +got):\n%s", diff)
	}
	if _, errOut, code := runBin(t, nil, "-strict", testdata+"trust-and-safety/initial-notice.eml"); code != 0 || errOut != "" {
		t.Errorf("clean notice under -strict: exit %d, stderr %q", code, errOut)
	}
}

// TestGolden pins the human and the JSON output of one notice.
func TestGolden(t *testing.T) {
	p := testdata + "trust-and-safety/initial-notice.eml"
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"initial-notice.golden", []string{"-now", "2023-04-27T18:00:00Z", p}},
		{"initial-notice.json.golden", []string{"-json", p}},
	} {
		out, errOut, code := runBin(t, nil, tc.args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
		// Nothing here varies from run to run: no replacements.
		clitest.Golden(t, tc.golden, nil, out)
	}
}
