package ec2

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsOpen(t *testing.T) {
	ports := []int32{22, 3389, 8080}
	cases := []struct {
		r    Rule
		want bool
	}{
		{Rule{Direction: "ingress", Protocol: "-1", CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "-1", CIDR: "::/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 0, ToPort: 65535, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 3389, ToPort: 3389, CIDR: "::/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDR: "0.0.0.0/0"}, true},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "198.51.100.0/24"}, false},
		{Rule{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, GroupID: "sg-1"}, false},
		{Rule{Direction: "egress", Protocol: "-1", CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "icmp", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}, false},
		{Rule{Direction: "ingress", Protocol: "udp", FromPort: 3389, ToPort: 3389, CIDR: "0.0.0.0/0"}, true},
	}
	for _, tc := range cases {
		if got := isOpen(tc.r, ports); got != tc.want {
			t.Errorf("isOpen(%v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestReplacements(t *testing.T) {
	admin := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	open := []Rule{
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"},
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "::/0"},
	}
	got := replacements(open, admin, "c1")
	want := []Rule{
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "198.51.100.0/24", Description: "abusekit c1: admin access replacing 0.0.0.0/0"},
		{Direction: "ingress", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "2001:db8::/32", Description: "abusekit c1: admin access replacing ::/0"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	if r := replacements(open, nil, "c1"); len(r) != 0 {
		t.Errorf("no admin CIDRs: %v, want removal only", r)
	}
}

func TestParseAdmin(t *testing.T) {
	for _, bad := range []string{"0.0.0.0/0", "::/0", "nonsense", "10.0.0.1"} {
		if _, err := parseAdmin([]string{bad}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("parseAdmin(%q) err = %v", bad, err)
		}
	}
	p, err := parseAdmin([]string{" 198.51.100.7/24 "})
	if err != nil || p[0].String() != "198.51.100.0/24" {
		t.Errorf("got %v %v", p, err)
	}
}
