package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update rewrites golden files: go test ./abuse -run TestX -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// checkGolden compares got with the golden file at path (relative to
// testdata/), rewriting it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// formatCase is one structured format's parser and its samples in
// testdata/<dir>, each with a golden parse beside it (see gdGoldenName).
type formatCase struct {
	dir     string
	samples []string
	parse   parseFunc
	formats []string // the ParseError.Format values the parser may give
	sources []Source // the Report.Source values it may give
}

func (fc formatCase) read(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fc.dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// checkFormatGolden parses every sample of fc with fc.parse and compares
// the reports with the golden file; with viaParse, Parse must detect the
// format and give the same reports.
func checkFormatGolden(t *testing.T, fc formatCase, viaParse bool) {
	for _, name := range fc.samples {
		t.Run(name, func(t *testing.T) {
			data := fc.read(t, name)
			reps, err := fc.parse(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			golden := arfMarshalReports(t, reps)
			checkGolden(t, filepath.Join(fc.dir, gdGoldenName(name)), golden)
			if !viaParse {
				return
			}
			got, err := Parse(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(string(golden), string(arfMarshalReports(t, got))); d != "" {
				t.Errorf("Parse differs from the format's parser (-parser +Parse):\n%s", d)
			}
		})
	}
}

// fuzzFormat seeds f with fc's samples and checks that any input gives
// either a *ParseError of one of fc's formats or reports of fc's sources
// that marshal; check, if not nil, looks at each report further.
func fuzzFormat(f *testing.F, fc formatCase, limits Limits, check func(*testing.T, Report)) {
	for _, name := range fc.samples {
		f.Add(fc.read(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := fc.parse(context.Background(), bytes.NewReader(data), WithLimits(limits))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !slices.Contains(fc.formats, pe.Format) {
				t.Fatalf("error is not a *ParseError of %v: %v", fc.formats, err)
			}
			return
		}
		for _, r := range reps {
			if !slices.Contains(fc.sources, r.Source) || r.EvidenceCount < len(r.Evidence) {
				t.Fatalf("bad report: %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("report does not marshal: %v", err)
			}
			if check != nil {
				check(t, r)
			}
		}
	})
}
