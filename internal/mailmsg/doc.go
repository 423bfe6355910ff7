// Package mailmsg reads an RFC 5322 mail message into its decoded parts,
// within limits, for the abuse report parsers.
//
// It is a thin layer over the standard library (net/mail, mime,
// mime/multipart, mime/quotedprintable, encoding/base64), golang.org/x/text
// for charsets and golang.org/x/net/html for HTML-only bodies. What it adds:
//
//   - Limits enforced while reading (raw bytes, line length, part count,
//     nesting depth), so that hostile input gives a *LimitError instead of
//     unbounded memory or time.
//   - Graceful degradation: an unknown or wrong charset, broken base64 or
//     quoted-printable, or a truncated multipart keeps what could be read and
//     adds a human-readable entry to Message.Notes; only an unreadable header
//     or an exceeded limit is an error.
//   - Leaf parts in document order with transfer encoding removed and text
//     converted to UTF-8; message/rfc822 parts as Forwarded messages.
//   - ReadStream for huge single-part text mails: the body streams, decoded,
//     instead of being kept.
//   - A streaming mbox reader (MboxReader) that never holds more than one
//     line of the mbox.
package mailmsg
