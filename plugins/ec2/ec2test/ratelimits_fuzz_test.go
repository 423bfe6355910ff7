package ec2test

import (
	"strings"
	"testing"
)

// FuzzCredRegion: the Region read from a SigV4 Authorization header (it
// keys the rate-limit buckets) never panics, is one path element of the
// credential scope, and is empty when there is no five-part scope.
func FuzzCredRegion(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature=0")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261207/ec2/aws4_request")
	f.Add("Credential=////")
	f.Add("")
	f.Fuzz(func(t *testing.T, auth string) {
		r := credRegion(auth)
		if strings.ContainsAny(r, "/, ") {
			t.Fatalf("credRegion(%q) = %q: not one scope element", auth, r)
		}
		if r != "" && !strings.Contains(auth, "/"+r+"/") {
			t.Fatalf("credRegion(%q) = %q: not in the header", auth, r)
		}
		if !strings.Contains(auth, "Credential=") && r != "" {
			t.Fatalf("credRegion(%q) = %q without a credential", auth, r)
		}
	})
}
