package evidence

// Layout names the shape of an evidence line, as recognised by ParseLine and
// Scanner. Values are lower-case and stable.
type Layout string

// Layouts the parser recognises.
const (
	// LayoutUnknown is the Layout of a line that is not evidence.
	LayoutUnknown Layout = ""
	// LayoutColumns is the whitespace-separated column log of port-scan
	// reporters: "(attacker's IP) (IP being scanned) (TCP port being
	// scanned)" with a time before or after.
	LayoutColumns Layout = "columns"
	// LayoutArrow is "a:p -> b:q", tcpdump's "a.p > b.q", and "[a]:p -> [b]:q".
	LayoutArrow Layout = "arrow"
	// LayoutCSV is a comma-, semicolon- or tab-separated feed whose header
	// names the columns. Only Scanner reads it: a row means nothing without
	// its header.
	LayoutCSV Layout = "csv"
	// LayoutIPTables is a kernel netfilter log line (SRC= DST= PROTO= SPT= DPT=).
	LayoutIPTables Layout = "iptables"
	// LayoutNFTables is a kernel netfilter log line whose prefix names nftables ("nft").
	LayoutNFTables Layout = "nftables"
	// LayoutUFW is a kernel netfilter log line written by UFW ("[UFW BLOCK]").
	LayoutUFW Layout = "ufw"
	// LayoutSSHD is an OpenSSH sshd log line about a failed or refused login.
	LayoutSSHD Layout = "sshd"
	// LayoutFail2ban is a fail2ban log line (Ban, Found, Restore Ban).
	LayoutFail2ban Layout = "fail2ban"
)
