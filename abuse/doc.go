// Package abuse reads cloud abuse reports into one typed Report and drafts
// the reply to the provider.
//
// Parse detects the format of what an operator received: a mail (RFC 5322
// .eml or an mbox of several, MIME multipart, forwarded message/rfc822,
// quoted-printable, base64, ISO-8859-1 and Windows-1252 charsets, HTML-only
// bodies), an AWS Trust & Safety notice inside it, a forwarded evidence log in
// any of the layouts reporters use (see package evidence), X-ARF, ARF (RFC
// 5965), a GuardDuty finding (raw, GetFindings output, or an EventBridge
// event), or plain text. Each format's parser can also be called alone.
//
// Parsers never panic on bad input and never buffer without bound: Limits caps
// lines, parts, nesting and total size, and errors are *ParseError values
// naming the format and line. Input that no parser recognises gives an error
// that wraps ErrUnknownFormat.
package abuse
