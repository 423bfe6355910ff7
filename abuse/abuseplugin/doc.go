// Package abuseplugin serves package abuse as abusekit plugin actions
// (playbook/plugin): "parse" reads an abuse report into typed reports and
// the incident's identifier, "reply" drafts the answer to the provider. It
// only converts between the typed API (abuse.Parse, abuse.IncidentID,
// abuse.DraftReply) and requests; the logic lives in package abuse.
// Importing it registers abuse's sentinel errors (ErrUnknownFormat,
// ErrTooLarge, ErrNoActions) and ErrExists, so that errors.Is works on the
// host for an error a plugin returned.
//
// A host offers the actions as the built-in plugin "abuse":
//
//	func main() {
//		plugin.ServeBuiltinIfPlugin(map[string]func() plugin.Builtin{"abuse": abuseplugin.NewBuiltin})
//		// … NewRunner with playbook.Builtin("abuse") …
//	}
//
// and a playbook step refers to the parsed report by name:
//
//	steps:
//	  - id: parse
//	    plugin: abuse
//	    action: parse
//	    input:
//	      path: ${{ inputs.notice }}
//	  - id: reply
//	    plugin: abuse
//	    action: reply
//	    if: steps.parse.incident_id
//	    input:
//	      report: ${{ steps.parse.reports[0] }}
//	      actions: [{time: 2023-04-27T17:02:15Z, step: process-stopped}]
//	      output_dir: /var/lib/abusekit/replies
//
// (testdata/reply.yaml is a complete one).
//
// # parse
//
// The input is exactly one of path (a file the plugin reads host-side:
// a regular file, at most limits.max_bytes, 256 MiB unless told otherwise),
// text or data (the report itself; data is base64 in JSON), with an optional
// reference_time (abuse.WithReferenceTime), limits (abuse.Limits) and
// max_evidence (evidence records kept per report; DefaultMaxEvidence, so
// that the output fits the plugin transport's payload limit; negative: no
// cap; evidence_count still counts every record). The output is
// {"reports": [...], "incident_id": "..."}, the reports as abuse.Parse
// returns them and abuse.IncidentID of the first. Plan reads nothing but
// the input: it says which file of how many bytes would be read and, from a
// streamed parse that keeps no evidence, the detected sources, the number
// of reports and the incident; junk input fails the plan with
// abuse.ErrUnknownFormat and an oversized file with abuse.ErrTooLarge.
// Reports cross the plugin boundary as JSON, so a string that is not valid
// UTF-8 (a raw evidence line of a binary log) arrives with U+FFFD in place of
// its invalid bytes; everything else arrives as abuse.Parse returned it.
// An output larger than the transport carries (8 MiB) fails with
// abuse.ErrTooLarge and a hint to lower max_evidence.
//
// # reply
//
// The input is the report (usually ${{ steps.parse.reports[0] }}), the
// corrective actions, findings, root_cause, prevention and signature that
// abuse.DraftReply takes. The output is the abuse.Reply (subject, text,
// markdown). Only with output_dir does the action write anything: the draft
// mail "<incident>-reply.txt" (a Subject line, a blank line, the text) and
// the incident summary "<incident>-summary.md", each written whole to a
// temporary file and then linked into place, mode 0600. An existing file is
// never replaced unless overwrite is set: one with the same bytes (a re-run
// of the same step) is left as it is, any other fails with ErrExists. Plan
// drafts the reply, names the files and whether each would be created,
// replaced or left, and writes nothing.
package abuseplugin
