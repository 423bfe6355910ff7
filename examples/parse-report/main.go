// Command parse-report reads abuse reports (a Trust & Safety mail, an mbox,
// a GuardDuty finding, ARF, X-ARF, a bare evidence log or pasted text) and
// prints what they say.
//
//	parse-report [-json] [-strict] [-v] [-evidence N] FILE... | -
//
// By default it prints a summary a responder reads first: kind, case,
// account, region, instances, abuse time, deadline and the time left,
// the provider's mitigations, the exposures it pointed at, and the evidence
// (count, first lines, distinct targets and ports). With -json it prints one
// JSON document per line on stdout in internal/cli's envelope: per report
// {"v":1,"type":"result","prog":"parse-report","kind":"report","data":…}
// with the abuse.Report model as data, streaming the evidence so that a
// forwarded log of any size is printed in full in bounded memory. What a
// parser could not read or use (an unreadable MIME part, an attachment of an
// unknown type, a report with no evidence and no resources) is listed as a
// warning: in the summary; with -json in the report's "warnings", as a
// "warning" document and on stderr. Errors are one line
// "parse-report: FILE: message" on stderr (and an "error" document with
// -json); the exit status is 1 when a file could not be read, 2 on bad
// usage, and 3 with -strict when a report has warnings (and nothing worse
// happened).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/internal/cli"
)

const prog = "parse-report"

// exitWarnings is the exit status of -strict when a report has warnings.
const exitWarnings = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parse-report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON document per report per line")
	show := fs.Int("evidence", 5, "evidence lines shown in the summary")
	nowFlag := fs.String("now", "", "current time for the deadline's time left (RFC 3339; default: now)")
	verbose := fs.Bool("v", false, "log what the parsers skipped or degraded (stderr)")
	strict := fs.Bool("strict", false, "exit with status 3 when a report has warnings (part of the input not read or used)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parse-report [-json] [-strict] [-v] [-evidence N] FILE... | -")
		fs.PrintDefaults()
	}
	if ok, code := cli.ParseFlags(fs, args); !ok {
		return code
	}
	out := cli.New(prog, stdout, stderr, *jsonOut)
	out.Code = func(err error) string {
		if errors.Is(err, abuse.ErrUnknownFormat) {
			return "abuse.unknown_format"
		}
		return ""
	}
	if fs.NArg() == 0 {
		return out.Usage("no report file (- reads stdin)\nusage: parse-report [-json] [-strict] [-v] [-evidence N] FILE... | -")
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return out.Usage(fmt.Sprintf("-now: %v", err))
		}
		now = t
	}
	// Warnings (an mbox message skipped) always reach stderr; -v adds the
	// parsers' debug records (format detected, charset degraded).
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	w := bufio.NewWriterSize(stdout, 256<<10)
	// Warnings and errors are written through out, to stdout too with
	// -json: flush what w holds first, so documents keep their order.
	out.Stdout = w
	code := 0
	warned := 0 // reports with warnings
	for _, name := range fs.Args() {
		err := func() error {
			var r io.Reader = stdin
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			if *jsonOut {
				return printJSON(ctx, r, w, out.DocPrefix(cli.TypeResult, "report"), logger, func(n int, rep abuse.Report) {
					if len(rep.Warnings) > 0 {
						warned++
					}
					for _, x := range rep.Warnings {
						out.Warn("report", fmt.Sprintf("%s: report %d: %s", displayName(name), n, x))
					}
				})
			}
			return printSummary(ctx, r, w, name, *show, now, logger, &warned)
		}()
		if err != nil {
			code = out.Fail(fmt.Errorf("%s: %w", name, err), cli.ExitFailure)
		}
	}
	if code == 0 && *strict && warned > 0 {
		code = out.Fail(fmt.Errorf("-strict: %d report(s) with warnings", warned), exitWarnings)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return cli.ExitFailure
	}
	return code
}

func displayName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// printJSON streams each report as one line: its evidence first, written
// record by record as the parser reads it, then the report's other fields.
// Memory stays bounded whatever the size of the evidence log.
// printJSON prints the reports of r as JSON lines; warn sees each report
// (numbered from 1) once it is printed.
func printJSON(ctx context.Context, r io.Reader, w *bufio.Writer, prefix []byte, logger *slog.Logger, warn func(int, abuse.Report)) error {
	n := 0
	buf := make([]byte, 0, 64<<10)
	open := false
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	evidenceFn := func(e abuse.Evidence) error {
		if open {
			buf = append(buf, ',')
		} else {
			buf = append(buf, prefix...)
			buf = append(buf, `{"evidence":[`...)
			open = true
		}
		buf = e.AppendJSON(buf)
		if len(buf) >= 60<<10 {
			return flush()
		}
		return nil
	}
	reportFn := func(rep abuse.Report) error {
		if !open {
			buf = append(buf, prefix...)
			buf = append(buf, `{"evidence":[`...)
		}
		open = false
		rep.Evidence = nil
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		// b is {"provider":…,"evidence":null,…}: drop the evidence field
		// (a quote inside a string is always escaped, so this is the field)
		// and append the rest after the streamed array.
		b = bytes.Replace(b, []byte(`,"evidence":null`), nil, 1)
		buf = append(buf, "],"...)
		buf = append(buf, b[1:]...)
		buf = append(buf, "}\n"...) // the envelope's
		n++
		if err := flush(); err != nil {
			return err
		}
		warn(n, rep)
		return nil
	}
	_, err := abuse.Parse(ctx, r, abuse.WithEvidenceFunc(evidenceFn), abuse.WithReportFunc(reportFn), abuse.WithLogger(logger))
	if err != nil {
		if open { // end the cut-short document's line so the next one starts clean
			buf = append(buf, '\n')
		}
		flush()
		return err
	}
	return nil
}

// evidenceStats is what the summary shows of a report's evidence.
type evidenceStats struct {
	first   []abuse.Evidence
	targets map[string]bool
	ports   map[uint16]int
	protos  map[string]bool
}

const maxDistinct = 100000

func newStats() *evidenceStats {
	return &evidenceStats{targets: map[string]bool{}, ports: map[uint16]int{}, protos: map[string]bool{}}
}

func printSummary(ctx context.Context, r io.Reader, w io.Writer, name string, show int, now time.Time, logger *slog.Logger, warned *int) error {
	st := newStats()
	n := 0
	evidenceFn := func(e abuse.Evidence) error {
		if len(st.first) < show {
			st.first = append(st.first, e)
		}
		if e.DstIP.IsValid() && len(st.targets) < maxDistinct {
			st.targets[e.DstIP.String()] = true
		}
		if e.DstPort != 0 && len(st.ports) < maxDistinct {
			st.ports[e.DstPort]++
		}
		if e.Proto != "" {
			st.protos[e.Proto] = true
		}
		return nil
	}
	reportFn := func(rep abuse.Report) error {
		n++
		if len(rep.Warnings) > 0 {
			*warned++
		}
		writeSummary(w, name, n, rep, st, now)
		st = newStats()
		return nil
	}
	_, err := abuse.Parse(ctx, r, abuse.WithEvidenceFunc(evidenceFn), abuse.WithReportFunc(reportFn), abuse.WithLogger(logger))
	return err
}

func writeSummary(w io.Writer, name string, n int, r abuse.Report, st *evidenceStats, now time.Time) {
	p := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-12s "+format+"\n", append([]any{label + ":"}, args...)...)
	}
	provider := r.Provider
	if provider == "" {
		provider = "unknown provider"
	}
	if name == "-" {
		name = "stdin"
	}
	fmt.Fprintf(w, "%s #%d: %s report (%s), kind %s\n", name, n, r.Source, provider, r.Kind)
	if r.CaseID != "" {
		p("case", "%s", r.CaseID)
	}
	p("incident", "%s", abuse.IncidentID(r))
	if r.Activity != "" {
		p("activity", "%s", r.Activity)
	}
	switch r.Role {
	case abuse.RoleActor:
		p("role", "actor (the activity came from these resources)")
	case abuse.RoleTarget:
		p("role", "target (these resources were probed or attacked, not the attacker)")
	}
	if r.Severity.Label != "" {
		p("severity", "%g (%s)", r.Severity.Score, r.Severity.Label)
	}
	if r.AccountID != "" || r.Resources.Region != "" {
		p("account", "%s  region %s", orDash(r.AccountID), orDash(r.Resources.Region))
	}
	if len(r.Resources.InstanceIDs) > 0 {
		p("instances", "%s", strings.Join(r.Resources.InstanceIDs, ", "))
	}
	if len(r.Resources.IPs) > 0 {
		ips := make([]string, len(r.Resources.IPs))
		for i, a := range r.Resources.IPs {
			ips[i] = a.String()
		}
		p("ips", "%s", strings.Join(ips, ", "))
	}
	if len(r.Resources.Projects) > 0 {
		p("projects", "%s", strings.Join(r.Resources.Projects, ", "))
	}
	if len(r.Resources.SecurityGroups) > 0 {
		p("sec groups", "%s", strings.Join(r.Resources.SecurityGroups, ", "))
	}
	if !r.AbuseTime.IsZero() {
		p("abuse time", "%s", r.AbuseTime.Format(time.RFC3339))
	}
	if !r.Received.IsZero() {
		p("received", "%s", r.Received.Format(time.RFC3339))
	}
	if !r.Deadline.IsZero() {
		left := r.Deadline.Sub(now).Round(time.Minute)
		if left >= 0 {
			p("deadline", "%s (%s left)", r.Deadline.Format(time.RFC3339), humanDuration(left))
		} else {
			p("deadline", "%s (OVERDUE by %s)", r.Deadline.Format(time.RFC3339), humanDuration(-left))
		}
	}
	for _, a := range r.RequiredActions {
		p("required", "%s", a)
	}
	for _, m := range r.Mitigations {
		s := m.Action
		if m.Direction != "" {
			s += " " + m.Direction
		}
		if m.Proto != "" {
			s += " " + m.Proto
		}
		if m.Port != 0 {
			s += fmt.Sprintf(" port %d", m.Port)
		}
		p("mitigation", "%s", s)
	}
	for _, x := range r.Resources.Exposures {
		what := x.Proto + " all ports"
		switch {
		case x.Port != 0:
			what = fmt.Sprintf("%s port %d", x.Proto, x.Port)
		case x.Proto == "all":
			what = "all traffic"
		}
		p("exposure", "%s open to %s", what, x.CIDR)
	}
	if r.Reporter != "" {
		p("reporter", "%s", r.Reporter)
	}
	if r.Subject != "" {
		p("subject", "%s", r.Subject)
	}
	for _, x := range r.Warnings {
		p("WARNING", "%s", x)
	}
	if r.EvidenceCount == 0 {
		p("evidence", "none")
		return
	}
	p("evidence", "%d records, %s distinct targets, %s distinct ports%s", r.EvidenceCount, atLeast(len(st.targets)), atLeast(len(st.ports)), protoList(st.protos))
	if len(st.ports) > 0 {
		p("top ports", "%s", topPorts(st.ports, 10))
	}
	for _, e := range st.first {
		fmt.Fprintf(w, "    %s\n", e.Raw)
	}
	if r.EvidenceCount > len(st.first) {
		fmt.Fprintf(w, "    … %d more\n", r.EvidenceCount-len(st.first))
	}
}

func protoList(m map[string]bool) string {
	if len(m) == 0 {
		return ""
	}
	var l []string
	for k := range m {
		l = append(l, k)
	}
	slices.Sort(l)
	return " (" + strings.Join(l, ", ") + ")"
}

func topPorts(m map[uint16]int, n int) string {
	ports := make([]uint16, 0, len(m))
	for p := range m {
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b uint16) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return int(a) - int(b)
	})
	if len(ports) > n {
		ports = ports[:n]
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprintf("%d×%d", p, m[p])
	}
	return strings.Join(s, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanDuration writes d as "2d 3h", "5h 12m" or "12m".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// atLeast writes a count of distinct values, which stops growing at
// maxDistinct to bound memory.
func atLeast(n int) string {
	if n >= maxDistinct {
		return fmt.Sprintf("at least %d", n)
	}
	return fmt.Sprint(n)
}
