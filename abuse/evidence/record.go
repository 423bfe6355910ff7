package evidence

import (
	"net/netip"
	"time"
)

// Record is one line of forwarded evidence: who connected where, when.
// Fields the line did not carry are left zero (a zero Addr marshals as "").
type Record struct {
	Time    time.Time  `json:"time,omitzero"`
	SrcIP   netip.Addr `json:"src_ip"`
	SrcPort uint16     `json:"src_port,omitempty"`
	DstIP   netip.Addr `json:"dst_ip"`
	DstPort uint16     `json:"dst_port,omitempty"`
	Proto   string     `json:"proto,omitempty"` // "tcp", "udp", "icmp", lower-case
	Raw     string     `json:"raw"`
}
