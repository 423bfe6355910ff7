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
		Account        string
		Hosts          []string
		Mitigations    []Mitigation
	}
	tests := []struct {
		file string
		want facts
	}{
		{"hetzner-netscan.eml", facts{ProviderHetzner, "1A2B3C", KindPortScan, []string{"198.51.100.23"}, nil, time.Date(2026, 11, 17, 7, 51, 10, 0, time.UTC), 3, "", nil, nil}},
		{"gcp-action-required.eml", facts{ProviderGoogleCloud, "", KindPortScan, []string{"34.105.22.7"}, []string{"my-shop-prod-4711", "625834285688"}, time.Date(2026, 11, 19, 0, 12, 0, 0, time.UTC), 0, "", nil, nil}},
		{"digitalocean-ticket.eml", facts{ProviderDigitalOcean, "8812345", KindIntrusion, []string{"159.65.10.20"}, nil, time.Date(2026, 11, 19, 11, 58, 1, 0, time.UTC), 2, "", nil, nil}},
		// DigitalOcean's disconnection notice (its real wording): the
		// droplet's address is a resource, the DDoS target ("aimed at
		// A", "Target of attack:-A") is not; disconnected is a block.
		{"digitalocean-ddos-disconnected.eml", facts{ProviderDigitalOcean, "9923114", KindDDoS, []string{"159.65.10.20"}, nil, time.Time{}, 0, "", nil,
			[]Mitigation{{Action: MitigationBlock, Direction: "all", Proto: "all"}}}},
		// OVH: the ticket from the sender's address, the server's name, the
		// anti-spam records as evidence (their destinations are not
		// resources), "blocked the port 25 of your server".
		{"ovh-antispam.eml", facts{ProviderOVH, "CS8812345", KindSpam, []string{"51.68.20.15"}, nil, time.Time{}, 3, "", []string{"ns3012345.ip-51-68-20.eu"},
			[]Mitigation{{Action: MitigationBlock, Direction: "all", Proto: "tcp", Port: 25}}}},
		{"ovh-antihack.eml", facts{ProviderOVH, "CS8812399", KindOther, []string{"51.68.20.15"}, nil, time.Time{}, 0, "", nil,
			[]Mitigation{{Action: MitigationBlock, Direction: "all", Proto: "all"}}}},
		// Azure: incident, subscription, resource ID (wrapped by
		// quoted-printable), "Incident time (UTC)".
		{"azure-abuse-notice.eml", facts{ProviderAzure, "401238845", KindIntrusion, []string{"20.105.44.19"}, nil, time.Date(2026, 11, 21, 4, 2, 11, 0, time.UTC), 3, "3f2a9c41-7d6e-4b8a-a1c2-9e8d7f6a5b4c",
			[]string{"/subscriptions/3f2a9c41-7d6e-4b8a-a1c2-9e8d7f6a5b4c/resourceGroups/shop-prod/providers/Microsoft.Compute/virtualMachines/web-01"}, nil}},
		{"azure-subscription-disabled.eml", facts{ProviderAzure, "", KindOther, nil, nil, time.Time{}, 0, "3f2a9c41-7d6e-4b8a-a1c2-9e8d7f6a5b4c", nil,
			[]Mitigation{{Action: MitigationStop}}}},
		// Linode: the ticket, the Linode's label, log times in Eastern
		// Time; the follow-up's "applied network restrictions" (Lish still
		// reaches it) and its kind from the subject.
		{"linode-ticket.eml", facts{ProviderLinode, "19876543", KindPortScan, []string{"45.79.120.33"}, nil, time.Date(2026, 11, 23, 18, 51, 2, 0, time.UTC), 3, "", []string{"linode41234567"}, nil}},
		{"linode-restricted.eml", facts{ProviderLinode, "19876543", KindPortScan, []string{"45.79.120.33"}, nil, time.Time{}, 0, "", []string{"linode41234567"},
			[]Mitigation{{Action: MitigationIsolate, Direction: "all", Proto: "all"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := parseOneFile(t, "testdata/providers/"+tt.file)
			var ips []string
			for _, a := range r.Resources.IPs {
				ips = append(ips, a.String())
			}
			var mits []Mitigation
			if len(r.Mitigations) > 0 {
				mits = r.Mitigations
			}
			got := facts{r.Provider, r.CaseID, r.Kind, ips, r.Resources.Projects, r.AbuseTime, r.EvidenceCount, r.AccountID, r.Resources.Hosts, mits}
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
	// Hetzner's deadline as a date ("your server can be blocked at any
	// time after the 2026-12-12 15:08:19 +0100"), its quoted netscan table
	// in its own zone (the Date's, +0100).
	h := parseOneFile(t, "testdata/providers/hetzner-netscan-deadline.eml")
	if want := time.Date(2026, 12, 12, 14, 8, 19, 0, time.UTC); !h.Deadline.Equal(want) {
		t.Errorf("Hetzner deadline %v, want %v", h.Deadline, want)
	}
	if want := time.Date(2026, 12, 12, 9, 51, 3, 0, time.UTC); !h.AbuseTime.Equal(want) || h.CaseID != "7C54AE" || h.EvidenceCount != 3 || h.Kind != KindPortScan {
		t.Errorf("Hetzner: abuse %v (want %v), case %q, %d records, kind %q", h.AbuseTime, want, h.CaseID, h.EvidenceCount, h.Kind)
	}
	r, err := ParsePlain(context.Background(), strings.NewReader("Notice from Hetzner Online GmbH\n[AbuseID:9F8E7D:2A]: netscan from 198.51.100.23\n"))
	if err != nil || r[0].Provider != ProviderHetzner || r[0].CaseID != "9F8E7D" {
		t.Errorf("pasted Hetzner notice: %+v, %v", r, err)
	}
}

// TestOwnIPsIn: the addresses a notice's words name as attacked are not
// taken for the reported resources.
func TestOwnIPsIn(t *testing.T) {
	for in, want := range map[string][]string{
		"your Droplet web-01 at 159.65.10.20 has been disconnected after an attack aimed at 198.51.100.250.": {"159.65.10.20"},
		"Source IP: 192.0.2.1 Destination IP: 192.0.2.2":                                                     {"192.0.2.1"},
		"198.51.100.23 scanned 203.0.113.10 and 203.0.113.11":                                                {"198.51.100.23"},
		"Target of attack: 198.51.100.250":                                                                   nil,
		"EC2 Instance Id: i-0123456789abcdef0 [13.125.40.201]":                                               {"13.125.40.201"},
	} {
		var got []string
		for _, a := range ownIPsIn(in, 0) {
			got = append(got, a.String())
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", in, d)
		}
	}
}
