// Command genlog writes the synthetic column evidence log of bench/evidence.sh.
//
//	go run ./abuse/evidence/internal/loggen/genlog -n 1000000 > log.txt
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/abusekit/abusekit/abuse/evidence/internal/loggen"
)

func main() {
	n := flag.Int("n", 1000000, "number of evidence lines")
	flag.Parse()
	if err := loggen.Columns(os.Stdout, *n); err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
}
