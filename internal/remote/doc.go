// Package remote runs one abusekit program invocation on an EC2 instance
// from outside it, where the cloud credentials are: over AWS Systems
// Manager Run Command (SSM), with the program staged through S3 and checked
// on the instance against its SHA-256 before it runs. It is the transport
// under the playbook's plugin host for host steps (detect, stop, find,
// clean): the runner, the journal and the plugins are the same whichever
// transport carries the call.
//
// What one Run does, in order:
//
//  1. Looks for a command it already sent for the same Request.Key
//     (ListCommands on the instance, matching the command's Comment): a
//     runner killed mid-command and resumed waits for that command instead
//     of sending a second one. SendCommand itself has no client token.
//  2. Checks that the instance is a managed instance whose agent is online
//     (DescribeInstanceInformation): ErrNotManaged, ErrAgentOffline.
//  3. Sends an AWS-RunShellScript command whose script fetches the staged
//     binary from a presigned S3 URL (or uses an installed path), verifies
//     its SHA-256 (openssl's where the host has it, which uses the CPU's
//     SHA instructions, else sha256sum; exit 86 and ErrTampered when it
//     differs), writes the
//     request (embedded, or fetched from S3 and verified when large) and
//     runs the binary with it on standard input, in an environment of its
//     own: PATH and the variables the Request names, never the runner's
//     (a host step never sees cloud credentials).
//  4. Polls GetCommandInvocation with exponential backoff until the
//     command ends, honouring the Request's timeout (executionTimeout on
//     the instance, ErrTimedOut) and the context (CancelCommand, then
//     ErrCancelled).
//  5. Returns standard output whole: GetCommandInvocation cuts it at
//     24,000 characters, so a longer one is read from the output bucket
//     (OutputS3BucketName), and its SHA-256 is returned with it.
//
// Errors are sentinels for errors.Is: ErrNotManaged, ErrAgentOffline,
// ErrAccessDenied, ErrTimedOut, ErrCancelled, ErrTampered,
// ErrOutputTruncated, ErrPlatformMismatch; a program that ran and exited
// non-zero is an *ExitError carrying its status and standard error.
//
// The staged binary must match the instance, not the operator's machine:
// Platform reads the instance's OS and architecture from DescribeInstances
// (Graviton instances are arm64), and Binaries picks the build for it or
// refuses with ErrPlatformMismatch.
//
// SSH (type SSH) is the transport for instances without the agent: the
// host key is checked against known_hosts or a fingerprint the operator
// gives (ErrHostKey), never accepted blindly; the binary is copied over
// the connection when the host lacks a copy with its digest and checked
// before every run; a cancelled step's process group is killed from a
// session of its own (OpenSSH does not deliver signals to a root login's
// session, and without a terminal does not end a program whose client has
// gone). SSH keeps no record of what was sent, so a resumed run runs the
// step again.
//
// A root attacker on the instance can replace the binary between the
// script's check and its exec; nothing on that host can stop root. The
// check guards against a stale or corrupted staged copy and against
// anything short of root; the staging directory is created 0700.
package remote
