package docs

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGeneratedDocsCurrent fails when the checked-in reference differs from
// what the plugins' schemas give now: run `go generate ./docs`.
func TestGeneratedDocsCurrent(t *testing.T) {
	pages, err := Pages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./docs)", name, err)
			continue
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("docs/%s is not current; run go generate ./docs (-generated +checked in):\n%s", name, diff)
		}
	}
	// No page of a plugin that is gone.
	files, _ := filepath.Glob("plugins/*.md")
	var stale []string
	for _, f := range files {
		if _, ok := pages[filepath.ToSlash(f)]; !ok {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("pages of no built-in plugin: %v (remove them)", stale)
	}
}

func TestPagesDescribeEveryAction(t *testing.T) {
	pages, err := Pages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range Builtins {
		page := string(pages["plugins/"+b.Name+".md"])
		for name := range b.Actions() {
			if !strings.Contains(page, "## Action `"+name+"`") {
				t.Errorf("%s.md lacks action %s", b.Name, name)
			}
		}
		if !strings.Contains(string(pages["plugins/README.md"]), "[`"+b.Name+"`]("+b.Name+".md)") {
			t.Errorf("the index lacks %s", b.Name)
		}
	}
}
