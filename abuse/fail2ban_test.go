package abuse

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFail2banTemplates reads the mails of fail2ban's complain and
// xarf-login-attack actions: the log lines' times are in the zone of the
// "Note: Local timezone is +0100 (CET)" line (not the mail's Date, not
// UTC), and xarf-login-attack's log part, whose header runs into the note
// and the log with no blank line, is read, not lost.
func TestFail2banTemplates(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 16, 3, 11, 52, 0, time.UTC), time.Date(2026, 11, 16, 3, 11, 54, 0, time.UTC),
		time.Date(2026, 11, 16, 3, 11, 58, 0, time.UTC), time.Date(2026, 11, 16, 3, 12, 3, 0, time.UTC),
	}
	for _, tc := range []struct {
		file   string
		source Source
	}{{"complain.eml", SourcePlain}, {"xarf-login-attack.eml", SourceXARF}} {
		t.Run(tc.file, func(t *testing.T) {
			r := parseOneFile(t, "testdata/fail2ban/"+tc.file)
			var got []time.Time
			for _, e := range r.Evidence {
				got = append(got, e.Time)
				if e.SrcIP != netip.MustParseAddr("52.18.77.140") || e.DstPort != 22 {
					t.Errorf("record %+v", e)
				}
			}
			if d := cmp.Diff(times, got); d != "" {
				t.Errorf("evidence times (-want +got):\n%s", d)
			}
			if r.Source != tc.source || r.Kind != KindIntrusion || len(r.Warnings) != 0 {
				t.Errorf("source %s kind %s warnings %v", r.Source, r.Kind, r.Warnings)
			}
		})
	}
}
