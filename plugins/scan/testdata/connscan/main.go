// Command connscan is a minimal connect() port scanner for the integration
// tests: it connects to each port of one host in parallel, holds the
// attempts for at most -hold, and exits. Tests run it only inside network
// namespaces they create.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	host := flag.String("host", "", "target address")
	from := flag.Int("from", 1, "first port")
	to := flag.Int("to", 40, "last port")
	hold := flag.Duration("hold", 15*time.Second, "give up on each connect after this")
	delay := flag.Duration("delay", 5*time.Millisecond, "pause between connects")
	flag.Parse()
	if *host == "" || *to-*from > 1000 {
		fmt.Fprintln(os.Stderr, "connscan: -host required, at most 1000 ports")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for p := *from; p <= *to; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp4", net.JoinHostPort(*host, strconv.Itoa(p)), *hold)
			if err == nil {
				c.Close()
			}
		}()
		time.Sleep(*delay)
	}
	wg.Wait()
}
