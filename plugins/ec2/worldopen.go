package ec2

import (
	"math"
	"net/netip"
	"strings"
)

// World-open is judged by how much of the internet a group admits, not by
// the literal 0.0.0.0/0: 0.0.0.0/1 plus 128.0.0.0/1, ::/0 split in
// halves, or a /4 admit as much.
const (
	// worldShare: a rule, or the union of a group's rules on one port,
	// admitting at least this share of an address family's space (a /8 of
	// IPv4, an IPv6 /8) is open to the world.
	worldShare = 1.0 / 256
	// bigShare: when the union is world-open, every rule admitting at
	// least this share (a /16) is counted open with it; smaller ones (an
	// office's /24) are kept.
	bigShare = 1.0 / 65536
)

// private are ranges that are not the internet: a rule admitting only
// them is never world-open (a VPC's 10.0.0.0/8 is not the world).
var private = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("::1/128"),
}

// shareOf is the share of its address family's space cidr admits (0 for a
// malformed or private-only prefix).
func shareOf(cidr string) (netip.Prefix, float64) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return netip.Prefix{}, 0
	}
	p = p.Masked()
	for _, q := range private {
		if q.Addr().Is4() == p.Addr().Is4() && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return p, 0
		}
	}
	return p, math.Ldexp(1, -p.Bits())
}

// unionShare is the share the prefixes admit together (nested prefixes
// counted once; CIDR prefixes either nest or are disjoint).
func unionShare(ps []netip.Prefix) float64 {
	total := 0.0
	for i, p := range ps {
		inner := false
		for j, q := range ps {
			if i != j && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				inner = true
				break
			}
		}
		if !inner {
			_, s := shareOf(p.String())
			total += s
		}
	}
	return total
}

// admitsPort reports whether ingress rule r admits traffic to one of
// ports: all traffic, or a tcp/udp range covering one of them. Port -1
// stands for "all traffic rules only".
func admitsPort(r Rule, ports []int32) bool {
	p := normProto(r.Protocol)
	if p == "-1" {
		return true
	}
	if p != "tcp" && p != "udp" {
		return false
	}
	for _, port := range ports {
		if port >= 0 && r.FromPort <= port && port <= r.ToPort {
			return true
		}
	}
	return false
}

// openRules marks the ingress rules of one group that expose one of ports
// (or all traffic) to the world: alone, by a prefix admitting worldShare
// of the internet or more; together, when the rules admitting one port
// add up to worldShare, each of them admitting bigShare or more.
func openRules(rules []Rule, ports []int32) []bool {
	open := make([]bool, len(rules))
	for i, r := range rules {
		if r.Direction != "ingress" || r.CIDR == "" || !admitsPort(r, ports) {
			continue
		}
		if _, s := shareOf(r.CIDR); s >= worldShare {
			open[i] = true
		}
	}
	for _, port := range append([]int32{-1}, ports...) {
		for _, v4 := range []bool{true, false} {
			var idx []int
			var ps []netip.Prefix
			for i, r := range rules {
				if r.Direction != "ingress" || r.CIDR == "" || !admitsPort(r, []int32{port}) {
					continue
				}
				p, s := shareOf(r.CIDR)
				if s == 0 || p.Addr().Is4() != v4 {
					continue
				}
				idx = append(idx, i)
				ps = append(ps, p)
			}
			if unionShare(ps) < worldShare {
				continue
			}
			for k, i := range idx {
				if _, s := shareOf(ps[k].String()); s >= bigShare {
					open[i] = true
				}
			}
		}
	}
	return open
}
