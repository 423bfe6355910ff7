package abuse

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// TestShadowserverZip reads a feed report sent as a zipped CSV attachment
// (it used to be an unknown attachment: no evidence, no resource).
func TestShadowserverZip(t *testing.T) {
	r := parseOneFile(t, "testdata/feeds/shadowserver-scan-redis-zip.eml")
	if r.EvidenceCount != 2 || len(r.Resources.IPs) != 2 || r.Evidence[0].DstPort != 6379 || len(r.Warnings) != 0 || r.Kind != KindOther {
		t.Errorf("%+v", r)
	}
}

func zipOf(t testing.TB, name string, body []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	zw.Close()
	return buf.Bytes()
}

// TestZipBounds: a member that expands past the input limit is an error
// wrapping ErrTooLarge (a zip bomb costs no more than the limit); a broken
// zip is a warning, not a failure.
func TestZipBounds(t *testing.T) {
	o := buildOptions([]Option{WithLimits(Limits{MaxBytes: 1 << 20})})
	n := newNoticeReader(&o, mailFormatName)
	bomb := zipOf(t, "big.csv", bytes.Repeat([]byte("0"), 8<<20))
	err := n.scanZip(context.Background(), &mailmsg.Part{MediaType: "application/zip", Filename: "big.zip", Body: bomb})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("bomb: err %v, want ErrTooLarge (%d compressed bytes)", err, len(bomb))
	}
	broken := &mailmsg.Part{MediaType: "application/zip", Filename: "x.zip", Body: []byte("PK\x03\x04junk")}
	n = newNoticeReader(&o, mailFormatName)
	if err := n.scanZip(context.Background(), broken); err != nil {
		t.Errorf("broken zip: err %v", err)
	}
	if ws := mailWarnings(&mailmsg.Message{Parts: []*mailmsg.Part{broken}}, ""); len(ws) != 1 || ws[0].Code != WarnUnreadablePart {
		t.Errorf("broken zip: warnings %v", ws)
	}
	exe := &mailmsg.Part{MediaType: "application/zip", Filename: "y.zip", Body: zipOf(t, "setup.exe", []byte("MZ"))}
	if ws := mailWarnings(&mailmsg.Message{Parts: []*mailmsg.Part{exe}}, ""); len(ws) != 1 || ws[0].Code != WarnUnknownAttachment {
		t.Errorf("zip without text: warnings %v", ws)
	}
}

func FuzzZipAttachment(f *testing.F) {
	f.Add(zipOf(f, "r.csv", []byte("timestamp,ip,port\n2026-11-20 03:14:07,192.0.2.1,22\n")))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := buildOptions([]Option{WithLimits(fuzzLimits), WithMaxEvidence(10)})
		n := newNoticeReader(&o, mailFormatName)
		_ = n.scanZip(context.Background(), &mailmsg.Part{MediaType: "application/zip", Filename: "f.zip", Body: b})
		if len(n.rep.Evidence) > 10 || len(n.rep.Warnings) > maxWarnings {
			t.Fatalf("%d records, %d warnings", len(n.rep.Evidence), len(n.rep.Warnings))
		}
	})
}

// TestFeedKind maps the feed names of Shadowserver's zipped CSV members
// (YYYY-MM-DD-<feed>-….csv, AbuseIO/parser-shadowserver) to kinds.
func TestFeedKind(t *testing.T) {
	for name, want := range map[string]Kind{
		"2026-11-20-scan_redis-asn-region.csv":          KindOther,
		"2026-11-20-ssl_scan-asn-region.csv":            KindOther,
		"2026-11-20-compromised_website-asn-region.csv": KindOther,
		"2026-11-20-botnet_drone-asn-region.csv":        KindMalware,
		"2026-11-20-sinkhole_http_drone-asn-region.csv": KindMalware,
		"2026-11-20-spam_url-asn-region.csv":            KindSpam,
		"2026-11-20-darknet-asn-region.csv":             KindPortScan,
		"2026-11-20-honeypot_brute_force-asn.csv":       KindIntrusion,
		"2026-11-20-report.csv":                         "",
	} {
		if got := feedKind(name); got != want {
			t.Errorf("feedKind(%q) = %q, want %q", name, got, want)
		}
	}
}
