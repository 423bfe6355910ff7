package abuse

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestProviderNotices reads notices of providers other than AWS: the
// provider, its case or ticket id, the resources it names (Google Cloud:
// projects) and the abuse time, also when written in prose with a named
// zone.
func TestProviderNotices(t *testing.T) {
	type facts struct {
		Provider, Case string
		Kind           Kind
		IPs            []string
		Projects       []string
		Abuse          time.Time
		Evidence       int
	}
	tests := []struct {
		file string
		want facts
	}{
		{"hetzner-netscan.eml", facts{ProviderHetzner, "1A2B3C", KindPortScan, []string{"198.51.100.23"}, nil, time.Date(2026, 11, 17, 7, 51, 10, 0, time.UTC), 3}},
		{"gcp-action-required.eml", facts{ProviderGoogleCloud, "", KindPortScan, []string{"34.105.22.7"}, []string{"my-shop-prod-4711", "625834285688"}, time.Date(2026, 11, 19, 0, 12, 0, 0, time.UTC), 0}},
		{"digitalocean-ticket.eml", facts{ProviderDigitalOcean, "8812345", KindIntrusion, []string{"159.65.10.20"}, nil, time.Date(2026, 11, 19, 11, 58, 1, 0, time.UTC), 2}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := parseOneFile(t, "testdata/providers/"+tt.file)
			var ips []string
			for _, a := range r.Resources.IPs {
				ips = append(ips, a.String())
			}
			got := facts{r.Provider, r.CaseID, r.Kind, ips, r.Resources.Projects, r.AbuseTime, r.EvidenceCount}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	for from, want := range map[string]string{
		"abuse@ovh.net": ProviderOVH, "noc@abuse.ovhcloud.com": ProviderOVH, "azsafety@microsoft.com": ProviderAzure,
		"abuse@linode.com": ProviderLinode, "someone@google.com": "", "ceo@microsoft.com": "", "abuse@hetzner.de": ProviderHetzner,
	} {
		if got := providerOfSender(from); got != want {
			t.Errorf("providerOfSender(%q) = %q, want %q", from, got, want)
		}
	}
	r, err := ParsePlain(context.Background(), strings.NewReader("Notice from Hetzner Online GmbH\n[AbuseID:9F8E7D:2A]: netscan from 198.51.100.23\n"))
	if err != nil || r[0].Provider != ProviderHetzner || r[0].CaseID != "9F8E7D" {
		t.Errorf("pasted Hetzner notice: %+v, %v", r, err)
	}
}
