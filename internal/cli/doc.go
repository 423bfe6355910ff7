// Package cli holds the conventions every abusekit example command keeps,
// so that a person and a program read all of them the same way.
//
// # Exit status and errors
//
//   - -h and -help print the usage on stderr and exit 0.
//   - Bad usage (an unknown flag, a missing argument) exits 2 with the
//     reason on stderr.
//   - Any other failure exits 1 (a command may name more specific codes,
//     e.g. parse-report's 3 for -strict) with one line on stderr:
//     "prog: message". Message drops the package prefixes an error chain
//     repeats ("abuse: plain: abuse: unknown report format" is printed as
//     "abuse: plain: unknown report format").
//
// # -json
//
// With -json a command prints on stdout one self-describing JSON document
// per line, every one in the same envelope:
//
//		{"v":1,"type":"plan","prog":"run-playbook","kind":"plan","data":{…}}
//
//	  - v: the envelope's version (1).
//	  - type: what the document is: "plan" (what would change), "event" (a
//	    step started, progressed or finished), "progress" (progress of a
//	    command's own work), "result" (an outcome: a run, a report, a
//	    description, files written), "info" (a note for the reader, such as
//	    where the journal is), "warning" (something not read or not used)
//	    and "error" (why the command failed; also printed on stderr).
//	  - prog: the command that printed it.
//	  - kind: the payload's own type within type (e.g. result/"run",
//	    result/"reply", event/"step_finished"), so a reader can pick what it
//	    wants without looking inside data.
//	  - data: the payload. For "error" and "warning" it is
//	    {"message": …, "code": …} (code: the error's well-known code, when
//	    it has one); for "info", {"message": …} plus fields.
//
// Nothing else goes to stdout with -json: prompts, logs and human notes go
// to stderr, so `cmd -json | jq` always reads valid JSON lines.
//
// Package clitest normalises such output for golden tests.
package cli
