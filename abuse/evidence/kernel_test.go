package evidence

import (
	"testing"
	"time"
)

func TestParseLineNetfilter(t *testing.T) {
	src, dst := ip("203.0.113.5"), ip("192.0.2.15")
	tcp := func(tm time.Time) Record {
		return Record{Time: tm, SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 22, Proto: "tcp"}
	}
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "ufw syslog", line: "Apr 27 14:46:47 web1 kernel: [1234567.890123] [UFW BLOCK] IN=eth0 OUT= MAC=02:42:ac:11:00:02:02:42:ac:11:00:03:08:00 SRC=203.0.113.5 DST=192.0.2.15 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=0 DF PROTO=TCP SPT=50123 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
			want: tcp(seedTime), lay: LayoutUFW, ok: true},
		{name: "ufw iso", line: "2023-04-27T14:46:47.000000+00:00 web1 kernel: [UFW AUDIT] IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 LEN=60 PROTO=TCP SPT=50123 DPT=22 SYN URGP=0",
			want: tcp(seedTime), lay: LayoutUFW, ok: true},
		{name: "iptables prefix", line: "Apr 27 14:46:47 gw kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 LEN=40 TOS=0x00 PROTO=TCP SPT=50123 DPT=22 WINDOW=1024 SYN",
			want: tcp(seedTime), lay: LayoutIPTables, ok: true},
		{name: "nftables prefix", line: "Apr 27 14:46:47 gw kernel: nft-drop-in: IN=eth0 OUT= MAC=aa SRC=203.0.113.5 DST=192.0.2.15 LEN=60 PROTO=TCP SPT=50123 DPT=22",
			want: tcp(seedTime), lay: LayoutNFTables, ok: true},
		{name: "nftables journald", line: "2023-04-27T14:46:47+0000 gw kernel: [nftables] input drop IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 PROTO=TCP SPT=50123 DPT=22",
			want: tcp(seedTime), lay: LayoutNFTables, ok: true},
		{name: "udp", line: "Apr 27 14:46:47 gw kernel: DROP IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 LEN=78 PROTO=UDP SPT=50123 DPT=161 LEN=58",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 50123, DstIP: dst, DstPort: 161, Proto: "udp"}, lay: LayoutIPTables, ok: true},
		{name: "icmp with embedded packet", line: "Apr 27 14:46:47 gw kernel: DROP IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 LEN=88 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.15 DST=203.0.113.5 LEN=60 PROTO=UDP SPT=53 DPT=33434 LEN=40 ]",
			want: Record{Time: seedTime, SrcIP: src, DstIP: dst, Proto: "icmp"}, lay: LayoutIPTables, ok: true},
		{name: "ipv6", line: "Apr 27 14:46:47 gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=33:33 SRC=2001:0db8:0000:0000:0000:0000:0000:0005 DST=2001:db8::15 LEN=80 TC=0 HOPLIMIT=54 FLOWLBL=0 PROTO=TCP SPT=50123 DPT=22 WINDOW=64800 RES=0x00 SYN URGP=0",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::5"), SrcPort: 50123, DstIP: ip("2001:db8::15"), DstPort: 22, Proto: "tcp"}, lay: LayoutUFW, ok: true},
		{name: "icmpv6 numeric", line: "IN=eth0 OUT= SRC=2001:db8::5 DST=2001:db8::15 PROTO=58",
			want: Record{SrcIP: ip("2001:db8::5"), DstIP: ip("2001:db8::15"), Proto: "icmpv6"}, lay: LayoutIPTables, ok: true},
		{name: "odd proto kept", line: "IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 PROTO=103",
			want: Record{SrcIP: src, DstIP: dst, Proto: "103"}, lay: LayoutIPTables, ok: true},
		{name: "bad src", line: "IN=eth0 OUT= SRC=nope DST=192.0.2.15 PROTO=TCP SPT=1 DPT=2"},
		{name: "prose SRC=", line: "set SRC= to the address"},
	})
}

func TestParseLineSSHD(t *testing.T) {
	src := ip("203.0.113.5")
	rec := func(tm time.Time, sport uint16) Record {
		return Record{Time: tm, SrcIP: src, SrcPort: sport, DstPort: 22, Proto: "tcp"}
	}
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "failed password", line: "Apr 27 14:46:47 web1 sshd[1234]: Failed password for root from 203.0.113.5 port 50123 ssh2",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "failed password invalid user", line: "Apr 27 14:46:47 web1 sshd[1234]: Failed password for invalid user admin from 203.0.113.5 port 50123 ssh2",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "bare message", line: "Failed password for invalid user from 203.0.113.5 port 50123 ssh2",
			want: rec(time.Time{}, 50123), lay: LayoutSSHD, ok: true},
		{name: "invalid user", line: "2023-04-27T14:46:47.123456+00:00 web1 sshd[1234]: Invalid user oracle from 203.0.113.5 port 50123",
			want: rec(utc(2023, 4, 27, 14, 46, 47, 123456000), 50123), lay: LayoutSSHD, ok: true},
		{name: "connection closed preauth", line: "Apr 27 14:46:47 web1 sshd[1234]: Connection closed by authenticating user root 203.0.113.5 port 50123 [preauth]",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "disconnected", line: "Apr 27 14:46:47 web1 sshd-session[99]: Disconnected from invalid user test 203.0.113.5 port 50123 [preauth]",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "disconnected bare", line: "Apr 27 14:46:47 web1 sshd[1234]: Disconnected from 203.0.113.5 port 50123",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "received disconnect", line: "Apr 27 14:46:47 web1 sshd[1234]: Received disconnect from 203.0.113.5 port 50123:11: Bye Bye [preauth]",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "v4 mapped ipv6", line: "Apr 27 14:46:47 web1 sshd[1234]: Invalid user x from ::ffff:203.0.113.5 port 50123",
			want: rec(seedTime, 50123), lay: LayoutSSHD, ok: true},
		{name: "ipv6", line: "Apr 27 14:46:47 web1 sshd[1234]: Failed password for root from 2001:db8::5 port 50123 ssh2",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::5"), SrcPort: 50123, DstPort: 22, Proto: "tcp"}, lay: LayoutSSHD, ok: true},
		{name: "connection from on", line: "Apr 27 14:46:47 web1 sshd[1234]: Connection from 203.0.113.5 port 50123 on 192.0.2.15 port 2222 rdomain \"\"",
			want: Record{Time: seedTime, SrcIP: src, SrcPort: 50123, DstIP: ip("192.0.2.15"), DstPort: 2222, Proto: "tcp"}, lay: LayoutSSHD, ok: true},
		{name: "old sshd without port", line: "Apr 27 14:46:47 web1 sshd[1234]: Invalid user admin from 203.0.113.5",
			want: rec(seedTime, 0), lay: LayoutSSHD, ok: true},
		{name: "pam rhost", line: "Apr 27 14:46:47 web1 sshd[1234]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root",
			want: rec(seedTime, 0), lay: LayoutSSHD, ok: true},
		{name: "accepted is not evidence", line: "Apr 27 14:46:47 web1 sshd[1234]: Accepted publickey for ops from 203.0.113.5 port 50123 ssh2"},
		{name: "no address", line: "Apr 27 14:46:47 web1 sshd[1234]: Invalid user admin from nowhere port x"},
	})
}

func TestParseLineFail2ban(t *testing.T) {
	src := ip("203.0.113.5")
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "ban", line: "2023-04-27 14:46:47,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 203.0.113.5",
			want: Record{Time: utc(2023, 4, 27, 14, 46, 47, 123e6), SrcIP: src, DstPort: 22, Proto: "tcp"}, lay: LayoutFail2ban, ok: true},
		{name: "found with time", line: "2023-04-27 14:46:49,001 fail2ban.filter         [812]: INFO    [sshd] Found 203.0.113.5 - 2023-04-27 14:46:47",
			want: Record{Time: seedTime, SrcIP: src, DstPort: 22, Proto: "tcp"}, lay: LayoutFail2ban, ok: true},
		{name: "restore ban", line: "2023-04-27 14:46:47,000 fail2ban.actions [812]: NOTICE [sshd] Restore Ban 2001:db8::5",
			want: Record{Time: seedTime, SrcIP: ip("2001:db8::5"), DstPort: 22, Proto: "tcp"}, lay: LayoutFail2ban, ok: true},
		{name: "other jail", line: "2023-04-27 14:46:47,000 fail2ban.actions [812]: NOTICE [nginx-http-auth] Ban 203.0.113.5",
			want: Record{Time: seedTime, SrcIP: src, Proto: "tcp"}, lay: LayoutFail2ban, ok: true},
		{name: "syslog form", line: "Apr 27 14:46:47 web1 fail2ban.actions[812]: NOTICE [sshd] Ban 203.0.113.5",
			want: Record{Time: seedTime, SrcIP: src, DstPort: 22, Proto: "tcp"}, lay: LayoutFail2ban, ok: true},
		{name: "unban is not evidence", line: "2023-04-27 14:56:47,000 fail2ban.actions [812]: NOTICE [sshd] Unban 203.0.113.5"},
		{name: "startup", line: "2023-04-27 14:46:47,000 fail2ban.server [812]: INFO Starting Fail2ban v1.0.2"},
	})
}

func TestParseLineRFC5424(t *testing.T) {
	runLineCases(t, Options{Reference: ref}, []lineCase{
		{name: "sshd", line: "<38>1 2023-04-27T14:46:47.003Z web1 sshd 1234 - - Failed password for root from 203.0.113.5 port 50123 ssh2",
			want: Record{Time: utc(2023, 4, 27, 14, 46, 47, 3e6), SrcIP: ip("203.0.113.5"), SrcPort: 50123, DstPort: 22, Proto: "tcp"}, lay: LayoutSSHD, ok: true},
		{name: "kernel", line: "<4>1 2023-04-27T14:46:47Z gw kernel - - - [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.15 PROTO=UDP SPT=5353 DPT=161",
			want: Record{Time: seedTime, SrcIP: ip("203.0.113.5"), SrcPort: 5353, DstIP: ip("192.0.2.15"), DstPort: 161, Proto: "udp"}, lay: LayoutUFW, ok: true},
	})
}
