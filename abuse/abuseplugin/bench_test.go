package abuseplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

// BenchmarkParse measures what the adapter and the plugin transport add to
// abuse.Parse: the seed notice and a 10,000-line forwarded log, parsed
// directly, through the action in-process (JSON both ways), and over the
// real transport (gRPC to a reattached plugin).
func BenchmarkParse(b *testing.B) {
	var log bytes.Buffer
	log.WriteString("(attacker's IP) (IP being scanned) (TCP port being scanned)\n")
	for i := range 10000 {
		fmt.Fprintf(&log, "13.125.40.201  192.0.%d.%d  22  Thu Apr 27 14:%02d:%02d 2023\n", i/250%250, i%250, i/60%60, i%60)
	}
	big := filepath.Join(b.TempDir(), "scan.log")
	if err := os.WriteFile(big, log.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	host := playbook.NewHost(playbook.HostOptions{})
	b.Cleanup(func() { host.Close() })
	if err := host.Start(ctx, plugintest.Serve(b, "abuse", NewPlugin())); err != nil {
		b.Fatal(err)
	}
	p, err := host.Plugin("abuse")
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct{ name, path string }{
		{"notice", testdata("trust-and-safety", "initial-notice.eml")},
		{"log-10k", big},
	} {
		input, _ := json.Marshal(ParseInput{Path: in.path})
		b.Run(in.name+"/direct", func(b *testing.B) {
			for b.Loop() {
				f, err := os.Open(in.path)
				if err != nil {
					b.Fatal(err)
				}
				reps, err := abuse.Parse(ctx, f, abuse.WithMaxEvidence(DefaultMaxEvidence))
				f.Close()
				if err != nil || len(reps) != 1 {
					b.Fatal(err)
				}
				_ = abuse.IncidentID(reps[0])
			}
		})
		b.Run(in.name+"/action", func(b *testing.B) {
			for b.Loop() {
				if _, err := plugintest.Apply[ParseOutput](ctx, NewPlugin()["parse"], ParseInput{Path: in.path}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/transport", func(b *testing.B) {
			for b.Loop() {
				out, err := p.Apply(ctx, playbook.Call{Action: "parse", Input: input, Incident: "bench", Playbook: "bench", Step: "parse", Attempt: 1}, nil)
				if err != nil || len(out) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
