package evidence

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update rewrites golden files: go test ./abuse/evidence -run TestGolden -update
var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestGolden scans every sample log in testdata/logs (and the seed notice)
// and compares the records, one JSON line each with the line and layout,
// with testdata/golden/<name>.jsonl.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/logs/*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/seed-notice.eml")
	wantLayouts := map[string]Layout{
		"columns-ctime.txt": LayoutColumns, "columns-times.txt": LayoutColumns, "arrow.txt": LayoutArrow,
		"tcpdump.txt": LayoutArrow, "feed.csv": LayoutCSV, "ufw.log": LayoutUFW, "iptables.log": LayoutIPTables,
		"nftables.log": LayoutNFTables, "sshd.log": LayoutSSHD, "fail2ban.log": LayoutFail2ban, "seed-notice.eml": LayoutColumns,
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := NewScanner(f, Options{Reference: ref})
			var out []byte
			n := 0
			for sc.Scan() {
				rec := sc.Record()
				if sc.Layout() != wantLayouts[name] {
					t.Errorf("line %d: layout %q, want %q", sc.Line(), sc.Layout(), wantLayouts[name])
				}
				js := rec.AppendJSON(nil)
				if std, err := json.Marshal(rec); err != nil || !bytes.Equal(std, js) {
					t.Errorf("line %d: AppendJSON %s, encoding/json %s (%v)", sc.Line(), js, std, err)
				}
				out = append(out, `{"line":`...)
				out = strconv.AppendInt(out, int64(sc.Line()), 10)
				out = append(out, `,"layout":"`...)
				out = append(out, sc.Layout()...)
				out = append(out, `","record":`...)
				out = append(out, js...)
				out = append(out, "}\n"...)
				n++
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("no records")
			}
			checkGolden(t, filepath.Join("testdata", "golden", name+".jsonl"), out)
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
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
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
