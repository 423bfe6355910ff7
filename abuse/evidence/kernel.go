package evidence

import "bytes"

// parseNetfilter reads a kernel netfilter log line, as iptables' LOG
// target, nftables' log statement and UFW write it, behind a syslog,
// journald or ISO time:
//
//	Apr 27 14:46:47 host kernel: [1234.5678] [UFW BLOCK] IN=eth0 OUT= MAC=… SRC=a DST=b LEN=60 … PROTO=TCP SPT=p DPT=q …
//
// The first SRC=, DST=, PROTO=, SPT= and DPT= count; the copy of an
// offending packet that ICMP errors carry ("[SRC=… DST=…]") does not.
func (c *config) parseNetfilter(line []byte, toks [][]byte) (Record, Layout, bool) {
	var r Record
	layout := LayoutIPTables
	if bytes.Contains(line, []byte("[UFW ")) {
		layout = LayoutUFW
	}
	if t, ok := c.prefixTime(toks); ok {
		r.Time = t
	}
	var haveSrc, haveDst, haveProto, haveSpt, haveDpt, seenIn bool
	for _, t := range toks {
		if haveSrc && t[0] == '[' {
			break // the offending packet inside an ICMP error
		}
		if len(t) < 3 {
			continue
		}
		eq := bytes.IndexByte(t, '=')
		if eq < 0 {
			if !seenIn && layout == LayoutIPTables && containsFold(t, "nft") {
				layout = LayoutNFTables
			}
			continue
		}
		key, val := t[:eq], t[eq+1:]
		switch string(key) {
		case "IN":
			seenIn = true
		case "SRC":
			if !haveSrc {
				a, ok := addr(val)
				if !ok {
					return Record{}, LayoutUnknown, false
				}
				r.SrcIP, haveSrc = a, true
			}
		case "DST":
			if !haveDst {
				if a, ok := addr(val); ok {
					r.DstIP, haveDst = a, true
				}
			}
		case "PROTO":
			if !haveProto {
				r.Proto, haveProto = protoValue(val), true
			}
		case "SPT":
			if !haveSpt {
				r.SrcPort, haveSpt = port(val)
			}
		case "DPT":
			if !haveDpt {
				r.DstPort, haveDpt = port(val)
			}
		default:
			if !seenIn && layout == LayoutIPTables && containsFold(key, "nft") {
				layout = LayoutNFTables
			}
		}
	}
	if !haveSrc {
		return Record{}, LayoutUnknown, false
	}
	return r, layout, true
}

// containsFold reports whether b contains the lower-case ASCII word w, in any case.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for j < len(w) && lower(b[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// sshdPhrases are the sshd messages that are evidence: failed and refused
// logins and the connections of scanners. "Accepted …" is not among them.
var sshdPhrases = [][]byte{
	[]byte("Failed password for "),
	[]byte("Failed publickey for "),
	[]byte("Failed keyboard-interactive"),
	[]byte("Failed none for "),
	[]byte("Invalid user "),
	[]byte("Connection closed by "),
	[]byte("Disconnected from "),
	[]byte("Received disconnect from "),
	[]byte("Did not receive identification string from "),
	[]byte("maximum authentication attempts exceeded"),
	[]byte("Unable to negotiate with "),
	[]byte("Connection reset by "),
	[]byte("banner exchange: Connection from "),
	[]byte("Bad protocol version identification"),
	[]byte("authentication failure;"),
	[]byte("Connection from "),
	[]byte("Timeout before authentication for "),
	[]byte("User root from "),
	[]byte("reverse mapping checking getaddrinfo for "),
}

// isSSHD reports whether line is an sshd message worth reading as evidence.
func isSSHD(line []byte) bool {
	if !bytes.Contains(line, []byte(" port ")) && !bytes.Contains(line, []byte("rhost=")) &&
		!bytes.Contains(line, []byte(" from ")) {
		return false
	}
	for _, p := range sshdPhrases {
		if bytes.Contains(line, p) {
			return true
		}
	}
	return false
}

// parseSSHD reads an OpenSSH sshd (or sshd-session, or PAM) message:
//
//	Failed password for invalid user admin from 192.0.2.7 port 50522 ssh2
//	Connection closed by authenticating user root 192.0.2.7 port 50522 [preauth]
//	Connection from 192.0.2.7 port 50522 on 198.51.100.2 port 22 rdomain ""
//
// SrcIP is the client (the attacker); DstPort is 22 unless the line names
// the local port; Proto is tcp.
func (c *config) parseSSHD(toks [][]byte) (Record, bool) {
	r := Record{Proto: "tcp", DstPort: 22}
	if t, ok := c.prefixTime(toks); ok {
		r.Time = t
	}
	for k := 1; k+1 < len(toks); k++ {
		if string(toks[k]) != "port" {
			continue
		}
		a, ok := addr(toks[k-1])
		if !ok {
			continue
		}
		p, ok := port(trimPortSuffix(toks[k+1]))
		if !ok {
			continue
		}
		r.SrcIP, r.SrcPort = a, p
		// "… on 198.51.100.2 port 22": the local end.
		if k+5 < len(toks) && string(toks[k+2]) == "on" && string(toks[k+4]) == "port" {
			if d, ok := addr(toks[k+3]); ok {
				if dp, ok := port(trimPortSuffix(toks[k+5])); ok {
					r.DstIP, r.DstPort = d, dp
				}
			}
		}
		return r, true
	}
	// No "A port P": "from A" (older sshd) or PAM's "rhost=A".
	for k, t := range toks {
		if bytes.HasPrefix(t, []byte("rhost=")) {
			if a, ok := addr(t[len("rhost="):]); ok {
				r.SrcIP = a
				return r, true
			}
		}
		if string(t) == "from" && k+1 < len(toks) {
			if a, ok := addr(bytes.TrimRight(toks[k+1], ":,")); ok {
				r.SrcIP = a
				return r, true
			}
		}
	}
	return Record{}, false
}

// trimPortSuffix cuts "50522:11:" (Received disconnect …) to "50522".
func trimPortSuffix(b []byte) []byte {
	if i := bytes.IndexAny(b, ":,;"); i >= 0 {
		return b[:i]
	}
	return b
}

// sshJails are the fail2ban jails that guard sshd.
var sshJails = map[string]bool{"sshd": true, "ssh": true, "sshd-ddos": true, "sshd-aggressive": true, "dropbear": true, "ssh-iptables": true, "selinux-ssh": true}

// parseFail2ban reads fail2ban's actions and filter lines:
//
//	2023-04-27 14:46:47,123 fail2ban.actions [812]: NOTICE [sshd] Ban 192.0.2.7
//	2023-04-27 14:46:45,001 fail2ban.filter [812]: INFO [sshd] Found 192.0.2.7 - 2023-04-27 14:46:44
//
// For a Found line the time of the matched log line, when given, wins.
// DstPort is 22 for the jails that guard sshd; Proto is tcp.
func (c *config) parseFail2ban(toks [][]byte) (Record, bool) {
	r := Record{Proto: "tcp"}
	if t, ok := c.prefixTime(toks); ok {
		r.Time = t
	}
	for k := 1; k+1 < len(toks); k++ {
		w := string(toks[k])
		if w != "Ban" && w != "Found" {
			continue
		}
		a, ok := addr(toks[k+1])
		if !ok {
			continue
		}
		r.SrcIP = a
		if j := toks[k-1]; len(j) > 2 && j[0] == '[' && j[len(j)-1] == ']' && sshJails[string(j[1:len(j)-1])] {
			r.DstPort = 22
		} else if k >= 2 && string(toks[k-1]) == "Restore" {
			if j := toks[k-2]; len(j) > 2 && j[0] == '[' && j[len(j)-1] == ']' && sshJails[string(j[1:len(j)-1])] {
				r.DstPort = 22
			}
		}
		if w == "Found" && k+3 < len(toks) && string(toks[k+2]) == "-" {
			if t, _, ok := c.parseTime(toks[k+3:]); ok {
				r.Time = t
			}
		}
		return r, true
	}
	return Record{}, false
}
