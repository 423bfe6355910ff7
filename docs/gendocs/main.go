// Command gendocs writes the built-in plugins' reference pages under docs/
// (run by go generate in docs/, or from the repository root as
// `go run ./docs/gendocs -dir docs`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/abusekit/abusekit/docs"
)

func main() {
	dir := flag.String("dir", ".", "the docs directory")
	flag.Parse()
	pages, err := docs.Pages(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(*dir, n)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, pages[n], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}
