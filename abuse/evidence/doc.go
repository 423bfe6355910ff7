// Package evidence reads the evidence logs that abuse reports forward —
// "who connected where, when" — one Record per line, fast and in bounded
// memory, whatever layout the reporter used.
//
// ParseLine reads one line; Scanner reads a whole log (or a whole mail
// body), skipping the lines that are not evidence (prose, headers,
// separators such as ">>>" and "-----", mail quote markers) and reporting
// each record's line and Layout. Record.AppendJSON writes a record as
// encoding/json would, without reflection.
//
// # Layouts
//
//   - LayoutColumns: the port-scan reporters' "(attacker's IP) (IP being
//     scanned) (TCP port being scanned)" log, such as
//     "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023", with the
//     time before or after the columns, or absent; also "SRC SPORT DST DPORT",
//     an optional protocol word, and an optional row number first ("12.",
//     "#12"). Proto comes from the line, else from a
//     header line of the log naming "TCP port" or "UDP port" (Scanner only),
//     else Options.DefaultProto.
//   - LayoutArrow: "a:p -> b:q", "[a]:p -> [b]:q", "a:p->b:q", tcpdump's
//     "a.p > b.q" (IPv4 and IPv6), ports as their own words ("a p => b q",
//     Hetzner's netscan tables "a p -> b q SIZE UDP", "a -> b : q",
//     "a -> b: q", Hetzner's "TIME:   a =>   b:   q"), with an optional
//     leading time and protocol words (TCP, UDP, SYN, …; tcpdump's
//     "Flags [S]" is tcp). No-break spaces (U+00A0, from HTML notices)
//     separate words as spaces do, in every layout.
//     tcpdump's time of day without a date takes the date of
//     Options.Reference (the day before, if that would be after it).
//   - LayoutCSV: a comma-, semicolon- or tab-separated feed whose header
//     names the columns: timestamp/time/date, src/src_ip/source/source_ip/attacker/ip,
//     dst/dst_ip/destination/target/victim, src_port/sport,
//     dst_port/dport/port, proto/protocol (any case; spaces, '-' and '_'
//     alike). Rows are split by encoding/csv; times are any layout below,
//     or Unix seconds or milliseconds. Only Scanner reads CSV: a row means
//     nothing without its header.
//   - LayoutIPTables, LayoutUFW, LayoutNFTables: kernel netfilter log lines
//     (SRC= DST= PROTO= SPT= DPT=, IPv4 and IPv6) behind a syslog, journald
//     or ISO time; "[UFW …]" names UFW, a prefix holding "nft" names
//     nftables. The packet an ICMP error quotes ("[SRC=… ]") is ignored.
//   - LayoutSSHD: OpenSSH's failed and refused logins and scanners'
//     connections ("Failed password for (invalid user )X from A port P
//     ssh2", "Invalid user X from A port P", "Connection closed by
//     authenticating user root A port P [preauth]", "Disconnected from …",
//     "Received disconnect from …", PAM's "rhost=A"); not "Accepted …".
//     SrcIP is the client; DstPort is 22 unless the line names the local
//     port ("… on B port Q"); Proto is tcp.
//   - LayoutFail2ban: "fail2ban.actions [812]: NOTICE [sshd] Ban A",
//     "Restore Ban A" and "fail2ban.filter … Found A - TIME" (whose TIME
//     wins); DstPort is 22 for the jails that guard sshd; Proto is tcp.
//
// # Times
//
// Times are read without time.Parse for the layouts found on almost every
// line: ctime and date(1) ("Thu Apr 27 14:46:47 [UTC] 2023"), RFC 1123 /
// RFC 5322 ("Thu, 27 Apr 2023 14:46:47 GMT", "+0000", with or without the
// weekday), ISO 8601 / RFC 3339 ("2023-04-27T14:46:47.123Z", "2023-04-27
// 14:46:47,123 +09:00", with or without a zone), and syslog without a year
// ("Apr 27 14:46:47"), whose year is that of Options.Reference, or the year
// before when that would put the time more than a day after it. Rarer
// layouts (Apache's "27/Apr/2023:14:46:47 +0000", RFC 850, …) fall back to
// time.Parse. A time naming no zone is read in the Location of
// Options.Reference (UTC when Reference is zero). Record times are UTC.
//
// # Limits
//
// A Scanner holds one line buffer, which starts at 32 KiB and grows only as
// far as the longest line met, at most Options.MaxLineBytes (1 MiB by
// default); a longer line stops it with a *LineError wrapping
// ErrLineTooLong, without buffering the line. Binary junk is skipped. A
// read error stops it too (a line cut short by it is not read), as a
// *LineError naming the line it was reading.
// Addresses are parsed with net/netip (IPv4-mapped IPv6 addresses are
// unmapped); no regular expressions are used.
//
// # Speed
//
// The column layout with ctime times, the shape of the seed incident's log,
// takes a fast path: byte-level field splitting, a hand-written IPv4 and
// time parser (remembering the last time text, as runs of lines share
// one), and Raw strings carved from shared blocks of up to 32 KiB (a
// Scanner allocates once per few hundred records). Record.AppendJSON
// escapes 8 bytes at a time and formats IPv4 and UTC times by hand.
// BenchmarkScanner and bench/evidence.sh measure a 1,000,000-line log
// against awk (see bench/evidence.md).
package evidence
