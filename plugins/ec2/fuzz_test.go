package ec2

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

// FuzzHardenInput feeds arbitrary admin CIDR lists and rules through the
// harden planning functions: no panic, and no replacement is ever open to
// the world or on another protocol/port than the rule it replaces.
func FuzzHardenInput(f *testing.F) {
	f.Add("198.51.100.0/24,2001:db8::/32", "tcp", int32(22), int32(22), "0.0.0.0/0")
	f.Add("0.0.0.0/0", "-1", int32(0), int32(0), "::/0")
	f.Add("10.0.0.1", "udp", int32(3389), int32(3389), "0.0.0.0/0")
	f.Add(" 203.0.113.7/32 ,,", "6", int32(0), int32(65535), "0.0.0.0/00")
	f.Add("::/1,128.0.0.0/1", "icmp", int32(-1), int32(-1), "::/0")
	f.Fuzz(func(t *testing.T, admin, proto string, from, to int32, cidr string) {
		prefixes, err := parseAdmin(strings.Split(admin, ","))
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("parseAdmin error not ErrInvalidInput: %v", err)
			}
			return
		}
		r := Rule{Direction: "ingress", Protocol: proto, FromPort: from, ToPort: to, CIDR: cidr}
		open := isOpen(r, append([]int32{22, 3389}, from))
		if !open {
			return
		}
		for _, x := range replacements([]Rule{r}, prefixes, "fuzz") {
			if openWorld(x.CIDR) {
				t.Fatalf("replacement %v is open to the world", x)
			}
			if x.Protocol != r.Protocol || x.FromPort != r.FromPort || x.ToPort != r.ToPort || x.Direction != "ingress" {
				t.Fatalf("replacement %v changes the rule %v", x, r)
			}
			_ = x.permission() // must not panic
		}
	})
}

func TestStepErrorMapsNotFound(t *testing.T) {
	api := &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID 'i-1' does not exist"}
	err := stepErr("contain", "DescribeInstances", "i-1", fmt.Errorf("operation error EC2: DescribeInstances, %w", api))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("not ErrNotFound: %v", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidInstanceID.NotFound" {
		t.Errorf("smithy.APIError lost: %v", err)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Step != "contain" || se.Operation != "DescribeInstances" || se.Resource != "i-1" {
		t.Errorf("StepError = %+v", se)
	}
	if !strings.Contains(err.Error(), "ec2: contain: DescribeInstances i-1:") {
		t.Errorf("message = %q", err.Error())
	}
	other := stepErr("snapshot", "CreateSnapshots", "i-1", &smithy.GenericAPIError{Code: "UnauthorizedOperation"})
	if errors.Is(other, ErrNotFound) {
		t.Errorf("UnauthorizedOperation maps to ErrNotFound")
	}
}
