package abuse

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleDirs are the sample directories whose every file is parsed by
// Parse and compared with its golden JSON (FILE.golden.json beside it).
var sampleDirs = []string{"trust-and-safety", "mail", "mbox", "plain", "fail2ban", "providers", "acns", "feeds"}

// sampleRef is the reference time for samples without a Date header.
var sampleRef = time.Date(2023, 5, 8, 9, 0, 0, 0, time.UTC)

func TestParseSamplesGolden(t *testing.T) {
	n := 0
	for _, dir := range sampleDirs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, p := range files {
			if strings.HasSuffix(p, ".json") {
				continue
			}
			n++
			rel, _ := filepath.Rel("testdata", p)
			t.Run(rel, func(t *testing.T) {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var opts []Option
				if dir == "plain" {
					opts = append(opts, WithReferenceTime(sampleRef))
				}
				reps, err := Parse(context.Background(), f, opts...)
				if err != nil {
					t.Fatal(err)
				}
				b, err := json.MarshalIndent(reps, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, rel+".golden.json", append(b, '\n'))
			})
		}
	}
	if n < 10 {
		t.Errorf("only %d samples", n)
	}
}
