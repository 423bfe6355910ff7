// Package loggen writes synthetic evidence logs for benchmarks: the column
// layout of the seed incident's forwarded port-scan log, with addresses
// from the documentation ranges (RFC 5737) — data only, never targets.
package loggen

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

// Start is the time of the first line Columns writes.
var Start = time.Date(2023, 4, 27, 14, 46, 47, 0, time.UTC)

var ports = [...]int{22, 23, 80, 443, 3389, 8080, 2222, 5900, 25, 445, 1433, 3306, 6379, 9200, 21, 110}

// Columns writes n lines like
//
//	203.0.113.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023
//
// (about 55 bytes each), deterministically: the same n gives the same bytes.
func Columns(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	t := Start
	x := uint32(2463534242) // xorshift32 state
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		line = line[:0]
		src := []string{"203.0.113.", "198.51.100."}[x>>31]
		line = append(line, src...)
		line = strconv.AppendUint(line, uint64(1+x%254), 10)
		line = append(line, "  192.0.2."...)
		line = strconv.AppendUint(line, uint64(1+(x>>8)%254), 10)
		line = append(line, "  "...)
		line = strconv.AppendInt(line, int64(ports[(x>>16)%uint32(len(ports))]), 10)
		line = append(line, "  "...)
		line = t.AppendFormat(line, time.ANSIC)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
		if x%3 == 0 {
			t = t.Add(time.Second)
		}
	}
	return bw.Flush()
}
