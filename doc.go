// Package abusekit answers a cloud abuse report end to end.
//
// An EC2 instance gets infected by a scanner or miner; the provider's Trust &
// Safety team mails a "Port Scanning" report with a forwarded log, and gives the
// operator 24 hours before it blocks outbound traffic. abusekit turns every step
// an operator takes by hand into a typed, tested, safe Go API:
//
//   - package abuse reads the report, whatever its format, into one abuse.Report
//     and drafts the reply;
//   - plugins/scan finds the process behind the report and stops it, freezing it
//     and capturing its evidence before the kill;
//   - plugins/persist finds and quarantines the malware's persistence (cron,
//     systemd, shell start-up files, ssh keys, ld.so.preload, …), restorably,
//     on a live host or on a snapshot mounted elsewhere;
//   - plugins/ec2 contains, snapshots, rebuilds and hardens the instance, and
//     plugins/ec2/ec2test is a wire-level EC2 emulator to test all of it;
//   - package playbook composes those steps, served by out-of-process plugins,
//     into playbooks that plan, wait for approval, apply, journal and resume.
//
// Every mutating step plans before it applies and is a dry run by default;
// nothing is lost: files are quarantined with a manifest, processes are frozen
// and captured before they are killed, and an instance is never terminated while
// any of its volumes lacks a completed snapshot.
//
// The data flow, from a report to the reply:
//
//	report (mail, mbox, GuardDuty JSON, ARF, X-ARF, plain text)
//	  │ abuse.Parse
//	  ▼
//	abuse.Report ──► ec2 contain ─► scan detect ─► scan stop ─► persist find/clean
//	             ──► ec2 snapshot ─► ec2 rebuild ─► ec2 harden/alarms ─► abuse reply
package abusekit
