package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds adds every sample of the directories as a seed.
func fuzzSeeds(f *testing.F, dirs ...string) {
	f.Helper()
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", d, "*"))
		for _, p := range files {
			if filepath.Ext(p) == ".json" {
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxLineBytes: 8 << 10, MaxParts: 50, MaxDepth: 5, MaxReports: 20}

func checkReports(t *testing.T, reps []Report, err error) {
	t.Helper()
	if err != nil {
		return
	}
	for _, r := range reps {
		if r.EvidenceCount < len(r.Evidence) {
			t.Fatalf("EvidenceCount %d < %d kept", r.EvidenceCount, len(r.Evidence))
		}
		if len(r.Evidence) > 10 {
			t.Fatalf("%d records kept, max 10", len(r.Evidence))
		}
		if r.Source == "" || r.Kind == "" {
			t.Fatalf("report without source or kind: %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
		_ = IncidentID(r)
	}
}

type parseFunc func(context.Context, io.Reader, ...Option) ([]Report, error)

func fuzzParser(f *testing.F, fn parseFunc) {
	f.Fuzz(func(t *testing.T, b []byte) {
		reps, err := fn(context.Background(), bytes.NewReader(b), WithLimits(fuzzLimits), WithMaxEvidence(10))
		checkReports(t, reps, err)
	})
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f, "trust-and-safety", "mail", "mbox", "plain", "fail2ban", "providers")
	fuzzParser(f, Parse)
}

func FuzzParseMail(f *testing.F) {
	fuzzSeeds(f, "trust-and-safety", "mail", "fail2ban", "providers", "acns", "feeds")
	fuzzParser(f, ParseMail)
}

func FuzzParseMbox(f *testing.F) {
	fuzzSeeds(f, "mbox")
	fuzzParser(f, ParseMbox)
}

func FuzzParseTrustAndSafety(f *testing.F) {
	fuzzSeeds(f, "plain")
	f.Add([]byte("AWS Trust & Safety\nTCP 22-80 0.0.0.0/0\nBlocked OUTBOUND TCP traffic on ports 22, 25\nAbuse Time: 27 Apr 2023 14:46:47 GMT\nwithin 24 hours\n"))
	fuzzParser(f, ParseTrustAndSafety)
}

func FuzzParsePlain(f *testing.F) {
	fuzzSeeds(f, "plain")
	fuzzParser(f, ParsePlain)
}
