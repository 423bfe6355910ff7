package abuseplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

// FuzzParseData checks that "parse" is abuse.Parse and nothing else for any
// bytes: the same error class, or the same reports as JSON carries them,
// and never a panic.
func FuzzParseData(f *testing.F) {
	for _, dir := range []string{"trust-and-safety", "plain", "xarf", "arf", "mail"} {
		names, _ := filepath.Glob(testdata(dir, "*"))
		for _, name := range names {
			if filepath.Ext(name) == ".json" && filepath.Ext(name[:len(name)-5]) != "" {
				continue // golden files
			}
			if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	parse := NewPlugin()["parse"]
	limits := Limits{MaxBytes: 1 << 20, MaxLineBytes: 64 << 10, MaxParts: 50, MaxDepth: 8, MaxReports: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // no input at all: ErrInvalidInput (an empty file is TestParseRefusals's)
		}
		ctx := context.Background()
		want, wantErr := abuse.Parse(ctx, bytes.NewReader(data), abuse.WithLimits(limits.abuse()), abuse.WithMaxEvidence(DefaultMaxEvidence))
		got, err := plugintest.Apply[ParseOutput](ctx, parse, ParseInput{Data: data, Limits: limits})
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("plugin err %v, abuse.Parse err %v", err, wantErr)
		}
		if err != nil {
			for _, s := range []error{abuse.ErrUnknownFormat, abuse.ErrTooLarge} {
				if errors.Is(err, s) != errors.Is(wantErr, s) {
					t.Fatalf("plugin err %v, abuse.Parse err %v: differ on %v", err, wantErr, s)
				}
			}
			return
		}
		// What abuse.Parse returns, as any JSON transport carries it
		// (invalid UTF-8 becomes U+FFFD).
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var wantJSON []abuse.Report
		if err := json.Unmarshal(b, &wantJSON); err != nil {
			t.Fatal(err)
		}
		if wantJSON == nil {
			wantJSON = []abuse.Report{}
		}
		if diff := cmp.Diff(wantJSON, got.Reports, cmpOpts); diff != "" {
			t.Fatalf("reports differ (-abuse.Parse +plugin):\n%s", diff)
		}
		if len(want) > 0 && got.IncidentID != abuse.IncidentID(want[0]) && got.IncidentID != abuse.IncidentID(wantJSON[0]) {
			t.Fatalf("incident id %q", got.IncidentID)
		}
	})
}
